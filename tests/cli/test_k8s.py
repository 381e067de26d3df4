"""`tinyctl k8s render | image | deploy` through the real CLI (typer's CliRunner): exit 2 with
file:line and nothing written on bad input, exit 3 with install hints when helm, kubectl or the
chart are missing, `render --check` on stale or hand-edited files, `deploy --dry-run` offline."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tinyctl.cli import app, load_commands
from tinyctl.scaffold import init_project

load_commands()  # the whole app, as `tinyctl --help` sees it

runner = CliRunner()
TOOLS = Path(sys.executable).parent  # where `make tools` provisions helm and kubectl


def invoke(spec: Path, *args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, [*args, "--spec", str(spec)], env=env, catch_exceptions=False)


def make_project(root: Path, k8s: dict | None = None) -> Path:
    init_project(root, name="demo")
    spec = root / "tinyctl.yaml"
    if k8s is not None:
        data = yaml.safe_load(spec.read_text())
        data["k8s"] = k8s
        spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


def k8s_folder(spec: Path) -> Path:
    return spec.parent / ".tinyctl" / "k8s"


@pytest.fixture
def no_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A machine without helm or kubectl: an empty PATH, and no binaries beside the Python that
    runs tinyctl (where `make tools` provisions them)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setattr(sys, "executable", str(empty / "python"))
    for name in ("TINYCTL_HELM", "TINYCTL_KUBECTL"):
        monkeypatch.delenv(name, raising=False)
    return empty


BAD_INPUT = [
    ({"dags": "git"}, "k8s.dags", "k8s.git"),
    ({"profile": "eks"}, "k8s.profile", "k8s.eks"),
    ({"database": {"url_env": "TINYCTL_TEST_UNSET_URL"}}, "k8s.database.url_env", "export"),
]


@pytest.mark.parametrize("command", ["render", "image", "deploy"])
@pytest.mark.parametrize(("k8s", "key", "words"), BAD_INPUT)
def test_bad_input_exits_2_naming_file_line_and_writes_nothing(
    tmp_path: Path, command: str, k8s: dict, key: str, words: str
) -> None:
    spec = make_project(tmp_path / "demo", k8s)
    result = invoke(spec, "k8s", command)
    assert result.exit_code == 2, result.output
    assert re.search(r"tinyctl\.yaml:\d+", result.output), result.output
    assert key in result.output and words in result.output, result.output
    assert "Traceback" not in result.output
    assert not k8s_folder(spec).exists(), "nothing of k8s/ is written on bad input"


def test_an_unknown_k8s_key_exits_2_before_anything(tmp_path: Path) -> None:
    spec = make_project(tmp_path / "demo", {"replicas": 3})
    for command in ("render", "image", "deploy"):
        result = invoke(spec, "k8s", command)
        assert result.exit_code == 2, result.output
        assert re.search(r"tinyctl\.yaml:\d+", result.output) and "replicas" in result.output
    assert not (spec.parent / ".tinyctl").exists()


def test_deploy_without_helm_exits_3_with_install_hints(tmp_path: Path, no_tools: Path) -> None:
    spec = make_project(tmp_path / "demo")
    result = invoke(spec, "k8s", "deploy", "--dry-run", env={"PATH": str(no_tools)})
    assert result.exit_code == 3, result.output
    assert "helm" in result.output and "Install Helm" in result.output


def test_deploy_without_kubectl_exits_3_with_install_hints(
    tmp_path: Path, no_tools: Path, airflow_chart: Path
) -> None:
    (no_tools / "helm").symlink_to(_provisioned("helm"))  # helm there, kubectl not
    spec = make_project(tmp_path / "demo")
    env = {"PATH": str(no_tools), "TINYCTL_AIRFLOW_CHART": str(airflow_chart)}
    result = invoke(spec, "k8s", "deploy", env=env)
    assert result.exit_code == 3, result.output
    assert "kubectl" in result.output and "Install kubectl" in result.output


def test_deploy_without_the_chart_exits_3_naming_the_fix(tmp_path: Path) -> None:
    spec = make_project(tmp_path / "demo")
    env = {"TINYCTL_AIRFLOW_CHART": str(tmp_path / "no-chart")}
    result = invoke(spec, "k8s", "deploy", "--dry-run", env=env)
    assert result.exit_code == 3, result.output
    assert "no-chart" in result.output and "helm repo add apache-airflow" in result.output


@pytest.mark.helm
def test_deploy_dry_run_succeeds_offline(tmp_path: Path, airflow_chart: Path) -> None:
    spec = make_project(tmp_path / "demo")
    env = {
        "TINYCTL_AIRFLOW_CHART": str(airflow_chart),
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),  # no cluster answers
    }
    result = invoke(spec, "k8s", "deploy", "--dry-run", env=env)
    assert result.exit_code == 0, result.output
    assert "offline" in result.output and "nothing was applied" in result.output
    assert "Deployment/demo-api-server" in result.output
    assert "Secret/demo-tinyctl-metadata" in result.output


def test_render_check_reports_stale_and_hand_edited_files(tmp_path: Path) -> None:
    spec = make_project(tmp_path / "demo")
    result = invoke(spec, "k8s", "render", "--check")
    assert result.exit_code == 1 and "not rendered yet" in result.output, result.output
    assert invoke(spec, "k8s", "render").exit_code == 0
    assert not (spec.parent / ".tinyctl" / "render.json").exists(), "the stack's stamp is not k8s'"
    fresh = invoke(spec, "k8s", "render", "--check")
    assert fresh.exit_code == 0 and "up to date" in fresh.output, fresh.output

    values = k8s_folder(spec) / "values.yaml"
    values.write_text(values.read_text() + "# mine\n")
    edited = invoke(spec, "k8s", "render", "--check")
    assert edited.exit_code == 1 and "k8s/values.yaml was edited by hand" in edited.output
    assert invoke(spec, "k8s", "render").exit_code == 0
    assert "# mine" not in values.read_text(), "render writes over a hand edit"

    spec.write_text(spec.read_text().replace("core.parallelism: 4", "core.parallelism: 8"))
    stale = invoke(spec, "k8s", "render", "--check", "--json")
    assert stale.exit_code == 1 and "the spec changed" in stale.output, stale.output
    assert "values.yaml" in stale.output


def test_render_prints_no_secret_and_writes_secrets_0600(tmp_path: Path) -> None:
    spec = make_project(tmp_path / "demo")
    result = invoke(spec, "k8s", "render")
    assert result.exit_code == 0, result.output
    secrets = k8s_folder(spec) / "secrets.yaml"
    assert secrets.stat().st_mode & 0o777 == 0o600
    for line in secrets.read_text().splitlines():
        if line.startswith("  ") and ":" in line and len(line.split(":", 1)[1].strip()) > 20:
            assert line.split(":", 1)[1].strip() not in result.output
    assert "LocalExecutor release demo" in result.output


def _provisioned(name: str) -> Path:
    """The helm or kubectl `make tools` put beside the real Python of the venv."""
    found = TOOLS / name
    if not found.is_file():
        pytest.skip(f"{name} is not provisioned at {found} (make tools)")
    return found
