"""A fake Runtime and a fake Airflow client, for core logic that needs no engine.

Used only where the real thing cannot be made to behave on purpose (a service that stays
starting, a one-shot that fails at a chosen poll, an Airflow with chosen settings); everything
else runs for real (render, the state folder, the spec).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tinyctl.airflow.models import Pool, Variable
from tinyctl.project import Project
from tinyctl.targets.base import BuildOutcome, ClosingWatch, ServiceStatus, StartHandle

SERVICES = [
    "postgres",
    "db-setup",
    "airflow-init",
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
]
ONE_SHOT = {"db-setup", "airflow-init"}


class PollingWatch(ClosingWatch):
    """The fake runtime's `ServiceWatch`: asks `services()` every `interval` seconds (the first
    call at once), as a runtime without change notifications would."""

    def __init__(self, services: Callable[[], list[ServiceStatus]], interval: float = 0.5):
        self._services, self._interval, self._first = services, interval, True

    def changes(self, timeout: float) -> list[ServiceStatus]:
        if not self._first:
            time.sleep(max(0.0, min(timeout, self._interval)))
        self._first = False
        return self._services()


def open_on_free_ports(root: Path) -> Project:
    """The scaffolded project in `root`, its Airflow and Postgres ports moved to free ones."""
    from conftest import free_port

    spec = root / "tinyctl.yaml"
    spec.write_text(
        spec.read_text()
        .replace("port: 8080", f"port: {free_port()}")
        .replace("port: 5432", f"port: {free_port()}")
    )
    return Project.open(spec)


def statuses(**states: tuple[str, str]) -> list[ServiceStatus]:
    """ServiceStatus for every service: state/health given per service, else missing."""
    result = []
    for name in SERVICES:
        state, health = states.get(name.replace("-", "_"), ("missing", "none"))
        result.append(ServiceStatus(name, name, state, health, one_shot=name in ONE_SHOT))
    return result


HEALTHY = statuses(
    postgres=("running", "healthy"),
    db_setup=("exited", "completed"),
    airflow_init=("exited", "completed"),
    api_server=("running", "healthy"),
    scheduler=("running", "healthy"),
    dag_processor=("running", "healthy"),
    triggerer=("running", "healthy"),
)


@dataclass
class FakeRuntime:
    """A Runtime whose services() walks through a script of snapshots (the last one repeats)."""

    project_obj: Project
    script: list[list[ServiceStatus]] = field(default_factory=lambda: [statuses()])
    logs_text: dict[str, str] = field(default_factory=dict)
    name: str = "fake"
    calls: list[str] = field(default_factory=list)
    started: bool = False
    cancelled: bool = False

    @property
    def project(self) -> str:
        return self.project_obj.name

    def check_engine(self) -> dict[str, str]:
        self.calls.append("check_engine")
        return {"engine": "fake"}

    def check_ownership(self) -> None:
        self.calls.append("check_ownership")

    def memory_bytes(self) -> int:
        return 64 * 1024**3

    def describe_port_holder(self, port: int, process: str | None) -> str | None:
        return None

    def images_to_build(self) -> list[str]:
        return []

    def build(self, **_kwargs: object) -> list[BuildOutcome]:
        return []

    def start(self, *, skip: object = None) -> StartHandle:
        self.calls.append("start")
        self.started = True

        def cancel() -> None:
            self.cancelled = True

        return StartHandle(done=lambda: True, result=lambda: "", cancel=cancel)

    def airflow_install(self) -> str | None:
        return "fake"

    def stop(self, *, volumes: bool = False) -> None:
        self.calls.append(f"stop volumes={volumes}")

    def end_start(self) -> None:
        self.calls.append("end_start")

    def restart(self, service: str | None = None, *, skip: object = None) -> None:
        self.calls.append(f"restart {service}")

    def expected_services(self) -> list[str]:
        return list(SERVICES)

    def services(self) -> list[ServiceStatus]:
        self.calls.append("services")
        if not self.started:
            found = self.script[0] if len(self.script) == 1 else statuses()
        else:
            found = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return [self._publishing(s) for s in found]

    def _publishing(self, status: ServiceStatus) -> ServiceStatus:
        """A running postgres / api-server listens on the spec's port, as a real stack does
        (unless a test scripted other ports)."""
        from dataclasses import replace

        spec = self.project_obj.spec
        port = {"postgres": spec.postgres.port, "api-server": spec.airflow.port}.get(status.service)
        if status.running and port is not None and not status.published:
            return replace(status, published=(port,))
        return status

    def watch_services(self) -> PollingWatch:
        return PollingWatch(self.services)

    def running_for(self, services: Sequence[str]) -> dict[str, float]:
        return {}

    def service_starts(self, services: Sequence[str]) -> dict[str, str]:
        return {s.name: "1" for s in self.services() if s.service in services and s.running}

    def service_statuses(self, services: Sequence[str]) -> list[ServiceStatus]:
        wanted = set(services)
        return [s for s in self.services() if s.service in wanted]

    def logs(
        self, service: str | None = None, *, tail: int | None = None, follow: bool = False
    ) -> Iterator[str]:
        return iter(self.logs_text.get(service or "", "").splitlines())

    def exec(self, service: str, argv: list[str], **_kwargs: object) -> tuple[int, str]:
        return 1, "fake runtime: no exec"

    def interactive(self, service: str, argv: list[str], **_kwargs: object) -> int:
        return 1

    api = "http://127.0.0.1:9"  # discard: nothing answers (a test may point it at a server)

    def api_url(self) -> str:
        return self.api

    def postgres_address(self) -> tuple[str, int]:
        return "127.0.0.1", 9

    def postgres_address_in_stack(self) -> tuple[str, int]:
        return "warehouse-host", 6543

    def dag_folder(self) -> Path:
        return self.project_obj.state.dags_dir

    def airflow_dag_folder(self) -> str:
        return "/fake/dags"


def with_runtime(project: Project, make: Callable[[Project], FakeRuntime]) -> FakeRuntime:
    fake = make(project)
    project.__dict__["runtime"] = fake  # Project.runtime is a cached property
    return fake


@dataclass
class FakeAirflow:
    """The settings part of Airflow's API, in memory, recording each write."""

    conns: dict[str, dict] = field(default_factory=dict)
    vars: dict[str, Variable] = field(default_factory=dict)
    pool_map: dict[str, Pool] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)

    def connections(self) -> dict[str, dict]:
        return {
            k: {**v, "password": "***" if v.get("password") else None}
            for k, v in self.conns.items()
        }

    def create_connection(self, body: dict) -> None:
        self.writes.append(f"create connection {body['connection_id']}")
        self.conns[body["connection_id"]] = dict(body)

    def update_connection(self, conn_id: str, body: dict) -> None:
        self.writes.append(f"update connection {conn_id}")
        self.conns[conn_id] = dict(body)

    def variables(self) -> dict[str, Variable]:
        return dict(self.vars)

    def create_variable(self, key: str, value: str, description: str | None = None) -> None:
        self.writes.append(f"create variable {key}")
        self.vars[key] = Variable(key, value, description)

    def update_variable(self, key: str, value: str, description: str | None = None) -> None:
        self.writes.append(f"update variable {key}")
        self.vars[key] = Variable(key, value, description)

    def pools(self) -> dict[str, Pool]:
        return dict(self.pool_map)

    def create_pool(
        self, name: str, slots: int, description: str | None = None, include_deferred: bool = False
    ) -> None:
        self.writes.append(f"create pool {name}")
        self.pool_map[name] = Pool(name, slots, description, include_deferred)

    def update_pool(
        self, name: str, slots: int, description: str | None = None, include_deferred: bool = False
    ) -> None:
        self.writes.append(f"update pool {name}")
        self.pool_map[name] = Pool(name, slots, description, include_deferred)


