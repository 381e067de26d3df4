"""`tinyctl settings export` (tinyctl/airflow_settings/export.py)."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import Stack

from tinyctl.airflow_settings.export import Export, env_name, to_yaml

stack = pytest.mark.stack


def test_env_names_are_shell_variables() -> None:
    assert env_name("api") == "API_PASSWORD"
    assert env_name("my-s3.conn") == "MY_S3_CONN_PASSWORD"
    assert env_name("3rd") == "CONN_3RD_PASSWORD"


def test_yaml_is_the_specs_airflow_section_with_comments() -> None:
    export = Export(
        connections=[{"id": "api", "type": "http", "host": "x", "password_env": "API_PASSWORD"}],
        variables={"currency": "EUR", "limits": {"a": 1}},
        pools=[{"name": "loads", "slots": 2}],
        password_envs={"api": "API_PASSWORD"},
        left_out=["variable api_token (masked by Airflow)"],
    )
    text = to_yaml(export, source="http://127.0.0.1:8080")
    assert "# connection api: export API_PASSWORD=" in text
    assert "# not exported: variable api_token" in text
    data = yaml.safe_load(text)
    assert data["airflow"]["connections"][0]["password_env"] == "API_PASSWORD"
    assert data["airflow"]["variables"]["limits"] == {"a": 1}


@stack
def test_export_round_trips_the_spec_settings_and_never_a_password(live_stack: Stack) -> None:
    with live_stack.client() as client:
        client.create_connection(
            {
                "connection_id": "tt_export_api",
                "conn_type": "http",
                "host": "api.example.com",
                "login": "bot",
                "password": "s3cr3t-value",
                "extra": json.dumps({"timeout": 5, "api_key": "abc"}),
            }
        )
        client.create_variable("tt_export_json", json.dumps({"k": [1, 2]}))
        client.create_variable("tt_export_secret_token", "hidden")
    result = live_stack.run("settings", "export")
    assert result.returncode == 0, result.stderr
    assert "s3cr3t-value" not in result.stdout and "abc" not in result.stdout
    data = yaml.safe_load(result.stdout)["airflow"]
    conns = {c["id"]: c for c in data["connections"]}
    assert conns["tt_export_api"]["password_env"] == "TT_EXPORT_API_PASSWORD"
    assert conns["tt_export_api"]["extra"] == {"timeout": 5}  # the masked key is left out
    assert data["variables"]["tt_export_json"] == {"k": [1, 2]}
    assert "tt_export_secret_token" not in data["variables"]
    assert "not exported: variable tt_export_secret_token" in result.stdout
    out = live_stack.root / "exported.yaml"
    written = live_stack.run("settings", "export", "-o", str(out))
    assert written.returncode == 0 and yaml.safe_load(out.read_text())["airflow"]
    as_json = json.loads(live_stack.run("settings", "export", "--json").stdout)
    assert as_json["password_env"]["tt_export_api"] == "TT_EXPORT_API_PASSWORD"
