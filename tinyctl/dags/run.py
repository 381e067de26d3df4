"""`tinyctl run DAG`: trigger one run through the scheduler, follow each task's state, and hand
over the log of a task as soon as it fails (or is up for retry), while the run goes on."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tinyctl.errors import BadInput, TinyctlError, WorkFailed

if TYPE_CHECKING:
    from tinyctl.airflow import AirflowClient

POLL = 0.5
LOG_STATES = ("failed", "up_for_retry")


@dataclass
class TaskState:
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    seconds: float | None = None

    @property
    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "map_index": self.map_index,
            "state": self.state,
            "try_number": self.try_number,
            "seconds": self.seconds,
        }


@dataclass
class RunResult:
    dag_id: str
    run_id: str
    state: str
    seconds: float
    tasks: list[TaskState] = field(default_factory=list)
    failed_logs: dict[str, str] = field(default_factory=dict)  # "task (try N)" -> log
    logical_date: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "success"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "state": self.state,
            "logical_date": self.logical_date,
            "seconds": round(self.seconds, 2),
            "tasks": [t.as_dict() for t in self.tasks],
            "failed_logs": self.failed_logs,
        }


def parse_conf(text: str | None) -> dict[str, Any]:
    """--conf: a JSON object, or @FILE with one."""
    if not text:
        return {}
    source = "--conf"
    if text.startswith("@"):
        from pathlib import Path

        path = Path(text[1:])
        if not path.is_file():
            raise BadInput(f"{path} does not exist", hint="--conf @FILE names a JSON file.")
        source, text = str(path), path.read_text()
    try:
        value = json.loads(text)
    except ValueError as error:
        raise BadInput(
            f"{source} is not valid JSON: {error}",
            hint='Pass a JSON object, e.g. --conf \'{"day": "2026-11-01"}\'.',
        ) from None
    if not isinstance(value, dict):
        raise BadInput(f"{source} must be a JSON object, not {type(value).__name__}")
    return value


def parse_logical_date(text: str | None) -> str | None:
    """--logical-date: a date or an ISO 8601 timestamp; a date means midnight UTC."""
    if not text:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            value = datetime.fromisoformat(text).replace(tzinfo=UTC)
        else:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
    except ValueError:
        raise BadInput(
            f"--logical-date {text!r} is not a date or ISO 8601 timestamp",
            hint="e.g. --logical-date 2026-11-01 or 2026-11-01T06:00:00+00:00",
        ) from None
    return value.isoformat()


def run_dag(
    client: AirflowClient,
    dag_id: str,
    *,
    conf: dict[str, Any] | None = None,
    logical_date: str | None = None,
    timeout: float = 600.0,
    unpause: bool = True,
    on_tasks: Callable[[list[TaskState], str], None] | None = None,
    on_failed_log: Callable[[TaskState, str], None] | None = None,
) -> RunResult:
    """Trigger `dag_id` and follow the run until it ends (or `timeout` seconds pass)."""
    dag = client.dag(dag_id)
    if dag is None or dag.is_stale:
        known = sorted(d.dag_id for d in client.dags(include_stale=False))
        errors = client.import_errors()
        details = "\n".join(
            f"{e.filename}: {(e.stack_trace or '').strip().splitlines()[-1:]}" for e in errors[:5]
        )
        raise BadInput(
            f"DAG {dag_id!r} is not in Airflow",
            details=("import errors:\n" + details) if errors else None,
            hint=(
                "Known DAGs: " + ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
                if known
                else "Deploy it first: `tinyctl deploy-dags`."
            ),
        )
    if dag.is_paused and unpause:
        client.set_paused(dag_id, False)
    run_id = "tinyctl_run__" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    started = time.monotonic()
    try:
        client.trigger(
            dag_id, run_id=run_id, conf=conf, logical_date=logical_date, note="tinyctl run"
        )
    except TinyctlError as error:
        if "409" in error.message or "already exists" in (error.details or "").lower():
            raise BadInput(
                f"a run of {dag_id} for logical date {logical_date} already exists",
                hint="Pick another --logical-date, or clear that run in Airflow.",
            ) from None
        raise
    result = RunResult(dag_id, run_id, "queued", 0.0, logical_date=logical_date)
    logged: set[tuple[str, int, int]] = set()
    deadline = started + timeout
    while True:
        run = client.dag_run(dag_id, run_id)
        result.state = run.state
        result.tasks = sorted(
            (
                TaskState(ti.task_id, ti.map_index, ti.state, ti.try_number, ti.duration)
                for ti in client.task_instances(dag_id, run_id)
            ),
            key=lambda t: (t.task_id, t.map_index),
        )
        if on_tasks:
            on_tasks(result.tasks, run.state)
        for task in result.tasks:
            key = (task.task_id, task.map_index, task.try_number)
            if task.state in LOG_STATES and key not in logged:
                logged.add(key)
                text = _log(client, dag_id, run_id, task)
                result.failed_logs[f"{task.label} (try {max(task.try_number, 1)})"] = text
                if on_failed_log:
                    on_failed_log(task, text)
        if run.finished:
            break
        if time.monotonic() > deadline:
            result.seconds = time.monotonic() - started
            raise WorkFailed(
                f"the run {run_id} of {dag_id} did not finish within {timeout:.0f} s "
                f"(state {run.state})",
                hint="It goes on in Airflow; raise --timeout, or look at it in the UI.",
            )
        time.sleep(POLL)
    result.seconds = time.monotonic() - started
    return result


def _log(client: AirflowClient, dag_id: str, run_id: str, task: TaskState) -> str:
    try:
        return client.task_log(
            dag_id, run_id, task.task_id, max(task.try_number, 1), map_index=task.map_index
        )
    except TinyctlError as error:
        return f"(log not available: {error.message})"
