"""The only code that runs helm and kubectl.

Each tool is found as TINYCTL_HELM / TINYCTL_KUBECTL, on PATH, or beside the running Python (a
venv's bin, where `make tools` puts them); a missing tool, kube context or chart is an
EnvironmentProblem (exit 3) that says how to install it. Commands are logged on
`tinyctl.commands` (the CLI echoes them with --verbose).
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from tinyctl.errors import EnvironmentProblem, WorkFailed
from tinyctl.targets.k8s.names import CHART_ENV, CHART_REPO_REF, CHART_REPO_URL, CHART_VERSION

log = logging.getLogger("tinyctl.commands")

INSTALL_HINTS = {
    "helm": "Install Helm 3.8+ or 4 (https://helm.sh/docs/intro/install/; Debian/Ubuntu: the "
    "helm package, macOS: `brew install helm`), or point TINYCTL_HELM at the binary.",
    "kubectl": "Install kubectl (https://kubernetes.io/docs/tasks/tools/; macOS: `brew install "
    "kubectl`; on EKS `aws eks update-kubeconfig --name CLUSTER` then sets the context), or point "
    "TINYCTL_KUBECTL at the binary.",
}
CHART_HINT = (
    f"Add the chart repository: `helm repo add apache-airflow {CHART_REPO_URL} && helm repo "
    f"update`, or set {CHART_ENV} (or k8s.chart) to a folder holding the chart {CHART_VERSION}."
)


def find_tool(name: str, environ: Mapping[str, str]) -> str:
    override = environ.get(f"TINYCTL_{name.upper()}")
    if override:
        if Path(override).is_file() and os.access(override, os.X_OK):
            return override
        raise EnvironmentProblem(
            f"TINYCTL_{name.upper()}={override} is not an executable file", hint=INSTALL_HINTS[name]
        )
    found = shutil.which(name, path=environ.get("PATH"))
    beside = Path(sys.executable).parent / name
    if found is None and beside.is_file():
        found = str(beside)
    if found is None:
        raise EnvironmentProblem(f"`{name}` is not installed", hint=INSTALL_HINTS[name])
    return found


@dataclass(frozen=True)
class Chart:
    reference: str  # a folder, or a repository reference such as apache-airflow/airflow
    version: str | None  # --version for a repository reference; None for a folder

    @property
    def args(self) -> list[str]:
        return [self.reference, *(["--version", self.version] if self.version else [])]


def chart_folder_version(folder: Path) -> str:
    try:
        chart = yaml.safe_load((folder / "Chart.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        raise EnvironmentProblem(
            f"{folder} holds no readable Chart.yaml, so it is not a Helm chart", hint=CHART_HINT
        ) from None
    return str(chart.get("version", "")) if isinstance(chart, dict) else ""


def locate_chart(configured: str | None, environ: Mapping[str, str], root: Path) -> Chart:
    """The chart to use: TINYCTL_AIRFLOW_CHART, else k8s.chart, else apache-airflow/airflow."""
    reference = environ.get(CHART_ENV) or configured
    if reference is None:
        return Chart(CHART_REPO_REF, CHART_VERSION)
    folder = (root / reference).expanduser()
    if folder.is_dir():
        version = chart_folder_version(folder)
        if not version.startswith("1.19."):
            raise EnvironmentProblem(
                f"the chart in {folder} is version {version or '?'}; tinyctl renders values for "
                f"the official chart 1.19",
                hint=CHART_HINT,
            )
        return Chart(str(folder.resolve()), None)
    if "/" in reference and not reference.startswith((".", "/", "~")):
        return Chart(reference, CHART_VERSION)
    raise EnvironmentProblem(f"the chart folder {reference} does not exist", hint=CHART_HINT)


class Helm:
    """helm (and kubectl) for one release."""

    def __init__(self, environ: Mapping[str, str], *, kubectl: bool = True):
        self.environ = dict(environ)
        self.helm = find_tool("helm", environ)
        self.kubectl = find_tool("kubectl", environ) if kubectl else None

    def _run(self, argv: Sequence[str], action: str, *, check: bool = True) -> str:
        log.debug("Running command: %s", shlex.join(argv))
        try:
            done = subprocess.run(
                list(argv), capture_output=True, text=True, env=self.environ, timeout=1800
            )
        except subprocess.TimeoutExpired:
            raise WorkFailed(f"{action} did not finish in 30 minutes") from None
        if check and done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise WorkFailed(
                f"{action} failed (exit code {done.returncode})",
                details=f"$ {shlex.join(argv)}\n{tail}",
                hint="Read the output above; `--verbose` echoes every command.",
            )
        return done.stdout

    # ------------------------------------------------------------------ offline

    def check_chart(self, chart: Chart) -> None:
        """A repository chart must be known to helm (`helm repo add`); exit 3 if not."""
        if chart.version is None:
            return
        argv = [self.helm, "show", "chart", *chart.args]
        log.debug("Running command: %s", shlex.join(argv))
        done = subprocess.run(argv, capture_output=True, text=True, env=self.environ)
        if done.returncode != 0:
            raise EnvironmentProblem(
                f"helm does not know the chart {chart.reference} {chart.version}",
                hint=CHART_HINT,
                details=done.stderr.strip()[-500:],
            )

    def template(
        self, release: str, chart: Chart, values: Path, namespace: str, kube_version: str | None
    ) -> str:
        argv = [self.helm, "template", release, *chart.args, "-f", str(values)]
        argv += [
            "--namespace",
            namespace,
            *(["--kube-version", kube_version] if kube_version else []),
        ]
        return self._run(argv, "helm template")

    def lint(self, chart: Chart, values: Path, namespace: str) -> str:
        argv = [self.helm, "lint", *chart.args, "-f", str(values), "--namespace", namespace]
        return self._run(argv, "helm lint")

    def install_dry_run(self, release: str, chart: Chart, values: Path, namespace: str) -> str:
        """`helm install --dry-run=client`: the whole release rendered and checked, offline.
        (`helm upgrade --install` asks the cluster for the release's history even then.)"""
        argv = [self.helm, "install", release, *chart.args, "-f", str(values)]
        argv += ["--namespace", namespace, "--dry-run=client"]
        return self._run(argv, "helm install --dry-run=client")

    # ------------------------------------------------------------------ the cluster

    def context(self) -> str:
        """The current kube context; exit 3 when there is none or it does not answer."""
        assert self.kubectl is not None
        argv = [self.kubectl, "config", "current-context"]
        log.debug("Running command: %s", shlex.join(argv))
        done = subprocess.run(argv, capture_output=True, text=True, env=self.environ)
        name = done.stdout.strip()
        if done.returncode != 0 or not name:
            raise EnvironmentProblem(
                "kubectl has no current context (no cluster to deploy to)",
                hint="Point kubectl at a cluster: `kubectl config use-context NAME` (EKS: `aws eks "
                "update-kubeconfig --name CLUSTER --region REGION`; local: kind or minikube).",
            )
        probe = [self.kubectl, "version", "--request-timeout=10s", "-o", "json"]
        log.debug("Running command: %s", shlex.join(probe))
        if subprocess.run(probe, capture_output=True, env=self.environ).returncode != 0:
            raise EnvironmentProblem(
                f"the cluster of kube context {name!r} does not answer",
                hint="Check the context (`kubectl cluster-info`), your credentials and the network.",
            )
        return name

    def ensure_namespace(self, namespace: str) -> None:
        assert self.kubectl is not None
        manifest = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
        argv = [self.kubectl, "apply", "-f", "-"]
        log.debug("Running command: %s", shlex.join(argv))
        done = subprocess.run(
            argv, input=manifest, capture_output=True, text=True, env=self.environ
        )
        if done.returncode != 0:
            raise WorkFailed(
                f"kubectl could not create the namespace {namespace}", details=done.stderr
            )

    def apply(self, files: Sequence[Path], namespace: str, *, dry_run: bool = False) -> str:
        assert self.kubectl is not None
        argv = [self.kubectl, "apply", "--namespace", namespace]
        argv += ["--dry-run=server"] if dry_run else []
        for file in files:
            argv += ["-f", str(file)]
        return self._run(argv, "kubectl apply")

    def wait_job(self, name: str, namespace: str, timeout: str = "20m") -> None:
        assert self.kubectl is not None
        argv = [self.kubectl, "wait", "--namespace", namespace, "--for=condition=complete"]
        self._run([*argv, f"--timeout={timeout}", f"job/{name}"], f"the Job {name}")

    def upgrade_install(
        self, release: str, chart: Chart, values: Path, namespace: str, *, dry_run: bool = False
    ) -> str:
        argv = [self.helm, "upgrade", "--install", release, *chart.args, "-f", str(values)]
        argv += ["--namespace", namespace, "--timeout", "20m"]
        argv += ["--dry-run=server"] if dry_run else ["--wait"]
        return self._run(argv, "helm upgrade --install")
