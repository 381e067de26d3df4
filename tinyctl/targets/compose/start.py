"""How the Compose runtime starts a stack when one-shots may be left out: in phases.

0. the data volume was just created (a first `up`, or after `down --volumes`): no record can
   be in it, `skip(new_database=True)` is told so, and one `docker compose up -d` starts it
   all, as Compose alone would (a second process and the wait for the database to accept
   connections measured ~1 s of a cold start). Otherwise:
1. `docker compose up -d` of the database (and the broker), waited for until it runs (the
   broker until healthy);
2. the caller's `skip()` is asked, while only those run: it reads the databases' records,
   waiting until the database accepts connections;
3. nothing skipped: `docker compose up -d` of everything, Compose ordering the one-shots and
   the components as it always does; else each one-shot still to run on its own (`--no-deps`),
   waited for until it exited 0, then the long-running services with `--no-deps` (their
   `depends_on` names the one-shots left out).

Every `docker compose` process is the runtime's own (`Docker.start_compose`); `stop()` ends
the one running and keeps the next from starting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from subprocess import Popen

from tinyctl.errors import WorkFailed
from tinyctl.targets.base import POSTGRES, REDIS, OneShotSkips, ServiceStatus
from tinyctl.targets.docker import cli as docker_cli

UP = ("up", "--detach", "--pull", "missing")
ONE_SHOTS = ("db-setup", "airflow-init")  # in the order they run
POLL_SECONDS = 0.2


def _started(status: ServiceStatus) -> bool:
    """Ready for the next phase: the broker healthy; the database running (`skip()` itself
    waits until it accepts connections, sooner than its container's next health probe)."""
    if status.service == POSTGRES:
        return status.running and status.health != "unhealthy"
    return status.running and status.health in ("healthy", "none")


class StartCancelled(Exception):
    """The start was stopped (the caller gave up waiting): no further phase runs."""


class PhasedStart:
    """One start of the stack in phases (see the module docstring); `run` in a thread."""

    def __init__(
        self,
        launch: Callable[[Sequence[str]], Popen[bytes]],
        statuses: Callable[[Sequence[str]], list[ServiceStatus]],
        services: Sequence[str],
        skip: OneShotSkips,
        on_skip: Callable[[Mapping[str, str]], None],
        *,
        new_database: bool = False,
    ):
        self._launch, self._statuses, self._services = launch, statuses, list(services)
        self._skip, self._on_skip = skip, on_skip
        self._new_database = new_database
        self._process: Popen[bytes] | None = None
        self._cancelled = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> str:
        if self._new_database:
            self._on_skip(dict(self._skip(new_database=True)))
            return self._compose([*UP, "--remove-orphans"])
        first = [s for s in self._services if s in (POSTGRES, REDIS)]
        self._compose([*UP, "--remove-orphans", *first])
        self._wait(first, _started)
        skipped = dict(self._skip())
        self._on_skip(skipped)
        if not skipped:
            return self._compose([*UP, "--remove-orphans"])
        for one_shot in (s for s in ONE_SHOTS if s in self._services and s not in skipped):
            self._compose([*UP, "--no-deps", one_shot])
            self._wait([one_shot], lambda s: s.health == "completed")
        rest = [s for s in self._services if s not in first and s not in ONE_SHOTS]
        return self._compose([*UP, "--no-deps", *rest])

    def stop(self) -> None:
        self._cancelled.set()
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()

    def _compose(self, args: Sequence[str]) -> str:
        with self._lock:
            if self._cancelled.is_set():
                raise StartCancelled()
            self._process = self._launch(args)
        return docker_cli.finish(self._process, "docker compose up")

    def _wait(self, services: list[str], ready: Callable[[ServiceStatus], bool]) -> None:
        """Until every unit of `services` is `ready`; a one-shot that failed raises."""
        while not self._cancelled.is_set():
            found = self._statuses(services)
            failed = [s for s in found if s.one_shot and s.health == "failed"]
            if failed:
                raise WorkFailed(f"{failed[0].name} failed: exit code {failed[0].exit_code}")
            if found and all(ready(s) for s in found):
                return
            time.sleep(POLL_SECONDS)
        raise StartCancelled()
