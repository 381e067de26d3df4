"""`tinyctl sync-settings` (tinyctl/airflow_settings/sync.py) on the shared live stack.

The extra settings live in a second spec file next to tinyctl.yaml with the same project name
(`-s tinyctl-settingstest.yaml`): it points at the same stack, and removing it restores the
project's spec. tinyctl never deletes Airflow objects, so the tt_sync_* objects stay in Airflow.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator

import pytest
import yaml
from conftest import Stack

pytestmark = pytest.mark.stack
# what a sync sends to Airflow's API: the same on every runtime (the managed settings' test,
# which checks what `up` made, runs on each)
one_runtime = pytest.mark.one_runtime

SPEC_NAME = "tinyctl-settingstest.yaml"
PASSWORD_ENV = "TT_SYNC_PASSWORD"


def plain(text: str) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def actions(items: list[dict]) -> dict[tuple[str, str], str]:
    return {(i["kind"], i["name"]): i["action"] for i in items}


@pytest.fixture
def write_spec(live_stack: Stack) -> Iterator[Callable[..., None]]:
    """Write the second spec: the project's spec plus extra variables, pools and connections."""
    path = live_stack.root / SPEC_NAME
    base = yaml.safe_load((live_stack.root / "tinyctl.yaml").read_text())

    def write(
        *, variables: dict | None = None, pools: list | None = None, connections: list | None = None
    ) -> None:
        data = json.loads(json.dumps(base))  # a deep copy
        airflow = data.setdefault("airflow", {})
        airflow["variables"] = {**airflow.get("variables", {}), **(variables or {})}
        airflow["pools"] = [*airflow.get("pools", []), *(pools or [])]
        airflow["connections"] = [*airflow.get("connections", []), *(connections or [])]
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    yield write
    path.unlink(missing_ok=True)


def sync(
    s: Stack, *, env: dict[str, str] | None = None, spec: str | None = SPEC_NAME
) -> dict[tuple[str, str], str]:
    args = ("sync-settings", "-s", spec) if spec else ("sync-settings",)
    result = s.run(*args, "--json", env=env)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return actions(json.loads(result.stdout))


def test_the_managed_connection_and_the_spec_pool_exist_and_stay_unchanged(
    live_stack: Stack,
) -> None:
    sync(live_stack, spec=None)  # whatever state it finds, it converges
    second = sync(live_stack, spec=None)
    assert second[("connection", "warehouse")] == "unchanged"
    assert second[("pool", "warehouse_loads")] == "unchanged"
    assert set(second.values()) == {"unchanged"}, second
    with live_stack.client() as client:
        connection = client.connections()["warehouse"]
        pool = client.pools()["warehouse_loads"]
    assert connection["conn_type"] == "postgres"
    host, port = live_stack.project().runtime.postgres_address_in_stack()
    assert (connection["host"], connection["port"], connection["login"], connection["schema"]) == (
        host,
        port,
        "etl",
        "warehouse",
    )
    assert connection["password"] not in (None, ""), "the warehouse connection has a password"
    assert pool.slots == 2 and pool.description == "Concurrent COPY loads into the warehouse"


