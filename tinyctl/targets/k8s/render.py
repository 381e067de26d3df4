"""The Kubernetes target's files, from its inputs. Pure: no file, no environment, no process.

- `values.yaml`: values for Airflow's official chart (1.19). Every secret is named, never given.
- `secrets.yaml`: the Kubernetes Secrets those names point at (mode 0600, git-ignored).
- `jobs.yaml`: the warehouse bootstrap (the same script as the other targets) and the pools,
  as Jobs with their ConfigMap.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import yaml

from tinyctl.targets.k8s.names import CHART_VERSION, GITIGNORE, JOBS, SECRETS, VALUES, SecretNames

AIRFLOW_HOME = "/opt/airflow"
TINYCTL_DIR = "/opt/tinyctl"
LIB_DIR = f"{TINYCTL_DIR}/lib"  # on PYTHONPATH: the project's include/ is the package `include`
AUTH_DIR = f"{TINYCTL_DIR}/auth"
BOOTSTRAP_SECRETS_DIR = "/run/tinyctl-secrets"  # where the bootstrap script reads passwords
METADATA_DB = "airflow"
METADATA_ROLE = "airflow"
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
POSTGRES_UID = 999  # the postgres user of the official postgres images
AIRFLOW_UID = 50000
# Components whose service accounts assume the IRSA role (profile eks).
SERVICE_ACCOUNTS = (
    "scheduler",
    "apiServer",
    "dagProcessor",
    "triggerer",
    "workers",
    "migrateDatabaseJob",
    "createUserJob",
    "cleanup",
)
RESOURCE_KEYS = {
    "scheduler": "scheduler",
    "api_server": "apiServer",
    "dag_processor": "dagProcessor",
    "triggerer": "triggerer",
    "workers": "workers",
}
# Defaults for a cluster; every one can be overridden with `airflow.config`.
CLUSTER_DEFAULTS = {
    "core.load_examples": "False",
    "core.dags_are_paused_at_creation": "True",
}
HEADER = (
    "# Written by `tinyctl k8s render` from {spec} (chart apache-airflow/airflow {chart}).\n"
    "# Edits are overwritten. Secrets are named here, never given: they are in secrets.yaml.\n"
)


@dataclass(frozen=True)
class ServerAddress:
    """The PostgreSQL server as the cluster's pods reach it."""

    host: str
    port: int
    admin_user: str
    admin_password: str
    sslmode: str | None = None  # None: the server's and libpq's default
    bundled: bool = False  # the chart's own PostgreSQL (a dev cluster)


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str
    digest: str | None = None  # sha256:...; set once the image was pushed

    @property
    def reference(self) -> str:
        return (
            f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"
        )


@dataclass(frozen=True)
class GitSync:
    repo: str
    branch: str
    subpath: str
    period: str
    ssh_key_secret: str | None = None
    credentials_secret: str | None = None


@dataclass(frozen=True)
class EksProfile:
    role_arn: str
    region: str
    log_folder: str  # s3://bucket/prefix


@dataclass(frozen=True)
class K8sInputs:
    """Everything the files are made of, gathered (and checked) by `tinyctl.targets.k8s.inputs`."""

    spec_name: str
    project: str
    release: str
    namespace: str
    airflow_version: str
    executor: str
    workers: int
    secrets: Mapping[str, str]  # generated secrets by name (fernet_key, jwt_secret, ...)
    role_passwords: Mapping[str, str]  # warehouse role -> password (tinyctl's reader included)
    users: Mapping[str, str]  # Airflow user -> role
    user_passwords: Mapping[str, str]
    server: ServerAddress
    config: Mapping[str, str]  # "section.key" -> value (the spec's airflow.config)
    connections: Mapping[str, Mapping[str, Any]]  # conn_id -> Airflow's JSON connection form
    variables: Mapping[str, str]
    pools: tuple[Mapping[str, Any], ...]
    image: ImageRef
    bootstrap_image: str
    bootstrap_script: str
    warehouse_conn_id: str
    pull_secret: str | None = None
    git: GitSync | None = None
    eks: EksProfile | None = None
    api_service_type: str = "ClusterIP"
    api_replicas: int = 1
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class K8sFile:
    content: bytes
    mode: int = 0o644


# --------------------------------------------------------------------------- helpers


def _literal(value: str) -> str:
    """A config value the chart passes through `tpl`: `{{` must stay text."""
    return value.replace("{{", '{{ "{{" }}')


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100)


