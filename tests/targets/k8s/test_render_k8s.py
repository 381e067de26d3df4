"""The Kubernetes target's files, rendered from scaffolded specs (no helm: pure output)."""

from __future__ import annotations

import base64
import json
import stat

import pytest
import yaml
from k8s_helpers import RDS_URL, celery, documents, eks, kubernetes, make_project, render

from tinyctl.errors import SpecError
from tinyctl.state.identity import Identity
from tinyctl.state.layout import StateLayout
from tinyctl.targets.k8s.names import JOBS, SECRETS, VALUES
from tinyctl.targets.templating import bootstrap_script


def _secret_values(state) -> list[str]:
    values = []
    for doc in documents((state / SECRETS).read_text()):
        values += [base64.b64decode(v).decode() for v in doc["data"].values()]
    return values


def test_scaffold_renders_local_executor_with_bundled_postgres(tmp_path):
    result = render(make_project(tmp_path / "demo"))
    state = result.folder.parent
    values = yaml.safe_load((state / VALUES).read_text())
    assert values["executor"] == "LocalExecutor"
    assert values["postgresql"]["enabled"] is True
    assert values["postgresql"]["auth"]["existingSecret"] == "demo-tinyctl-postgres"
    assert values["data"] == {"metadataSecretName": "demo-tinyctl-metadata"}
    assert values["createUserJob"] == {"enabled": False}
    assert values["config"]["core"]["parallelism"] == "4"  # the spec's airflow.config
    assert stat.S_IMODE((state / SECRETS).stat().st_mode) == 0o600
    assert "secrets.yaml" in (result.folder / ".gitignore").read_text()


def test_no_secret_value_outside_secrets_yaml(tmp_path):
    result = render(make_project(tmp_path / "demo", celery))
    state = result.folder.parent
    secrets = [v for v in _secret_values(state) if len(v) >= 8]
    assert secrets
    for name in (VALUES, JOBS):
        text = (state / name).read_text()
        for value in secrets:
            for line in value.splitlines():  # passwords.json is a document of its own
                if len(line.strip()) >= 16:
                    assert line.strip() not in text, f"a secret value is in {name}"


def test_celery_workers_from_airflow_workers(tmp_path):
    result = render(make_project(tmp_path / "demo", celery))
    values = yaml.safe_load((result.folder / "values.yaml").read_text())
    assert values["executor"] == "CeleryExecutor"
    assert values["workers"]["replicas"] == 3
    assert values["redis"] == {"enabled": True, "passwordSecretName": "demo-tinyctl-redis"}
    assert values["data"]["brokerUrlSecretName"] == "demo-tinyctl-broker-url"
    names = {d["metadata"]["name"] for d in documents((result.folder / "secrets.yaml").read_text())}
    assert {"demo-tinyctl-redis", "demo-tinyctl-broker-url", "demo-tinyctl-result-backend"} <= names


def test_connections_and_variables_are_env_secrets(tmp_path):
    def edit(data):
        data["airflow"]["connections"] = [
            {"id": "api", "type": "http", "host": "api.example.com", "password_env": "API_PW"}
        ]
        data["airflow"]["variables"] = {"region": "eu", "limits": {"rows": 5}}

    result = render(make_project(tmp_path / "demo", edit), {"API_PW": "s3cr3t-api-pw"})
    settings = next(
        d
        for d in documents((result.folder / "secrets.yaml").read_text())
        if d["metadata"]["name"] == "demo-tinyctl-settings"
    )
    env = {k: base64.b64decode(v).decode() for k, v in settings["data"].items()}
    assert json.loads(env["AIRFLOW_CONN_API"])["password"] == "s3cr3t-api-pw"
    assert json.loads(env["AIRFLOW_CONN_WAREHOUSE"])["login"] == "etl"
    assert env["AIRFLOW_VAR_REGION"] == "eu"
    assert json.loads(env["AIRFLOW_VAR_LIMITS"]) == {"rows": 5}


def test_eks_profile(tmp_path):
    result = render(make_project(tmp_path / "demo", eks), {"TEST_RDS_URL": RDS_URL})
    values = yaml.safe_load((result.folder / "values.yaml").read_text())
    arn = "arn:aws:iam::123456789012:role/airflow"
    for component in ("scheduler", "apiServer", "workers", "triggerer", "dagProcessor"):
        assert values[component]["serviceAccount"]["annotations"] == {
            "eks.amazonaws.com/role-arn": arn
        }
    assert values["config"]["logging"]["remote_base_log_folder"] == (
        "s3://acme-airflow-logs/airflow/logs"
    )
    assert values["postgresql"] == {"enabled": False}
    metadata = next(
        d
        for d in documents((result.folder / "secrets.yaml").read_text())
        if d["metadata"]["name"] == "demo-tinyctl-metadata"
    )
    url = base64.b64decode(metadata["data"]["connection"]).decode()
    assert url.endswith("@acme.abc123.eu-west-1.rds.amazonaws.com:5432/airflow?sslmode=require")
    job = next(
        d for d in documents((result.folder / "jobs.yaml").read_text()) if d["kind"] == "Job"
    )
    env = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["PGSSLMODE"] == "require" and env["POSTGRES_USER"] == "master"


