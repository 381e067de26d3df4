"""Run ETL smoke tests: seed, put fixture files in place, run the DAG through the real scheduler,
then evaluate the expectations against the warehouse.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tinyctl.airflow import AirflowClient
from tinyctl.dags.run import (
    DagNotFound,
    TaskState,
    new_run_id,
    ready_dag,
    task_log,
    trigger_and_wait,
)
from tinyctl.dags.watchdog import StackWatch
from tinyctl.data.seed import run_seeds
from tinyctl.data.test_etl import expected, kinds
from tinyctl.data.test_etl.expectations import ExpectationResult
from tinyctl.data.test_etl.kinds import CheckContext, History
from tinyctl.db import Dsn, count_rows, store_rows
from tinyctl.errors import BadInput, TinyctlError
from tinyctl.project import Project
from tinyctl.spec.models import EtlTest, Expectation, parse_duration
from tinyctl.state.fsutil import copy_atomic, full_file_systems
from tinyctl.state.secrets import READER_ROLE

LOG_TAIL_LINES = 25
FAILED_STATES = ("failed", "upstream_failed")
TASK_KEYS = ("task_id", "map_index", "state", "start", "end")  # a task in the JSON report


@dataclass
class TestResult:
    name: str
    dag: str
    status: str = "error"  # passed, failed, error
    run_id: str | None = None
    run_state: str | None = None
    message: str = ""
    failed_task: str | None = None
    log_tail: str | None = None
    tasks: list[TaskState] = field(default_factory=list)
    expectations: list[ExpectationResult] = field(default_factory=list)
    row_counts: dict[str, int | None] = field(default_factory=dict)
    seconds: float = 0.0
    run_seconds: float | None = None
    updated: list[str] = field(default_factory=list)  # expected files rewritten

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dag": self.dag,
            "status": self.status,
            "message": self.message,
            "run_id": self.run_id,
            "run_state": self.run_state,
            "failed_task": self.failed_task,
            "log_tail": self.log_tail,
            "seconds": round(self.seconds, 2),
            "run_seconds": None if self.run_seconds is None else round(self.run_seconds, 2),
            "tasks": [t.as_dict(*TASK_KEYS) for t in self.tasks],
            "expectations": [e.as_dict() for e in self.expectations],
            "row_counts": self.row_counts,
            **({"updated_expected": self.updated} if self.updated else {}),
        }


@dataclass
class Progress:
    test: str
    phase: str  # waiting, seeding, deploying, running, checking, done
    tasks: list[TaskState] = field(default_factory=list)
    result: TestResult | None = None


ProgressCallback = Callable[[Progress], None]


def _selected(test: EtlTest, selector: str) -> bool:
    """dbt-style: `tag:NAME` (glob) matches a tag; anything else a test name (glob)."""
    if selector.startswith("tag:"):
        pattern = selector[4:]
        return any(fnmatch.fnmatchcase(tag, pattern) for tag in test.tags)
    return fnmatch.fnmatchcase(test.name, selector)


def select_tests(
    project: Project, patterns: list[str] | None, selectors: list[str] | None = None
) -> list[EtlTest]:
    """Tests whose name contains (or globs) one of `patterns` (-k) AND that match one of
    `selectors` (--select tag:NAME or NAME); each filter applies only when given."""
    tests = list(project.spec.tests)
    if not tests:
        raise BadInput(
            "the spec has no tests", hint="Add a `tests:` section (tinyctl init shows one)."
        )
    for selector in selectors or []:
        if selector == "" or (selector.startswith("tag:") and not selector[4:].strip()):
            raise BadInput(f"--select {selector!r} names no tag", hint="e.g. --select tag:nightly")
    chosen = [
        t
        for t in tests
        if (not patterns or any(p in t.name or fnmatch.fnmatch(t.name, p) for p in patterns))
        and (not selectors or any(_selected(t, s) for s in selectors))
    ]
    if not chosen:
        asked = [repr(p) for p in patterns or []] + [repr(s) for s in selectors or []]
        tags = sorted({tag for t in tests for tag in t.tags})
        raise BadInput(
            f"no test matches {' and '.join(asked)}",
            hint="Tests: "
            + ", ".join(t.name for t in tests)
            + (f"; tags: {', '.join(tags)}" if tags else "; no test has tags"),
        )
    return chosen


def run_id_for(test: EtlTest) -> str:
    return new_run_id("test", re.sub(r"[^A-Za-z0-9_.-]", "_", test.name))


def _copy_fixtures(project: Project, test: EtlTest) -> None:
    """The test's files into the data folder, each written whole before the DAG may see it (a
    test-etl killed halfway never leaves a torn landing file for the next run)."""
    data = project.path(project.spec.data.path)
    for fixture in test.files:
        source = project.path(fixture.source)
        target_dir = data / fixture.target
        target_dir.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            for file in sorted(p for p in source.rglob("*") if p.is_file()):
                destination = target_dir / file.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                copy_atomic(file, destination)
        else:
            copy_atomic(source, target_dir / source.name)


def _failed_task(tasks: list[TaskState]) -> TaskState | None:
    failed = [t for t in tasks if t.state == "failed"]
    if not failed:
        failed = [t for t in tasks if t.state in FAILED_STATES]
    return min(failed, key=lambda t: t.end or datetime.max.replace(tzinfo=UTC)) if failed else None


def run_test(
    project: Project,
    client: AirflowClient | None,
    test: EtlTest,
    *,
    on_progress: ProgressCallback | None = None,
    ensure_dag: Callable[[str], None] | None = None,
    store_failures: bool = False,
    options: RunOptions | None = None,
) -> TestResult:
    """Seed, put the fixtures in place, run the DAG, then check the warehouse. With
    `options.no_run`: only the checks (and the seeds when asked), on the warehouse as it is."""
    report = on_progress or (lambda _p: None)
    options = options or RunOptions()
    started = time.monotonic()
    result = TestResult(test.name, test.dag)
    try:
        if test.seeds and (options.seed or not options.no_run):
            report(Progress(test.name, "seeding"))
            run_seeds(project, only=test.seeds)
        if options.no_run:
            report(Progress(test.name, "checking"))
            _check(project, test, result, store_failures=store_failures, options=options)
            return _finish(result, started, report)
        _copy_fixtures(project, test)
        report(Progress(test.name, "deploying"))
        if ensure_dag:
            ensure_dag(test.dag)
        if client is not None and _run_dag(client, test, result, report, StackWatch(project)):
            report(Progress(test.name, "checking", result.tasks))
            _check(project, test, result, store_failures=store_failures, options=options)
    except TinyctlError as error:
        result.status = "error"
        result.message = error.message + (f" ({error.hint})" if error.hint else "")
    _full_disks(project, result)
    return _finish(result, started, report)


def _run_dag(
    client: AirflowClient,
    test: EtlTest,
    result: TestResult,
    report: ProgressCallback,
    watch: StackWatch,
) -> bool:
    """The test's DAG run, into `result`; True when it succeeded (the checks may start)."""
    try:
        ready_dag(client, test.dag)
    except DagNotFound as missing:
        result.message = missing.message
        if missing.import_errors:
            result.message += "; import errors: " + "; ".join(missing.import_errors[:3])
        return False

    def on_tasks(tasks: list[TaskState], state: str) -> None:
        result.tasks, result.run_state = tasks, state
        report(Progress(test.name, "running", tasks))

    result.run_id = run_id_for(test)
    run = trigger_and_wait(
        client,
        test.dag,
        run_id=result.run_id,
        note=f"tinyctl test-etl: {test.name}",
        timeout=parse_duration(test.timeout),
        conf=test.conf,
        on_tasks=on_tasks,
        watch=watch,
    )
    if run.timed_out:
        result.status = "failed"
        result.message = f"the DAG run did not finish within {test.timeout} (state {run.state})"
        return False
    result.run_seconds = run.seconds
    if run.ok:
        return True
    result.status = "failed"
    failed = _failed_task(run.tasks)
    if failed is None:
        result.message = f"the DAG run ended {run.state}"
        return False
    log = run.failed_logs.get(failed.log_key) or task_log(client, test.dag, run.run_id, failed)
    result.failed_task = failed.label
    result.log_tail = "\n".join(log.rstrip().splitlines()[-LOG_TAIL_LINES:])
    result.message = f"the DAG run failed: task {failed.label} {failed.state}"
    return False


