"""`tinyctl ci run`: the whole pipeline as timed stages on an isolated stack, always torn down.

    validate -> parse -> build -> up -> deploy-dags -> seed -> test-etl, then down --volumes

Each stage is a function of the run's context returning a one-line summary, or raising a
tinyctl error (the stage failed; later stages do not run; the exit code is the error's).
Teardown runs whatever happened: after a failure, a bug, Ctrl-C or SIGTERM (`keep` leaves the
stack up for debugging). On failure the service log tails and the stack status are saved into
the output folder first. Core code: progress goes to a `Listener`, nothing is printed here.

A stage with nothing to do (`seed` when the spec has no seeds) is reported as skipped, never
as a failure; `--skip` skips the stages of `SKIPPABLE` on purpose.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyctl import __version__
from tinyctl.airflow_settings.sync import sync_settings
from tinyctl.ci import artifacts
from tinyctl.ci.isolation import (
    RunIdentity,
    list_runs,
    plan_run,
    prepare_run_folder,
    read_run,
    remove_run_folder,
)
from tinyctl.ci.stages import StageRecord
from tinyctl.dags.deploy import deploy_dags, require_deployable
from tinyctl.dags.parse import parse_dags
from tinyctl.data.seed import run_seeds
from tinyctl.data.test_etl import page, reports
from tinyctl.data.test_etl.history import History
from tinyctl.data.test_etl.suite import run_suite
from tinyctl.errors import ExitCode, SpecError, TinyctlError, WorkFailed
from tinyctl.project import Project
from tinyctl.render import render
from tinyctl.stack.status import stack_status
from tinyctl.stack.up import bring_up
from tinyctl.state.fsutil import write_atomic
from tinyctl.targets.docker.images import IMAGE_NAMESPACE_ENV

if TYPE_CHECKING:
    from tinyctl.dags.deploy import FileResult
    from tinyctl.data.test_etl.runner import TestResult
    from tinyctl.project import Project

STAGES = ("validate", "parse", "build", "up", "deploy-dags", "seed", "test-etl")
SKIPPABLE = ("parse", "seed")
TEARDOWN = "down"
# CI runners are often shared and slow: give Airflow's API more time per request (settings and
# deploy) than the interactive commands do, so a busy runner is not reported as a dead stack.
API_TIMEOUT = 30.0


@dataclass
class CiOptions:
    spec_file: Path
    out: Path = Path("ci-reports")
    keep: bool = False
    name: str | None = None  # default: <project>-ci-<CI job id>-<random>
    select: list[str] | None = None  # -k patterns for the ETL tests
    parallel: int = 1
    timeout: float | None = None  # seconds for the stack to become healthy
    skip: frozenset[str] = frozenset()
    log_lines: int = 200
    show_build_output: bool = True


class Listener:
    """What a run reports as it goes; the CLI prints it. Every method is optional."""

    def run_planned(self, run: RunIdentity) -> None: ...
    def stage_started(self, name: str) -> None: ...
    def stage_finished(self, record: StageRecord) -> None: ...
    def step(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def deploy_result(self, result: FileResult) -> None: ...
    def test_result(self, result: TestResult) -> None: ...


@dataclass
class CiRun:
    """Everything a run did; also written to `ci-summary.json`."""

    options: CiOptions
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    run: RunIdentity | None = None
    project: Project | None = None
    stages: list[StageRecord] = field(default_factory=list)
    teardown: StageRecord = field(default_factory=lambda: StageRecord(TEARDOWN))
    tests: list[TestResult] | None = None
    reports: dict[str, str] = field(default_factory=dict)
    diagnostics: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stack_started: bool = False

    @property
    def exit_code(self) -> int:
        for record in self.stages:
            if record.status in ("failed", "interrupted", "crashed"):
                return record.exit_code
        if self.teardown.status == "interrupted":
            return int(ExitCode.INTERRUPTED)
        if self.teardown.status == "failed":
            return self.teardown.exit_code
        return int(ExitCode.OK)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def failed_stage(self) -> StageRecord | None:
        return next(
            (s for s in self.stages if s.status in ("failed", "interrupted", "crashed")), None
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "tinyctl": __version__,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "project": self.run.project if self.run else None,
            "run": self.run.as_dict() if self.run else None,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "seconds": round(self.seconds, 2),
            "failed_stage": self.failed_stage.name if self.failed_stage else None,
            "stages": [s.as_dict() for s in [*self.stages, self.teardown]],
            "tests": reports.summary(self.tests) if self.tests is not None else None,
            "reports": self.reports,
            "diagnostics": self.diagnostics,
            "kept": self.teardown.status == "kept",
        }


class _Skipped(Exception):
    """A stage that does not apply to this run (its reason is the summary)."""


@dataclass
class _Context:
    options: CiOptions
    environ: dict[str, str]
    listener: Listener
    ci: CiRun

    @property
    def project(self) -> Project:
        assert self.ci.project is not None
        return self.ci.project


# --------------------------------------------------------------------------- stages


def _validate(ctx: _Context) -> str:
    base = Project.open(ctx.options.spec_file, ctx.environ)
    for warning in base.loaded.warnings:
        ctx.listener.warn(str(warning))
    run = plan_run(base.loaded, ctx.environ, name=ctx.options.name)
    ctx.ci.run = run
    # Images keep the project's name (and build cache) although the stack's name is the run's:
    # render and the runtime both plan images from the project's environ.
    ctx.environ[IMAGE_NAMESPACE_ENV] = run.project
    ctx.listener.run_planned(run)
    ctx.ci.project = base.derive(run.override(), ctx.environ)
    prepare_run_folder(base.loaded, run)
    # Held until the run ends, teardown included: `ci down --all` never removes a live run.
    ctx.ci.project.lock("ci run", wait=0)
    tests = len(ctx.project.spec.tests)
    return (
        f"{base.loaded.file.name} is valid: {len(base.spec.seeds)} seed(s), {tests} test(s); "
        f"stack {run.name}"
    )


def _parse(ctx: _Context) -> str:
    """Import every DAG file without a stack (what `tinyctl parse` does)."""
    report = parse_dags(ctx.project, on_step=ctx.listener.step)
    if report.failed:
        lines = [
            f"{f.file}:{f.line}: {f.error}" if f.line else f"{f.file}: {f.error}"
            for f in report.failed
        ]
        raise WorkFailed(
            f"{len(report.failed)} DAG file(s) do not import",
            details="\n".join(lines),
            hint="Fix them (`tinyctl parse` shows the same), then run again.",
        )
    dags = sum(len(f.dags) for f in report.files)
    return f"{len(report.files)} file(s), {dags} DAG(s) import"


def _build(ctx: _Context) -> str:
    project = ctx.project
    render(project)
    project.runtime.check_engine()
    outcomes = project.runtime.build(
        show_output=ctx.options.show_build_output, on_step=ctx.listener.step
    )
    built = [o.image for o in outcomes if o.built]
    if not outcomes:
        return "nothing to build (registry images)"
    if not built:
        return f"{len(outcomes)} image(s) up to date"
    return "built " + ", ".join(built)


def _up(ctx: _Context) -> str:
    project = ctx.project
    ready: set[str] = set()

    def on_progress(progress: Any) -> None:
        for service in progress.services:
            if service.ok and service.name not in ready:
                ready.add(service.name)
                ctx.listener.step(f"{service.name} {service.health} ({progress.elapsed:.1f}s)")

    ctx.ci.stack_started = True
    result = bring_up(
        project,
        timeout=ctx.options.timeout,
        on_progress=on_progress,
        on_step=ctx.listener.step,
        show_build_output=ctx.options.show_build_output,
    )
    version = f"Airflow {result.airflow_version} " if result.airflow_version else ""
    return f"{version}healthy at {result.url} in {result.seconds:.1f}s"


def _deploy(ctx: _Context) -> str:
    project = ctx.project
    with project.airflow(timeout=API_TIMEOUT) as client:
        items = sync_settings(project, client)
        report = deploy_dags(project, client, on_result=ctx.listener.deploy_result)
    require_deployable(report)
    dags = sum(len(r.dags) for r in report.results)
    changed = sum(1 for i in items if i.action != "unchanged")
    return f"{len(report.results)} file(s), {dags} DAG(s) live; {changed} setting(s) applied"


def _seed(ctx: _Context) -> str:
    project = ctx.project
    if not project.spec.seeds:
        raise _Skipped("no seeds in the spec")
    outcomes = run_seeds(project)
    rows = sum(o.rows or 0 for o in outcomes)
    return f"{len(outcomes)} seed(s) loaded ({rows:,} CSV rows)"


def _test_etl(ctx: _Context) -> str:
    project = ctx.project

    def on_progress(progress: Any) -> None:
        if progress.result is not None:
            ctx.listener.test_result(progress.result)

    results = run_suite(
        project,
        keywords=ctx.options.select,
        parallel=ctx.options.parallel,
        on_progress=on_progress,
        deploy=False,  # the deploy-dags stage did
    )
    if not results:
        ctx.listener.warn(
            "the spec has no ETL tests: the pipeline only checks that the stack comes up"
        )
    ctx.ci.tests = results
    out = ctx.options.out
    reports.write_report(out / artifacts.JUNIT, reports.junit_xml(project.name, results))
    history = History(project.state.history_file)  # run_suite recorded this run
    reports.write_report(out / artifacts.HTML, page.render(project.name, history))
    artifacts.write_json(out / artifacts.JSON, reports.as_json(project.name, results))
    ctx.ci.reports.update(junit=artifacts.JUNIT, html=artifacts.HTML, json=artifacts.JSON)
    counts = reports.summary(results)
    line = f"{counts['passed']} passed, {counts['failed']} failed, {counts['errors']} errors"
    bad = [r for r in results if not r.passed]
    if bad:
        raise WorkFailed(
            f"{len(bad)} of {len(results)} ETL test(s) did not pass: {line}",
            details="\n".join(f"{r.name}: {r.status}: {r.message}" for r in bad),
            hint=f"The reports in {out} show each failing expectation with sample rows.",
        )
    return line


StageFunction = Callable[[_Context], str]
STAGE_FUNCTIONS: dict[str, StageFunction] = {
    "validate": _validate,
    "parse": _parse,
    "build": _build,
    "up": _up,
    "deploy-dags": _deploy,
    "seed": _seed,
    "test-etl": _test_etl,
}


# --------------------------------------------------------------------------- signals


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) behaves like Ctrl-C: the current stage stops, teardown runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """During teardown Ctrl-C and SIGTERM are ignored, also by the `docker compose down` child
    (an ignored signal stays ignored across exec): a second Ctrl-C must not leave the stack
    half-removed. SIGKILL still ends everything."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------- the run


