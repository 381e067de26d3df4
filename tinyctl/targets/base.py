""" "The runtime": the one interface every command uses to run a project's stack.

Two implementations, chosen in one place (`tinyctl.targets.choice.make_runtime`): Compose
(`tinyctl.targets.compose.runtime`) and local processes for machines without Docker
(`tinyctl.targets.local`); Kubernetes could be a third. Nothing outside
the runtime package knows which one is in use, nor how it runs things: containers, bind mounts,
host names inside a network, who owns a port.

A runtime is made for one project (`make_runtime(project)`), and only ever acts on that
project's own stack.

Words shared by every runtime:
- a *service* is one component of the stack, named as Airflow and PostgreSQL name them
  (`COMPONENTS` below); a service may run as several *units* (Celery workers: `worker-1`, ...).
- a *one-shot* service runs to completion at each start (database setup, migrations); it is
  healthy when it has completed, or when `up` left it out because it had nothing to do
  (*skipped*: the databases' own records proved it, see `tinyctl.stack.one_shots`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

from tinyctl.plan.model import StackPlan
from tinyctl.plan.values import Place, Value
from tinyctl.spec.loaded import LoadedSpec
from tinyctl.spec.models import Spec
from tinyctl.state.identity import Identity
from tinyctl.state.layout import StateLayout
from tinyctl.state.secrets import Secrets

# The stack's components. Runtimes name their services after these; core code refers to a
# component by these names when it needs one (run `psql` in "postgres", list the modules
# importable by "dag-processor").
POSTGRES = "postgres"
API_SERVER = "api-server"
SCHEDULER = "scheduler"
DAG_PROCESSOR = "dag-processor"
TRIGGERER = "triggerer"
WORKER = "worker"
REDIS = "redis"
COMPONENTS = (POSTGRES, REDIS, API_SERVER, SCHEDULER, DAG_PROCESSOR, TRIGGERER, WORKER)
# The long-running Airflow components: each loads plugins once, when it starts.
AIRFLOW_SERVICES = (API_SERVER, SCHEDULER, DAG_PROCESSOR, TRIGGERER, WORKER)
SKIPPED = "skipped"  # the state and health of a one-shot `up` left out


class StackOwner(Protocol):
    """What a runtime knows of the project it runs, declared here so that targets never import
    the per-command facade above them (`tinyctl.project.Project` is the one implementation)."""

    loaded: LoadedSpec
    environ: Mapping[str, str]
    state: StateLayout

    @property
    def spec(self) -> Spec: ...

    @property
    def name(self) -> str: ...

    @property
    def root(self) -> Path: ...

    @property
    def spec_file(self) -> Path: ...

    @property
    def identity(self) -> Identity | None: ...

    @property
    def plan(self) -> StackPlan: ...

    @property
    def secrets(self) -> Secrets: ...

    def record_adopted(self, volume: str) -> Identity: ...


@dataclass(frozen=True)
class ServiceStatus:
    """One running unit of the stack (a container for Compose, a process for the local runtime)."""

    name: str  # unique: "worker-2" when a service has several replicas
    service: str
    state: str  # running, exited, created, restarting, missing, ...
    health: str  # healthy, unhealthy, starting, completed, failed, none
    ports: tuple[str, ...] = ()  # as shown to people, e.g. "127.0.0.1:8080->8080/tcp"
    exit_code: int = 0
    published: tuple[int, ...] = ()  # host ports this unit listens on
    one_shot: bool = False  # runs to completion: ok once completed
    oom_killed: bool = False  # its last run was ended by the kernel's OOM killer
    memory_limit: int = 0  # bytes; 0: none set on this unit

    @property
    def ok(self) -> bool:
        if self.one_shot:
            return self.health in ("completed", SKIPPED)
        return self.state == "running" and self.health in ("healthy", "none")

    @property
    def running(self) -> bool:
        return self.state == "running"

    def describe(self) -> str:
        """The unit in words: its state and health, the exit code, an OOM kill and its cause."""
        detail = f"state {self.state}, health {self.health}"
        if self.state == "exited":
            detail += f", exit code {self.exit_code}"
        if self.oom_killed:
            cause = (
                f"it reached its memory limit of {self.memory_limit >> 20} MiB"
                if self.memory_limit
                else "the machine ran out of memory"
            )
            return f"{self.name} was killed by the kernel's OOM killer ({cause}; {detail})"
        return f"{self.name} ({detail})"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "service": self.service,
            "state": self.state,
            "health": self.health,
            "ports": list(self.ports),
            **({"oom_killed": True, "memory_limit": self.memory_limit} if self.oom_killed else {}),
        }


@dataclass(frozen=True)
class BuildOutcome:
    service: str
    image: str
    built: bool  # False: the image was already current
    reason: str = ""


@dataclass
class StartHandle:
    """A start in progress: poll `done()`, then `result()` raises if starting failed;
    `cancel()` stops waiting for it (and stops the start itself where it can)."""

    done: Callable[[], bool]
    result: Callable[[], str]
    cancel: Callable[[], None]

    @classmethod
    def in_thread(
        cls,
        work: Callable[[], str],
        *,
        stop: Callable[[], None],
        grace: float,
        name: str,
        on_end: Callable[[], None] | None = None,
    ) -> StartHandle:
        """Run `work` (the start) in a daemon thread. `result()` waits for it and re-raises its
        error in the caller's thread; `cancel()` calls `stop` (which ends the work) and waits
        up to `grace` seconds; `on_end` runs once the outcome is known (wakes a watch)."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["output"] = work()
            except BaseException as error:  # re-raised in the caller's thread by result()
                outcome["error"] = error
            finally:
                if on_end is not None:
                    on_end()

        thread = threading.Thread(target=run, daemon=True, name=name)
        thread.start()

        def result() -> str:
            thread.join()
            if "error" in outcome:
                raise outcome["error"]
            return str(outcome.get("output", ""))

        def cancel() -> None:
            stop()
            thread.join(timeout=grace)

        return cls(done=lambda: not thread.is_alive(), result=result, cancel=cancel)