@dataclass(frozen=True)
class RunOptions:
    """How test-etl runs each test (beyond --store-failures)."""

    no_run: bool = False  # check the warehouse as it is: no fixtures, no DAG run
    seed: bool = False  # with no_run: load the tests' seeds first
    update_expected: bool = False  # rewrite `expected:` files after the DAG run passed
    history: History | None = None  # (test, expectation, metric, n) -> previous values


def check_context(project: Project, test: EtlTest, options: RunOptions) -> CheckContext:
    history = options.history

    def previous(name: str, metric: str, n: int) -> list[float]:
        return history(test.name, name, metric, n) if history else []

    fixtures = [project.path(f.source) for f in test.files]
    return CheckContext(project.root, fixtures, previous)


def _check(
    project: Project,
    test: EtlTest,
    result: TestResult,
    *,
    store_failures: bool,
    options: RunOptions,
) -> None:
    """The test's expectations, against the warehouse the run wrote."""
    # Expectations run as tinyctl's read-only role: a check can read, never write (its
    # temporary tables excepted: expected rows, fixture files).
    dsn = project.warehouse(test.database, role=READER_ROLE)
    expectations = kinds.expand(list(test.expect))
    if options.update_expected:
        result.updated = expected.rewrite_files(dsn, expectations, project.root)
    context = check_context(project, test, options)
    result.expectations = [kinds.evaluate(dsn, e, context) for e in expectations]
    if store_failures:
        # Storing creates tables: as the ETL writer role, which owns the schemas it
        # writes to (the read-only role above could never CREATE there).
        writer = project.warehouse(test.database)
        _store_failures(project, writer, test, expectations, result.expectations, context)
    result.row_counts = count_rows(dsn, kinds.tables_of(expectations))
    failed_checks = [e for e in result.expectations if not e.passed]
    warned = sum(e.warned for e in result.expectations)
    also = f", {warned} warned" if warned else ""
    if failed_checks:
        result.status = "failed"
        result.message = (
            f"{len(failed_checks)} of {len(result.expectations)} expectation(s) failed{also}"
        )
    else:
        result.status = "passed"
        how = "no DAG run (--no-run)" if options.no_run else "run succeeded"
        result.message = f"{how}; {len(result.expectations) - warned} expectation(s) passed{also}"


