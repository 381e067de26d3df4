"""`tinyctl status`: what is running, how healthy it is, whether the rendered files are stale.

Core code: it asks the project's runtime and Airflow client, and never prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinyctl.airflow import AirflowClient, Health
from tinyctl.errors import TinyctlError
from tinyctl.project import Project
from tinyctl.render import render_status
from tinyctl.stack.own import confirm_with_api, describe, oom_hint
from tinyctl.state.fsutil import full_file_systems
from tinyctl.targets.base import API_SERVER, TRIGGERER, ServiceStatus


@dataclass
class StackReport:
    project: str
    runtime: str
    state: str  # up, down, degraded
    services: list[ServiceStatus]
    airflow: dict[str, Any]
    render_fresh: bool
    render_reasons: tuple[str, ...]
    runtime_reason: str = ""
    # what went wrong with a service and what to do (an OOM kill and the memory to raise)
    problems: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "runtime": self.runtime,
            "runtime_reason": self.runtime_reason,
            "state": self.state,
            "services": [s.as_dict() for s in self.services],
            "airflow": self.airflow,
            "render": {"fresh": self.render_fresh, "reasons": list(self.render_reasons)},
            "problems": list(self.problems),
        }


def airflow_version(client: AirflowClient) -> str | None:
    try:
        return client.version()
    except TinyctlError:
        return None


def stack_status(project: Project) -> StackReport:
    """What is running, how healthy it is, and whether the rendered files are stale."""
    runtime = project.runtime
    runtime.check_engine()
    services = runtime.services()
    fresh = render_status(project)
    airflow: dict[str, Any] = {
        "url": runtime.api_url(),
        "version": None,
        "healthy": False,
        "components": {},
    }
    if any(s.service == API_SERVER and s.running for s in services):
        _ask_airflow(project, airflow)
    if airflow["components"]:
        services = confirm_with_api(services, Health(airflow["components"]))
    return StackReport(
        project.name,
        runtime.name,
        _state(services, airflow["healthy"]),
        services,
        airflow,
        fresh.fresh,
        fresh.reasons,
        runtime.reason,
        (
            *(f"{describe(s)}. {oom_hint(project, s)}" for s in services if s.oom_killed),
            *(
                f"{full}: the stack writes its logs, DAG files and (local runtime) database "
                "there; free space, then `tinyctl up`"
                for full in full_file_systems(
                    [project.state.root, project.path(project.spec.data.path)]
                )
            ),
        ),
    )


def triggerer_wanted(project: Project) -> str | None:
    """With `airflow.triggerer: auto`, why the project's code now needs a triggerer that the
    running stack does not have (a DAG deployed since `up` defers work); None otherwise."""
    if project.spec.airflow.triggerer != "auto" or not project.triggerer.enabled:
        return None
    if any(s.running for s in project.runtime.service_statuses([TRIGGERER])):
        return None
    return project.triggerer.reason


def _ask_airflow(project: Project, airflow: dict[str, Any]) -> None:
    """Airflow's health report and version into `airflow`; left as they are when it cannot say."""
    try:
        with project.airflow(timeout=3, retries=1) as client:
            health = client.health()
            airflow["components"] = health.components
            airflow["healthy"] = health.all_healthy(project.health_components)
            airflow["version"] = airflow_version(client)
    except TinyctlError:
        pass


def _state(services: list[ServiceStatus], airflow_healthy: bool) -> str:
    running = [s for s in services if s.state not in ("missing",)]
    if not running or all(
        s.state in ("missing", "exited") and not s.one_shot for s in services if not s.one_shot
    ):
        return "down"
    if all(s.ok for s in services) and airflow_healthy:
        return "up"
    return "degraded"
