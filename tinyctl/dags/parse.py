"""`tinyctl parse`: import every DAG file with the stack's Airflow version and requirements, with
no stack running, and report per file: its DAG ids, or the error with file and line.

The files are parsed by `templates/parse_dags.py` inside ONE throw-away container of the
project's Airflow image (the runtime's `run_oneoff`): Airflow's own file discovery
(`.airflowignore`), its safe-mode heuristic and its DagBag importer, so the verdicts are the
DAG processor's. The DAG folder is mounted read-only and the container has no network.
`deploy-dags` runs the same script inside the running dag-processor.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyctl.dags.code import stack_view
from tinyctl.errors import BadInput, TinyctlError, WorkFailed
from tinyctl.plan.model import StackPlan
from tinyctl.plan.values import PathList, Place, PlaceRef, SecretRef, Value
from tinyctl.resources import templates_dir

if TYPE_CHECKING:
    from tinyctl.project import Project

MARKER = "TINYCTL-PARSE "
SCRIPT = "parse_dags.py"

# What each verdict means, for people.
VERDICTS = {
    "ok": "defines DAGs",
    "no_dag": "module with no DAG (Airflow imports it and finds none)",
    "skipped": "module with no DAG (Airflow's safe mode skips it: the text lacks 'airflow' "
    "or 'dag'/'asset')",
    "error": "import error",
}


@dataclass
class ParsedFile:
    file: str  # relative to the DAG folder
    status: str  # ok | no_dag | skipped | error
    dags: list[str] = field(default_factory=list)
    error: str | None = None
    line: int | None = None
    traceback: str | None = None
    seconds: float = 0.0
    shapes: dict[str, Any] = field(default_factory=dict)  # dag id -> tasks, schedule (on request)

    @property
    def failed(self) -> bool:
        return self.status == "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "status": self.status,
            "ok": not self.failed,
            "dags": self.dags,
            "error": self.error,
            "line": self.line,
            "traceback": self.traceback,
            "seconds": self.seconds,
        }


@dataclass
class ParseReport:
    files: list[ParsedFile]
    airflow_version: str
    safe_mode: bool
    seconds: float  # wall clock, container start included
    parse_seconds: float  # inside the container: importing Airflow and the files
    synced: bool = False  # the results were written to Airflow's DB (deploy-dags)
    phases: dict[str, float] = field(default_factory=dict)  # inside: import, parse, sync seconds

    @property
    def failed(self) -> list[ParsedFile]:
        return [f for f in self.files if f.failed]

    def by_file(self) -> dict[str, ParsedFile]:
        return {f.file: f for f in self.files}

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.failed,
            "airflow_version": self.airflow_version,
            "safe_mode": self.safe_mode,
            "seconds": round(self.seconds, 2),
            "parse_seconds": round(self.parse_seconds, 2),
            "dags": sum(len(f.dags) for f in self.files),
            "errors": len(self.failed),
            "files": [f.as_dict() for f in self.files],
        }


def oneoff_config(plan: StackPlan) -> dict[str, Value]:
    """The stack's non-secret Airflow settings for a one-off: without the secret ones (read
    from the stack's secret files through `_CMD`: not there, and not needed to parse)."""
    return {s.env_name: s.value for s in plan.settings if not isinstance(s.value, SecretRef)}


def script_source() -> bytes:
    return (templates_dir() / SCRIPT).read_bytes()


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def error_line(stack_trace: str | None, rel: str) -> int | None:
    """The line of `rel` in a traceback: its last frame in that file (or a SyntaxError's line)."""
    line = None
    for match in _FRAME.finditer(stack_trace or ""):
        name = match.group("file")
        if name == rel or name.endswith("/" + rel):
            line = int(match.group("line"))
    return line


def read_report(stdout: str, *, seconds: float) -> ParseReport:
    """The script's report from a container's stdout; WorkFailed when it printed none."""
    for raw in reversed(stdout.splitlines()):
        if raw.startswith(MARKER):
            data = json.loads(raw[len(MARKER) :])
            break
    else:
        raise ValueError("no parse report")
    files = []
    for item in data["files"]:
        parsed = ParsedFile(
            file=item["file"],
            status=item["status"],
            dags=list(item.get("dags") or []),
            error=item.get("error"),
            traceback=item.get("traceback"),
            seconds=float(item.get("seconds") or 0),
            shapes=dict(item.get("shapes") or {}),
        )
        if parsed.failed:
            parsed.line = error_line(parsed.traceback, parsed.file)
        files.append(parsed)
    files.sort(key=lambda f: f.file)
    return ParseReport(
        files,
        data.get("airflow_version", "?"),
        bool(data.get("safe_mode", True)),
        seconds,
        float(data.get("seconds") or 0),
        bool((data.get("synced") or {}).get("ok")),
        {k: float(v) for k, v in (data.get("phases") or {}).items()},
    )


