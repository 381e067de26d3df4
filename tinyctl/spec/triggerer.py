"""Whether the stack runs Airflow's triggerer: `airflow.triggerer` (on, off, or auto).

The triggerer is the component deferred tasks wait in (a deferrable operator or sensor, a task
that calls `self.defer(...)`, an asset watcher's trigger). With `auto`, the project's code is
read statically, nothing imported: the DAG, plugins and include folders' Python files (their
tokens, so comments and strings do not count) and the DAG folder's YAML and JSON files (a DAG
factory's configuration). Anything that looks like deferral keeps the triggerer on: a wrong
"off" would leave a deferred task waiting forever, a wrong "on" costs one idle process.
"""

from __future__ import annotations

import io
import os
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tinyctl.spec.loaded import LoadedSpec

# Names whose mere use means deferral: the trigger API, the deferral exception, Airflow 3's
# event-driven scheduling (an asset watcher runs its trigger in the triggerer).
DEFERRAL_NAMES = frozenset(
    {
        "BaseTrigger",
        "BaseEventTrigger",
        "TriggerEvent",
        "TaskDeferred",
        "StartTriggerArgs",
        "AssetWatcher",
    }
)
# Keyword arguments that defer unless they are given the literal False.
DEFERRAL_FLAGS = frozenset({"deferrable", "start_from_trigger"})
# The classic deferrable classes: DateTimeSensorAsync, TimeDeltaSensorAsync, ...Async.
ASYNC_CLASS = re.compile(r"[A-Z]\w*Async")
CONFIG_FLAG = re.compile(
    r"""\b(deferrable|start_from_trigger)\b["']?\s*[:=]\s*["']?(true|yes|on)\b""", re.IGNORECASE
)
CONFIG_CLASS = re.compile(r"\b[A-Z]\w*Async\b")
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
SCAN_MAX_FILES = 5000
SCAN_MAX_BYTES = 4 << 20
SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".tinyctl"}
# Airflow's setting that makes every operator able to defer do so by default.
DEFAULT_DEFERRABLE = "operators.default_deferrable"


@dataclass(frozen=True)
class TriggererChoice:
    enabled: bool
    reason: str  # why, in words `up` shows

    @property
    def word(self) -> str:
        return "on" if self.enabled else "off"


def choose_triggerer(loaded: LoadedSpec) -> TriggererChoice:
    """The spec's choice; for `auto`, on exactly when the code may defer work."""
    setting = loaded.spec.airflow.triggerer
    if setting != "auto":
        return TriggererChoice(setting == "on", f"airflow.triggerer: {setting}")
    found = deferral_in(loaded)
    if found is None:
        return TriggererChoice(
            False, "auto: no DAG, plugin or include file uses deferrable operators or triggers"
        )
    return TriggererChoice(True, f"auto: {found}")


def deferral_in(loaded: LoadedSpec) -> str | None:
    """Where the project first defers work ("dags/x.py:12 uses deferrable=True"), or None."""
    spec = loaded.spec
    if _truthy(spec.airflow.config.get(DEFAULT_DEFERRABLE)):
        return f"airflow.config sets {DEFAULT_DEFERRABLE}"
    dags = loaded.path(spec.dags.path)
    folders = (dags, loaded.path(spec.plugins.path), loaded.path(spec.include.path))
    for folder in dict.fromkeys(folders):
        for file in _files(folder, configs=folder == dags):
            hit = _scan(file)
            if hit is not None:
                line, what = hit
                return f"{_shown(file, loaded.root)}:{line} uses {what}"
    return None


def _truthy(value: object) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "on")


def _shown(file: Path, root: Path) -> str:
    try:
        return str(file.relative_to(root))
    except ValueError:
        return str(file)


def _files(folder: Path, *, configs: bool) -> Iterator[Path]:
    """The Python files under `folder` (and its YAML/JSON files with `configs`), in a stable order."""
    suffixes = (".py", *(CONFIG_SUFFIXES if configs else ()))
    count = 0
    for root, dirs, files in os.walk(folder, onerror=lambda _error: None):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(suffixes):
                count += 1
                if count > SCAN_MAX_FILES:
                    return
                yield Path(root) / name


def _scan(file: Path) -> tuple[int, str] | None:
    """(line, what) of the first sign of deferral in `file`; None when there is none."""
    try:
        if file.stat().st_size > SCAN_MAX_BYTES:
            return None
        text = file.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None
    if file.suffix != ".py":
        return _scan_config(text)
    try:
        return python_deferral(text)
    except (tokenize.TokenError, SyntaxError):
        return _scan_config(text)  # not Python that imports: read it as text


def python_deferral(source: str) -> tuple[int, str] | None:
    """(line, what) of the first token sequence in `source` that defers work, or None."""
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type in (tokenize.NAME, tokenize.OP)
    ]
    for i, token in enumerate(tokens):
        after = [t.string for t in tokens[i + 1 : i + 3]]
        name = token.string
        if token.type != tokenize.NAME:
            continue
        if name in DEFERRAL_NAMES or ASYNC_CLASS.fullmatch(name):
            return token.start[0], name
        if name in DEFERRAL_FLAGS and after[:1] == ["="] and after[1:] != ["False"]:
            return token.start[0], f"{name}={after[1] if len(after) > 1 else ''}"
        if name == "defer" and i and tokens[i - 1].string == "." and after[:1] == ["("]:
            return token.start[0], ".defer(...)"
    return None


def _scan_config(text: str) -> tuple[int, str] | None:
    for number, line in enumerate(text.splitlines(), start=1):
        match = CONFIG_FLAG.search(line) or CONFIG_CLASS.search(line)
        if match:
            return number, match.group(0)
    return None
