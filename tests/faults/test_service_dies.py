"""A service of the stack dies during work (issue 22, item 4), on the shared live stack: Postgres
killed during `seed` and during `test-etl`, the scheduler killed during a `test-etl` run, the
api-server killed during `deploy-dags`. Each says what died (exit 1), loses nothing (the table
as it was, the previous DAG files in place), and `up` brings the stack back.

These are in `make chaos` (each one restarts part of the shared stack: half a minute or more);
the default run has the kill sweeps instead.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import Stack
from faultkit import Point, assert_all_recovered, record
from services import (
    bring_back,
    kill_service,
    output_of,
    running_run,
    running_task,
    start,
    wait_for,
)

from tinyctl.db import query
from tinyctl.state.fsutil import write_atomic

pytestmark = [pytest.mark.stack, pytest.mark.chaos]

ROWS = int(os.environ.get("CHAOS_KILL_ROWS", "600000"))
SPEC = "tinyctl-dies.yaml"


@dataclass
class Dies:
    stack: Stack
    tag: str

    @property
    def table(self) -> str:
        return f"staging.{self.tag}"

    @property
    def csv(self) -> Path:
        return self.stack.root / "seeds" / f"{self.tag}.csv"

    def fault(self, what: str) -> str:
        return f"{what} ({self.stack.runtime})"


@pytest.fixture(scope="module")
def dies(live_stack: Stack) -> Iterator[Dies]:
    tag = f"dies_{uuid.uuid4().hex[:6]}"
    d = Dies(live_stack, tag)
    spec = yaml.safe_load((live_stack.root / "tinyctl.yaml").read_text())
    spec["seeds"] = [
        *spec.get("seeds", []),
        {
            "name": tag,
            "csv": f"seeds/{tag}.csv",
            "table": d.table,
            "columns": {"id": "integer", "tag": "text", "payload": "text"},
            "mode": "replace",
        },
    ]
    (live_stack.root / SPEC).write_text(yaml.safe_dump(spec, sort_keys=False))
    d.csv.write_bytes(_rows("old", 1000))
    try:
        yield d
    finally:
        (live_stack.root / SPEC).unlink(missing_ok=True)
        d.csv.unlink(missing_ok=True)
        for rel in (f"dags/{tag}.py",):
            (live_stack.root / rel).unlink(missing_ok=True)
            (live_stack.root / ".tinyctl" / rel).unlink(missing_ok=True)
        bring_back(live_stack)  # whatever a failed test left killed
        live_stack.psql(f"DROP TABLE IF EXISTS {d.table}")


def _rows(tag: str, count: int) -> bytes:
    return ("id,tag,payload\n" + "".join(f"{i},{tag},{'y' * 40}\n" for i in range(count))).encode()


def _signature(d: Dies) -> tuple:
    _n, rows = query(
        d.stack.project().warehouse(), f"SELECT count(*), min(tag), max(tag) FROM {d.table}"
    )
    return tuple(rows[0])


def _copying(d: Dies) -> bool:
    _n, rows = query(
        d.stack.project().warehouse(),
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY%'",
    )
    return rows[0][0] > 0


def test_postgres_killed_during_seed(dies: Dies, tmp_path: Path) -> None:
    """The table holds its old rows, seed exits 1 naming the lost connection, and once `up`
    brought Postgres back the same seed loads the new rows."""
    stack, point = dies.stack, Point(dies.fault("postgres killed during seed"))
    assert stack.run("seed", "-s", SPEC, "--only", dies.tag).returncode == 0
    before = _signature(dies)
    dies.csv.write_bytes(_rows("new", ROWS))
    seeding = start(stack, "seed", "-s", SPEC, "--only", dies.tag, out=tmp_path / "seed")
    wait_for(lambda: _copying(dies), "the COPY")
    kill_service(stack, "postgres")
    code = seeding.wait(timeout=300)
    _out, err = output_of(tmp_path / "seed")
    flat = " ".join(err.split())
    if code != 1 or "lost the connection to Postgres" not in flat:
        point.fail(f"seed exited {code}, not 1 naming the lost connection:\n{err[-1500:]}")
    bring_back(stack)
    if _signature(dies) != before:
        point.lose(f"{dies.table} changed: {_signature(dies)} != {before}")
    again = stack.run("seed", "-s", SPEC, "--only", dies.tag)
    if again.returncode != 0 or _signature(dies) != (ROWS, "new", "new"):
        point.fail(f"seed run again: exit {again.returncode}, {_signature(dies)}")
    record(point.label, point)
    assert_all_recovered(point.label)


def _test_etl_with_a_death(dies: Dies, tmp_path: Path, service: str, fault: str) -> None:
    """test-etl's own smoke test with `service` killed while its DAG runs: the test is an error
    (never a pass, never a wait until the test's timeout), and it passes again after `up`."""
    stack, point = dies.stack, Point(dies.fault(fault))
    report = tmp_path / "report.json"
    running = start(stack, "test-etl", "-k", "orders_2026_11_01", "--json", out=tmp_path / "etl")
    holder: dict[str, str] = {}

    def task_running() -> bool:
        holder["run"] = holder.get("run") or running_run(stack, "staging_orders") or ""
        return bool(holder["run"]) and running_task(stack, "staging_orders", holder["run"])

    wait_for(task_running, "a running task of staging_orders")
    kill_service(stack, service)
    code = running.wait(timeout=240)  # the test's own timeout is 5 minutes
    out, err = output_of(tmp_path / "etl")
    try:
        results = json.loads(out)["tests"]
        status = results[0]["status"]
        message = results[0]["message"]
    except (ValueError, KeyError, IndexError):
        status, message = "none", f"no JSON report: {out[-800:]} {err[-800:]}"
    if code == 0 or status == "passed":
        point.lose(f"test-etl passed on a stack whose {service} was killed during the run")
    elif status != "error" or service not in message:
        point.fail(f"the test is {status!r}, not an error naming the {service}: {message}")
    if "did not finish within" in message:
        point.fail(f"test-etl waited for the test's timeout: {message}")
    report.write_text(out)
    bring_back(stack)
    again = stack.run("test-etl", "-k", "orders_2026_11_01")
    if again.returncode != 0:
        point.fail(f"test-etl after up: exit {again.returncode}\n{again.stdout[-1500:]}")
    record(point.label, point)
    assert_all_recovered(point.label)


def test_postgres_killed_during_test_etl(dies: Dies, tmp_path: Path) -> None:
    _test_etl_with_a_death(dies, tmp_path, "postgres", "postgres killed during test-etl")


def test_scheduler_killed_during_a_test_etl_run(dies: Dies, tmp_path: Path) -> None:
    _test_etl_with_a_death(dies, tmp_path, "scheduler", "scheduler killed during test-etl")


def _dag(dag_id: str, version: str) -> bytes:
    return (
        "from datetime import datetime\n\nfrom airflow.sdk import dag, task\n\n\n"
        f'@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), '
        f'catchup=False, tags=["dies", "{version}"])\n'
        f"def {dag_id}():\n    @task\n    def only():\n        return 1\n\n    only()\n\n\n"
        f"{dag_id}()\n"
    ).encode()


def test_api_server_killed_during_deploy_dags(dies: Dies, tmp_path: Path) -> None:
    """deploy-dags exits 1 saying the deploy was cut short; the stack's DAG folder holds the old
    version, which is the live one once `up --no-deploy` brought the api-server back."""
    stack, point = dies.stack, Point(dies.fault("api-server killed during deploy-dags"))
    rel = f"dags/{dies.tag}.py"
    source, deployed = stack.root / rel, stack.root / ".tinyctl" / rel
    source.write_bytes(_dag(dies.tag, "old"))
    assert stack.run("deploy-dags", rel).returncode == 0
    source.write_bytes(_dag(dies.tag, "new"))
    deploying = start(stack, "deploy-dags", rel, out=tmp_path / "deploy")
    wait_for(lambda: deployed.read_bytes() == _dag(dies.tag, "new"), "the new file in the stack")
    kill_service(stack, "api-server")
    code = deploying.wait(timeout=300)
    _out, err = output_of(tmp_path / "deploy")
    flat = " ".join(err.split())
    if code != 1 or "cut short" not in flat:
        point.fail(f"deploy-dags exited {code}, not 1 saying it was cut short:\n{err[-1500:]}")
    if deployed.read_bytes() != _dag(dies.tag, "old"):
        point.lose("the stack's DAG folder does not hold the old version")
    up = stack.run("up", "--no-deploy")
    if up.returncode != 0:
        point.fail(f"up --no-deploy: exit {up.returncode}\n{up.stderr[-1500:]}")

    def old_live() -> bool:
        with stack.client() as client:
            dag = client.dag(dies.tag)
        return dag is not None and "old" in dag.tags and not dag.is_stale

    try:
        wait_for(old_live, "the old DAG live", timeout=90)
    except AssertionError as error:
        point.lose(str(error))
    again = stack.run("deploy-dags", rel)
    if again.returncode != 0:
        point.fail(f"deploy-dags run again: exit {again.returncode}\n{again.stderr[-1500:]}")
    write_atomic(source, _dag(dies.tag, "new"))  # (unchanged: the module fixture removes it)
    record(point.label, point)
    assert_all_recovered(point.label)
