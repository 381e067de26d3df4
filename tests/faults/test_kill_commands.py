"""`seed`, `deploy-dags`, `sync-settings` and `test-etl` killed (SIGKILL) and interrupted (Ctrl-C)
at every point, on the shared live stack (issue 22, items 1 and 2).

After each kill: the lock is free; every file of the state folder is its whole old or new
version and the render is still current; the seeded table holds its old or its new rows; the
stack's DAG folder holds the old or the new version of each file; each Airflow variable holds
its old or its new value; the command run again succeeds and leaves the new version.

What they add to the stack is named `chaos_<hex>*` (a second spec file next to tinyctl.yaml,
`tinyctl-chaos.yaml`, with the same project name: the same stack, the project's spec
untouched) and removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import Stack
from faultkit import SWEEPS, Killed, Point, sqlite_whole
from sweep import Scenario, run_sweep

from tinyctl.db import query
from tinyctl.render import render_status
from tinyctl.state.fsutil import write_atomic

pytestmark = pytest.mark.stack

ROWS = int(os.environ.get("CHAOS_SEED_ROWS", "120000"))  # seed: about 1 s of COPY here
# Written by the stack or by these commands whatever the point: whole JSON is enough.
VOLATILE = ("cache/", "local/run/", "local/ports.json", "runtime.json", "applied-settings.json")


def volatile(name: str) -> bool:
    return name.startswith(VOLATILE) or name.startswith("local/airflow-home/")


@dataclass
class Chaos:
    stack: Stack
    tag: str  # chaos_<hex>

    @property
    def spec_old(self) -> str:
        return "tinyctl-chaos-old.yaml"

    @property
    def spec_new(self) -> str:
        return "tinyctl-chaos.yaml"

    @property
    def table(self) -> str:
        return f"staging.{self.tag}_rows"

    @property
    def csv(self) -> Path:
        return self.stack.root / "seeds" / self.tag / "rows.csv"

    def dag_files(self) -> list[str]:
        return [f"dags/{self.tag}_a.py", f"dags/{self.tag}_b.py"]

    def variables(self) -> list[str]:
        return [f"{self.tag}_var_{i}" for i in range(6)]

    def scenario(self, name: str, args: tuple[str, ...], reset, **kwargs) -> Scenario:
        return Scenario(
            f"{name} ({self.stack.runtime})",
            args,
            self.stack.root,
            self.stack.env,
            self.stack.root / ".tinyctl",
            reset,
            volatile=volatile,
            **kwargs,
        )


def _spec(stack: Stack, tag: str, version: str) -> str:
    spec = yaml.safe_load((stack.root / "tinyctl.yaml").read_text())
    spec["seeds"] = [
        *spec.get("seeds", []),
        {
            "name": f"{tag}_rows",
            "csv": f"seeds/{tag}/rows.csv",
            "table": f"staging.{tag}_rows",
            "columns": {"id": "integer", "tag": "text", "payload": "text"},
            "mode": "replace",
        },
    ]
    airflow = spec.setdefault("airflow", {})
    airflow["variables"] = {
        **airflow.get("variables", {}),
        **{f"{tag}_var_{i}": f"{version}-{i}" for i in range(6)},
    }
    airflow["pools"] = [
        *airflow.get("pools", []),
        {"name": f"{tag}_pool", "slots": 1 if version == "old" else 2},
    ]
    return yaml.safe_dump(spec, sort_keys=False)


@pytest.fixture(scope="module")
def chaos(live_stack: Stack) -> Iterator[Chaos]:
    tag = f"chaos_{uuid.uuid4().hex[:6]}"
    c = Chaos(live_stack, tag)
    root = live_stack.root
    (root / c.spec_old).write_text(_spec(live_stack, tag, "old"))
    (root / c.spec_new).write_text(_spec(live_stack, tag, "new"))
    c.csv.parent.mkdir(parents=True, exist_ok=True)
    c.csv.write_bytes(_rows("old"))  # the spec names it: every command that loads it checks
    try:
        yield c
    finally:
        _clean_up(c)


def _clean_up(c: Chaos) -> None:
    root = c.stack.root
    for name in (c.spec_old, c.spec_new):
        (root / name).unlink(missing_ok=True)
    shutil.rmtree(c.csv.parent, ignore_errors=True)
    for rel in c.dag_files():
        (root / rel).unlink(missing_ok=True)
        (root / ".tinyctl" / rel).unlink(missing_ok=True)
    with contextlib.suppress(Exception):
        c.stack.psql(f"DROP TABLE IF EXISTS {c.table}")
    with contextlib.suppress(Exception), c.stack.client() as client:
        for name in c.variables():
            client._request("DELETE", f"/api/v2/variables/{name}", expected=(204,), allow_404=True)
        client._request("DELETE", f"/api/v2/pools/{c.tag}_pool", expected=(204,), allow_404=True)
        for dag_id in (f"{c.tag}_a", f"{c.tag}_b"):
            client._request("DELETE", f"/api/v2/dags/{dag_id}", expected=(204,), allow_404=True)


def _render_current(c: Chaos, point: Point) -> None:
    """None of these commands renders: the rendered files must still be current, and
    `render --check`'s own function must say so."""
    status = render_status(c.stack.project())
    if not status.fresh:
        point.fail(f"the render is no longer current: {status.reasons}")


