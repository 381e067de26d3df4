"""`tinyctl init --from-astro` on the project `astro dev init` makes, and on one whose settings
file uses every connection field: the spec written, no Astro file changed, secrets only in .env."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from astro_projects import EVERY_FIELD_SETTINGS, snapshot, write_astro_init
from conftest import tinyctl

from tinyctl.interop.astro import plan_import
from tinyctl.spec.models import DEFAULT_AIRFLOW_VERSION
from tinyctl.state.env_file import read_dotenv


def _import(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return tinyctl("init", "--from-astro", str(root), *args, cwd=root.parent)


def test_astro_dev_init_project(tmp_path: Path):
    root = write_astro_init(tmp_path / "astro-proj")
    before = snapshot(root)
    result = _import(root)
    assert result.returncode == 0, result.stderr + result.stdout
    assert snapshot(root) == {**before, "tinyctl.yaml": (root / "tinyctl.yaml").read_bytes()}
    spec = yaml.safe_load((root / "tinyctl.yaml").read_text())
    assert spec["airflow"]["version"] == "3.3.1"  # what Astro Runtime 3.3-7 ships
    assert spec["airflow"]["requirements"] == "requirements.txt"
    assert spec["airflow"]["system_packages"] == "packages.txt"
    assert spec["env_file"] == ".env"
    assert "connections" not in spec["airflow"]  # the template's empty entries are skipped
    assert "Astro Runtime 3.3-7 -> Airflow 3.3.1" in result.stdout
    assert (root / ".tinyctl" / ".gitignore").read_text().strip().endswith("*")
    assert tinyctl("validate", cwd=root).returncode == 0


def test_every_connection_field_and_secrets_stay_out_of_the_spec(tmp_path: Path):
    root = write_astro_init(tmp_path / "every")
    (root / "airflow_settings.yaml").write_text(EVERY_FIELD_SETTINGS)
    (root / ".env").write_text("AIRFLOW__CORE__DEFAULT_TIMEZONE=Europe/Paris\nMY_URL=http://x\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    result = _import(root)
    assert result.returncode == 0, result.stderr + result.stdout
    text = (root / "tinyctl.yaml").read_text()
    for secret in ("s3cr3t", "tok-123", "p@ss", "abc"):
        assert secret not in text and secret not in result.stdout + result.stderr
    spec = yaml.safe_load(text)["airflow"]
    conns = {c["id"]: c for c in spec["connections"]}
    assert conns["warehouse_pg"] == {
        "id": "warehouse_pg",
        "type": "postgres",
        "description": "The team warehouse",
        "host": "db.example.com",
        "login": "loader",
        "schema": "analytics",
        "port": 5433,
        "password_env": "WAREHOUSE_PG_PASSWORD",
        "extra": {"sslmode": "require"},
        "extra_env": {"api_token": "WAREHOUSE_PG_API_TOKEN"},
    }
    assert conns["http_api"]["host"] == "api.example.com"  # from conn_uri
    assert conns["http_api"]["port"] == 8443 and conns["http_api"]["extra"] == {"timeout": "30"}
    assert conns["json_extra"]["extra_env"] == {"secret_key": "JSON_EXTRA_SECRET_KEY"}
    assert spec["pools"] == [
        {"name": "io_pool", "slots": 4, "description": "Pool for IO-bound tasks"}
    ]
    assert spec["variables"] == {"environment": "dev", "threshold": "42"}
    assert spec["config"] == {"core.default_timezone": "Europe/Paris"}
    env = read_dotenv(root / ".env")
    assert env["WAREHOUSE_PG_PASSWORD"] == "s3cr3t:with@odd/chars"
    assert env["HTTP_API_PASSWORD"] == "p@ss" and env["MY_URL"] == "http://x"
    assert (root / ".env").stat().st_mode & 0o077 == 0
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=root)
    assert ignored.returncode == 0
    assert "MY_URL" in result.stdout  # named as left in .env


def test_dockerfile_lines_not_carried_are_listed(tmp_path: Path):
    root = write_astro_init(tmp_path / "dockerfile")
    (root / "Dockerfile").write_text(
        "FROM astrocrpublic.azurecr.io/runtime:3.3-7\n"
        "ENV AIRFLOW__CORE__TEST_CONNECTION=Enabled\n"
        "USER root\nRUN apt-get update && \\\n    apt-get install -y jq\n"
    )
    result = _import(root)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((root / "tinyctl.yaml").read_text())["airflow"]["config"] == {
        "core.test_connection": "Enabled"
    }
    assert "Dockerfile:3: USER root" in result.stderr
    assert "Dockerfile:4: RUN apt-get update" in result.stderr


@pytest.mark.parametrize(
    ("from_line", "expected"),
    [
        ("astrocrpublic.azurecr.io/runtime:3.3-5", "nearest known"),
        ("quay.io/astronomer/astro-runtime:latest", "does not name an Astro Runtime release"),
        ("python:3.12", "is not an Astro Runtime image"),
    ],
)
def test_unknown_images_exit_2_and_write_nothing(tmp_path: Path, from_line: str, expected: str):
    root = write_astro_init(tmp_path / "unknown")
    (root / "Dockerfile").write_text(f"FROM {from_line}\n")
    before = snapshot(root)
    result = _import(root)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(root) == before and not (root / ".tinyctl").exists()


def test_airflow_version_option_and_airflow2_runtime(tmp_path: Path):
    root = write_astro_init(
        tmp_path / "af2", runtime_image="quay.io/astronomer/astro-runtime:12.7.1"
    )
    result = _import(root)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((root / "tinyctl.yaml").read_text())["airflow"]["version"] == "3.3.2"
    assert "upgrade-test" in result.stdout
    other = write_astro_init(
        tmp_path / "given", runtime_image="astrocrpublic.azurecr.io/runtime:3.3-99"
    )
    assert _import(other, "--airflow-version", "3.3.2").returncode == 0


def test_notes_name_a_yanked_release_and_the_exact_airflow2_version(tmp_path: Path):
    yanked = plan_import(
        write_astro_init(tmp_path / "y", runtime_image="astrocrpublic.azurecr.io/runtime:3.2-1")
    )
    assert yanked.airflow_version == "3.2.0"
    assert any(n.startswith("Astro Runtime 3.2-1 was yanked by Astronomer: ") for n in yanked.notes)
    af2 = plan_import(
        write_astro_init(
            tmp_path / "a", runtime_image="quay.io/astronomer/astro-runtime:12.12.0-slim"
        )
    )
    assert af2.airflow_version == DEFAULT_AIRFLOW_VERSION
    assert any("Astro Runtime 12.12.0 runs Airflow 2.10.5;" in n for n in af2.notes)
    line_only = plan_import(
        write_astro_init(tmp_path / "l", runtime_image="quay.io/astronomer/astro-runtime:12.7.1")
    )
    assert any("Astro Runtime 12.7.1 runs Airflow 2.10;" in n for n in line_only.notes)


def test_bad_settings_file_and_existing_spec(tmp_path: Path):
    root = write_astro_init(tmp_path / "bad")
    (root / "airflow_settings.yaml").write_text(
        "airflow:\n  connections:\n    - conn_id: x\n   bad"
    )
    result = _import(root)
    assert result.returncode == 2 and "airflow_settings.yaml" in result.stderr
    (root / "airflow_settings.yaml").write_text("airflow: {}\n")
    assert _import(root).returncode == 0
    again = _import(root)
    assert again.returncode == 2 and "already exists" in again.stderr
