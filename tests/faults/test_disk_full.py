"""A full disk (issue 22, item 5): the state folder, the data and Postgres' data on a small tmpfs
(root mounts it here), filled up under `render`, `seed`, `deploy-dags` and a DAG run. Each
stops with the Disk full panel (exit 3) naming the file system, leaves every file whole (its
old version, or its new one for those written before the disk filled), and works again once
the space is freed.

- `render` at several levels of free space (nothing left, a page, a few pages: some files are
  written before the disk fills), no stack: in the default run.
- `seed` into a table, and through an upsert's staging table, whose tablespace lies on a full
  tmpfs, on the shared live stack (the local runtime's server runs on this machine, so a
  tablespace can sit on a mount made here; the compose runtime's cannot): in the default run.
- A whole local-runtime stack whose state folder is a tmpfs (Postgres' data, the DAG folder,
  the task logs), filled under `render`, `seed`, `deploy-dags` and `test-etl`'s DAG run, then
  freed and brought back with `up`: in `make chaos` (it starts a stack of its own).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import Stack, new_stack, ok
from faultkit import (
    FILLER,
    Point,
    assert_all_recovered,
    can_mount,
    compare_files,
    fill,
    record,
    snapshot,
    tmpfs,
)

from tinyctl.db import Dsn, connect, query, run_script
from tinyctl.scaffold import init_project

pytestmark = pytest.mark.skipif(not can_mount(), reason="mounting a tmpfs needs root")

ENV = {**os.environ, "TINYCTL_RUNTIME": "compose", "TINYCTL_IMAGES_SOURCE": "debian"}
LEVELS = (0, 4096, 8192)  # bytes left free when render runs: each a point


def _plain(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def _says_disk_full(result, mount: Path, point: Point, what: str) -> None:
    """Exit 3 naming the full file system: the Disk full panel, or (a service of the stack
    stopped for want of room first) the stack-not-up panel naming it."""
    flat = _plain(result.stderr)
    named = f"file system at {mount} is full" in flat
    if result.returncode != 3 or not named:
        point.fail(
            f"{what} exited {result.returncode}, not 3 with the Disk full panel naming {mount}:\n"
            f"{result.stdout[-800:]}\n{result.stderr[-1500:]}"
        )
    if "Traceback" in result.stderr:
        point.fail(f"{what} printed a traceback")


def _tinyctl(root: Path, *args: str, env=ENV):
    return subprocess.run(
        [sys.executable, "-m", "tinyctl", *args],
        cwd=root,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_render_on_a_full_disk(tmp_path: Path) -> None:
    root = tmp_path / "full"
    init_project(root, name="full")
    spec = root / "tinyctl.yaml"
    old_spec = spec.read_text()
    new_spec = old_spec.replace("core.parallelism: 4", "core.parallelism: 5")
    state = root / ".tinyctl"
    fault = "full disk during render"
    with tmpfs(state, "4m"):
        spec.write_text(new_spec)
        ok(_tinyctl(root, "render"))
        new = snapshot(state)
        for leave in LEVELS:
            point = Point(f"{fault}@{leave}B free")
            spec.write_text(old_spec)
            ok(_tinyctl(root, "render"))
            old = snapshot(state)
            spec.write_text(new_spec)
            filler = fill(state, leave=leave)
            result = _tinyctl(root, "render")
            if result.returncode == 0:  # it fitted: not a full disk, but it must be whole
                point.landed = False
            else:
                _says_disk_full(result, state, point, "render")
            now = {k: v for k, v in snapshot(state).items() if k != FILLER}
            compare_files(now, old, new, point, where=".tinyctl")
            check = _tinyctl(root, "render", "--check")
            if result.returncode != 0 and check.returncode != 1:
                point.lose(
                    f"render --check says fresh after a render the disk stopped: {check.stdout}"
                )
            filler.unlink()
            again = _tinyctl(root, "render")
            if again.returncode != 0 or {k: v for k, v in snapshot(state).items()} != new:
                point.fail(
                    f"render once space was freed: exit {again.returncode}\n{again.stderr[-800:]}"
                )
            record(fault, point)
    assert_all_recovered(fault)


# --------------------------------------------------------------------------- seed, live stack


def _outside_a_transaction(dsn: Dsn, statement: str) -> None:
    with connect(dsn, autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture
def full_tablespace(
    stack_runtime: str, request: pytest.FixtureRequest
) -> Iterator[tuple[Stack, str, Path]]:
    """A tablespace on a 16 MiB tmpfs in the live stack's Postgres, the ETL role allowed to
    create tables and temporary tables there; all dropped (and unmounted) afterwards."""
    if stack_runtime != "local":
        pytest.skip("a tablespace on a mount made here needs the server on this machine")
    live_stack: Stack = request.getfixturevalue("live_stack")
    project = live_stack.project()
    pg = live_stack.root / ".tinyctl" / "local" / "postgres" / "data"
    name = f"chaos_full_{uuid.uuid4().hex[:6]}"
    admin = Dsn(
        "127.0.0.1",
        live_stack.postgres_port,
        "warehouse",
        project.plan.bootstrap.superuser,
        project.secrets["postgres_password"],
    )
    writer = project.spec.postgres.writer.name
    # Not under pytest's 0700 tmp tree: the server's user must reach the mount.
    base = Path(tempfile.mkdtemp(prefix="tinyctl-ts-"))
    base.chmod(0o755)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, base, ignore_errors=True)
        mount = cleanup.enter_context(tmpfs(base / "ts", "16m", owner=pg.stat().st_uid))
        os.chmod(mount, 0o700)
        _outside_a_transaction(admin, f"CREATE TABLESPACE {name} LOCATION '{mount}'")
        try:
            run_script(admin, f"GRANT CREATE ON TABLESPACE {name} TO {writer}")
            yield live_stack, name, mount
        finally:
            with contextlib.suppress(Exception):
                run_script(admin, f"ALTER ROLE {writer} RESET temp_tablespaces")
            with contextlib.suppress(Exception):
                run_script(
                    admin, f"DROP TABLE IF EXISTS staging.{name}_data, staging.{name}_upsert"
                )
            for _attempt in range(3):  # a temporary file may still be going away
                try:
                    _outside_a_transaction(admin, f"DROP TABLESPACE IF EXISTS {name}")
                    break
                except Exception:
                    time.sleep(1)


def _seed_spec(stack: Stack, name: str, rows: Path) -> str:
    spec = yaml.safe_load((stack.root / "tinyctl.yaml").read_text())
    spec["seeds"] = [
        *spec.get("seeds", []),
        {"name": f"{name}_tables", "sql": f"seeds/{name}.sql"},
        {
            "name": f"{name}_data",
            "csv": f"seeds/{rows.name}",
            "table": f"staging.{name}_data",
            "mode": "replace",
        },
        {
            "name": f"{name}_upsert",
            "csv": f"seeds/{rows.name}",
            "table": f"staging.{name}_upsert",
            "mode": "upsert",
            "key": ["id"],
        },
    ]
    return yaml.safe_dump(spec, sort_keys=False)


def _remount(mount: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)


@pytest.mark.stack
def test_seed_on_a_full_disk(full_tablespace) -> None:
    """An upsert whose staging (temporary) table lands on a full tablespace, then a table whose
    data lies there: seed stops with the Disk full panel (exit 3) naming the server's full disk,
    the table keeps its rows, and the same seed loads once the file system has room again."""
    stack, name, mount = full_tablespace
    project = stack.project()
    dsn = project.warehouse()
    admin = Dsn(
        "127.0.0.1",
        stack.postgres_port,
        "warehouse",
        project.plan.bootstrap.superuser,
        project.secrets["postgres_password"],
    )
    writer = project.spec.postgres.writer.name
    sql = stack.root / "seeds" / f"{name}.sql"
    rows = stack.root / "seeds" / f"{name}.csv"
    spec_file = stack.root / f"tinyctl-{name}.yaml"
    sql.write_text(
        f"CREATE TABLE IF NOT EXISTS staging.{name}_data (id int, payload text) TABLESPACE {name};\n"
        f"CREATE TABLE IF NOT EXISTS staging.{name}_upsert (id int PRIMARY KEY, payload text);\n"
    )
    rows.write_text("id,payload\n" + "".join(f"{i},small\n" for i in range(100)))
    spec_file.write_text(_seed_spec(stack, name, rows))
    fault = f"full disk during seed ({stack.runtime})"
    seeds = [f"{name}_tables", f"{name}_data", f"{name}_upsert"]
    try:
        ok(stack.run("seed", "-s", spec_file.name, *[a for s in seeds for a in ("--only", s)]))
        rows.write_text("id,payload\n" + "".join(f"{i},{'z' * 200}\n" for i in range(120_000)))
        run_script(admin, f"ALTER ROLE {writer} SET temp_tablespaces = '{name}'")
        for seed in (f"{name}_upsert", f"{name}_data"):  # ~25 MB each, into 16 MiB
            point = Point(f"{fault}: {seed.rsplit('_', 1)[-1]}")
            table = f"staging.{seed}"
            _remount(mount, "16m")
            _n, before = query(dsn, f"SELECT count(*), max(payload) FROM {table}")
            result = stack.run("seed", "-s", spec_file.name, "--only", seed)
            flat = _plain(result.stderr)
            if result.returncode != 3 or "Disk full" not in flat or "disk is full" not in flat:
                point.fail(
                    f"seed exited {result.returncode}, not 3 naming the full disk:\n"
                    f"{result.stderr[-1500:]}"
                )
            _n, after = query(dsn, f"SELECT count(*), max(payload) FROM {table}")
            if after != before:
                point.lose(f"{table} changed: {after} != {before}")
            _remount(mount, "96m")  # the space freed
            again = stack.run("seed", "-s", spec_file.name, "--only", seed)
            _n, loaded = query(dsn, f"SELECT count(*) FROM {table}")
            if again.returncode != 0 or loaded[0][0] != 120_000:
                point.fail(
                    f"seed once space was freed: exit {again.returncode}, {loaded}\n{again.stderr[-800:]}"
                )
            run_script(admin, f"TRUNCATE {table}")
            record(fault, point)
    finally:
        sql.unlink(missing_ok=True)
        rows.unlink(missing_ok=True)
        spec_file.unlink(missing_ok=True)
    assert_all_recovered(fault)


# --------------------------------------------------------------------------- a whole stack


def _dag(dag_id: str, version: str) -> bytes:
    return (
        "from datetime import datetime\n\nfrom airflow.sdk import dag, task\n\n\n"
        f'@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), '
        f'catchup=False, tags=["full", "{version}"])\n'
        f"def {dag_id}():\n    @task\n    def only():\n        return 1\n\n    only()\n\n\n"
        f"{dag_id}()\n"
    ).encode()


@pytest.fixture(scope="module")
def full_stack() -> Iterator[Stack]:
    """A local-runtime stack of its own whose state folder (Postgres' data, the DAG folder, the
    logs) is a 768 MiB tmpfs; taken down with its data and unmounted afterwards."""
    base = Path(tempfile.mkdtemp(prefix="tinyctl-full-"))
    base.chmod(0o755)
    stack = new_stack(base, "full", runtime="local")
    try:
        with tmpfs(stack.root / ".tinyctl", "768m"):
            try:
                ok(stack.run("up"))
                yield stack
            finally:
                stack.run("down", "--volumes", "--yes")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.stack
@pytest.mark.chaos
def test_a_stack_whose_state_folder_fills_up(full_stack: Stack) -> None:
    """render, deploy-dags, seed and test-etl's DAG run, each on a full state folder: a clear
    error naming it, nothing torn, and each works again (after `up`) once the space is freed."""
    stack = full_stack
    state = stack.root / ".tinyctl"
    spec = stack.root / "tinyctl.yaml"
    fault = "full disk under a whole stack (local)"

    def freed(point: Point, filler: Path, *args: str) -> None:
        filler.unlink()
        up = stack.run("up")
        if up.returncode != 0:
            point.fail(f"up once space was freed: exit {up.returncode}\n{up.stderr[-1500:]}")
        again = stack.run(*args)
        if again.returncode != 0:
            point.fail(
                f"{args[0]} once space was freed: exit {again.returncode}\n{again.stderr[-1500:]}"
            )

    # render
    point = Point(f"{fault}: render")
    old_spec = spec.read_text()
    before = snapshot(state / "secrets")
    spec.write_text(old_spec.replace("core.parallelism: 4", "core.parallelism: 3"))
    filler = fill(state)
    _says_disk_full(stack.run("render"), state, point, "render")
    if snapshot(state / "secrets") != before:
        point.lose("a secret file changed")
    spec.write_text(old_spec)
    freed(point, filler, "render")
    record(fault, point)

    # deploy-dags
    point = Point(f"{fault}: deploy-dags")
    rel = "dags/full_probe.py"
    (stack.root / rel).write_bytes(_dag("full_probe", "old"))
    ok(stack.run("deploy-dags", rel))
    (stack.root / rel).write_bytes(_dag("full_probe", "new"))
    filler = fill(state)
    _says_disk_full(stack.run("deploy-dags", rel), state, point, "deploy-dags")
    if (state / rel).read_bytes() != _dag("full_probe", "old"):
        point.lose(f"the stack's {rel} is not its old version")
    freed(point, filler, "deploy-dags", rel)
    record(fault, point)

    # seed: the table's rows in Postgres' data, on the full file system
    point = Point(f"{fault}: seed")
    rows = stack.root / "seeds" / "full_rows.csv"
    seed_spec = yaml.safe_load(old_spec)
    seed_spec["seeds"].append(
        {
            "name": "full_rows",
            "csv": "seeds/full_rows.csv",
            "table": "staging.full_rows",
            "columns": {"id": "integer", "payload": "text"},
            "mode": "replace",
        }
    )
    (stack.root / "tinyctl-full.yaml").write_text(yaml.safe_dump(seed_spec, sort_keys=False))
    rows.write_text("id,payload\n" + "".join(f"{i},small\n" for i in range(10)))
    ok(stack.run("seed", "-s", "tinyctl-full.yaml", "--only", "full_rows"))
    rows.write_text("id,payload\n" + "".join(f"{i},{'w' * 200}\n" for i in range(100_000)))
    filler = fill(state, leave=4 << 20)  # a little room: Postgres fills it with the load
    result = stack.run("seed", "-s", "tinyctl-full.yaml", "--only", "full_rows")
    flat = _plain(result.stderr)
    if result.returncode == 0 or "full" not in flat or "Traceback" in result.stderr:
        point.fail(f"seed on a full disk: exit {result.returncode}\n{result.stderr[-1500:]}")
    filler.unlink()
    ok(stack.run("up"))
    _n, kept = query(
        stack.project().warehouse(), "SELECT count(*), max(payload) FROM staging.full_rows"
    )
    if kept != [(10, "small")]:
        point.lose(f"staging.full_rows changed: {kept}")
    again = stack.run("seed", "-s", "tinyctl-full.yaml", "--only", "full_rows")
    if again.returncode != 0:
        point.fail(f"seed once space was freed: exit {again.returncode}\n{again.stderr[-1500:]}")
    record(fault, point)

    # a DAG run: test-etl's smoke test with its logs and the warehouse on the full file system
    point = Point(f"{fault}: DAG run")
    ok(stack.run("test-etl"))
    filler = fill(state, leave=64 << 10)
    result = stack.run("test-etl")
    if result.returncode == 0:
        point.lose("test-etl passed on a full disk")
    elif "is full" not in _plain(result.stdout + result.stderr):
        point.fail(
            f"test-etl on a full disk did not name it:\n{result.stdout[-1500:]}\n{result.stderr[-800:]}"
        )
    freed(point, filler, "test-etl")
    record(fault, point)
    assert_all_recovered(fault)
