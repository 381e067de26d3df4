from __future__ import annotations

from tinyctl.stack.up import _first_failure
from tinyctl.targets.base import ServiceStatus


def test_a_failed_one_shot_or_a_stopped_service_fails_fast() -> None:
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
    crashed = [ServiceStatus("scheduler", "scheduler", "exited", "unhealthy", exit_code=1)]
    assert _first_failure(crashed).name == "scheduler"
    looping = [ServiceStatus("scheduler", "scheduler", "restarting", "starting", exit_code=1)]
    assert _first_failure(looping).name == "scheduler"


def test_a_container_stopped_on_purpose_is_not_a_failure() -> None:
    """Compose recreating a service after a rebuild stops the old container (exit 0, or the
    stop signal's code): the new one is waited for."""
    for code in (0, 137, 143):
        replaced = [ServiceStatus("api-server", "api-server", "exited", "none", exit_code=code)]
        assert _first_failure(replaced) is None


def test_a_running_service_marked_unhealthy_is_waited_for() -> None:
    """Docker keeps probing an unhealthy container; on a loaded machine it turns healthy later.
    Only the deadline ends the wait (and then names it, with its log)."""
    slow = [ServiceStatus("api-server", "api-server", "running", "unhealthy")]
    assert _first_failure(slow) is None


def test_service_ok_rules() -> None:
    assert ServiceStatus("airflow-init", "airflow-init", "exited", "completed", one_shot=True).ok
    assert not ServiceStatus("airflow-init", "airflow-init", "running", "running", one_shot=True).ok
    assert ServiceStatus("api-server", "api-server", "running", "healthy").ok
    assert not ServiceStatus("api-server", "api-server", "running", "starting").ok
