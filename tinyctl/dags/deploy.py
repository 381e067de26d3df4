"""`tinyctl deploy-dags`: copy DAG files into the stack atomically and report, per file, within
seconds, whether each DAG is live or why not.

1. Check each changed file locally: it compiles, its top-level imports resolve in the image.
2. Write it into the stack's DAG folder atomically (temp file + rename), keeping the old bytes.
3. Ask Airflow to parse it now (`parseDagFile` for files it knows; new files are found by the
   dag-processor's one-second folder refresh) and wait until its DAGs show a fresh parse, or an
   import error for it appears.
4. An import error, a parse timeout or an interrupt (Ctrl-C) puts the previous good version
   back (and has it re-parsed) or withdraws a new file, so a broken or unchecked edit never
   stays in the stack, and the report says which version is live.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinyctl.airflow import AirflowClient, Dag, ImportErrorInfo
from tinyctl.dags.checks import LIST_MODULES, LocalCheck, LocalProblem, check_source, local_modules
from tinyctl.dags.code import (
    INCLUDE_PACKAGE,
    changed_modules,
    deploy_include,
    include_imports,
    pending_plugins,
)
from tinyctl.dags.parse import parse_in_service
from tinyctl.errors import BadInput, TinyctlError, WorkFailed
from tinyctl.project import Project
from tinyctl.spec.models import Spec
from tinyctl.state.fsutil import sha256_bytes, write_atomic
from tinyctl.targets.base import DAG_PROCESSOR

POLL = 0.2
SKIP_NAMES = {"__pycache__", ".git", ".ipynb_checkpoints"}
BUNDLE = "dags-folder"  # Airflow's default bundle: the local DAG folder


@dataclass
class DagState:
    dag_id: str
    paused: bool
    stale: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"dag_id": self.dag_id, "paused": self.paused, "stale": self.stale}


@dataclass
class FileResult:
    file: str  # path relative to the DAG folder
    status: str  # live, unchanged, syntax_error, missing_module, import_error, timeout,
    # outside_project, removed, module, extra
    dags: list[DagState] = field(default_factory=list)
    message: str | None = None
    line: int | None = None
    traceback: str | None = None
    previous_live: bool = False  # an older, good version is still the one serving
    seconds: float | None = None
    restored_at: datetime | None = None
    folder: str = "dags"  # dags, or include for the shared code deployed with them
    because: str | None = None  # why an unchanged DAG file was re-parsed (include code it imports)

    @property
    def failed(self) -> bool:
        return self.status in (
            "syntax_error",
            "missing_module",
            "import_error",
            "timeout",
            "outside_project",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "folder": self.folder,
            "status": self.status,
            "ok": not self.failed,
            "dags": [d.as_dict() for d in self.dags],
            "error": self.message,
            "line": self.line,
            "traceback": self.traceback,
            "previous_version_live": self.previous_live,
            "seconds": None if self.seconds is None else round(self.seconds, 2),
        }


@dataclass
class DeployReport:
    results: list[FileResult]
    seconds: float
    plugins_pending: list[str] = field(default_factory=list)  # loaded at the next restart/up
    # Where the seconds went: local checks and writes, the in-service parse (its wall clock and,
    # inside it, importing Airflow / parsing / writing to Airflow's DB), waiting on the API.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.failed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.failed,
            "seconds": round(self.seconds, 2),
            "files": [r.as_dict() for r in self.results],
            "plugins": {
                "changed": self.plugins_pending,
                "restart_needed": bool(self.plugins_pending),
            },
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
        }


# --------------------------------------------------------------------------- sources


def _wanted(path: Path) -> bool:
    """DAG-folder content worth deploying: no caches, editor droppings or hidden folders."""
    *folders, name = path.parts
    if any(part in SKIP_NAMES or part.startswith(".") for part in folders):
        return False
    if path.suffix in (".pyc", ".pyo", ".swp") or name.endswith("~"):
        return False
    return not name.startswith(".") or name == ".airflowignore"


def collect_sources(
    project: Project, paths: Iterable[Path] | None, refused: dict[str, str] | None = None
) -> dict[str, Path]:
    """{relative name in the stack's DAG folder: source file}.

    A file reached through a symlink is deployed only when its target stays inside the project
    folder; otherwise it goes into `refused` ({name: why}) and is reported on its own. (Files
    named on the command line that are not symlinks are the user's explicit choice.)
    """
    root = project.path(project.spec.dags.path)
    inside = project.root.resolve()
    chosen = list(paths or [])
    if not chosen:
        if not root.is_dir():
            raise BadInput(
                f"the DAG folder {root} does not exist",
                hint="Create it, or set dags.path in tinyctl.yaml.",
            )
        chosen = [root]
    sources: dict[str, Path] = {}
    for raw in chosen:
        path = Path(raw).absolute()
        if not path.exists():
            if path.is_symlink():
                raise BadInput(f"{raw} is a broken symlink", hint="Point it at a DAG file.")
            raise BadInput(f"{raw} does not exist", hint="Pass DAG files or folders that exist.")
        files = [p for p in sorted(path.rglob("*")) if p.is_file()] if path.is_dir() else [path]
        resolved = path.resolve()
        if resolved.is_relative_to(root.resolve()):
            # a file or folder inside the DAG folder keeps its place in it
            prefix = resolved.relative_to(root.resolve())
            if not path.is_dir():
                prefix = prefix.parent
        else:
            prefix = Path()
        for file in files:
            within = file.relative_to(path) if path.is_dir() else Path(file.name)
            rel = prefix / within
            if not _wanted(rel):
                continue
            target = file.resolve()
            expected = resolved / within if path.is_dir() else resolved
            through_link = path.is_symlink() or target != expected
            if through_link and not target.is_relative_to(inside):
                if refused is not None:
                    refused[rel.as_posix()] = f"a symlink to {target}, outside the project folder"
                continue
            sources[rel.as_posix()] = file
    return sources


# --------------------------------------------------------------------------- image modules


def image_modules(project: Project) -> set[str] | None:
    """Top-level modules importable where the dag-processor runs, cached per rendered inputs."""
    stamp = project.state.render_stamp
    key = sha256_bytes(stamp.read_bytes())[:16] if stamp.exists() else "none"
    cache = project.state.cache_dir / f"modules-{key}.json"
    if cache.exists():
        try:
            return set(json.loads(cache.read_text()))
        except ValueError:
            pass
    try:
        code, text = project.runtime.exec(DAG_PROCESSOR, ["python", "-c", LIST_MODULES])
    except TinyctlError:
        return None
    if code != 0:
        return None
    try:
        modules = json.loads(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    write_atomic(cache, json.dumps(modules).encode())
    return set(modules)


# --------------------------------------------------------------------------- import errors


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def error_location(stack_trace: str, rel: str) -> int | None:
    """The line of the deployed file in Airflow's traceback (its last frame in that file)."""
    line = None
    for match in _FRAME.finditer(stack_trace or ""):
        if match.group("file").endswith("/" + rel) or match.group("file") == rel:
            line = int(match.group("line"))
    if line is None:  # SyntaxError tracebacks: '  File "x.py", line 3' is the only frame
        match = re.search(r"line (\d+)", stack_trace or "")
        line = int(match.group(1)) if match else None
    return line


def traceback_tail(stack_trace: str, lines: int = 4) -> str:
    """The last lines of a traceback, without the import machinery's own frames."""
    kept: list[str] = []
    skip_next = False
    for line in (stack_trace or "").strip().splitlines():
        if skip_next and line.startswith("    "):
            skip_next = False
            continue
        skip_next = False
        if line.strip().startswith('File "<frozen'):
            skip_next = True
            continue
        if line.strip():
            kept.append(line)
    return "\n".join(kept[-lines:])


def _matches(error: ImportErrorInfo, rel: str) -> bool:
    candidates = {error.relative_fileloc or "", error.filename or ""}
    return any(c == rel or c.endswith("/" + rel) for c in candidates if c)


# --------------------------------------------------------------------------- deploy


@dataclass
class _Pending:
    rel: str
    new: bytes
    old: bytes | None
    written_at: datetime
    started: float
    check: LocalCheck
    because: str | None = None  # re-parsed for changed include code: nothing to roll back


def _dag_states(dags: list[Dag]) -> list[DagState]:
    return [
        DagState(d.dag_id, d.is_paused, d.is_stale) for d in sorted(dags, key=lambda d: d.dag_id)
    ]


def _by_file(dags: list[Dag], folder: str) -> dict[str, list[Dag]]:
    """DAGs grouped by their file's name relative to the DAG folder (`folder` as Airflow sees it)."""
    prefix = folder.rstrip("/") + "/"
    grouped: dict[str, list[Dag]] = {}
    for dag in dags:
        key = dag.relative_fileloc or ""
        if not key and dag.fileloc and dag.fileloc.startswith(prefix):
            key = dag.fileloc[len(prefix) :]
        grouped.setdefault(key, []).append(dag)
    return grouped


def deploy_dags(
    project: Project,
    client: AirflowClient,
    *,
    paths: Iterable[Path] | None = None,
    prune: bool = False,
    unpause: bool = False,
    timeout: float = 60.0,
    on_result: Callable[[FileResult], None] | None = None,
) -> DeployReport:
    started = time.monotonic()
    emit = on_result or (lambda _r: None)
    runtime = project.runtime
    target_root = runtime.dag_folder()
    target_root.mkdir(parents=True, exist_ok=True)
    seen_as = runtime.airflow_dag_folder()
    refused: dict[str, str] = {}
    sources = collect_sources(project, paths, refused)
    whole_folder = not paths

    known = image_modules(project)
    if known is not None:
        known |= local_modules(project.path(project.spec.dags.path)) | local_modules(target_root)
        known |= {Path(rel).parts[0].removesuffix(".py") for rel in sources}
        # The stack puts the plugins folder and the include package on sys.path too.
        known |= local_modules(project.path(project.spec.plugins.path)) | {INCLUDE_PACKAGE}

    results: list[FileResult] = []
    for rel, why in refused.items():
        result = FileResult(rel, "outside_project", message=why)
        results.append(result)
        emit(result)
    # Shared code first, so the DAG files below parse against it; the files that import a
    # changed include module are re-parsed even when their own bytes did not change.
    included = deploy_include(project)
    for problem in included.problems:
        result = FileResult(
            problem.file,
            "syntax_error",
            message=problem.message + f" (nothing in {project.spec.include.path}/ was deployed)",
            line=problem.line,
            previous_live=True,
            folder="include",
        )
        results.append(result)
        emit(result)
    # Python modules are reported (DAGs import them); data files beside them are copied quietly.
    for rel in [r for r in included.changed + included.removed if r.endswith(".py")]:
        result = FileResult(
            rel,
            "module" if rel in included.changed else "removed",
            message="copied" if rel in included.changed else "removed from the stack",
            folder="include",
        )
        results.append(result)
        emit(result)
    touched = changed_modules(included.changed + included.removed)
    pending: list[_Pending] = []
    unchanged: list[tuple[str, LocalCheck, bytes]] = []
    verdicts = _Verdicts(project.state.cache_dir / "dag-verdicts.json")
    settled: set[str] = set()  # files whose outcome is known: nothing to roll back on interrupt
    timings: dict[str, float] = {}
    try:
        for rel, source in sources.items():
            new = source.read_bytes()
            target = target_root / rel
            old = target.read_bytes() if target.is_file() else None
            because = _include_reason(new, touched) if old == new and touched else None
            check = (
                check_source(new, str(source), known)
                if rel.endswith(".py")
                else LocalCheck(None, (), False)
            )
            if (
                check.problem is not None
                and check.problem.kind == "missing_module"
                and not check.may_define_dags
            ):
                # Airflow's safe mode never imports this file, so a module missing from the
                # image is no import error there (it may serve a virtualenv task): a note, not
                # a failure. Python that does not compile is refused whatever the file is.
                check = LocalCheck(None, (), False, note=_problem_note(check.problem))
            if check.problem is not None:
                result = FileResult(
                    rel,
                    check.problem.kind,
                    message=check.problem.message,
                    line=check.problem.line,
                    previous_live=old is not None,
                )
                results.append(result)
                emit(result)
                continue
            if old == new and because is None:
                unchanged.append((rel, check, new))
                continue
            written_at = datetime.now(UTC)
            # A new file, so a fresh mtime: the dag-processor re-parses files modified since their last parse.
            write_atomic(target, new)
            pending.append(_Pending(rel, new, old, written_at, time.monotonic(), check, because))

        # Files in the stack that are no longer in the source.
        if whole_folder:
            present = {
                p.relative_to(target_root).as_posix()
                for p in target_root.rglob("*")
                if p.is_file() and _wanted(p.relative_to(target_root))
            }
            for rel in sorted(present - set(sources) - set(refused)):
                if prune:
                    (target_root / rel).unlink()
                    result = FileResult(rel, "removed", message="removed from the stack (--prune)")
                else:
                    result = FileResult(
                        rel,
                        "extra",
                        message="in the stack but not in the source folder; --prune removes it",
                    )
                results.append(result)
                emit(result)

        # The changed files Airflow's safe mode lets through are parsed now, in the
        # dag-processor itself, by the script `tinyctl parse` runs, and the results written to
        # Airflow's DB with Airflow's own function (as `airflow dags reserialize`): DAGs and
        # import errors show at once, and a file that imports fine but defines no DAG (a plugin,
        # a helper) is known as such: the DAG processor records neither a DAG nor an error for
        # it, so waiting for one would time out.
        python = [p for p in pending if p.rel.endswith(".py")]
        candidates = [p.rel for p in python if p.check.may_define_dags]
        timings["local"] = time.monotonic() - started
        parsed = (
            parse_in_service(runtime, DAG_PROCESSOR, candidates, folder=seen_as, sync_bundle=BUNDLE)
            if candidates
            else None
        )
        if parsed is not None:
            timings["in_service"] = parsed.seconds
            timings.update({f"in_service_{k}": v for k, v in parsed.phases.items()})
        confirming = time.monotonic()
        if parsed is None or not parsed.synced:  # fall back on the DAG processor's own queue
            by_file = _by_file(client.dags(), seen_as)
            for item in pending:
                _request_parse(client, by_file.get(item.rel, []))
        verdict_of = parsed.by_file() if parsed is not None else {}
        no_dag = {
            rel
            for rel in candidates
            if rel in verdict_of and verdict_of[rel].status in ("no_dag", "skipped")
        }
        waiting = [p for p in python if p.check.may_define_dags and p.rel not in no_dag]
        for item in pending:
            if item not in waiting:
                settled.add(item.rel)
                verdict = "skipped" if not item.check.may_define_dags else "no_dag"
                if not item.rel.endswith(".py"):
                    verdict = "file"
                verdicts.set(item.new, verdict)
                result = _module_result(
                    item.rel, verdict, item.check, time.monotonic() - item.started
                )
                results.append(result)
                emit(result)

        refresh = refresh_interval(project.spec)
        deadline = time.monotonic() + timeout
        while waiting:
            dags = client.dags()
            by_file = _by_file(dags, seen_as)
            errors = client.import_errors()
            for item in list(waiting):
                fresh = [
                    d
                    for d in by_file.get(item.rel, [])
                    if d.last_parsed_time and d.last_parsed_time >= item.written_at
                ]
                error = next(
                    (
                        e
                        for e in errors
                        if _matches(e, item.rel) and e.timestamp and e.timestamp >= item.written_at
                    ),
                    None,
                )
                if error is not None:
                    result = _failed_import(item, error, target_root, client, by_file)
                elif fresh:
                    # Only DAGs parsed from the new bytes: a renamed DAG id stays active in Airflow for a while.
                    verdicts.set(item.new, "dags")
                    current = [d for d in fresh if not d.is_stale]
                    result = FileResult(
                        item.rel,
                        "live",
                        dags=_dag_states(current or fresh),
                        seconds=time.monotonic() - item.started,
                        because=item.because,
                    )
                elif time.monotonic() > deadline and item.old is None and refresh >= timeout:
                    # A new file cannot be parse-requested (Airflow only takes tokens of files it
                    # knows): with a slow folder scan configured, it is on its way, not failed.
                    result = FileResult(
                        item.rel,
                        "pending",
                        message=f"copied; the dag-processor scans for new files every {refresh:.0f} s "
                        "(dag_processor.refresh_interval)",
                        seconds=time.monotonic() - item.started,
                    )
                elif time.monotonic() > deadline:
                    # Unparsed is unchecked: put the previous version back (Airflow still serves
                    # the DAGs it parsed from it) or withdraw a new file.
                    _roll_back(item, target_root)
                    result = FileResult(
                        item.rel,
                        "timeout",
                        message=f"Airflow did not parse it within {timeout:.0f} s; "
                        + (
                            "the previous version is back in place"
                            if item.old is not None
                            else "the new file was withdrawn"
                        ),
                        seconds=time.monotonic() - item.started,
                        previous_live=item.old is not None,
                    )
                    if item.old is not None:
                        result.restored_at = datetime.now(UTC)
                        _request_parse(client, by_file.get(item.rel, []))
                        result.dags = _dag_states(
                            [d for d in by_file.get(item.rel, []) if not d.is_stale]
                        )
                else:
                    continue
                waiting.remove(item)
                settled.add(item.rel)
                results.append(result)
                if result.restored_at is None:
                    emit(result)  # restored files are reported once their old version is live again
            if waiting:
                time.sleep(POLL)

        timings["confirm"] = time.monotonic() - confirming
        restored = [r for r in results if r.restored_at is not None]
        if restored and parsed is not None and parsed.synced:  # the old version, live at once
            parse_in_service(
                runtime,
                DAG_PROCESSOR,
                [r.file for r in restored],
                folder=seen_as,
                sync_bundle=BUNDLE,
            )
        _wait_for_restored(
            client, restored, max(deadline, time.monotonic() + RESTORE_WAIT), seen_as
        )
        for result in restored:
            emit(result)

        if unchanged:
            by_file = _by_file(client.dags(), seen_as)
            for rel, check, content in unchanged:
                dags = [d for d in by_file.get(rel, []) if not d.is_stale]
                verdict = verdicts.get(content)
                if not dags and (
                    not rel.endswith(".py") or not check.may_define_dags or verdict == "no_dag"
                ):
                    # The same verdict as when it was deployed, on every deploy.
                    kind = (
                        "file"
                        if not rel.endswith(".py")
                        else ("skipped" if not check.may_define_dags else "no_dag")
                    )
                    result = _module_result(rel, kind, check, None)
                else:
                    result = FileResult(rel, "unchanged", dags=_dag_states(dags))
                results.append(result)
                emit(result)
        verdicts.save()

        if unpause:
            for result in results:
                if result.status in ("live", "unchanged"):
                    for state in result.dags:
                        if state.paused:
                            client.set_paused(state.dag_id, False)
                            state.paused = False

    except BaseException:  # Ctrl-C (or any failure) while files are unchecked: put them back
        for item in pending:
            if item.rel not in settled:
                _roll_back(item, target_root)
                emit(
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
        raise

    order = {rel: i for i, rel in enumerate(sources)}
    results.sort(key=lambda r: (r.folder != "include", order.get(r.file, len(order)), r.file))
    return DeployReport(
        results, time.monotonic() - started, pending_plugins(project), timings=timings
    )


RESTORE_WAIT = 15.0  # seconds to see a put-back version re-parsed after the deadline


def _roll_back(item: _Pending, target_root: Path) -> None:
    """Put the previous bytes back, or remove a file that was not there before."""
    target = target_root / item.rel
    if item.old is not None:
        write_atomic(target, item.old)
    else:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()


MODULE_MESSAGES = {
    "skipped": "module with no DAG (Airflow's safe mode skips it: no 'airflow' with 'dag' or 'asset' in its text)",
    "no_dag": "module with no DAG (Airflow imports it and finds none)",
    "file": "copied (not a Python file)",
}


def _module_result(rel: str, verdict: str, check: LocalCheck, seconds: float | None) -> FileResult:
    message = MODULE_MESSAGES[verdict]
    if check.note:
        message += f"; {check.note}"
    return FileResult(rel, "module", message=message, seconds=seconds)


def _problem_note(problem: LocalProblem) -> str:
    kind = problem.kind.replace("_", " ")
    return f"{kind} at line {problem.line}: {problem.message}"


class _Verdicts:
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


def _request_parse(client: AirflowClient, dags: list[Dag]) -> None:
    """Ask Airflow to parse a file now; any of its DAGs carries the file's token. New files have
    no token yet: the dag-processor's one-second folder refresh finds them."""
    token = next((d.file_token for d in dags if d.file_token), None)
    if token:
        with contextlib.suppress(TinyctlError):  # the folder refresh still picks the file up
            client.reparse(token)


def _failed_import(
    item: _Pending,
    error: ImportErrorInfo,
    target_root: Path,
    client: AirflowClient,
    by_file: dict[str, list[Dag]],
) -> FileResult:
    """Report the import error and put the previous good version back (or withdraw a new file)."""
    target = target_root / item.rel
    message = traceback_tail(error.stack_trace, 1) or "import error"
    result = FileResult(
        item.rel,
        "import_error",
        message=message,
        line=error_location(error.stack_trace, item.rel),
        traceback=traceback_tail(error.stack_trace),
        seconds=time.monotonic() - item.started,
    )
    if item.because is not None:
        result.because = item.because  # its own bytes are unchanged: nothing to put back
    elif item.old is not None:
        result.restored_at = datetime.now(UTC)
        write_atomic(target, item.old)
        _request_parse(client, by_file.get(item.rel, []))
        result.previous_live = True
        result.dags = _dag_states([d for d in by_file.get(item.rel, []) if not d.is_stale])
    elif target.exists():
        target.unlink()  # a new file that does not import is not deployed at all
    return result


def _wait_for_restored(
    client: AirflowClient, restored: list[FileResult], deadline: float, seen_as: str
) -> None:
    """After putting a good version back, wait until its DAGs are active again (bounded)."""
    pending = {r.file: r for r in restored}
    while pending and time.monotonic() < deadline:
        by_file = _by_file(client.dags(), seen_as)
        for rel, result in list(pending.items()):
            dags = by_file.get(rel, [])
            live = [
                d
                for d in dags
                if not d.is_stale
                and d.last_parsed_time
                and d.last_parsed_time >= result.restored_at
            ]
            if live:
                result.dags = _dag_states(live)
                del pending[rel]
        if pending:
            time.sleep(POLL)


def refresh_interval(spec: Spec) -> float:
    """How often the stack's dag-processor looks for new files, in seconds."""
    from tinyctl.plan.settings import LOCAL_DEFAULTS  # lazy: deploy's start stays lean

    key = "dag_processor.refresh_interval"
    try:
        return float(spec.airflow.config.get(key, LOCAL_DEFAULTS[key]))
    except ValueError:
        return float(LOCAL_DEFAULTS[key])


def require_deployable(report: DeployReport) -> None:
    if report.failed:
        names = ", ".join(r.file for r in report.failed)
        raise WorkFailed(
            f"{len(report.failed)} DAG file(s) failed to deploy: {names}",
            hint="Fix the errors above and run `tinyctl deploy-dags` again.",
        )


def _include_reason(source: bytes, touched: set[str]) -> str | None:
    """'include.helpers changed' when a DAG file imports an include module that changed."""
    import ast

    try:
        imported = include_imports(ast.parse(source))
    except (SyntaxError, ValueError):
        return None
    hit = sorted(m for m in imported if m in touched or m == "")
    if not hit:
        return None
    names = ", ".join(f"{INCLUDE_PACKAGE}.{m}" if m else INCLUDE_PACKAGE for m in hit)
    return f"{names} changed"
