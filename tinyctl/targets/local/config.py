"""Ports the local stack chooses for itself: each project gets its own free ports for the
Airflow components' internal servers (the scheduler's health check, the log servers), so that
two local stacks on one machine do not clash. Everything else the local processes are told comes
from the plan (`tinyctl.targets.local.render`).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tinyctl.plan.build import INTERNAL_PORTS as PLANNED
from tinyctl.plan.values import Port
from tinyctl.state.fsutil import write_atomic

INTERNAL_PORTS = tuple(internal.port for internal in PLANNED)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def internal_ports(path: Path, *, in_use_by_us: bool) -> dict[Port, int]:
    """Ports for the scheduler's health server and the log servers: chosen once, kept while
    free (or while our own stack holds them), re-chosen when something else took one."""
    try:
        ports = {
            Port(k): int(v) for k, v in json.loads(path.read_text()).items() if k in INTERNAL_PORTS
        }
    except (OSError, ValueError):
        ports = {}
    changed = False
    for name in INTERNAL_PORTS:
        if name not in ports or not (in_use_by_us or _port_free(ports[name])):
            ports[name] = _free_port()
            changed = True
    if changed:
        data = {str(k): v for k, v in ports.items()}
        write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    return ports
