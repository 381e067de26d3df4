"""Gather what the Kubernetes target renders the plan with besides the plan (`K8sInputs`): the
spec's `k8s:` section, the database server, the pushed image, the secrets' values and the
environment variables the plan names; and refuse what has no meaning on a cluster. Every
refusal names the spec key (file:line) and the fix, and comes before anything is written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tinyctl.errors import SpecError, SpecProblem
from tinyctl.plan.build import plan_for
from tinyctl.plan.model import StackPlan
from tinyctl.plan.values import EnvSecret, Port
from tinyctl.spec.loaded import LoadedSpec, format_path
from tinyctl.spec.models import Spec, parse_duration
from tinyctl.state.identity import Identity
from tinyctl.state.secrets import Secrets
from tinyctl.targets.k8s.chart import BUNDLED_DATABASE, PORTS
from tinyctl.targets.k8s.image import planned_image, read_record
from tinyctl.targets.k8s.names import IMAGE_RECORD
from tinyctl.targets.k8s.release import EksProfile, GitSync, ImageRef, K8sInputs, ServerAddress

# Settings the chart or the k8s section owns on a cluster (besides the spec's MANAGED_CONFIG).
CLUSTER_MANAGED = {
    "kubernetes_executor.": "the chart sets the KubernetesExecutor's settings (set k8s.namespace)",
    "kubernetes.": "the chart sets the KubernetesExecutor's settings (set k8s.namespace)",
    "logging.base_log_folder": "the chart mounts the logs folder",
    "api.port": "the chart's api-server Service listens on its own port",
    "dag_processor.dag_bundle_config_list": "set k8s.dags (image or git) instead",
}
EKS_MANAGED = {
    "logging.remote_logging": "profile eks turns on S3 remote logging",
    "logging.remote_base_log_folder": "set k8s.eks.log_bucket and k8s.eks.log_prefix instead",
    "logging.remote_log_conn_id": "profile eks logs through aws_default (IRSA credentials)",
}
HINT = "Fix the keys above in tinyctl.yaml (`tinyctl schema` lists every k8s key)."


class _Problems:
    def __init__(self, loaded: LoadedSpec):
        self.loaded = loaded
        self.items: list[SpecProblem] = []

    def add(self, path: tuple[Any, ...], message: str) -> None:
        line, col = self.loaded.locate(*path)
        self.items.append(SpecProblem(self.loaded.file, line, col, format_path(path), message))

    def raise_any(self) -> None:
        if self.items:
            raise SpecError(self.items, hint=HINT)


def cluster_executor(spec: Spec) -> str:
    return spec.k8s.executor or spec.airflow.executor


def release_name(spec: Spec) -> str:
    return spec.k8s.release or spec.project.name.replace("_", "-")[:53].rstrip("-")


def _check_spec(loaded: LoadedSpec, problems: _Problems) -> None:
    spec = loaded.spec
    k8s, executor = spec.k8s, cluster_executor(spec)
    if spec.airflow.workers is not None and executor != "CeleryExecutor":
        problems.add(
            ("airflow", "workers"),
            f"has no meaning with the {executor} on Kubernetes: remove it, or set "
            "k8s.executor: CeleryExecutor",
        )
    if k8s.dags == "git" and k8s.git is None:
        problems.add(("k8s", "dags"), "is git, but k8s.git (repo, branch, subpath) is missing")
    if k8s.dags == "image" and k8s.git is not None:
        problems.add(
            ("k8s", "git"), "is set, but k8s.dags is image: set k8s.dags: git or remove it"
        )
    if k8s.profile == "eks" and k8s.eks is None:
        problems.add(("k8s", "profile"), "eks needs k8s.eks (role_arn, region, log_bucket)")
    if k8s.eks is not None and k8s.profile != "eks":
        problems.add(("k8s", "eks"), "is set, but k8s.profile is not eks: add profile: eks")
    if k8s.profile == "eks" and k8s.database.url_env is None:
        problems.add(
            ("k8s", "database"),
            "profile eks runs on RDS: set k8s.database.url_env to the variable holding its URL",
        )
    managed = {**CLUSTER_MANAGED, **(EKS_MANAGED if k8s.profile == "eks" else {})}
    for key in spec.airflow.config:
        for prefix, why in managed.items():
            if key == prefix or (prefix.endswith(".") and key.startswith(prefix)):
                problems.add(("airflow", "config", key), f"is set by tinyctl on Kubernetes: {why}")


def _server(
    loaded: LoadedSpec, plan: StackPlan, environ: Mapping[str, str], secrets: Secrets, problems
) -> Any:
    spec = loaded.spec
    variable = spec.k8s.database.url_env
    if variable is None:
        host = f"{release_name(spec)}-{BUNDLED_DATABASE}"
        superuser = "postgres"  # the bundled chart's (enablePostgresUser)
        return ServerAddress(
            host,
            PORTS[Port.POSTGRES],
            superuser,
            secrets[plan.bootstrap.superuser_secret],
            bundled=True,
        )
    where = ("k8s", "database", "url_env")
    url = environ.get(variable)
    if not url:
        problems.add(
            where,
            f"names {variable}, which is not set: export {variable}=postgresql://ADMIN:PASSWORD@HOST:5432/postgres"
            "?sslmode=require (in CI, from the CI's secret store)",
        )
        return None
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError:
        parts, port = None, 0
    if parts is None or parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        problems.add(where, f"{variable} is not a postgresql://USER:PASSWORD@HOST:PORT/DB URL")
        return None
    if not parts.username or parts.password is None:
        problems.add(where, f"{variable} has no user or password (postgresql://USER:PASSWORD@HOST)")
        return None
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    sslmode = query.get("sslmode")
    if spec.k8s.profile == "eks":
        if sslmode not in (None, "require", "verify-ca", "verify-full"):
            problems.add(where, f"{variable} says sslmode={sslmode}; RDS on profile eks needs TLS")
            return None
        sslmode = sslmode or "require"
    return ServerAddress(
        parts.hostname, port, unquote(parts.username), unquote(parts.password), sslmode
    )


def _env_secrets(
    loaded: LoadedSpec, plan: StackPlan, environ: Mapping[str, str], problems: _Problems
) -> dict[str, str]:
    """{variable: value} of the environment variables the plan's connections name."""
    found: dict[str, str] = {}
    ids = [conn.id for conn in loaded.spec.airflow.connections]  # where each is, for errors
    for conn in plan.connections:
        if not isinstance(conn.password, EnvSecret):
            continue
        variable = conn.password.variable
        if variable in environ:
            found[variable] = environ[variable]
            continue
        problems.add(
            ("airflow", "connections", ids.index(conn.id), "password_env"),
            f"names {variable}, which is not set: export it (in CI, from the CI's secret "
            "store), then render again",
        )
    return found


