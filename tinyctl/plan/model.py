"""The StackPlan: one pure, neutral model of a project's stack, which every target renders.

Frozen dataclasses only: no container path, host name, port number of a target or file format
lives here (see `tinyctl.plan.values` for the symbols it is written in). `tinyctl.plan.build`
derives it from the spec, the names of the secrets and the project's identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tinyctl.plan.values import Endpoint, EnvSecret, Place, Port, SecretContent, SecretValue, Value


class Role(StrEnum):
    """What a service is for."""

    DATABASE = "database"  # PostgreSQL: the metadata database and the warehouse
    BROKER = "broker"  # Redis, the Celery broker
    DATABASE_SETUP = "database_setup"  # one-shot: roles, databases, schemas, grants
    MIGRATE = "migrate"  # one-shot: Airflow's metadata migrations
    API_SERVER = "api_server"
    SCHEDULER = "scheduler"
    DAG_PROCESSOR = "dag_processor"
    TRIGGERER = "triggerer"
    WORKER = "worker"  # a Celery worker


class Image(StrEnum):
    """Which image (or installation) a service runs: the target says where it comes from."""

    POSTGRES = "postgres"
    REDIS = "redis"
    AIRFLOW = "airflow"


class Condition(StrEnum):
    """What a service waits for in another before it starts."""

    HEALTHY = "healthy"
    COMPLETED = "completed"  # a one-shot that ended with exit code 0


class Probe(StrEnum):
    """How a service's health is told."""

    DATABASE_READY = "database_ready"  # the server accepts connections (pg_isready)
    BROKER_PING = "broker_ping"  # the broker answers PING
    HTTP = "http"  # GET <path> on <port> answers 200
    JOB = "job"  # Airflow's job table has a live heartbeat of <job>
    TCP = "tcp"  # something accepts connections on <port>


@dataclass(frozen=True)
class HealthCheck:
    probe: Probe
    port: Port | None = None
    path: str = ""
    job: str = ""
    interval_seconds: int = 2
    timeout_seconds: int = 10
    retries: int = 30
    # failed probes in the first minutes do not count: a slow start is not "unhealthy"
    start_period_seconds: int = 300


@dataclass(frozen=True)
class Stop:
    """How a service is stopped: the signal, and the seconds it gets before it is killed."""

    signal: str  # SIGTERM, SIGINT
    grace_seconds: int


@dataclass(frozen=True)
class After:
    service: str
    condition: Condition


@dataclass(frozen=True)
class PlaceUse:
    """A place a service sees; read-only unless `writable`."""

    place: Place
    writable: bool = False


@dataclass(frozen=True)
class Publish:
    """A port of the stack published on the machine: the spec's bind address and port."""

    port: Port
    host_port: int
    bind: str


@dataclass(frozen=True)
class Service:
    name: str  # e.g. "postgres", "api-server", "worker"
    role: Role
    image: Image
    # Airflow services: the arguments of `airflow` (e.g. ("scheduler",)); others: none
    command: tuple[Value, ...] = ()
    one_shot: bool = False
    replicas: int = 1
    after: tuple[After, ...] = ()
    health: HealthCheck | None = None
    stop: Stop | None = None
    places: tuple[PlaceUse, ...] = ()
    listens: tuple[Port, ...] = ()
    publish: tuple[Publish, ...] = ()
    secrets: tuple[str, ...] = ()  # the secret files it reads (`SecretFile.name`)
    settings: str = ""  # "airflow": the Airflow settings; "postgres": the server's settings
    memory_bytes: int | None = None  # the spec's `memory:` limit for it (Compose)
    # Its share of the machine's CPU while the stack starts, against the others' 1: the
    # component whose health is ready last gets more (on 2 cores, four Airflow components
    # importing at once). A target that runs each service on its own CPUs may ignore it.
    start_weight: int = 1


@dataclass(frozen=True)
class Setting:
    """One setting of every Airflow process: an Airflow option (`section.key`, set as
    `AIRFLOW__SECTION__KEY`) or, with no section, a plain environment variable."""

    section: str | None
    key: str
    value: Value
    # One of tinyctl's defaults for work on one machine (`LOCAL_DEFAULTS`), which neither the
    # spec nor the stack asks for: a target running elsewhere may leave it to Airflow.
    default: bool = False

    @property
    def env_name(self) -> str:
        """The environment variable Airflow reads it from (its own naming convention)."""
        if self.section is None:
            return self.key
        return f"AIRFLOW__{self.section.upper()}__{self.key.upper()}"


