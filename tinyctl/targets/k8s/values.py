"""`values.yaml` for Airflow's official chart (1.19), from the plan: its components, replicas,
executor and Airflow settings in the chart's terms (`chart`). Every secret is named, never given.
Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tinyctl.plan.model import Role, StackPlan
from tinyctl.plan.values import Place, SecretRef
from tinyctl.targets.k8s.chart import (
    BUNDLED_DATABASE,
    CHART_SECRETS,
    PLACES,
    chart_owned,
    resolve,
)
from tinyctl.targets.k8s.names import (
    AUTH_SECRET,
    BROKER_URL_SECRET,
    CHART_VERSION,
    DATABASE_SECRET,
    REDIS_SECRET,
    SETTINGS_SECRET,
)
from tinyctl.targets.k8s.release import K8sInputs, dump, literal

# The chart's key of each component of the plan (its values and its service account).
COMPONENTS = {
    Role.API_SERVER: "apiServer",
    Role.SCHEDULER: "scheduler",
    Role.DAG_PROCESSOR: "dagProcessor",
    Role.TRIGGERER: "triggerer",
    Role.WORKER: "workers",
    Role.MIGRATE: "migrateDatabaseJob",
}
# Service accounts that assume the IRSA role (profile eks) besides the components' (the task
# pods of the KubernetesExecutor run as the workers' account): the chart's other jobs.
EXTRA_ACCOUNTS = ("createUserJob", "cleanup")
RESOURCE_KEYS = {
    "scheduler": "scheduler",
    "api_server": "apiServer",
    "dag_processor": "dagProcessor",
    "triggerer": "triggerer",
    "workers": "workers",
}
HEADER = (
    "# Written by `tinyctl k8s render` from {spec} (chart apache-airflow/airflow {chart}).\n"
    "# Edits are overwritten. Secrets are named here, never given: they are in secrets.yaml.\n"
)


# --------------------------------------------------------------------------- Airflow settings


def cluster_settings(plan: StackPlan, inputs: K8sInputs) -> dict[tuple[str, str], str]:
    """{(section, key): value} of airflow.cfg: the plan's Airflow options in the chart's terms
    (secrets and the ones the chart sets left out), then what the cluster adds."""
    where = inputs.where
    settings = {
        (s.section, s.key): resolve(s.value, where)
        for s in plan.settings
        if s.section is not None and not isinstance(s.value, SecretRef) and not chart_owned(s)
    }
    if inputs.eks is not None:
        settings |= {
            ("logging", "remote_logging"): "True",
            ("logging", "remote_base_log_folder"): inputs.eks.log_folder,
            ("logging", "remote_log_conn_id"): "aws_default",
            ("logging", "encrypt_s3_logs"): "False",
        }
    if plan.executor == "KubernetesExecutor":  # the image of the task pods, pinned
        settings[("kubernetes_executor", "worker_container_repository")] = inputs.image.repository
        settings[("kubernetes_executor", "worker_container_tag")] = inputs.image.pinned_tag
    return settings


def _airflow_config(plan: StackPlan, inputs: K8sInputs) -> dict[str, dict[str, str]]:
    config: dict[str, dict[str, str]] = {}
    for (section, key), value in sorted(cluster_settings(plan, inputs).items()):
        config.setdefault(section, {})[key] = literal(value)
    return config


def _env(plan: StackPlan, inputs: K8sInputs) -> list[dict[str, str]]:
    """The plan's plain environment variables (PYTHONPATH, TINYCTL_*), resolved."""
    env = {
        s.key: resolve(s.value, inputs.where)
        for s in plan.settings
        if s.section is None and not isinstance(s.value, SecretRef)
    }
    if inputs.eks is not None:
        env |= {"AWS_DEFAULT_REGION": inputs.eks.region, "AWS_REGION": inputs.eks.region}
    return [{"name": k, "value": v} for k, v in env.items()]


def _secret_values(plan: StackPlan, inputs: K8sInputs) -> dict[str, Any]:
    """The chart's values naming the Secrets of the plan's Airflow secrets (never a value)."""
    values: dict[str, Any] = {"data": {}}
    for secret in plan.secret_files(Place.AIRFLOW_SECRETS):
        slot = CHART_SECRETS.get(secret.name)
        if slot is not None:
            *parents, last = slot.value
            node = values
            for parent in parents:
                node = node.setdefault(parent, {})
            node[last] = inputs.secret(slot.suffix)
    if plan.celery:
        values["data"]["brokerUrlSecretName"] = inputs.secret(BROKER_URL_SECRET)
    settings_ref = [{"secretRef": {"name": inputs.secret(SETTINGS_SECRET)}}]
    return {**values, "extraEnvFrom": dump(settings_ref)}


# --------------------------------------------------------------------------- components


