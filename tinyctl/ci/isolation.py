"""One stack per CI run: a unique project name, free ports, and a state and data folder of its
own, applied to the user's spec in memory (`tinyctl.spec.override`), never written to it.

Layout of a run inside the project's state folder (git-ignored by `tinyctl init`):

    .tinyctl/ci/<run name>/state/   the run's rendered files, secrets, DAG copy and task logs
    .tinyctl/ci/<run name>/data/    a copy of the data folder, so runs never share landing files
    .tinyctl/ci/<run name>/run.json the run's name and ports (for `tinyctl ci down`)
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from tinyctl.errors import BadInput, EnvironmentProblem
from tinyctl.spec.loaded import LoadedSpec
from tinyctl.spec.models import PROJECT_NAME
from tinyctl.spec.override import SpecOverride
from tinyctl.state.fsutil import write_atomic

# Where each CI system says which job this is, in the order they are tried.
CI_IDS = (
    ("gitlab", "CI_JOB_ID"),
    ("jenkins", "BUILD_TAG"),
    ("github", "GITHUB_RUN_ID"),
)
RUNS_FOLDER = "ci"
RUN_FILE = "run.json"
MAX_NAME = 63


@dataclass(frozen=True)
class RunIdentity:
    """Who this run is and where its stack lives."""

    name: str
    project: str  # the spec's own project name
    ci: str | None  # gitlab, jenkins, github; None outside CI
    ci_id: str | None
    airflow_port: int
    postgres_port: int | None
    folder: str  # relative to the project folder

    @property
    def state_dir(self) -> str:
        return f"{self.folder}/state"

    @property
    def data_dir(self) -> str:
        return f"{self.folder}/data"

    def override(self) -> SpecOverride:
        return SpecOverride(
            name=self.name,
            airflow_port=self.airflow_port,
            postgres_port=self.postgres_port,
            state_dir=self.state_dir,
            data_path=self.data_dir,
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def sanitize(text: str) -> str:
    """Any text -> lowercase letters, digits, '-' and '_' (what a Compose project name allows)."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9_-]+", "-", text.lower())).strip("-_")


