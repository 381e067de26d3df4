"""One kill sweep: a scenario (a command, its old and new world) signalled at every point.

A scenario brings the world to its old version and the command's inputs to the new one
(`reset`), says what must hold after a kill (`check`) and after the command ran again
(`after_rerun`). `run_sweep` times one clean run, then for each signal and kill point: reset,
start the command, signal it, check the guarantees every command shares (the lock is free;
after Ctrl-C exit 130 and no traceback), the scenario's own, run the command again (it must
succeed), and tally the point.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from faultkit import (
    Killed,
    Point,
    assert_all_recovered,
    check_exit,
    kill_points,
    lock_free,
    record,
    run_killed,
    timed,
)


@dataclass
class Scenario:
    name: str  # the fault's name in the tally, e.g. "render" or "seed (local)"
    args: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    state_dir: Path
    reset: Callable[[], None]
    check: Callable[[Killed, Point], None] = lambda _k, _p: None
    after_rerun: Callable[[Point], None] = lambda _p: None
    after_clean_run: Callable[[], None] = lambda: None  # e.g. take the new version's snapshot
    rerun_args: tuple[str, ...] | None = None  # default: the same command
    signals: tuple[str, ...] = ("SIGKILL", "SIGINT")
    timeout: float = 900
    extra: dict[str, object] = field(default_factory=dict)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tinyctl", *args],
            cwd=self.cwd,
            env=dict(self.env),
            capture_output=True,
            text=True,
            timeout=self.timeout,
        )


def run_sweep(scenario: Scenario, sweep: str) -> None:
    scenario.reset()
    duration = timed(lambda: scenario.run(*scenario.args))
    scenario.after_clean_run()
    faults = []
    for sig in scenario.signals:
        fault = f"{sig} {scenario.name}"
        faults.append(fault)
        for delay in kill_points(duration, sweep, fault):
            scenario.reset()
            killed = run_killed(
                scenario.args, cwd=scenario.cwd, env=scenario.env, delay=delay, sig=sig
            )
            point = Point(f"{fault}@{delay}s", landed=killed.landed)
            if not lock_free(scenario.state_dir):
                point.fail("the lock is still held after the command ended")
            check_exit(killed, point)
            scenario.check(killed, point)
            again = scenario.run(*(scenario.rerun_args or scenario.args))
            if again.returncode != 0:
                point.fail(
                    f"the command run again exited {again.returncode}:\n"
                    f"{again.stdout[-1500:]}\n{again.stderr[-1500:]}"
                )
            else:
                scenario.after_rerun(point)
            if not point.ok:
                point.fail("the killed run: " + killed.describe(tail=800))
            record(fault, point)
    for fault in faults:
        assert_all_recovered(fault)
