"""bring_up's loop and require_up against a fake Runtime (no engine): the failures that a real
stack cannot be made to produce on cue."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import HEALTHY, FakeRuntime, open_on_free_ports, statuses, with_runtime

from tinyctl.errors import EnvironmentProblem, WorkFailed
from tinyctl.stack.up import bring_up, require_up

STARTING = statuses(
    postgres=("running", "starting"),
    db_setup=("created", "created"),
    airflow_init=("created", "created"),
)


def test_a_failed_one_shot_stops_the_wait_with_its_log(project: Path) -> None:
    opened = open_on_free_ports(project)
    failed = statuses(
        postgres=("running", "healthy"),
        db_setup=("exited", "completed"),
        airflow_init=("exited", "failed"),
    )
    fake = with_runtime(
        opened,
        lambda p: FakeRuntime(
            p, script=[STARTING, STARTING, failed], logs_text={"airflow-init": "boom: no database"}
        ),
    )
    with pytest.raises(WorkFailed) as caught:
        bring_up(opened, timeout=30)
    assert caught.value.message.startswith("airflow-init failed")
    assert "boom: no database" in (caught.value.details or "")
    assert fake.cancelled, "the start in progress is cancelled"
    assert fake.calls.index("check_ownership") < fake.calls.index("start")
    assert (project / ".tinyctl" / "compose.yaml").is_file(), "rendered first"


def test_a_timeout_names_every_service_still_waiting(project: Path) -> None:
    opened = open_on_free_ports(project)
    with_runtime(opened, lambda p: FakeRuntime(p, script=[STARTING, STARTING]))
    with pytest.raises(WorkFailed) as caught:
        bring_up(opened, timeout=0.3)
    message = caught.value.message
    assert "not healthy after 0 s" in message
    assert "postgres (state running, health starting)" in message
    assert "api-server (state missing, health none)" in message


def test_require_up_reports_a_stack_that_is_not_up(project: Path) -> None:
    opened = open_on_free_ports(project)
    with_runtime(opened, lambda p: FakeRuntime(p, script=[statuses()]))
    with pytest.raises(EnvironmentProblem) as caught:
        require_up(opened)
    assert caught.value.message == "stack demo is not up: `tinyctl up`"
    assert caught.value.exit_code == 3 and caught.value.details is None


def test_require_up_names_what_is_not_ready(project: Path) -> None:
    opened = open_on_free_ports(project)
    degraded = [
        s if s.service != "scheduler" else statuses(scheduler=("running", "starting"))[4]
        for s in HEALTHY
    ]
    with_runtime(opened, lambda p: FakeRuntime(p, script=[degraded]))
    with pytest.raises(EnvironmentProblem) as caught:
        require_up(opened)
    assert "scheduler (state running, health starting)" in (caught.value.details or "")
    # a command that needs only PostgreSQL is fine with it
    assert require_up(opened, ("postgres",))


def test_require_up_passes_a_healthy_stack(project: Path) -> None:
    opened = open_on_free_ports(project)
    with_runtime(opened, lambda p: FakeRuntime(p, script=[HEALTHY]))
    assert [(s.name, s.state, s.health) for s in require_up(opened)] == [
        (s.name, s.state, s.health) for s in HEALTHY
    ]
