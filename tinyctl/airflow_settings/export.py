"""`tinyctl settings export`: the connections, variables and pools of the running Airflow as the
spec's YAML (the `airflow:` keys `sync-settings` applies), so settings made in the UI can be
kept in tinyctl.yaml.

Secrets never leave Airflow: a connection's password becomes a `password_env` name (the one the
spec already uses for that connection, else `<CONN_ID>_PASSWORD`); values Airflow masks ("***":
secret-looking `extra` keys and variables) are left out and listed, so the export is honest about
what it could not see.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from tinyctl.airflow import AirflowClient
    from tinyctl.spec.models import Spec

MASK = "***"
DEFAULT_POOL = "default_pool"
DEFAULT_POOL_SLOTS = 128


@dataclass
class Export:
    connections: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    pools: list[dict[str, Any]] = field(default_factory=list)
    password_envs: dict[str, str] = field(default_factory=dict)  # conn id -> env var name
    left_out: list[str] = field(default_factory=list)  # masked values not exported

    def settings(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "variables": self.variables,
            "pools": self.pools,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "airflow": self.settings(),
            "password_env": self.password_envs,
            "left_out": self.left_out,
        }


def env_name(conn_id: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", conn_id).strip("_").upper() or "CONN"
    if name[0].isdigit():
        name = "CONN_" + name
    return f"{name}_PASSWORD"


def _extra(raw: Any, conn_id: str, left_out: list[str]) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        left_out.append(f"connection {conn_id}: extra is not JSON")
        return {}
    if not isinstance(value, dict):
        return {}
    kept = {}
    for key, item in value.items():
        if item == MASK:
            left_out.append(f"connection {conn_id}: extra.{key} (masked by Airflow)")
        else:
            kept[key] = item
    return kept


def _variable(value: str | None) -> Any:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, dict | list) else value


def export_settings(client: AirflowClient, spec: Spec | None = None) -> Export:
    known_env = {c.id: c.password_env for c in (spec.airflow.connections if spec else [])}
    result = Export()
    for conn_id, conn in sorted(client.connections().items()):
        item: dict[str, Any] = {"id": conn_id, "type": conn.get("conn_type") or "generic"}
        for key, source in (
            ("description", "description"),
            ("host", "host"),
            ("port", "port"),
            ("login", "login"),
            ("schema", "schema"),
        ):
            if conn.get(source) not in (None, ""):
                item[key] = conn[source]
        if conn.get("password"):
            name = known_env.get(conn_id) or env_name(conn_id)
            item["password_env"] = name
            result.password_envs[conn_id] = name
        extra = _extra(conn.get("extra"), conn_id, result.left_out)
        if extra:
            item["extra"] = extra
        result.connections.append(item)
    for key, variable in sorted(client.variables().items()):
        if variable.value == MASK:
            result.left_out.append(f"variable {key} (masked by Airflow)")
            continue
        result.variables[key] = _variable(variable.value)
    for name, pool in sorted(client.pools().items()):
        if name == DEFAULT_POOL and pool.slots == DEFAULT_POOL_SLOTS and not pool.include_deferred:
            continue  # Airflow's own, untouched
        item = {"name": name, "slots": pool.slots}
        if pool.description and not (name == DEFAULT_POOL and pool.description == "Default pool"):
            item["description"] = pool.description
        if pool.include_deferred:
            item["include_deferred"] = True
        result.pools.append(item)
    return result


def to_yaml(export: Export, *, source: str) -> str:
    lines = [
        f"# Airflow settings exported by `tinyctl settings export` from {source}.",
        "# Paste these keys under `airflow:` in tinyctl.yaml; `tinyctl sync-settings` applies them.",
    ]
    for conn_id, name in export.password_envs.items():
        lines.append(f"# connection {conn_id}: export {name}=... before `tinyctl up`")
    for item in export.left_out:
        lines.append(f"# not exported: {item}")
    body = yaml.safe_dump(
        {"airflow": export.settings()},
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
    return "\n".join(lines) + "\n" + body
