"""Build the baked project image (`tinyctl k8s image`) and push it by digest, through the
Docker module. The digest the registry answers goes into `image.json`; `tinyctl k8s render`
then writes it into values.yaml, so the cluster runs exactly the image that was pushed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tinyctl.errors import BadInput, EnvironmentProblem
from tinyctl.spec.loader import LoadedSpec
from tinyctl.state.fsutil import write_atomic
from tinyctl.targets.docker.gateway import Docker
from tinyctl.targets.docker.images import ca_bundle
from tinyctl.targets.k8s.image import INPUTS_LABEL, BakePlan, planned_image, record_text
from tinyctl.targets.k8s.names import IMAGE_CONTEXT, IMAGE_RECORD


@dataclass(frozen=True)
class BakeResult:
    plan: BakePlan
    built: bool  # False: an image with the same inputs was there already
    pushed: str | None = None  # repository@sha256:... when pushed


BUILD_ENV = {"COMPOSE_BAKE": "false", "DOCKER_BUILDKIT": "1"}


def _compose_file(plan: BakePlan, tag: str, cacert: Path | None) -> bytes:
    """The build as a one-service compose file: Compose builds with BuildKit where the docker
    CLI has no buildx, as for every other image tinyctl builds."""
    build: dict = {"context": ".", "args": dict(sorted(plan.args.items()))}
    document: dict = {"services": {"image": {"image": tag, "build": build}}}
    if cacert is not None:
        build["secrets"] = ["cacert"]
        document["secrets"] = {"cacert": {"file": str(cacert)}}
    return json.dumps(document, indent=2).encode()


def _write_context(folder: Path, plan: BakePlan, compose: bytes) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for name, content in plan.files.items():
        write_atomic(folder / name, content, mode=0o644)
    write_atomic(folder / "compose.yaml", compose, mode=0o644)


def bake(
    loaded: LoadedSpec,
    environ: Mapping[str, str],
    state_root: Path,
    *,
    registry: str | None = None,
    docker: Docker | None = None,
    show_output: bool = False,
) -> BakeResult:
    """Build the image (unless the same inputs are built already) and, with a registry, push
    it; the base image must exist (`tinyctl build` makes a locally built one)."""
    docker = docker or Docker()
    plan = planned_image(loaded, environ, registry)
    local = f"tinyctl-k8s/{loaded.spec.project.name.replace('_', '-')}-airflow:{plan.tag}"
    built = False
    if docker.image_label(local, INPUTS_LABEL) != plan.digest:
        if plan.base_built and docker.image_id(plan.base) is None:
            raise EnvironmentProblem(
                f"the project's Airflow image {plan.base} is not built yet",
                hint="Run `tinyctl build` first (it builds the image the baked one extends).",
            )
        context = state_root / IMAGE_CONTEXT
        cacert = ca_bundle(loaded.spec, environ, loaded.root)
        _write_context(context, plan, _compose_file(plan, local, cacert))
        builder = Docker(context / "compose.yaml", f"tinyctl-k8s-{plan.digest}")
        builder.compose(["build"], f"building {local}", capture=not show_output, env=BUILD_ENV)
        built = True
    if registry is None:
        return BakeResult(plan, built)
    if not plan.repository.startswith(registry.rstrip("/") + "/"):
        raise BadInput(
            f"k8s.image.repository is {plan.repository}, which is not in the registry {registry}",
            hint=f"Push to its own registry (--push {plan.repository.rsplit('/', 1)[0]}), or "
            "remove k8s.image.repository to push to REGISTRY/<project>-airflow.",
        )
    digest = docker.push(local, plan.reference)
    write_atomic(state_root / IMAGE_RECORD, record_text(plan.repository, plan.tag, digest))
    return BakeResult(plan, built, f"{plan.repository}@{digest}")
