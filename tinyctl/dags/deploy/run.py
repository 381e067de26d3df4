"""One `deploy-dags` run's state, shared by its phases: where files go, what was written and
is waiting for Airflow, what is settled, the results so far."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tinyctl.airflow import AirflowClient, Dag
from tinyctl.dags.checks import LocalCheck
from tinyctl.dags.deploy.results import FileResult
from tinyctl.errors import TinyctlError
from tinyctl.project import Project
from tinyctl.state.fsutil import remove_stale_temps, sha256_bytes, write_atomic

POLL = 0.2
BUNDLE = "dags-folder"  # Airflow's default bundle: the local DAG folder


@dataclass
class Pending:
    """A file written into the stack whose outcome Airflow has not confirmed yet."""

    rel: str
    new: bytes
    old: bytes | None
    written_at: datetime
    started: float
    check: LocalCheck
    because: str | None = None  # re-parsed for changed include code: nothing to roll back


class Verdicts:
    """What each deployed content turned out to be (by hash), so an unchanged file gets the same
    verdict on every deploy: Airflow itself keeps no record of a parsed file with no DAG."""

    def __init__(self, path: Path):
        self.path = path
        self.changed = False
        try:
            self.data: dict[str, str] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def get(self, content: bytes) -> str | None:
        return self.data.get(sha256_bytes(content))

    def set(self, content: bytes, verdict: str) -> None:
        key = sha256_bytes(content)
        if self.data.get(key) != verdict:
            self.data[key] = verdict
            self.changed = True

    def save(self) -> None:
        if self.changed:
            write_atomic(self.path, json.dumps(self.data, sort_keys=True).encode())


@dataclass
class DeployRun:
    project: Project
    client: AirflowClient
    emit: Callable[[FileResult], None]
    timeout: float
    target_root: Path  # the stack's DAG folder on this machine
    seen_as: str  # the same folder as Airflow sees it
    verdicts: Verdicts
    started: float = field(default_factory=time.monotonic)
    results: list[FileResult] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    unchanged: list[tuple[str, LocalCheck, bytes]] = field(default_factory=list)
    settled: set[str] = field(default_factory=set)  # outcome known: nothing to roll back
    timings: dict[str, float] = field(default_factory=dict)
    confirming: float = 0.0  # when the wait for Airflow's word began

    @classmethod
    def begin(
        cls,
        project: Project,
        client: AirflowClient,
        *,
        timeout: float,
        on_result: Callable[[FileResult], None] | None,
    ) -> DeployRun:
        started = time.monotonic()
        target_root = project.runtime.dag_folder()
        target_root.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target_root)  # left by a deploy killed while writing a file
        return cls(
            project,
            client,
            on_result or (lambda _r: None),
            timeout,
            target_root,
            project.runtime.airflow_dag_folder(),
            Verdicts(project.state.cache_dir / "dag-verdicts.json"),
            started,
        )

    def report(self, result: FileResult) -> None:
        self.results.append(result)
        self.emit(result)

    def dags_by_file(self) -> dict[str, list[Dag]]:
        return by_file(self.client.dags(), self.seen_as)

    def request_parse(self, dags: list[Dag]) -> None:
        """Ask Airflow to parse a file now; any of its DAGs carries the file's token. New files
        have no token yet: the dag-processor's one-second folder refresh finds them."""
        token = next((d.file_token for d in dags if d.file_token), None)
        if token:
            with contextlib.suppress(TinyctlError):  # the folder refresh still picks it up
                self.client.reparse(token)

    def roll_back(self, item: Pending) -> None:
        """Put the previous bytes back, or remove a file that was not there before."""
        target = self.target_root / item.rel
        if item.old is not None:
            write_atomic(target, item.old)
        else:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()


def by_file(dags: list[Dag], folder: str) -> dict[str, list[Dag]]:
    """DAGs grouped by their file's name relative to the DAG folder (`folder` as Airflow sees it)."""
    prefix = folder.rstrip("/") + "/"
    grouped: dict[str, list[Dag]] = {}
    for dag in dags:
        key = dag.relative_fileloc or ""
        if not key and dag.fileloc and dag.fileloc.startswith(prefix):
            key = dag.fileloc[len(prefix) :]
        grouped.setdefault(key, []).append(dag)
    return grouped
