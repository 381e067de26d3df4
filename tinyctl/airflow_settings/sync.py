"""Apply the spec's connections, variables and pools through Airflow's API.

Each object is created when missing, updated when different, and reported unchanged otherwise;
never duplicated. Airflow's API does not give passwords back, so a fingerprint of what tinyctl
last applied (in the state folder, mode 0600) tells whether a password changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyctl.airflow import AirflowClient
from tinyctl.errors import BadInput
from tinyctl.plan.objects import variable_value
from tinyctl.project import Project
from tinyctl.spec.models import Spec
from tinyctl.state.fsutil import sha256_bytes, write_atomic

MANAGED_DESCRIPTION = "Managed by tinyctl from tinyctl.yaml (postgres section)"


@dataclass(frozen=True)
class SyncItem:
    kind: str  # connection, variable, pool
    name: str
    action: str  # created, updated, unchanged

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "action": self.action}


def desired_connections(project: Project) -> dict[str, dict[str, Any]]:
    """conn_id -> API body, including the warehouse connections tinyctl defines itself."""
    spec, environ = project.spec, project.environ
    secrets = project.secrets
    pg_host, pg_port = project.runtime.postgres_address_in_stack()
    bodies: dict[str, dict[str, Any]] = {}
    writer = spec.postgres.writer
    for db in spec.postgres.databases:
        if writer is None:
            break
        bodies[db.connection_id] = {
            "connection_id": db.connection_id,
            "conn_type": "postgres",
            "description": MANAGED_DESCRIPTION,
            "host": pg_host,
            "port": pg_port,
            "login": writer.name,
            "schema": db.name,
            "password": secrets.role_password(writer.name),
            "extra": None,
        }
    for i, conn in enumerate(spec.airflow.connections):
        password = None
        if conn.password_env:
            password = environ.get(conn.password_env)
            if password is None:
                line, col = project.locate("airflow", "connections", i, "password_env")
                raise BadInput(
                    f"connection {conn.id!r}: the environment variable {conn.password_env} is not set",
                    hint=f"Export {conn.password_env} (see {project.spec_file}:{line}:{col}), then run the command again.",
                )
        extra = {**conn.extra, **_extra_from_env(project, i, conn)}
        bodies[conn.id] = {
            "connection_id": conn.id,
            "conn_type": conn.type,
            "description": conn.description,
            "host": conn.host,
            "port": conn.port,
            "login": conn.login,
            "schema": conn.schema_,
            "password": password,
            "extra": json.dumps(extra, sort_keys=True) if extra else None,
        }
    return bodies


def _extra_from_env(project: Project, index: int, conn: Any) -> dict[str, str]:
    """The connection's secret extra keys, read from the environment variables it names."""
    values = {}
    for key, name in conn.extra_env.items():
        value = project.environ.get(name)
        if value is None:
            line, col = project.locate("airflow", "connections", index, "extra_env", key)
            raise BadInput(
                f"connection {conn.id!r}: the environment variable {name} (extra.{key}) is not set",
                hint=f"Export {name} or put it in the spec's env_file (see {project.spec_file}:{line}:{col}).",
            )
        values[key] = value
    return values


def _fingerprint(body: Mapping[str, Any]) -> str:
    return sha256_bytes(json.dumps(body, sort_keys=True, default=str).encode())


MASKED = "***"  # what Airflow's API shows instead of a secret-looking value


def _parse_extra(value: Any) -> Any:
    if value in (None, "", "{}"):
        return {}
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _same_extra(current: Any, desired: Any) -> bool:
    """Equal, where masked values ("***") count as equal: the fingerprint covers those."""
    shown, wanted = _parse_extra(current), _parse_extra(desired)
    if isinstance(shown, dict) and isinstance(wanted, dict):
        if set(shown) != set(wanted):
            return False
        return all(shown[k] == MASKED or shown[k] == wanted[k] for k in wanted)
    return shown == wanted


def _connection_differs(current: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """What the API shows differs from the desired body (secrets excepted: see the fingerprint)."""
    for key in ("conn_type", "description", "host", "port", "login", "schema"):
        if (current.get(key) or None) != (body.get(key) or None):
            return True
    return not _same_extra(current.get("extra"), body.get("extra"))


def _read_applied(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def sync_settings(project: Project, client: AirflowClient) -> list[SyncItem]:
    """Create, update or leave each connection, variable and pool of the spec; report each."""
    spec: Spec = project.spec
    applied_path = project.state.applied_settings_file
    applied = _read_applied(applied_path)
    items: list[SyncItem] = []

    current_connections = client.connections()
    for conn_id, body in desired_connections(project).items():
        key = f"connection:{conn_id}"
        fingerprint = _fingerprint(body)
        current = current_connections.get(conn_id)
        if current is None:
            client.create_connection(body)
            action = "created"
        elif _connection_differs(current, body) or applied.get(key) != fingerprint:
            client.update_connection(conn_id, body)
            action = "updated"
        else:
            action = "unchanged"
        applied[key] = fingerprint
        items.append(SyncItem("connection", conn_id, action))

    current_variables = client.variables()
    for name, raw in spec.airflow.variables.items():
        value = variable_value(raw)
        key, fingerprint = f"variable:{name}", _fingerprint({"value": value})
        current = current_variables.get(name)
        if current is None:
            client.create_variable(name, value, None)
            action = "created"
        elif (current.value != MASKED and current.value != value) or applied.get(
            key
        ) != fingerprint:
            client.update_variable(name, value, current.description)
            action = "updated"
        else:
            action = "unchanged"
        applied[key] = fingerprint
        items.append(SyncItem("variable", name, action))

    current_pools = client.pools()
    for pool in spec.airflow.pools:
        current = current_pools.get(pool.name)
        description = pool.description
        if current is None:
            client.create_pool(pool.name, pool.slots, description, pool.include_deferred)
            action = "created"
        elif (current.slots, current.description or None, current.include_deferred) != (
            pool.slots,
            description,
            pool.include_deferred,
        ):
            client.update_pool(pool.name, pool.slots, description, pool.include_deferred)
            action = "updated"
        else:
            action = "unchanged"
        items.append(SyncItem("pool", pool.name, action))

    write_atomic(
        applied_path, (json.dumps(applied, indent=2, sort_keys=True) + "\n").encode(), mode=0o600
    )
    return items
