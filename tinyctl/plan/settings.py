"""The Airflow settings of a stack: every Airflow process gets the same ones, in a stable order.

Paths, addresses and secrets are symbols (`tinyctl.plan.values`); the spec's `airflow.config`
wins over tinyctl's defaults for local work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tinyctl.plan.model import ApiUser, Setting
from tinyctl.plan.values import (
    Endpoint,
    EndpointUrl,
    Place,
    PlaceRef,
    Port,
    PortRef,
    SecretRef,
    Value,
)
from tinyctl.spec.models import Spec

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
    # An idle scheduler loop sleeps this long (Airflow: 1 s), and a task's downstream waits for
    # the next loop: 0.2 s makes the sample's 5-task run 2.8 s instead of 6.3 s, for about a
    # tenth of a core more while idle (the scheduler and Postgres; README, "Seeds and tests").
    "scheduler.scheduler_idle_sleep_time": "0.2",
    "celery.worker_concurrency": "4",
}

# Airflow setting -> the secret file it is read from (through its `_CMD` variant).
SECRET_SETTINGS = (
    ("database", "sql_alchemy_conn", "sql_alchemy_conn"),
    ("core", "fernet_key", "fernet_key"),
    ("api_auth", "jwt_secret", "jwt_secret"),
    ("api", "secret_key", "api_secret_key"),
)
CELERY_SECRET_SETTINGS = (("celery", "result_backend", "result_backend"),)


def config_value(value: Any) -> str:
    """A spec `airflow.config` value as Airflow reads it."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _option(dotted: str, value: str, spec: Spec) -> Setting:
    section, key = dotted.split(".", 1)
    return Setting(section, key, value, default=dotted not in spec.airflow.config)


def chosen_options(spec: Spec) -> dict[str, str]:
    """{section.key: value}: tinyctl's defaults with the spec's `airflow.config` over them
    (Celery's defaults only for CeleryExecutor), sorted."""
    af = spec.airflow
    settings = {**LOCAL_DEFAULTS, **{k: config_value(v) for k, v in af.config.items()}}
    if af.executor != "CeleryExecutor":
        settings = {
            k: v for k, v in settings.items() if not k.startswith("celery.") or k in af.config
        }
    return {dotted: settings[dotted] for dotted in sorted(settings)}


def airflow_settings(spec: Spec, users: tuple[ApiUser, ...]) -> tuple[Setting, ...]:
    """Every Airflow process's settings. A setting named twice keeps its first place and its
    last value (the spec's `airflow.config` may override anything)."""
    af = spec.airflow
    celery = af.executor == "CeleryExecutor"
    ordered: list[Setting] = [
        Setting("core", "executor", af.executor),
        Setting("core", "auth_manager", SIMPLE_AUTH_MANAGER),
        Setting("core", "simple_auth_manager_users", ",".join(f"{u.name}:{u.role}" for u in users)),
        Setting("core", "simple_auth_manager_passwords_file", PlaceRef(Place.PASSWORDS)),
        Setting(
            "core",
            "execution_api_server_url",
            EndpointUrl(Endpoint.API_SERVER, "http", "/execution/"),
        ),
        Setting("api", "port", PortRef(Port.API)),
        Setting("core", "plugins_folder", PlaceRef(Place.PLUGINS)),
        # the include folder is importable as the package `include` (as in Astro CLI projects)
        Setting(None, "PYTHONPATH", PlaceRef(Place.LIB)),
    ]
    if celery:
        ordered.append(Setting("celery", "broker_url", EndpointUrl(Endpoint.BROKER, "redis", "/0")))
    ordered += [_option(dotted, value, spec) for dotted, value in chosen_options(spec).items()]
    secrets = SECRET_SETTINGS + (CELERY_SECRET_SETTINGS if celery else ())
    ordered += [Setting(section, key, SecretRef(name)) for section, key, name in secrets]
    ordered += [
        Setting(None, "TINYCTL_PROJECT", spec.project.name),
        Setting(None, "TINYCTL_DATA_DIR", PlaceRef(Place.DATA)),
        Setting(None, "TINYCTL_WAREHOUSE_CONN_ID", spec.postgres.default_database.connection_id),
    ]
    by_name: dict[str, Setting] = {}
    for setting in ordered:
        secret = isinstance(setting.value, SecretRef)  # read through `<NAME>_CMD`
        by_name[setting.env_name + ("_CMD" if secret else "")] = setting  # keeps the first place
    return tuple(by_name.values())


def environment(settings: Iterable[Setting], resolve: Callable[[Value], str]) -> dict[str, str]:
    """The settings as environment variables, with each target's `resolve` of the symbols. A
    secret's setting is its `_CMD` variant, whose value (a command) the target's `resolve`
    gives for the `SecretRef`."""
    env: dict[str, str] = {}
    for setting in settings:
        secret = isinstance(setting.value, SecretRef)
        env[setting.env_name + ("_CMD" if secret else "")] = resolve(setting.value)
    return env
