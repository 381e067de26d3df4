"""One stage of `tinyctl ci run` as it is recorded: its verdict, time, summary and error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tinyctl.errors import TinyctlError


@dataclass
class StageRecord:
    name: str
    # passed | failed | interrupted | skipped | not_run (an earlier stage failed) | kept
    status: str = "not_run"
    seconds: float = 0.0
    summary: str = ""
    exit_code: int = 0
    error: dict[str, Any] | None = None
    exception: TinyctlError | None = field(default=None, repr=False)  # for the CLI's panel

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "summary": self.summary,
            "exit_code": self.exit_code,
            "error": self.error,
        }