@one_runtime
def test_added_settings_are_created_then_unchanged_then_updated(
    live_stack: Stack, write_spec
) -> None:
    conn = {
        "id": "tt_sync_conn",
        "type": "postgres",
        "host": "db.example",
        "port": 5433,
        "login": "reporter",
        "schema": "sales",
        "password_env": PASSWORD_ENV,
        "extra": {"sslmode": "require"},
    }
    pool = {"name": "tt_sync_pool", "slots": 3, "description": "tinyctl test pool"}
    write_spec(
        variables={"tt_sync_var": "one", "tt_sync_json": {"a": 1, "b": [1, 2]}},
        pools=[pool],
        connections=[conn],
    )

    first = sync(live_stack, env={PASSWORD_ENV: "first-secret"})
    assert first[("connection", "tt_sync_conn")] == "created"
    assert first[("variable", "tt_sync_var")] == "created"
    assert first[("variable", "tt_sync_json")] == "created"
    assert first[("pool", "tt_sync_pool")] == "created"
    assert first[("connection", "warehouse")] == "unchanged"
    assert first[("pool", "warehouse_loads")] == "unchanged"

    second = sync(live_stack, env={PASSWORD_ENV: "first-secret"})
    assert set(second.values()) == {"unchanged"}, second

    # Change the pool's slots, the variable's value and (only) the connection's password.
    write_spec(
        variables={"tt_sync_var": "two", "tt_sync_json": {"a": 1, "b": [1, 2]}},
        pools=[{**pool, "slots": 5}],
        connections=[conn],
    )
    third = sync(live_stack, env={PASSWORD_ENV: "second-secret"})
    assert third[("pool", "tt_sync_pool")] == "updated"
    assert third[("variable", "tt_sync_var")] == "updated"
    assert third[("connection", "tt_sync_conn")] == "updated", (
        "a new password is detected through the fingerprint"
    )
    assert third[("variable", "tt_sync_json")] == "unchanged"
    assert third[("connection", "warehouse")] == "unchanged"

    fourth = sync(live_stack, env={PASSWORD_ENV: "second-secret"})
    assert set(fourth.values()) == {"unchanged"}, fourth

    with live_stack.client() as client:
        connections = client.connections()
        variables = client.variables()
        pools = client.pools()
    assert sorted(c for c in connections if c.startswith("tt_sync")) == ["tt_sync_conn"]
    assert sorted(v for v in variables if v.startswith("tt_sync")) == [
        "tt_sync_json",
        "tt_sync_var",
    ]
    assert sorted(p for p in pools if p.startswith("tt_sync")) == ["tt_sync_pool"]
    got = connections["tt_sync_conn"]
    assert (got["conn_type"], got["host"], got["port"], got["login"], got["schema"]) == (
        "postgres",
        "db.example",
        5433,
        "reporter",
        "sales",
    )
    assert json.loads(got["extra"]) == {"sslmode": "require"}
    assert variables["tt_sync_var"].value == "two"
    assert json.loads(variables["tt_sync_json"].value) == {"a": 1, "b": [1, 2]}
    assert (
        pools["tt_sync_pool"].slots == 5
        and pools["tt_sync_pool"].description == "tinyctl test pool"
    )

    # The API masks passwords: ask Airflow itself which one it stored.
    runtime = live_stack.project().runtime
    code, text = runtime.exec(
        "scheduler", ["airflow", "connections", "get", "tt_sync_conn", "-o", "json"]
    )
    assert code == 0, text
    stored = json.loads(next(line for line in text.splitlines() if line.startswith("[{")))
    assert stored[0]["password"] == "second-secret"


@one_runtime
def test_a_missing_password_variable_is_bad_input_naming_it(live_stack: Stack, write_spec) -> None:
    assert PASSWORD_ENV + "_UNSET" not in os.environ
    write_spec(
        connections=[
            {
                "id": "tt_sync_noenv",
                "type": "http",
                "host": "x.example",
                "password_env": PASSWORD_ENV + "_UNSET",
            }
        ]
    )
    result = live_stack.run("sync-settings", "-s", SPEC_NAME, "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    message = plain(result.stderr)
    assert f"{PASSWORD_ENV}_UNSET is not set" in message
    assert "tt_sync_noenv" in message
    assert SPEC_NAME in message, "the hint points at the spec line"
    with live_stack.client() as client:
        assert "tt_sync_noenv" not in client.connections()


@one_runtime
def test_a_variable_with_a_secret_looking_name_is_unchanged_on_a_second_sync(
    live_stack: Stack, write_spec
) -> None:
    # Airflow masks values of variables whose key looks secret ("token", "password"...) as "***".
    write_spec(variables={"tt_sync_api_token": "abc123"})
    first = sync(live_stack)
    assert first[("variable", "tt_sync_api_token")] in ("created", "updated", "unchanged")
    second = sync(live_stack)
    assert second[("variable", "tt_sync_api_token")] == "unchanged", (
        "nothing changed, yet sync reports (and re-applies) an update"
    )


@one_runtime
def test_a_connection_with_a_secret_looking_extra_is_unchanged_on_a_second_sync(
    live_stack: Stack, write_spec
) -> None:
    write_spec(
        connections=[
            {
                "id": "tt_sync_http",
                "type": "http",
                "host": "api.example",
                "extra": {"api_token": "xyz", "timeout": 5},
            }
        ]
    )
    first = sync(live_stack)
    assert first[("connection", "tt_sync_http")] in ("created", "updated", "unchanged")
    second = sync(live_stack)
    assert second[("connection", "tt_sync_http")] == "unchanged", (
        "nothing changed, yet sync reports (and re-applies) an update"
    )