def metadata_url(inputs: K8sInputs, driver: str = "postgresql") -> str:
    server = inputs.server
    password = quote(inputs.secrets["airflow_db_password"], safe="")
    query = f"?sslmode={server.sslmode}" if server.sslmode else ""
    return f"{driver}://{METADATA_ROLE}:{password}@{server.host}:{server.port}/{METADATA_DB}{query}"


def _celery(inputs: K8sInputs) -> bool:
    return inputs.executor == "CeleryExecutor"


def _names(inputs: K8sInputs) -> SecretNames:
    return SecretNames(inputs.release)


def _labels(inputs: K8sInputs, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "tinyctl",
        "app.kubernetes.io/part-of": inputs.release,
        "app.kubernetes.io/component": component,
        "tinyctl.io/project": inputs.project,
    }


# --------------------------------------------------------------------------- values.yaml


def _airflow_config(inputs: K8sInputs) -> dict[str, dict[str, str]]:
    settings = {
        **CLUSTER_DEFAULTS,
        "core.auth_manager": SIMPLE_AUTH_MANAGER,
        "core.simple_auth_manager_users": ",".join(f"{u}:{r}" for u, r in inputs.users.items()),
        "core.simple_auth_manager_passwords_file": f"{AUTH_DIR}/passwords.json",
    }
    if inputs.eks is not None:
        settings |= {
            "logging.remote_logging": "True",
            "logging.remote_base_log_folder": inputs.eks.log_folder,
            "logging.remote_log_conn_id": "aws_default",
            "logging.encrypt_s3_logs": "False",
        }
    if inputs.executor == "KubernetesExecutor":  # the image of the task pods, pinned
        settings["kubernetes_executor.worker_container_repository"] = inputs.image.repository
        settings["kubernetes_executor.worker_container_tag"] = _pinned_tag(inputs.image)
    settings |= dict(inputs.config)
    config: dict[str, dict[str, str]] = {}
    for dotted in sorted(settings):
        section, key = dotted.split(".", 1)
        config.setdefault(section, {})[key] = _literal(settings[dotted])
    return config


def _images(inputs: K8sInputs) -> dict[str, Any]:
    image = inputs.image
    airflow: dict[str, Any] = {
        "repository": image.repository,
        "tag": image.tag,
        "pullPolicy": "IfNotPresent",
    }
    if image.digest:
        airflow["digest"] = image.digest
    # The KubernetesExecutor's pod template takes repository:tag only; a tag@digest pins it too.
    pod_template = {"repository": image.repository, "tag": _pinned_tag(image)}
    return {
        "airflow": airflow,
        "pod_template": {**pod_template, "pullPolicy": "IfNotPresent"},
        "useDefaultImageForMigration": False,
    }


def _pinned_tag(image: ImageRef) -> str:
    return f"{image.tag}@{image.digest}" if image.digest else image.tag


def _secret_values(inputs: K8sInputs) -> dict[str, Any]:
    names = _names(inputs)
    data: dict[str, Any] = {"metadataSecretName": names.metadata}
    if _celery(inputs):
        data |= {
            "resultBackendSecretName": names.result_backend,
            "brokerUrlSecretName": names.broker_url,
        }
    return {
        "data": data,
        "fernetKeySecretName": names.fernet,
        "jwtSecretName": names.jwt,
        "apiSecretKeySecretName": names.api_secret_key,
        "extraEnvFrom": _dump([{"secretRef": {"name": names.settings}}]),
    }


def _auth_values(inputs: K8sInputs) -> dict[str, Any]:
    """The simple auth manager's passwords: a Secret copied into a writable folder (Airflow
    opens the file r+ to lock it), for the api-server only. The chart's create-user job is for
    the FAB auth manager, and would put a password into values.yaml."""
    names = _names(inputs)
    copy = f"cp /tinyctl-auth/passwords.json {AUTH_DIR}/passwords.json"
    return {
        "extraVolumes": [
            {"name": "tinyctl-auth-secret", "secret": {"secretName": names.auth}},
            {"name": "tinyctl-auth", "emptyDir": {}},
        ],
        "extraVolumeMounts": [{"name": "tinyctl-auth", "mountPath": AUTH_DIR}],
        "extraInitContainers": [
            {
                "name": "tinyctl-auth",
                "image": inputs.image.reference,
                "command": ["sh", "-c", copy],
                "volumeMounts": [
                    {"name": "tinyctl-auth-secret", "mountPath": "/tinyctl-auth", "readOnly": True},
                    {"name": "tinyctl-auth", "mountPath": AUTH_DIR},
                ],
            }
        ],
    }


