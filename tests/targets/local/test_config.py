"""The local runtime's Airflow environment: the rendered env files with container facts replaced."""

from __future__ import annotations

import json
import shlex
import stat
from pathlib import Path

from tinyctl.render.context import AIRFLOW_SECRETS_DIR
from tinyctl.targets.local.config import (
    airflow_env,
    internal_ports,
    local_secret_files,
    read_env_file,
)

URL = "postgresql+psycopg2://airflow:p%40ss@postgres:5432/airflow"
RENDERED = {
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://api-server:8080/execution/",
    "AIRFLOW__API__PORT": "8080",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": f"cat {AIRFLOW_SECRETS_DIR}/sql_alchemy_conn",
    "AIRFLOW__CORE__FERNET_KEY_CMD": f"cat {AIRFLOW_SECRETS_DIR}/fernet_key",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "TINYCTL_DATA_DIR": "/opt/airflow/data",
}


def _secrets(tmp_path: Path, host: str = "127.0.0.1", port: int = 15432) -> dict[str, Path]:
    state_secrets = tmp_path / "state" / "secrets" / "airflow"
    state_secrets.mkdir(parents=True, exist_ok=True)
    (state_secrets / "sql_alchemy_conn").write_text(URL)
    (state_secrets / "fernet_key").write_text("fernet-secret")
    return local_secret_files(
        RENDERED,
        airflow_secrets=state_secrets,
        local_secrets=tmp_path / "state" / "local" / "secrets",
        metadata_host=host,
        metadata_port=port,
    )


def _cmd_file(env: dict[str, str], key: str) -> Path:
    argv = shlex.split(env[key])
    assert argv[0] == "cat" and len(argv) == 2, "Airflow runs it with shlex, without a shell"
    return Path(argv[1])


def _env(tmp_path: Path, host: str = "127.0.0.1", port: int = 15432) -> dict[str, str]:
    return airflow_env(
        rendered=RENDERED,
        base={"PATH": "/usr/bin", "AIRFLOW__CORE__PARALLELISM": "99", "HOME": "/h"},
        venv_bin=tmp_path / "venv" / "bin",
        airflow_home=tmp_path / "home",
        dags_dir=tmp_path / "state" / "dags",
        logs_dir=tmp_path / "state" / "logs",
        passwords_file=tmp_path / "state" / "secrets" / "auth" / "passwords.json",
        plugins_dir=tmp_path / "state" / "plugins",
        lib_dir=tmp_path / "state" / "local" / "lib",
        data_dir=tmp_path / "data",
        api_host="127.0.0.1",
        api_port=18080,
        secret_files=_secrets(tmp_path, host, port),
        ports={"scheduler_health": 1001, "worker_log": 1002, "trigger_log": 1003},
    )


def test_container_addresses_and_paths_become_local(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__API__PORT"] == "18080" and env["AIRFLOW__API__HOST"] == "127.0.0.1"
    url_file = _cmd_file(env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD")
    assert url_file == tmp_path / "state" / "local" / "secrets" / "sql_alchemy_conn"
    assert url_file.read_text() == "postgresql+psycopg2://airflow:p%40ss@127.0.0.1:15432/airflow"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "state" / "dags")
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(tmp_path / "state" / "plugins")
    assert env["PYTHONPATH"] == str(tmp_path / "state" / "local" / "lib")
    assert env["TINYCTL_DATA_DIR"] == str(tmp_path / "data")
    assert env["PATH"].startswith(str(tmp_path / "venv" / "bin") + ":")
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] == "1001"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "1003"


def test_the_rendered_settings_win_over_the_callers_airflow_variables(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4" and env["HOME"] == "/h"


def test_an_unexposed_postgres_is_reached_through_its_socket(tmp_path: Path) -> None:
    env = _env(tmp_path, host="/run/sock", port=5432)
    assert _cmd_file(env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD").read_text() == (
        "postgresql+psycopg2://airflow:p%40ss@/airflow?host=/run/sock&port=5432"
    )


def test_secrets_stay_files_and_never_reach_the_environment(tmp_path: Path) -> None:
    env = _env(tmp_path)
    joined = "\n".join(f"{k}={v}" for k, v in env.items())
    assert "p%40ss" not in joined and "fernet-secret" not in joined
    assert not any(k in env for k in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",))
    # Secrets without an address are read from the state folder itself, not copied.
    fernet = _cmd_file(env, "AIRFLOW__CORE__FERNET_KEY_CMD")
    assert fernet == tmp_path / "state" / "secrets" / "airflow" / "fernet_key"
    url_file = _cmd_file(env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD")
    assert stat.S_IMODE(url_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(url_file.parent.stat().st_mode) == 0o700


def test_a_state_folder_with_spaces_is_quoted_for_airflows_shlex(tmp_path: Path) -> None:
    spaced = tmp_path / "my project"
    env = _env(spaced)
    assert _cmd_file(env, "AIRFLOW__CORE__FERNET_KEY_CMD").read_text() == "fernet-secret"


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


def test_one_off_mount_targets_become_their_host_folders(tmp_path: Path) -> None:
    from tinyctl.targets.local.config import local_paths

    swap = local_paths({"/opt/airflow": tmp_path / "a", "/opt/airflow/dags": tmp_path / "d"})
    assert swap("/opt/airflow/dags/x.py") == f"{tmp_path / 'd'}/x.py"
    assert swap("/opt/airflow/dags:/opt/airflow") == f"{tmp_path / 'd'}:{tmp_path / 'a'}"
    assert swap("/opt/airflowish") == "/opt/airflowish"  # whole path components only
