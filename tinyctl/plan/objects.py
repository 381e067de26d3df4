"""Airflow's objects a stack defines: the connections (each warehouse database's, reaching the
warehouse endpoint as the writer role, and the spec's), the variables and the pools."""

from __future__ import annotations

import json
from typing import Any

from tinyctl.plan.model import Connection, Pool, Variable
from tinyctl.plan.values import Endpoint, EnvSecret, SecretValue
from tinyctl.spec.models import Spec
from tinyctl.state.secrets import role_secret


def connections(spec: Spec) -> tuple[Connection, ...]:
    """The warehouse connections tinyctl defines (none without a writer role), then the spec's;
    a spec connection with a warehouse's id replaces it."""
    found: dict[str, Connection] = {}
    writer = spec.postgres.writer
    for db in spec.postgres.databases if writer is not None else ():
        found[db.connection_id] = Connection(
            db.connection_id,
            "postgres",
            endpoint=Endpoint.WAREHOUSE,
            login=writer.name,
            schema=db.name,
            password=SecretValue(role_secret(writer.name)),
        )
    for conn in spec.airflow.connections:
        found[conn.id] = Connection(
            conn.id,
            conn.type,
            host=conn.host,
            port=conn.port,
            login=conn.login,
            schema=conn.schema_,
            description=conn.description,
            extra=json.dumps(conn.extra, sort_keys=True) if conn.extra else None,
            password=EnvSecret(conn.password_env) if conn.password_env else None,
        )
    return tuple(found.values())


def variable_value(value: Any) -> str:
    """Strings are stored as they are; anything else as JSON (read with deserialize_json=True)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def variables(spec: Spec) -> tuple[Variable, ...]:
    return tuple(Variable(name, variable_value(v)) for name, v in spec.airflow.variables.items())


def pools(spec: Spec) -> tuple[Pool, ...]:
    return tuple(
        Pool(p.name, p.slots, p.description or "", p.include_deferred) for p in spec.airflow.pools
    )
