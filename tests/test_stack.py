from __future__ import annotations

from tinyctl.runtime.base import ServiceStatus
from tinyctl.stack import _first_failure


def test_a_failed_one_shot_or_unhealthy_service_fails_fast() -> None:
    starting = [
        ServiceStatus("postgres", "postgres", "running", "starting"),
        ServiceStatus("db-setup", "db-setup", "created", "created", one_shot=True),
    ]
    assert _first_failure(starting) is None
    failed = [
        *starting,
        ServiceStatus(
            "airflow-init", "airflow-init", "exited", "failed", exit_code=1, one_shot=True
        ),
    ]
    assert _first_failure(failed).name == "airflow-init"
    sick = [ServiceStatus("scheduler", "scheduler", "running", "unhealthy")]
    assert _first_failure(sick).name == "scheduler"


def test_service_ok_rules() -> None:
    assert ServiceStatus("airflow-init", "airflow-init", "exited", "completed", one_shot=True).ok
    assert not ServiceStatus("airflow-init", "airflow-init", "running", "running", one_shot=True).ok
    assert ServiceStatus("api-server", "api-server", "running", "healthy").ok
    assert not ServiceStatus("api-server", "api-server", "running", "starting").ok
