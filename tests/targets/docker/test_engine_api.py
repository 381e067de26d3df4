"""The engine API on a local socket: real unix sockets answering as the engine would (identity
and chunked bodies, errors), the hosts that are left to the Docker CLI, and on a real engine
the same container list as `docker ps`."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tinyctl.targets.docker.engine_api import (
    DEFAULT_SOCKET,
    EngineApiUnavailable,
    containers,
    engine_socket,
    get_json,
    image_labels,
    info,
    oom_kills,
    resources,
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


def test_oom_kills_asks_for_past_events_only(tmp_path: Path) -> None:
    """The engine streams events until `until`: a moment in the future would keep every
    `seed`, `psql` and `status` waiting for it."""
    sock = tmp_path / "docker.sock"
    event = {"Type": "container", "Action": "oom", "Actor": {"ID": "abc"}}
    requests = _serve(sock, b"HTTP/1.0 200 OK\r\n\r\n" + json.dumps(event).encode() + b"\n")
    found = oom_kills("com.docker.compose.project=demo", 100.0, {"DOCKER_HOST": f"unix://{sock}"})
    asked_at = time.time()
    assert found == {"abc"}
    target = requests[0].split(b"\r\n")[0].decode().split(" ")[1]
    query = parse_qs(urlsplit(target).query)
    assert query["since"] == ["100"]
    assert float(query["until"][0]) <= asked_at
    assert json.loads(query["filters"][0])["event"] == ["oom"]


@pytest.mark.parametrize(
    ("kind", "body", "path"),
    [
        ("volume", {"Volumes": [{"Name": "p_data", "Labels": {"id": "1"}}]}, "/volumes?"),
        ("network", [{"Name": "p_default", "Labels": {"id": "1"}}], "/networks?"),
        ("container", [{"Names": ["/p-api-1"], "Labels": {"id": "1"}}], "/containers/json?"),
    ],
)
def test_resources_name_each_with_its_label_values(
    tmp_path: Path, kind: str, body: object, path: str
) -> None:
    sock = tmp_path / "docker.sock"
    requests = _serve(sock, b"HTTP/1.0 200 OK\r\n\r\n" + json.dumps(body).encode())
    rows = resources(kind, "a=b", ("id", "missing"), {"DOCKER_HOST": f"unix://{sock}"})
    name = {"volume": "p_data", "network": "p_default", "container": "p-api-1"}[kind]
    assert rows == [[name, "1", ""]]
    assert requests[0].split(b" ")[1].decode().startswith(path)


def test_a_volume_reply_of_the_wrong_shape_leaves_it_to_the_cli(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    _serve(sock, b"HTTP/1.0 200 OK\r\n\r\n[]")
    with pytest.raises(EngineApiUnavailable):
        resources("volume", "a=b", (), {"DOCKER_HOST": f"unix://{sock}"})


def test_an_images_labels_and_a_missing_image(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    env = {"DOCKER_HOST": f"unix://{sock}"}
    body = json.dumps({"Config": {"Labels": {"org.tinyctl.inputs": "abc"}}}).encode()
    requests = _serve(sock, b"HTTP/1.0 200 OK\r\n\r\n" + body)
    assert image_labels("tinyctl/airflow:3.3.2-debian", env) == {"org.tinyctl.inputs": "abc"}
    assert requests[0].startswith(b"GET /images/tinyctl%2Fairflow%3A3.3.2-debian/json ")
    sock.unlink()
    _serve(sock, b'HTTP/1.0 404 Not Found\r\n\r\n{"message": "No such image"}')
    assert image_labels("missing:1", env) is None


def test_the_engines_info(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    body = {"ServerVersion": "20.10.24", "MemTotal": 25 * 2**30, "NCPU": 2}
    _serve(sock, b"HTTP/1.0 200 OK\r\n\r\n" + json.dumps(body).encode())
    assert info({"DOCKER_HOST": f"unix://{sock}"}) == body
    sock.unlink()
    _serve(sock, b"HTTP/1.0 200 OK\r\n\r\n[]")
    with pytest.raises(EngineApiUnavailable):
        info({"DOCKER_HOST": f"unix://{sock}"})


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
