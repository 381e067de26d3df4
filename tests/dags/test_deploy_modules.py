"""deploy-dags with helper modules (tinyctl/dags/deploy/): files that define no DAG are reported at
once as such, the same way on every deploy, and Airflow's import-error list agrees."""

from __future__ import annotations

import json
import time

import pytest
from conftest import Stack

stack = pytest.mark.stack

PLUGIN = (
    "from airflow.plugins_manager import AirflowPlugin\n\n\n"
    "class TtPlugin(AirflowPlugin):\n    name = 'tt_modules_dag_helpers'\n"
)
HELPER = "def shout(text):\n    return text.upper()\n"
DAG = """from datetime import datetime

from airflow.sdk import dag, task
from tt_modules_helper import shout


@dag(dag_id="tt_modules_user", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def pipeline():
    @task
    def hello():
        return shout("x")

    hello()


pipeline()
"""


@stack
def test_modules_with_no_dag_are_reported_at_once_on_every_deploy(live_stack: Stack) -> None:
    dags = live_stack.root / "dags"
    files = {
        "tt_modules_plugin.py": PLUGIN,
        "tt_modules_helper.py": HELPER,
        "tt_modules_user.py": DAG,
    }
    for name, text in files.items():
        (dags / name).write_text(text)
    try:
        started = time.monotonic()
        result = live_stack.run("deploy-dags", *[f"dags/{n}" for n in files], "--json")
        took = time.monotonic() - started
        assert result.returncode == 0, result.stdout + result.stderr
        report = {f["file"]: f for f in json.loads(result.stdout)["files"]}
        assert report["tt_modules_plugin.py"]["status"] == "module"
        assert "imports it and finds none" in report["tt_modules_plugin.py"]["error"]
        assert report["tt_modules_helper.py"]["status"] == "module"
        assert "safe mode skips it" in report["tt_modules_helper.py"]["error"]
        assert report["tt_modules_user.py"]["status"] == "live"
        assert took < 55  # never the 60 s parse timeout, even on a loaded machine
        again = live_stack.run("deploy-dags", "--json")
        second = {f["file"]: f for f in json.loads(again.stdout)["files"]}
        assert second["tt_modules_plugin.py"]["status"] == "module"
        assert second["tt_modules_helper.py"]["status"] == "module"
        assert second["tt_modules_user.py"]["status"] == "unchanged"
        with live_stack.client() as client:
            errors = [e for e in client.import_errors() if "tt_modules" in (e.filename or "")]
        assert errors == []  # Airflow's own list: none of them is an import error
    finally:
        for name in files:
            (dags / name).unlink(missing_ok=True)
        live_stack.run("deploy-dags", "--prune")
