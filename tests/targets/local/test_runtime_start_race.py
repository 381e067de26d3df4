"""Two real `tinyctl up` processes at once on the local runtime: one starts the stack, the other
exits 3 naming the one that holds the project, and the stack that comes up is whole (one
server, one set of components, one set of secrets)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import new_stack, ok


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.stack
def test_two_ups_at_once_one_starts_the_stack_the_other_exits_3_naming_it(
    tmp_path: Path,
) -> None:
    stack = new_stack(tmp_path, "race", runtime="local")
    try:
        racers = [
            subprocess.Popen(
                [sys.executable, "-m", "tinyctl", "up"],
                cwd=stack.root,
                env=stack.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [racer.communicate(timeout=900) for racer in racers]
        codes = [racer.returncode for racer in racers]
        assert sorted(codes) == [0, 3], outputs
        winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
        message = outputs[loser][1]
        assert f"pid {racers[winner].pid}" in message, message
        assert "Traceback" not in message

        status = stack.json("status")
        assert status["state"] == "up", status
        # One server and one of each component, all started by the winner.
        run = stack.root / ".tinyctl" / "local" / "run"
        pids = {
            service: json.loads((run / f"{service}.pid").read_text())["pid"]
            for service in ("postgres", "api-server", "scheduler", "dag-processor", "triggerer")
        }
        assert len(set(pids.values())) == len(pids)
        # Secrets reach the processes as files: none is in an environment or a command line.
        secrets = json.loads((stack.root / ".tinyctl" / "secrets.json").read_text())
        values = [v for v in _strings(secrets) if len(v) >= 8]
        assert values
        for service, pid in pids.items():
            for view in ("environ", "cmdline"):
                seen = Path(f"/proc/{pid}/{view}").read_bytes().decode(errors="replace")
                leaked = [v for v in values if v in seen or quote(v, safe="") in seen]
                assert not leaked, f"a secret in {service}'s {view}"
        # The passwords the cluster was initialised with are the ones on disk (the loser
        # rendered none over them): Airflow and the warehouse roles log in over TCP.
        ok(stack.run("seed"))
        ok(stack.run("test-etl"))
    finally:
        stack.run("down", "--volumes", "--yes")
