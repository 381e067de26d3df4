"""A Podman API service of its own for the `podman` tests, beside the machine's Docker engine.

`podman system service` answers Docker's engine API on a unix socket in a folder of the test
session, with its own storage, run root, network configs and events log under one folder
(TINYCTL_PODMAN_ROOT, else ~/.cache/tinyctl-podman: kept between sessions, so images built
once, Airflow's above all, are reused as Docker's build cache is). Nothing here touches the
Docker engine, its images or its networks; DOCKER_HOST=unix://<socket> points tinyctl, the
docker CLI and Compose at Podman.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 30.0


def docker_on(host: str, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    """`docker ARGS` against the engine at `host` (DOCKER_HOST), captured."""
    env = {**os.environ, "DOCKER_HOST": host, **kwargs.pop("env", {})}
    return subprocess.run(
        ["docker", *args], env=env, capture_output=True, text=True, timeout=300, **kwargs
    )


def podman_root() -> Path:
    return Path(os.environ.get("TINYCTL_PODMAN_ROOT") or Path.home() / ".cache" / "tinyctl-podman")


def _ulimits() -> list[str]:
    """Podman (as root) gives every container nofile/nproc 1048576; where root lacks
    CAP_SYS_RESOURCE (inside a container) runc cannot raise them, so ask for what this process
    may have (nproc also capped at pid_max, which Podman lowers its own limit to)."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    nproc = pid_max if nproc == resource.RLIM_INFINITY else min(nproc, pid_max)
    nofile = 1048576 if nofile == resource.RLIM_INFINITY else nofile
    return [f"nofile={nofile}:{nofile}", f"nproc={nproc}:{nproc}"]


def write_config(root: Path) -> dict[str, str]:
    """containers.conf and storage.conf of the service; the environment that selects them."""
    root.mkdir(parents=True, exist_ok=True)
    ulimits = ", ".join(f'"{u}"' for u in _ulimits())
    (root / "containers.conf").write_text(
        "[containers]\n"
        f"default_ulimits = [{ulimits}]\n"
        "[engine]\n"
        # no systemd needed: cgroups by hand, events to a file of this service's own
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'events_logfile_path = "{root}/events.log"\n'
        "[network]\n"
        f'network_config_dir = "{root}/networks"\n'
    )
    (root / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{root}/storage"\nrunroot = "{root}/run"\n'
    )
    return {
        "CONTAINERS_CONF": str(root / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(root / "storage.conf"),
    }


def _answers(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect(str(sock))
            client.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
            return b" 200 " in client.recv(256)
    except OSError:
        return False


@dataclass
class PodmanService:
    """A running `podman system service` on `socket`; `stop()` ends it."""

    socket: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @classmethod
    def start(cls, folder: Path, root: Path | None = None) -> PodmanService:
        podman = shutil.which("podman")
        if podman is None:
            raise RuntimeError("podman is not installed (run `make podman`)")
        env = {**os.environ, **write_config(root or podman_root())}
        env.pop("DOCKER_HOST", None)
        folder.mkdir(parents=True, exist_ok=True)
        sock, log = folder / "podman.sock", folder / "podman-service.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [podman, "system", "service", "--time", "0", f"unix://{sock}"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(sock):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"podman system service did not start:\n{log.read_text()}")
            time.sleep(0.2)
        return cls(sock, process, log)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
