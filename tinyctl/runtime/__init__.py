"""The runtime: the one interface (`tinyctl.runtime.base.Runtime`) every command runs the stack through."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tinyctl.errors import EnvironmentProblem

if TYPE_CHECKING:
    from tinyctl.runtime.base import Runtime
    from tinyctl.spec.loader import LoadedSpec

RUNTIMES = ("compose",)


def make_runtime(loaded: LoadedSpec, environ: Mapping[str, str] | None = None) -> Runtime:
    """The runtime for this project: Compose today (TINYCTL_RUNTIME chooses, once there are more)."""
    environ = os.environ if environ is None else environ
    name = environ.get("TINYCTL_RUNTIME", "compose")
    if name not in RUNTIMES:
        raise EnvironmentProblem(
            f"unknown runtime {name!r}", hint=f"TINYCTL_RUNTIME may be: {', '.join(RUNTIMES)}."
        )
    from tinyctl.runtime.compose import ComposeRuntime

    return ComposeRuntime(loaded, environ)
