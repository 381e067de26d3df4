"""The Kubernetes target's files, rendered from the plan. Pure: plan + inputs -> files.

- `values.yaml`: values for Airflow's official chart (1.19) (`values`). Every secret is named,
  never given.
- `secrets.yaml`: the Kubernetes Secrets those names point at (mode 0600, git-ignored).
- `jobs.yaml`: the warehouse bootstrap (the shared bootstrap template, as every target runs it)
  and the pools, as Jobs with their ConfigMaps (`manifests`).

Only what the cluster alone decides comes from outside the plan (`release.K8sInputs`).
"""

from __future__ import annotations

from tinyctl.plan.model import StackPlan
from tinyctl.targets.base import RenderedFile
from tinyctl.targets.k8s.manifests import render_jobs, render_secrets
from tinyctl.targets.k8s.names import GITIGNORE, JOBS, SECRETS, VALUES
from tinyctl.targets.k8s.release import K8sInputs
from tinyctl.targets.k8s.values import render_values

SECRET_MODE = 0o600


def render_files(plan: StackPlan, inputs: K8sInputs) -> dict[str, RenderedFile]:
    """{path relative to the state folder: file}."""
    return {
        GITIGNORE: RenderedFile(b"# tinyctl k8s: never commit the Secrets\nsecrets.yaml\nimage/\n"),
        VALUES: RenderedFile(render_values(plan, inputs).encode()),
        SECRETS: RenderedFile(render_secrets(plan, inputs).encode(), SECRET_MODE),
        JOBS: RenderedFile(render_jobs(plan, inputs).encode()),
    }