def _image(loaded: LoadedSpec, environ: Mapping[str, str], state_root: Path) -> ImageRef:
    """The pushed image when `tinyctl k8s image --push` recorded one, else the planned tag."""
    record = read_record(state_root / IMAGE_RECORD)
    plan = planned_image(loaded, environ)
    if record is not None and record.get("tag") == plan.tag and record.get("digest"):
        return ImageRef(record["repository"], plan.tag, record["digest"])
    return ImageRef(plan.repository, plan.tag)


def cluster_plan(loaded: LoadedSpec, identity: Identity | None = None) -> StackPlan:
    """The plan of the stack as it runs on the cluster: with the cluster's executor, and the
    triggerer as `airflow.triggerer` chose."""
    return plan_for(loaded, identity, executor=cluster_executor(loaded.spec))


def gather(
    loaded: LoadedSpec,
    plan: StackPlan,
    secrets: Secrets,
    environ: Mapping[str, str],
    state_root: Path,
) -> K8sInputs:
    """The inputs of `render_files` besides `plan`; SpecError (exit 2, nothing written) on bad
    input."""
    spec = loaded.spec
    problems = _Problems(loaded)
    _check_spec(loaded, problems)
    server = _server(loaded, plan, environ, secrets, problems)
    env_secrets = _env_secrets(loaded, plan, environ, problems)
    problems.raise_any()
    k8s = spec.k8s
    git, eks = k8s.git, k8s.eks
    return K8sInputs(
        spec_name=loaded.file.name,
        release=release_name(spec),
        namespace=k8s.namespace,
        secrets=dict(secrets.values),
        env_secrets=env_secrets,
        server=server,
        image=_image(loaded, environ, state_root),
        bootstrap_image=spec.postgres.image or f"postgres:{plan.postgres_version}",
        pull_secret=k8s.image.pull_secret,
        git=None
        if git is None
        else GitSync(
            git.repo,
            git.branch,
            git.subpath,
            f"{parse_duration(git.period)}s",
            git.ssh_key_secret,
            git.credentials_secret,
        ),
        eks=None
        if eks is None
        else EksProfile(eks.role_arn, eks.region, f"s3://{eks.log_bucket}/{eks.log_prefix}"),
        api_service_type=k8s.api_server.service_type,
        api_replicas=k8s.api_server.replicas,
        resources={
            name: {k: v for k, v in r.model_dump().items() if v}
            for name, r in k8s.resources.items()
        },
    )
