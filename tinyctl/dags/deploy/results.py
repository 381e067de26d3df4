"""What `deploy-dags` reports: one `FileResult` per file, the `DeployReport` around them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tinyctl.airflow import Dag
from tinyctl.dags.checks import LocalCheck, LocalProblem
from tinyctl.errors import WorkFailed


@dataclass
class DagState:
    dag_id: str
    paused: bool
    stale: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"dag_id": self.dag_id, "paused": self.paused, "stale": self.stale}


def dag_states(dags: list[Dag]) -> list[DagState]:
    return [
        DagState(d.dag_id, d.is_paused, d.is_stale) for d in sorted(dags, key=lambda d: d.dag_id)
    ]


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


MODULE_MESSAGES = {
    "skipped": "module with no DAG (Airflow's safe mode skips it: no 'airflow' with 'dag' or 'asset' in its text)",
    "no_dag": "module with no DAG (Airflow imports it and finds none)",
    "file": "copied (not a Python file)",
}


def module_result(rel: str, verdict: str, check: LocalCheck, seconds: float | None) -> FileResult:
    message = MODULE_MESSAGES[verdict]
    if check.note:
        message += f"; {check.note}"
    return FileResult(rel, "module", message=message, seconds=seconds)


def module_verdict(rel: str, check: LocalCheck) -> str:
    """What a file that waits for no DAG is: not Python, skipped by safe mode, or no DAG."""
    if not rel.endswith(".py"):
        return "file"
    return "skipped" if not check.may_define_dags else "no_dag"


def problem_note(problem: LocalProblem) -> str:
    kind = problem.kind.replace("_", " ")
    return f"{kind} at line {problem.line}: {problem.message}"


def require_deployable(report: DeployReport) -> None:
    if report.failed:
        names = ", ".join(r.file for r in report.failed)
        raise WorkFailed(
            f"{len(report.failed)} DAG file(s) failed to deploy: {names}",
            hint="Fix the errors above and run `tinyctl deploy-dags` again.",
        )