def ci_job(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(CI system, its job or build id) from the environment, or (None, None)."""
    for system, variable in CI_IDS:
        value = environ.get(variable, "").strip()
        if value:
            if system == "github" and environ.get("GITHUB_RUN_ATTEMPT", "1") not in ("", "1"):
                value = f"{value}-{environ['GITHUB_RUN_ATTEMPT']}"
            return system, value
    return None, None


def run_name(
    project: str, environ: Mapping[str, str], *, suffix: str | None = None
) -> tuple[str, str | None, str | None]:
    """A valid, unique Compose project name for one run: `<project>-<ci id>-<random>`.

    The random suffix is always there: jobs of one GitHub run (a matrix) share GITHUB_RUN_ID,
    and parallel stages of one Jenkins build share BUILD_TAG, yet may run on one machine.
    """
    system, job = ci_job(environ)
    suffix = sanitize(suffix or secrets.token_hex(3))
    job_part = sanitize(job or "")
    # BUILD_TAG is "jenkins-<job>-<number>": drop the redundant prefix.
    if system == "jenkins":
        job_part = job_part.removeprefix("jenkins-")
    tail = "-".join(part for part in ("ci", job_part, suffix) if part)
    if len(tail) > MAX_NAME - 2:  # keep the suffix, shorten the job id from the left
        tail = "ci-" + tail[-(MAX_NAME - 2 - 3) :].lstrip("-_")
    room = MAX_NAME - len(tail) - 1
    head = sanitize(project)[:room].rstrip("-_") or "tinyctl"
    name = f"{head}-{tail}"
    assert re.match(PROJECT_NAME, name), name
    return name, system, job


def free_ports(binds: list[str]) -> list[int]:
    """One free TCP port per bind address, all different (held until all are chosen)."""
    ports: list[int] = []
    with ExitStack() as stack:
        for bind in binds:
            family = socket.AF_INET6 if ":" in bind else socket.AF_INET
            sock = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
            try:
                sock.bind((bind, 0))
            except OSError as error:
                raise EnvironmentProblem(
                    f"cannot find a free port on {bind}: {error.strerror}",
                    hint="Check the bind addresses in tinyctl.yaml (airflow.bind, postgres.bind).",
                ) from None
            ports.append(sock.getsockname()[1])
    return ports


def _runs_folder(loaded: LoadedSpec) -> PurePosixPath:
    return PurePosixPath(loaded.spec.project.state_dir) / RUNS_FOLDER


def plan_run(
    loaded: LoadedSpec, environ: Mapping[str, str], *, name: str | None = None
) -> RunIdentity:
    """Choose this run's name, ports and folder."""
    spec = loaded.spec
    if name is not None:
        if not re.match(PROJECT_NAME, name):
            raise BadInput(
                f"--name {name!r} is not a valid project name",
                hint="Use lowercase letters, digits, '-' and '_', starting with a letter or digit.",
            )
        system, job = ci_job(environ)
    else:
        name, system, job = run_name(spec.project.name, environ)
    binds = [spec.airflow.bind]
    if spec.postgres.port is not None:
        binds.append(spec.postgres.bind)
    ports = free_ports(binds)
    return RunIdentity(
        name=name,
        project=spec.project.name,
        ci=system,
        ci_id=job,
        airflow_port=ports[0],
        postgres_port=ports[1] if len(ports) > 1 else None,
        folder=(_runs_folder(loaded) / name).as_posix(),
    )


def prepare_run_folder(loaded: LoadedSpec, run: RunIdentity) -> Path:
    """Create the run's folder: its identity file and a private copy of the data folder."""
    folder = loaded.path(run.folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / RUN_FILE, (json.dumps(run.as_dict(), indent=2) + "\n").encode())
    source = loaded.path(loaded.spec.data.path)
    data = loaded.path(run.data_dir)
    if source.is_dir():
        shutil.copytree(source, data, symlinks=True, dirs_exist_ok=True)
    for sub in ("landing", "archive"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    return folder


def read_run(loaded: LoadedSpec, name: str) -> RunIdentity:
    """A kept run's identity, for `tinyctl ci down NAME`.

    Only a run folder of this project's state folder is read, and its run.json must describe
    that very run (its name and folder): `ci down` removes that folder and stops that stack, so
    a name that climbs out (`../x`) or an edited run.json never points it anywhere else.
    """
    if not re.match(PROJECT_NAME, name):
        raise BadInput(f"{name!r} is not the name of a CI run", hint=_kept_runs(loaded))
    expected = (_runs_folder(loaded) / name).as_posix()
    file = loaded.path(expected) / RUN_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        run = RunIdentity(**data)
    except (OSError, ValueError, TypeError):
        raise BadInput(f"no CI run {name!r} in this project", hint=_kept_runs(loaded)) from None
    ports_ok = type(run.airflow_port) is int and (  # `is`: a JSON true is no port
        run.postgres_port is None or type(run.postgres_port) is int
    )
    if run.name != name or run.folder != expected or not ports_ok:
        raise BadInput(
            f"{file} does not describe CI run {name!r} (name, folder or ports differ)",
            hint="It was edited or copied from another run. Find the run's stack with "
            "`docker compose ls`, stop it with `docker compose -p NAME down --volumes`, and "
            "remove that folder yourself.",
        )
    return run


def _kept_runs(loaded: LoadedSpec) -> str:
    known = list_runs(loaded)
    return ("Kept runs: " + ", ".join(known)) if known else "There is no kept run here."


def list_runs(loaded: LoadedSpec) -> list[str]:
    runs = loaded.path(_runs_folder(loaded).as_posix())
    if not runs.is_dir():
        return []
    return sorted(p.parent.name for p in runs.glob(f"*/{RUN_FILE}"))


def remove_run_folder(loaded: LoadedSpec, run: RunIdentity) -> list[str]:
    """Delete the run's folder; returns the paths that could not be removed (if any)."""
    left: list[str] = []
    folder = loaded.path(run.folder)
    # <state folder>/ci/<run name>, inside the project folder (`loaded` may be the run's own
    # derived spec, whose state folder is the run's: only the shape can be checked here)
    if (
        folder.name != run.name
        or folder.parent.name != RUNS_FOLDER
        or loaded.root.resolve() not in folder.parents
    ):
        raise BadInput(
            f"{folder} is not the folder of CI run {run.name!r} in this project",
            hint="Nothing was removed.",
        )
    if folder.exists():
        # `onerror` rather than 3.12's `onexc`: tinyctl supports Python 3.11.
        shutil.rmtree(folder, onerror=lambda _f, path, _e: left.append(str(path)))
    return left
