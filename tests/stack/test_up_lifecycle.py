"""The stack's lifecycle on each runtime: up, status, down, repair, pre-flight.

Every test runs on compose (a real Docker engine) and on local (real local processes); the
few runtime facts a test looks at directly (containers or pids, volumes or the cluster folder)
come from the helpers below. These tests start their own stacks (own project names, own
ports) and always tear them down.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RUNTIMES, Stack, new_stack, ok

pytestmark = [pytest.mark.stack]

AIRFLOW_SERVICES = {"api-server", "scheduler", "dag-processor", "triggerer"}


def _status(stack: Stack) -> dict:
    return stack.json("status")


def _local_run(stack: Stack) -> Path:
    return stack.root / ".tinyctl" / "local" / "run"


def _units(stack: Stack) -> dict[str, str]:
    """What runs the stack: container name -> id (compose), service -> pid (local)."""
    if stack.runtime == "local":
        return {
            p.stem: str(json.loads(p.read_text())["pid"]) for p in _local_run(stack).glob("*.pid")
        }
    return _containers(stack)


def _kill_scheduler(stack: Stack) -> None:
    if stack.runtime == "local":
        os.killpg(int(_units(stack)["scheduler"]), signal.SIGKILL)
        time.sleep(0.5)
        return
    subprocess.run(["docker", "kill", f"{stack.name}-scheduler-1"], check=True, capture_output=True)


def _data_left(stack: Stack) -> str:
    """What is left of the project's Postgres data after `down --volumes`."""
    if stack.runtime == "local":
        cluster = stack.root / ".tinyctl" / "local" / "postgres"
        return str(cluster) if cluster.exists() or cluster.is_symlink() else ""
    return subprocess.run(
        [
            "docker",
            "volume",
            "ls",
            "-q",
            "--filter",
            f"label=com.docker.compose.project={stack.name}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _containers(stack: Stack) -> dict[str, str]:
    """container name -> id, for the project."""
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label=com.docker.compose.project={stack.name}",
            "--format",
            "{{.Names}} {{.ID}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split() for line in out.splitlines())


@pytest.fixture(scope="module")
def lifecycle(stack_runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = new_stack(tmp_path_factory.mktemp("lifecycle"), "lc", runtime=stack_runtime)
    try:
        yield stack
    finally:
        stack.run("down", "--volumes", "--yes")


def _cpu_shares(stack: Stack) -> dict[str, int]:
    """container name -> its CPU weight as the engine applies it now (0: Docker's default)."""
    names = list(_containers(stack))
    out = subprocess.run(
        ["docker", "inspect", "--format", "{{.Name}} {{.HostConfig.CpuShares}}", *names],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        name.lstrip("/"): int(shares) for name, shares in (row.split() for row in out.splitlines())
    }


def test_up_brings_every_service_to_healthy(lifecycle: Stack) -> None:
    result = ok(lifecycle.run("up", "--json"))
    report = json.loads(result.stdout)
    assert report["already_up"] is False
    assert report["url"] == f"http://127.0.0.1:{lifecycle.airflow_port}"
    shown = {s["name"]: s["ports"] for s in report["services"]}  # what up's closing table shows
    assert f"127.0.0.1:{lifecycle.postgres_port}->" in " ".join(shown["postgres"])
    assert f"127.0.0.1:{lifecycle.airflow_port}->" in " ".join(shown["api-server"])
    status = _status(lifecycle)
    assert (
        status["project"] == lifecycle.name
        and status["runtime"] == lifecycle.runtime
        and status["runtime_reason"] == "TINYCTL_RUNTIME"
        and status["state"] == "up"
    )
    services = {s["name"]: s for s in status["services"]}
    for name in AIRFLOW_SERVICES | {"postgres"}:
        assert services[name]["state"] == "running" and services[name]["health"] == "healthy", (
            services[name]
        )
    for name in ("db-setup", "airflow-init"):
        assert services[name]["health"] == "completed"
    assert status["airflow"]["healthy"] is True and status["airflow"]["version"] == "3.3.2"
    assert status["render"]["fresh"] is True
    assert any(
        p.startswith(f"127.0.0.1:{lifecycle.postgres_port}->")
        for p in services["postgres"]["ports"]
    )
    if lifecycle.runtime == "compose":  # a new data volume: one `compose up`, nothing read
        assert report["one_shots"] == {
            "skipped": {},
            "ran": {"db-setup": "new data volume", "airflow-init": "new data volume"},
        }
    if lifecycle.runtime == "compose":  # the api-server started ahead, and is even now
        assert "cpu_shares: 8192" in (lifecycle.root / ".tinyctl" / "compose.yaml").read_text()
        assert _cpu_shares(lifecycle)[f"{lifecycle.name}-api-server-1"] == 1024


def test_second_up_changes_nothing(lifecycle: Stack) -> None:
    before = _units(lifecycle)
    report = json.loads(ok(lifecycle.run("up", "--json")).stdout)
    assert report["already_up"] is True
    assert _units(lifecycle) == before, "nothing was recreated or restarted"
    assert "already up" in ok(lifecycle.run("up")).stdout


def test_down_then_up_keeps_the_warehouse(lifecycle: Stack) -> None:
    lifecycle.psql("CREATE TABLE staging.keep_me (id int); INSERT INTO staging.keep_me VALUES (42)")
    ok(lifecycle.run("down"))
    status = _status(lifecycle)
    assert status["state"] == "down"
    assert status["airflow"]["healthy"] is False
    assert "No services running" in ok(lifecycle.run("status")).stdout
    shown = ok(lifecycle.run("up")).stdout
    assert f"127.0.0.1:{lifecycle.airflow_port}->" in shown, "the ports column is filled"
    lines = [line.strip() for line in shown.splitlines()]
    assert "Password:   tinyctl credentials --show-password" in lines, "a command on one line"
    assert "42" in lifecycle.psql("SELECT id FROM staging.keep_me")


def test_a_killed_scheduler_is_reported_and_repaired_by_up(lifecycle: Stack) -> None:
    _kill_scheduler(lifecycle)
    status = _status(lifecycle)
    scheduler = next(s for s in status["services"] if s["name"] == "scheduler")
    assert status["state"] == "degraded", status
    assert scheduler["state"] != "running" or scheduler["health"] != "healthy"
    report = json.loads(ok(lifecycle.run("up", "--json")).stdout)
    assert report["already_up"] is False
    assert _status(lifecycle)["state"] == "up"


def test_restart_logs_and_psql(lifecycle: Stack) -> None:
    ok(lifecycle.run("restart", "triggerer"))
    logs = ok(lifecycle.run("logs", "airflow-init", "--tail", "5")).stdout
    assert logs.strip() and len(logs.strip().splitlines()) <= 5
    assert lifecycle.run("logs", "no-such-service").returncode == 2
    failed = lifecycle.run("psql", "-c", "SELECT * FROM no_such_table")
    assert failed.returncode == 1 and "no_such_table" in failed.stderr
    assert "warehouse" in lifecycle.psql("SELECT current_database()")
    assert "etl" in lifecycle.psql("SELECT current_user")
    ok(lifecycle.run("up"))  # healthy again after the restart


def test_down_volumes_asks_first_and_destroys_the_data(lifecycle: Stack) -> None:
    refused = lifecycle.run("down", "--volumes")  # no terminal to ask on: refuse, change nothing
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert _status(lifecycle)["state"] == "up"
    ok(lifecycle.run("down", "--volumes", "--yes"))
    assert _data_left(lifecycle) == ""
    again = ok(lifecycle.run("up", "--no-deploy"))
    if lifecycle.runtime == "compose":
        assert "db-setup: ran (new data volume)" in again.stdout
    assert "does not exist" in lifecycle.run("psql", "-c", "SELECT id FROM staging.keep_me").stderr


def test_a_timeout_names_the_waiting_service_and_shows_its_log(lifecycle: Stack) -> None:
    """The last test on `lifecycle`: it leaves the stack half-started for the fixture's teardown."""
    ok(lifecycle.run("down"))
    result = lifecycle.run("up", "--timeout", "3", "--no-deploy")
    assert result.returncode == 1
    assert "not healthy after 3 s" in result.stderr
    assert "Last lines of" in result.stderr


def test_a_taken_port_stops_up_before_anything_starts(stack_runtime: str, tmp_path: Path) -> None:
    stack = new_stack(tmp_path, "port", runtime=stack_runtime)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", stack.airflow_port))
        holder.listen()
        result = stack.run("up")
    assert result.returncode == 3, result.stderr
    assert f"127.0.0.1:{stack.airflow_port} (airflow.port) is in use" in result.stderr
    assert f"(pid {os.getpid()})" in result.stderr, "the process holding the port is named"
    assert "Nothing was started" in result.stderr
    assert _units(stack) == {}


@pytest.mark.engine
@pytest.mark.skipif("compose" not in RUNTIMES, reason="TINYCTL_TEST_RUNTIMES excludes compose")
def test_celery_executor_comes_up_with_two_workers_and_runs_the_sample(
    engine: None, tmp_path: Path
) -> None:
    stack = new_stack(
        tmp_path,
        "celery",
        edit=lambda t: t.replace(
            "executor: LocalExecutor", "executor: CeleryExecutor\n  workers: 2"
        ),
    )
    try:
        ok(stack.run("up"))
        status = _status(stack)
        services = {s["name"]: s for s in status["services"]}
        assert {"worker-1", "worker-2", "redis"} <= set(services)
        for name in ("worker-1", "worker-2", "redis", *AIRFLOW_SERVICES):
            assert services[name]["health"] == "healthy", services[name]
        assert status["state"] == "up"
        ok(stack.run("seed"))
        report = json.loads(ok(stack.run("test-etl", "--json")).stdout)
        assert report["ok"] is True
    finally:
        stack.run("down", "--volumes", "--yes")
