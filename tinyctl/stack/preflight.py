"""Checks run before anything starts: host ports free, enough memory.

The engine check itself belongs to the runtime (`Runtime.check_engine`). Every failure here is
an `EnvironmentProblem` (exit code 3) that names the cause and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinyctl.errors import EnvironmentProblem

GiB = 1024**3


@dataclass(frozen=True)
class PortRequest:
    label: str  # e.g. "airflow.port"
    bind: str
    port: int


def port_free(bind: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if (
                    len(fields) > 9
                    and fields[3] == "0A"
                    and int(fields[1].rsplit(":", 1)[1], 16) == port
                ):
                    inodes.add(fields[9])
    return inodes


def port_holder(port: int) -> str | None:
    """'name (pid N)' of the process listening on `port`, where /proc lets us see it."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fd_dir = Path("/proc", pid, "fd")
        try:
            for fd in os.listdir(fd_dir):
                with contextlib.suppress(OSError):
                    if os.readlink(fd_dir / fd) in targets:
                        name = Path("/proc", pid, "comm").read_text().strip()
                        return f"{name} (pid {pid})"
        except OSError:
            continue
    return None


def check_ports(
    requests: list[PortRequest],
    own_ports: set[int],
    describe: Callable[[int, str | None], str | None] | None = None,
) -> None:
    """Raise one EnvironmentProblem naming every host port that is taken by someone else.

    `describe(port, process)` lets the runtime name the holder better than the OS can (e.g. the
    container and project behind a Docker proxy); see `Runtime.describe_port_holder`.
    """
    taken = []
    for request in requests:
        if request.port in own_ports or port_free(request.bind, request.port):
            continue
        holder = port_holder(request.port)
        if describe is not None:
            holder = describe(request.port, holder) or holder
        taken.append(
            f"{request.bind}:{request.port} ({request.label}) is in use"
            + (f" by {holder}" if holder else "")
        )
    if taken:
        first = requests[0].label if len(taken) == 1 else "the ports"
        raise EnvironmentProblem(
            "a host port the stack needs is already taken"
            if len(taken) == 1
            else "host ports the stack needs are taken",
            details="\n".join(taken),
            hint=f"Stop what holds it, or choose another port in tinyctl.yaml ({first}). Nothing was started.",
        )


def available_memory() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


# Who gives the stack its memory, and how to give it more, by runtime.
MEMORY_HOLDERS = {
    "compose": (
        "the Docker engine",
        "Give Docker more memory (Docker Desktop: Settings > Resources), or use LocalExecutor.",
    ),
    "local": (
        "this machine",
        "Run the stack on a machine with more memory, or lower airflow.config core.parallelism.",
    ),
}


def check_memory(engine_bytes: int, needed_bytes: int, runtime: str = "compose") -> None:
    """`engine_bytes`: the memory the runtime gives the stack (`Runtime.memory_bytes`)."""
    holder, more = MEMORY_HOLDERS.get(runtime, (f"the {runtime} runtime", "Give it more memory."))
    if engine_bytes and engine_bytes < needed_bytes:
        raise EnvironmentProblem(
            f"{holder} has {engine_bytes / GiB:.1f} GiB of memory; the stack needs about {needed_bytes / GiB:.1f} GiB",
            hint=more,
        )
    available = available_memory()
    if available is not None and available < needed_bytes:
        raise EnvironmentProblem(
            f"only {available / GiB:.1f} GiB of memory is available; the stack needs about {needed_bytes / GiB:.1f} GiB",
            hint="Close other programs or stop other stacks (`tinyctl down` in their project), then retry.",
        )


def needed_memory(workers: int) -> int:
    """What the stack uses idle plus headroom for starting and running tasks."""
    return int(1.5 * GiB + workers * 0.5 * GiB)
