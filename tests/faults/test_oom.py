"""Out of memory (issue 22, item 6): the scheduler under a tight memory limit (the spec's
`memory.scheduler`, in a second spec file next to tinyctl.yaml: the same stack), so the
kernel's OOM killer ends it as it starts. `up` fails naming the OOM kill, the service and the
setting to raise (file:line); `status` names them too; `up` with the project's own spec (no
limit) brings the scheduler back.

Compose only: the local runtime's processes get no memory limit. In `make chaos` (it recreates
the shared stack's scheduler twice).
"""

from __future__ import annotations

import json
import time

import pytest
import yaml
from conftest import Stack, ok
from faultkit import Point, assert_all_recovered, record

pytestmark = [pytest.mark.stack, pytest.mark.chaos]

SPEC = "tinyctl-oom.yaml"
LIMIT = "48Mi"  # Airflow's scheduler needs ~200 MiB: the kernel ends it while it imports


def _plain(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_a_service_the_oom_killer_ends(stack_runtime: str, request: pytest.FixtureRequest) -> None:
    if stack_runtime != "compose":
        pytest.skip("memory limits apply to the compose runtime's containers only")
    stack: Stack = request.getfixturevalue("live_stack")
    point = Point("OOM kill of the scheduler (compose)")
    spec = yaml.safe_load((stack.root / "tinyctl.yaml").read_text())
    spec["memory"] = {"scheduler": LIMIT}
    (stack.root / SPEC).write_text(yaml.safe_dump(spec, sort_keys=False))
    line = next(
        i
        for i, text in enumerate((stack.root / SPEC).read_text().splitlines(), 1)
        if "scheduler: 48Mi" in text
    )
    try:
        up = stack.run("up", "-s", SPEC, "--timeout", "180")
        said = _plain(up.stderr)
        wanted = (
            "OOM killer",
            "scheduler",
            "48 MiB",
            f"memory.scheduler in {stack.root / SPEC}:{line}",
        )
        if up.returncode != 1 or not all(w in said for w in wanted):
            point.fail(f"up exited {up.returncode}, not 1 naming {wanted}:\n{up.stderr[-2000:]}")
        seen = None
        for _attempt in range(30):  # the scheduler restarts (and is killed again) in a loop
            data = json.loads(stack.run("status", "-s", SPEC, "--json").stdout)
            scheduler = next(s for s in data["services"] if s["service"] == "scheduler")
            if scheduler.get("oom_killed"):
                seen = data
                break
            time.sleep(1)
        if seen is None:
            point.fail("status --json never named the scheduler OOM-killed")
        else:
            problems = " ".join(seen["problems"])
            if "OOM killer" not in problems or "memory.scheduler" not in problems:
                point.fail(f"status names no OOM kill and setting: {seen['problems']}")
            shown = _plain(stack.run("status", "-s", SPEC).stdout)
            if "OOM killer" not in shown:
                point.fail(f"status (for people) names no OOM kill:\n{shown}")
    finally:
        (stack.root / SPEC).unlink(missing_ok=True)
        back = stack.run("up")
    if back.returncode != 0:
        point.fail(f"up without the limit did not bring the scheduler back:\n{back.stderr[-1500:]}")
    ok(back)
    record(point.label, point)
    assert_all_recovered(point.label)