def failures_table(test: str, index: int, kind: str) -> str:
    """The table holding an expectation's offending rows: `<test>__<n>_<kind>`, a valid identifier."""
    base = re.sub(r"[^a-z0-9_]+", "_", test.lower()).strip("_") or "test"
    suffix = f"__{index + 1}_{kind}"
    return (base[: 63 - len(suffix)] + suffix).lstrip("0123456789") or "t" + suffix


def _store_failures(
    project: Project,
    dsn: Dsn,
    test: EtlTest,
    expectations: list[Expectation],
    results: list[ExpectationResult],
    context: CheckContext,
) -> None:
    """Every offending row of each failed (or warned) expectation, in a table of its own:
    `CREATE TABLE ... AS` the very SELECT that counted and sampled them."""
    schema = project.spec.store_failures.schema_
    for index, (expectation, result) in enumerate(zip(expectations, results, strict=True)):
        if result.status == "pass":
            continue
        table = failures_table(test.name, index, expectation.kind)
        try:
            check = kinds.check_of(expectation, context, result.name)
            store_rows(dsn, schema, table, check.select, check.setup)
        except TinyctlError as error:
            result.message += f" (failures not stored: {error.message})"
            continue
        result.stored_in = f"{schema}.{table}"


def _full_disks(project: Project, result: TestResult) -> None:
    """A test that did not pass on a full disk says which one (a DAG's task logs, landing
    files and Postgres' data on the local runtime all live there): its own error may not."""
    if result.passed:
        return
    full = full_file_systems([project.state.root, project.path(project.spec.data.path)])
    if full:
        result.message += " (" + "; ".join(full) + ": free space, then run it again)"


def _finish(result: TestResult, started: float, report: ProgressCallback) -> TestResult:
    result.seconds = time.monotonic() - started
    report(Progress(result.name, "done", result.tasks, result))
    return result
