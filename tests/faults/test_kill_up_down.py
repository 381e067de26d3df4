"""`up` and `down` killed (SIGKILL) and interrupted (Ctrl-C) at every point, on the shared live
stack (issue 22, items 1 and 2).

Their worlds follow each other (down's new world is up's old one), so their points alternate:
down killed, down run again (the stack is down), up killed, up run again (the stack is up and
healthy). After each kill: the lock is free, every file of the state folder is whole, the
render is current, and `tinyctl status` names exactly the services that run, as the engine
(or, on the local runtime, the machine's process table) sees them. The stack is left up.

The default run tries one point of each, one with SIGKILL and one with Ctrl-C, drawn by
CHAOS_SEED; `make chaos` the whole sweep with both signals, on both runtimes.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from pathlib import Path

import pytest
from conftest import Stack, ok
from faultkit import SEED, SWEEPS, Killed, Point
from sweep import Scenario, run_interleaved

from tinyctl.render import render_status

pytestmark = pytest.mark.stack

SERVICES = ("postgres", "api-server", "scheduler", "dag-processor", "triggerer")
VOLATILE = ("cache/", "local/", "runtime.json", "applied-settings.json")


def _compose_running(stack: Stack) -> set[str]:
    out = subprocess.run(
        [
            "docker",
            "ps",
            "--filter",
            f"label=com.docker.compose.project={stack.name}",
            "--format",
            '{{.Label "com.docker.compose.service"}}',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.strip() for line in out.splitlines() if line.strip() in SERVICES}


def _local_running(stack: Stack) -> set[str]:
    """Session leaders (each service is one) working in the stack's local folder, or in its
    Postgres cluster (root's cluster lives under /var/lib/tinyctl when the state folder is
    closed to the server's user: the postmaster works in its data folder)."""
    local = (stack.root / ".tinyctl" / "local").resolve()
    cluster = (stack.root / ".tinyctl" / "local" / "postgres").resolve()
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] in ("Z", "X") or int(fields[3]) != int(entry.name):
                continue
            cwd = Path(entry / "cwd").resolve()
            if not (cwd.is_relative_to(local) or cwd.is_relative_to(cluster)):
                continue
            line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        words = line.replace("_", "-")
        if "postgres" in line.split(" ", 1)[0]:
            found.add("postgres")
        for service in SERVICES[1:]:
            if service in words:
                found.add(service)
    return found


def _status_running(stack: Stack) -> set[str] | str:
    result = stack.run("status", "--json")
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return f"status --json printed no JSON (exit {result.returncode}): {result.stderr[-600:]}"
    return {s["service"] for s in data.get("services", []) if s["state"] == "running"} & set(
        SERVICES
    )


def _status_tells_truth(stack: Stack, point: Point) -> None:
    """`status` names what runs: the same services as the engine or the process table."""
    truth = _compose_running if stack.runtime == "compose" else _local_running
    for _attempt in range(4):  # a crashing or restarting service may change between the looks
        said, seen = _status_running(stack), truth(stack)
        if said == seen:
            return
        time.sleep(1.0)
    point.fail(f"status says {said} run, but {sorted(seen)} do")


def _signals(sweep: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(down's signals, up's): both in the whole sweep; in the sample, one each, different,
    drawn by seed."""
    if sweep == "full":
        return ("SIGKILL", "SIGINT"), ("SIGKILL", "SIGINT")
    first = random.Random(f"{SEED}:up-down").choice(("SIGKILL", "SIGINT"))
    other = "SIGINT" if first == "SIGKILL" else "SIGKILL"
    return (first,), (other,)


@pytest.mark.parametrize("sweep", SWEEPS)
def test_up_and_down_killed_at_every_point(live_stack: Stack, sweep: str) -> None:
    stack = live_stack
    state = stack.root / ".tinyctl"

    def check(killed: Killed, point: Point) -> None:
        _status_tells_truth(stack, point)
        status = render_status(stack.project())
        if not status.fresh:
            point.fail(f"the render is not current: {status.reasons}")

    def after_up(point: Point) -> None:
        if _status_running(stack) != set(SERVICES):
            point.fail(f"up run again left {_status_running(stack)} running")

    def after_down(point: Point) -> None:
        running = _status_running(stack)
        if running:
            point.fail(f"down run again left {running} running")

    def ensure_up() -> None:
        ok(stack.run("up"))

    def ensure_down() -> None:
        ok(stack.run("down"))

    down_signals, up_signals = _signals(sweep)
    volatile = lambda name: name.startswith(VOLATILE)  # noqa: E731
    common = dict(cwd=stack.root, env=stack.env, state_dir=state, check=check, volatile=volatile)
    down = Scenario(
        f"down ({stack.runtime})",
        ("down",),
        reset=ensure_up,
        after_rerun=after_down,
        signals=down_signals,
        **common,
    )
    up = Scenario(
        f"up ({stack.runtime})",
        ("up",),
        reset=ensure_down,
        after_rerun=after_up,
        signals=up_signals,
        **common,
    )
    try:
        run_interleaved([down, up], sweep)
    finally:
        ok(stack.run("up"))
