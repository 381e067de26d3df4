"""Spec + secrets + host facts -> the values the templates are rendered with.

All decisions live here, in Python, so the templates stay declarative: which services exist,
every environment variable and its value, mounts, ports and healthchecks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tinyctl.spec.loader import LoadedSpec
from tinyctl.spec.models import Spec
from tinyctl.state.identity import Identity
from tinyctl.state.layout import StateLayout
from tinyctl.state.secrets import READER_ROLE, Secrets, api_users, role_secret
from tinyctl.targets.docker.images import INPUTS_LABEL, ImagePlan, ca_bundle, plan_images

AIRFLOW_HOME = "/opt/airflow"
CONTAINER_DATA_DIR = f"{AIRFLOW_HOME}/data"
CONTAINER_TINYCTL_DIR = "/opt/tinyctl"
CONTAINER_PLUGINS_DIR = f"{AIRFLOW_HOME}/plugins"
# The project's include folder is mounted as the package `include` in a folder on PYTHONPATH,
# so DAGs and plugins write `from include.helpers import ...` (as in Astro CLI projects).
CONTAINER_LIB_DIR = f"{CONTAINER_TINYCTL_DIR}/lib"
CONTAINER_INCLUDE_DIR = f"{CONTAINER_LIB_DIR}/include"
# Secrets reach containers as read-only files, never as environment variables (which
# `docker inspect` shows): Airflow reads them through its `<KEY>_CMD` settings, Postgres
# through `POSTGRES_PASSWORD_FILE`, the bootstrap script with psql's \set from a file.
AIRFLOW_SECRETS_DIR = f"{CONTAINER_TINYCTL_DIR}/secrets"
POSTGRES_SECRETS_DIR = "/run/tinyctl-secrets"
# The uid Airflow's images are built for; containers use it when tinyctl itself runs as root,
# so no stack container runs as 0:0.
AIRFLOW_IMAGE_UID = 50000
API_PORT = 8080  # inside the container; the host port is the spec's
SCHEDULER_HEALTH_PORT = 8974
WORKER_LOG_PORT = 8793
SUPERUSER = "postgres"
METADATA_DB = "airflow"
METADATA_ROLE = "airflow"
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)

# Defaults for local work; every one can be overridden with `airflow.config`.
LOCAL_DEFAULTS: dict[str, str] = {
    "core.load_examples": "False",
    "core.parallelism": "4",  # the scheduler forks this many workers at start; 32 costs ~5 GiB
    "core.dags_are_paused_at_creation": "True",
    "api.workers": "1",
    "dag_processor.refresh_interval": "1",  # new DAG files are seen within a second or two
    "dag_processor.bundle_refresh_check_interval": "1",
    "scheduler.enable_health_check": "True",
    "celery.worker_concurrency": "4",
}


# Labels on every container and network (and the data volume, which the runtime creates) of a
# project: its identity, the folder it belongs to, and the host ports it publishes.
PROJECT_ID_LABEL = "io.tinyctl.project-id"
FOLDER_LABEL = "io.tinyctl.folder"
PORTS_LABEL = "io.tinyctl.ports"


@dataclass(frozen=True)
class Host:
    """Facts about the machine (and the project's place on it) that shape the render."""

    uid: int
    ca_bundle: Path | None
    identity: Identity | None = None

    @property
    def container_uid(self) -> int:
        """The uid Airflow containers run as: the host user's, or the image's own for root."""
        return self.uid if self.uid != 0 else AIRFLOW_IMAGE_UID

    @classmethod
    def detect(
        cls, loaded: LoadedSpec, environ: Mapping[str, str], identity: Identity | None = None
    ) -> Host:
        return cls(
            uid=os.getuid(),
            ca_bundle=ca_bundle(loaded.spec, environ, loaded.root),
            identity=identity,
        )


def project_labels(spec: Spec, identity: Identity | None) -> dict[str, str]:
    """The labels that say which tinyctl project a resource belongs to."""
    if identity is None:
        return {}
    ports = [spec.airflow.port, *([spec.postgres.port] if spec.postgres.port else [])]
    return {
        PROJECT_ID_LABEL: identity.id,
        FOLDER_LABEL: identity.folder,
        PORTS_LABEL: ",".join(str(p) for p in ports),
    }


def _env_key(dotted: str) -> str:
    section, key = dotted.split(".", 1)
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def _config_value(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


# Airflow setting (env name) -> the secret file it is read from (`_CMD` settings).
def airflow_secret_files(spec: Spec, secrets: Secrets) -> dict[str, str]:
    """The Airflow secrets, as {file name: content}; the containers read them with `_CMD`."""
    files = {
        "sql_alchemy_conn": metadata_url(secrets),
        "fernet_key": secrets["fernet_key"],
        "jwt_secret": secrets["jwt_secret"],
        "api_secret_key": secrets["api_secret_key"],
    }
    if spec.airflow.executor == "CeleryExecutor":
        files["result_backend"] = "db+" + metadata_url(secrets, "postgresql")
    return files


_SECRET_SETTINGS = {
    "sql_alchemy_conn": "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
    "fernet_key": "AIRFLOW__CORE__FERNET_KEY_CMD",
    "jwt_secret": "AIRFLOW__API_AUTH__JWT_SECRET_CMD",
    "api_secret_key": "AIRFLOW__API__SECRET_KEY_CMD",
    "result_backend": "AIRFLOW__CELERY__RESULT_BACKEND_CMD",
}


def airflow_config(spec: Spec) -> dict[str, str]:
    """Non-secret Airflow settings, as environment variables (rendered to airflow.env)."""
    af = spec.airflow
    warehouse = spec.postgres.default_database
    env: dict[str, str] = {
        "AIRFLOW__CORE__EXECUTOR": af.executor,
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{name}:{role}" for name, role in api_users(spec).items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": f"{CONTAINER_TINYCTL_DIR}/auth/passwords.json",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://api-server:{API_PORT}/execution/",
        "AIRFLOW__API__PORT": str(API_PORT),
        "AIRFLOW__CORE__PLUGINS_FOLDER": CONTAINER_PLUGINS_DIR,
        "PYTHONPATH": CONTAINER_LIB_DIR,
    }
    if af.executor == "CeleryExecutor":
        env["AIRFLOW__CELERY__BROKER_URL"] = "redis://redis:6379/0"
    settings = {**LOCAL_DEFAULTS, **{k: _config_value(v) for k, v in af.config.items()}}
    if af.executor != "CeleryExecutor":
        settings = {
            k: v for k, v in settings.items() if not k.startswith("celery.") or k in af.config
        }
    for dotted in sorted(settings):
        env[_env_key(dotted)] = settings[dotted]
    secret_names = ["sql_alchemy_conn", "fernet_key", "jwt_secret", "api_secret_key"]
    if af.executor == "CeleryExecutor":
        secret_names.append("result_backend")
    for name in secret_names:
        env[_SECRET_SETTINGS[name]] = f"cat {AIRFLOW_SECRETS_DIR}/{name}"
    env["TINYCTL_PROJECT"] = spec.project.name
    env["TINYCTL_DATA_DIR"] = CONTAINER_DATA_DIR
    env["TINYCTL_WAREHOUSE_CONN_ID"] = warehouse.connection_id
    return env


def metadata_url(secrets: Secrets, driver: str = "postgresql+psycopg2") -> str:
    return f"{driver}://{METADATA_ROLE}:{quote(secrets['airflow_db_password'], safe='')}@postgres:5432/{METADATA_DB}"


def postgres_env() -> dict[str, str]:
    """The Postgres containers' environment: no secret, only where to read it from."""
    return {
        "POSTGRES_USER": SUPERUSER,
        "POSTGRES_DB": SUPERUSER,
        "POSTGRES_PASSWORD_FILE": f"{POSTGRES_SECRETS_DIR}/postgres_password",
    }


def postgres_secret_files(spec: Spec, secrets: Secrets) -> dict[str, str]:
    files = {
        "postgres_password": secrets["postgres_password"],
        "airflow_db_password": secrets["airflow_db_password"],
    }
    for name in [role.name for role in spec.postgres.roles] + [READER_ROLE]:
        files[role_secret(name)] = secrets.role_password(name)
    return files


def bootstrap_plan(spec: Spec) -> dict[str, Any]:
    """Databases, roles and grants for the idempotent bootstrap script."""
    pg = spec.postgres
    writers = [r for r in pg.roles if r.access == "write"]
    databases = []
    for db in pg.databases:

        def uses(role: Any, db_name: str = db.name) -> bool:
            return role.databases is None or db_name in role.databases

        db_writers = [r.name for r in writers if uses(r)]
        databases.append(
            {
                "name": db.name,
                "schemas": list(db.schemas),
                "owner": db_writers[0] if db_writers else None,
                "writers": db_writers,
                "readers": [r.name for r in pg.roles if r.access == "read" and uses(r)],
            }
        )
    roles = [
        {
            "name": r.name,
            "password_var": f"password_{i}",
            "password_file": f"{POSTGRES_SECRETS_DIR}/{role_secret(r.name)}",
        }
        for i, r in enumerate(pg.roles)
    ]
    return {
        "roles": roles,
        "databases": databases,
        "reader": {
            "name": READER_ROLE,
            "password_file": f"{POSTGRES_SECRETS_DIR}/{role_secret(READER_ROLE)}",
        },
        "secrets_dir": POSTGRES_SECRETS_DIR,
        "airflow_password_file": f"{POSTGRES_SECRETS_DIR}/airflow_db_password",
    }


def _relative(target: Path, start: Path) -> str:
    rel = os.path.relpath(target, start)
    return rel if rel.startswith(".") else f"./{rel}"


def build_context(
    loaded: LoadedSpec, secrets: Secrets, host: Host, environ: Mapping[str, str]
) -> dict[str, Any]:
    spec = loaded.spec
    state = loaded.state_dir
    plans = {p.service: p for p in plan_images(loaded, environ)}
    af, pg = spec.airflow, spec.postgres

    def image(service: str) -> dict[str, Any]:
        plan: ImagePlan = plans[service]
        build = None
        if plan.build:
            build = {
                "context": f"./{plan.build.context}",
                "args": dict(sorted(plan.build.args.items())),
                "labels": {INPUTS_LABEL: plan.build.digest},
            }
        return {"name": plan.image, "build": build}

    return {
        "project": spec.project.name,
        "labels": project_labels(spec, host.identity),
        "executor": af.executor,
        "celery": af.executor == "CeleryExecutor",
        "workers": af.worker_count,
        "user": f"{host.container_uid}:0",
        "images": {name: image(name) for name in plans},
        "ca_bundle": str(host.ca_bundle) if host.ca_bundle else None,
        "postgres": {
            "port": pg.port,
            "bind": pg.bind,
            "superuser": SUPERUSER,
        },
        "airflow": {"port": af.port, "bind": af.bind, "container_port": API_PORT},
        "paths": {
            "dags": f"./{StateLayout.DAGS}",
            "logs": f"./{StateLayout.LOGS}",
            "data": _relative(loaded.path(spec.data.path), state),
            "tinyctl": CONTAINER_TINYCTL_DIR,
            "airflow_home": AIRFLOW_HOME,
            "data_mount": CONTAINER_DATA_DIR,
            "plugins": "./plugins",
            "plugins_mount": CONTAINER_PLUGINS_DIR,
            "include": "./include",
            "include_mount": CONTAINER_INCLUDE_DIR,
        },
        "ports": {"scheduler_health": SCHEDULER_HEALTH_PORT, "worker_log": WORKER_LOG_PORT},
        "airflow_env": airflow_config(spec),
        "airflow_secret_files": airflow_secret_files(spec, secrets),
        "postgres_env": postgres_env(),
        "postgres_secret_files": postgres_secret_files(spec, secrets),
        "secrets_dirs": {"airflow": AIRFLOW_SECRETS_DIR, "postgres": POSTGRES_SECRETS_DIR},
        "passwords": {name: secrets.user_password(name) for name in api_users(spec)},
        "bootstrap": bootstrap_plan(spec),
    }
