"""The phases that ask Airflow: parse the written files in the dag-processor now, wait until
each shows fresh DAGs or an import error, put the previous good version back when it fails or
times out (or withdraw a new file), and, interrupted, put back whatever was not confirmed."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tinyctl.airflow import Dag, ImportErrorInfo
from tinyctl.dags.deploy.results import FileResult, dag_states, module_result, module_verdict
from tinyctl.dags.deploy.run import BUNDLE, POLL, DeployRun, Pending
from tinyctl.dags.deploy.tracebacks import error_location, matches, traceback_tail
from tinyctl.dags.parse import ParseReport, parse_in_service
from tinyctl.spec.models import Spec
from tinyctl.state.fsutil import write_atomic
from tinyctl.targets.base import DAG_PROCESSOR

RESTORE_WAIT = 15.0  # seconds to see a put-back version re-parsed after the deadline


def parse_now(run: DeployRun) -> ParseReport | None:
    """The changed files Airflow's safe mode lets through, parsed now in the dag-processor by
    the script `tinyctl parse` runs, their results written to Airflow's DB with Airflow's own
    function (as `airflow dags reserialize`): DAGs and import errors show at once, and a file
    that imports fine but defines no DAG (a plugin, a helper) is known as such (the DAG
    processor records neither a DAG nor an error for it: waiting for one would time out)."""
    candidates = [p.rel for p in run.pending if _may_define_dags(p)]
    run.timings["local"] = time.monotonic() - run.started
    if not candidates:
        return None
    parsed = parse_in_service(
        run.project.runtime, DAG_PROCESSOR, candidates, folder=run.seen_as, sync_bundle=BUNDLE
    )
    if parsed is not None:  # None: the in-service parse could not run
        run.timings["in_service"] = parsed.seconds
        run.timings.update({f"in_service_{k}": v for k, v in parsed.phases.items()})
    return parsed


def settle_without_dags(run: DeployRun, parsed: ParseReport | None) -> list[Pending]:
    """Report at once the written files that wait for no DAG (not Python, skipped by safe mode,
    parsed with none); return those that wait for Airflow's word."""
    run.confirming = time.monotonic()
    if parsed is None or not parsed.synced:  # fall back on the DAG processor's own queue
        by_file = run.dags_by_file()
        for item in run.pending:
            run.request_parse(by_file.get(item.rel, []))
    verdict_of = parsed.by_file() if parsed is not None else {}
    no_dag = {rel for rel, verdict in verdict_of.items() if verdict.status in ("no_dag", "skipped")}
    waiting = [p for p in run.pending if _may_define_dags(p) and p.rel not in no_dag]
    for item in run.pending:
        if item not in waiting:
            run.settled.add(item.rel)
            verdict = module_verdict(item.rel, item.check)
            run.verdicts.set(item.new, verdict)
            run.report(
                module_result(item.rel, verdict, item.check, time.monotonic() - item.started)
            )
    return waiting


def _may_define_dags(item: Pending) -> bool:
    return item.rel.endswith(".py") and item.check.may_define_dags


def wait_for_airflow(run: DeployRun, waiting: list[Pending]) -> float:
    """Poll Airflow until each waiting file is live, failed or timed out; returns the deadline.
    A file put back is reported once its old version is live again (`put_back_restored`)."""
    refresh = refresh_interval(run.project.spec)
    deadline = time.monotonic() + run.timeout
    while waiting:
        by_file = run.dags_by_file()
        errors = run.client.import_errors()
        for item in list(waiting):
            result = _outcome(run, item, by_file, errors, deadline, refresh)
            if result is None:
                continue
            waiting.remove(item)
            run.settled.add(item.rel)
            run.results.append(result)
            if result.restored_at is None:
                run.emit(result)
        if waiting:
            time.sleep(POLL)
    run.timings["confirm"] = time.monotonic() - run.confirming
    return deadline


def _outcome(
    run: DeployRun,
    item: Pending,
    by_file: dict[str, list[Dag]],
    errors: list[ImportErrorInfo],
    deadline: float,
    refresh: float,
) -> FileResult | None:
    """What Airflow says of one written file so far; None while it has not said yet."""
    seconds = time.monotonic() - item.started
    fresh = [
        d
        for d in by_file.get(item.rel, [])
        if d.last_parsed_time and d.last_parsed_time >= item.written_at
    ]
    error = next(
        (
            e
            for e in errors
            if matches(e, item.rel) and e.timestamp and e.timestamp >= item.written_at
        ),
        None,
    )
    if error is not None:
        return _failed_import(run, item, error, by_file)
    if fresh:
        # Only DAGs parsed from the new bytes: a renamed DAG id stays active in Airflow for a while.
        run.verdicts.set(item.new, "dags")
        current = [d for d in fresh if not d.is_stale]
        return FileResult(
            item.rel,
            "live",
            dags=dag_states(current or fresh),
            seconds=seconds,
            because=item.because,
        )
    if time.monotonic() > deadline and item.old is None and refresh >= run.timeout:
        # A new file cannot be parse-requested (Airflow only takes tokens of files it knows):
        # with a slow folder scan configured, it is on its way, not failed.
        return FileResult(
            item.rel,
            "pending",
            message=f"copied; the dag-processor scans for new files every {refresh:.0f} s "
            "(dag_processor.refresh_interval)",
            seconds=seconds,
        )
    if time.monotonic() > deadline:
        return _timed_out(run, item, by_file, seconds)
    return None