# --------------------------------------------------------------------------- seed


def _rows(version: str) -> bytes:
    count = ROWS if version == "old" else ROWS + 777
    body = "".join(f"{i},{version},{'x' * 24}\n" for i in range(count))
    return ("id,tag,payload\n" + body).encode()


def _signature(c: Chaos) -> tuple | None:
    """(rows, first tag, last tag, sum of ids) of the seeded table, None when it is missing."""
    dsn = c.stack.project().warehouse()
    _names, found = query(dsn, f"SELECT to_regclass('{c.table}') IS NOT NULL")
    if not found[0][0]:
        return None
    _names, rows = query(dsn, f"SELECT count(*), min(tag), max(tag), sum(id) FROM {c.table}")
    return tuple(rows[0])


def _expected(version: str) -> tuple:
    count = ROWS if version == "old" else ROWS + 777
    return (count, version, version, count * (count - 1) // 2)


@pytest.mark.parametrize("sweep", SWEEPS)
def test_seed_killed_at_every_point(chaos: Chaos, sweep: str) -> None:
    old, new = _rows("old"), _rows("new")

    def reset() -> None:
        chaos.csv.write_bytes(old)
        done = scenario.run("seed", "-s", chaos.spec_new, "--only", f"{chaos.tag}_rows")
        assert done.returncode == 0, done.stdout + done.stderr
        chaos.csv.write_bytes(new)

    def check(killed: Killed, point: Point) -> None:
        found = _signature(chaos)
        if found not in (_expected("old"), _expected("new")):
            point.lose(f"{chaos.table} holds neither its old nor its new rows: {found}")
        _render_current(chaos, point)

    def after_rerun(point: Point) -> None:
        if _signature(chaos) != _expected("new"):
            point.fail(f"seed run again did not load the new rows: {_signature(chaos)}")

    scenario = chaos.scenario(
        "seed",
        ("seed", "-s", chaos.spec_new, "--only", f"{chaos.tag}_rows"),
        reset,
        check=check,
        after_rerun=after_rerun,
    )
    run_sweep(scenario, sweep)


# --------------------------------------------------------------------------- deploy-dags


def _dag(dag_id: str, version: str) -> bytes:
    tasks = ["first"] if version == "old" else ["first", "second"]
    body = "\n".join(
        [
            "from datetime import datetime",
            "",
            "from airflow.sdk import dag, task",
            "",
            "",
            f'@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), '
            f'catchup=False, tags=["chaos", "{version}"])',
            f"def {dag_id}():",
            *[f"    @task\n    def {t}():\n        return 1\n\n    {t}()" for t in tasks],
            "",
            "",
            f"{dag_id}()",
            "",
        ]
    )
    return body.encode()


@pytest.mark.parametrize("sweep", SWEEPS)
def test_deploy_dags_killed_at_every_point(chaos: Chaos, sweep: str) -> None:
    root = chaos.stack.root
    files = chaos.dag_files()

    def version(rel: str, which: str) -> bytes:
        return _dag(Path(rel).stem, which)

    def reset() -> None:
        # The stack holds the old version (as a deploy leaves it: written atomically; Airflow
        # parses it on its own, as it does after any deploy), the source folder the new one.
        for rel in files:
            write_atomic(root / ".tinyctl" / rel, version(rel, "old"))
            (root / rel).write_bytes(version(rel, "new"))

    def check(killed: Killed, point: Point) -> None:
        for rel in files:
            deployed = root / ".tinyctl" / rel
            data = deployed.read_bytes() if deployed.is_file() else None
            if data not in (version(rel, "old"), version(rel, "new")):
                point.lose(f"the stack's {rel} is neither its old nor its new version")
        _render_current(chaos, point)

    def after_rerun(point: Point) -> None:
        with chaos.stack.client() as client:
            for rel in files:
                if (root / ".tinyctl" / rel).read_bytes() != version(rel, "new"):
                    point.fail(f"deploy-dags run again did not deploy the new {rel}")
                dag = client.dag(Path(rel).stem)
                if dag is None or "new" not in dag.tags:
                    point.fail(f"{Path(rel).stem} is not live in its new version: {dag}")

    scenario = chaos.scenario(
        "deploy-dags",
        ("deploy-dags", *files),
        reset,
        check=check,
        after_rerun=after_rerun,
        sample_one=True,  # each point waits for Airflow to parse: one signal in the sample
    )
    run_sweep(scenario, sweep)


# --------------------------------------------------------------------------- sync-settings


def _settings(c: Chaos) -> tuple[dict[str, str | None], int | None]:
    with c.stack.client() as client:
        variables = client.variables()
        pool = client.pools().get(f"{c.tag}_pool")
    values = {
        name: (variables[name].value if name in variables else None) for name in c.variables()
    }
    return values, (pool.slots if pool else None)


@pytest.mark.parametrize("sweep", SWEEPS)
def test_sync_settings_killed_at_every_point(chaos: Chaos, sweep: str) -> None:
    def reset() -> None:
        done = scenario.run("sync-settings", "-s", chaos.spec_old)
        assert done.returncode == 0, done.stdout + done.stderr

    def check(killed: Killed, point: Point) -> None:
        values, slots = _settings(chaos)
        for i, name in enumerate(chaos.variables()):
            if values[name] not in (f"old-{i}", f"new-{i}"):
                point.lose(f"variable {name} is {values[name]!r}: neither old nor new")
        if slots not in (1, 2):
            point.lose(f"pool {chaos.tag}_pool has {slots} slots: neither old nor new")
        _render_current(chaos, point)

    def after_rerun(point: Point) -> None:
        values, slots = _settings(chaos)
        wanted = {name: f"new-{i}" for i, name in enumerate(chaos.variables())}
        if values != wanted or slots != 2:
            point.fail(f"sync-settings run again did not apply the new settings: {values}, {slots}")

    scenario = chaos.scenario(
        "sync-settings",
        ("sync-settings", "-s", chaos.spec_new),
        reset,
        check=check,
        after_rerun=after_rerun,
    )
    run_sweep(scenario, sweep)


# --------------------------------------------------------------------------- test-etl

DAY = "2026-11-01"


def _etl_world(c: Chaos) -> tuple:
    """What test-etl's seeds and DAG leave: the customers seed, the day's orders and revenue."""
    dsn = c.stack.project().warehouse()
    _n, customers = query(
        dsn,
        "SELECT count(*), sum(customer_id), string_agg(name, ',' ORDER BY customer_id) FROM staging.customers",
    )
    _n, orders = query(
        dsn,
        f"SELECT count(*), sum(order_id), sum(amount) FROM staging.orders WHERE order_date = '{DAY}'",
    )
    _n, revenue = query(
        dsn, f"SELECT orders, revenue_eur FROM analytics.daily_revenue WHERE order_date = '{DAY}'"
    )
    return tuple(customers[0]), tuple(orders[0]), tuple(revenue)


@pytest.mark.parametrize("sweep", SWEEPS)
def test_test_etl_killed_at_every_point(chaos: Chaos, sweep: str) -> None:
    """The project's own smoke test: its seeds, fixture file and DAG run give the same rows on
    every run, so the old and the new version of each table are the same rows."""
    root = chaos.stack.root
    landing = root / "data" / "landing" / f"orders_{DAY}.csv"
    fixture = (root / "tests" / "fixtures" / "landing" / f"orders_{DAY}.csv").read_bytes()
    world: dict[str, tuple] = {}

    def check(killed: Killed, point: Point) -> None:
        found = _etl_world(chaos)
        if world and found != world["after"]:
            point.lose(f"the warehouse holds rows of neither version: {found} != {world['after']}")
        if landing.exists() and landing.read_bytes() != fixture:
            point.lose(f"data/landing/{landing.name} is torn")
        sqlite_whole(root / ".tinyctl" / "history.sqlite", point)
        _render_current(chaos, point)

    def after_rerun(point: Point) -> None:
        if _etl_world(chaos) != world["after"]:
            point.fail(f"test-etl run again left other rows: {_etl_world(chaos)}")

    scenario = chaos.scenario(
        "test-etl",
        ("test-etl", "-k", "orders_2026_11_01"),
        lambda: None,
        check=check,
        after_rerun=after_rerun,
        after_clean_run=lambda: world.__setitem__("after", _etl_world(chaos)),
        sample_one=True,  # each point is a DAG run: one signal in the sample
    )
    run_sweep(scenario, sweep)
