"""The fault suite's kit: seeded kill points, a command killed at one of them, the guarantees
checked after it, and the tally every fault reports (points tried, recovered, lost).

Kill points. A command is first run once cleanly and timed; its points are 0.1 s, 0.2 s, ...
up to that time (CHAOS_STEP). The default run (`make test`) tries SAMPLE points per command
and signal (one signal only, drawn too, for the commands whose every point costs a DAG run or
a stack start), drawn with CHAOS_SEED; `make chaos` tries them all, or CHAOS_MAX_POINTS of
them spread over the whole run (one drawn from each equal slice) when there are more. The same seed
draws the same points: CHAOS_SEED=<seed> replays a run, CHAOS_POINTS=1.3,2.0 tries exactly
those delays. A kill lands at the same delay on a replay, not necessarily at the same line
of code: a loaded machine moves the command along more slowly.

Signals. SIGKILL goes to the tinyctl process alone (`kill -9 PID`: its children live on);
SIGINT goes to its whole process group, as Ctrl-C in a terminal does.

The tally. Each point is `recovered` when every guarantee held and the command run again
succeeded; `lost` when data was lost or torn (a file neither its old nor its new version, a
table holding neither its old nor its new rows). `landed` counts the points where the signal
arrived while the command still ran (later ones found it finished: nothing to recover from).
The summary prints one table (tests/conftest.py's pytest_terminal_summary) and, with
CHAOS_REPORT=<file>, writes it as JSON.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import sigint_as_in_a_terminal

SEED = int(os.environ.get("CHAOS_SEED", "22"))
STEP = float(os.environ.get("CHAOS_STEP", "0.1"))
MAX_POINTS = int(os.environ.get("CHAOS_MAX_POINTS", "6"))
SAMPLE = 1  # points per command and signal in the default run
# Every failed point, in full, as it happens (a sweep's assertion shows them at its end).
FAILURES = Path(
    os.environ.get("CHAOS_FAILURES", Path(tempfile.gettempdir()) / "chaos-failures.log")
)
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGINT": signal.SIGINT}
# The sweep's two sizes: a seeded sample in every run, the whole sweep only in `make chaos`.
SWEEPS = [
    pytest.param("sample", id="sample"),
    pytest.param("full", id="full", marks=pytest.mark.chaos),
]
# Seconds a command gets to end by itself after Ctrl-C (up cancels a start, down finishes).
INTERRUPT_GRACE = 120.0


# --------------------------------------------------------------------------- kill points


def kill_points(duration: float, sweep: str, key: str) -> list[float]:
    """The delays (seconds after start) to signal the command at: see the module docstring."""
    explicit = os.environ.get("CHAOS_POINTS")
    if explicit:
        return [float(p) for p in explicit.split(",") if p.strip()]
    grid = [round(STEP * i, 3) for i in range(1, max(1, math.ceil(duration / STEP)) + 1)]
    rng = random.Random(f"{SEED}:{key}")
    wanted = SAMPLE if sweep == "sample" else MAX_POINTS
    if len(grid) <= wanted:
        return grid
    # one point drawn from each of `wanted` equal slices: early, middle and late phases all hit
    slices = [grid[i * len(grid) // wanted : (i + 1) * len(grid) // wanted] for i in range(wanted)]
    return sorted(rng.choice(part) for part in slices if part)


# --------------------------------------------------------------------------- a killed command


@dataclass
class Killed:
    """A command signalled at `delay`: how it ended."""

    argv: list[str]
    delay: float
    signal: str
    returncode: int
    stdout: str
    stderr: str
    landed: bool  # the signal found it running
    seconds: float

    def describe(self, tail: int = 3000) -> str:
        return (
            f"{' '.join(self.argv)} ({self.signal} at {self.delay:.2f}s, exit {self.returncode})\n"
            f"stdout:\n{self.stdout[-tail:]}\nstderr:\n{self.stderr[-tail:]}"
        )


def tinyctl_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "tinyctl", *args]


def run_killed(
    args: Iterable[str], *, cwd: Path, env: Mapping[str, str], delay: float, sig: str
) -> Killed:
    """Start `tinyctl ARGS` in its own process group, signal it `delay` seconds later, and wait
    until it ended (a SIGINT is given INTERRUPT_GRACE to end by itself; a hang is reported).
    Children a SIGKILL orphaned are waited for (then killed) before this returns, so one point
    never runs into the next."""
    argv = tinyctl_argv(*args)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            preexec_fn=sigint_as_in_a_terminal,
        )
        landed = False
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            landed = True
            if sig == "SIGKILL":
                os.kill(process.pid, signal.SIGKILL)
            else:
                os.killpg(process.pid, SIGNALS[sig])
            try:
                process.wait(timeout=INTERRUPT_GRACE)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                err.write(b"\n[faultkit] the command did not end after Ctrl-C: killed\n")
        seconds = time.monotonic() - started
        drain_group(process.pid)
        out.seek(0)
        err.seek(0)
        return Killed(
            argv[3:],
            delay,
            sig,
            process.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            landed,
            seconds,
        )


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def drain_group(pgid: int, wait: float = 60.0) -> None:
    """Wait for what is left of a process group (children of a killed command), then kill it."""
    deadline = time.monotonic() + wait
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def timed(run: Callable[[], subprocess.CompletedProcess[str]]) -> float:
    """Seconds a clean run takes (it must succeed): the length of the sweep."""
    started = time.monotonic()
    result = run()
    assert result.returncode == 0, f"the clean run failed:\n{result.stdout}\n{result.stderr}"
    return time.monotonic() - started


# --------------------------------------------------------------------------- the tally


@dataclass
class Tally:
    fault: str
    tried: int = 0
    landed: int = 0
    recovered: int = 0
    lost: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "fault": self.fault,
            "tried": self.tried,
            "landed": self.landed,
            "recovered": self.recovered,
            "lost": self.lost,
        }


TALLIES: dict[str, Tally] = {}


def tally(fault: str) -> Tally:
    return TALLIES.setdefault(fault, Tally(fault))


@dataclass
class Point:
    """What one kill point found: problems (a guarantee that did not hold) and losses (data)."""

    label: str
    landed: bool = True
    problems: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def lose(self, message: str) -> None:
        self.lost.append(message)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.lost


def record(fault: str, point: Point) -> None:
    entry = tally(fault)
    entry.tried += 1
    entry.landed += point.landed
    entry.recovered += point.ok
    entry.lost += bool(point.lost)
    if not point.ok:
        entry.failures.append(
            f"{point.label}: "
            + "; ".join(point.lost + point.problems)
            + f"  (replay: CHAOS_SEED={SEED} CHAOS_POINTS={point.label.rsplit('@', 1)[-1].rstrip('s')})"
        )
        with open(FAILURES, "a", encoding="utf-8") as log:  # the whole story, for a replay
            log.write(f"==== {time.strftime('%H:%M:%S')} {entry.failures[-1]}\n")


def assert_all_recovered(fault: str) -> None:
    entry = tally(fault)
    assert entry.tried, f"{fault}: no point was tried"
    assert not entry.failures, (
        f"{fault}: {len(entry.failures)} of {entry.tried} points failed:\n"
        + ("\n".join(entry.failures))
    )


def report_rows() -> list[dict[str, object]]:
    return [t.as_dict() for t in TALLIES.values()]


def summary_lines() -> list[str]:
    rows = report_rows()
    if not rows:
        return []
    width = max(len(str(r["fault"])) for r in rows)
    head = f"{'fault':<{width}}  {'tried':>5}  {'landed':>6}  {'recovered':>9}  {'lost':>4}"
    lines = [f"faults (CHAOS_SEED={SEED}, step {STEP}s, at most {MAX_POINTS} points)", head]
    lines += [
        f"{r['fault']:<{width}}  {r['tried']:>5}  {r['landed']:>6}  {r['recovered']:>9}  {r['lost']:>4}"
        for r in rows
    ]
    return lines


def write_report(path: Path) -> None:
    data = {"seed": SEED, "step": STEP, "max_points": MAX_POINTS, "faults": report_rows()}
    path.write_text(json.dumps(data, indent=2) + "\n")


# --------------------------------------------------------------------------- the guarantees


def lock_free(state_dir: Path) -> bool:
    """Nobody holds the project's lock (a killed command never leaves it behind)."""
    file = state_dir / "lock"
    if not file.exists():
        return True
    fd = os.open(file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


# What changes under a running stack whatever the command (logs, the database's own files, the
# lock), or is a database with its own crash safety (the run history: checked by SQLite).
SKIPPED = ("lock", "logs/", "local/postgres/", "local/logs/", "local/airflow-home/logs/")


def is_temp(name: str) -> bool:
    """An atomic write's temporary file (tinyctl.state.fsutil): `.NAME.<...>.tmp`."""
    return Path(name).name.startswith(".") and name.endswith(".tmp")


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (state folder: without SKIPPED), by name relative to it."""
    files: dict[str, bytes] = {}
    if not root.is_dir():
        return files
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if "__pycache__" in rel or rel.startswith(SKIPPED) or rel.startswith("history.sqlite"):
            continue
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                files[rel] = path.read_bytes()
    return files


def whole_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def compare_files(
    now: Mapping[str, bytes],
    old: Mapping[str, bytes],
    new: Mapping[str, bytes],
    point: Point,
    *,
    where: str,
    volatile: Callable[[str], bool] = lambda _name: False,
) -> None:
    """Every file is its whole old or whole new version (or absent where one version has none);
    a `volatile` file (a pid record, ...) need only be whole. Atomic writes' temporary files
    are garbage, not torn files: reported by `no_temp_files` after the command ran again."""
    for name, data in now.items():
        if is_temp(name):
            continue
        if volatile(name):
            if name.endswith((".json", ".pid")) and not whole_json(data):
                point.lose(f"{where}/{name} is torn (not whole JSON)")
            continue
        if data != old.get(name) and data != new.get(name):
            point.lose(f"{where}/{name} is neither its old nor its new version")
    for name in set(old) & set(new):
        if name not in now and not volatile(name):
            point.lose(f"{where}/{name} is missing (both versions have it)")


def no_temp_files(root: Path, point: Point, where: str) -> None:
    left = [n for n in snapshot(root) if is_temp(n)]
    if left:
        point.fail(f"temporary files left in {where} after the command ran again: {left[:5]}")


def sqlite_whole(file: Path, point: Point) -> None:
    if not file.exists():
        return
    with contextlib.closing(sqlite3.connect(file)) as db:
        verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
    if verdict != "ok":
        point.lose(f"{file.name} fails SQLite's integrity check: {verdict}")


def check_exit(killed: Killed, point: Point) -> None:
    """SIGINT: exit 130 and a message, not a traceback (0 when it had finished already)."""
    if killed.signal == "SIGINT":
        # 0 also when the signal landed: the work was done and the command was ending; ended
        # by SIGINT itself is what a shell shows as 130 too (before tinyctl's code ran).
        if killed.returncode not in ((130, -signal.SIGINT, 0) if killed.landed else (0,)):
            point.fail(f"exit {killed.returncode} after Ctrl-C, not 130")
        if "Traceback" in killed.stderr:
            point.fail("a traceback after Ctrl-C:\n" + killed.stderr[-1500:])


# --------------------------------------------------------------------------- full disks

FILLER = "zz-chaos-filler"


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *, owner: int | None = None):
    """A small tmpfs mounted at `path` (root only: `mount -t tmpfs -o size=SIZE`), unmounted
    afterwards (lazily, should a process still hold a file open in it)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        if owner is not None:
            os.chown(path, owner, -1)
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path, *, leave: int = 0) -> Path:
    """Fill the file system holding `folder` until at most `leave` bytes are free; the filler
    file (delete it to free the space)."""
    filler = folder / FILLER
    with open(filler, "ab") as handle:
        while True:
            info = os.statvfs(folder)
            free = info.f_bavail * info.f_frsize
            if free <= leave:
                break
            try:
                handle.write(b"\0" * min(free - leave, 1 << 20))
                handle.flush()
            except OSError:
                break
    return filler


def can_mount() -> bool:
    return os.geteuid() == 0 and bool(shutil.which("mount"))