def _resources(spec: Mapping[str, str]) -> dict[str, Any]:
    requests = {k: spec[k] for k in ("cpu", "memory") if spec.get(k)}
    limits = {
        "cpu": spec.get("cpu_limit"),
        "memory": spec.get("memory_limit") or spec.get("memory"),
    }
    result: dict[str, Any] = {}
    if requests:
        result["requests"] = requests
    if limits := {k: v for k, v in limits.items() if v}:
        result["limits"] = limits
    return result


def _components(inputs: K8sInputs) -> dict[str, dict[str, Any]]:
    components: dict[str, dict[str, Any]] = {
        "apiServer": {
            "replicas": inputs.api_replicas,
            "service": {"type": inputs.api_service_type},
            **_auth_values(inputs),
        },
        "scheduler": {},
        "dagProcessor": {},
        "triggerer": {},
        "workers": {},
        "createUserJob": {"enabled": False},
        # Not a Helm hook: `helm upgrade --install --wait` waits for pods that wait for the
        # migrations, which a post-install hook would only start after the wait (a deadlock).
        "migrateDatabaseJob": {"enabled": True, "useHelmHooks": False, "applyCustomEnv": False},
    }
    if _celery(inputs):
        components["workers"]["replicas"] = inputs.workers
    for key, chart_key in RESOURCE_KEYS.items():
        if key in inputs.resources:
            components[chart_key]["resources"] = _resources(inputs.resources[key])
    if inputs.eks is not None:
        annotation = {"eks.amazonaws.com/role-arn": inputs.eks.role_arn}
        for chart_key in SERVICE_ACCOUNTS:
            account = components.setdefault(chart_key, {}).setdefault("serviceAccount", {})
            account["annotations"] = annotation
    return {k: v for k, v in components.items() if v}


def _dags(inputs: K8sInputs) -> dict[str, Any]:
    if inputs.git is None:  # baked into the image, at the chart's default dags folder
        return {"persistence": {"enabled": False}, "gitSync": {"enabled": False}}
    git = inputs.git
    sync: dict[str, Any] = {
        "enabled": True,
        "repo": git.repo,
        "branch": git.branch,
        "ref": git.branch,
        "rev": "HEAD",
        "subPath": git.subpath,
        "period": git.period,
    }
    if git.ssh_key_secret:
        sync["sshKeySecret"] = git.ssh_key_secret
    if git.credentials_secret:
        sync["credentialsSecret"] = git.credentials_secret
    return {"persistence": {"enabled": False}, "gitSync": sync}


def _database_values(inputs: K8sInputs) -> dict[str, Any]:
    names = _names(inputs)
    if not inputs.server.bundled:
        return {"postgresql": {"enabled": False}}
    return {
        "postgresql": {
            "enabled": True,
            "auth": {
                "enablePostgresUser": True,
                "username": METADATA_ROLE,
                "database": METADATA_DB,
                "existingSecret": names.postgres,
                "secretKeys": {
                    "adminPasswordKey": "postgres_password",
                    "userPasswordKey": "airflow_db_password",
                },
            },
        }
    }


def _env(inputs: K8sInputs) -> list[dict[str, str]]:
    env = {
        "PYTHONPATH": LIB_DIR,
        "TINYCTL_PROJECT": inputs.project,
        "TINYCTL_WAREHOUSE_CONN_ID": inputs.warehouse_conn_id,
    }
    if inputs.eks is not None:
        env |= {"AWS_DEFAULT_REGION": inputs.eks.region, "AWS_REGION": inputs.eks.region}
    return [{"name": k, "value": v} for k, v in env.items()]


def values_document(inputs: K8sInputs) -> dict[str, Any]:
    names = _names(inputs)
    values: dict[str, Any] = {
        "executor": inputs.executor,
        "airflowVersion": inputs.airflow_version,
        "defaultAirflowRepository": inputs.image.repository,
        "defaultAirflowTag": inputs.image.tag,
        "images": _images(inputs),
        "env": _env(inputs),
        **_secret_values(inputs),
        "config": _airflow_config(inputs),
        "dags": _dags(inputs),
        **_components(inputs),
        "redis": {"enabled": _celery(inputs)},
        **_database_values(inputs),
        "pgbouncer": {"enabled": False},
        "statsd": {"enabled": False},
    }
    if _celery(inputs):
        values["redis"]["passwordSecretName"] = names.redis
    if inputs.image.digest:
        values["defaultAirflowDigest"] = inputs.image.digest
    if inputs.pull_secret:
        values["imagePullSecrets"] = [{"name": inputs.pull_secret}]
    return values


