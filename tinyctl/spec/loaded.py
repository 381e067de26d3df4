"""A loaded spec: the validated `Spec`, the file it came from and where each key stood in it.

Kept apart from the loader so that the checks, the places and the image inputs read a loaded
spec without importing the loader that runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyctl.errors import SpecProblem
from tinyctl.spec.models import Spec
from tinyctl.spec.yaml_positions import Positions


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec together with where it came from; relative paths resolve against `root`."""

    spec: Spec
    file: Path
    positions: Positions
    warnings: tuple[SpecProblem, ...] = ()

    @property
    def root(self) -> Path:
        return self.file.parent

    def path(self, relative: str) -> Path:
        """A path written in the spec, resolved against the spec's folder."""
        return (self.root / relative).resolve()

    @property
    def state_dir(self) -> Path:
        return self.path(self.spec.project.state_dir)

    def locate(self, *path: Any) -> tuple[int, int]:
        return locate(self.positions, path)


def format_path(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if any(ord(c) < 32 or c in "\x7f\x85\u2028\u2029" for c in text):
                text = repr(text)  # a key with a line break stays on one line, visibly
            out += ("." if out else "") + text
    return out


def locate(positions: Positions, path: tuple[Any, ...]) -> tuple[int, int]:
    """The position of the deepest node of `path` that exists in the YAML."""
    path = tuple(path)
    while path:
        if path in positions:
            return positions[path]
        path = path[:-1]
    return positions.get((), (1, 1))