class FakeDagProcessor:
    """The DAG part of Airflow's API over the runtime's DAG folder: each `dags()` call parses
    the files changed since the last one. A file containing `RAISE` fails to import."""

    def __init__(self, folder: Path, seen_as: str):
        from datetime import UTC, datetime

        self._now = lambda: datetime.now(UTC)
        self.folder, self.seen_as = folder, seen_as
        self.parsed: dict[str, bytes] = {}
        self.dag_map: dict[str, object] = {}
        self.errors: dict[str, object] = {}
        self.paused: dict[str, bool] = {}
        self.reparsed: list[str] = []

    def _parse(self) -> None:
        import re

        from tinyctl.airflow.models import Dag, ImportErrorInfo

        for path in sorted(self.folder.rglob("*.py")):
            rel = path.relative_to(self.folder).as_posix()
            content = path.read_bytes()
            if self.parsed.get(rel) == content:
                continue
            self.parsed[rel] = content
            now = self._now()
            if b"RAISE" in content:
                trace = f'Traceback:\n  File "{self.seen_as}/{rel}", line 3, in <module>\nRuntimeError: RAISE'
                self.errors[rel] = ImportErrorInfo(1, rel, rel, "dags-folder", trace, now)
                continue
            self.errors.pop(rel, None)
            for dag_id in re.findall(rb'dag_id="([a-z_]+)"', content):
                name = dag_id.decode()
                self.dag_map[name] = Dag(
                    dag_id=name,
                    is_paused=self.paused.get(name, True),
                    is_stale=False,
                    fileloc=f"{self.seen_as}/{rel}",  # no relative_fileloc: the folder maps it
                    relative_fileloc=None,
                    bundle_name="dags-folder",
                    file_token=f"token-{rel}",
                    last_parsed_time=now,
                )

    def dags(self) -> list:
        self._parse()
        return list(self.dag_map.values())

    def import_errors(self) -> list:
        self._parse()
        return list(self.errors.values())

    def reparse(self, token: str) -> None:
        self.reparsed.append(token)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.paused[dag_id] = paused