def _error_dict(error: TinyctlError) -> dict[str, Any]:
    details = error.details
    if isinstance(error, SpecError):
        details = "\n".join(str(problem) for problem in error.problems)
    return {
        "title": error.title,
        "message": error.message,
        "details": details,
        "hint": error.hint,
    }


def _run_stage(ctx: _Context, name: str) -> StageRecord:
    record = StageRecord(name)
    ctx.ci.stages.append(record)
    if name in ctx.options.skip:
        record.status, record.summary = "skipped", "skipped (--skip)"
        ctx.listener.stage_finished(record)
        return record
    ctx.listener.stage_started(name)
    started = time.monotonic()
    try:
        record.summary = STAGE_FUNCTIONS[name](ctx)
        record.status = "passed"
    except _Skipped as skipped:
        record.status, record.summary = "skipped", str(skipped)
    except TinyctlError as error:
        record.status, record.exit_code = "failed", int(error.exit_code)
        record.summary, record.error = error.message, _error_dict(error)
        record.exception = error
    except KeyboardInterrupt:
        record.status, record.exit_code = "interrupted", int(ExitCode.INTERRUPTED)
        record.summary = "interrupted (Ctrl-C or SIGTERM)"
    except Exception as error:
        # a bug in tinyctl: recorded so the summary and JUnit never say "ok", then raised with
        # its traceback (after teardown)
        record.status, record.exit_code = "crashed", int(ExitCode.FAILED)
        record.summary = f"tinyctl crashed: {type(error).__name__}: {error}"
        raise
    finally:
        record.seconds = time.monotonic() - started
    ctx.listener.stage_finished(record)
    return record


