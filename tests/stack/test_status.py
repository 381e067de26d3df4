"""`tinyctl status`'s verdict (tinyctl/stack/status.py): up, down or degraded from the services
and Airflow's health report."""

from __future__ import annotations

from tinyctl.stack.status import _state
from tinyctl.targets.base import ServiceStatus


def svc(service: str, state: str, health: str, one_shot: bool = False) -> ServiceStatus:
    return ServiceStatus(service, service, state, health, one_shot=one_shot)


def test_up_needs_every_service_ok_and_airflow_healthy() -> None:
    services = [svc("postgres", "running", "healthy"), svc("db-setup", "exited", "completed", True)]
    assert _state(services, airflow_healthy=True) == "up"
    assert _state(services, airflow_healthy=False) == "degraded"


def test_down_when_nothing_long_running_runs() -> None:
    assert _state([svc("postgres", "missing", "none")], airflow_healthy=False) == "down"
    stopped = [svc("postgres", "exited", "none"), svc("db-setup", "exited", "completed", True)]
    assert _state(stopped, airflow_healthy=False) == "down"


def test_one_unhealthy_service_is_degraded() -> None:
    services = [svc("postgres", "running", "healthy"), svc("scheduler", "running", "unhealthy")]
    assert _state(services, airflow_healthy=True) == "degraded"


def test_skipped_one_shots_leave_a_stack_up() -> None:
    services = [svc("postgres", "running", "healthy"), svc("db-setup", "skipped", "skipped", True)]
    assert _state(services, airflow_healthy=True) == "up"


def test_a_deferring_dag_deployed_while_auto_chose_no_triggerer_is_named(project) -> None:
    from fakes import HEALTHY, FakeRuntime, statuses, with_runtime

    from tinyctl.project import Project
    from tinyctl.stack.status import triggerer_wanted

    spec = project / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("  executor:", "  triggerer: auto\n  executor:", 1))
    (project / "dags" / "wait.py").write_text("w = TimeDeltaSensorAsync(task_id='w')\n")

    def opened(script) -> Project:
        found = Project.open(spec)
        with_runtime(found, lambda p: FakeRuntime(p, script=[script]))
        return found

    without = statuses(postgres=("running", "healthy"), scheduler=("running", "healthy"))
    assert triggerer_wanted(opened(without)) == "auto: dags/wait.py:1 uses TimeDeltaSensorAsync"
    assert triggerer_wanted(opened(HEALTHY)) is None, "a triggerer runs"
    (project / "dags" / "wait.py").unlink()
    assert triggerer_wanted(opened(without)) is None, "nothing defers"