def render_values(inputs: K8sInputs) -> str:
    header = HEADER.format(spec=inputs.spec_name, chart=CHART_VERSION)
    return header + _dump(values_document(inputs))


# --------------------------------------------------------------------------- secrets.yaml


def _secret(inputs: K8sInputs, name: str, component: str, data: Mapping[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": inputs.namespace,
            "labels": _labels(inputs, component),
        },
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())},
    }


def _settings_env(inputs: K8sInputs) -> dict[str, str]:
    env = {}
    for conn_id, body in inputs.connections.items():
        env["AIRFLOW_CONN_" + conn_id.upper().replace("-", "_").replace(".", "_")] = json.dumps(
            body, sort_keys=True
        )
    for name, value in inputs.variables.items():
        env["AIRFLOW_VAR_" + name.upper().replace("-", "_").replace(".", "_")] = value
    return env


def secret_documents(inputs: K8sInputs) -> list[dict]:
    names = _names(inputs)
    passwords = {
        "postgres_password": inputs.server.admin_password,
        "airflow_db_password": inputs.secrets["airflow_db_password"],
        **{f"role_{role}_password": pw for role, pw in inputs.role_passwords.items()},
    }
    docs = [
        _secret(inputs, names.metadata, "metadata", {"connection": metadata_url(inputs)}),
        _secret(inputs, names.fernet, "fernet", {"fernet-key": inputs.secrets["fernet_key"]}),
        _secret(inputs, names.jwt, "jwt", {"jwt-secret": inputs.secrets["jwt_secret"]}),
        _secret(
            inputs,
            names.api_secret_key,
            "api-secret-key",
            {"api-secret-key": inputs.secrets["api_secret_key"]},
        ),
        _secret(inputs, names.settings, "settings", _settings_env(inputs)),
        _secret(
            inputs,
            names.auth,
            "auth",
            {"passwords.json": json.dumps(dict(inputs.user_passwords), indent=2, sort_keys=True)},
        ),
        _secret(inputs, names.postgres, "warehouse", passwords),
    ]
    if _celery(inputs):
        redis_password = inputs.secrets["redis_password"]
        broker = f"redis://:{quote(redis_password, safe='')}@{inputs.release}-redis:6379/0"
        docs += [
            _secret(
                inputs,
                names.result_backend,
                "result-backend",
                {"connection": "db+" + metadata_url(inputs)},
            ),
            _secret(inputs, names.redis, "redis", {"password": redis_password}),
            _secret(inputs, names.broker_url, "broker-url", {"connection": broker}),
        ]
    return docs


def render_secrets(inputs: K8sInputs) -> str:
    header = (
        f"# Kubernetes Secrets of the release {inputs.release}, written by `tinyctl k8s render`.\n"
        "# Mode 0600. Never commit this file: it holds every password of the stack.\n"
    )
    return header + "".join("---\n" + _dump(doc) for doc in secret_documents(inputs))


# --------------------------------------------------------------------------- jobs.yaml


def _pod_security(uid: int) -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": 0, "fsGroup": 0}


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": False,
    }


def _job(inputs: K8sInputs, name: str, component: str, pod: dict[str, Any]) -> dict:
    labels = _labels(inputs, component)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": inputs.namespace, "labels": labels},
        "spec": {
            "backoffLimit": 6,
            "activeDeadlineSeconds": 1800,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "OnFailure", **pod},
            },
        },
    }


