""" "The runtime": the one interface every command uses to run the stack.

Two implementations: Compose (`tinyctl.runtime.compose`) and local processes for machines
without Docker (`tinyctl.runtime.local`), chosen in one place (`tinyctl.runtime.make_runtime`).
Nothing outside the runtime package knows which one is in use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

ONE_SHOT = ("db-setup", "airflow-init")


@dataclass(frozen=True)
class ServiceStatus:
    """One running unit of the stack (a container, for Compose)."""

    name: str  # unique: "worker-2" when a service has several replicas
    service: str
    state: str  # running, exited, created, restarting, missing, ...
    health: str  # healthy, unhealthy, starting, completed, failed, none
    ports: tuple[str, ...] = ()
    exit_code: int = 0
    published: tuple[int, ...] = ()  # host ports

    @property
    def one_shot(self) -> bool:
        return self.service in ONE_SHOT

    @property
    def ok(self) -> bool:
        if self.one_shot:
            return self.health == "completed"
        return self.state == "running" and self.health in ("healthy", "none")

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "service": self.service,
            "state": self.state,
            "health": self.health,
            "ports": list(self.ports),
        }


@dataclass(frozen=True)
class BuildOutcome:
    service: str
    image: str
    built: bool  # False: the image was already current
    reason: str = ""


@dataclass
class StartHandle:
    """A start in progress: poll `done()`, then `result()` raises if starting failed."""

    done: Callable[[], bool]
    result: Callable[[], str]
    cancel: Callable[[], None]


ProgressCallback = Callable[[str], None]


class Runtime(Protocol):
    name: str
    project: str
    reason: str  # why this runtime was chosen (shown by `status`)

    def check_engine(self) -> dict[str, str]:
        """Raise EnvironmentProblem when the engine is missing; return facts about it."""
        ...

    def memory_bytes(self) -> int: ...

    def build(
        self,
        *,
        force: bool = False,
        show_output: bool = True,
        on_step: ProgressCallback | None = None,
    ) -> list[BuildOutcome]: ...

    def images_to_build(self) -> list[str]: ...

    def start(self) -> StartHandle: ...

    def services(self) -> list[ServiceStatus]: ...

    def expected_services(self) -> list[str]: ...

    def stop(self, *, volumes: bool = False) -> None: ...

    def restart(self, service: str | None = None) -> None: ...

    def logs(
        self, service: str | None = None, *, tail: int | None = None, follow: bool = False
    ) -> Iterator[str]: ...

    def exec(
        self,
        service: str,
        argv: list[str],
        *,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]: ...

    def interactive(
        self, service: str, argv: list[str], *, env: dict[str, str] | None = None
    ) -> int: ...

    def api_url(self) -> str: ...

    def postgres_address(self) -> tuple[str, int]:
        """Where tinyctl (on the host) reaches Postgres."""
        ...

    def airflow_postgres_address(self) -> tuple[str, int]:
        """Where Airflow's tasks reach Postgres (the warehouse connections tinyctl manages)."""
        ...