def _auth_values(inputs: K8sInputs) -> dict[str, Any]:
    """The simple auth manager's passwords: a Secret copied into a writable folder (Airflow
    opens the file r+ to lock it), for the api-server only. The chart's create-user job is for
    the FAB auth manager, and would put a password into values.yaml."""
    folder = PLACES[Place.PASSWORDS].rsplit("/", 1)[0]
    copy = f"cp /tinyctl-auth/passwords.json {PLACES[Place.PASSWORDS]}"
    return {
        "extraVolumes": [
            {"name": "tinyctl-auth-secret", "secret": {"secretName": inputs.secret(AUTH_SECRET)}},
            {"name": "tinyctl-auth", "emptyDir": {}},
        ],
        "extraVolumeMounts": [{"name": "tinyctl-auth", "mountPath": folder}],
        "extraInitContainers": [
            {
                "name": "tinyctl-auth",
                "image": inputs.image.reference,
                "command": ["sh", "-c", copy],
                "volumeMounts": [
                    {"name": "tinyctl-auth-secret", "mountPath": "/tinyctl-auth", "readOnly": True},
                    {"name": "tinyctl-auth", "mountPath": folder},
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


def _components(plan: StackPlan, inputs: K8sInputs) -> dict[str, dict[str, Any]]:
    """The chart's components, one per Airflow service of the plan (with its replicas)."""
    components: dict[str, dict[str, Any]] = {}
    for service in plan.with_role(*COMPONENTS):
        chart_key = COMPONENTS[service.role]
        components[chart_key] = (
            {"replicas": service.replicas} if service.role == Role.WORKER else {}
        )
    components["apiServer"] = {
        "replicas": inputs.api_replicas,
        "service": {"type": inputs.api_service_type},
        **_auth_values(inputs),
    }
    # Not a Helm hook: `helm upgrade --install --wait` waits for pods that wait for the
    # migrations, which a post-install hook would only start after the wait (a deadlock).
    components["migrateDatabaseJob"] = {
        "enabled": True,
        "useHelmHooks": False,
        "applyCustomEnv": False,
    }
    components["createUserJob"] = {"enabled": False}
    if not plan.with_role(Role.TRIGGERER):  # airflow.triggerer: off (or auto, finding none)
        components["triggerer"] = {"enabled": False}
    for key, chart_key in RESOURCE_KEYS.items():
        if key in inputs.resources:
            components.setdefault(chart_key, {})["resources"] = _resources(inputs.resources[key])
    if inputs.eks is not None:
        annotation = {"eks.amazonaws.com/role-arn": inputs.eks.role_arn}
        for chart_key in (*COMPONENTS.values(), *EXTRA_ACCOUNTS):
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


def _database_values(plan: StackPlan, inputs: K8sInputs) -> dict[str, Any]:
    """The chart's bundled PostgreSQL (a dev cluster) with the plan's metadata database, role
    and secrets, or none (an external server: the bootstrap Job makes the metadata database)."""
    if not inputs.server.bundled:
        return {BUNDLED_DATABASE: {"enabled": False}}
    boot = plan.bootstrap
    return {
        BUNDLED_DATABASE: {
            "enabled": True,
            "auth": {
                "enablePostgresUser": True,
                "username": boot.metadata_role,
                "database": boot.metadata_database,
                "existingSecret": inputs.secret(DATABASE_SECRET),
                "secretKeys": {
                    "adminPasswordKey": boot.superuser_secret,
                    "userPasswordKey": boot.metadata_secret,
                },
            },
        }
    }


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
    pod_template = {"repository": image.repository, "tag": image.pinned_tag}
    return {
        "airflow": airflow,
        "pod_template": {**pod_template, "pullPolicy": "IfNotPresent"},
        "useDefaultImageForMigration": False,
    }


def values_document(plan: StackPlan, inputs: K8sInputs) -> dict[str, Any]:
    values: dict[str, Any] = {
        "executor": plan.executor,
        "airflowVersion": plan.airflow_version,
        "defaultAirflowRepository": inputs.image.repository,
        "defaultAirflowTag": inputs.image.tag,
        "images": _images(inputs),
        "env": _env(plan, inputs),
        **_secret_values(plan, inputs),
        "config": _airflow_config(plan, inputs),
        "dags": _dags(inputs),
        **_components(plan, inputs),
        "redis": {"enabled": plan.celery},
        **_database_values(plan, inputs),
        "pgbouncer": {"enabled": False},
        "statsd": {"enabled": False},
    }
    if plan.celery:
        values["redis"]["passwordSecretName"] = inputs.secret(REDIS_SECRET)
    if inputs.image.digest:
        values["defaultAirflowDigest"] = inputs.image.digest
    if inputs.pull_secret:
        values["imagePullSecrets"] = [{"name": inputs.pull_secret}]
    return values


def render_values(plan: StackPlan, inputs: K8sInputs) -> str:
    header = HEADER.format(spec=inputs.spec_name, chart=CHART_VERSION)
    return header + dump(values_document(plan, inputs))
