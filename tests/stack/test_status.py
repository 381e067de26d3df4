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
