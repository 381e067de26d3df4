"""The machine's local stacks, so that `init` can avoid the ports of stopped ones too.

Compose stacks are found through their resources' labels; local stacks leave nothing in a
daemon, so each one that starts records itself in the shared cache
(`<cache>/local-projects/<project id>.json`: folder and ports) and `down --volumes` removes it.
An entry whose folder no longer holds that project (deleted, or a copy's new id) is ignored
and dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from tinyctl.state.fsutil import write_atomic
from tinyctl.state.identity import Identity
from tinyctl.state.layout import StateLayout
from tinyctl.targets.local.venv import cache_root

FOLDER = "local-projects"


def _entry(environ: Mapping[str, str], project_id: str) -> Path:
    return cache_root(environ) / FOLDER / f"{project_id}.json"


def remember(
    environ: Mapping[str, str], project_id: str, state_dir: Path, ports: list[int]
) -> None:
    """Record (or update) this project's local stack; a no-op without an identity."""
    if not project_id:
        return
    data = {"state_dir": str(state_dir), "ports": sorted(set(ports))}
    path = _entry(environ, project_id)
    try:
        if json.loads(path.read_text()) == data:
            return
    except (OSError, ValueError):
        pass
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


def forget(environ: Mapping[str, str], project_id: str) -> None:
    if project_id:
        _entry(environ, project_id).unlink(missing_ok=True)


def ports_in_use(environ: Mapping[str, str]) -> set[int]:
    """Ports of every local stack recorded on this machine whose folder still holds it."""
    ports: set[int] = set()
    for path in sorted((cache_root(environ) / FOLDER).glob("*.json")):
        try:
            data = json.loads(path.read_text())
            state_dir = Path(data["state_dir"])
            listed = [int(p) for p in data["ports"]]
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        identity = Identity.read(state_dir / StateLayout.IDENTITY)
        if identity is None or identity.id != path.stem:
            path.unlink(missing_ok=True)  # that project is gone (or this was a copy's record)
            continue
        ports.update(listed)
    return ports
