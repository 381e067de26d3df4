"""The rendered release through the real official chart (1.19.0) and real Helm, every document
checked against Kubernetes' own schemas (1.30 and 1.34, strict). Helm renders offline, so these
run without a cluster; they skip, naming the folder, where the chart is not there.

Each case is rendered, templated by helm and linted once (a module fixture); marked `helm`, so
`make test-fast` leaves them out and `make test` runs them."""

from __future__ import annotations

import base64
import configparser
import os
import re

import kubernetes_validate
import pytest
import yaml
from k8s_helpers import (
    RDS_URL,
    celery,
    documents,
    eks,
    kubernetes,
    make_project,
    render,
)

from tinyctl.targets.k8s.deploy import deploy
from tinyctl.targets.k8s.helm import Helm, locate_chart
from tinyctl.targets.k8s.names import CHART_ENV, JOBS, SECRETS, VALUES

pytestmark = pytest.mark.helm
KUBE_VERSIONS = ("1.30.0", "1.34.0")
CASES = {
    "local": (None, {}),
    "celery": (celery, {}),
    "kubernetes": (kubernetes, {}),
    "eks": (eks, {"TEST_RDS_URL": RDS_URL}),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def release(request, tmp_path_factory, airflow_chart):
    """One case rendered, its chart output (helm template, once: the chart reads no kube
    version, see the test below) and helm lint's verdict."""
    chart_dir = airflow_chart
    edit, environ = CASES[request.param]
    root = tmp_path_factory.mktemp(request.param) / "demo"
    result = render(make_project(root, edit), environ)
    state = result.folder.parent
    helm = Helm(os.environ, kubectl=False)
    chart = locate_chart(None, {CHART_ENV: str(chart_dir)}, root)
    manifests = documents(helm.template("demo", chart, state / VALUES, "airflow", KUBE_VERSIONS[0]))
    lint = helm.lint(chart, state / VALUES, "airflow")
    return {
        "case": request.param,
        "state": state,
        "inputs": result.inputs,
        "plan": result.plan,
        "chart": chart,
        "manifests": {version: manifests for version in KUBE_VERSIONS},
        "secrets": documents((state / SECRETS).read_text()),
        "jobs": documents((state / JOBS).read_text()),
        "lint": lint,
    }


def test_the_chart_renders_alike_for_every_kube_version(airflow_chart):
    """Why one `helm template` serves both versions: no template of the chart asks for one."""
    for template in (airflow_chart / "templates").rglob("*"):
        if template.is_file():
            assert ".Capabilities" not in template.read_text(errors="replace"), template


def test_helm_lint_passes(release):
    assert "0 chart(s) failed" in release["lint"], release["lint"]


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_every_document_validates_strictly(release, version):
    docs = release["manifests"][version] + release["secrets"] + release["jobs"]
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Job", "Secret", "ConfigMap", "Service"} <= kinds


def _pods(docs):
    for doc in docs:
        spec = doc.get("spec", {})
        template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template"
        )
        if template:
            yield doc, template["spec"]


def _containers(pod):
    return pod.get("containers", []) + pod.get("initContainers", [])


def test_every_referenced_secret_exists(release):
    ours = {d["metadata"]["name"]: set(d["data"]) for d in release["secrets"]}
    chart_made = {
        d["metadata"]["name"]: set(d.get("data", {}))
        for d in release["manifests"]["1.34.0"]
        if d["kind"] == "Secret"
    }
    known = {**chart_made, **ours}
    seen = set()
    for doc, pod in _pods(release["manifests"]["1.34.0"] + release["jobs"]):
        for container in _containers(pod):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in known, f"{doc['metadata']['name']}: {ref}"
                    assert ref["key"] in known[ref["name"]], f"{doc['metadata']['name']}: {ref}"
                    seen.add(ref["name"])
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in ours
                    seen.add(source["secretRef"]["name"])
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in known, volume
                seen.add(volume["secret"]["secretName"])
    assert "demo-tinyctl-metadata" in seen and "demo-tinyctl-fernet" in seen


def test_no_secret_value_in_configmaps_or_env(release):
    values = [base64.b64decode(v).decode() for d in release["secrets"] for v in d["data"].values()]
    values = [line.strip() for v in values for line in v.splitlines() if len(line.strip()) >= 16]
    values_text = (release["state"] / VALUES).read_text()
    assert not [v for v in values if v in values_text]
    for doc in release["manifests"]["1.34.0"] + release["jobs"]:
        if doc["kind"] == "ConfigMap":
            text = yaml.safe_dump(doc.get("data", {}))
            assert not [v for v in values if v in text], doc["metadata"]["name"]
    for _doc, pod in _pods(release["manifests"]["1.34.0"] + release["jobs"]):
        for container in _containers(pod):
            plain = " ".join(str(e.get("value", "")) for e in container.get("env", []))
            assert not [v for v in values if v in plain]


def test_spec_config_reaches_airflow_cfg(release):
    config_map = next(
        d
        for d in release["manifests"]["1.34.0"]
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "demo-config"
    )
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(config_map["data"]["airflow.cfg"])
    assert cfg["core"]["executor"] == release["plan"].executor
    assert cfg["core"]["parallelism"] == "4"  # the scaffold's airflow.config
    assert cfg["core"]["auth_manager"].endswith("SimpleAuthManager")
    if release["case"] == "eks":
        assert cfg["logging"]["logging_level"] == "DEBUG"
        assert cfg["logging"]["remote_base_log_folder"] == "s3://acme-airflow-logs/airflow/logs"
        assert cfg["logging"]["remote_logging"] == "True"


def test_kinds_per_executor(release):
    kinds = {(d["kind"], d["metadata"]["name"]) for d in release["manifests"]["1.34.0"]}
    case = release["case"]
    workers = [
        d
        for d in release["manifests"]["1.34.0"]
        if d["metadata"]["name"] == "demo-worker" and d["kind"] in ("StatefulSet", "Deployment")
    ]
    if case == "celery":
        assert workers and workers[0]["spec"]["replicas"] == 3
        assert ("StatefulSet", "demo-redis") in kinds
    else:
        assert not workers and ("StatefulSet", "demo-redis") not in kinds
    if case == "kubernetes" or case == "eks":
        config = next(
            d for d in release["manifests"]["1.34.0"] if d["metadata"]["name"] == "demo-config"
        )
        template = yaml.safe_load(config["data"]["pod_template_file.yaml"])
        assert template["spec"]["containers"][0]["image"] == release["inputs"].image.reference
    assert (("StatefulSet", "demo-postgresql") in kinds) == (case != "eks")


def test_image_is_the_planned_reference(release):
    image = release["inputs"].image.reference
    for _doc, pod in _pods(release["manifests"]["1.34.0"]):
        for container in pod.get("containers", []):
            if container["name"] in (
                "scheduler",
                "api-server",
                "dag-processor",
                "triggerer",
                "worker",
            ):
                assert container["image"] == image


def test_helm_install_dry_run_client_offline(release, tmp_path):
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "no-kubeconfig")}
    result = deploy(
        release["state"],
        release="demo",
        namespace="airflow",
        chart=release["chart"],
        external_db=release["case"] == "eks",
        environ=env,
        dry_run=True,
    )
    assert result.context is None
    assert "Deployment/demo-api-server" in result.manifests
    assert any(re.match(r"Job/demo-tinyctl-warehouse-[0-9a-f]{8}$", m) for m in result.manifests)
