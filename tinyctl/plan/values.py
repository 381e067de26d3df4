"""The symbols a plan is written in: places, endpoints and ports, and the values that name them.

A plan never holds a container path, a host name or a port number of a target: it says "the DAG
folder", "the metadata database", "the api-server's port", and each target resolves those symbols
into its own world (a container path, a local folder, a Kubernetes Service name).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote


class Place(StrEnum):
    """A folder or file the stack reads or writes, named for what it holds."""

    AIRFLOW_HOME = "airflow_home"  # Airflow's own home (airflow.cfg, its default folders)
    DAGS = "dags"  # the deployed DAG files
    LOGS = "logs"  # task logs
    DATA = "data"  # the project's data folder (landing, archive)
    PLUGINS = "plugins"  # the deployed plugins folder (Airflow's plugins_folder)
    LIB = "lib"  # a folder on the python path holding only the package `include`
    INCLUDE = "include"  # the deployed include folder, importable as `include` from LIB
    BIN = "bin"  # tinyctl's helper scripts (the Airflow launcher, the health check)
    AIRFLOW_SECRETS = "airflow_secrets"  # the secret files Airflow's `_CMD` settings read
    POSTGRES_SECRETS = "postgres_secrets"  # the secret files the database bootstrap reads
    PASSWORDS = "passwords"  # the API users' passwords file (simple auth manager)
    BOOTSTRAP = "bootstrap"  # the database bootstrap script
    DATABASE_DATA = "database_data"  # PostgreSQL's data directory
    PROJECT = "project"  # the project folder itself (one-offs such as `tinyctl pytest`)


class Endpoint(StrEnum):
    """Something reached over the network, inside the stack."""

    METADATA = "metadata"  # Airflow's metadata database
    WAREHOUSE = "warehouse"  # the project's warehouse databases (same server)
    API_SERVER = "api_server"  # Airflow's API server (also the execution API)
    BROKER = "broker"  # the Celery broker (CeleryExecutor only)


class Port(StrEnum):
    """A port a service listens on inside the stack (the number is the target's)."""

    API = "api"
    POSTGRES = "postgres"
    BROKER = "broker"
    SCHEDULER_HEALTH = "scheduler_health"
    WORKER_LOG = "worker_log"
    TRIGGER_LOG = "trigger_log"


@dataclass(frozen=True)
class PlaceRef:
    """The path of a place, as the process that reads the value sees it."""

    place: Place


@dataclass(frozen=True)
class PathList:
    """Several places as one search path (PYTHONPATH and the like), in order."""

    places: tuple[Place, ...]


@dataclass(frozen=True)
class PortRef:
    """The number of a port, as the service listening on it sees it."""

    port: Port


@dataclass(frozen=True)
class EndpointUrl:
    """`<scheme>://<host>:<port><path>` of an endpoint, as a process of the stack reaches it."""

    endpoint: Endpoint
    scheme: str
    path: str = ""


@dataclass(frozen=True)
class SecretRef:
    """A setting whose value is a secret file's content: Airflow reads it through the setting's
    `_CMD` variant, so the value itself never reaches an environment."""

    secret: str  # the name of a `SecretFile` of the plan


# What a setting or a command argument holds.
Value = str | PlaceRef | PathList | PortRef | EndpointUrl | SecretRef


@dataclass(frozen=True)
class SecretValue:
    """A secret file holding one stored secret as it is (a password, the Fernet key)."""

    secret: str  # the name in the secrets store (`tinyctl.state.secrets`)


@dataclass(frozen=True)
class DatabaseUrl:
    """A secret file holding a database URL with a stored password in it."""

    scheme: str  # e.g. postgresql+psycopg2, db+postgresql
    role: str
    password: str  # the name of the stored secret
    endpoint: Endpoint
    database: str

    def url(self, password: str, host: str, port: int) -> str:
        """The URL with the endpoint resolved: a host name or address, or (libpq's convention)
        the folder of the server's unix socket."""
        credentials = f"{self.scheme}://{self.role}:{quote(password, safe='')}"
        if host.startswith("/"):
            return f"{credentials}@/{self.database}?host={host}&port={port}"
        return f"{credentials}@{host}:{port}/{self.database}"


@dataclass(frozen=True)
class EnvSecret:
    """A secret the caller's environment holds (a connection's `password_env`): read by the
    target when it renders, never stored by tinyctl."""

    variable: str


# What a secret file holds.
SecretContent = SecretValue | DatabaseUrl
