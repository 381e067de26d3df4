"""Bringing the stack up, in phases: the first look (render while the engine, ownership, the
service watch and the images are asked), the code deployed before anything starts, the
no-op check, pre-flight, build, start and wait for health; `bring_up` only sequences them. What
`up` does once healthy is stack/after_up.py; `status` is stack/status.py.

This is core code: it drives the project's runtime and Airflow client, reports progress through
callbacks, and raises tinyctl errors. It never prints.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace

from tinyctl.airflow import AirflowClient, Health
from tinyctl.airflow.models import HEALTH_COMPONENTS
from tinyctl.dags.code import CodeSync, deploy_include, deploy_plugins, require_clean
from tinyctl.errors import TinyctlError, WorkFailed
from tinyctl.project import Project
from tinyctl.render import render
from tinyctl.spec.models import parse_duration
from tinyctl.spec.triggerer import TriggererChoice
from tinyctl.stack.one_shots import OneShotGate
from tinyctl.stack.own import (
    API_COMPONENT,
    confirm_with_api,
    describe,
    oom_hint,
    require_up,  # noqa: F401  (moved there; re-exported)
)
from tinyctl.stack.preflight import PortRequest, check_memory, check_ports, needed_memory
from tinyctl.stack.status import airflow_version
from tinyctl.targets.base import (
    AIRFLOW_SERVICES,
    API_SERVER,
    BuildOutcome,
    Runtime,
    ServiceStatus,
    ServiceWatch,
)

POLL_SECONDS = 0.25
# The start loop wakes at least this often (the start's own end, the deadline, progress).
WAKE_SECONDS = 0.5


@dataclass
class UpProgress:
    phase: str
    services: list[ServiceStatus] = field(default_factory=list)
    components: dict[str, str | None] = field(default_factory=dict)
    elapsed: float = 0.0


@dataclass
class UpResult:
    already_up: bool
    seconds: float
    rendered: list[str]
    built: list[BuildOutcome]
    services: list[ServiceStatus]
    url: str
    airflow_version: str | None
    plugins: list[str] = field(default_factory=list)  # plugin files deployed (changed or removed)
    restarted_for_plugins: bool = False
    triggerer: TriggererChoice | None = None  # the choice, unless the spec left the default
    skipped: dict[str, str] = field(default_factory=dict)  # one-shots left out, and why
    ran: dict[str, str] = field(default_factory=dict)  # one-shots run, and why


def _log_tail(runtime: Runtime, service: str, lines: int = 20) -> str:
    try:
        return "\n".join(list(runtime.logs(service, tail=lines)))
    except TinyctlError:
        return "(no log available)"


def _first_failure(services: list[ServiceStatus]) -> ServiceStatus | None:
    """A service that will not become healthy by waiting: a failed one-shot, or a service that
    stopped running. A running service marked unhealthy is still waited for until the deadline:
    its healthcheck keeps probing and a slow start (a loaded machine) turns healthy later."""
    for status in services:
        if status.one_shot and status.health == "failed":
            return status
        if not status.one_shot and _crashed(status):
            return status
    return None


# A container stopped on purpose (Compose recreating it after a rebuild, a stop signal, a kill
# after its grace period) exits with one of these; anything else is the process failing.
STOPPED_ON_PURPOSE = frozenset({0, 130, 137, 143})


def _crashed(status: ServiceStatus) -> bool:
    if status.oom_killed:  # the kernel ended it (exit 137, as a stop): it will again
        return True
    if status.state == "restarting":  # the restart policy is bringing a crashed process back
        return True
    return status.state in ("exited", "dead") and status.exit_code not in STOPPED_ON_PURPOSE


def preflight(project: Project, services: list[ServiceStatus]) -> None:
    """Ports and memory; raises EnvironmentProblem before anything starts."""
    spec, runtime = project.spec, project.runtime
    requests = [PortRequest("airflow.port", spec.airflow.bind, spec.airflow.port)]
    if spec.postgres.port is not None:
        requests.append(PortRequest("postgres.port", spec.postgres.bind, spec.postgres.port))
    own = {port for s in services if s.running for port in s.published}
    check_ports(requests, own, runtime.describe_port_holder)
    if not own:
        check_memory(runtime.memory_bytes(), needed_memory(spec.airflow.worker_count), runtime.name)


def _ensure_data_dirs(project: Project) -> None:
    data = project.path(project.spec.data.path)
    for sub in ("landing", "archive"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # Airflow runs as its image's uid, not root: it moves landing files
        from tinyctl.targets.compose.render import AIRFLOW_IMAGE_UID  # lazy: root only

        for folder in (data, data / "landing", data / "archive"):
            os.chown(folder, AIRFLOW_IMAGE_UID, 0)


def _ready(
    services: list[ServiceStatus],
    health: Health | None,
    required: tuple[str, ...] = HEALTH_COMPONENTS,
) -> bool:
    """Every service ok (components on Airflow's word) and Airflow reporting each `required`
    component healthy (a triggerer that does not run is not waited for)."""
    if health is None or not health.all_healthy(required):
        return False
    return all(s.ok for s in confirm_with_api(services, health))


def bring_up(
    project: Project,
    *,
    timeout: float | None = None,
    on_progress: Callable[[UpProgress], None] | None = None,
    on_step: Callable[[str], None] | None = None,
    show_build_output: bool = True,
    full: bool = False,
) -> UpResult:
    """Render, check, build and start the stack; return once every service and Airflow is
    healthy. One-shots with nothing to do are left out (`tinyctl.stack.one_shots`); `full`
    runs them whatever their records say."""
    started = time.monotonic()
    runtime = project.runtime
    timeout = float(
        timeout if timeout is not None else parse_duration(project.spec.airflow.start_timeout)
    )
    step = on_step or (lambda _message: None)
    with ExitStack() as closing:
        look = _first_look(project, closing)
        plugins, airflow_running = _deploy_code(project, look.services)
        if not look.rendered and not look.to_build and not plugins.applied:
            already = _already_up(project, look.services, started)
            if already is not None:
                return already
        preflight(project, look.services)
        _ensure_data_dirs(project)
        built = runtime.build(show_output=show_build_output, on_step=step) if look.to_build else []
        restarted = _restart_for_plugins(project, plugins, airflow_running, step)
        client = closing.enter_context(project.airflow(timeout=2, retries=0))
        if airflow_running and not restarted:
            _restart_stuck(project, look.services, client, step)
        gate = OneShotGate(project, full=full)
        shown = _start_and_wait(
            project,
            look.watch,
            client,
            gate,
            (timeout, started),
            on_progress or (lambda _p: None),
            failed_before={s.service for s in look.services if _first_failure([s])},
        )
        version = airflow_version(
            client
        )  # before the warm-up: the api-server's one worker is busy during it
        client.warm_up_execution_api()
        runtime.end_start()
    return UpResult(
        False,
        time.monotonic() - started,
        look.rendered,
        built,
        shown,
        runtime.api_url(),
        version,
        plugins.changed + plugins.removed,
        restarted,
        _triggerer_choice(project),
        gate.skipped,
        gate.ran,
    )


def _triggerer_choice(project: Project) -> TriggererChoice | None:
    """What `up` says about the triggerer: the choice of `auto` or `off`, never of the default."""
    return None if project.spec.airflow.triggerer == "on" else project.triggerer


@dataclass
class _FirstLook:
    rendered: list[str]  # the files render wrote (none: the rendered files were current)
    watch: ServiceWatch
    services: list[ServiceStatus]
    to_build: list[str]


def _first_look(project: Project, closing: ExitStack) -> _FirstLook:
    """Render, and look at the machine and the stack, before anything changes.

    The questions to Docker (each a CLI round trip) run while this thread renders: on two
    cores, Python rendering and the Docker CLI processes overlap instead of queueing. The
    watch is opened now, before anything starts, and its first look is the stack's state;
    `closing` closes it however `up` ends."""
    runtime = project.runtime
    pool = closing.enter_context(ThreadPoolExecutor(max_workers=4))
    engine = pool.submit(runtime.check_engine)
    owned = pool.submit(runtime.check_ownership)
    opened = pool.submit(runtime.watch_services)
    stale_images = pool.submit(runtime.images_to_build)
    closing.callback(_close_when_opened, opened)
    rendered = render(project).written
    engine.result()  # an unreachable engine is reported as such, before anything else
    owned.result()  # another folder's stack under this name: refuse before touching it
    watch = opened.result()
    return _FirstLook(rendered, watch, watch.changes(timeout=0), stale_images.result())


def _deploy_code(project: Project, services: list[ServiceStatus]) -> tuple[CodeSync, bool]:
    """Plugins before anything starts (every component loads them at start): a broken plugin
    stops here with its file and line, and the stack keeps the last good copy. Returns the
    plugins' sync and whether Airflow components are running."""
    plugins = require_clean(deploy_plugins(project), project)
    airflow_running = any(s.service in AIRFLOW_SERVICES and s.running for s in services)
    if not airflow_running or plugins.applied:
        # Processes are about to (re)start and may import include code from plugins at once;
        # on a running stack include/ is deployed with the DAGs, which then get re-parsed.
        require_clean(deploy_include(project), project)
    return plugins, airflow_running


def _already_up(project: Project, services: list[ServiceStatus], started: float) -> UpResult | None:
    """The no-op `up`: nothing rendered, built or deployed, every service ok and Airflow
    healthy. None when there is something to do."""
    if not services or not all(s.ok for s in services):
        return None
    with project.airflow(timeout=5, retries=1) as client:
        health = _health_or_none(client)
        if health is None or not health.all_healthy(project.health_components):
            return None
        return UpResult(
            True,
            time.monotonic() - started,
            [],
            [],
            services,
            project.runtime.api_url(),
            airflow_version(client),
            triggerer=_triggerer_choice(project),
        )


def _restart_for_plugins(
    project: Project, plugins: CodeSync, airflow_running: bool, step: Callable[[str], None]
) -> bool:
    """Changed plugins on a running stack: restart the Airflow components so they load them."""
    if not (plugins.applied and airflow_running):
        return False
    step("plugins changed: restarting the Airflow components so they load them")
    project.runtime.restart_airflow()
    return True


# A component whose process has run this long without Airflow calling it healthy is stuck (a
# scheduler whose job died on a full disk waits forever for its idle executor workers): `up`
# restarts it. Starting takes ~20 s on a loaded 2-core machine.
STUCK_AFTER = 120.0


def _restart_stuck(
    project: Project,
    services: list[ServiceStatus],
    client: AirflowClient,
    step: Callable[[str], None],
) -> None:
    """Restart the Airflow components that run but that Airflow has not called healthy for
    STUCK_AFTER seconds since they started: waiting would only end at the deadline."""
    health = _health_or_none(client)
    if health is None:  # the api-server itself is not answering: its start is waited for
        return
    running = [
        s for s in services if s.running and s.service in API_COMPONENT and s.service != API_SERVER
    ]
    stuck = [s for s in running if health.components.get(API_COMPONENT[s.service]) != "healthy"]
    if not stuck:
        return
    ages = project.runtime.running_for([s.service for s in stuck])
    for status in stuck:
        age = ages.get(status.name)
        if age is not None and age > STUCK_AFTER:
            step(
                f"{status.name} has run for {age:.0f} s without Airflow calling it healthy: "
                "restarting it"
            )
            project.runtime.restart(status.service)


def _start_and_wait(
    project: Project,
    watch: ServiceWatch,
    client: AirflowClient,
    gate: OneShotGate,
    clock: tuple[float, float],
    report: Callable[[UpProgress], None],
    *,
    failed_before: Collection[str] = (),
) -> list[ServiceStatus]:
    """Start every service (the one-shots the gate lets through), then wait until each is ok
    and Airflow reports healthy; the services as last shown. `clock`: (timeout, when `up`
    started). A crash, a failed start or the deadline raises WorkFailed.

    `failed_before`: services that had failed before this `up` (an OOM-killed scheduler in its
    restart loop): the start recreates or restarts them, so their old state is no verdict until
    the start is done."""
    runtime = project.runtime
    timeout, started = clock
    deadline = time.monotonic() + timeout
    handle = runtime.start(skip=gate.decide)
    health: Health | None = None
    recorded = False
    try:
        while True:
            # Once the start has run (the components exist), Airflow's own health report is
            # asked every POLL_SECONDS (one loopback request, no process); before, the watch
            # wakes on each container change.
            services = watch.changes(timeout=POLL_SECONDS if handle.done() else WAKE_SECONDS)
            judged = (
                services
                if handle.done()
                else [s for s in services if s.service not in failed_before]
            )
            _raise_on_failure(project, judged)
            if handle.done():
                handle.result()  # raises when the start itself failed
                if not recorded:  # the one-shots that ran succeeded: record what they applied
                    gate.record()
                    recorded = True
                if any(s.service == API_SERVER and s.running for s in services):
                    health = _health_or_none(client)
            shown = confirm_with_api(services, health)
            report(
                UpProgress(
                    "starting services" if not handle.done() else "waiting for Airflow",
                    shown,
                    health.components if health is not None else {},
                    time.monotonic() - started,
                )
            )
            if handle.done() and _ready(services, health, project.health_components):
                return _with_ports(shown, runtime)
            if time.monotonic() > deadline:
                raise _not_healthy_in_time(project, shown, health, timeout)
    except BaseException:
        handle.cancel()
        raise


def _with_ports(services: list[ServiceStatus], runtime: Runtime) -> list[ServiceStatus]:
    """`services` with the host ports each one publishes: the watch's container events carry
    none, so the runtime's own listing (one engine API request) is asked once, at the end."""
    if all(s.ports for s in services if s.running):
        return services
    try:
        listed = {s.name: s for s in runtime.services()}
    except TinyctlError:
        return services  # the table then shows no ports; `tinyctl status` asks again
    return [
        replace(s, ports=listed[s.name].ports, published=listed[s.name].published)
        if not s.ports and s.name in listed
        else s
        for s in services
    ]


def _raise_on_failure(project: Project, services: list[ServiceStatus]) -> None:
    failure = _first_failure(services)
    if failure is not None:
        raise WorkFailed(
            f"{failure.name} failed: {describe(failure)}",
            details=f"Last lines of its log:\n{_log_tail(project.runtime, failure.service)}",
            hint=oom_hint(project, failure)
            if failure.oom_killed
            else f"Fix the cause shown above, then run `tinyctl up` again (`tinyctl logs {failure.service}` for more).",
        )


def _close_when_opened(opened: Future) -> None:
    """Close the watch however bring_up ends (its event process must not outlive the command)."""
    with contextlib.suppress(BaseException):
        opened.result().close()


def _health_or_none(client: AirflowClient) -> Health | None:
    """Airflow's health report; None while it cannot give one (not listening yet, starting)."""
    try:
        return client.health()
    except TinyctlError:
        return None


def _not_healthy_in_time(
    project: Project, services: list[ServiceStatus], health: Health | None, timeout: float
) -> WorkFailed:
    runtime = project.runtime
    waiting = [s for s in services if not s.ok]
    if waiting:
        first = waiting[0]
        return WorkFailed(
            f"the stack was not healthy after {timeout:.0f} s: "
            + ", ".join(describe(s) for s in waiting),
            details=f"Last lines of {first.service}'s log:\n{_log_tail(runtime, first.service)}",
            hint="Raise airflow.start_timeout (or pass --timeout) if the machine is just slow; "
            "otherwise the log above says why.",
        )
    bad = ", ".join(health.unhealthy(project.health_components)) if health else "the API server"
    return WorkFailed(
        f"Airflow did not report healthy in time: {bad}",
        hint="Look at `tinyctl logs scheduler` (or the component named); raise airflow.start_timeout if the machine is slow.",
    )
