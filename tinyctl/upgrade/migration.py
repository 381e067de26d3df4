"""ruff's Airflow 3 migration rules (AIR3xx) on the project's DAG, plugin and include code.

ruff is a dependency of tinyctl: its binary is the one the `ruff` package ships (found with
`ruff.__main__.find_ruff_bin`), else `ruff` on PATH. Only the AIR3 rules run (`--isolated`: the
project's own ruff settings neither add nor remove rules); `--fix` applies ruff's safe fixes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyctl.errors import EnvironmentProblem, WorkFailed

RULES = "AIR3"


@dataclass(frozen=True)
class Finding:
    file: str  # relative to the project folder
    line: int
    column: int
    code: str  # e.g. AIR301
    message: str
    fix: str | None  # ruff's suggested fix, in words
    fixable: bool  # ruff applies it with --fix (a safe fix)
    url: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "message": self.message,
            "fix": self.fix,
            "fixable": self.fixable,
            "url": self.url,
        }


def ruff_binary() -> str:
    try:
        # lazy: an optional package (ruff), looked for only here
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-not-found]

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        if found:
            return found
    raise EnvironmentProblem(
        "ruff is not installed (upgrade-test runs its Airflow 3 rules)",
        hint="Reinstall tinyctl (ruff is one of its dependencies), or put ruff on PATH.",
    )


def check_migration(root: Path, folders: list[Path], *, fix: bool = False) -> list[Finding]:
    """The AIR3xx findings in `folders` (those that exist); with `fix`, after applying safe fixes."""
    targets = [str(f) for f in folders if f.is_dir()]
    if not targets:
        return []
    argv = [ruff_binary(), "check", "--isolated", "--preview", "--select", RULES, "--no-cache"]
    argv += ["--output-format", "json", "--exit-zero", *(["--fix"] if fix else []), *targets]
    result = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=300)
    try:
        items = json.loads(result.stdout or "[]")
    except ValueError:
        raise WorkFailed(
            f"ruff failed (exit code {result.returncode})",
            details=(result.stderr or result.stdout)[-2000:],
        ) from None
    return sorted((_finding(root, item) for item in items), key=lambda f: (f.file, f.line, f.code))


def _finding(root: Path, item: dict[str, Any]) -> Finding:
    fix = item.get("fix") or {}
    try:
        rel = Path(item["filename"]).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = item["filename"]
    location = item.get("location") or {}
    return Finding(
        file=rel,
        line=int(location.get("row") or 0),
        column=int(location.get("column") or 0),
        code=item.get("code") or "?",
        message=item.get("message") or "",
        fix=fix.get("message") or _help(item),
        fixable=fix.get("applicability") == "safe",
        url=item.get("url"),
    )


def _help(item: dict[str, Any]) -> str | None:
    # without an automatic fix ruff still says what to write instead, in the message's help
    return item.get("help") or None
