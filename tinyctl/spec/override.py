"""A derived spec: the user's spec with a few stack-identity fields replaced, in memory only.

`tinyctl ci run` gives every run its own Compose project name, free ports and state folder so
that two pipelines on one runner never meet, without rewriting the user's `tinyctl.yaml`. The
derived `LoadedSpec` keeps the original file and positions: paths still resolve against the
project folder and errors still point at the user's lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from tinyctl.errors import BadInput
from tinyctl.spec.loaded import LoadedSpec
from tinyctl.spec.models import PROJECT_NAME, Spec


@dataclass(frozen=True)
class SpecOverride:
    """Fields replaced in the derived spec; None keeps the spec's own value."""

    name: str | None = None
    airflow_port: int | None = None
    postgres_port: int | None = None  # ignored when the spec keeps Postgres unexposed
    state_dir: str | None = None  # relative to the project folder
    data_path: str | None = None  # relative to the project folder
    airflow_version: str | None = None  # e.g. `tinyctl upgrade-test --to` (an Airflow 3 version)


def _relative_inside(value: str, what: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BadInput(f"{what} {value!r} must be a relative path inside the project folder")
    return path.as_posix()


def apply_override(loaded: LoadedSpec, override: SpecOverride) -> LoadedSpec:
    """The spec of `loaded` with `override` applied. Raises BadInput for an invalid value."""
    spec: Spec = loaded.spec
    project = spec.project
    if override.name is not None:
        if not re.match(PROJECT_NAME, override.name):
            raise BadInput(
                f"{override.name!r} is not a valid project name",
                hint="Use lowercase letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters.",
            )
        project = project.model_copy(update={"name": override.name})
    if override.state_dir is not None:
        project = project.model_copy(
            update={"state_dir": _relative_inside(override.state_dir, "state folder")}
        )
    airflow = spec.airflow
    if override.airflow_version is not None:
        if not re.fullmatch(r"3\.\d+\.\d+", override.airflow_version):
            raise BadInput(
                f"{override.airflow_version!r} is not an Airflow 3 version such as 3.3.2",
                hint="tinyctl runs Airflow 3 only.",
            )
        airflow = airflow.model_copy(update={"version": override.airflow_version})
    if override.airflow_port is not None:
        airflow = airflow.model_copy(update={"port": _port(override.airflow_port)})
    postgres = spec.postgres
    if override.postgres_port is not None and postgres.port is not None:
        postgres = postgres.model_copy(update={"port": _port(override.postgres_port)})
    data = spec.data
    if override.data_path is not None:
        data = data.model_copy(update={"path": _relative_inside(override.data_path, "data folder")})
    derived = spec.model_copy(
        update={"project": project, "airflow": airflow, "postgres": postgres, "data": data}
    )
    return replace(loaded, spec=derived)


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise BadInput(f"port {value} is out of range (1-65535)")
    return value
