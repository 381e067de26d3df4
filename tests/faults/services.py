"""A service of a live stack killed from outside, as the kernel or a person would: the container
killed (`docker kill`: SIGKILL to all its processes), or on the local runtime the service's
process and every process below it (a postmaster and its backends, a scheduler and its task
processes), as a container's end would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from conftest import Stack


def container_of(stack: Stack, service: str) -> str:
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-q",
            "--filter",
            f"label=com.docker.compose.project={stack.name}",
            "--filter",
            f"label=com.docker.compose.service={service}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out, f"no running {service} container in {stack.name}"
    return out[0]


def kill_service(stack: Stack, service: str) -> None:
    if stack.runtime == "compose":
        subprocess.run(
            ["docker", "kill", container_of(stack, service)], check=True, capture_output=True
        )
        return
    record = json.loads((stack.root / ".tinyctl" / "local" / "run" / f"{service}.pid").read_text())
    for pid in [record["pid"], *descendants(record["pid"])]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (a postmaster's backends call setsid: not in its group)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    """Poll `condition` until it holds (a hang guard, not a time assertion: it only fails a
    test whose event never comes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


def start(stack: Stack, *args: str, out: Path) -> subprocess.Popen[str]:
    """`tinyctl ARGS` started in the background, its output into `out` (.stdout / .stderr)."""
    return subprocess.Popen(
        [os.sys.executable, "-m", "tinyctl", *args],
        cwd=stack.root,
        env=stack.env,
        stdout=out.with_suffix(".stdout").open("w"),
        stderr=out.with_suffix(".stderr").open("w"),
        text=True,
    )


def output_of(out: Path) -> tuple[str, str]:
    return out.with_suffix(".stdout").read_text(), out.with_suffix(".stderr").read_text()


def running_run(stack: Stack, dag_id: str) -> str | None:
    """The id of a running run of `dag_id`, if there is one."""
    with stack.client() as client:
        response = client._request(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns",
            params={"state": "running", "limit": 5},
        )
    runs = response.json().get("dag_runs", []) if response is not None else []
    return runs[0]["dag_run_id"] if runs else None


def running_task(stack: Stack, dag_id: str, run_id: str) -> bool:
    with stack.client() as client:
        return any(t.state == "running" for t in client.task_instances(dag_id, run_id))


def bring_back(stack: Stack) -> None:
    """`up` until the stack is healthy again (the killed service restarted)."""
    result = stack.run("up")
    assert result.returncode == 0, (
        f"up did not bring the stack back:\n{result.stdout}\n{result.stderr}"
    )
