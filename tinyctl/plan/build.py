"""Spec + the names of the secrets + identity -> the StackPlan. Pure: no file, engine or template.

Every decision about the stack (which services, what each waits for, how it is stopped and
checked, every Airflow setting, the bootstrap) is taken here once; the targets only say how
(`tinyctl.targets.<target>.render`).
"""

from __future__ import annotations

from dataclasses import replace

from tinyctl.plan.labels import project_labels
from tinyctl.plan.model import (
    After,
    ApiUser,
    Bootstrap,
    Condition,
    DatabaseRole,
    HealthCheck,
    Image,
    InternalPort,
    PlaceUse,
    Probe,
    Publish,
    Role,
    SecretFile,
    Service,
    StackPlan,
    Stop,
    WarehouseDatabase,
)
from tinyctl.plan.objects import connections, pools, variables
from tinyctl.plan.settings import airflow_settings
from tinyctl.plan.values import (
    DatabaseUrl,
    Endpoint,
    Place,
    Port,
    PortRef,
    SecretValue,
)
from tinyctl.spec.loaded import LoadedSpec
from tinyctl.spec.models import Spec, memory_bytes
from tinyctl.spec.triggerer import choose_triggerer
from tinyctl.state.identity import Identity
from tinyctl.state.secrets import READER_ROLE, api_users, role_secret, user_secret

POSTGRES = "postgres"
SUPERUSER = "postgres"
METADATA_DB = "airflow"
METADATA_ROLE = "airflow"
# No WAL archiving or replicas on a local stack: a seed that truncates and loads a table in one
# transaction (tinyctl seed, mode replace) then writes no WAL for it.
SERVER_SETTINGS = (("wal_level", "minimal"), ("max_wal_senders", "0"))
# The ports Airflow's components choose themselves (Airflow's defaults), and their settings.
INTERNAL_PORTS = (
    InternalPort(
        Port.SCHEDULER_HEALTH,
        ("scheduler", "scheduler_health_check_server_port"),
        ("scheduler", "scheduler_health_check_server_host"),
    ),
    InternalPort(Port.WORKER_LOG, ("logging", "worker_log_server_port")),
    InternalPort(Port.TRIGGER_LOG, ("logging", "trigger_log_server_port")),
)
AIRFLOW_PLACES = (
    PlaceUse(Place.DAGS),
    PlaceUse(Place.LOGS, writable=True),
    PlaceUse(Place.DATA, writable=True),
    PlaceUse(Place.PLUGINS),
    PlaceUse(Place.INCLUDE),
    PlaceUse(Place.AIRFLOW_SECRETS),
    PlaceUse(Place.BIN),
)


def _airflow_service(
    name: str,
    role: Role,
    command: tuple,
    *,
    after: tuple[After, ...],
    health: HealthCheck | None = None,
    stop: Stop | None = None,
    secrets: tuple[str, ...],
    **extra,
) -> Service:
    return Service(
        name,
        role,
        Image.AIRFLOW,
        command=command,
        after=after,
        health=health,
        stop=stop,
        places=extra.pop("places", AIRFLOW_PLACES),
        secrets=secrets,
        settings="airflow",
        **extra,
    )


# The long-running Airflow components: (name, role, `airflow` arguments, health, stop, ports).
# The reasons for each grace period are given beside it in templates/compose/compose.yaml.j2.
COMPONENTS = (
    (
        "api-server",
        Role.API_SERVER,
        ("api-server", "--port", PortRef(Port.API)),
        HealthCheck(Probe.HTTP, Port.API, "/api/v2/monitor/health"),
        Stop("SIGTERM", 1),
        (Port.API,),
    ),
    (
        "scheduler",
        Role.SCHEDULER,
        ("scheduler",),
        HealthCheck(Probe.HTTP, Port.SCHEDULER_HEALTH, "/health"),
        Stop("SIGTERM", 10),
        (Port.SCHEDULER_HEALTH, Port.WORKER_LOG),
    ),
    (
        "dag-processor",
        Role.DAG_PROCESSOR,
        ("dag-processor",),
        HealthCheck(Probe.JOB, job="DagProcessorJob"),
        Stop("SIGTERM", 5),
        (),
    ),
    (
        "triggerer",
        Role.TRIGGERER,
        ("triggerer",),
        HealthCheck(Probe.JOB, job="TriggererJob"),
        Stop("SIGTERM", 2),
        (Port.TRIGGER_LOG,),
    ),
)
WORKER = (
    "worker",
    Role.WORKER,
    ("celery", "worker"),
    HealthCheck(Probe.TCP, Port.WORKER_LOG),
    Stop("SIGTERM", 10),  # Celery's warm shutdown
    (Port.WORKER_LOG,),
)
# The api-server needs about twice the CPU of any other component to start (FastAPI builds its
# ~800 routes) and is the last one healthy: while the stack starts, it gets 8 shares to their 1.
API_SERVER_START_WEIGHT = 8
# Only the api-server reads the passwords file (and opens it r+ to lock it).
API_SERVER_PLACES = (
    *AIRFLOW_PLACES[:6],
    PlaceUse(Place.PASSWORDS, writable=True),
    AIRFLOW_PLACES[6],
)


