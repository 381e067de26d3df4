"""The baked project image of the Kubernetes target (the chart's "bake DAGs in the image" way).

Pure planning: the build context (DAGs, plugins/, include/, the providers a profile needs) on top
of the project's Airflow image (which already holds its requirements and system packages), and a
tag derived from the digest of all of it, so the same inputs always give the same tag. Building
and pushing is `tinyctl.targets.k8s.bake`'s job; the pushed digest is kept in `image.json`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyctl.plan.values import Place
from tinyctl.spec.loaded import LoadedSpec
from tinyctl.targets.docker.images import plan_images
from tinyctl.targets.k8s.chart import PLACES

AIRFLOW_HOME = PLACES[Place.AIRFLOW_HOME]
LIB_DIR = PLACES[Place.LIB]  # the package `include` is in it, on PYTHONPATH
INPUTS_LABEL = "org.tinyctl.k8s-inputs"
# Extra files the build context never takes from the project folders.
SKIPPED_PARTS = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache", ".ipynb_checkpoints"}
SKIPPED_SUFFIXES = (".pyc", ".pyo")

DOCKERFILE = """\
# The project image for Kubernetes, written by `tinyctl k8s image`: the project's Airflow image
# with the DAGs, plugins/ and include/ baked in. Airflow stays at the base image's version.
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
USER 50000
COPY providers.txt /tmp/tinyctl-providers.txt
ARG PIP_INDEX_URL=
RUN --mount=type=secret,id=cacert,mode=0444 \\
    set -eu; \\
    if [ ! -s /tmp/tinyctl-providers.txt ]; then exit 0; fi; \\
    if [ -s /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi; \\
    if [ -z "${{PIP_INDEX_URL:-}}" ]; then unset PIP_INDEX_URL; fi; \\
    v="$(python -c 'from importlib.metadata import version; print(version("apache-airflow"))')"; \\
    pin="$(mktemp)"; printf 'apache-airflow==%s\\n' "$v" > "$pin"; \\
    pip install --no-cache-dir --disable-pip-version-check --constraint "$pin" \\
        -r /tmp/tinyctl-providers.txt; \\
    rm -f "$pin"
COPY --chown=50000:0 dags/ {home}/dags/
COPY --chown=50000:0 plugins/ {home}/plugins/
COPY --chown=50000:0 include/ {lib}/include/
ENV PYTHONPATH={lib} AIRFLOW__CORE__PLUGINS_FOLDER={home}/plugins
ARG INPUTS
LABEL {label}="${{INPUTS}}" org.opencontainers.image.title="tinyctl project image for Kubernetes"
"""


@dataclass(frozen=True)
class BakePlan:
    base: str  # the project's Airflow image (built locally when it has a build)
    base_built: bool  # True: `tinyctl build` makes the base; else it is pulled
    repository: str
    tag: str
    digest: str  # of every input: the context's files and the base
    files: Mapping[str, bytes]  # the build context: relative path -> content
    args: Mapping[str, str]

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


def _folder_files(root: Path, prefix: str) -> Iterator[tuple[str, bytes]]:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if SKIPPED_PARTS & set(relative.parts) or path.name.endswith(SKIPPED_SUFFIXES):
            continue
        if path.is_file():
            yield f"{prefix}/{relative.as_posix()}", path.read_bytes()


def providers(loaded: LoadedSpec) -> list[str]:
    """The providers a profile adds to the image: eks logs to S3 with the Amazon provider."""
    return ["apache-airflow-providers-amazon"] if loaded.spec.k8s.profile == "eks" else []


def repository(loaded: LoadedSpec, registry: str | None = None) -> str:
    spec = loaded.spec
    if spec.k8s.image.repository:
        return spec.k8s.image.repository
    name = f"{spec.project.name.replace('_', '-')}-airflow"
    return f"{registry.rstrip('/')}/{name}" if registry else f"tinyctl-k8s/{name}"


def planned_image(
    loaded: LoadedSpec, environ: Mapping[str, str], registry: str | None = None
) -> BakePlan:
    spec = loaded.spec
    base = next(p for p in plan_images(loaded, environ) if p.service == "airflow-init")
    files: dict[str, bytes] = {
        "Dockerfile": DOCKERFILE.format(
            home=AIRFLOW_HOME, lib=LIB_DIR, label=INPUTS_LABEL
        ).encode(),
        "providers.txt": "".join(f"{p}\n" for p in providers(loaded)).encode(),
    }
    for folder, prefix in (
        (spec.dags.path, "dags"),
        (spec.plugins.path, "plugins"),
        (spec.include.path, "include"),
    ):
        files[f"{prefix}/.keep"] = b""  # COPY needs the folder even when the project has none
        files.update(_folder_files(loaded.path(folder), prefix))
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    h.update(base.image.encode() + b"\0" + (base.build.digest if base.build else "").encode())
    digest = h.hexdigest()[:16]
    args = {
        "BASE_IMAGE": base.image,
        "INPUTS": digest,
        "PIP_INDEX_URL": spec.images.pip_index_url or "",
    }
    return BakePlan(
        base=base.image,
        base_built=base.build is not None,
        repository=repository(loaded, registry),
        tag=f"{spec.airflow.version}-{digest}",
        digest=digest,
        files=files,
        args=args,
    )


def read_record(path: Path) -> dict[str, Any] | None:
    """What the last `k8s image --push` pushed: repository, tag and digest."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not all(
        isinstance(record.get(k), str) for k in ("repository", "tag", "digest")
    ):
        return None
    return record


def record_text(repository: str, tag: str, digest: str) -> bytes:
    record = {"repository": repository, "tag": tag, "digest": digest}
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