def test_config_braces_stay_text(tmp_path):
    def edit(data):
        data["airflow"]["config"]["core.default_timezone"] = "{{ not a template }}"

    result = render(make_project(tmp_path / "demo", edit))
    values = yaml.safe_load((result.folder / "values.yaml").read_text())
    assert values["config"]["core"]["default_timezone"] == '{{ "{{" }} not a template }}'


@pytest.mark.parametrize(
    ("edit", "environ", "key", "words"),
    [
        (
            lambda d: celery(d) or d.update(k8s={"executor": "KubernetesExecutor"}),
            {},
            "airflow.workers",
            "KubernetesExecutor",
        ),
        (lambda d: d.update(k8s={"dags": "git"}), {}, "k8s.dags", "k8s.git"),
        (
            lambda d: d.update(k8s={"database": {"url_env": "NOPE_URL"}}),
            {},
            "k8s.database.url_env",
            "export NOPE_URL",
        ),
        (
            lambda d: d.update(k8s={"database": {"url_env": "BAD_URL"}}),
            {"BAD_URL": "mysql://x"},
            "k8s.database.url_env",
            "postgresql://",
        ),
        (lambda d: d.update(k8s={"profile": "eks"}), {}, "k8s.profile", "k8s.eks"),
        (
            lambda d: d["airflow"]["config"].update({"kubernetes_executor.namespace": "x"}),
            {},
            "airflow.config",
            "chart",
        ),
        (
            lambda d: d["airflow"].update(
                connections=[{"id": "c", "type": "http", "password_env": "MISSING_PW"}]
            ),
            {},
            "airflow.connections[0].password_env",
            "MISSING_PW",
        ),
    ],
)
def test_bad_input_names_key_and_writes_nothing(tmp_path, edit, environ, key, words):
    spec_file = make_project(tmp_path / "demo", edit)
    with pytest.raises(SpecError) as caught:
        render(spec_file, environ)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert key in text and words in text, text
    assert ":" in text.split()[0]  # file:line:col
    assert not (tmp_path / "demo" / ".tinyctl" / "k8s").exists()


def test_rendering_twice_changes_nothing(tmp_path):
    spec_file = make_project(tmp_path / "demo", kubernetes)
    render(spec_file)
    again = render(spec_file)
    assert again.written == []


def test_rendered_from_the_plan(tmp_path):
    """The warehouse Job runs the shared bootstrap of the plan with the Job's Secret mount as its
    secrets folder; tinyctl's defaults for one machine stay off the cluster, the spec's config
    and the plan's places reach it in the chart's terms."""
    result = render(make_project(tmp_path / "demo", celery))
    plan, inputs = result.plan, result.inputs
    jobs = documents((result.folder / "jobs.yaml").read_text())
    script = next(d for d in jobs if d["kind"] == "ConfigMap")["data"]["bootstrap.sh"]
    expected = bootstrap_script(
        plan.bootstrap, secrets_dir="/run/tinyctl-secrets", host="demo-postgresql", port=5432
    ).decode()
    assert script == expected
    job = next(d for d in jobs if d["kind"] == "Job" and "warehouse" in d["metadata"]["name"])
    mounts = {m["name"]: m["mountPath"] for m in _containers(job)[0]["volumeMounts"]}
    assert mounts["passwords"] == "/run/tinyctl-secrets"
    values = yaml.safe_load((result.folder / "values.yaml").read_text())
    config = values["config"]
    assert "workers" not in config.get("api", {}), "api.workers=1 is a default for one machine"
    assert "refresh_interval" not in config.get("dag_processor", {})
    assert config["core"]["load_examples"] == "False"
    assert config["core"]["plugins_folder"] == "/opt/airflow/plugins"
    assert "executor" not in config["core"], "the chart sets it from `executor`"
    env = {e["name"]: e["value"] for e in values["env"]}
    assert env["PYTHONPATH"] == "/opt/tinyctl/lib" and env["TINYCTL_PROJECT"] == "demo"
    assert values["workers"]["replicas"] == plan.service("worker").replicas == 3
    annotations = next(d for d in jobs if d["kind"] == "Job")["metadata"]["annotations"]
    assert annotations == {"io.tinyctl.project-id": project_id(result)}
    assert inputs.release == "demo"


def test_kubernetes_executor_has_no_broker_nor_workers(tmp_path):
    result = render(make_project(tmp_path / "demo", kubernetes))
    assert result.plan.executor == "KubernetesExecutor" and not result.plan.celery
    values = yaml.safe_load((result.folder / "values.yaml").read_text())
    assert values["redis"] == {"enabled": False} and "workers" not in values
    assert "brokerUrlSecretName" not in values["data"]
    names = {d["metadata"]["name"] for d in documents((result.folder / "secrets.yaml").read_text())}
    assert "demo-tinyctl-result-backend" not in names and "demo-tinyctl-redis" not in names


def _containers(job):
    return job["spec"]["template"]["spec"]["containers"]


def project_id(result):
    return Identity.read(StateLayout(result.folder.parent).identity_file).id


def test_no_triggerer_is_the_charts_triggerer_disabled(tmp_path):
    def off(data: dict) -> None:
        data["airflow"]["triggerer"] = "off"

    values = yaml.safe_load(
        (render(make_project(tmp_path / "demo", off)).folder.parent / VALUES).read_text()
    )
    assert values["triggerer"] == {"enabled": False}
    on = yaml.safe_load((render(make_project(tmp_path / "on")).folder.parent / VALUES).read_text())
    assert on.get("triggerer", {}).get("enabled", True) is True