def _relative_files(root: Path, paths: Iterable[Path]) -> list[str]:
    rels = []
    for raw in paths:
        path = Path(raw).absolute()
        if not path.exists():
            raise BadInput(f"{raw} does not exist", hint="Pass DAG files or folders that exist.")
        try:
            rel = path.resolve().relative_to(root.resolve())
        except ValueError:
            raise BadInput(
                f"{raw} is not inside the DAG folder {root}",
                hint="parse reads files where Airflow reads them: pass files under dags.path "
                "(a pre-commit hook filters with `files: ^<dags.path>/`).",
            ) from None
        if path.is_dir():
            rels += [
                p.relative_to(root.resolve()).as_posix()
                for p in sorted(path.resolve().rglob("*.py"))
                if not any(part.startswith(".") or part == "__pycache__" for part in p.parts)
            ]
        elif path.suffix == ".py":
            rels.append(rel.as_posix())
    return list(dict.fromkeys(rels))


def parse_dags(
    project: Project,
    paths: Iterable[Path] | None = None,
    *,
    on_step: Callable[[str], None] | None = None,
    shapes: bool = False,
) -> ParseReport:
    """Parse the DAG folder (or the named files/folders in it) in one one-off container.
    `shapes`: also report each DAG's task ids, dependencies and schedule (ParsedFile.shapes)."""
    from tinyctl.render.engine import render_for_build  # lazy: Jinja only when a build may come
    from tinyctl.targets.base import Mount

    root = project.path(project.spec.dags.path)
    if not root.is_dir():
        raise BadInput(
            f"the DAG folder {root} does not exist",
            hint="Create it, or set dags.path in tinyctl.yaml.",
        )
    rels = _relative_files(root, paths) if paths else []
    if paths and not rels:
        return ParseReport([], "", True, 0.0, 0.0)
    mounts = [Mount(root.resolve(), Place.DAGS)]
    # Plugins and include code exactly where the stack has them (tinyctl.dags.code):
    # the plugins folder on sys.path, include/ as the package `include` via PYTHONPATH.

    code, code_env = stack_view(project)
    mounts += [Mount(m.source.resolve(), m.target) for m in code if m.source.is_dir()]
    sys_path = (code[0].target,) if code[0].source.is_dir() else ()
    env: dict[str, Value] = {
        **oneoff_config(project.plan),
        **code_env,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TINYCTL_PARSE_SYS_PATH": PathList(sys_path),
        **({"TINYCTL_PARSE_SHAPES": "1"} if shapes else {}),
    }
    render_for_build(project)
    started = time.monotonic()
    result = project.runtime.run_oneoff(
        ["python", "-", PlaceRef(Place.DAGS), *rels],
        mounts=mounts,
        env=env,
        input=script_source(),
        on_step=on_step,
    )
    try:
        return read_report(result.stdout, seconds=time.monotonic() - started)
    except (ValueError, KeyError):
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise WorkFailed(
            f"the parse container failed (exit code {result.exit_code})",
            details=tail,
            hint="Check that the project's Airflow image starts (`tinyctl build`), then run again.",
        ) from None


def parse_in_service(
    runtime: Any,
    service: str,
    rels: list[str],
    *,
    folder: str,
    sync_bundle: str | None = None,
) -> ParseReport | None:
    """Run the same parse inside a running service (the dag-processor): its image, its config.
    With `sync_bundle`, the results are written to Airflow's DB for that bundle (see the script).
    None when the service cannot run it (not up, or an image without the script's needs)."""
    started = time.monotonic()
    sync = ["--sync", sync_bundle] if sync_bundle else []
    try:
        _code, text = runtime.exec(
            service,
            ["python", "-", *sync, folder, *rels],
            input=script_source(),
            env={"PYTHONDONTWRITEBYTECODE": "1", "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"},
        )
    except TinyctlError:
        return None
    try:
        return read_report(text, seconds=time.monotonic() - started)
    except (ValueError, KeyError):
        return None
