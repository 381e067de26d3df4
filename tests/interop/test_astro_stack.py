"""An imported Astro project really runs: `tinyctl up && tinyctl parse && tinyctl pytest`, its
settings applied (passwords and secret extras read from .env), then exported back in Astro's
format. On the local runtime (the Airflow 3.3.1 of Astro Runtime 3.3-7 as a venv; on Compose the
same spec builds that version's image, minutes more on a cold machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from astro_projects import EVERY_FIELD_SETTINGS, snapshot, write_astro_init
from conftest import ok, tinyctl

pytestmark = pytest.mark.stack


def test_imported_astro_project_up_parse_pytest_export(tmp_path: Path):
    root = write_astro_init(tmp_path / "astroup")
    (root / "airflow_settings.yaml").write_text(EVERY_FIELD_SETTINGS)
    # the one edit by hand: Astro Runtime images ship pytest, a local-runtime venv does not
    with open(root / "requirements.txt", "a") as requirements:
        requirements.write("pytest\n")
    ok(tinyctl("init", "--from-astro", str(root), cwd=tmp_path))
    before = snapshot(root)
    env = {"TINYCTL_RUNTIME": "local"}
    try:
        ok(tinyctl("up", cwd=root, env=env))
        parsed = json.loads(ok(tinyctl("parse", "--json", cwd=root, env=env)).stdout)
        assert parsed["airflow_version"] == "3.3.1"
        assert [f["dags"] for f in parsed["files"] if f["file"] == "exampledag.py"] == [
            ["example_astronauts"]
        ]
        tests = ok(tinyctl("pytest", "-q", cwd=root, env=env))
        assert " passed" in tests.stdout
        exported = ok(tinyctl("settings", "export", "--format", "astro", cwd=root, env=env)).stdout
        astro = yaml.safe_load(exported)["airflow"]
        conns = {c["conn_id"]: c for c in astro["connections"]}
        assert conns["warehouse_pg"]["conn_host"] == "db.example.com"
        assert conns["warehouse_pg"]["conn_port"] == 5433
        assert conns["warehouse_pg"]["conn_password"] == ""  # never written out
        assert "s3cr3t" not in exported and "tok-123" not in exported
        assert {
            "pool_name": "io_pool",
            "pool_slot": 4,
            "pool_description": "Pool for IO-bound tasks",
        } in astro["pools"]
        assert {"variable_name": "environment", "variable_value": "dev"} in astro["variables"]
        with_password = ok(
            tinyctl(
                "airflow", "connections", "get", "warehouse_pg", "-o", "json", cwd=root, env=env
            )
        ).stdout
        conn = json.loads(with_password[with_password.index("[") :])[0]
        assert conn["password"] == "s3cr3t:with@odd/chars"  # from .env, via password_env
        assert conn["extra_dejson"]["api_token"] == "tok-123"  # via extra_env
        assert snapshot(root) == before  # up, parse, pytest and export changed no Astro file
    finally:
        tinyctl("down", "--volumes", "--yes", cwd=root, env=env)
