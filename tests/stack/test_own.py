"""require_up's port check: after an edit of postgres.port or airflow.port without `up`, the
stack does not listen where the spec says, and nothing on the new port is talked to."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fakes import HEALTHY, FakeRuntime, open_on_free_ports, with_runtime

from tinyctl.errors import EnvironmentProblem
from tinyctl.stack.own import require_up
from tinyctl.targets.local.runtime import _listening_port


def test_a_stack_on_the_specs_ports_passes(project: Path) -> None:
    opened = open_on_free_ports(project)
    with_runtime(opened, lambda p: FakeRuntime(p, script=[HEALTHY]))
    assert require_up(opened, ("postgres",))
    assert require_up(opened)


@pytest.mark.parametrize(
    ("service", "key"), [("postgres", "postgres.port"), ("api-server", "airflow.port")]
)
def test_a_port_edited_since_up_stops_before_any_connection(
    project: Path, service: str, key: str
) -> None:
    opened = open_on_free_ports(project)
    moved = [replace(s, published=(1,)) if s.service == service else s for s in HEALTHY]
    with_runtime(opened, lambda p: FakeRuntime(p, script=[moved]))
    with pytest.raises(EnvironmentProblem) as caught:
        require_up(opened, (service,))
    assert caught.value.exit_code == 3
    assert f"{service} listens on 1, but tinyctl.yaml says {key}:" in caught.value.message
    assert "tinyctl up" in (caught.value.hint or "")


def test_the_local_runtime_reads_the_port_a_process_was_started_with() -> None:
    assert _listening_port(["postgres", "-D", "/d", "-c", "port=5439", "-c", "x=1"]) == 5439
    assert _listening_port(["python", "run.py", "api-server", "--port", "8093"]) == 8093
    assert _listening_port(["python", "run.py", "scheduler"]) is None
