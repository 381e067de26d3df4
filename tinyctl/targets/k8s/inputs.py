"""Gather the Kubernetes target's inputs from the spec, its secrets and the environment, and
refuse what has no meaning on a cluster. Every refusal names the spec key (file:line) and the
fix, and comes before anything is written."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tinyctl.errors import SpecError, SpecProblem
from tinyctl.plan import build_plan
from tinyctl.spec.loader import LoadedSpec, format_path
from tinyctl.spec.models import Spec, parse_duration
from tinyctl.state.secrets import READER_ROLE, Secrets, api_users
from tinyctl.targets.k8s.image import planned_image, read_record
from tinyctl.targets.k8s.names import IMAGE_RECORD
from tinyctl.targets.k8s.render import (
    BOOTSTRAP_SECRETS_DIR,
    EksProfile,
    GitSync,
    ImageRef,
    K8sInputs,
    ServerAddress,
)
from tinyctl.targets.templating import bootstrap_script

# Settings the chart or the k8s section owns on a cluster (besides the spec's MANAGED_CONFIG).
CLUSTER_MANAGED = {
    "kubernetes_executor.": "the chart sets the KubernetesExecutor's settings (set k8s.namespace)",
    "kubernetes.": "the chart sets the KubernetesExecutor's settings (set k8s.namespace)",
    "logging.base_log_folder": "the chart mounts the logs folder",
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


def _server(loaded: LoadedSpec, environ: Mapping[str, str], secrets: Secrets, problems) -> Any:
    spec = loaded.spec
    variable = spec.k8s.database.url_env
    if variable is None:
        host = f"{release_name(spec)}-postgresql"
        return ServerAddress(host, 5432, "postgres", secrets["postgres_password"], bundled=True)
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


def _connections(
    loaded: LoadedSpec, environ: Mapping[str, str], secrets: Secrets, server, problems
) -> dict[str, dict[str, Any]]:
    spec = loaded.spec
    bodies: dict[str, dict[str, Any]] = {}
    writer = spec.postgres.writer
    if writer is not None and server is not None:
        for db in spec.postgres.databases:
            extra = {"sslmode": server.sslmode} if server.sslmode else {}
            bodies[db.connection_id] = _conn(
                "postgres", server.host, server.port, writer.name, db.name, None, extra
            )
            bodies[db.connection_id]["password"] = secrets.role_password(writer.name)
    for i, conn in enumerate(spec.airflow.connections):
        password = None
        if conn.password_env:
            password = environ.get(conn.password_env)
            if password is None:
                problems.add(
                    ("airflow", "connections", i, "password_env"),
                    f"names {conn.password_env}, which is not set: export it (in CI, from the "
                    "CI's secret store), then render again",
                )
        body = _conn(
            conn.type, conn.host, conn.port, conn.login, conn.schema_, conn.description, conn.extra
        )
        if password is not None:
            body["password"] = password
        bodies[conn.id] = body
    return bodies


def _conn(kind, host, port, login, schema, description, extra) -> dict[str, Any]:
    body = {
        "conn_type": kind,
        "host": host,
        "port": port,
        "login": login,
        "schema": schema,
        "description": description,
        "extra": json.dumps(extra, sort_keys=True) if extra else None,
    }
    return {k: v for k, v in body.items() if v is not None}


def _variable(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _image(loaded: LoadedSpec, environ: Mapping[str, str], state_root: Path) -> ImageRef:
    """The pushed image when `tinyctl k8s image --push` recorded one, else the planned tag."""
    record = read_record(state_root / IMAGE_RECORD)
    plan = planned_image(loaded, environ)
    if record is not None and record.get("tag") == plan.tag and record.get("digest"):
        return ImageRef(record["repository"], plan.tag, record["digest"])
    return ImageRef(plan.repository, plan.tag)


def gather(
    loaded: LoadedSpec,
    secrets: Secrets,
    environ: Mapping[str, str],
    state_root: Path,
) -> K8sInputs:
    """The inputs of `render_files`; SpecError (exit 2, nothing written) on bad input."""
    spec = loaded.spec
    problems = _Problems(loaded)
    _check_spec(loaded, problems)
    server = _server(loaded, environ, secrets, problems)
    connections = _connections(loaded, environ, secrets, server, problems)
    problems.raise_any()
    k8s = spec.k8s
    git = k8s.git
    eks = k8s.eks
    users = api_users(spec)
    return K8sInputs(
        spec_name=loaded.file.name,
        project=spec.project.name,
        release=release_name(spec),
        namespace=k8s.namespace,
        airflow_version=spec.airflow.version,
        executor=cluster_executor(spec),
        workers=spec.airflow.workers or 1,
        secrets=dict(secrets.values),
        role_passwords={
            name: secrets.role_password(name)
            for name in [r.name for r in spec.postgres.roles] + [READER_ROLE]
        },
        users=users,
        user_passwords={name: secrets.user_password(name) for name in users},
        server=server,
        config={k: _config_value(v) for k, v in spec.airflow.config.items()},
        connections=connections,
        variables={k: _variable(v) for k, v in spec.airflow.variables.items()},
        pools=tuple(
            {
                "name": p.name,
                "slots": p.slots,
                "description": p.description or "",
                "include_deferred": p.include_deferred,
            }
            for p in spec.airflow.pools
        ),
        image=_image(loaded, environ, state_root),
        bootstrap_image=spec.postgres.image or f"postgres:{spec.postgres.version}",
        bootstrap_script=bootstrap_script(
            build_plan(spec).bootstrap,
            secrets_dir=BOOTSTRAP_SECRETS_DIR,
            host=server.host,
            port=server.port,
        ).decode(),
        warehouse_conn_id=spec.postgres.default_database.connection_id,
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


def _config_value(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)
