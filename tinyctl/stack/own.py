"""Is this project's own stack up? The check every command that talks to the stack makes
first, before it reaches for a port (kept apart from `tinyctl.stack.up`, which brings stacks up,
so that `seed`, `psql` and `status` import only what this check needs)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from tinyctl.errors import EnvironmentProblem, TinyctlError
from tinyctl.state.fsutil import full_file_systems

if TYPE_CHECKING:
    from tinyctl.airflow.models import Health
    from tinyctl.project import Project
    from tinyctl.targets.base import ServiceStatus

# Airflow's own health report covers these services: once it says a component heartbeats, the
# component is healthy, whatever its container's probe (every 2 s) last said. `up` returns on
# Airflow's word instead of waiting for the next probe; `require_up` and `status` agree.
API_COMPONENT = {
    "api-server": "metadatabase",  # the API answered, and it reaches its database
    "scheduler": "scheduler",
    "dag-processor": "dag_processor",
    "triggerer": "triggerer",
}


def confirm_with_api(services: list[ServiceStatus], health: Health | None) -> list[ServiceStatus]:
    """`services`, with each running component whose probe still says "starting" marked healthy
    when Airflow's health report already says so. Nothing else changes: a probe that says
    "unhealthy" is believed, and services the report does not cover keep their probe's word."""
    if health is None:
        return services

    return [
        replace(s, health="healthy")
        if s.running
        and s.health == "starting"
        and s.service in API_COMPONENT
        and health.components.get(API_COMPONENT[s.service]) == "healthy"
        else s
        for s in services
    ]


def _project_health(project: Project) -> Health | None:
    try:
        with project.airflow(timeout=3, retries=0) as client:
            return client.health()
    except TinyctlError:
        return None


def describe(status: ServiceStatus) -> str:
    return status.describe()


def oom_hint(project: Project, status: ServiceStatus) -> str:
    """What to raise after an OOM kill: the service's `memory:` limit in the spec (where it
    is written), or the machine's memory when it had none."""
    if status.memory_limit and status.service in project.spec.memory:
        line, column = project.locate("memory", status.service)
        return (
            f"Raise memory.{status.service} in {project.spec_file}:{line}:{column} (now "
            f"{project.spec.memory[status.service]}), then run `tinyctl up`."
        )
    if status.memory_limit:
        return (
            f"Its limit ({status.memory_limit >> 20} MiB) is not tinyctl.yaml's: set "
            f"memory.{status.service} there (e.g. 2Gi), then run `tinyctl up`."
        )
    return (
        "Free memory on the machine (or give Docker's VM more), or set a lower memory limit on "
        "another service in tinyctl.yaml's memory: section; then run `tinyctl up`."
    )


def require_up(project: Project, services: Iterable[str] | None = None) -> list[ServiceStatus]:
    """Exit 3 unless this project's own services (all, or those named) are running and healthy.

    Every command that needs the stack asks this first, before it reaches for a port: whatever
    else listens on the spec's ports (another project, a local Postgres) is never talked to.
    With services named, only those are asked about (`Runtime.service_statuses`: for Compose
    one engine API request instead of a `docker compose ps` process); the statuses returned
    are those asked about.
    """
    runtime = project.runtime
    wanted = list(services) if services is not None else None
    statuses = runtime.services() if wanted is None else runtime.service_statuses(wanted)
    mine = [s for s in statuses if wanted is None or s.service in wanted]
    waiting = [s for s in mine if not s.ok]
    if waiting and all(s.running and s.service in API_COMPONENT for s in waiting):
        # Just after `up`, a component's probe may not have run since Airflow said it is
        # healthy: take Airflow's word (one loopback request), as `up` did.
        statuses = confirm_with_api(statuses, _project_health(project))
        mine = [s for s in statuses if wanted is None or s.service in wanted]
        waiting = [s for s in mine if not s.ok]
    if mine and not waiting:
        _require_spec_ports(project, mine)
        return statuses
    running = [s for s in waiting if s.state != "missing"]
    # a full disk is a common reason a service stopped (no room for its logs or its database)
    full = full_file_systems([project.state.root, project.path(project.spec.data.path)])
    details = "Not ready: " + ", ".join(describe(s) for s in running) if running else None
    if full:
        details = "\n".join([*([details] if details else []), *(f"{f}." for f in full)])
    raise EnvironmentProblem(
        f"stack {project.name} is not up: `tinyctl up`",
        details=details,
        hint=("Free space there, then start it " if full else "Start it ")
        + "with `tinyctl up` (`tinyctl status` shows each service).",
    )


def _require_spec_ports(project: Project, statuses: list[ServiceStatus]) -> None:
    """The running stack must listen where the spec says: commands connect to the spec's ports,
    and after an edit of `postgres.port` or `airflow.port` without `tinyctl up`, whatever
    answers on the new port is not this stack (exit 3, before any connection)."""
    spec = project.spec
    expected = {
        "postgres": ("postgres.port", spec.postgres.port),
        "api-server": ("airflow.port", spec.airflow.port),
    }
    for status in statuses:
        key, port = expected.get(status.service, ("", None))
        if port is None or not status.running or port in status.published:
            continue
        where = ", ".join(str(p) for p in sorted(set(status.published))) or "no host port"
        raise EnvironmentProblem(
            f"stack {project.name}'s {status.service} listens on {where}, "
            f"but {project.spec_file.name} says {key}: {port}",
            hint="Run `tinyctl up` to apply the new port (it restarts what uses it); "
            "nothing else on that port is talked to meanwhile.",
        )
