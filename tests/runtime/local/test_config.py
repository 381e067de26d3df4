"""The local runtime's Airflow environment: the rendered env files with container facts replaced."""

from __future__ import annotations

import json
from pathlib import Path

from tinyctl.runtime.local.config import airflow_env, internal_ports, read_env_file

RENDERED = {
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://api-server:8080/execution/",
    "AIRFLOW__API__PORT": "8080",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:p%40ss@postgres:5432/airflow",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "TINYCTL_DATA_DIR": "/opt/airflow/data",
}


def _env(tmp_path: Path, host: str = "127.0.0.1", port: int = 15432) -> dict[str, str]:
    return airflow_env(
        rendered=RENDERED,
        base={"PATH": "/usr/bin", "AIRFLOW__CORE__PARALLELISM": "99", "HOME": "/h"},
        venv_bin=tmp_path / "venv" / "bin",
        airflow_home=tmp_path / "home",
        dags_dir=tmp_path / "state" / "dags",
        logs_dir=tmp_path / "state" / "logs",
        passwords_file=tmp_path / "state" / "secrets" / "auth" / "passwords.json",
        data_dir=tmp_path / "data",
        api_host="127.0.0.1",
        api_port=18080,
        metadata_host=host,
        metadata_port=port,
        ports={"scheduler_health": 1001, "worker_log": 1002, "trigger_log": 1003},
    )


def test_container_addresses_and_paths_become_local(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__API__PORT"] == "18080" and env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        == "postgresql+psycopg2://airflow:p%40ss@127.0.0.1:15432/airflow"
    )
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "state" / "dags")
    assert env["TINYCTL_DATA_DIR"] == str(tmp_path / "data")
    assert env["PATH"].startswith(str(tmp_path / "venv" / "bin") + ":")
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] == "1001"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "1003"


def test_the_rendered_settings_win_over_the_callers_airflow_variables(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4" and env["HOME"] == "/h"


def test_an_unexposed_postgres_is_reached_through_its_socket(tmp_path: Path) -> None:
    env = _env(tmp_path, host="/run/sock", port=5432)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://airflow:p%40ss@/airflow?host=/run/sock&port=5432"
    )


def test_env_files_are_read_as_render_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "a.env"
    path.write_text("# comment\nA='x=1'\nB=\"two words\"\nC=plain\n\n")
    assert read_env_file(path) == {"A": "x=1", "B": "two words", "C": "plain"}


def test_internal_ports_are_kept_while_free_and_moved_when_taken(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "ports.json"
    first = internal_ports(path, in_use_by_us=False)
    assert internal_ports(path, in_use_by_us=False) == first
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", first["worker_log"]))
        holder.listen()
        assert internal_ports(path, in_use_by_us=True) == first, "our own stack holds it"
        moved = internal_ports(path, in_use_by_us=False)
    assert moved["worker_log"] != first["worker_log"]
    assert json.loads(path.read_text()) == moved
