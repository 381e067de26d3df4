"""The runtime: the one interface (`tinyctl.runtime.base.Runtime`) every command runs the stack
through, and the one place that chooses which implementation runs it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tinyctl.errors import BadInput

if TYPE_CHECKING:
    from tinyctl.runtime.base import Runtime
    from tinyctl.spec.loader import LoadedSpec

RUNTIMES = ("compose", "local")
CHOICES = ("auto", *RUNTIMES)
RUNTIME_RECORD = (
    "runtime.json"  # written by a runtime's start: the stack's runtime while its data lives
)


def choose_runtime(loaded: LoadedSpec, environ: Mapping[str, str]) -> tuple[str, str]:
    """(runtime name, why): TINYCTL_RUNTIME, else the spec's `runtime`; `auto` keeps the runtime
    a stack with data was started with, else compose when a Docker engine answers, else local."""
    chosen = environ.get("TINYCTL_RUNTIME")
    if chosen:
        if chosen not in CHOICES:
            raise BadInput(
                f"TINYCTL_RUNTIME={chosen!r} is not a runtime",
                hint=f"TINYCTL_RUNTIME may be: {', '.join(CHOICES)}.",
            )
        if chosen != "auto":
            return chosen, "TINYCTL_RUNTIME"
    elif loaded.spec.runtime != "auto":
        return loaded.spec.runtime, "runtime in tinyctl.yaml"
    try:
        recorded = json.loads((loaded.state_dir / RUNTIME_RECORD).read_text()).get("runtime")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded in RUNTIMES:
        return recorded, f"auto: this project's stack was started with {recorded}"
    from tinyctl.runtime.engine_probe import docker_answers

    answers, where = docker_answers(environ)
    if answers:
        return "compose", f"auto: a Docker engine answers at {where}"
    return "local", f"auto: no Docker engine answers ({where})"


def make_runtime(loaded: LoadedSpec, environ: Mapping[str, str] | None = None) -> Runtime:
    """The runtime for this project (see `choose_runtime`)."""
    environ = os.environ if environ is None else environ
    name, reason = choose_runtime(loaded, environ)
    if name == "local":
        from tinyctl.runtime.local import LocalRuntime

        return LocalRuntime(loaded, environ, reason)
    from tinyctl.runtime.compose import ComposeRuntime

    runtime = ComposeRuntime(loaded, environ)
    runtime.reason = reason
    return runtime
