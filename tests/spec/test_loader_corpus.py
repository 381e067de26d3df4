"""The golden corpus: each invalid spec next to the exact problems it must produce.

Regenerate after an intended change with TINYCTL_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinyctl.errors import SpecError
from tinyctl.spec import load_spec

CORPUS = Path(__file__).parent / "invalid"
CASES = sorted(CORPUS.glob("*.yaml"))


def render_problems(spec_file: Path) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(spec_file)
    lines = [
        f"{p.line}:{p.column}  {p.path or '(file)'}  {p.message}" for p in caught.value.problems
    ]
    return "\n".join(lines).replace(str(CORPUS), "<dir>") + "\n"


@pytest.mark.parametrize("spec_file", CASES, ids=[c.stem for c in CASES])
def test_invalid_spec_gives_exact_problems(spec_file: Path) -> None:
    expected_file = spec_file.with_suffix(".errors")
    actual = render_problems(spec_file)
    if os.environ.get("TINYCTL_UPDATE_GOLDEN"):
        expected_file.write_text(actual)
    assert expected_file.exists(), f"missing {expected_file.name}; run with TINYCTL_UPDATE_GOLDEN=1"
    assert actual == expected_file.read_text()


def test_every_golden_file_has_its_spec() -> None:
    orphans = [p.name for p in CORPUS.glob("*.errors") if not p.with_suffix(".yaml").exists()]
    assert not orphans


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 20
