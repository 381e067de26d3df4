"""One kill sweep: a scenario (a command, its old and new world) signalled at every point.

A scenario brings the world to its old version and the command's inputs to the new one
(`reset`), says what must hold after a kill (`check`) and after the command ran again
(`after_rerun`). `run_sweep` times one clean run (what it leaves in the state folder is the
new version), then for each signal and kill point: reset (what the state folder holds then is
the old version), start the command, signal it, check the guarantees every command shares
(the lock is free; after Ctrl-C exit 130 and no traceback; every file of the state folder its
whole old or whole new version), the scenario's own, run the command again (it must succeed,
leaving no temporary file behind), and tally the point.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from faultkit import (
    SEED,
    Killed,
    Point,
    assert_all_recovered,
    check_exit,
    compare_files,
    kill_points,
    lock_free,
    no_temp_files,
    record,
    run_killed,
    snapshot,
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
    # The state folder is checked file by file (whole old or whole new version) unless False;
    # a volatile file (a pid record, a cache) need only be whole.
    compare_state: bool = True
    volatile: Callable[[str], bool] = lambda _name: False
    signals: tuple[str, ...] = ("SIGKILL", "SIGINT")
    sample_one: bool = False  # the default run's sample tries one signal only (see `plan`)
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


def measure(scenario: Scenario) -> tuple[float, dict[str, bytes]]:
    """One clean run from the old world: its length, and the new version it leaves."""
    scenario.reset()
    duration = timed(lambda: scenario.run(*scenario.args))
    scenario.after_clean_run()
    return duration, snapshot(scenario.state_dir)


def try_point(scenario: Scenario, sig: str, delay: float, new: dict[str, bytes]) -> None:
    """Reset, signal the command at `delay`, check every guarantee, run it again, tally."""
    fault = f"{sig} {scenario.name}"
    scenario.reset()
    old = snapshot(scenario.state_dir)
    killed = run_killed(scenario.args, cwd=scenario.cwd, env=scenario.env, delay=delay, sig=sig)
    point = Point(f"{fault}@{delay}s", landed=killed.landed)
    if not lock_free(scenario.state_dir):
        point.fail("the lock is still held after the command ended")
    check_exit(killed, point)
    if scenario.compare_state:
        now = snapshot(scenario.state_dir)
        compare_files(
            now, old, new, point, where=scenario.state_dir.name, volatile=scenario.volatile
        )
    scenario.check(killed, point)
    again = scenario.run(*(scenario.rerun_args or scenario.args))
    if again.returncode != 0:
        point.fail(
            f"the command run again exited {again.returncode}:\n"
            f"{again.stdout[-1500:]}\n{again.stderr[-1500:]}"
        )
    else:
        scenario.after_rerun(point)
        no_temp_files(scenario.state_dir, point, scenario.state_dir.name)
    if not point.ok:
        point.fail("the killed run: " + killed.describe(tail=800))
    record(fault, point)


def plan(scenario: Scenario, duration: float, sweep: str) -> list[tuple[str, float]]:
    """(signal, delay) of every point to try, signal by signal. A scenario that costs a stack
    start or a DAG run per point (`sample_one`) tries one signal in the sample, drawn by seed."""
    signals = scenario.signals
    if sweep == "sample" and scenario.sample_one:
        signals = (random.Random(f"{SEED}:{scenario.name}").choice(signals),)
    return [
        (sig, delay)
        for sig in signals
        for delay in kill_points(duration, sweep, f"{sig} {scenario.name}")
    ]


def _assert_tried(points: list[tuple[str, float]], scenario: Scenario) -> None:
    for sig in dict.fromkeys(sig for sig, _delay in points):
        assert_all_recovered(f"{sig} {scenario.name}")


def run_sweep(scenario: Scenario, sweep: str) -> None:
    duration, new = measure(scenario)
    points = plan(scenario, duration, sweep)
    for sig, delay in points:
        try_point(scenario, sig, delay, new)
    _assert_tried(points, scenario)


def run_interleaved(scenarios: list[Scenario], sweep: str) -> None:
    """Sweeps whose worlds follow each other (down leaves the old world of up, up that of
    down): their points alternate, so each reset is the previous command run again."""
    plans = []
    for scenario in scenarios:
        duration, new = measure(scenario)
        plans.append((scenario, new, plan(scenario, duration, sweep)))
    for i in range(max(len(p) for _s, _n, p in plans)):
        for scenario, new, points in plans:
            if i < len(points):
                try_point(scenario, *points[i], new)
    for scenario, _new, points in plans:
        _assert_tried(points, scenario)
