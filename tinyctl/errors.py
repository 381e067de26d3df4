"""The one family of errors tinyctl's core raises.

Core modules never print and never exit: they raise a subclass of `TinyctlError`, and the CLI
turns it into a panel and the documented exit code. Anything that is not a `TinyctlError` is a
bug and keeps its traceback.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Documented exit codes (README.md, "Exit codes")."""

    OK = 0
    FAILED = 1  # the work failed: a test, an unhealthy stack, a DAG that does not import
    BAD_INPUT = 2  # the spec, a file or an argument is wrong
    ENVIRONMENT = 3  # the machine is not ready: no Docker, no Compose, a port taken
    INTERRUPTED = 130


class TinyctlError(Exception):
    """A failure a user can act on. `hint` says what to do; `details` is shown verbatim."""

    exit_code: ExitCode = ExitCode.FAILED
    title: str = "tinyctl failed"

    def __init__(self, message: str, *, hint: str | None = None, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details


class WorkFailed(TinyctlError):
    exit_code = ExitCode.FAILED
    title = "Failed"


class BadInput(TinyctlError):
    exit_code = ExitCode.BAD_INPUT
    title = "Bad input"


class EnvironmentProblem(TinyctlError):
    exit_code = ExitCode.ENVIRONMENT
    title = "Environment problem"


FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)  # a write found its file system full


class DiskFull(EnvironmentProblem):
    """A write failed because its file system is full (ENOSPC, EDQUOT), or the database server
    said its disk is full. Names the file system (its mount point) and what was being written;
    what was written before stays whole (tinyctl writes files atomically)."""

    title = "Disk full"

    def __init__(
        self,
        message: str,
        *,
        mount: str | None = None,
        free_bytes: int | None = None,
        hint: str | None = None,
        details: str | None = None,
    ):
        super().__init__(
            message,
            hint=hint
            or "Free space there (or give it more), then run the command again: what it "
            "wrote before is unchanged.",
            details=details,
        )
        self.mount = mount
        self.free_bytes = free_bytes


@dataclass(frozen=True, order=True)
class SpecProblem:
    """One problem found in a spec file, located as precisely as the YAML allows."""

    file: Path
    line: int  # 1-based; 0 when the problem concerns the whole file
    column: int  # 1-based; 0 when unknown
    path: str  # dotted path to the key, e.g. "airflow.users[0].role"; "" for the whole file
    message: str
    severity: str = field(default="error", compare=False)

    def location(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return str(self.file)

    def __str__(self) -> str:
        return f"{self.location()}  {self.path or '(file)'}  {self.message}"


class SpecError(BadInput):
    """The spec did not load or did not validate. Carries every problem found at once."""

    title = "Invalid spec"

    def __init__(self, problems: list[SpecProblem], *, hint: str | None = None):
        self.problems = sorted(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        file = self.problems[0].file if self.problems else "the spec"
        super().__init__(
            f"{file}: {count} {noun}",
            hint=hint or "Fix the lines above, then run `tinyctl validate` again.",
        )
