"""The Compose target's files, rendered from the plan: compose.yaml, airflow.env, postgres.env,
the secret files, the passwords file, the bootstrap, tinyctl's helper scripts and the image build
contexts. Pure: plan + inputs -> {path relative to the state folder: file}.

The Compose facts live here and only here: where each place is inside the containers, the uid
the Airflow containers run as, the host names of the Compose network (a service's name) and the
ports inside it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tinyctl.plan.model import (
    ENDPOINT_PORTS,
    ENDPOINT_SERVICES,
    Condition,
    HealthCheck,
    Probe,
    Service,
    StackPlan,
    Stop,
)
from tinyctl.plan.settings import environment
from tinyctl.plan.values import (
    DatabaseUrl,
    Endpoint,
    Place,
    Port,
    SecretValue,
)
from tinyctl.state.layout import StateLayout
from tinyctl.targets.base import RenderedFile, RenderedFolder, RenderInputs
from tinyctl.targets.docker.images import INPUTS_LABEL, ImagePlan, plan_images
from tinyctl.targets.templating import (
    bootstrap_script,
    database_env,
    env_file,
    helper_script,
    render_template,
)
from tinyctl.targets.values import Resolver

AIRFLOW_HOME = "/opt/airflow"
TINYCTL_DIR = "/opt/tinyctl"
# Where each place is inside the containers. The include folder is the package `include` in a
# folder on PYTHONPATH, so DAGs write `from include.helpers import ...` (as in Astro CLI projects).
# Secrets are read-only files, never environment variables (which `docker inspect` shows).
PLACES: dict[Place, str] = {
    Place.AIRFLOW_HOME: AIRFLOW_HOME,
    Place.DAGS: f"{AIRFLOW_HOME}/dags",
    Place.LOGS: f"{AIRFLOW_HOME}/logs",
    Place.DATA: f"{AIRFLOW_HOME}/data",
    Place.PLUGINS: f"{AIRFLOW_HOME}/plugins",
    Place.LIB: f"{TINYCTL_DIR}/lib",
    Place.INCLUDE: f"{TINYCTL_DIR}/lib/include",
    Place.BIN: f"{TINYCTL_DIR}/bin",
    Place.AIRFLOW_SECRETS: f"{TINYCTL_DIR}/secrets",
    Place.POSTGRES_SECRETS: "/run/tinyctl-secrets",
    Place.PASSWORDS: f"{TINYCTL_DIR}/auth/passwords.json",
    Place.BOOTSTRAP: "/tinyctl/bootstrap.sh",
    Place.DATABASE_DATA: "/var/lib/postgresql/data",
    Place.PROJECT: "/opt/project",
}
# The state folder's side of the bind mounts (relative to compose.yaml); the passwords file is
# mounted with its folder (Airflow opens it r+ to lock it).
SOURCES: dict[Place, str] = {
    Place.DAGS: f"./{StateLayout.DAGS}",
    Place.LOGS: f"./{StateLayout.LOGS}",
    Place.PLUGINS: f"./{StateLayout.PLUGINS}",
    Place.INCLUDE: f"./{StateLayout.INCLUDE}",
    Place.AIRFLOW_SECRETS: f"./{StateLayout.AIRFLOW_SECRETS}",
    Place.POSTGRES_SECRETS: f"./{StateLayout.POSTGRES_SECRETS}",
    Place.PASSWORDS: "./secrets/auth",
    Place.BIN: "./bin",
    Place.BOOTSTRAP: f"./{StateLayout.POSTGRES_BOOTSTRAP}",
}
MOUNT_TARGETS = {**PLACES, Place.PASSWORDS: f"{TINYCTL_DIR}/auth"}
# Ports inside the Compose network (Airflow's and the servers' defaults).
PORTS: dict[Port, int] = {
    Port.API: 8080,
    Port.POSTGRES: 5432,
    Port.BROKER: 6379,
    Port.SCHEDULER_HEALTH: 8974,
    Port.WORKER_LOG: 8793,
    Port.TRIGGER_LOG: 8794,
}
# The uid Airflow's images are built for; containers use it when tinyctl itself runs as root,
# so no stack container runs as 0:0.
AIRFLOW_IMAGE_UID = 50000
SECRET_MODE = 0o600
# The named volume that holds the database's data (made by the runtime, labelled, before `up`).
DATA_VOLUME = "postgres-data"
CONDITIONS = {
    Condition.HEALTHY: "service_healthy",
    Condition.COMPLETED: "service_completed_successfully",
}


def container_uid(uid: int) -> int:
    """The uid Airflow containers run as: the host user's, or the image's own for root."""
    return uid if uid != 0 else AIRFLOW_IMAGE_UID


def address(endpoint: Endpoint) -> tuple[str, int]:
    """Where a container of the stack reaches an endpoint: its service's name, in-network port."""
    return ENDPOINT_SERVICES[endpoint], PORTS[ENDPOINT_PORTS[endpoint]]


