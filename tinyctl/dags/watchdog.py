"""Is the stack a DAG run started on still the same stack? A service that stops or restarts
under a run (killed, OOM-killed, crashed) takes the run's work with it: its task processes, its
heartbeats, its database connections. Airflow notices a lost task only after its heartbeat
timeout (minutes); this says so at once, so a test run on a broken stack is an error, never a
hang until its timeout, and never a pass.
"""

from __future__ import annotations

import time

from tinyctl.errors import WorkFailed
from tinyctl.project import Project

INTERVAL = 2.0  # seconds between two looks (each an engine API request or a pid check per unit)


class StackChanged(WorkFailed):
    title = "The stack changed under the run"


class StackWatch:
    """The starts of the stack's running services when the run began, compared on `problem()`."""

    def __init__(self, project: Project):
        self.runtime = project.runtime
        self.services = self.runtime.expected_services()
        self.first = self.runtime.service_starts(self.services)
        self.looked = time.monotonic()

    def problem(self, *, now: bool = False) -> str | None:
        """What stopped or restarted since the run began (None: nothing); at most every
        INTERVAL seconds unless `now`."""
        if not now and time.monotonic() - self.looked < INTERVAL:
            return None
        self.looked = time.monotonic()
        starts = self.runtime.service_starts(self.services)
        gone = [name for name in self.first if name not in starts]
        restarted = [
            name for name in self.first if name in starts and starts[name] != self.first[name]
        ]
        if not gone and not restarted:
            return None
        statuses = {s.name: s for s in self.runtime.services()}
        parts = [
            f"{statuses[name].describe() if name in statuses else name} stopped during the run"
            for name in gone
        ]
        parts += [
            f"{name} was restarted during the run"
            + (
                f" (it had been killed: {statuses[name].describe()})"
                if name in statuses and statuses[name].oom_killed
                else ""
            )
            for name in restarted
        ]
        return "; ".join(parts)

    def check(self, *, now: bool = False) -> None:
        """Raise StackChanged when a service stopped or restarted since the run began."""
        problem = self.problem(now=now)
        if problem is not None:
            raise StackChanged(
                problem,
                hint="The run's work in that service was lost (Airflow finds a lost task only "
                "after minutes), so its result cannot be trusted. `tinyctl status` says what "
                "runs now; `tinyctl up` brings the stack back, then run the command again.",
            )