def _components(spec: Spec, airflow_secrets: tuple[str, ...], triggerer: bool) -> list[Service]:
    """The long-running Airflow components, each started once the metadata is migrated."""
    af = spec.airflow
    celery = af.executor == "CeleryExecutor"
    chosen = [c for c in COMPONENTS if triggerer or c[1] != Role.TRIGGERER]
    ready = (After("airflow-init", Condition.COMPLETED),) + (
        (After("redis", Condition.HEALTHY),) if celery else ()
    )
    extra = {
        "api-server": {
            "places": API_SERVER_PLACES,
            "publish": (Publish(Port.API, af.port, af.bind),),
            "start_weight": API_SERVER_START_WEIGHT,
        },
        "worker": {"replicas": af.worker_count},
    }
    return [
        _airflow_service(
            name,
            role,
            command,
            after=ready,
            health=health,
            stop=stop,
            listens=listens,
            secrets=airflow_secrets,
            **extra.get(name, {}),
        )
        for name, role, command, health, stop, listens in [*chosen, *((WORKER,) if celery else ())]
    ]


def _services(spec: Spec, secrets: tuple[SecretFile, ...], triggerer: bool) -> tuple[Service, ...]:
    pg = spec.postgres
    celery = spec.airflow.executor == "CeleryExecutor"
    database_secrets = tuple(s.name for s in secrets if s.place == Place.POSTGRES_SECRETS)
    airflow_secrets = tuple(s.name for s in secrets if s.place == Place.AIRFLOW_SECRETS)
    services = [
        Service(
            POSTGRES,
            Role.DATABASE,
            Image.POSTGRES,
            health=HealthCheck(Probe.DATABASE_READY, interval_seconds=1),
            stop=Stop("SIGINT", 30),  # fast shutdown; stopped last, after everything using it
            places=(PlaceUse(Place.DATABASE_DATA, writable=True), PlaceUse(Place.POSTGRES_SECRETS)),
            listens=(Port.POSTGRES,),
            publish=(Publish(Port.POSTGRES, pg.port, pg.bind),) if pg.port is not None else (),
            secrets=(database_secrets[0],),
            settings="postgres",
        ),
        Service(
            "db-setup",
            Role.DATABASE_SETUP,
            Image.POSTGRES,
            one_shot=True,
            after=(After(POSTGRES, Condition.HEALTHY),),
            places=(PlaceUse(Place.BOOTSTRAP), PlaceUse(Place.POSTGRES_SECRETS)),
            secrets=database_secrets,
            settings="postgres",
        ),
    ]
    if celery:
        services.append(
            Service(
                "redis",
                Role.BROKER,
                Image.REDIS,
                health=HealthCheck(Probe.BROKER_PING, interval_seconds=1),
                stop=Stop("SIGTERM", 5),  # no persistence: its queues are rebuilt
                listens=(Port.BROKER,),
            )
        )
    services.append(
        _airflow_service(
            "airflow-init",
            Role.MIGRATE,
            ("db", "migrate"),
            one_shot=True,
            after=(After("db-setup", Condition.COMPLETED),),
            secrets=airflow_secrets,
        )
    )
    limited = [
        replace(service, memory_bytes=memory_bytes(spec.memory[service.name]))
        if service.name in spec.memory
        else service
        for service in (*services, *_components(spec, airflow_secrets, triggerer))
    ]
    return tuple(limited)


def _airflow_readers(celery: bool, triggerer: bool) -> tuple[str, ...]:
    names = ("airflow-init", "api-server", "scheduler", "dag-processor")
    return names + (("triggerer",) if triggerer else ()) + (("worker",) if celery else ())


