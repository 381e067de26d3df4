"""`secrets.yaml` and `jobs.yaml`, from the plan. Pure.

- the Secrets: each of the plan's Airflow secrets where the chart reads it (`CHART_SECRETS`),
  the settings Secret every pod takes its environment from (connections as `AIRFLOW_CONN_<ID>`,
  variables as `AIRFLOW_VAR_<NAME>`, any other secret setting), the API users' passwords, the
  database's secrets (the bootstrap's passwords), and the broker's;
- the Jobs: the warehouse bootstrap, the same script as every target (the shared template, with
  this target's Secret mount as its secrets folder), and the pools.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from tinyctl.plan.labels import PROJECT_ID_LABEL
from tinyctl.plan.model import Connection, StackPlan
from tinyctl.plan.values import (
    DatabaseUrl,
    Endpoint,
    EnvSecret,
    Place,
    SecretContent,
    SecretRef,
    SecretValue,
)
from tinyctl.targets.k8s.chart import AIRFLOW_UID, CHART_SECRETS, PLACES, POSTGRES_UID
from tinyctl.targets.k8s.names import (
    AUTH_SECRET,
    BROKER_URL_SECRET,
    DATABASE_SECRET,
    REDIS_SECRET,
    SETTINGS_SECRET,
)
from tinyctl.targets.k8s.release import K8sInputs, dump
from tinyctl.targets.templating import bootstrap_script

REDIS_PASSWORD = "redis_password"  # the stored secret of the chart's Redis (CeleryExecutor)
POOLS_JOB_SECRETS = ("sql_alchemy_conn", "fernet_key")  # what `airflow pools import` reads
SCRIPTS_DIR = PLACES[Place.BOOTSTRAP].rsplit("/", 1)[0]  # the Jobs' ConfigMap mount


def labels(plan: StackPlan, inputs: K8sInputs, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "tinyctl",
        "app.kubernetes.io/part-of": inputs.release,
        "app.kubernetes.io/component": component,
        "tinyctl.io/project": plan.project,
    }


def _metadata(plan: StackPlan, inputs: K8sInputs, name: str, component: str) -> dict[str, Any]:
    """An object's metadata, with the project's identity as an annotation (of the plan's
    labels only the id has a meaning on a cluster: not this machine's folder nor its ports)."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": inputs.namespace,
        "labels": labels(plan, inputs, component),
    }
    identity = dict(plan.labels).get(PROJECT_ID_LABEL)
    if identity:
        metadata["annotations"] = {PROJECT_ID_LABEL: identity}
    return metadata


# --------------------------------------------------------------------------- secrets.yaml


def _secret(
    plan: StackPlan, inputs: K8sInputs, suffix: str, data: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(plan, inputs, inputs.secret(suffix), suffix),
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())},
    }


def secret_content(content: SecretContent, inputs: K8sInputs) -> str:
    """A plan secret's value on the cluster: a database URL reaches the server of this cluster
    (with its sslmode), anything else is the stored secret."""
    if isinstance(content, DatabaseUrl):
        host, port = inputs.where[content.endpoint]
        url = content.url(inputs.secrets[content.password], host, port)
        return url + (f"?sslmode={inputs.server.sslmode}" if inputs.server.sslmode else "")
    return inputs.secrets[content.secret]


def env_key(prefix: str, name: str) -> str:
    return prefix + name.upper().replace("-", "_").replace(".", "_")


def _password(secret: SecretValue | EnvSecret | None, inputs: K8sInputs) -> str | None:
    if isinstance(secret, SecretValue):
        return inputs.secrets[secret.secret]
    if isinstance(secret, EnvSecret):
        return inputs.env_secrets[secret.variable]
    return None


def connection_body(conn: Connection, inputs: K8sInputs) -> dict[str, Any]:
    """Airflow's JSON form of a connection (`AIRFLOW_CONN_<ID>`), its endpoint resolved."""
    host, port, extra = conn.host, conn.port, conn.extra
    if conn.endpoint is not None:
        host, port = inputs.where[conn.endpoint]
        if conn.endpoint == Endpoint.WAREHOUSE and inputs.server.sslmode:
            extra = json.dumps({"sslmode": inputs.server.sslmode})
    body = {
        "conn_type": conn.type,
        "host": host,
        "port": port,
        "login": conn.login,
        "schema": conn.schema,
        "description": conn.description,
        "extra": extra,
        "password": _password(conn.password, inputs),
    }
    return {k: v for k, v in body.items() if v is not None}