def _clear_outputs(out: Path) -> None:
    """Remove the reports of an earlier run, so a CI never collects stale results."""
    for name in (
        artifacts.JUNIT,
        artifacts.HTML,
        artifacts.JSON,
        artifacts.SUMMARY,
        artifacts.STATUS,
    ):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    shutil.rmtree(out / artifacts.LOGS, ignore_errors=True)


def _save_diagnostics(ctx: _Context) -> None:
    """The last lines of every service's log and the stack status, before the stack goes."""
    project, out = ctx.project, ctx.options.out
    ctx.listener.step(f"saving service logs and status into {out}")
    for service in project.runtime.expected_services():
        path = out / artifacts.LOGS / f"{service}.log"
        try:
            lines = list(project.runtime.logs(service, tail=ctx.options.log_lines))
            write_atomic(path, ("\n".join(lines) + "\n").encode())
            ctx.ci.diagnostics.append(f"{artifacts.LOGS}/{service}.log")
        except Exception as error:  # diagnostics must never hide the failure being diagnosed
            ctx.listener.warn(f"could not save the log of {service}: {error}")
    try:
        report = stack_status(project)
        artifacts.write_json(out / artifacts.STATUS, report.as_dict())
        ctx.ci.diagnostics.append(artifacts.STATUS)
    except Exception as error:
        ctx.listener.warn(f"could not save the stack status: {error}")


