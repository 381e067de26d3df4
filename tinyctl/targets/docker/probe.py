"""Does a Docker engine answer here? A quick `GET /_ping` on the engine's socket, without the
Docker CLI (a fraction of a millisecond when the socket is missing, a few when it answers).

Used only by `make_runtime` for `runtime: auto`.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

TIMEOUT = 1.5


def _ping(sock: socket.socket) -> bool:
    sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
    reply = sock.recv(64)
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply[:16]


def _unix(path: str) -> bool:
    if not Path(path).exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(path)
            return _ping(sock)
    except OSError:
        return False


def _tcp(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
            return _ping(sock)
    except OSError:
        return False


def _context_socket(environ: Mapping[str, str]) -> str | None:
    """The socket of the Docker CLI's current context, when it is not the default one."""
    config = Path(environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    name = environ.get("DOCKER_CONTEXT")
    if not name:
        try:
            name = json.loads((config / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError):
            name = None
    if not name or name == "default":
        return None
    for meta in (config / "contexts" / "meta").glob("*/meta.json"):
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if data.get("Name") == name:
            return data.get("Endpoints", {}).get("docker", {}).get("Host")
    return None


def docker_answers(environ: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """(answers, where it was asked)."""
    environ = os.environ if environ is None else environ
    hosts = [environ.get("DOCKER_HOST") or _context_socket(environ)]
    if not hosts[0]:
        runtime_dir = environ.get("XDG_RUNTIME_DIR")
        hosts = [
            "unix:///var/run/docker.sock",
            *([f"unix://{runtime_dir}/docker.sock"] if runtime_dir else []),
            f"unix://{Path.home()}/.docker/run/docker.sock",
        ]
    for host in hosts:
        assert host is not None
        url = urlparse(host)
        if url.scheme == "unix" and _unix(url.path):
            return True, host
        if url.scheme == "tcp" and url.hostname and _tcp(url.hostname, url.port or 2375):
            return True, host
        if url.scheme not in ("unix", "tcp"):  # ssh:// and friends: let the compose runtime try
            return True, host
    return False, ", ".join(h for h in hosts if h)
