"""Read-only questions to the Docker engine's HTTP API on its local socket, without a Docker
CLI process: which containers of a project exist, and their state and health.

`docker compose ps` costs a Compose process (a tenth of a second and more on a busy machine);
commands that only need to know that this project's own Postgres is up before they connect to
it (`seed`, `psql`) ask the engine here instead, in a few milliseconds. Only the socket the
Docker CLI itself would use is asked (DOCKER_HOST, else the current context, else the default
socket); anything else (tcp, ssh, TLS) raises `EngineApiUnavailable` and the caller goes
through the CLI as before.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlparse

from tinyctl.targets.docker.probe import _context_socket

DEFAULT_SOCKET = "/var/run/docker.sock"
TIMEOUT = 5.0


class EngineApiUnavailable(Exception):
    """The engine cannot be asked here directly (not a local socket, no answer, a bad reply)."""


def engine_socket(environ: Mapping[str, str]) -> str:
    """The unix socket the Docker CLI would talk to; EngineApiUnavailable for any other host."""
    if environ.get("DOCKER_TLS_VERIFY") or environ.get("DOCKER_CERT_PATH"):
        raise EngineApiUnavailable("TLS settings: left to the Docker CLI")
    host = environ.get("DOCKER_HOST") or _context_socket(environ)
    if not host:
        return DEFAULT_SOCKET
    url = urlparse(host)
    if url.scheme != "unix" or not url.path:
        raise EngineApiUnavailable(f"{host}: not a local socket")
    return url.path


def _decode_chunked(body: bytes) -> bytes:
    out, rest = bytearray(), body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


class NotFound(EngineApiUnavailable):
    """The engine answered 404: no such image, container, ..."""


def get_json(path: str, environ: Mapping[str, str], *, timeout: float = TIMEOUT) -> Any:
    """GET `path` of the engine API; the decoded JSON body of a 200 reply (NotFound on 404)."""
    where, body = _get(path, environ, timeout)
    try:
        return json.loads(body)
    except ValueError as error:
        raise EngineApiUnavailable(f"{where}: not JSON ({error})") from None


def _get(path: str, environ: Mapping[str, str], timeout: float) -> tuple[str, bytes]:
    """(the socket, the body of a 200 reply to GET `path`)."""
    where = engine_socket(environ)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(where)
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            reply = bytearray()
            while data := sock.recv(65536):
                reply += data
    except OSError as error:
        raise EngineApiUnavailable(f"{where}: {error}") from None
    head, _, body = bytes(reply).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ", 2)
    if len(status) >= 2 and status[0].startswith(b"HTTP/1.") and status[1] == b"404":
        raise NotFound(f"{where}: {path}: not found")
    if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or status[1] != b"200":
        raise EngineApiUnavailable(f"{where}: {lines[0][:80]!r}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(b":") for h in lines[1:])}
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = _decode_chunked(body)
    return where, body


def oom_kills(project_label: str, since: float, environ: Mapping[str, str]) -> set[str]:
    """Ids of the containers carrying `project_label` that the kernel's OOM killer hit since
    `since` (Unix time), from the engine's recent events (it keeps the last few hundred): a
    container in a restart loop shows no OOM kill in its state while it runs again."""
    filters = quote(
        json.dumps({"type": ["container"], "event": ["oom"], "label": [project_label]}), safe=""
    )
    # `until` is now, to the microsecond: a whole second later would keep the engine streaming
    # (and the caller waiting) until then.
    _where, body = _get(
        f"/events?since={int(since)}&until={time.time():.6f}&filters={filters}",
        environ,
        TIMEOUT,
    )
    found = set()
    for line in body.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        ident = (event.get("Actor") or {}).get("ID") or event.get("id")
        if ident:
            found.add(str(ident))
    return found


def containers(labels: Sequence[str], environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every container (running or not) carrying all of `labels` ("key=value" or "key")."""
    filters = quote(json.dumps({"label": list(labels)}), safe="")
    rows = get_json(f"/containers/json?all=1&filters={filters}", environ)
    if not isinstance(rows, list):
        raise EngineApiUnavailable("the container list is not a list")
    return rows


def inspect(container: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """`docker inspect CONTAINER`: its state (OOMKilled, StartedAt, ...), restarts and limits."""
    data = get_json(f"/containers/{quote(container, safe='')}/json", environ)
    if not isinstance(data, dict):
        raise EngineApiUnavailable("the container's inspection is not an object")
    return data


def resources(kind: str, label: str, fields: Sequence[str], environ: Mapping[str, str]):
    """Containers (all states), volumes or networks carrying `label` (k=v), each as
    [name, *values of the labels in `fields`] ("" for a missing label): what
    `docker_cli.resources` gives, from one request."""
    filters = quote(json.dumps({"label": [label]}), safe="")
    if kind == "container":
        items = containers([label], environ)
        named = [(str((c.get("Names") or [""])[0]).lstrip("/"), c.get("Labels")) for c in items]
    elif kind == "volume":
        reply = get_json(f"/volumes?filters={filters}", environ)
        items = (reply or {}).get("Volumes") or [] if isinstance(reply, dict) else None
        if items is None:
            raise EngineApiUnavailable("the volume list is not an object")
        named = [(str(v.get("Name", "")), v.get("Labels")) for v in items]
    elif kind == "network":
        items = get_json(f"/networks?filters={filters}", environ)
        if not isinstance(items, list):
            raise EngineApiUnavailable("the network list is not a list")
        named = [(str(n.get("Name", "")), n.get("Labels")) for n in items]
    else:
        raise ValueError(kind)
    return [[name, *(str((labels or {}).get(f, "")) for f in fields)] for name, labels in named]


def _image(tag: str, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """`docker image inspect` of `tag`, or None when there is no such image."""
    try:
        image = get_json(f"/images/{quote(tag, safe='')}/json", environ)
    except NotFound:
        return None
    if not isinstance(image, dict):
        raise EngineApiUnavailable("the image is not an object")
    return image


def image_labels(tag: str, environ: Mapping[str, str]) -> dict[str, str] | None:
    """The labels of image `tag` (`docker image inspect`), or None when there is no such image."""
    image = _image(tag, environ)
    return None if image is None else dict((image.get("Config") or {}).get("Labels") or {})


def image_id(tag: str, environ: Mapping[str, str]) -> str | None:
    """The id (sha256:...) of image `tag`, or None when there is no such image."""
    image = _image(tag, environ)
    return None if image is None else str(image.get("Id") or "") or None


def info(environ: Mapping[str, str]) -> dict[str, Any]:
    """`docker info` of the engine: ServerVersion, MemTotal, NCPU, ..."""
    reply = get_json("/info", environ)
    if not isinstance(reply, dict) or "ServerVersion" not in reply:
        raise EngineApiUnavailable("the engine info is not an object")
    return reply


def version(environ: Mapping[str, str]) -> dict[str, Any]:
    """`docker version` of the engine (GET /version): Version, ApiVersion, Components, ..."""
    reply = get_json("/version", environ)
    if not isinstance(reply, dict):
        raise EngineApiUnavailable("the engine version is not an object")
    return reply


def run_healthcheck(container: str, environ: Mapping[str, str], path: str) -> str:
    """Run a container's health check once (Podman's libpod API: `path` has a {name} slot);
    its result: healthy, unhealthy or starting (failures inside the start period)."""
    reply = get_json(path.format(name=quote(container, safe="")), environ, timeout=30)
    if not isinstance(reply, dict):
        raise EngineApiUnavailable("the health check result is not an object")
    return str(reply.get("Status") or "")
