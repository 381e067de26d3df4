"""`tinyctl upgrade-test` for real: a project on Airflow 3.2.2 going to 3.3.2, both as venvs of
the local runtime (no stack, no engine), with Airflow 2 style DAG code for ruff's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import tinyctl
from test_migration import AIRFLOW2_DAG

from tinyctl.scaffold import init_project

pytestmark = pytest.mark.stack

# A DAG whose shape depends on the Airflow version: one more task and a new schedule on 3.3.
SHAPE_DAG = """\
import airflow
from airflow.sdk import dag, task

NEW = airflow.__version__.startswith("3.3")


@dag(schedule="0 6 * * *" if NEW else "@daily", catchup=False, tags=["upgrade"])
def shape_dag():
    @task
    def extract():
        return 1

    @task
    def load(value):
        return value

    load(extract())
    if NEW:

        @task
        def check():
            return True

        check()


shape_dag()
"""
# A DAG file that imports on 3.2 and fails on 3.3 (as a removed import would).
GONE_DAG = """\
import airflow
from airflow.sdk import dag

if airflow.__version__.startswith("3.3"):
    raise ImportError("cannot import name 'old_helper' (removed in 3.3)")


@dag(schedule=None)
def gone_dag():
    pass


gone_dag()
"""


def test_upgrade_from_3_2_to_3_3(tmp_path: Path):
    root = tmp_path / "upg"
    init_project(root, name="upg")
    spec = root / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace('version: "3.3.2"', 'version: "3.2.2"', 1))
    (root / "dags" / "legacy.py").write_text(AIRFLOW2_DAG)
    (root / "dags" / "shape.py").write_text(SHAPE_DAG)
    (root / "dags" / "gone.py").write_text(GONE_DAG)
    env = {"TINYCTL_RUNTIME": "local"}
    result = tinyctl(
        "upgrade-test", "--to", "3.3.2", "--json", "--html", "up.html", cwd=root, env=env
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert (report["current"], report["target"]) == ("3.2.2", "3.3.2")
    assert report["packages"]["changed"]["apache-airflow"] == {"from": "3.2.2", "to": "3.3.2"}
    changes = {(c["file"], c["kind"]): c for c in report["dags"]}
    assert changes[("gone.py", "stops_importing")]["error"].startswith("ImportError")
    shape = changes[("shape.py", "changes_shape")]["detail"]
    assert "tasks added: check" in shape and "schedule" in shape
    assert not any(c["file"] == "legacy.py" for c in report["dags"])  # fails on both versions
    rules = {(f["file"], f["code"]): f for f in report["migration"]}
    assert rules[("dags/legacy.py", "AIR301")]["fix"] == "Use `schedule` instead"
    assert "airflow.providers.standard" in rules[("dags/legacy.py", "AIR312")]["fix"]
    html = (root / "up.html").read_text()
    assert "AIR301" in html and "stops importing" in html and "3.2.2 → 3.3.2" in html
    console = tinyctl("upgrade-test", "--to", "3.3.2", "--fix", cwd=root, env=env)
    assert console.returncode == 1
    assert "stops_importing" in console.stdout and "AIR312" in console.stdout
    assert "schedule=" in (root / "dags" / "legacy.py").read_text()  # ruff's safe fix applied
    assert 'version: "3.2.2"' in spec.read_text()  # the spec is left as it was
