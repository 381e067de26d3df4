"""One DAG run through the scheduler, for `tinyctl run DAG` and `tinyctl test-etl`: trigger it,
follow each task's state, and hand over the log of a task as soon as it fails (or is up for
retry), while the run goes on."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinyctl.airflow import AirflowClient, Dag, ImportErrorInfo, TaskInstance
from tinyctl.dags.watchdog import StackChanged, StackWatch
from tinyctl.errors import BadInput, TinyctlError, WorkFailed

POLL = 0.2  # seconds between two looks at a run (Airflow has ended it up to this long before)
LOG_STATES = ("failed", "up_for_retry")


@dataclass
class TaskState:
    """One task instance of a run, as last seen (a mapped task has one per map_index)."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    start: datetime | None = None
    end: datetime | None = None
    seconds: float | None = None

    @classmethod
    def of(cls, ti: TaskInstance) -> TaskState:
        return cls(
            ti.task_id,
            ti.map_index,
            ti.state,
            ti.try_number,
            ti.start_date,
            ti.end_date,
            ti.duration,
        )

    @property
    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"

    @property
    def log_key(self) -> str:
        """The key of this try's log in `RunResult.failed_logs`."""
        return f"{self.label} (try {max(self.try_number, 1)})"

    def as_dict(self, *keys: str) -> dict[str, Any]:
        """The task as JSON: every field, or only `keys` (a report that keeps its own shape)."""
        full = {
            "task_id": self.task_id,
            "map_index": self.map_index,
            "state": self.state,
            "try_number": self.try_number,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "seconds": self.seconds,
        }
        return {key: full[key] for key in keys} if keys else full


@dataclass
class RunResult:
    dag_id: str
    run_id: str
    state: str
    seconds: float
    tasks: list[TaskState] = field(default_factory=list)
    failed_logs: dict[str, str] = field(default_factory=dict)  # TaskState.log_key -> log
    logical_date: str | None = None
    timed_out: bool = False  # the run had not ended when the wait did; it goes on in Airflow

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


class DagNotFound(BadInput):
    """The DAG is not in Airflow (never deployed, or stale); `import_errors` says why, maybe."""

    def __init__(self, dag_id: str, import_errors: list[str], known: list[str]):
        super().__init__(
            f"DAG {dag_id!r} is not in Airflow",
            details=("import errors:\n" + "\n".join(import_errors[:5])) if import_errors else None,
            hint=(
                "Known DAGs: " + ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
                if known
                else "Deploy it first: `tinyctl deploy-dags`."
            ),
        )
        self.import_errors = import_errors


TasksCallback = Callable[[list[TaskState], str], None]  # every task, the run's state
FailedLogCallback = Callable[[TaskState, str], None]  # a task that failed (this try), its log


def parse_conf(text: str | None) -> dict[str, Any]:
    """--conf: a JSON object, or @FILE with one."""
    if not text:
        return {}
    source = "--conf"
    if text.startswith("@"):
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


