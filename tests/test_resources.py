"""Resource folders ship inside the built wheel and are found there (not only in a checkout)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_ships_templates_recipes_and_sample_dags(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = out.glob("tinyctl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "tinyctl/_resources/templates/compose/compose.yaml.j2",
        "tinyctl/_resources/templates/healthcheck.py",
        "tinyctl/_resources/templates/init/tinyctl.yaml.j2",
        "tinyctl/_resources/templates/ci/Jenkinsfile.j2",
        "tinyctl/_resources/templates/ci/gitlab-ci.yml.j2",
        "tinyctl/_resources/templates/ci/github-workflow.yml.j2",
        "tinyctl/_resources/docker/airflow-debian/Dockerfile",
        "tinyctl/_resources/dags/staging_orders.py",
        "tinyctl/cli/app.py",
    ):
        assert expected in names, expected

    # Unpacked on its own (no source tree next to it), tinyctl finds and renders from them.
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import tinyctl, tinyctl.resources as r; "
        "assert tinyctl.__file__.startswith(sys.argv[1]), tinyctl.__file__; "
        "print(r.templates_dir())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.stdout.strip() == str(target / "tinyctl" / "_resources" / "templates")
    project = tmp_path / "proj"
    init = f"import sys; sys.path.insert(0, sys.argv[1]); from tinyctl.cli import main; sys.argv = ['tinyctl', 'init', {str(project)!r}]; main()"
    subprocess.run(
        [sys.executable, "-c", init, str(target)], check=True, capture_output=True, cwd=tmp_path
    )
    assert (project / "dags" / "staging_orders.py").is_file()
