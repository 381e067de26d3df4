"""The engine API on a local socket: real unix sockets answering as the engine would (identity
and chunked bodies, errors), the hosts that are left to the Docker CLI, and on a real engine
the same container list as `docker ps`."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from tinyctl.runtime.engine_api import (
    DEFAULT_SOCKET,
    EngineApiUnavailable,
    containers,
    engine_socket,
    get_json,
)


def _serve(path: Path, reply: bytes) -> list[bytes]:
    """Answer one request on a unix socket at `path` with `reply`; the request is recorded."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    requests: list[bytes] = []

    def answer() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                requests.append(conn.recv(65536))
                conn.sendall(reply)

    threading.Thread(target=answer, daemon=True).start()
    return requests


def test_the_container_list_is_asked_with_label_filters(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    body = json.dumps([{"Id": "abc", "State": "running"}]).encode()
    requests = _serve(sock, b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body)
    rows = containers(["com.docker.compose.project=demo"], {"DOCKER_HOST": f"unix://{sock}"})
    assert rows == [{"Id": "abc", "State": "running"}]
    line = requests[0].split(b"\r\n")[0].decode()
    assert line.startswith("GET /containers/json?all=1&filters=")
    assert "com.docker.compose.project%3Ddemo" in line


def test_a_chunked_body_is_decoded(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    _serve(
        sock,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\n[{}\r\n4;x=y\r\n, {}\r\n1\r\n]\r\n0\r\n\r\n",
    )
    assert get_json("/containers/json", {"DOCKER_HOST": f"unix://{sock}"}) == [{}, {}]


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.0 500 Internal Server Error\r\n\r\n{}",
        b"HTTP/1.0 200 OK\r\n\r\nnot json",
        b"SSH-2.0-nope\r\n",
    ],
)
def test_a_bad_reply_leaves_it_to_the_cli(tmp_path: Path, reply: bytes) -> None:
    sock = tmp_path / "docker.sock"
    _serve(sock, reply)
    with pytest.raises(EngineApiUnavailable):
        get_json("/containers/json", {"DOCKER_HOST": f"unix://{sock}"})


def test_a_missing_socket_leaves_it_to_the_cli(tmp_path: Path) -> None:
    with pytest.raises(EngineApiUnavailable, match=r"none\.sock"):
        get_json("/_ping", {"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})


@pytest.mark.parametrize(
    "environ",
    [
        {"DOCKER_HOST": "tcp://127.0.0.1:2375"},
        {"DOCKER_HOST": "ssh://user@host"},
        {"DOCKER_HOST": "unix:///var/run/docker.sock", "DOCKER_TLS_VERIFY": "1"},
    ],
)
def test_only_a_local_socket_is_asked_directly(environ: dict[str, str]) -> None:
    with pytest.raises(EngineApiUnavailable):
        engine_socket(environ)


def test_the_default_socket_and_the_current_context(tmp_path: Path) -> None:
    assert engine_socket({"DOCKER_CONFIG": str(tmp_path)}) == DEFAULT_SOCKET
    meta = tmp_path / "contexts" / "meta" / "abc"
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": "other", "Endpoints": {"docker": {"Host": "unix:///run/other.sock"}}})
    )
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "other"}))
    assert engine_socket({"DOCKER_CONFIG": str(tmp_path)}) == "/run/other.sock"


@pytest.mark.engine
def test_the_engine_lists_what_docker_ps_lists() -> None:
    import os

    ids = subprocess.run(
        ["docker", "ps", "-a", "-q", "--no-trunc"], capture_output=True, text=True, check=True
    ).stdout.split()
    rows = containers([], os.environ)
    assert sorted(r["Id"] for r in rows) == sorted(ids)
