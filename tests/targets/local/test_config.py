"""The ports a local stack chooses for itself."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tinyctl.targets.local.config import internal_ports


def test_internal_ports_are_kept_while_free_and_moved_when_taken(tmp_path: Path) -> None:
    path = tmp_path / "ports.json"
    first = internal_ports(path, in_use_by_us=False)
    assert internal_ports(path, in_use_by_us=False) == first
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", first["worker_log"]))
        holder.listen()
        assert internal_ports(path, in_use_by_us=True) == first, "our own stack holds it"
        moved = internal_ports(path, in_use_by_us=False)
    assert moved["worker_log"] != first["worker_log"]
    assert json.loads(path.read_text()) == moved
