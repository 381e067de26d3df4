"""The project lock, with two real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tinyctl

from tinyctl.errors import EnvironmentProblem
from tinyctl.state.lock import ProjectLock

HOLD = """
import sys, time
from tinyctl.state.lock import ProjectLock
lock = ProjectLock(__import__("pathlib").Path(sys.argv[1]), "demo")
lock.acquire(sys.argv[2], wait=0)
print("held", flush=True)
time.sleep(float(sys.argv[3]))
"""


def _holder(file: Path, command: str, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(file), command, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_process_waits_then_names_the_holder(tmp_path: Path) -> None:
    file = tmp_path / ".tinyctl" / "lock"
    holder = _holder(file, "up", 30)
    try:
        started = time.monotonic()
        with pytest.raises(EnvironmentProblem) as caught:
            ProjectLock(file, "demo").acquire("seed", wait=0.5)
        assert time.monotonic() - started >= 0.5
        assert f"`tinyctl up` (pid {holder.pid}" in caught.value.message
        assert "project demo is busy" in caught.value.message
        assert caught.value.exit_code == 3
    finally:
        holder.kill()
        holder.wait()
    # the lock dies with its process: no stale lock
    lock = ProjectLock(file, "demo")
    lock.acquire("seed", wait=0)
    lock.release()


def test_the_waiting_process_gets_the_lock_once_it_is_free(tmp_path: Path) -> None:
    file = tmp_path / "lock"
    holder = _holder(file, "deploy-dags", 0.5)
    lock = ProjectLock(file, "demo")
    lock.acquire("render", wait=10)
    assert lock.held
    holder.wait()
    lock.release()


def test_commands_that_change_the_stack_wait_and_read_only_ones_do_not(project: Path) -> None:
    file = project / ".tinyctl" / "lock"
    holder = _holder(file, "up", 60)
    env = {"TINYCTL_LOCK_WAIT": "0.3"}
    try:
        render = tinyctl("render", cwd=project, env=env)
        assert render.returncode == 3, render.stderr
        assert "tinyctl up" in render.stderr and str(holder.pid) in render.stderr
        assert not (project / ".tinyctl" / "compose.yaml").exists()
        validate = tinyctl("validate", cwd=project, env=env)
        assert validate.returncode == 0, validate.stderr
        check = tinyctl("render", "--check", cwd=project, env=env)
        assert check.returncode == 1 and "busy" not in check.stderr  # stale, not locked out
    finally:
        holder.kill()
        holder.wait()
    assert tinyctl("render", cwd=project, env=env).returncode == 0
    assert os.path.exists(project / ".tinyctl" / "compose.yaml")