def new_run_id(*parts: str) -> str:
    """`tinyctl_<parts joined by __>__<UTC timestamp>`: unique, and says who triggered the run."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return "__".join(("tinyctl_" + parts[0], *parts[1:], stamp))


def ready_dag(client: AirflowClient, dag_id: str) -> Dag:
    """The DAG, ready to run: in Airflow, not stale, unpaused (a paused DAG's runs never start).
    Raises DagNotFound, naming the import errors Airflow has, when it is not there."""
    dag = client.dag(dag_id)
    if dag is None or dag.is_stale:
        errors = [_import_error_line(e) for e in client.import_errors()]
        known = sorted(d.dag_id for d in client.dags(include_stale=False))
        raise DagNotFound(dag_id, errors, known)
    if dag.is_paused:
        client.set_paused(dag_id, False)
    return dag


def _import_error_line(error: ImportErrorInfo) -> str:
    last = (error.stack_trace or "").strip().splitlines()[-1:]
    return f"{error.filename}: {last[0] if last else '(no traceback)'}"


def trigger_and_wait(
    client: AirflowClient,
    dag_id: str,
    *,
    run_id: str,
    note: str,
    timeout: float,
    conf: dict[str, Any] | None = None,
    logical_date: str | None = None,
    on_tasks: TasksCallback | None = None,
    on_failed_log: FailedLogCallback | None = None,
    watch: StackWatch | None = None,
) -> RunResult:
    """Trigger a run of the (ready) DAG and follow it until it ends or `timeout` seconds pass
    (then `timed_out` is set: the run goes on in Airflow). Each poll hands every task to
    `on_tasks`; each failed try's log is fetched once, kept and handed to `on_failed_log`.
    `watch`: StackChanged as soon as a service of the stack stops or restarts under the run
    (also when that is why Airflow's API stopped answering)."""
    started = time.monotonic()
    _trigger(client, dag_id, run_id, conf, logical_date, note)
    result = RunResult(dag_id, run_id, "queued", 0.0, logical_date=logical_date)
    deadline = started + timeout
    while True:
        try:
            run = client.dag_run(dag_id, run_id)
            instances = client.task_instances(dag_id, run_id)
        except TinyctlError:
            if watch is not None:
                _watch(watch, client, dag_id, run_id, now=True)  # the API went with a service
            raise
        result.state = run.state
        result.tasks = sorted(map(TaskState.of, instances), key=lambda t: (t.task_id, t.map_index))
        if on_tasks:
            on_tasks(result.tasks, run.state)
        for task in result.tasks:
            if task.state in LOG_STATES and task.log_key not in result.failed_logs:
                result.failed_logs[task.log_key] = text = task_log(client, dag_id, run_id, task)
                if on_failed_log:
                    on_failed_log(task, text)
        result.seconds = time.monotonic() - started
        if watch is not None:  # a run that ended on a changed stack is no result either
            _watch(watch, client, dag_id, run_id, now=run.finished)
        if run.finished:
            return result
        if time.monotonic() > deadline:
            result.timed_out = True
            return result
        time.sleep(POLL)


UNFINISHED = ("queued", "running")


def stop_leftover_runs(client: AirflowClient, dag_ids: set[str], who: str) -> list[str]:
    """Mark failed the runs that a `tinyctl <who>` no longer running left unfinished (killed,
    interrupted, or on a stack that lost its scheduler: such a run holds `max_active_runs` for
    minutes, until Airflow finds its lost tasks). Only runs whose id says tinyctl's `who`
    triggered them, asked under the project's lock: never a run of anyone else. Their ids."""
    prefix = new_run_id(who).rsplit("__", 1)[0] + "__"
    known = {dag.dag_id for dag in client.dags()}  # a DAG not deployed yet has no runs
    stopped = []
    for dag_id in sorted(dag_ids & known):
        for run in client.dag_runs(dag_id, UNFINISHED):
            if run.run_id.startswith(prefix):
                client.fail_run(dag_id, run.run_id, f"left unfinished by an earlier tinyctl {who}")
                stopped.append(run.run_id)
    return stopped


def _stop_own_run(client: AirflowClient, dag_id: str, run_id: str, why: str) -> None:
    """The stack changed under our run: end it, where Airflow still answers."""
    with contextlib.suppress(TinyctlError):
        client.fail_run(dag_id, run_id, why)


def _trigger(
    client: AirflowClient,
    dag_id: str,
    run_id: str,
    conf: dict[str, Any] | None,
    logical_date: str | None,
    note: str,
) -> None:
    """Trigger the run; a run already there for that logical date is bad input."""
    try:
        client.trigger(dag_id, run_id=run_id, conf=conf, logical_date=logical_date, note=note)
    except TinyctlError as error:
        if "409" in error.message or "already exists" in (error.details or "").lower():
            raise BadInput(
                f"a run of {dag_id} for logical date {logical_date} already exists",
                hint="Pick another --logical-date, or clear that run in Airflow.",
            ) from None
        raise


def _watch(
    watch: StackWatch, client: AirflowClient, dag_id: str, run_id: str, *, now: bool
) -> None:
    try:
        watch.check(now=now)
    except StackChanged as changed:
        _stop_own_run(client, dag_id, run_id, f"tinyctl: {changed.message}")
        raise


def task_log(client: AirflowClient, dag_id: str, run_id: str, task: TaskState) -> str:
    """The log of the task's latest try, or a line saying why there is none."""
    try:
        return client.task_log(
            dag_id, run_id, task.task_id, max(task.try_number, 1), map_index=task.map_index
        )
    except TinyctlError as error:
        return f"(log not available: {error.message})"


def run_dag(
    client: AirflowClient,
    dag_id: str,
    *,
    conf: dict[str, Any] | None = None,
    logical_date: str | None = None,
    timeout: float = 600.0,
    on_tasks: TasksCallback | None = None,
    on_failed_log: FailedLogCallback | None = None,
    watch: StackWatch | None = None,
) -> RunResult:
    """`tinyctl run`: one run of `dag_id`, followed to its end; WorkFailed past `timeout` s."""
    ready_dag(client, dag_id)
    result = trigger_and_wait(
        client,
        dag_id,
        run_id=new_run_id("run"),
        note="tinyctl run",
        timeout=timeout,
        conf=conf,
        logical_date=logical_date,
        on_tasks=on_tasks,
        on_failed_log=on_failed_log,
        watch=watch,
    )
    if result.timed_out:
        raise WorkFailed(
            f"the run {result.run_id} of {dag_id} did not finish within {timeout:.0f} s "
            f"(state {result.state})",
            hint="It goes on in Airflow; raise --timeout, or look at it in the UI.",
        )
    return result
