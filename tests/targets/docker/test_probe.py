"""Does a Docker engine answer? Against real sockets: one that answers /_ping, one that does
not speak HTTP, and none at all."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from tinyctl.targets.docker.probe import docker_answers


def _serve(path: Path, reply: bytes) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()

    def answer() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(reply)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def test_an_engine_answering_ping_is_found(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    _serve(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
    assert docker_answers({"DOCKER_HOST": f"unix://{sock}"}) == (True, f"unix://{sock}")


def test_a_socket_that_does_not_answer_ping_is_no_engine(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    _serve(sock, b"SSH-2.0-nope\r\n")
    assert docker_answers({"DOCKER_HOST": f"unix://{sock}"})[0] is False


def test_a_missing_socket_is_no_engine_and_named(tmp_path: Path) -> None:
    answers, where = docker_answers({"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert answers is False and "none.sock" in where


def test_a_closed_tcp_port_is_no_engine() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert docker_answers({"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})[0] is False
