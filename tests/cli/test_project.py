"""init, validate, schema and render through the real CLI (typer's CliRunner)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinyctl.cli import app, load_commands

load_commands()  # the whole app, as `tinyctl --help` sees it

runner = CliRunner()


def invoke(*args: str, cwd: Path | None = None):
    old = Path.cwd()
    if cwd:
        os.chdir(cwd)
    try:
        return runner.invoke(app, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def test_init_validate_render_from_scratch(tmp_path: Path) -> None:
    result = invoke("init", "demo", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    root = tmp_path / "demo"
    for name in (
        "tinyctl.yaml",
        ".gitignore",
        "dags/staging_orders.py",
        "seeds/customers.csv",
        "data/landing/orders_2026-11-01.csv",
        "tests/fixtures/landing/orders_2026-11-01.csv",
    ):
        assert (root / name).is_file(), name
    assert ".tinyctl/" in (root / ".gitignore").read_text()
    assert invoke("validate", cwd=root).exit_code == 0
    result = invoke("render", cwd=root)
    assert result.exit_code == 0, result.output
    assert (root / ".tinyctl" / "compose.yaml").is_file()
    assert "secret" in result.output and "0600" in result.output
    for value in json.loads((root / ".tinyctl" / "secrets.json").read_text()).values():
        assert value not in result.output, "render never prints a secret"


def test_init_refuses_to_overwrite_without_force(project: Path) -> None:
    (project / "tinyctl.yaml").write_text("# mine\n")
    result = invoke("init", str(project))
    assert result.exit_code == 2
    assert (
        "already exist" in result.output
        and "tinyctl.yaml" in result.output
        and "--force" in result.output
    )
    assert (project / "tinyctl.yaml").read_text() == "# mine\n", "nothing was written"
    assert invoke("init", str(project), "--force").exit_code == 0
    assert (project / "tinyctl.yaml").read_text().startswith("# tinyctl project spec")


def test_init_derives_a_valid_project_name(tmp_path: Path) -> None:
    assert invoke("init", "My Analytics_Project", cwd=tmp_path).exit_code == 0
    assert (
        "name: my-analytics_project"
        in (tmp_path / "My Analytics_Project" / "tinyctl.yaml").read_text()
    )


def test_validate_reports_every_problem_with_file_line_and_exit_2(project: Path) -> None:
    spec = project / "tinyctl.yaml"
    text = (
        spec.read_text()
        .replace("executor: LocalExecutor", "exector: LocalExecutor")
        .replace("port: 5432", "port: 99999")
    )
    spec.write_text(text)
    result = invoke("validate", "--spec", str(spec))
    assert result.exit_code == 2
    assert f"{spec}:" in result.output
    assert "did you mean 'executor'" in result.output
    assert "postgres.port" in result.output
    assert "Traceback" not in result.output


def test_validate_json(project: Path) -> None:
    spec = project / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("  port: 8080", "  port: 8080\n  prot: 1"))
    result = invoke("validate", "-s", str(spec), "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["valid"] is False
    [problem] = data["problems"]
    assert (
        problem["path"] == "airflow.prot"
        and problem["line"] > 0
        and "did you mean 'port'" in problem["message"]
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("", "the spec is empty"),
        ("project:\n\tname: x\n", "tab character"),
        ("project: [\n", "is not closed"),
        ("project:\n  name: a\nproject:\n  name: b\n", "duplicate key 'project'"),
        ("\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_files_give_a_message_not_a_traceback(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    spec = tmp_path / "tinyctl.yaml"
    if content is not None:
        spec.write_bytes(content.encode("latin-1"))
    result = invoke("validate", "-s", str(spec))
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output


def test_render_with_a_broken_spec_writes_nothing(project: Path) -> None:
    spec = project / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("name: demo", "name: Demo!"))
    result = invoke("render", "-s", str(spec))
    assert result.exit_code == 2
    assert not (project / ".tinyctl").exists()


def test_render_check_reports_staleness(project: Path) -> None:
    spec = str(project / "tinyctl.yaml")
    assert invoke("render", "-s", spec, "--check").exit_code == 1
    assert invoke("render", "-s", spec).exit_code == 0
    result = invoke("render", "-s", spec, "--check", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"fresh": True, "reasons": []}


def test_schema_is_json_schema_with_every_section() -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert set(schema["properties"]) >= {
        "project",
        "postgres",
        "airflow",
        "dags",
        "seeds",
        "tests",
        "images",
    }
    assert schema["required"] == ["project"]


def test_usage_errors_exit_2() -> None:
    assert invoke("render", "--no-such-option").exit_code == 2
    assert invoke("no-such-command").exit_code == 2


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("tinyctl ")
