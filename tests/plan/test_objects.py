"""Airflow's objects in the plan: connections (the warehouse's and the spec's), variables, pools;
secrets named (a stored role's, or the caller's environment variable), never valued."""

from __future__ import annotations

from pathlib import Path

from tinyctl.plan.build import build_plan
from tinyctl.plan.values import Endpoint, EnvSecret, SecretValue
from tinyctl.scaffold import planned_files
from tinyctl.spec.loader import parse_spec

EXTRA = """
  connections:
    - id: api_http
      type: http
      host: api.example.com
      login: bot
      password_env: API_PASSWORD
      extra: {timeout: 5}
    - id: warehouse
      type: postgres
      host: elsewhere.example.com
  variables:
    region: eu-west-1
    limits: {rows: 10}
"""


def _plan(tmp_path: Path, extra: str = ""):
    text = planned_files(tmp_path, "demo", "official")[tmp_path / "tinyctl.yaml"].decode()
    text = text.replace("\nairflow:\n", "\nairflow:\n" + extra.lstrip("\n"), 1)
    spec, _ = parse_spec(text, tmp_path / "tinyctl.yaml")
    return build_plan(spec)


def test_the_warehouse_connection_reaches_its_endpoint_as_the_writer(tmp_path):
    (conn,) = _plan(tmp_path).connections
    assert conn.endpoint == Endpoint.WAREHOUSE and conn.host is None
    assert (conn.login, conn.schema) == ("etl", "warehouse")
    assert conn.password == SecretValue("role_etl_password")


def test_spec_connections_name_their_password_variable(tmp_path):
    plan = _plan(tmp_path, EXTRA)
    by_id = {c.id: c for c in plan.connections}
    assert by_id["api_http"].password == EnvSecret("API_PASSWORD")
    assert by_id["api_http"].extra == '{"timeout": 5}'
    # a spec connection with the warehouse's id replaces tinyctl's own
    assert (
        by_id["warehouse"].host == "elsewhere.example.com" and by_id["warehouse"].endpoint is None
    )
    assert {(v.name, v.value) for v in plan.variables} == {
        ("region", "eu-west-1"),
        ("limits", '{"rows": 10}'),
    }


def test_a_target_may_run_its_own_executor(tmp_path):
    text = planned_files(tmp_path, "demo", "official")[tmp_path / "tinyctl.yaml"].decode()
    spec, _ = parse_spec(text, tmp_path / "tinyctl.yaml")
    cluster = build_plan(spec, executor="KubernetesExecutor")
    assert spec.airflow.executor == "LocalExecutor" and cluster.executor == "KubernetesExecutor"
    assert not cluster.celery and "redis" not in {s.name for s in cluster.services}
    settings = {s.env_name: s.value for s in cluster.settings}
    assert settings["AIRFLOW__CORE__EXECUTOR"] == "KubernetesExecutor"
    celery = build_plan(spec, executor="CeleryExecutor")
    assert celery.service("worker").replicas == 1
    assert "result_backend" in {s.name for s in celery.secrets}


def test_local_defaults_are_marked_and_the_spec_config_is_not(tmp_path):
    settings = {s.env_name: s for s in _plan(tmp_path).settings}
    assert settings["AIRFLOW__API__WORKERS"].default  # tinyctl's, for one machine
    assert not settings["AIRFLOW__CORE__PARALLELISM"].default  # the scaffold's airflow.config
    assert not settings["AIRFLOW__CORE__EXECUTOR"].default