def settings_env(plan: StackPlan, inputs: K8sInputs) -> dict[str, str]:
    """The pods' environment from the settings Secret: connections, variables, and the secret
    settings the chart has no Secret of its own for."""
    env = {
        env_key("AIRFLOW_CONN_", conn.id): json.dumps(connection_body(conn, inputs), sort_keys=True)
        for conn in plan.connections
    }
    env |= {env_key("AIRFLOW_VAR_", var.name): var.value for var in plan.variables}
    by_name = {s.name: s for s in plan.secrets}
    for setting in plan.settings:
        if isinstance(setting.value, SecretRef) and setting.value.secret not in CHART_SECRETS:
            content = by_name[setting.value.secret].content
            env[setting.env_name] = secret_content(content, inputs)
    return env


def _database_passwords(plan: StackPlan, inputs: K8sInputs) -> dict[str, str]:
    """The database's secrets by name; the superuser's is the external server's admin password."""
    passwords = {
        s.name: secret_content(s.content, inputs) for s in plan.secret_files(Place.POSTGRES_SECRETS)
    }
    passwords[plan.bootstrap.superuser_secret] = inputs.server.admin_password
    return passwords


def secret_documents(plan: StackPlan, inputs: K8sInputs) -> list[dict[str, Any]]:
    docs = [
        _secret(plan, inputs, slot.suffix, {slot.key: secret_content(s.content, inputs)})
        for s in plan.secret_files(Place.AIRFLOW_SECRETS)
        if (slot := CHART_SECRETS.get(s.name)) is not None
    ]
    passwords = {user.name: inputs.secrets[user.secret] for user in plan.api_users}
    docs += [
        _secret(plan, inputs, SETTINGS_SECRET, settings_env(plan, inputs)),
        _secret(
            plan,
            inputs,
            AUTH_SECRET,
            {"passwords.json": json.dumps(passwords, indent=2, sort_keys=True)},
        ),
        _secret(plan, inputs, DATABASE_SECRET, _database_passwords(plan, inputs)),
    ]
    if plan.celery:
        redis_password = inputs.secrets[REDIS_PASSWORD]
        host, port = inputs.where[Endpoint.BROKER]
        broker = f"redis://:{quote(redis_password, safe='')}@{host}:{port}/0"
        docs += [
            _secret(plan, inputs, REDIS_SECRET, {"password": redis_password}),
            _secret(plan, inputs, BROKER_URL_SECRET, {"connection": broker}),
        ]
    return docs


def render_secrets(plan: StackPlan, inputs: K8sInputs) -> str:
    header = (
        f"# Kubernetes Secrets of the release {inputs.release}, written by `tinyctl k8s render`.\n"
        "# Mode 0600. Never commit this file: it holds every password of the stack.\n"
    )
    return header + "".join("---\n" + dump(doc) for doc in secret_documents(plan, inputs))


# --------------------------------------------------------------------------- jobs.yaml


def _pod_security(uid: int) -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": 0, "fsGroup": 0}


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": False,
    }


def _job(plan: StackPlan, inputs: K8sInputs, name: str, component: str, pod: dict) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(plan, inputs, name, component),
        "spec": {
            "backoffLimit": 6,
            "activeDeadlineSeconds": 1800,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels(plan, inputs, component)},
                "spec": {"restartPolicy": "OnFailure", **pod},
            },
        },
    }


def _configmap(plan: StackPlan, inputs: K8sInputs, name: str, component: str, data: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(plan, inputs, name, component),
        "data": data,
    }


def _content_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def warehouse_script(plan: StackPlan, inputs: K8sInputs) -> str:
    """The bootstrap every target runs, reading the passwords from this Job's Secret mount."""
    host, port = inputs.where[Endpoint.METADATA]
    return bootstrap_script(
        plan.bootstrap, secrets_dir=PLACES[Place.POSTGRES_SECRETS], host=host, port=port
    ).decode()


