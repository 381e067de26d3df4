"""The plan's symbols in the terms of Airflow's official chart (1.19): where each place is in the
project image and the chart's pods, the ports the chart's Services listen on, the host names of
the release's Services, and which of the chart's values carries each of the plan's secrets.

These facts live here and only here; `render` and `manifests` resolve the plan through them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tinyctl.plan.model import ENDPOINT_PORTS, Setting
from tinyctl.plan.values import (
    Endpoint,
    Place,
    Port,
    SecretRef,
    Value,
)
from tinyctl.targets.values import Resolver

AIRFLOW_HOME = "/opt/airflow"  # the official image's, which the chart mounts its config into
TINYCTL_DIR = "/opt/tinyctl"
# Where each place is in the pods. DAGs, plugins/ and include/ are baked into the project image
# (`tinyctl k8s image`) at these paths; the chart's git-sync uses the chart's own dags folder.
PLACES: dict[Place, str] = {
    Place.AIRFLOW_HOME: AIRFLOW_HOME,
    Place.DAGS: f"{AIRFLOW_HOME}/dags",
    Place.LOGS: f"{AIRFLOW_HOME}/logs",
    Place.DATA: f"{AIRFLOW_HOME}/data",  # in each pod: a cluster has no shared project folder
    Place.PLUGINS: f"{AIRFLOW_HOME}/plugins",
    Place.LIB: f"{TINYCTL_DIR}/lib",
    Place.INCLUDE: f"{TINYCTL_DIR}/lib/include",
    Place.PASSWORDS: f"{TINYCTL_DIR}/auth/passwords.json",  # a writable copy of a Secret
    Place.POSTGRES_SECRETS: "/run/tinyctl-secrets",  # the bootstrap Job's Secret volume
    Place.BOOTSTRAP: f"{TINYCTL_DIR}/bootstrap.sh",  # the bootstrap Job's ConfigMap volume
}
# The ports of the chart's Services (its `ports` values, left at their defaults).
PORTS: dict[Port, int] = {
    Port.API: 8080,
    Port.POSTGRES: 5432,
    Port.BROKER: 6379,
    Port.SCHEDULER_HEALTH: 8974,
    Port.WORKER_LOG: 8793,
    Port.TRIGGER_LOG: 8794,
}
POSTGRES_UID = 999  # the postgres user of the official postgres images
AIRFLOW_UID = 50000  # the official Airflow image's user


@dataclass(frozen=True)
class ChartSecret:
    """Where the chart takes one of the plan's secrets from: the value naming the Secret (a path
    in values.yaml), the key inside it, and the suffix of the Secret's name."""

    value: tuple[str, ...]
    key: str
    suffix: str


# The plan's Airflow secrets (`SecretFile.name`) the chart reads from Secrets of its own values;
# any other one reaches the pods as its setting's environment variable, from the settings Secret.
CHART_SECRETS: dict[str, ChartSecret] = {
    "sql_alchemy_conn": ChartSecret(("data", "metadataSecretName"), "connection", "metadata"),
    "result_backend": ChartSecret(
        ("data", "resultBackendSecretName"), "connection", "result-backend"
    ),
    "fernet_key": ChartSecret(("fernetKeySecretName",), "fernet-key", "fernet"),
    "jwt_secret": ChartSecret(("jwtSecretName",), "jwt-secret", "jwt"),
    "api_secret_key": ChartSecret(("apiSecretKeySecretName",), "api-secret-key", "api-secret-key"),
}
# Settings of the plan the chart sets itself, from its own values.
CHART_SETTINGS = {
    ("core", "executor"): "the chart's `executor`",
    # the chart points it at the api-server's Service (and `api.base_url`'s path)
    ("core", "execution_api_server_url"): "the chart's default",
    ("celery", "broker_url"): "the chart's broker Secret (with the broker's password)",
}
# tinyctl's defaults for one machine that are about the project, not the machine: kept.
KEPT_DEFAULTS = {("core", "load_examples"), ("core", "dags_are_paused_at_creation")}


# The release's Services (the chart names them `<release>-<component>`), by endpoint.
SERVICES = {Endpoint.API_SERVER: "api-server", Endpoint.BROKER: "redis"}
BUNDLED_DATABASE = "postgresql"  # the chart's bundled PostgreSQL (a dev cluster)

Addresses = Mapping[Endpoint, tuple[str, int]]


def addresses(release: str, database: tuple[str, int]) -> dict[Endpoint, tuple[str, int]]:
    """Where the pods reach each endpoint: the release's Services, and the database server
    (the bundled one's Service, or the external server of `k8s.database.url_env`)."""
    found = {
        endpoint: (f"{release}-{name}", PORTS[ENDPOINT_PORTS[endpoint]])
        for endpoint, name in SERVICES.items()
    }
    return {**found, Endpoint.METADATA: database, Endpoint.WAREHOUSE: database}


def resolve(value: Value, where: Addresses) -> str:
    """A non-secret plan value as the chart's pods see it."""
    return Resolver(PLACES.__getitem__, PORTS.__getitem__, where.__getitem__)(value)


def chart_owned(setting: Setting) -> bool:
    """True for a setting the chart sets, or a default for one machine a cluster leaves to
    Airflow (the chart's and Airflow's own defaults apply there)."""
    where = (setting.section or "", setting.key)
    if where in CHART_SETTINGS:
        return True
    return setting.default and where not in KEPT_DEFAULTS


def is_secret(setting: Setting) -> bool:
    return isinstance(setting.value, SecretRef)
