"""The local phases of a deploy: the shared include code, then each DAG file checked on this
machine and written into the stack atomically (the old bytes kept), then what the stack holds
that the source folder no longer does."""

from __future__ import annotations

import ast
import time
from datetime import UTC, datetime
from pathlib import Path

from tinyctl.dags.checks import LocalCheck, check_source
from tinyctl.dags.code import INCLUDE_PACKAGE, changed_modules, deploy_include, include_imports
from tinyctl.dags.deploy.results import FileResult, problem_note
from tinyctl.dags.deploy.run import DeployRun, Pending
from tinyctl.dags.deploy.sources import wanted
from tinyctl.state.fsutil import write_atomic


def report_refused(run: DeployRun, refused: dict[str, str]) -> None:
    for rel, why in refused.items():
        run.report(FileResult(rel, "outside_project", message=why))


def deploy_shared_code(run: DeployRun) -> set[str]:
    """The include package first, so the DAG files parse against it; returns the include
    modules that changed (the DAG files importing them are re-parsed even when unchanged)."""
    project = run.project
    included = deploy_include(project)
    for problem in included.problems:
        run.report(
            FileResult(
                problem.file,
                "syntax_error",
                message=problem.message
                + f" (nothing in {project.spec.include.path}/ was deployed)",
                line=problem.line,
                previous_live=True,
                folder="include",
            )
        )
    # Python modules are reported (DAGs import them); data files beside them are copied quietly.
    for rel in [r for r in included.changed + included.removed if r.endswith(".py")]:
        changed = rel in included.changed
        run.report(
            FileResult(
                rel,
                "module" if changed else "removed",
                message="copied" if changed else "removed from the stack",
                folder="include",
            )
        )
    return changed_modules(included.changed + included.removed)


def check_and_write(
    run: DeployRun, sources: dict[str, Path], known: set[str] | None, touched: set[str]
) -> None:
    """Each file checked locally; a failing one reported (the stack keeps what it had), an
    unchanged one kept for the report, a changed one written and left pending for Airflow."""
    for rel, source in sources.items():
        new = source.read_bytes()
        target = run.target_root / rel
        old = target.read_bytes() if target.is_file() else None
        because = include_reason(new, touched) if old == new and touched else None
        check = _local_check(rel, source, new, known)
        if check.problem is not None:
            run.report(
                FileResult(
                    rel,
                    check.problem.kind,
                    message=check.problem.message,
                    line=check.problem.line,
                    previous_live=old is not None,
                )
            )
            continue
        if old == new and because is None:
            run.unchanged.append((rel, check, new))
            continue
        written_at = datetime.now(UTC)
        # A new file, so a fresh mtime: the dag-processor re-parses files modified since their last parse.
        write_atomic(target, new)
        run.pending.append(Pending(rel, new, old, written_at, time.monotonic(), check, because))


def _local_check(rel: str, source: Path, new: bytes, known: set[str] | None) -> LocalCheck:
    if not rel.endswith(".py"):
        return LocalCheck(None, (), False)
    check = check_source(new, str(source), known)
    if (
        check.problem is not None
        and check.problem.kind == "missing_module"
        and not check.may_define_dags
    ):
        # Airflow's safe mode never imports this file, so a module missing from the image is
        # no import error there (it may serve a virtualenv task): a note, not a failure.
        # Python that does not compile is refused whatever the file is.
        return LocalCheck(None, (), False, note=problem_note(check.problem))
    return check


def report_extras(run: DeployRun, deployed: set[str], prune: bool) -> None:
    """Files in the stack that are no longer in the source: removed with --prune, else reported."""
    root = run.target_root
    present = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and wanted(p.relative_to(root))
    }
    for rel in sorted(present - deployed):
        if prune:
            (root / rel).unlink()
            result = FileResult(rel, "removed", message="removed from the stack (--prune)")
        else:
            result = FileResult(
                rel,
                "extra",
                message="in the stack but not in the source folder; --prune removes it",
            )
        run.report(result)


def include_reason(source: bytes, touched: set[str]) -> str | None:
    """'include.helpers changed' when a DAG file imports an include module that changed."""
    try:
        imported = include_imports(ast.parse(source))
    except (SyntaxError, ValueError):
        return None
    hit = sorted(m for m in imported if m in touched or m == "")
    if not hit:
        return None
    names = ", ".join(f"{INCLUDE_PACKAGE}.{m}" if m else INCLUDE_PACKAGE for m in hit)
    return f"{names} changed"
