"""Names of what the Kubernetes target creates: files in the state folder, Secrets and keys."""

from __future__ import annotations

FOLDER = "k8s"  # inside the state folder
VALUES = f"{FOLDER}/values.yaml"
SECRETS = f"{FOLDER}/secrets.yaml"
JOBS = f"{FOLDER}/jobs.yaml"
STAMP = f"{FOLDER}/render.json"  # what `tinyctl k8s render` wrote (for `--check`)
IMAGE_RECORD = f"{FOLDER}/image.json"
IMAGE_CONTEXT = f"{FOLDER}/image"
GITIGNORE = f"{FOLDER}/.gitignore"
CHART_VERSION = "1.19.0"
CHART_REPO_REF = "apache-airflow/airflow"
CHART_REPO_URL = "https://airflow.apache.org"
CHART_ENV = "TINYCTL_AIRFLOW_CHART"
# The Kubernetes Secrets of a release besides the chart's own (`chart.CHART_SECRETS`); each is
# `<release>-tinyctl-<suffix>` (`secret_name`).
SETTINGS_SECRET = "settings"  # AIRFLOW_CONN_<ID>, AIRFLOW_VAR_<NAME>, secret settings: envFrom
AUTH_SECRET = "auth"  # passwords.json of the simple auth manager
DATABASE_SECRET = "postgres"  # the bootstrap's passwords (and the bundled Postgres' own)
BROKER_URL_SECRET = "broker-url"  # key: connection
REDIS_SECRET = "redis"  # key: password


def secret_name(release: str, suffix: str) -> str:
    return f"{release}-tinyctl-{suffix}"
