"""Plain-language messages and cross-field problems reported in the same pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyctl.errors import SpecError
from tinyctl.spec import load_spec


def _messages(project: Path, edit) -> dict[str, str]:
    spec = project / "tinyctl.yaml"
    spec.write_text(edit(spec.read_text()))
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    return {p.path: p.message for p in caught.value.problems}


def test_a_version_written_as_a_number_says_to_quote_it(project: Path) -> None:
    found = _messages(project, lambda t: t.replace('version: "3.3.2"', "version: 3.10"))
    assert (
        found["airflow.version"]
        == 'version takes text; YAML reads 3.10 as a number, so quote it: version: "3.10"'
    )


def test_no_pydantic_wording_reaches_the_user(project: Path) -> None:
    found = _messages(project, lambda t: t.replace("port: 8080", "port: eighty"))
    assert "Input should be" not in found["airflow.port"]
    assert "e.g. port: 8080" in found["airflow.port"]


def test_cross_field_problems_come_with_type_errors(project: Path) -> None:
    def edit(text: str) -> str:
        text = text.replace("port: 8080", "port: 5432").replace('version: "3.3.2"', "version: 3.3")
        return text.replace("sql: seeds/fx_rates.sql", "sql: seeds/missing.sql")

    found = _messages(project, edit)
    assert "airflow.version" in found
    assert "also postgres.port" in found["airflow.port"]
    assert "does not exist" in found["seeds[0].sql"]
