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
