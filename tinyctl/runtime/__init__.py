"""The runtime: the one interface (`tinyctl.runtime.base.Runtime`) every command runs the stack through."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyctl.errors import EnvironmentProblem

if TYPE_CHECKING:
    from tinyctl.project import Project
    from tinyctl.runtime.base import Runtime

RUNTIMES = ("compose",)


def make_runtime(project: Project) -> Runtime:
    """The runtime for this project: Compose unless TINYCTL_RUNTIME names another."""
    name = project.environ.get("TINYCTL_RUNTIME", "compose")
    if name not in RUNTIMES:
        raise EnvironmentProblem(
            f"unknown runtime {name!r}", hint=f"TINYCTL_RUNTIME may be: {', '.join(RUNTIMES)}."
        )
    from tinyctl.runtime.compose import ComposeRuntime

    return ComposeRuntime(project)


def ports_of_other_projects() -> set[int]:
    """Host ports that tinyctl projects on this machine publish (from their resources' labels),
    running or stopped; empty when no engine answers. `init` avoids them."""
    from tinyctl.errors import TinyctlError
    from tinyctl.render.context import PORTS_LABEL, PROJECT_ID_LABEL
    from tinyctl.runtime.docker import Docker

    docker = Docker()
    ports: set[int] = set()
    for kind in ("container", "volume"):
        try:
            rows = docker.resources(kind, PROJECT_ID_LABEL, (PORTS_LABEL,))
        except TinyctlError:
            return ports
        for row in rows:
            ports |= {int(p) for p in (row[1] if len(row) > 1 else "").split(",") if p.isdigit()}
    return ports
