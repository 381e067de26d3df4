"""Secrets reach containers as read-only files, never as environment variables; no Airflow
container runs as root; only the api-server mounts the (writable) auth folder."""

from __future__ import annotations

from pathlib import Path

import yaml

from tinyctl.render.context import Host
from tinyctl.render.engine import render_files
from tinyctl.spec import load_spec
from tinyctl.state.secrets import load_secrets
from tinyctl.targets.compose.render import AIRFLOW_IMAGE_UID


def _render(project: Path, uid: int) -> dict:
    loaded = load_spec(project / "tinyctl.yaml")
    secrets = load_secrets(loaded.state_dir / "secrets.json", loaded.spec)
    files = render_files(loaded, secrets, Host(uid=uid, ca_bundle=None), {})
    return {"files": files, "secrets": secrets}


def test_no_secret_is_in_an_environment_file_or_the_compose_file(project: Path) -> None:
    rendered = _render(project, 1000)
    files, secrets = rendered["files"], rendered["secrets"]
    public = b"".join(
        f.content for name, f in files.items() if not name.startswith("secrets/")
    ).decode()
    for value in secrets.values.values():
        assert value not in public
    env = files["airflow.env"].content.decode()
    for setting in (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
        "AIRFLOW__CORE__FERNET_KEY_CMD",
        "AIRFLOW__API_AUTH__JWT_SECRET_CMD",
        "AIRFLOW__API__SECRET_KEY_CMD",
    ):
        assert f"{setting}='cat /opt/tinyctl/secrets/" in env
    assert "POSTGRES_PASSWORD_FILE=" in files["postgres.env"].content.decode()
    assert files["secrets/airflow/fernet_key"].content.decode() == secrets["fernet_key"]


def test_mounts_are_read_only_except_what_airflow_writes(project: Path) -> None:
    compose = yaml.safe_load(_render(project, 1000)["files"]["compose.yaml"].content)
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source, target, *mode = volume.split(":")
            read_only = "secrets" in source or source.endswith("bootstrap.sh")
            if (read_only or target.endswith("/dags")) and source != "./secrets/auth":
                assert mode == ["ro"], (name, volume)
        auth = [v for v in service.get("volumes", []) if v.startswith("./secrets/auth")]
        assert bool(auth) == (name == "api-server"), name


def test_containers_do_not_run_as_root_when_tinyctl_does(project: Path) -> None:
    compose = yaml.safe_load(_render(project, 0)["files"]["compose.yaml"].content)
    users = {s.get("user") for s in compose["services"].values() if "user" in s}
    assert users == {f"{AIRFLOW_IMAGE_UID}:0"}


def test_a_postgres_bind_open_to_the_network_is_warned_about(project: Path) -> None:
    spec = project / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("postgres:\n", "postgres:\n  bind: 0.0.0.0\n", 1))
    loaded = load_spec(spec)
    [warning] = [w for w in loaded.warnings if w.path == "postgres.bind"]
    assert "other machines" in warning.message
