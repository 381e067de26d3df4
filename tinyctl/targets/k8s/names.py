"""Names of what the Kubernetes target creates: files in the state folder, Secrets and keys."""

from __future__ import annotations

from dataclasses import dataclass

FOLDER = "k8s"  # inside the state folder
VALUES = f"{FOLDER}/values.yaml"
SECRETS = f"{FOLDER}/secrets.yaml"
JOBS = f"{FOLDER}/jobs.yaml"
IMAGE_RECORD = f"{FOLDER}/image.json"
IMAGE_CONTEXT = f"{FOLDER}/image"
GITIGNORE = f"{FOLDER}/.gitignore"
CHART_VERSION = "1.19.0"
CHART_REPO_REF = "apache-airflow/airflow"
CHART_REPO_URL = "https://airflow.apache.org"
CHART_ENV = "TINYCTL_AIRFLOW_CHART"


@dataclass(frozen=True)
class SecretNames:
    """The Kubernetes Secrets of one release; values.yaml names them, secrets.yaml holds them."""

    release: str

    def _name(self, what: str) -> str:
        return f"{self.release}-tinyctl-{what}"

    @property
    def metadata(self) -> str:  # key: connection (the chart's data.metadataSecretName)
        return self._name("metadata")

    @property
    def result_backend(self) -> str:  # key: connection
        return self._name("result-backend")

    @property
    def broker_url(self) -> str:  # key: connection
        return self._name("broker-url")

    @property
    def redis(self) -> str:  # key: password
        return self._name("redis")

    @property
    def fernet(self) -> str:  # key: fernet-key
        return self._name("fernet")

    @property
    def jwt(self) -> str:  # key: jwt-secret
        return self._name("jwt")

    @property
    def api_secret_key(self) -> str:  # key: api-secret-key
        return self._name("api-secret-key")

    @property
    def settings(self) -> str:  # AIRFLOW_CONN_<ID>, AIRFLOW_VAR_<NAME>: the pods' envFrom
        return self._name("settings")

    @property
    def auth(self) -> str:  # passwords.json of the simple auth manager
        return self._name("auth")

    @property
    def postgres(self) -> str:  # the bootstrap's passwords (and the bundled Postgres' own)
        return self._name("postgres")
