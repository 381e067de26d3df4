"""What the Kubernetes target's tests share: projects to render, the chart, helm."""

from __future__ import annotations

from pathlib import Path

import yaml

from tinyctl.project import Project
from tinyctl.render.k8s import K8sRender, render_k8s
from tinyctl.scaffold import init_project
from tinyctl.spec import load_spec

EKS = {
    "profile": "eks",
    "database": {"url_env": "TEST_RDS_URL"},
    "eks": {
        "role_arn": "arn:aws:iam::123456789012:role/airflow",
        "region": "eu-west-1",
        "log_bucket": "acme-airflow-logs",
    },
}
RDS_URL = (
    "postgresql://master:rds%2Fsecret-pw@acme.abc123.eu-west-1.rds.amazonaws.com:5432/postgres"
)


def make_project(root: Path, edit=None) -> Path:
    init_project(root, name="demo")
    spec_file = root / "tinyctl.yaml"
    if edit is not None:
        data = yaml.safe_load(spec_file.read_text())
        edit(data)
        spec_file.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec_file


def render(spec_file: Path, environ: dict[str, str] | None = None) -> K8sRender:
    return render_k8s(Project(load_spec(spec_file), environ=environ or {}))


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def celery(data: dict) -> None:
    data["airflow"]["executor"] = "CeleryExecutor"
    data["airflow"]["workers"] = 3


def kubernetes(data: dict) -> None:
    data["k8s"] = {"executor": "KubernetesExecutor"}


def eks(data: dict) -> None:
    data["k8s"] = {"executor": "KubernetesExecutor", **EKS}
    data["airflow"]["config"]["logging.logging_level"] = "DEBUG"
