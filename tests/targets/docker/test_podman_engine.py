"""What Podman 4.3's Docker-compatible API cannot do, shown on a real Podman service (the
limits `tinyctl doctor` and the README name), and tinyctl's way around each.

Each test builds or runs only a tiny image made from a root filesystem of a few files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from podman_service import docker_on

from tinyctl.targets.docker import engine_api
from tinyctl.targets.docker.podman import HEALTHCHECK_PATH, build_argv, product_of

pytestmark = pytest.mark.podman
IMAGE = "tinyctl-test/podman-limits:1"


@pytest.fixture(scope="module")
def tiny_image(podman_host: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image of a few of the host's own programs (sh, cat, test, sleep, ls) and their libraries."""
    root = tmp_path_factory.mktemp("rootfs")
    tarball = root / "rootfs.tar"
    names = ("sh", "cat", "test", "sleep", "ls")
    tools = {name: Path(shutil.which(name) or f"/bin/{name}").resolve() for name in names}
    libs: set[str] = set()
    for tool in tools.values():
        ldd = subprocess.run(["ldd", str(tool)], capture_output=True, text=True)
        libs |= {p for p in ldd.stdout.split() if p.startswith("/") and not p.endswith(":")}
    with tarfile.open(tarball, "w") as tar:
        for name, tool in tools.items():
            tar.add(tool, arcname=f"bin/{name}")
        for lib in sorted(libs):
            tar.add(Path(lib).resolve(), arcname=lib.lstrip("/"))
    done = docker_on(
        podman_host, "image", "import", "--change", 'CMD ["/bin/sh"]', str(tarball), IMAGE
    )
    assert done.returncode == 0, done.stderr
    return IMAGE


def test_the_engine_says_it_is_podman(podman_host: str) -> None:
    product = product_of(engine_api.version({"DOCKER_HOST": podman_host}))
    assert product.is_podman and product.version.startswith("4.")


def _context(tmp_path: Path, image: str) -> Path:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {image}\n"
        "RUN --mount=type=secret,id=cacert,mode=0444 test -s /run/secrets/cacert\n"
        'CMD ["/bin/sh"]\n'
    )
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  s:\n"
        "    image: tinyctl-test/podman-secret:1\n"
        "    build: {context: ., secrets: [cacert]}\n"
        "secrets:\n"
        "  cacert: {file: ./ca.pem}\n"
    )
    return tmp_path


def test_limit_compose_cannot_build_with_a_secret_on_podman(
    podman_host: str, tiny_image: str, tmp_path: Path
) -> None:
    """BuildKit: Compose boots a moby/buildkit container (no registry here); classic: refused."""
    folder = _context(tmp_path, tiny_image)
    classic = docker_on(
        podman_host,
        "compose",
        "build",
        cwd=folder,
        env={"DOCKER_BUILDKIT": "0", "COMPOSE_BAKE": "false"},
    )
    assert classic.returncode != 0
    assert "the classic builder doesn't support secrets" in classic.stderr
    buildkit = docker_on(
        podman_host,
        "compose",
        "build",
        cwd=folder,
        env={"DOCKER_BUILDKIT": "1", "COMPOSE_BAKE": "false"},
    )
    assert buildkit.returncode != 0
    assert "moby/buildkit" in buildkit.stdout + buildkit.stderr


def test_podman_remote_build_hands_the_secret_over_and_keeps_it_out_of_the_image(
    podman_host: str, tiny_image: str, tmp_path: Path
) -> None:
    folder = _context(tmp_path, tiny_image)
    build = {"context": str(folder), "secrets": [{"source": "cacert"}], "labels": {"k": "v"}}
    argv = build_argv(
        podman_host, "tinyctl-test/podman-secret:1", build, {"cacert": str(folder / "ca.pem")}
    )
    done = subprocess.run(["podman", *argv], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    listing = docker_on(
        podman_host, "run", "--rm", "tinyctl-test/podman-secret:1", "ls", "/run/secrets"
    )
    assert "cacert" not in listing.stdout
    labels = docker_on(
        podman_host,
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        "tinyctl-test/podman-secret:1",
    )
    assert json.loads(labels.stdout)["k"] == "v"


def test_limit_health_checks_do_not_run_without_systemd(podman_host: str, tiny_image: str) -> None:
    """The check (`true`, every second) never runs by itself; the libpod API runs it at once.
    Its health_status event then says no result (Docker's: `health_status: healthy`)."""
    name = f"tinyctl-health-{os.getpid()}"
    started = docker_on(
        podman_host,
        "run",
        "--detach",
        "--name",
        name,
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        tiny_image,
        "sleep",
        "120",
    )
    assert started.returncode == 0, started.stderr
    events = subprocess.Popen(
        [
            "docker",
            "events",
            "--filter",
            f"container={name}",
            "--filter",
            "event=health_status",
            "--format",
            "{{json .}}",
        ],
        env={**os.environ, "DOCKER_HOST": podman_host},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(4)
        health = docker_on(podman_host, "inspect", "--format", "{{.State.Health.Status}}", name)
        assert health.stdout.strip() == "starting"
        environ = {"DOCKER_HOST": podman_host}
        assert engine_api.run_healthcheck(name, environ, HEALTHCHECK_PATH) == "healthy"
        health = docker_on(podman_host, "inspect", "--format", "{{.State.Health.Status}}", name)
        assert health.stdout.strip() == "healthy"
        assert events.stdout is not None
        event = json.loads(events.stdout.readline())
        assert event["Action"] == "health_status"  # no ": healthy"
    finally:
        events.terminate()
        docker_on(podman_host, "rm", "--force", name)
