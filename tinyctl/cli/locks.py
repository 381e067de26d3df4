"""The project locks a command holds, released when it ends (the CLI may run in-process), and
the projects it opened (an error it ends with is told about their full disks)."""

from __future__ import annotations

from tinyctl.project import Project

_LOCKED: list[Project] = []  # projects whose lock this command holds
OPENED: list[Project] = []  # projects this command opened


def release_locks() -> None:
    """Release the locks taken by the command that just ended (the CLI may run in-process)."""
    while _LOCKED:
        _LOCKED.pop().unlock()
    OPENED.clear()


def lock_project(project: Project, command: str, *, create: bool = True) -> None:
    """Hold the project's lock until the command ends (`release_locks`)."""
    project.lock(command, create=create)
    _LOCKED.append(project)
