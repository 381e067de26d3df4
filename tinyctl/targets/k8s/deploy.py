"""`tinyctl k8s deploy`: apply the rendered release to the cluster of the current kube context.

Order: the Secrets; with an external PostgreSQL the warehouse bootstrap Job, waited for, since
Airflow's migrations need the metadata database it creates; `helm upgrade --install --wait`;
with the bundled PostgreSQL (it creates Airflow's database itself) the bootstrap Job after it;
then the pools Job. `--dry-run` with a reachable cluster asks the API server (server-side dry
runs); without one it does what works offline: `helm install --dry-run=client` of the release.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tinyctl.errors import EnvironmentProblem
from tinyctl.targets.k8s.helm import Chart, Helm
from tinyctl.targets.k8s.names import JOBS, SECRETS, VALUES


@dataclass
class DeployResult:
    context: str | None  # None: offline dry run
    steps: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)  # "Kind/name" of a dry run


def job_names(jobs_file: Path) -> dict[str, str]:
    """component (warehouse, pools) -> Job name, from jobs.yaml."""
    names = {}
    for doc in yaml.safe_load_all(jobs_file.read_text(encoding="utf-8")):
        if isinstance(doc, dict) and doc.get("kind") == "Job":
            names[doc["metadata"]["labels"]["app.kubernetes.io/component"]] = doc["metadata"][
                "name"
            ]
    return names


def manifest_names(text: str) -> list[str]:
    """Kind/name of every document of a rendered release (never its content: Secrets)."""
    found = []
    for doc in yaml.safe_load_all(text.split("\nNOTES:\n")[0]):
        if isinstance(doc, dict) and doc.get("kind"):
            found.append(f"{doc['kind']}/{doc.get('metadata', {}).get('name', '?')}")
    return found


def deploy(
    state_root: Path,
    *,
    release: str,
    namespace: str,
    chart: Chart,
    external_db: bool,
    environ: Mapping[str, str],
    dry_run: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> DeployResult:
    step = on_step or (lambda _text: None)
    helm = Helm(environ)
    helm.check_chart(chart)
    values, secrets, jobs = (state_root / name for name in (VALUES, SECRETS, JOBS))
    if dry_run:
        try:
            context = helm.context()
        except EnvironmentProblem:
            step("no cluster answers: helm install --dry-run=client (offline)")
            out = helm.install_dry_run(release, chart, values, namespace)
            ours = [manifest_names(path.read_text(encoding="utf-8")) for path in (secrets, jobs)]
            names = [*ours[0], *ours[1], *manifest_names(out)]
            return DeployResult(None, ["helm install --dry-run=client"], names)
        step(f"dry run against {context}")
        helm.apply([secrets, jobs], namespace, dry_run=True)
        out = helm.upgrade_install(release, chart, values, namespace, dry_run=True)
        return DeployResult(
            context,
            ["kubectl apply --dry-run=server", "helm upgrade --install --dry-run=server"],
            manifest_names(out),
        )
    context = helm.context()
    result = DeployResult(context)
    jobs_by_component = job_names(jobs)

    def do(text: str, action: Callable[[], object]) -> None:
        step(text)
        action()
        result.steps.append(text)

    do(f"namespace {namespace}", lambda: helm.ensure_namespace(namespace))
    do("Secrets (kubectl apply secrets.yaml)", lambda: helm.apply([secrets], namespace))
    do("Jobs (kubectl apply jobs.yaml)", lambda: helm.apply([jobs], namespace))
    warehouse = jobs_by_component["warehouse"]
    if external_db:
        do(f"waiting for {warehouse}", lambda: helm.wait_job(warehouse, namespace))
    do(
        f"helm upgrade --install {release}",
        lambda: helm.upgrade_install(release, chart, values, namespace),
    )
    if not external_db:
        do(f"waiting for {warehouse}", lambda: helm.wait_job(warehouse, namespace))
    if "pools" in jobs_by_component:
        pools = jobs_by_component["pools"]
        do(f"waiting for {pools}", lambda: helm.wait_job(pools, namespace))
    return result