def _warehouse_job(plan: StackPlan, inputs: K8sInputs, configmap: str, script: str) -> dict:
    server = inputs.server
    env = [
        {"name": "PGHOST", "value": server.host},
        {"name": "PGPORT", "value": str(server.port)},
        {"name": "POSTGRES_USER", "value": server.admin_user},
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
    ]
    if server.sslmode:
        env.append({"name": "PGSSLMODE", "value": server.sslmode})
    wait = "until pg_isready -q -d postgres; do echo waiting for PostgreSQL; sleep 3; done"
    pod = {
        "securityContext": _pod_security(POSTGRES_UID),
        "containers": [
            {
                "name": "bootstrap",
                "image": inputs.bootstrap_image,
                "command": ["sh", "-c", f"{wait}; exec sh {PLACES[Place.BOOTSTRAP]}"],
                "env": env,
                "securityContext": _container_security(),
                "volumeMounts": [
                    {"name": "script", "mountPath": SCRIPTS_DIR, "readOnly": True},
                    {
                        "name": "passwords",
                        "mountPath": PLACES[Place.POSTGRES_SECRETS],
                        "readOnly": True,
                    },
                ],
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
            }
        ],
        "volumes": [
            {"name": "script", "configMap": {"name": configmap}},
            {"name": "passwords", "secret": {"secretName": inputs.secret(DATABASE_SECRET)}},
        ],
    }
    name = f"{inputs.release}-tinyctl-warehouse-{_content_hash(script)}"
    return _job(plan, inputs, name, "warehouse", pod)


def _pools_json(plan: StackPlan) -> str:
    pools = {
        p.name: {
            "name": p.name,
            "slots": p.slots,
            "description": p.description,
            "include_deferred": p.include_deferred,
        }
        for p in plan.pools
    }
    return json.dumps(pools, indent=2, sort_keys=True)


def _pools_job(plan: StackPlan, inputs: K8sInputs, configmap: str) -> dict:
    script = (
        "airflow db check-migrations --migration-wait-timeout 1200 && "
        f"airflow pools import {SCRIPTS_DIR}/pools.json"
    )
    secret_env = [
        (
            s.env_name,
            inputs.secret(CHART_SECRETS[s.value.secret].suffix),
            CHART_SECRETS[s.value.secret].key,
        )
        for s in plan.settings
        if isinstance(s.value, SecretRef) and s.value.secret in POOLS_JOB_SECRETS
    ]
    pod = {
        "securityContext": _pod_security(AIRFLOW_UID),
        "containers": [
            {
                "name": "pools",
                "image": inputs.image.reference,
                "command": ["bash", "-c", script],
                "env": [
                    {"name": n, "valueFrom": {"secretKeyRef": {"name": s, "key": k}}}
                    for n, s, k in secret_env
                ],
                "securityContext": _container_security(),
                "volumeMounts": [{"name": "pools", "mountPath": SCRIPTS_DIR, "readOnly": True}],
            }
        ],
        "volumes": [{"name": "pools", "configMap": {"name": configmap}}],
    }
    if inputs.pull_secret:
        pod["imagePullSecrets"] = [{"name": inputs.pull_secret}]
    name = (
        f"{inputs.release}-tinyctl-pools-{_content_hash(_pools_json(plan), inputs.image.reference)}"
    )
    return _job(plan, inputs, name, "pools", pod)


def job_documents(plan: StackPlan, inputs: K8sInputs) -> list[dict]:
    """The warehouse bootstrap Job, and (with pools in the plan) the pools Job, each with the
    ConfigMap it reads. Job names carry a hash of what they apply: a Job's pod template cannot
    change, so a changed script is a new Job."""
    script = warehouse_script(plan, inputs)
    bootstrap_map = f"{inputs.release}-tinyctl-bootstrap"
    name = PLACES[Place.BOOTSTRAP].rsplit("/", 1)[1]
    docs: list[dict] = [
        _configmap(plan, inputs, bootstrap_map, "warehouse", {name: script}),
        _warehouse_job(plan, inputs, bootstrap_map, script),
    ]
    if plan.pools:
        pools_map = f"{inputs.release}-tinyctl-pools"
        docs.append(_configmap(plan, inputs, pools_map, "pools", {"pools.json": _pools_json(plan)}))
        docs.append(_pools_job(plan, inputs, pools_map))
    return docs


def render_jobs(plan: StackPlan, inputs: K8sInputs) -> str:
    header = (
        f"# The warehouse bootstrap (databases, schemas, roles, grants) and the pools of the\n"
        f"# release {inputs.release}, written by `tinyctl k8s render`; `tinyctl k8s deploy` applies them.\n"
    )
    return header + "".join("---\n" + dump(doc) for doc in job_documents(plan, inputs))
