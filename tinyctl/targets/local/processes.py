"""Background processes of the local runtime: started detached (own session), each with a log
file and a pid file, identified on later commands by pid + start time + command line.

A pid file is never trusted blindly: after a reboot or a `kill -9` its pid may be free or
reused by an unrelated process. `alive()` checks that the process with that pid started at the
recorded time (Linux: /proc/<pid>/stat field 22, in clock ticks since boot, plus the boot id)
and runs the recorded command line; otherwise the pid file is stale.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tinyctl.state.fsutil import write_atomic

PROC = Path("/proc")


def _boot_id() -> str:
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot), or None if there is no such process."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])  # field 22 overall


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        if sys.platform == "darwin":  # no /proc: ask ps (the start time is not compared there)
            out = subprocess.run(
                ["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True
            ).stdout.strip()
            return out.split() if out else None
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def state_letter(pid: int) -> str | None:
    """A process's state letter (R, S, Z: a zombie, X: dead), None when there is none."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[0]


@dataclass(frozen=True)
class ProcessRecord:
    """What a pid file holds."""

    name: str
    pid: int
    argv: list[str]
    start_ticks: int | None
    boot_id: str
    started_at: float
    config: str = ""  # digest of argv + environment: a change means "restart it"
    stop_signal: int = signal.SIGTERM
    extra: dict[str, str] = field(default_factory=dict)
    # A word its title shows once the process rewrites it (setproctitle): Airflow's components,
    # started as `python airflow_run.py scheduler`, show as "airflow scheduler".
    title: str = ""

    def to_json(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def read(cls, path: Path) -> ProcessRecord | None:
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


def same_process(record: ProcessRecord) -> bool:
    """Whether the pid in the record is still the process that was started (not a reused pid)."""
    if record.boot_id and _boot_id() and record.boot_id != _boot_id():
        return False  # the machine rebooted since
    if state_letter(record.pid) in ("Z", "X"):
        return False  # a zombie is dead, whoever reaps it
    if PROC.is_dir():
        ticks = start_ticks(record.pid)
        if ticks is None or (record.start_ticks is not None and ticks != record.start_ticks):
            return False
    line = cmdline(record.pid)
    if not line:
        return False
    # A process may rewrite its title (postgres, setproctitle in Airflow): with the start time
    # matching, it is enough that the program's name still shows in it.
    shown = " ".join(line)
    return (
        Path(record.argv[0]).name in shown
        or (len(record.argv) > 1 and record.argv[1] in shown)
        or bool(record.title and record.title in shown)
    )


def read_live(pid_file: Path) -> ProcessRecord | None:
    """The record of a live process, or None (and a stale pid file is removed)."""
    record = ProcessRecord.read(pid_file)
    if record is None:
        if pid_file.exists():
            pid_file.unlink(missing_ok=True)
        return None
    if same_process(record):
        return record
    pid_file.unlink(missing_ok=True)
    return None


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_file: Path,
    pid_file: Path,
    config: str = "",
    user: int | None = None,
    group: int | None = None,
    stop_signal: int = signal.SIGTERM,
    extra: Mapping[str, str] | None = None,
    title: str = "",
) -> ProcessRecord:
    """Start argv detached from tinyctl (new session, stdin from /dev/null, output appended to
    log_file) and record it in pid_file (with `extra`: who started it; `title`: a word its
    rewritten process title shows, see ProcessRecord)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        log.write(
            f"--- tinyctl: starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode()
        )
        log.flush()
        kwargs: dict = {}
        if user is not None:
            kwargs.update(user=user, group=group, extra_groups=[])
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            **kwargs,
        )
    # tinyctl may exit long before the process does; nobody waits for it but init after that.
    process.returncode = 0  # keep Popen.__del__ from warning about a child still running
    record = ProcessRecord(
        name=name,
        pid=process.pid,
        argv=list(argv),
        start_ticks=start_ticks(process.pid),
        boot_id=_boot_id(),
        started_at=time.time(),
        config=config,
        stop_signal=int(stop_signal),
        extra=dict(extra or {}),
        title=title,
    )
    write_atomic(pid_file, record.to_json())
    return record


def _reap(pid: int) -> None:
    """Collect the exit status of our own child, if it is one (no zombie left behind)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _signal_group(record: ProcessRecord, sig: int) -> None:
    """Signal the process's session (it leads its own group: children such as the scheduler's
    workers get the signal too); fall back to the process alone."""
    try:
        os.killpg(record.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, sig)


def stop(record: ProcessRecord, *, timeout: float = 20.0) -> bool:
    """Stop gracefully (the record's stop signal), then SIGKILL after timeout. True if it had to be
    killed."""
    if not same_process(record):
        return False
    _signal_group(record, record.stop_signal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not same_process(record):
            return False
        time.sleep(0.05)
    _signal_group(record, signal.SIGKILL)
    for _ in range(100):
        _reap(record.pid)
        if not same_process(record):
            break
        time.sleep(0.05)
    return True


def group_members(pid: int) -> list[int]:
    """Pids in the session led by pid (the process and the children it forked)."""
    members = []
    for entry in PROC.glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == pid:  # session id (field 6)
            members.append(int(entry.name))
    return members


def pss_bytes(pids: Sequence[int]) -> int:
    """Proportional memory of these processes (shared pages split among their users)."""
    total = 0
    for pid in pids:
        try:
            for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total
