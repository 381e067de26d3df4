"""Fault 3 of issue 22: the Docker engine stopped and started again under a running stack.

It stops the machine's own dockerd (every container on it stops), so it runs only in
`make chaos` (marker `chaos`), never beside other stacks. The long-running services have
`restart: unless-stopped`: when the engine is back, Docker starts them again by itself, and
`status` says they are not healthy yet; `up` waits for them (the one-shots are skipped: their
records in the databases still match) with the data of before."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Stack, new_stack, ok
from services import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.stack]

REPO = Path(__file__).resolve().parents[2]
PIDFILE = Path("/var/run/docker.pid")


def _engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def _stop_engine() -> None:
    pid = int(PIDFILE.read_text().strip())
    os.kill(pid, signal.SIGTERM)
    for _ in range(120):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    raise AssertionError("dockerd did not stop within 60 s")


def _start_engine() -> None:
    """The engine as `make engine` starts it (docker/provision-engine.sh)."""
    venv = Path(os.environ.get("VIRTUAL_ENV") or REPO / ".venv")
    subprocess.run([str(REPO / "docker" / "provision-engine.sh"), str(venv)], check=True)
    assert _engine_answers()


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Stack]:
    if os.geteuid() != 0 or not PIDFILE.is_file():
        pytest.skip("stopping the Docker engine needs root and a dockerd started with a pid file")
    stack = new_stack(tmp_path, "er")
    try:
        ok(stack.run("up", "--no-deploy"))
        yield stack
    finally:
        if not _engine_answers():
            _start_engine()
        stack.run("down", "--volumes", "--yes")


def _no_traceback(result: subprocess.CompletedProcess[str]) -> str:
    text = result.stdout + result.stderr
    assert "Traceback" not in text, text
    return text


def test_status_and_commands_tell_the_truth_while_the_engine_is_down_and_up_recovers(
    restartable: Stack,
) -> None:
    stack = restartable
    stack.psql("CREATE TABLE staging.survives (id int); INSERT INTO staging.survives VALUES (7)")
    _stop_engine()
    try:
        for args in (("status",), ("seed",), ("deploy-dags",), ("test-etl",), ("up",)):
            result = stack.run(*args)
            text = _no_traceback(result)
            assert result.returncode == 3, (args, text)
            assert "Docker engine is not reachable" in text, (args, text)
    finally:
        _start_engine()
    status = stack.json("status")
    assert status["state"] != "up", "the services are starting again; status says so"
    assert "Traceback" not in stack.run("seed").stderr
    ok(stack.run("up", "--no-deploy"))
    # the api-server's first requests after a start can take longer than status's 3 s: status
    # says "starting" for that moment (the truth), then "up"
    wait_for(lambda: stack.json("status")["state"] == "up", "status saying up after up", 60)
    assert "7" in stack.psql("SELECT id FROM staging.survives"), "the data came back with it"
