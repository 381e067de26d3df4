"""Which runtime holds a project's stack data: `runtime.json` in the state folder.

A leaf module: written by a runtime's start, read when the runtime is chosen.
"""

from __future__ import annotations

import json

from tinyctl.state.fsutil import write_atomic
from tinyctl.state.layout import StateLayout


def read_runtime(state: StateLayout) -> str | None:
    """The runtime recorded for this state folder, or None."""
    try:
        recorded = json.loads(state.runtime_record.read_text()).get("runtime")
    except (OSError, ValueError, AttributeError):
        return None
    return recorded if isinstance(recorded, str) else None


def record_runtime(state: StateLayout, name: str | None) -> None:
    """Remember which runtime holds the project's stack (None: no stack data left)."""
    path = state.runtime_record
    if name is None:
        path.unlink(missing_ok=True)
    else:
        write_atomic(path, (json.dumps({"runtime": name}) + "\n").encode())