def _timed_out(
    run: DeployRun, item: Pending, by_file: dict[str, list[Dag]], seconds: float
) -> FileResult:
    """Unparsed is unchecked: put the previous version back (Airflow still serves the DAGs it
    parsed from it) or withdraw a new file."""
    run.roll_back(item)
    result = FileResult(
        item.rel,
        "timeout",
        message=f"Airflow did not parse it within {run.timeout:.0f} s; "
        + (
            "the previous version is back in place"
            if item.old is not None
            else "the new file was withdrawn"
        ),
        seconds=seconds,
        previous_live=item.old is not None,
    )
    if item.old is not None:
        result.restored_at = datetime.now(UTC)
        run.request_parse(by_file.get(item.rel, []))
        result.dags = dag_states([d for d in by_file.get(item.rel, []) if not d.is_stale])
    return result


def _failed_import(
    run: DeployRun, item: Pending, error: ImportErrorInfo, by_file: dict[str, list[Dag]]
) -> FileResult:
    """Report the import error and put the previous good version back (or withdraw a new file)."""
    target = run.target_root / item.rel
    result = FileResult(
        item.rel,
        "import_error",
        message=traceback_tail(error.stack_trace, 1) or "import error",
        line=error_location(error.stack_trace, item.rel),
        traceback=traceback_tail(error.stack_trace),
        seconds=time.monotonic() - item.started,
    )
    if item.because is not None:
        result.because = item.because  # its own bytes are unchanged: nothing to put back
    elif item.old is not None:
        result.restored_at = datetime.now(UTC)
        write_atomic(target, item.old)
        run.request_parse(by_file.get(item.rel, []))
        result.previous_live = True
        result.dags = dag_states([d for d in by_file.get(item.rel, []) if not d.is_stale])
    elif target.exists():
        target.unlink()  # a new file that does not import is not deployed at all
    return result


def put_back_restored(run: DeployRun, parsed: ParseReport | None, deadline: float) -> None:
    """The files whose previous version was put back: have it parsed (at once where the
    in-service parse works), wait (bounded) until its DAGs are active again, report them."""
    restored = [r for r in run.results if r.restored_at is not None]
    if restored and parsed is not None and parsed.synced:  # the old version, live at once
        parse_in_service(
            run.project.runtime,
            DAG_PROCESSOR,
            [r.file for r in restored],
            folder=run.seen_as,
            sync_bundle=BUNDLE,
        )
    waiting = {r.file: r for r in restored}
    until = max(deadline, time.monotonic() + RESTORE_WAIT)
    while waiting and time.monotonic() < until:
        by_file = run.dags_by_file()
        for rel, result in list(waiting.items()):
            live = [
                d
                for d in by_file.get(rel, [])
                if not d.is_stale
                and d.last_parsed_time
                and d.last_parsed_time >= result.restored_at
            ]
            if live:
                result.dags = dag_states(live)
                del waiting[rel]
        if waiting:
            time.sleep(POLL)
    for result in restored:
        run.emit(result)


def withdraw_unconfirmed(run: DeployRun) -> None:
    """Interrupted (Ctrl-C, or any failure) while files are unchecked: put each back."""
    for item in run.pending:
        if item.rel not in run.settled:
            run.roll_back(item)
            run.emit(
                FileResult(
                    item.rel,
                    "interrupted",
                    message="interrupted before Airflow confirmed it; "
                    + (
                        "the previous version is back in place"
                        if item.old is not None
                        else "withdrawn"
                    ),
                    previous_live=item.old is not None,
                )
            )


def refresh_interval(spec: Spec) -> float:
    """How often the stack's dag-processor looks for new files, in seconds."""
    from tinyctl.plan.settings import LOCAL_DEFAULTS  # lazy: deploy's start stays lean

    key = "dag_processor.refresh_interval"
    try:
        return float(spec.airflow.config.get(key, LOCAL_DEFAULTS[key]))
    except ValueError:
        return float(LOCAL_DEFAULTS[key])
