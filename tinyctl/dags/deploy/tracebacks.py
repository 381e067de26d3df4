"""Reading Airflow's import errors: the deployed file's line, and a short traceback."""

from __future__ import annotations

import re

from tinyctl.airflow import ImportErrorInfo

_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def error_location(stack_trace: str, rel: str) -> int | None:
    """The line of the deployed file in Airflow's traceback (its last frame in that file)."""
    line = None
    for match in _FRAME.finditer(stack_trace or ""):
        if match.group("file").endswith("/" + rel) or match.group("file") == rel:
            line = int(match.group("line"))
    if line is None:  # SyntaxError tracebacks: '  File "x.py", line 3' is the only frame
        match = re.search(r"line (\d+)", stack_trace or "")
        line = int(match.group(1)) if match else None
    return line


def traceback_tail(stack_trace: str, lines: int = 4) -> str:
    """The last lines of a traceback, without the import machinery's own frames."""
    kept: list[str] = []
    skip_next = False
    for line in (stack_trace or "").strip().splitlines():
        if skip_next and line.startswith("    "):
            skip_next = False
            continue
        skip_next = False
        if line.strip().startswith('File "<frozen'):
            skip_next = True
            continue
        if line.strip():
            kept.append(line)
    return "\n".join(kept[-lines:])


def matches(error: ImportErrorInfo, rel: str) -> bool:
    """Whether an import error is about the deployed file `rel`."""
    candidates = {error.relative_fileloc or "", error.filename or ""}
    return any(c == rel or c.endswith("/" + rel) for c in candidates if c)