def _read_secret(secret: str) -> str:
    return f"cat {PLACES[Place.AIRFLOW_SECRETS]}/{secret}"


# A plan value as the stack's containers see it.
resolve = Resolver(PLACES.__getitem__, PORTS.__getitem__, address, _read_secret)


def secret_content(content: SecretValue | DatabaseUrl, secrets: Any) -> str:
    if isinstance(content, DatabaseUrl):
        host, port = address(content.endpoint)
        return content.url(secrets[content.password], host, port)
    return secrets[content.secret]


def postgres_env(plan: StackPlan) -> dict[str, str]:
    """The Postgres containers' environment: no secret, only where to read it from."""
    return database_env(plan.bootstrap, PLACES[Place.POSTGRES_SECRETS])


def _health(check: HealthCheck, superuser: str) -> dict[str, Any]:
    script = ["CMD", "python", f"{PLACES[Place.BIN]}/healthcheck.py"]
    port = str(PORTS[check.port]) if check.port else ""
    tests = {
        Probe.DATABASE_READY: [
            "CMD",
            "pg_isready",
            "-h",
            "127.0.0.1",
            "-U",
            superuser,
            "-d",
            "postgres",
        ],
        Probe.BROKER_PING: ["CMD", "redis-cli", "ping"],
        Probe.HTTP: [*script, "http", f"http://127.0.0.1:{port}{check.path}"],
        Probe.JOB: [*script, "job", check.job],
        Probe.TCP: [*script, "tcp", port],
    }
    return {
        "test": tests[check.probe],
        "interval": f"{check.interval_seconds}s",
        "timeout": f"{check.timeout_seconds}s",
        "retries": check.retries,
        "start_period": f"{check.start_period_seconds}s",
    }


# Docker's default CPU weight of a container (cgroup cpu.shares); `start_weight` multiplies it.
CPU_SHARES = 1024


def _stop(stop: Stop | None) -> dict[str, str] | None:
    return None if stop is None else {"signal": stop.signal, "grace": f"{stop.grace_seconds}s"}


def _service(service: Service, plan: StackPlan, sources: dict[Place, str]) -> dict[str, Any]:
    volumes = [
        f"{sources[use.place]}:{MOUNT_TARGETS[use.place]}" + ("" if use.writable else ":ro")
        for use in service.places
        if use.place in sources
    ]
    return {
        "command": [resolve(arg) for arg in service.command],
        "after": {a.service: CONDITIONS[a.condition] for a in service.after},
        "health": _health(service.health, plan.bootstrap.superuser) if service.health else None,
        "stop": _stop(service.stop),
        # Compose's "m" is MiB; the swap limit equal to it: no swap beyond the limit either
        "memory": f"{service.memory_bytes >> 20}m" if service.memory_bytes else None,
        "cpu_shares": service.start_weight * CPU_SHARES if service.start_weight > 1 else None,
        "replicas": service.replicas,
        "volumes": volumes,
        "auth": any(use.place == Place.PASSWORDS for use in service.places),
        "ports": [f"{p.bind}:{p.host_port}:{PORTS[p.port]}" for p in service.publish],
    }


def _server_flags(plan: StackPlan) -> list[str]:
    return [part for key, value in plan.server_settings for part in ("-c", f"{key}={value}")]


def _relative(target: Path, start: Path) -> str:
    rel = os.path.relpath(target, start)
    return rel if rel.startswith(".") else f"./{rel}"


def _image(plan: ImagePlan) -> dict[str, Any]:
    build = None
    if plan.build:
        build = {
            "context": f"./{plan.build.context}",
            "args": dict(sorted(plan.build.args.items())),
            "labels": {INPUTS_LABEL: plan.build.digest},
        }
    return {"name": plan.image, "build": build}