def reachable_host(bind: str) -> str:
    """The address this machine reaches a port bound to `bind` at: loopback for the wildcard."""
    return "127.0.0.1" if bind in ("0.0.0.0", "127.0.0.1") else bind


def http_url(bind: str, port: int) -> str:
    """`http://HOST:PORT` of a server bound to `bind` (an IPv6 address in brackets)."""
    host = reachable_host(bind)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


ProgressCallback = Callable[[str], None]


class OneShotSkips(Protocol):
    """Asked by a start once the database runs, before any one-shot runs (it waits until the
    database accepts connections): the one-shots to leave out, each with the reason `up`
    shows ({} runs them all). With `new_database`, asked before anything starts: the runtime
    has just created the database's storage, so no record can be in it; nothing is read and
    every one-shot runs."""

    def __call__(self, *, new_database: bool = False) -> Mapping[str, str]: ...


class ServiceWatch(Protocol):
    """Service changes as they happen (`Runtime.watch_services()`); a context manager.

    Opened BEFORE the start it watches, so no change is missed. For Compose: one
    `docker events` stream, not a process per look.
    """

    def changes(self, timeout: float) -> list[ServiceStatus]:
        """Block until a service changed since the last call (the first call returns at once),
        or `timeout` seconds passed; then return every service as `services()` would."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> ServiceWatch: ...

    def __exit__(self, *exc: object) -> None: ...


@dataclass(frozen=True)
class Mount:
    """A folder or file of this machine shown to a one-off as one of the plan's places: the
    target resolves the place (a path inside a container, or the folder itself locally), and
    the one-off's arguments and environment name it with `PlaceRef`s, never with a path."""

    source: Path
    target: Place
    read_only: bool = True


# ---------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class RenderedFile:
    content: bytes
    mode: int = 0o644
    # A uid that must own the file when tinyctl runs as root (a 0600 secret that a non-root
    # container reads); None: the user running tinyctl owns it.
    owner: int | None = None


@dataclass(frozen=True)
class RenderedFolder:
    """A folder of the state folder a target's stack uses: its mode (None: as made), and the uid
    that owns it when tinyctl runs as root."""

    mode: int | None = None
    owner: int | None = None


