"""`tinyctl run DAG` (tinyctl/dags/run.py): one run through the scheduler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Stack

from tinyctl.dags.run import parse_conf, parse_logical_date
from tinyctl.errors import BadInput

stack = pytest.mark.stack


def test_conf_is_a_json_object_or_a_file(tmp_path: Path) -> None:
    assert parse_conf(None) == {}
    assert parse_conf('{"day": "2026-11-01"}') == {"day": "2026-11-01"}
    conf = tmp_path / "conf.json"
    conf.write_text('{"n": 3}')
    assert parse_conf(f"@{conf}") == {"n": 3}
    with pytest.raises(BadInput, match="not valid JSON"):
        parse_conf("{day: 1}")
    with pytest.raises(BadInput, match="must be a JSON object"):
        parse_conf("[1, 2]")
    with pytest.raises(BadInput, match="does not exist"):
        parse_conf(f"@{tmp_path / 'missing.json'}")


def test_logical_dates() -> None:
    assert parse_logical_date(None) is None
    assert parse_logical_date("2026-11-01") == "2026-11-01T00:00:00+00:00"
    assert parse_logical_date("2026-11-01T06:30:00Z") == "2026-11-01T06:30:00+00:00"
    assert parse_logical_date("2026-11-01T06:30:00") == "2026-11-01T06:30:00+00:00"
    with pytest.raises(BadInput, match="not a date"):
        parse_logical_date("yesterday")


FAILING_DAG = """from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="tt_run_fails", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def tt_run_fails():
    @task
    def ok():
        return 1

    @task
    def explode(value):
        print("about to fail with value", value)
        raise ValueError("the warehouse is on fire")

    explode(ok())


tt_run_fails()
"""


@stack
def test_run_succeeds_with_conf_and_logical_date(live_stack: Stack) -> None:
    ok = live_stack.run("seed")
    assert ok.returncode == 0, ok.stderr
    fixture = live_stack.root / "tests/fixtures/landing/orders_2026-11-01.csv"
    landing = live_stack.root / "data/landing"
    landing.mkdir(parents=True, exist_ok=True)
    (landing / fixture.name).write_bytes(fixture.read_bytes())
    result = live_stack.run(
        "run",
        "staging_orders",
        "--conf",
        '{"day": "2026-11-01"}',
        "--logical-date",
        "2026-11-01",
        "--json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["state"] == "success"
    assert data["logical_date"] == "2026-11-01T00:00:00+00:00"
    assert data["tasks"] and all(t["state"] == "success" for t in data["tasks"])
    again = live_stack.run("run", "staging_orders", "--logical-date", "2026-11-01")
    assert again.returncode == 2  # that logical date already has a run
    assert "already exists" in " ".join(again.stderr.split())


@stack
def test_a_failing_run_exits_1_and_streams_the_failed_tasks_log(live_stack: Stack) -> None:
    path = live_stack.root / "dags" / "tt_run_fails.py"
    path.write_text(FAILING_DAG)
    try:
        deployed = live_stack.run("deploy-dags", "dags/tt_run_fails.py")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        result = live_stack.run("run", "tt_run_fails")
        assert result.returncode == 1, result.stdout + result.stderr
        text = " ".join(result.stderr.split())
        assert "log of explode" in text
        assert "the warehouse is on fire" in text
        assert "failed: explode" in text
        as_json = live_stack.run("run", "tt_run_fails", "--json")
        data = json.loads(as_json.stdout)
        assert as_json.returncode == 1 and data["state"] == "failed"
        assert any("the warehouse is on fire" in log for log in data["failed_logs"].values())
    finally:
        path.unlink()
        live_stack.run("deploy-dags", "--prune")


@stack
def test_run_of_an_unknown_dag_is_bad_input(live_stack: Stack) -> None:
    result = live_stack.run("run", "no_such_dag")
    assert result.returncode == 2
    assert "staging_orders" in result.stderr  # the known DAGs are listed