def compose_context(plan: StackPlan, inputs: RenderInputs) -> dict[str, Any]:
    """The values compose.yaml.j2 is rendered with (no secret in them)."""
    loaded = inputs.loaded
    images = plan_images(loaded, inputs.environ)
    # the data folder is the project's own (outside the state folder)
    sources = {
        **SOURCES,
        Place.DATA: _relative(loaded.path(loaded.spec.data.path), loaded.state_dir),
    }
    services = {s.name: _service(s, plan, sources) for s in plan.services}
    return {
        "project": plan.project,
        "labels": dict(plan.labels),
        "celery": plan.celery,
        "user": f"{container_uid(inputs.uid)}:0",
        "images": {p.service: _image(p) for p in images},
        "ca_bundle": str(inputs.ca_bundle) if inputs.ca_bundle else None,
        "postgres_command": ["postgres", *_server_flags(plan)],
        "services": services,
        "bin": PLACES[Place.BIN],
        "bootstrap": PLACES[Place.BOOTSTRAP],
        "data_volume": DATA_VOLUME,
        "data_mount": PLACES[Place.DATABASE_DATA],
    }


def render_files(plan: StackPlan, inputs: RenderInputs) -> dict[str, RenderedFile]:
    """Everything the Compose stack needs, as {path relative to the state folder: file}."""
    secrets = inputs.secrets
    owner = container_uid(inputs.uid)
    passwords = {user.name: secrets[user.secret] for user in plan.api_users}
    files: dict[str, RenderedFile] = {
        StateLayout.COMPOSE: RenderedFile(
            render_template("compose/compose.yaml.j2", compose_context(plan, inputs))
        ),
        StateLayout.AIRFLOW_ENV: RenderedFile(
            env_file("Airflow configuration (non-secret)", environment(plan.settings, resolve))
        ),
        StateLayout.POSTGRES_ENV: RenderedFile(
            env_file("PostgreSQL (non-secret; passwords are files)", postgres_env(plan))
        ),
        StateLayout.PASSWORDS: RenderedFile(
            (json.dumps(passwords, indent=2, sort_keys=True) + "\n").encode(), SECRET_MODE, owner
        ),
        StateLayout.POSTGRES_BOOTSTRAP: RenderedFile(
            bootstrap_script(
                plan.bootstrap,
                secrets_dir=PLACES[Place.POSTGRES_SECRETS],
                host=address(Endpoint.METADATA)[0],
                port=address(Endpoint.METADATA)[1],
            ),
            0o755,
        ),
        **helper_scripts(),
    }
    folders = {
        Place.AIRFLOW_SECRETS: StateLayout.AIRFLOW_SECRETS,
        Place.POSTGRES_SECRETS: StateLayout.POSTGRES_SECRETS,
    }
    for secret in plan.secrets:
        content = secret_content(secret.content, secrets).encode()
        airflow = secret.place == Place.AIRFLOW_SECRETS
        files[f"{folders[secret.place]}/{secret.name}"] = RenderedFile(
            content, SECRET_MODE, owner if airflow else None
        )
    files.update(build_contexts(inputs))
    return files


def helper_scripts() -> dict[str, RenderedFile]:
    """tinyctl's scripts every Airflow process runs through (the launcher, the health check)."""
    return {
        name: RenderedFile(helper_script(Path(name).name), 0o755)
        for name in (StateLayout.HEALTHCHECK, StateLayout.AIRFLOW_RUN)
    }


def build_contexts(inputs: RenderInputs) -> dict[str, RenderedFile]:
    """The build context of each image built locally, from its image plan."""
    files: dict[str, RenderedFile] = {}
    for plan in plan_images(inputs.loaded, inputs.environ):
        if plan.build:
            for name, content in plan.build.files.items():
                mode = 0o755 if name.endswith(".sh") or name == "entrypoint" else 0o644
                files[f"{plan.build.context}/{name}"] = RenderedFile(content, mode)
    return files


def state_folders(plan: StackPlan, inputs: RenderInputs) -> dict[str, RenderedFolder]:
    """The folders the containers mount: when tinyctl runs as root, Airflow (not root) owns the
    logs it writes and the secret folders it opens."""
    owner = container_uid(inputs.uid)
    folders = {name: RenderedFolder() for name in StateLayout.MOUNT_DIRS}
    folders[StateLayout.LOGS] = RenderedFolder(mode=0o775 if inputs.uid == 0 else None, owner=owner)
    for name in StateLayout.SECRET_DIRS:
        folders[name] = RenderedFolder(mode=0o700)
    for name in ("secrets/auth", StateLayout.AIRFLOW_SECRETS):
        folders[name] = RenderedFolder(mode=0o700, owner=owner)
    return folders