@dataclass(frozen=True)
class RenderInputs:
    """What a target renders the plan with besides the plan: the secrets' values, the loaded
    spec (its folders and image recipes), the environment, and facts of this machine."""

    loaded: LoadedSpec
    secrets: Secrets
    environ: Mapping[str, str]
    uid: int  # of the user running tinyctl
    ca_bundle: Path | None  # the machine's CA bundle, for builds behind a TLS-inspecting proxy


class Renderer(Protocol):
    """A target's `render` module: the plan into that target's files. Pure (no write)."""

    def render_files(self, plan: StackPlan, inputs: RenderInputs) -> dict[str, RenderedFile]:
        """{path relative to the state folder: file}."""
        ...

    def state_folders(self, plan: StackPlan, inputs: RenderInputs) -> dict[str, RenderedFolder]:
        """{folder relative to the state folder: how it is made}."""
        ...


@dataclass(frozen=True)
class OneOffResult:
    exit_code: int
    stdout: str
    stderr: str


class Runtime(Protocol):
    """What tinyctl asks of the thing that runs a project's stack.

    Errors: a missing engine or tool raises `EnvironmentProblem`; a failed action `WorkFailed`;
    an unknown service name `BadInput`. No method prints.
    """

    name: str  # "compose", "local", ...: shown by `status`
    project: str  # the project's name
    reason: str  # why this runtime was chosen (set by `make_runtime`, shown by `status`)

    # ------------------------------------------------------------------ the machine

    def check_engine(self) -> dict[str, str]:
        """Check that what this runtime needs is installed and reachable (raise
        EnvironmentProblem naming the fix otherwise); return facts to show, e.g. versions."""
        ...

    def memory_bytes(self) -> int:
        """Memory available to the stack, in bytes (the pre-flight compares it with the need)."""
        ...

    def describe_port_holder(self, port: int, process: str | None) -> str | None:
        """Who holds host `port`, in this runtime's words, when it knows better than the OS
        (`process` is what the OS reported, e.g. "docker-proxy (pid 12)", or None when it could
        not tell): e.g. "container x-postgres-1 of project x". None when it does not know."""
        ...

    def check_ownership(self) -> None:
        """Raise EnvironmentProblem (exit 3) when what this runtime would use for the project
        (for Compose: containers, volumes, networks of its project name) belongs to another
        tinyctl project, naming that project's folder and the ways out; take over, without
        data loss, what an earlier tinyctl made for this same project."""
        ...

    def orphaned_ids(self) -> list[str]:
        """The project ids of a stack started from this very folder under an identity its state
        folder no longer holds (the folder deleted and made again while the stack ran): what
        `up --adopt` and `down --orphaned` take over. None while another folder's stack uses the
        project's name, or where the runtime keeps no stack outside the state folder."""
        ...

    # ------------------------------------------------------------------ images / installs

    def images_to_build(self) -> list[str]:
        """Services whose image (or installation) is missing or out of date; [] when none is."""
        ...

    def build(
        self,
        *,
        force: bool = False,
        show_output: bool = True,
        on_step: ProgressCallback | None = None,
    ) -> list[BuildOutcome]:
        """Build what `images_to_build` names (everything buildable with `force`); report each.
        `show_output` lets the build tool write to the terminal; `on_step` gets one-line steps."""
        ...

    def airflow_install(self) -> str | None:
        """What identifies the Airflow installation the stack's components run: the image's id
        (Compose), the environment's inputs digest (local); None while there is none."""
        ...

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, skip: OneShotSkips | None = None) -> StartHandle:
        """Start (or update to the rendered state) every service, in the background; the caller
        watches `services()` until all are ok. Starting an up-to-date stack changes nothing.
        With `skip`, the database (and broker) start first; once the database runs,
        `skip()` (which waits until it accepts connections) names the one-shots to leave out
        (their status then says "skipped"); the others run before the long-running services
        start, as without it."""
        ...

    def end_start(self) -> None:
        """The stack is healthy: end what only its start needed (a service's `start_weight`,
        where the runtime applied one). Never fails: what cannot be ended stays as started."""
        ...

    def stop(self, *, volumes: bool = False) -> None:
        """Stop and remove the services; keep the data unless `volumes` (then delete only this
        project's own data: what carries its identity). A never-started project is a no-op.
        Refuses like `check_ownership` rather than stop another project's stack."""
        ...

    def restart(self, service: str | None = None, *, skip: OneShotSkips | None = None) -> None:
        """Restart one service, or all of them (`skip` as for `start`, where the runtime starts
        its one-shots again)."""
        ...

    def restart_airflow(self) -> None:
        """Restart every running Airflow component (so each loads the deployed plugins)."""
        ...

    # ------------------------------------------------------------------ observing

    def expected_services(self) -> list[str]:
        """The services this project's spec runs, in start order."""
        ...

    def services(self) -> list[ServiceStatus]:
        """Every unit of this project's own stack, one per expected unit (state "missing" for
        those not created). Never lists another project's units, nor units this project's
        identity did not create (`require_up` relies on it)."""
        ...

    def service_statuses(self, services: Sequence[str]) -> list[ServiceStatus]:
        """`services()` restricted to the named services, asked as cheaply as the runtime can
        (what a command checks before it connects to one service, e.g. Postgres)."""
        ...

    def watch_services(self) -> ServiceWatch:
        """A watch on the services' state (see `ServiceWatch`): how `up` waits without polling."""
        ...

    def running_for(self, services: Sequence[str]) -> dict[str, float]:
        """{unit name: seconds since it started} of the named services that run."""
        ...

    def service_starts(self, services: Sequence[str]) -> dict[str, str]:
        """{unit name: a token of the unit's current start} of the named services that run: it
        changes when a unit is restarted (or replaced), and a stopped unit is left out. How a
        long run (a DAG run of test-etl) knows the stack did not restart under it."""
        ...

    def logs(
        self, service: str | None = None, *, tail: int | None = None, follow: bool = False
    ) -> Iterator[str]:
        """Log lines of one service (or all), the last `tail` per service; `follow` keeps going."""
        ...

    # ------------------------------------------------------------------ running commands

    def exec(
        self,
        service: str,
        argv: list[str],
        *,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """Run `argv` where `service` runs (its container, or its environment), wait, and return
        (exit code, stdout+stderr)."""
        ...

    def interactive(
        self, service: str, argv: list[str], *, env: dict[str, str] | None = None
    ) -> int:
        """Like `exec`, attached to this terminal; returns the exit code."""
        ...

    def run_oneoff(
        self,
        argv: Sequence[Value],
        *,
        mounts: Sequence[Mount] = (),
        env: Mapping[str, Value] | None = None,
        input: bytes | None = None,
        network: bool = False,
        workdir: Value | None = None,
        interactive: bool = False,
        on_step: ProgressCallback | None = None,
    ) -> OneOffResult:
        """Run `argv` in a throw-away container of the project's Airflow image (or its Airflow
        environment), no stack needed (the image is built first when it is missing or stale).
        `argv`, `env` values and `workdir` may name the mounts' places (`PlaceRef`), which the
        runtime resolves. `network=False` cuts it off from every network; `interactive`
        attaches the terminal (the result then has no output)."""
        ...

    # ------------------------------------------------------------------ reaching the stack

    def api_url(self) -> str:
        """The base URL of Airflow's API server, from this machine."""
        ...

    def postgres_address(self) -> tuple[str, int]:
        """(host, port) where this machine reaches the stack's PostgreSQL."""
        ...

    def postgres_address_in_stack(self) -> tuple[str, int]:
        """(host, port) where Airflow's tasks reach PostgreSQL (the warehouse connections)."""
        ...

    def dag_folder(self) -> Path:
        """The folder on this machine whose files the stack's dag-processor reads: deploy
        writes DAG files here (for Compose, the state folder's bind-mounted `dags/`)."""
        ...

    def airflow_dag_folder(self) -> str:
        """The same folder as Airflow sees it (the prefix of its DAGs' `fileloc`)."""
        ...


class ClosingWatch:
    """What every `ServiceWatch` shares: a context manager that calls `close()` on the way out
    (nothing to release unless a subclass says so)."""

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
