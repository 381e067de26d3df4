"""Where tinyctl's shipped resource folders live.

In a built wheel the top-level folders `templates/`, `docker/` and `dags/` are installed under
`tinyctl/_resources/`; in a source checkout (including an editable install) they sit next to the
package. Callers ask for a folder by name and never care which.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
NAMES = ("templates", "docker", "dags")


@cache
def resource_dir(name: str) -> Path:
    if name not in NAMES:
        raise ValueError(f"unknown resource folder {name!r}")
    for candidate in (_PACKAGE / "_resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"tinyctl resource folder {name!r} is missing from the installation")


def templates_dir() -> Path:
    return resource_dir("templates")


def docker_dir() -> Path:
    return resource_dir("docker")


def sample_dags_dir() -> Path:
    return resource_dir("dags")