@dataclass(frozen=True)
class SecretFile:
    """A secret the stack reads from a file (mode 0600, never an environment variable)."""

    name: str
    place: Place  # the folder it lives in: AIRFLOW_SECRETS or POSTGRES_SECRETS
    content: SecretContent
    readers: tuple[str, ...]  # the services that read it


@dataclass(frozen=True)
class ApiUser:
    """A user of Airflow's UI and API (simple auth manager), its password a stored secret."""

    name: str
    role: str
    secret: str


@dataclass(frozen=True)
class InternalPort:
    """A port an Airflow component listens on that the spec does not choose, and the settings
    that choose it (a target whose processes share one network sets them)."""

    port: Port
    setting: tuple[str, str]  # (section, key) of its number
    host_setting: tuple[str, str] | None = None  # (section, key) of the address it binds


@dataclass(frozen=True)
class DatabaseRole:
    """A login role of the warehouse, its password a stored secret."""

    name: str
    secret: str


@dataclass(frozen=True)
class WarehouseDatabase:
    name: str
    schemas: tuple[str, ...]
    owner: str | None  # the first writer role: owns the schemas
    writers: tuple[str, ...]
    readers: tuple[str, ...]


@dataclass(frozen=True)
class Bootstrap:
    """What the idempotent database bootstrap creates: Airflow's metadata database and role,
    the warehouse roles and databases with their schemas and grants, tinyctl's reader role."""

    superuser: str
    superuser_secret: str
    metadata_database: str
    metadata_role: str
    metadata_secret: str
    roles: tuple[DatabaseRole, ...]
    reader: DatabaseRole
    databases: tuple[WarehouseDatabase, ...]


@dataclass(frozen=True)
class Connection:
    """An Airflow connection the stack defines: a warehouse database's (it reaches the
    `endpoint`, as a stored role's secret) or one of the spec's (its own host, the password from
    the caller's environment). `extra` is Airflow's JSON text of the connection's extra."""

    id: str
    type: str
    endpoint: Endpoint | None = None  # set: host and port are the endpoint's, as the target says
    host: str | None = None
    port: int | None = None
    login: str | None = None
    schema: str | None = None
    description: str | None = None
    extra: str | None = None
    password: SecretValue | EnvSecret | None = None


@dataclass(frozen=True)
class Pool:
    name: str
    slots: int
    description: str
    include_deferred: bool


@dataclass(frozen=True)
class Variable:
    """An Airflow variable, its value as Airflow stores it (a string as it is, anything else as
    JSON, read with deserialize_json=True)."""

    name: str
    value: str


@dataclass(frozen=True)
class StackPlan:
    project: str
    airflow_version: str
    postgres_version: str | None
    executor: str  # LocalExecutor, CeleryExecutor
    services: tuple[Service, ...]
    settings: tuple[Setting, ...]  # every Airflow process's settings, in a stable order
    secrets: tuple[SecretFile, ...]
    api_users: tuple[ApiUser, ...]
    internal_ports: tuple[InternalPort, ...]
    bootstrap: Bootstrap
    server_settings: tuple[tuple[str, str], ...]  # PostgreSQL's, for a local stack
    warehouse_connection_id: str
    labels: tuple[tuple[str, str], ...]  # the project's identity on every resource
    # Airflow's objects the spec defines, for a target that creates them with the stack (the
    # Compose and local targets sync them through the API after `up` instead)
    connections: tuple[Connection, ...] = ()
    variables: tuple[Variable, ...] = ()
    pools: tuple[Pool, ...] = ()

    @property
    def celery(self) -> bool:
        return self.executor == "CeleryExecutor"

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def with_role(self, *roles: Role) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.role in roles)

    def secret_files(self, place: Place) -> tuple[SecretFile, ...]:
        return tuple(s for s in self.secrets if s.place == place)

    def endpoint_port(self, endpoint: Endpoint) -> Port:
        """The port an endpoint is reached on."""
        return ENDPOINT_PORTS[endpoint]


ENDPOINT_PORTS = {
    Endpoint.METADATA: Port.POSTGRES,
    Endpoint.WAREHOUSE: Port.POSTGRES,
    Endpoint.API_SERVER: Port.API,
    Endpoint.BROKER: Port.BROKER,
}
# Which service serves an endpoint.
ENDPOINT_SERVICES = {
    Endpoint.METADATA: "postgres",
    Endpoint.WAREHOUSE: "postgres",
    Endpoint.API_SERVER: "api-server",
    Endpoint.BROKER: "redis",
}
