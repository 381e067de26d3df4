"""The Compose start in phases, with the `docker compose` processes recorded (each one a real
`true` process) and the services scripted: which commands run, in which order, for each
decision about the one-shots."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence

import pytest

from tinyctl.errors import WorkFailed
from tinyctl.targets.base import ServiceStatus
from tinyctl.targets.compose.start import PhasedStart, StartCancelled

SERVICES = ["postgres", "db-setup", "airflow-init", "api-server", "scheduler", "dag-processor"]
UP = ["up", "--detach", "--pull", "missing"]


class Stack:
    """Records the compose commands; every service is ready, unless a test says otherwise."""

    def __init__(self, failing: str | None = None):
        self.commands: list[list[str]] = []
        self.failing = failing
        self.skipped_seen: dict[str, str] | None = None

    def launch(self, args: Sequence[str]) -> subprocess.Popen[bytes]:
        self.commands.append(list(args))
        return subprocess.Popen(["true"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def statuses(self, services: Sequence[str]) -> list[ServiceStatus]:
        result = []
        for name in services:
            if name in ("db-setup", "airflow-init"):
                code = 1 if name == self.failing else 0
                health = "failed" if code else "completed"
                result.append(
                    ServiceStatus(name, name, "exited", health, exit_code=code, one_shot=True)
                )
            else:
                result.append(ServiceStatus(name, name, "running", "healthy"))
        return result

    def start(self, skipped: dict[str, str]) -> PhasedStart:
        def on_skip(decided) -> None:
            self.skipped_seen = dict(decided)

        return PhasedStart(self.launch, self.statuses, SERVICES, lambda: skipped, on_skip)


def test_nothing_skipped_starts_the_database_then_everything_as_compose_orders_it() -> None:
    stack = Stack()
    stack.start({}).run()
    assert stack.commands == [[*UP, "--remove-orphans", "postgres"], [*UP, "--remove-orphans"]]
    assert stack.skipped_seen == {}


def test_both_skipped_starts_the_long_running_services_without_their_dependencies() -> None:
    stack = Stack()
    stack.start({"db-setup": "why", "airflow-init": "why"}).run()
    assert stack.commands == [
        [*UP, "--remove-orphans", "postgres"],
        [*UP, "--no-deps", "api-server", "scheduler", "dag-processor"],
    ]
    assert stack.skipped_seen == {"db-setup": "why", "airflow-init": "why"}


def test_one_skipped_runs_the_other_alone_and_waits_for_it() -> None:
    stack = Stack()
    stack.start({"airflow-init": "why"}).run()
    assert stack.commands == [
        [*UP, "--remove-orphans", "postgres"],
        [*UP, "--no-deps", "db-setup"],
        [*UP, "--no-deps", "api-server", "scheduler", "dag-processor"],
    ]


def test_a_one_shot_that_fails_stops_the_start_before_the_components() -> None:
    stack = Stack(failing="db-setup")
    with pytest.raises(WorkFailed, match="db-setup failed"):
        stack.start({"airflow-init": "why"}).run()
    assert stack.commands[-1] == [*UP, "--no-deps", "db-setup"]


def test_a_stopped_start_runs_no_further_phase() -> None:
    stack = Stack()
    blocked = threading.Event()

    def slow_skip() -> dict[str, str]:
        blocked.set()
        return {}

    phased = PhasedStart(stack.launch, stack.statuses, SERVICES, slow_skip, lambda _s: None)
    phased.stop()
    with pytest.raises(StartCancelled):
        phased.run()
    assert stack.commands == [] and not blocked.is_set()


def test_a_new_data_volume_starts_everything_at_once_and_reads_no_record() -> None:
    stack = Stack()
    asked: list[bool] = []

    def skip(*, new_database: bool = False) -> dict[str, str]:
        asked.append(new_database)
        return {}

    def on_skip(decided) -> None:
        stack.skipped_seen = dict(decided)

    phased = PhasedStart(stack.launch, stack.statuses, SERVICES, skip, on_skip, new_database=True)
    phased.run()
    assert asked == [True] and stack.skipped_seen == {}
    assert stack.commands == [[*UP, "--remove-orphans"]]  # as plain Compose: one process
