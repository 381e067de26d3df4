"""Astro CLI's `airflow_settings.yaml` (connections, pools, variables) <-> the spec's `airflow:`.

Astro keeps passwords in that (git-ignored) file. On import, every `conn_password` and every
secret-looking `conn_extra` value becomes an environment variable name in the spec
(`password_env`, `extra_env`), and the values go to the returned `secrets` (for `.env`): never
into tinyctl.yaml. On export (`tinyctl settings export --format astro`) passwords are left out
and named: Airflow's API does not give them back, and tinyctl never writes secrets out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from tinyctl.airflow_settings.export import Export, env_name
from tinyctl.errors import BadInput

SECRET_WORDS = re.compile(r"pass|secret|token|key|credential|private|auth", re.IGNORECASE)
CONNECTION_FIELDS = (
    "conn_id",
    "conn_type",
    "conn_description",
    "conn_host",
    "conn_schema",
    "conn_login",
    "conn_password",
    "conn_port",
    "conn_uri",
    "conn_extra",
)


@dataclass
class ImportedSettings:
    connections: list[dict[str, Any]] = field(default_factory=list)
    pools: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # env var -> value, for .env
    notes: list[str] = field(default_factory=list)


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _extra(raw: Any, conn_id: str, source: str) -> dict[str, Any]:
    if _blank(raw):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise BadInput(
                f"{source}: connection {conn_id!r}: conn_extra is not JSON",
                hint="Write conn_extra as YAML keys (or a JSON object string).",
            ) from None
    if not isinstance(raw, dict):
        raise BadInput(f"{source}: connection {conn_id!r}: conn_extra is not a mapping")
    return dict(raw)


def _from_uri(uri: str) -> dict[str, Any]:
    """Airflow's connection URI: type://login:password@host:port/schema?extra=..."""
    parts = urlsplit(uri)
    fields: dict[str, Any] = {"conn_type": parts.scheme.replace("-", "_")}
    fields["conn_host"] = unquote(parts.hostname or "")
    fields["conn_login"] = unquote(parts.username or "")
    fields["conn_password"] = unquote(parts.password or "")
    fields["conn_port"] = parts.port
    fields["conn_schema"] = unquote(parts.path.lstrip("/"))
    query = dict(parse_qsl(parts.query))
    if "__extra__" in query:
        fields["conn_extra"] = json.loads(query["__extra__"])
    elif query:
        fields["conn_extra"] = query
    return fields


def _connection(raw: dict[str, Any], index: int, source: str, out: ImportedSettings) -> None:
    unknown = sorted(set(raw) - set(CONNECTION_FIELDS))
    conn_id = raw.get("conn_id")
    if _blank(conn_id):
        if all(_blank(v) for v in raw.values() if not isinstance(v, dict)):
            return  # the template's empty entry (`astro dev init` writes one)
        raise BadInput(f"{source}: connection {index + 1} has no conn_id")
    if unknown:
        out.notes.append(f"connection {conn_id}: ignored unknown keys {', '.join(unknown)}")
    if not _blank(raw.get("conn_uri")):
        raw = {**_from_uri(str(raw["conn_uri"])), **{k: v for k, v in raw.items() if not _blank(v)}}
    if _blank(raw.get("conn_type")):
        raise BadInput(f"{source}: connection {conn_id!r} has no conn_type")
    item: dict[str, Any] = {"id": str(conn_id), "type": str(raw["conn_type"])}
    for key, source_key in (
        ("description", "conn_description"),
        ("host", "conn_host"),
        ("login", "conn_login"),
        ("schema", "conn_schema"),
    ):
        if not _blank(raw.get(source_key)):
            item[key] = str(raw[source_key])
    if not _blank(raw.get("conn_port")):
        item["port"] = int(raw["conn_port"])
    if not _blank(raw.get("conn_password")):
        name = env_name(str(conn_id))
        item["password_env"] = name
        out.secrets[name] = str(raw["conn_password"])
    _split_extra(item, _extra(raw.get("conn_extra"), str(conn_id), source), out)
    out.connections.append(item)


