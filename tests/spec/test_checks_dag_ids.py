"""The spec's check that each test's DAG exists: a warning with a suggestion, read statically."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tinyctl.spec import checks, load_spec
from tinyctl.spec.checks import scan_dag_ids

DAG_FILE = """from airflow.sdk import DAG, dag

with DAG("{name}", schedule=None):
    pass
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for i in range(6):
        (tmp_path / f"dag_{i}.py").write_text(DAG_FILE.format(name=f"load_{i}"))
    (tmp_path / "decorated.py").write_text(
        "from airflow.sdk import dag\n\n@dag()\ndef nightly():\n    pass\n"
    )
    (tmp_path / "helpers.py").write_text("def helper():\n    return 1\n")  # no DAG: never parsed
    return tmp_path


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = ast.parse

    def counting(source, filename="<unknown>", *args, **kwargs):
        seen.append(Path(filename).name)
        return real(source, filename, *args, **kwargs)

    monkeypatch.setattr(checks.ast, "parse", counting)
    return seen


def test_every_id_without_a_wish(folder: Path) -> None:
    assert scan_dag_ids(folder) == {*(f"load_{i}" for i in range(6)), "nightly"}


def test_only_the_files_that_mention_a_wanted_id_are_parsed(folder: Path, parses) -> None:
    assert {"load_3", "nightly"} <= scan_dag_ids(folder, {"load_3", "nightly"})
    assert sorted(parses) == ["dag_3.py", "decorated.py"]


def test_a_missing_id_parses_the_rest_for_the_suggestions(folder: Path, parses) -> None:
    found = scan_dag_ids(folder, {"load_9"})
    assert found == {*(f"load_{i}" for i in range(6)), "nightly"}
    assert "helpers.py" not in parses


def test_an_id_spelt_differently_in_the_source_is_still_found(tmp_path: Path) -> None:
    """The id's text is not in the file (implicit concatenation): the full scan still finds it."""
    (tmp_path / "split.py").write_text('from airflow.sdk import DAG\n\nDAG("load_" "orders")\n')
    assert "load_orders" in scan_dag_ids(tmp_path, {"load_orders"})


def test_the_spec_warns_about_an_unknown_test_dag_with_a_suggestion(project: Path) -> None:
    assert not load_spec(project / "tinyctl.yaml").warnings
    spec = project / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("dag: staging_orders", "dag: staging_order"))
    warnings = [w.message for w in load_spec(spec).warnings]
    assert any(
        "unknown DAG 'staging_order'; did you mean 'staging_orders'?" in w for w in warnings
    ), warnings