def _tear_down(ctx: _Context) -> None:
    record = ctx.ci.teardown
    ci, options = ctx.ci, ctx.options
    if ci.project is None or ci.run is None:
        record.status, record.summary = "skipped", "nothing was started"
        return
    project, run = ci.project, ci.run
    if options.keep:
        record.status = "kept"
        record.summary = (
            f"stack {run.name} kept (--keep): `tinyctl ci down {run.name}` removes it"
            if ci.stack_started
            else f"run folder {run.folder} kept (--keep)"
        )
        return
    ctx.listener.stage_started(TEARDOWN)
    started = time.monotonic()
    try:
        if ci.stack_started:
            project.runtime.stop(volumes=True)
            left = [s.name for s in project.runtime.services() if s.state != "missing"]
            if left:
                raise WorkFailed(
                    f"containers of {run.name} are still there after teardown: {', '.join(left)}",
                    hint=f"Remove them with `tinyctl ci down {run.name}`.",
                )
        leftovers = remove_run_folder(project.loaded, run)
        record.status = "passed"
        record.summary = (
            "stack and volumes removed" if ci.stack_started else "nothing was started"
        ) + ("" if not leftovers else f"; {len(leftovers)} file(s) of the run folder remain")
    except TinyctlError as error:
        record.status, record.exit_code = "failed", int(error.exit_code)
        record.summary, record.error = error.message, _error_dict(error)
    finally:
        record.seconds = time.monotonic() - started
    ctx.listener.stage_finished(record)


def run_ci(
    options: CiOptions, listener: Listener | None = None, environ: dict[str, str] | None = None
) -> CiRun:
    """Run the pipeline. Returns the run (its `exit_code` is the command's); only a bug raises,
    and even then after teardown."""
    listener = listener or Listener()
    options.out = options.out.absolute()
    ci = CiRun(options)
    ctx = _Context(options, dict(os.environ if environ is None else environ), listener, ci)
    started = time.monotonic()
    options.out.mkdir(parents=True, exist_ok=True)
    _clear_outputs(options.out)
    try:
        with _sigterm_as_interrupt():
            for name in STAGES:
                if ci.failed_stage is not None:
                    ci.stages.append(StageRecord(name))
                    continue
                _run_stage(ctx, name)
    finally:
        with _signals_ignored():
            failed = ci.failed_stage
            if failed is not None and failed.status == "failed" and ci.stack_started:
                _save_diagnostics(ctx)
            if ci.tests is None and ci.stages:
                project = ci.run.project if ci.run else "project"
                write_atomic(
                    options.out / artifacts.JUNIT, artifacts.stages_junit(project, ci.stages)
                )
                ci.reports["junit"] = artifacts.JUNIT
            _tear_down(ctx)
            if ci.project is not None:
                ci.project.unlock()
            ci.seconds = time.monotonic() - started
            ci.reports["summary"] = artifacts.SUMMARY
            artifacts.write_json(options.out / artifacts.SUMMARY, ci.as_dict())
    return ci


def tear_down_kept(spec_file: Path, name: str) -> RunIdentity:
    """`tinyctl ci down NAME`: remove a run kept with --keep (stack, volumes and run folder)."""
    base = Project.open(spec_file)
    run = read_run(base.loaded, name)
    _tear_down_run(base, run)
    return run


def tear_down_all_kept(spec_file: Path) -> list[tuple[str, TinyctlError | None]]:
    """`tinyctl ci down --all`: every run folder of the project, one after the other.

    A run whose `ci run` is still going (it holds the run's lock) is left alone, and a run that
    cannot be removed is reported: (name, None) for each run removed, (name, error) otherwise.
    """
    base = Project.open(spec_file)
    outcomes: list[tuple[str, TinyctlError | None]] = []
    for name in list_runs(base.loaded):
        try:
            _tear_down_run(base, read_run(base.loaded, name), wait=0)
            outcomes.append((name, None))
        except TinyctlError as error:
            outcomes.append((name, error))
    return outcomes


def _tear_down_run(base: Project, run: RunIdentity, *, wait: float | None = None) -> None:
    project = base.derive(run.override())
    project.lock("ci down", wait=wait)  # not while its `ci run` is going
    try:
        project.runtime.check_engine()
        project.runtime.stop(volumes=True)
        remove_run_folder(base.loaded, run)
    finally:
        project.unlock()