def _content_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def _warehouse_job(inputs: K8sInputs, configmap: str) -> dict:
    server = inputs.server
    env = [
        {"name": "PGHOST", "value": server.host},
        {"name": "PGPORT", "value": str(server.port)},
        {"name": "POSTGRES_USER", "value": server.admin_user},
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
    ]
    if server.sslmode:
        env.append({"name": "PGSSLMODE", "value": server.sslmode})
    wait = "until pg_isready -q -d postgres; do echo waiting for PostgreSQL; sleep 3; done"
    pod = {
        "securityContext": _pod_security(POSTGRES_UID),
        "containers": [
            {
                "name": "bootstrap",
                "image": inputs.bootstrap_image,
                "command": ["sh", "-c", f"{wait}; exec sh /opt/tinyctl/bootstrap.sh"],
                "env": env,
                "securityContext": _container_security(),
                "volumeMounts": [
                    {"name": "script", "mountPath": "/opt/tinyctl", "readOnly": True},
                    {"name": "passwords", "mountPath": BOOTSTRAP_SECRETS_DIR, "readOnly": True},
                ],
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
            }
        ],
        "volumes": [
            {"name": "script", "configMap": {"name": configmap}},
            {"name": "passwords", "secret": {"secretName": _names(inputs).postgres}},
        ],
    }
    name = f"{inputs.release}-tinyctl-warehouse-{_content_hash(inputs.bootstrap_script)}"
    return _job(inputs, name, "warehouse", pod)


def _pools_job(inputs: K8sInputs, configmap: str) -> dict:
    names = _names(inputs)
    script = (
        "airflow db check-migrations --migration-wait-timeout 1200 && "
        "airflow pools import /opt/tinyctl/pools.json"
    )
    secret_env = [
        ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", names.metadata, "connection"),
        ("AIRFLOW__CORE__FERNET_KEY", names.fernet, "fernet-key"),
    ]
    pod = {
        "securityContext": _pod_security(AIRFLOW_UID),
        "containers": [
            {
                "name": "pools",
                "image": inputs.image.reference,
                "command": ["bash", "-c", script],
                "env": [
                    {"name": n, "valueFrom": {"secretKeyRef": {"name": s, "key": k}}}
                    for n, s, k in secret_env
                ],
                "securityContext": _container_security(),
                "volumeMounts": [{"name": "pools", "mountPath": "/opt/tinyctl", "readOnly": True}],
            }
        ],
        "volumes": [{"name": "pools", "configMap": {"name": configmap}}],
    }
    if inputs.pull_secret:
        pod["imagePullSecrets"] = [{"name": inputs.pull_secret}]
    pools = _pools_json(inputs)
    name = f"{inputs.release}-tinyctl-pools-{_content_hash(pools, inputs.image.reference)}"
    return _job(inputs, name, "pools", pod)


def _pools_json(inputs: K8sInputs) -> str:
    return json.dumps({p["name"]: dict(p) for p in inputs.pools}, indent=2, sort_keys=True)


def job_documents(inputs: K8sInputs) -> list[dict]:
    """The warehouse bootstrap Job, and (with pools in the spec) the pools Job, each with the
    ConfigMap it reads. Job names carry a hash of what they apply: a Job's pod template cannot
    change, so a changed script is a new Job."""
    bootstrap_map = f"{inputs.release}-tinyctl-bootstrap"
    docs: list[dict] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": bootstrap_map,
                "namespace": inputs.namespace,
                "labels": _labels(inputs, "warehouse"),
            },
            "data": {"bootstrap.sh": inputs.bootstrap_script},
        },
        _warehouse_job(inputs, bootstrap_map),
    ]
    if inputs.pools:
        pools_map = f"{inputs.release}-tinyctl-pools"
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": pools_map,
                    "namespace": inputs.namespace,
                    "labels": _labels(inputs, "pools"),
                },
                "data": {"pools.json": _pools_json(inputs)},
            }
        )
        docs.append(_pools_job(inputs, pools_map))
    return docs


def render_jobs(inputs: K8sInputs) -> str:
    header = (
        f"# The warehouse bootstrap (databases, schemas, roles, grants) and the pools of the\n"
        f"# release {inputs.release}, written by `tinyctl k8s render`; `tinyctl k8s deploy` applies them.\n"
    )
    return header + "".join("---\n" + _dump(doc) for doc in job_documents(inputs))


# --------------------------------------------------------------------------- all files


def render_files(inputs: K8sInputs) -> dict[str, K8sFile]:
    """{path relative to the state folder: file}."""
    return {
        GITIGNORE: K8sFile(b"# tinyctl k8s: never commit the Secrets\nsecrets.yaml\nimage/\n"),
        VALUES: K8sFile(render_values(inputs).encode()),
        SECRETS: K8sFile(render_secrets(inputs).encode(), 0o600),
        JOBS: K8sFile(render_jobs(inputs).encode()),
    }
