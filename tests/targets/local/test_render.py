"""The local target renders the plan itself: local folders, 127.0.0.1 or the database's unix
socket, the spec's ports and its own internal ones; secrets stay files (0600), never values in
an environment. Nothing of the Compose target's output is read or rewritten."""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

from tinyctl.plan.values import Place, Port
from tinyctl.project import Project
from tinyctl.render.context import Host
from tinyctl.render.engine import render_files
from tinyctl.state.secrets import Secrets, required_names
from tinyctl.targets.local import render as local_render

PORTS = {Port.SCHEDULER_HEALTH: 1001, Port.WORKER_LOG: 1002, Port.TRIGGER_LOG: 1003}


def _opened(folder: Path) -> tuple[Project, Secrets]:
    project = Project.open(folder / "tinyctl.yaml")
    secrets = Secrets({n: f"p@ss-{n}" for n in required_names(project.spec)}, Path("s.json"))
    return project, secrets


def _env(project: Project, database: tuple[str, int] = ("127.0.0.1", 15432)) -> dict[str, str]:
    return local_render.airflow_environment(
        project.plan,
        project.loaded,
        base={"PATH": "/usr/bin", "AIRFLOW__CORE__PARALLELISM": "99", "HOME": "/h"},
        venv_bin=Path("/venv/bin"),
        addresses=local_render.Addresses(database, ("127.0.0.1", 18080), PORTS),
    )


def _cmd_file(env: dict[str, str], key: str) -> Path:
    argv = shlex.split(env[key])
    assert argv[0] == "cat" and len(argv) == 2, "Airflow runs it with shlex, without a shell"
    return Path(argv[1])


def test_places_and_addresses_are_local(project: Path) -> None:
    opened, _ = _opened(project)
    env = _env(opened)
    state = opened.state
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__API__PORT"] == "18080" and env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(state.dags_dir)
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(state.plugins_dir)
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == str(
        state.file(state.PASSWORDS)
    )
    assert env["PYTHONPATH"] == str(state.local_dir / "lib")
    assert env["TINYCTL_DATA_DIR"] == str(opened.path(opened.spec.data.path))
    assert env["PATH"].startswith("/venv/bin:")
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] == "1001"
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] == "127.0.0.1"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "1003"
    assert not any("/opt/" in value or "api-server:" in value for value in env.values())


def test_the_plan_settings_win_over_the_callers_airflow_variables(project: Path) -> None:
    env = _env(_opened(project)[0])
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4" and env["HOME"] == "/h"


def test_secrets_are_files_and_the_database_urls_hold_the_local_address(project: Path) -> None:
    opened, secrets = _opened(project)
    env = _env(opened)
    url_file = _cmd_file(env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD")
    assert url_file == opened.state.local_dir / "secrets" / "sql_alchemy_conn"
    fernet = _cmd_file(env, "AIRFLOW__CORE__FERNET_KEY_CMD")
    assert fernet == opened.state.file(opened.state.AIRFLOW_SECRETS) / "fernet_key"
    urls = local_render.address_secret_files(opened.plan, secrets, ("127.0.0.1", 15432))
    password = "p%40ss-airflow_db_password"
    assert urls == {
        "sql_alchemy_conn": f"postgresql+psycopg2://airflow:{password}@127.0.0.1:15432/airflow"
    }
    joined = "\n".join(f"{k}={v}" for k, v in env.items())
    assert not any(value in joined for value in secrets.values.values())


def test_an_unexposed_postgres_is_reached_through_its_socket(project: Path) -> None:
    opened, secrets = _opened(project)
    urls = local_render.address_secret_files(opened.plan, secrets, ("/run/sock", 5432))
    assert urls["sql_alchemy_conn"].endswith("@/airflow?host=/run/sock&port=5432")


def test_a_state_folder_with_spaces_is_quoted_for_airflows_shlex(tmp_path: Path) -> None:
    from tinyctl.scaffold import init_project

    root = tmp_path / "my project"
    init_project(root, name="demo")
    env = _env(_opened(root)[0])
    assert " " in str(_cmd_file(env, "AIRFLOW__CORE__FERNET_KEY_CMD"))


def test_render_writes_the_secret_files_the_passwords_and_a_local_bootstrap(project: Path) -> None:
    opened, secrets = _opened(project)
    files = render_files(opened.loaded, secrets, Host(uid=1000, ca_bundle=None), {}, target="local")
    secret_dir = str(opened.state.file(opened.state.POSTGRES_SECRETS))
    bootstrap = files["local/bootstrap.sh"].content.decode()
    assert f"cat {shlex.quote(secret_dir)}/role_etl_password" in bootstrap
    assert "/run/tinyctl-secrets" not in bootstrap
    assert files["secrets/airflow/fernet_key"].content.decode() == secrets["fernet_key"]
    assert "secrets/airflow/sql_alchemy_conn" not in files, "it needs the cluster's address"
    assert all(
        stat.S_IMODE(f.mode) == 0o600 for name, f in files.items() if name.startswith("secrets/")
    )
    assert "compose.yaml" not in files and "airflow.env" not in files


def test_a_one_off_sees_its_mounts_as_their_folders(project: Path, tmp_path: Path) -> None:
    opened, _ = _opened(project)
    addresses = local_render.Addresses(("127.0.0.1", 5432), ("127.0.0.1", 8080), {})
    resolve = local_render.oneoff_resolver(
        opened.plan, opened.loaded, {Place.DAGS: tmp_path / "d"}, addresses
    )
    from tinyctl.plan.values import PathList, PlaceRef

    assert resolve(PlaceRef(Place.DAGS)) == str(tmp_path / "d")
    assert resolve(PathList((Place.DAGS, Place.PLUGINS))) == (
        f"{tmp_path / 'd'}:{opened.state.plugins_dir}"
    )
