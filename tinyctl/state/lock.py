"""One command at a time per project: an OS file lock (flock) in the state folder.

Commands that change the stack take it; a second one waits a few seconds, then fails naming the
command and process that hold it. Read-only commands (status, logs, validate) never take it.
The lock goes away with its process, so a killed command never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from datetime import datetime
from pathlib import Path

from tinyctl.errors import EnvironmentProblem

DEFAULT_WAIT = 5.0
WAIT_ENV = "TINYCTL_LOCK_WAIT"
POLL = 0.1


class ProjectLock:
    """The lock of one project's state folder, held by this process until `release()` or exit."""

    def __init__(self, file: Path, project: str):
        self.file = file
        self.project = project
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, command: str, *, wait: float = DEFAULT_WAIT) -> None:
        """Take the lock for `command`, waiting up to `wait` seconds; EnvironmentProblem (exit 3)
        naming the holder otherwise. Taking a lock this process already holds is a no-op."""
        if self._fd is not None:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _describe(_read(fd))
                    os.close(fd)
                    raise EnvironmentProblem(
                        f"project {self.project} is busy: {holder} is changing it",
                        hint="Wait for it to finish and run the command again (or stop that process). "
                        "`tinyctl status` and `tinyctl logs` work meanwhile.",
                    ) from None
                time.sleep(POLL)
        record = {"command": command, "pid": os.getpid(), "since": datetime.now().isoformat()}
        # Who holds it is only for the message of a command that waits: on a full disk the lock
        # is held all the same, and the command says what is full where it writes its files.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _read(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(record: dict[str, object]) -> str:
    command, pid = record.get("command"), record.get("pid")
    if not command:
        return "another tinyctl command"
    since = str(record.get("since", ""))[11:19]
    return f"`tinyctl {command}` (pid {pid}" + (f", since {since}" if since else "") + ")"


def wait_seconds(environ: dict[str, str] | os._Environ[str]) -> float:
    """How long a command waits for the lock: TINYCTL_LOCK_WAIT seconds, else 5."""
    try:
        return max(0.0, float(environ.get(WAIT_ENV, DEFAULT_WAIT)))
    except ValueError:
        return DEFAULT_WAIT
