"""The runtime: the one interface (`tinyctl.targets.base.Runtime`) every command runs the stack
through, and the one place that chooses which implementation runs it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyctl.errors import BadInput
from tinyctl.state.runtime_record import read_runtime

if TYPE_CHECKING:
    from tinyctl.project import Project
    from tinyctl.targets.base import Runtime

RUNTIMES = ("compose", "local")
CHOICES = ("auto", *RUNTIMES)


def choose_runtime(project: Project) -> tuple[str, str]:
    """(runtime name, why): TINYCTL_RUNTIME, else the spec's `runtime`; `auto` keeps the runtime
    a stack with data was started with, else compose when a Docker engine answers, else local."""
    environ = project.environ
    chosen = environ.get("TINYCTL_RUNTIME")
    if chosen:
        if chosen not in CHOICES:
            raise BadInput(
                f"TINYCTL_RUNTIME={chosen!r} is not a runtime",
                hint=f"TINYCTL_RUNTIME may be: {', '.join(CHOICES)}.",
            )
        if chosen != "auto":
            return chosen, "TINYCTL_RUNTIME"
    elif project.spec.runtime != "auto":
        return project.spec.runtime, "runtime in tinyctl.yaml"
    recorded = read_runtime(project.state)
    if recorded in RUNTIMES:
        return recorded, f"auto: this project's stack was started with {recorded}"
    from tinyctl.targets.docker.probe import docker_answers

    answers, where = docker_answers(environ)
    if answers:
        return "compose", f"auto: a Docker engine answers at {where}"
    return "local", f"auto: no Docker engine answers ({where})"


def make_runtime(project: Project) -> Runtime:
    """The runtime for this project (see `choose_runtime`): the only place that picks one."""
    name, reason = choose_runtime(project)
    runtime: Runtime
    if name == "local":
        from tinyctl.targets.local.runtime import LocalRuntime

        runtime = LocalRuntime(project)
    else:
        from tinyctl.targets.compose.runtime import ComposeRuntime

        runtime = ComposeRuntime(project)
    runtime.reason = reason
    return runtime


def ports_of_other_projects() -> set[int]:
    """Host ports that tinyctl projects on this machine publish, running or stopped: Compose
    stacks' from their resources' labels (none when no engine answers), local stacks' from the
    machine's record of them. `init` avoids them."""
    import os

    from tinyctl.errors import TinyctlError
    from tinyctl.render.context import PORTS_LABEL, PROJECT_ID_LABEL
    from tinyctl.targets.docker.gateway import Docker
    from tinyctl.targets.docker.probe import docker_answers
    from tinyctl.targets.local.registry import ports_in_use

    ports: set[int] = ports_in_use(os.environ)
    if not docker_answers(os.environ)[0]:
        return ports
    docker = Docker()
    for kind in ("container", "volume"):
        try:
            rows = docker.resources(kind, PROJECT_ID_LABEL, (PORTS_LABEL,))
        except TinyctlError:
            return ports
        for row in rows:
            ports |= {int(p) for p in (row[1] if len(row) > 1 else "").split(",") if p.isdigit()}
    return ports
