"""What every command does first: open the project (spec, state layout, runtime) once."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from tinyctl.cli import output
from tinyctl.cli.app import open_spec
from tinyctl.cli.locks import OPENED, lock_project
from tinyctl.project import Project
from tinyctl.stack.own import require_up

if TYPE_CHECKING:
    from tinyctl.project import Project


class _EchoHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Running command: "):
            message = message[len("Running command: ") :]
        output.err.print(f"[dim]$ {escape(message)}[/dim]")


def enable_echo(verbose: bool) -> None:
    """--verbose: echo every external command (each logged on `tinyctl.commands`)."""
    if not verbose:
        return
    logger = logging.getLogger("tinyctl.commands")
    if any(isinstance(h, _EchoHandler) for h in logger.handlers):
        return
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_EchoHandler())
    logger.propagate = False


def open_project(
    spec: Path,
    verbose: bool = False,
    *,
    check_engine: bool = False,
    lock: str | None = None,
    needs: bool | tuple[str, ...] = False,
) -> Project:
    """The command's one Project: the spec loaded (warnings shown), its state folder and runtime.

    `check_engine`: ask the runtime first whether its engine is there (exit 3 if not).
    `lock`: the command changes the stack; hold the project's lock (named after it) meanwhile.
    `needs`: the command talks to the stack; exit 3 unless this project's own services (all with
    True, else those named) are up and healthy, before anything reaches a port.
    """
    enable_echo(verbose)
    project = Project(open_spec(spec))
    OPENED.append(project)
    if check_engine:
        project.runtime.check_engine()
    if lock is not None:
        lock_project(project, lock, create=not needs)
    if needs:
        require_up(project, None if needs is True else needs)
    return project