def _secrets(spec: Spec, triggerer: bool) -> tuple[SecretFile, ...]:
    """The secret files: Airflow's (read through `_CMD`) and the database's (the bootstrap's)."""
    celery = spec.airflow.executor == "CeleryExecutor"
    readers = _airflow_readers(celery, triggerer)

    def airflow(name: str, content: SecretValue | DatabaseUrl | None = None) -> SecretFile:
        return SecretFile(name, Place.AIRFLOW_SECRETS, content or SecretValue(name), readers)

    def database(name: str, *readers: str) -> SecretFile:
        return SecretFile(name, Place.POSTGRES_SECRETS, SecretValue(name), readers)

    def metadata(scheme: str) -> DatabaseUrl:
        return DatabaseUrl(
            scheme, METADATA_ROLE, "airflow_db_password", Endpoint.METADATA, METADATA_DB
        )

    files = [
        airflow("sql_alchemy_conn", metadata("postgresql+psycopg2")),
        airflow("fernet_key"),
        airflow("jwt_secret"),
        airflow("api_secret_key"),
    ]
    if celery:
        files.append(airflow("result_backend", metadata("db+postgresql")))
    files += [
        database("postgres_password", POSTGRES, "db-setup"),
        database("airflow_db_password", "db-setup"),
    ]
    files += [
        database(role_secret(name), "db-setup")
        for name in [role.name for role in spec.postgres.roles] + [READER_ROLE]
    ]
    return tuple(files)


def _bootstrap(spec: Spec) -> Bootstrap:
    """Databases, roles and grants for the idempotent bootstrap."""
    pg = spec.postgres
    writers = [r for r in pg.roles if r.access == "write"]
    databases = []
    for db in pg.databases:

        def uses(role, db_name: str = db.name) -> bool:
            return role.databases is None or db_name in role.databases

        db_writers = tuple(r.name for r in writers if uses(r))
        databases.append(
            WarehouseDatabase(
                name=db.name,
                schemas=tuple(db.schemas),
                owner=db_writers[0] if db_writers else None,
                writers=db_writers,
                readers=tuple(r.name for r in pg.roles if r.access == "read" and uses(r)),
            )
        )
    return Bootstrap(
        superuser=SUPERUSER,
        superuser_secret="postgres_password",
        metadata_database=METADATA_DB,
        metadata_role=METADATA_ROLE,
        metadata_secret="airflow_db_password",
        roles=tuple(DatabaseRole(r.name, role_secret(r.name)) for r in pg.roles),
        reader=DatabaseRole(READER_ROLE, role_secret(READER_ROLE)),
        databases=tuple(databases),
    )


def plan_for(
    loaded: LoadedSpec, identity: Identity | None = None, *, executor: str | None = None
) -> StackPlan:
    """`build_plan` of a loaded spec, with its triggerer chosen from the project's code."""
    triggerer = choose_triggerer(loaded).enabled
    return build_plan(loaded.spec, identity, executor=executor, triggerer=triggerer)


def build_plan(
    spec: Spec,
    identity: Identity | None = None,
    *,
    executor: str | None = None,
    triggerer: bool | None = None,
) -> StackPlan:
    """The plan of a project's stack. `identity`: None before the project's first render (its
    resources then carry no identity labels). `executor`: the one the target runs, when it
    chooses its own (Kubernetes: `k8s.executor`, possibly the KubernetesExecutor, which has no
    broker nor workers); default the spec's `airflow.executor`. `triggerer`: whether it runs
    one, as `tinyctl.spec.triggerer` chose from the project's code; default the spec's word,
    with `auto` as on (the code was not read)."""
    if executor is not None and executor != spec.airflow.executor:
        airflow = spec.airflow.model_copy(update={"executor": executor})
        spec = spec.model_copy(update={"airflow": airflow})
    af = spec.airflow
    users = tuple(ApiUser(name, role, user_secret(name)) for name, role in api_users(spec).items())
    if triggerer is None:
        triggerer = af.triggerer != "off"
    secrets = _secrets(spec, triggerer)
    return StackPlan(
        project=spec.project.name,
        airflow_version=af.version,
        postgres_version=spec.postgres.version,
        executor=af.executor,
        services=_services(spec, secrets, triggerer),
        settings=airflow_settings(spec, users),
        secrets=secrets,
        api_users=users,
        internal_ports=INTERNAL_PORTS,
        bootstrap=_bootstrap(spec),
        server_settings=SERVER_SETTINGS,
        warehouse_connection_id=spec.postgres.default_database.connection_id,
        labels=tuple(project_labels(spec, identity).items()),
        connections=connections(spec),
        variables=variables(spec),
        pools=pools(spec),
    )
