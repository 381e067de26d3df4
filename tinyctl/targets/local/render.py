"""The local target's files and environments, rendered from the plan: the plan's places are
folders of this machine, its endpoints 127.0.0.1 (or the database's unix socket), its ports the
spec's and the ones this project chose for itself (`config.internal_ports`).

Pure: plan + facts -> files and environments; the runtime writes and starts them. Secrets stay
files, as on Compose: every `_CMD` setting names a 0600 file; no secret is ever put in an
environment variable (which `ps e` and /proc/<pid>/environ show).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tinyctl.plan.model import SecretFile, StackPlan
from tinyctl.plan.settings import environment
from tinyctl.plan.values import (
    DatabaseUrl,
    Endpoint,
    Place,
    Port,
    SecretValue,
)
from tinyctl.spec.loaded import LoadedSpec
from tinyctl.state.layout import StateLayout
from tinyctl.state.secrets import Secrets
from tinyctl.targets.base import RenderedFile, RenderedFolder, RenderInputs
from tinyctl.targets.templating import bootstrap_script, database_env, helper_script
from tinyctl.targets.values import Resolver

SECRET_MODE = 0o600
LOOPBACK = "127.0.0.1"
# What the processes of `.tinyctl/local/` are (relative to the state folder).
LOCAL_BOOTSTRAP = f"{StateLayout.LOCAL}/bootstrap.sh"
LOCAL_LIB = f"{StateLayout.LOCAL}/lib"
LOCAL_HOME = f"{StateLayout.LOCAL}/airflow-home"
LOCAL_SECRETS = f"{StateLayout.LOCAL}/secrets"  # the secret files that hold the local address
# Variables of the caller's environment a local process never inherits.
_NOT_INHERITED = ("AIRFLOW_", "AIRFLOW__", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")


def places(loaded: LoadedSpec) -> dict[Place, Path]:
    """Where each place is on this machine: the state folder's deployed copies and secrets, the
    project's data folder, the local runtime's own folders."""
    state = StateLayout(loaded.state_dir)
    return {
        Place.AIRFLOW_HOME: state.file(LOCAL_HOME),
        Place.DAGS: state.dags_dir,
        Place.LOGS: state.logs_dir,
        Place.DATA: loaded.path(loaded.spec.data.path),
        Place.PLUGINS: state.plugins_dir,
        # a folder holding only `include` (a link to the deployed copy), as on Compose
        Place.LIB: state.file(LOCAL_LIB),
        Place.INCLUDE: state.include_dir,
        Place.BIN: state.file("bin"),
        Place.AIRFLOW_SECRETS: state.file(StateLayout.AIRFLOW_SECRETS),
        Place.POSTGRES_SECRETS: state.file(StateLayout.POSTGRES_SECRETS),
        Place.PASSWORDS: state.file(StateLayout.PASSWORDS),
        Place.BOOTSTRAP: state.file(LOCAL_BOOTSTRAP),
        Place.PROJECT: loaded.root,
    }


@dataclass(frozen=True)
class Addresses:
    """Where the local processes reach each other: the database (127.0.0.1 and its port, or
    its unix socket folder), the api-server (the spec's bind and port), the internal ports."""

    database: tuple[str, int]
    api: tuple[str, int]
    ports: Mapping[Port, int]


def _url_secret(secret: SecretFile) -> bool:
    return isinstance(secret.content, DatabaseUrl)


def secret_paths(plan: StackPlan, loaded: LoadedSpec) -> dict[str, Path]:
    """{secret: the file the local processes read it from}: the state folder's own, except the
    database URLs, which hold the local address (`address_secret_files`)."""
    where = places(loaded)
    local = StateLayout(loaded.state_dir).file(LOCAL_SECRETS)
    return {s.name: (local if _url_secret(s) else where[s.place]) / s.name for s in plan.secrets}


def address_secret_files(
    plan: StackPlan, secrets: Secrets, database: tuple[str, int]
) -> dict[str, bytes]:
    """{name: content} of the secret files holding a database URL, with the local address."""
    host, port = database
    return {
        s.name: s.content.url(secrets[s.content.password], host, port)
        for s in plan.secrets
        if isinstance(s.content, DatabaseUrl)
    }


def resolver(paths: Mapping[Place, Path], addresses: Addresses, secret_files: Mapping[str, Path]):
    """A function giving a plan value as the local processes see it."""

    def endpoint(which: Endpoint) -> tuple[str, int]:
        if which == Endpoint.API_SERVER:
            host, port = addresses.api
            return (LOOPBACK if host in ("0.0.0.0", "::") else host), port
        if which in (Endpoint.METADATA, Endpoint.WAREHOUSE):
            return addresses.database
        raise ValueError(f"the local runtime runs no {which}")

    def port(which: Port) -> int:
        return addresses.api[1] if which == Port.API else addresses.ports[which]

    def read_secret(secret: str) -> str:
        # Airflow splits a `_CMD` with shlex and runs it without a shell.
        return f"cat {shlex.quote(str(secret_files[secret]))}"

    return Resolver(lambda place: str(paths[place]), port, endpoint, read_secret)


def inherited(base: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without what would change which Airflow or Python runs."""
    return {k: v for k, v in base.items() if not k.startswith(_NOT_INHERITED)}


def airflow_environment(
    plan: StackPlan,
    loaded: LoadedSpec,
    *,
    base: Mapping[str, str],
    venv_bin: Path,
    addresses: Addresses,
) -> dict[str, str]:
    """The environment of every Airflow process of the local stack: the plan's settings with
    local places and addresses, and what processes sharing one machine must be told: where
    Airflow's home, DAGs and logs are, and which host and ports each server binds."""
    paths = places(loaded)
    resolve = resolver(paths, addresses, secret_paths(plan, loaded))
    env = inherited(base)
    env.update(environment(plan.settings, resolve))
    env.update(
        {
            "PATH": f"{venv_bin}:{base.get('PATH', '/usr/bin:/bin')}",
            "AIRFLOW_HOME": str(paths[Place.AIRFLOW_HOME]),
            "AIRFLOW__CORE__DAGS_FOLDER": str(paths[Place.DAGS]),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(paths[Place.LOGS]),
            "AIRFLOW__API__HOST": addresses.api[0],
            "LANG": base.get("LANG") or "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for internal in plan.internal_ports:
        section, key = internal.setting
        env[f"AIRFLOW__{section.upper()}__{key.upper()}"] = str(addresses.ports[internal.port])
        if internal.host_setting:
            section, key = internal.host_setting
            env[f"AIRFLOW__{section.upper()}__{key.upper()}"] = LOOPBACK
    return env


def postgres_environment(plan: StackPlan, loaded: LoadedSpec) -> dict[str, str]:
    """What the bootstrap and psql & co. read besides the cluster's address (no secret)."""
    return database_env(plan.bootstrap, str(places(loaded)[Place.POSTGRES_SECRETS]))


def oneoff_resolver(
    plan: StackPlan,
    loaded: LoadedSpec,
    mounts: Mapping[Place, Path],
    addresses: Addresses,
):
    """Values of a one-off (no container): a mounted place is its folder; any other, the
    stack's own."""
    paths = {**places(loaded), **mounts}
    return resolver(paths, addresses, secret_paths(plan, loaded))


def render_files(plan: StackPlan, inputs: RenderInputs) -> dict[str, RenderedFile]:
    """What `tinyctl render` writes for the local target: the secret files (all but the database
    URLs, which name the cluster's address: written at start), the passwords file, the bootstrap
    with this machine's secrets folder, and the Airflow launcher."""
    secrets = inputs.secrets
    where = places(inputs.loaded)
    passwords = {user.name: secrets[user.secret] for user in plan.api_users}
    files: dict[str, RenderedFile] = {
        StateLayout.PASSWORDS: RenderedFile(
            (json.dumps(passwords, indent=2, sort_keys=True) + "\n").encode(), SECRET_MODE
        ),
        LOCAL_BOOTSTRAP: RenderedFile(
            bootstrap_script(
                plan.bootstrap,
                secrets_dir=str(where[Place.POSTGRES_SECRETS]),
                host=LOOPBACK,
                port=5432,
            ),
            0o700,
        ),
        StateLayout.AIRFLOW_RUN: RenderedFile(helper_script("airflow_run.py"), 0o755),
    }
    folders = {
        Place.AIRFLOW_SECRETS: StateLayout.AIRFLOW_SECRETS,
        Place.POSTGRES_SECRETS: StateLayout.POSTGRES_SECRETS,
    }
    for secret in plan.secrets:
        if isinstance(secret.content, SecretValue):
            files[f"{folders[secret.place]}/{secret.name}"] = RenderedFile(
                secrets[secret.content.secret].encode(), SECRET_MODE
            )
    return files


def state_folders(plan: StackPlan, inputs: RenderInputs) -> dict[str, RenderedFolder]:
    folders = {name: RenderedFolder() for name in StateLayout.MOUNT_DIRS}
    for name in (*StateLayout.SECRET_DIRS, LOCAL_SECRETS):
        folders[name] = RenderedFolder(mode=0o700)
    return folders
