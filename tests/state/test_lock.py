"""The project lock, with two real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import STACK_ENV, tinyctl

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


RELEASE_ON_STDIN = """
import sys
from tinyctl.state.lock import ProjectLock
lock = ProjectLock(__import__("pathlib").Path(sys.argv[1]), "demo")
lock.acquire(sys.argv[2], wait=0)
print("held", flush=True)
sys.stdin.readline()
"""


def _holder_until_told(file: Path, command: str) -> subprocess.Popen[str]:
    """A process holding the project's lock as `command` until a line arrives on its stdin."""
    process = subprocess.Popen(
        [sys.executable, "-c", RELEASE_ON_STDIN, str(file), command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def _state(project: Path) -> dict[str, bytes]:
    folder = project / ".tinyctl"
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


@pytest.mark.parametrize(
    ("holding", "second"),
    [
        ("down", ["up", "--no-deploy"]),
        ("up", ["down", "--volumes", "--yes"]),
        ("deploy-dags", ["test-etl"]),
        ("test-etl", ["deploy-dags"]),
        ("seed", ["seed"]),
        ("sync-settings", ["seed"]),
    ],
)
def test_two_people_at_once_are_refused_naming_the_holder(
    project: Path, holding: str, second: list[str]
) -> None:
    """While one command changes the stack, another is refused before it changes anything."""
    assert tinyctl("render", cwd=project).returncode == 0
    before = _state(project)
    holder = _holder_until_told(project / ".tinyctl" / "lock", holding)
    try:
        result = tinyctl(*second, cwd=project, env={"TINYCTL_LOCK_WAIT": "0"})
        assert result.returncode == 3, result.stderr
        assert "project demo is busy" in result.stderr
        assert f"`tinyctl {holding}` (pid {holder.pid}" in result.stderr
        assert _state(project) == before, "nothing changed while another command held the lock"
    finally:
        holder.communicate("done\n")


@pytest.mark.parametrize("second", [["seed"], ["test-etl"], ["deploy-dags"]])
def test_a_waiting_command_runs_after_the_holder_not_beside_it(
    project: Path, second: list[str]
) -> None:
    """With time to wait, the second command gets the lock once the first lets go, and runs then
    (here it goes on to find no stack: exit 3, `is not up`, never `busy`)."""
    assert tinyctl("render", cwd=project).returncode == 0
    holder = _holder_until_told(project / ".tinyctl" / "lock", "seed")
    waiting = subprocess.Popen(
        [sys.executable, "-m", "tinyctl", *second],
        cwd=project,
        env={**os.environ, **STACK_ENV, "TINYCTL_LOCK_WAIT": "600", "TINYCTL_WIDTH": "2000"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    holder.communicate("done\n")
    _out, err = waiting.communicate()
    assert waiting.returncode == 3, err
    assert "busy" not in err and "is not up" in err, err
