"""`tinyctl parse` (tinyctl/dags/parse.py): Airflow's own parse of each DAG file in a one-off
container of the project's image. The engine tests run it with no stack at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import STACK_ENV, tinyctl

from tinyctl.dags.parse import MARKER, _relative_files, error_line, read_report
from tinyctl.errors import BadInput

engine = pytest.mark.engine

BROKEN = "import airflow\nfrom airflow.sdk import DAG\n\nx = (\n"
PLUGIN = (
    "from airflow.plugins_manager import AirflowPlugin\n\n\n"
    "class MyPlugin(AirflowPlugin):\n    name = 'my_dag_helpers'\n"
)
HELPER = "def shout(text):\n    return text.upper()\n"
RUNTIME_ERROR = (
    "from airflow.sdk import dag\n\nimport helper_lib\n\n\n"
    "def boom():\n    raise RuntimeError('no such table')\n\n\nboom()\n"
)


def test_read_report_takes_the_marker_line_and_locates_errors() -> None:
    trace = (
        'Traceback (most recent call last):\n  File "/opt/airflow/dags/sub/a.py", line 7, in <module>\n'
        '    boom()\n  File "/opt/airflow/dags/sub/a.py", line 4, in boom\n    raise X\nX: bad\n'
    )
    data = {
        "airflow_version": "3.3.2",
        "safe_mode": True,
        "seconds": 1.5,
        "files": [
            {
                "file": "sub/a.py",
                "status": "error",
                "dags": [],
                "error": "X: bad",
                "traceback": trace,
            },
            {"file": "b.py", "status": "ok", "dags": ["b"], "seconds": 0.1},
            {"file": "c.py", "status": "skipped", "dags": []},
        ],
    }
    stdout = "airflow noise\n" + MARKER + json.dumps(data) + "\nmore noise\n"
    report = read_report(stdout, seconds=2.0)
    assert [f.file for f in report.files] == ["b.py", "c.py", "sub/a.py"]
    assert report.by_file()["sub/a.py"].line == 4  # the last frame in that file
    assert [f.file for f in report.failed] == ["sub/a.py"]
    assert report.as_dict()["dags"] == 1 and report.as_dict()["errors"] == 1
    with pytest.raises(ValueError):
        read_report("no report here", seconds=0)


def test_read_report_keeps_the_phases_of_the_in_service_parse() -> None:
    data = {
        "airflow_version": "3.3.2",
        "seconds": 3.0,
        "synced": {"ok": True},
        "phases": {"import": 2.0, "parse": 0.4, "sync": 0.6},
        "files": [],
    }
    report = read_report(MARKER + json.dumps(data) + "\n", seconds=3.2)
    assert report.synced and report.phases == {"import": 2.0, "parse": 0.4, "sync": 0.6}
    # a script of an older tinyctl reports no phases
    del data["phases"]
    assert read_report(MARKER + json.dumps(data) + "\n", seconds=3.2).phases == {}


def test_error_line_of_a_syntax_error() -> None:
    trace = (
        '  File "/opt/airflow/dags/x.py", line 3\n    x = (\n        ^\nSyntaxError: never closed'
    )
    assert error_line(trace, "x.py") == 3
    assert error_line(trace, "other.py") is None


def test_paths_must_be_inside_the_dag_folder(project: Path, tmp_path: Path) -> None:
    dags = project / "dags"
    (dags / "sub").mkdir()
    (dags / "sub" / "a.py").write_text("x = 1\n")
    (dags / "notes.txt").write_text("x")
    assert _relative_files(dags, [dags / "sub", dags / "notes.txt"]) == ["sub/a.py"]
    outside = tmp_path / "elsewhere.py"
    outside.write_text("x = 1\n")
    with pytest.raises(BadInput, match="not inside the DAG folder"):
        _relative_files(dags, [outside])


@engine
def test_parse_without_a_stack_reports_every_verdict(engine, project: Path) -> None:
    dags = project / "dags"
    (dags / "broken.py").write_text(BROKEN)
    (dags / "my_plugin.py").write_text(PLUGIN)
    (dags / "helper_lib.py").write_text(HELPER)
    (dags / "fails_at_import.py").write_text(RUNTIME_ERROR)
    result = tinyctl("parse", "--json", cwd=project)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    files = {f["file"]: f for f in report["files"]}
    assert report["airflow_version"] == "3.3.2"
    assert files["staging_orders.py"]["status"] == "ok"
    assert files["staging_orders.py"]["dags"] == ["staging_orders"]
    assert files["broken.py"]["status"] == "error"
    assert files["broken.py"]["line"] == 4
    assert "SyntaxError" in files["broken.py"]["error"]
    assert files["my_plugin.py"]["status"] == "no_dag"  # imported by Airflow, defines none
    assert files["helper_lib.py"]["status"] == "skipped"  # Airflow's safe mode never imports it
    assert files["fails_at_import.py"]["status"] == "error"
    assert files["fails_at_import.py"]["line"] == 7  # the frame in the file, not the raise
    assert "RuntimeError: no such table" in files["fails_at_import.py"]["error"]
    assert report["dags"] >= 1 and report["errors"] == 2


@engine
def test_parse_named_files_and_the_human_report(engine, project: Path) -> None:
    (project / "dags" / "broken.py").write_text(BROKEN)
    good = tinyctl("parse", "dags/staging_orders.py", cwd=project)
    assert good.returncode == 0, good.stderr
    assert "staging_orders.py: staging_orders" in good.stdout
    bad = tinyctl("parse", "dags/broken.py", "dags/staging_orders.py", cwd=project)
    assert bad.returncode == 1
    assert "broken.py:4" in " ".join(bad.stdout.split())
    outside = tinyctl("parse", "seeds/customers.csv", cwd=project, env=STACK_ENV)
    assert outside.returncode == 2


def test_the_one_off_config_has_no_secret_commands(project: Path) -> None:
    from tinyctl.dags.parse import oneoff_config
    from tinyctl.plan.build import build_plan
    from tinyctl.plan.values import SecretRef
    from tinyctl.spec import load_spec

    env = oneoff_config(build_plan(load_spec(project / "tinyctl.yaml").spec))
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert not [k for k, v in env.items() if k.endswith("_CMD") or isinstance(v, SecretRef)]