def _split_extra(item: dict[str, Any], extra: dict[str, Any], out: ImportedSettings) -> None:
    """Secret-looking string values of `extra` go to the environment (extra_env)."""
    plain, secret = {}, {}
    for key, value in extra.items():
        if isinstance(value, str) and value and SECRET_WORDS.search(key):
            name = env_name(item["id"]).removesuffix("_PASSWORD") + "_" + _env_part(key)
            secret[key] = name
            out.secrets[name] = value
        else:
            plain[key] = value
    if plain:
        item["extra"] = plain
    if secret:
        item["extra_env"] = secret


def _env_part(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").upper() or "EXTRA"


def import_settings(data: Any, source: str = "airflow_settings.yaml") -> ImportedSettings:
    """The spec's connections, pools and variables from an airflow_settings.yaml document."""
    out = ImportedSettings()
    if data is None:
        return out
    airflow = data.get("airflow") if isinstance(data, dict) else None
    if not isinstance(airflow, dict):
        raise BadInput(f"{source} has no `airflow:` mapping", hint="See Astro's template of it.")
    for i, raw in enumerate(airflow.get("connections") or []):
        if not isinstance(raw, dict):
            raise BadInput(f"{source}: connection {i + 1} is not a mapping")
        _connection(raw, i, source, out)
    for raw in airflow.get("pools") or []:
        if not isinstance(raw, dict) or _blank(raw.get("pool_name")):
            continue  # the template's empty entry
        pool: dict[str, Any] = {
            "name": str(raw["pool_name"]),
            "slots": int(raw.get("pool_slot") or 0),
        }
        if not _blank(raw.get("pool_description")):
            pool["description"] = str(raw["pool_description"])
        out.pools.append(pool)
    for raw in airflow.get("variables") or []:
        if not isinstance(raw, dict) or _blank(raw.get("variable_name")):
            continue
        value = raw.get("variable_value")
        out.variables[str(raw["variable_name"])] = "" if value is None else value
    return out


def to_astro_yaml(export: Export, *, source: str) -> str:
    """A tinyctl export (the running stack's settings) in Astro's airflow_settings.yaml format."""
    connections = []
    for conn in export.connections:
        item = {
            "conn_id": conn["id"],
            "conn_type": conn["type"],
            "conn_description": conn.get("description", ""),
            "conn_host": conn.get("host", ""),
            "conn_schema": conn.get("schema", ""),
            "conn_login": conn.get("login", ""),
            "conn_password": "",
            "conn_port": conn.get("port"),
            "conn_extra": conn.get("extra", {}),
        }
        connections.append({k: v for k, v in item.items() if v is not None})
    body = {
        "airflow": {
            "connections": connections,
            "pools": [
                {
                    "pool_name": p["name"],
                    "pool_slot": p["slots"],
                    "pool_description": p.get("description", ""),
                }
                for p in export.pools
            ],
            "variables": [
                {"variable_name": key, "variable_value": _astro_value(value)}
                for key, value in export.variables.items()
            ],
        }
    }
    lines = [
        f"# Airflow settings exported by `tinyctl settings export --format astro` from {source}.",
        "# Astro CLI's airflow_settings.yaml format (local development only; keep it git-ignored).",
    ]
    for conn_id, name in export.password_envs.items():
        lines.append(f"# connection {conn_id}: conn_password left empty: its value is ${name}")
    lines += [f"# not exported: {item}" for item in export.left_out]
    dumped = yaml.safe_dump(body, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return "\n".join(lines) + "\n" + dumped


def _astro_value(value: Any) -> str:
    """Astro variables are strings; JSON values are written as JSON text."""
    return value if isinstance(value, str) else json.dumps(value)
