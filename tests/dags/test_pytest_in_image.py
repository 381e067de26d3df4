"""`tinyctl pytest` (tinyctl/dags/pytest_in_image.py): the project's tests in the stack's image."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import tinyctl

from tinyctl.dags.pytest_in_image import EXIT_CODES, pytest_argv

engine = pytest.mark.engine


def test_pytest_runs_tests_by_default_and_passes_arguments_through() -> None:
    argv = pytest_argv(["-k", "integrity", "-x"])
    assert argv[:2] == ["sh", "-c"]
    assert "testpaths=tests" in argv
    assert argv[-3:] == ["-k", "integrity", "-x"]
    assert EXIT_CODES[0] == 0 and EXIT_CODES[1] == 1 and EXIT_CODES[4] == 2


@engine
def test_the_scaffolded_integrity_test_passes_then_catches_a_broken_dag(
    engine, project: Path
) -> None:
    assert (project / "tests" / "test_dag_integrity.py").is_file()
    result = tinyctl("pytest", "-q", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout
    (project / "dags" / "broken.py").write_text("from airflow.sdk import dag\nx = (\n")
    failed = tinyctl("pytest", "-q", "-k", "imports", cwd=project)
    assert failed.returncode == 1
    assert "broken.py" in failed.stdout
    assert not list(project.rglob(".pytest_cache")) and not list(project.rglob("__pycache__"))
