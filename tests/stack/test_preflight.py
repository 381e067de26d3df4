"""Pre-flight checks with real sockets (a port really taken by this process)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from conftest import free_port

from tinyctl.errors import EnvironmentProblem
from tinyctl.stack.preflight import (
    GiB,
    PortRequest,
    check_memory,
    check_ports,
    port_free,
    port_holder,
)


def test_a_listening_port_is_taken_and_its_holder_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_free("127.0.0.1", port)
        assert not port_free("0.0.0.0", port)
        name = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
        assert port_holder(port) == f"{name} (pid {os.getpid()})"
        with pytest.raises(EnvironmentProblem) as caught:
            check_ports([PortRequest("airflow.port", "127.0.0.1", port)], own_ports=set())
    assert f"127.0.0.1:{port} (airflow.port) is in use by" in (caught.value.details or "")
    assert "airflow.port" in (caught.value.hint or "")


def test_free_ports_and_our_own_ports_pass() -> None:
    port = free_port()
    assert port_free("127.0.0.1", port)
    check_ports([PortRequest("postgres.port", "127.0.0.1", port)], own_ports=set())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        check_ports([PortRequest("postgres.port", "127.0.0.1", port)], own_ports={port})


def test_every_taken_port_is_reported_at_once() -> None:
    with socket.socket() as a, socket.socket() as b:
        for sock in (a, b):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        requests = [
            PortRequest("airflow.port", "127.0.0.1", a.getsockname()[1]),
            PortRequest("postgres.port", "127.0.0.1", b.getsockname()[1]),
        ]
        with pytest.raises(EnvironmentProblem) as caught:
            check_ports(requests, own_ports=set())
    assert len((caught.value.details or "").splitlines()) == 2


def test_memory_check() -> None:
    check_memory(64 * GiB, 1 * GiB)
    with pytest.raises(EnvironmentProblem, match=r"Docker engine has 0\.5 GiB"):
        check_memory(GiB // 2, 2 * GiB)


def test_the_memory_check_speaks_of_the_runtime_in_use() -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        check_memory(GiB // 2, 2 * GiB, "local")
    assert "this machine" in caught.value.message and "Docker" not in (caught.value.hint or "")
