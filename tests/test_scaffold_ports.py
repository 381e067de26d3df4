"""`init` picks the usual ports when they are free and no other project uses them."""

from __future__ import annotations

import socket
from pathlib import Path

from conftest import free_port

from tinyctl.scaffold import choose_ports, init_project
from tinyctl.spec import load_spec


def test_the_usual_ports_when_free() -> None:
    a, b = free_port(), free_port()
    assert choose_ports((a, b), set()) == ((a, b), [])


def test_a_port_of_another_project_or_a_taken_one_moves_on_with_a_note() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        other = free_port()
        (airflow, postgres), notes = choose_ports((other, taken), {other})
    assert airflow != other and postgres != taken and airflow != postgres
    assert notes[0].startswith(
        f"airflow.port: {airflow} ({other} is used by another tinyctl project"
    )
    assert notes[1].startswith(f"postgres.port: {postgres} ({taken} is already taken")


def test_init_writes_the_chosen_ports(tmp_path: Path) -> None:
    result = init_project(tmp_path / "p", pick_ports=True)
    spec = load_spec(tmp_path / "p" / "tinyctl.yaml").spec
    assert (spec.airflow.port, spec.postgres.port) == result.ports
