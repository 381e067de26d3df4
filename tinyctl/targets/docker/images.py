"""Which image each service runs, and how to build the ones that are built locally.

Pure planning: this module reads recipe files from `docker/` and decides tags, build contexts
and the digest of each build's inputs. Building is the runtime's job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tinyctl.resources import docker_dir
from tinyctl.spec.checks import image_source
from tinyctl.spec.image_inputs import image_inputs
from tinyctl.spec.loaded import LoadedSpec
from tinyctl.spec.models import DEBIAN_POSTGRES_VERSION, Spec

INPUTS_LABEL = "org.tinyctl.inputs"
BASE_IMAGE = "tinyctl/debian-base:bookworm"
DEBIAN_SUITE = "bookworm"
REDIS_OFFICIAL = "redis:7"
IMAGE_NAMESPACE_ENV = "TINYCTL_IMAGE_NAMESPACE"


@dataclass(frozen=True)
class ImageBuild:
    """A locally built image: its build context (relative to the state folder) and inputs."""

    context: str  # e.g. "build/airflow"
    files: Mapping[str, bytes]  # build context: relative path -> content
    args: Mapping[str, str] = field(default_factory=dict)
    needs_base: bool = False

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        h.update(json.dumps(dict(self.args), sort_keys=True).encode())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class ImagePlan:
    service: str  # the compose service that carries the build section
    image: str
    build: ImageBuild | None = None


@dataclass(frozen=True)
class BaseImage:
    """The Debian root filesystem image that `images.source: debian` builds everything from."""

    tag: str
    suite: str
    mirror: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(
            f"{self.suite}|{self.mirror}|minbase|ca-certificates".encode()
        ).hexdigest()[:16]


def _recipe(name: str) -> dict[str, bytes]:
    root = docker_dir() / name
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != "README.md" and "__pycache__" not in path.parts:
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def plan_images(loaded: LoadedSpec, environ: Mapping[str, str]) -> list[ImagePlan]:
    """The airflow, postgres (and with Celery, redis) images of the stack.

    The project's requirements and system packages (inline or from their files) are part of
    the Airflow build's inputs, so a changed file changes the digest and triggers a rebuild.
    """
    spec: Spec = loaded.spec
    source = image_source(spec, environ)
    # Images built for this project are tagged under its name; `tinyctl ci run` names each run's
    # stack uniquely but keeps the project's images (and their build cache) with this variable.
    project = environ.get(IMAGE_NAMESPACE_ENV) or spec.project.name
    af, pg = spec.airflow, spec.postgres
    index = spec.images.pip_index_url or ""
    plans: list[ImagePlan] = []

    # Airflow
    inputs = image_inputs(loaded)
    extra = {"requirements.txt": inputs.requirements_txt(), "packages.txt": inputs.packages_txt()}
    if af.image and inputs.empty:
        plans.append(ImagePlan("airflow-init", af.image))
    elif source == "debian" and not af.image:
        files = {**_recipe("airflow-debian"), **extra}
        tag = (
            f"tinyctl/airflow:{af.version}-debian"
            if inputs.empty
            else f"tinyctl-{project}/airflow:{af.version}-debian"
        )
        build = ImageBuild(
            "build/airflow",
            files,
            {"AIRFLOW_VERSION": af.version, "PIP_INDEX_URL": index},
            needs_base=True,
        )
        plans.append(ImagePlan("airflow-init", tag, build))
    elif not inputs.empty:
        base = af.image or f"apache/airflow:{af.version}"
        files = {**_recipe("airflow-extend"), **extra}
        build = ImageBuild(
            "build/airflow",
            files,
            {"BASE_IMAGE": base, "AIRFLOW_VERSION": af.version, "PIP_INDEX_URL": index},
        )
        plans.append(ImagePlan("airflow-init", f"tinyctl-{project}/airflow:{af.version}", build))
    else:
        plans.append(ImagePlan("airflow-init", f"apache/airflow:{af.version}"))

    # Postgres
    if pg.image:
        plans.append(ImagePlan("postgres", pg.image))
    elif source == "debian":
        build = ImageBuild("build/postgres", _recipe("postgres-debian"), needs_base=True)
        plans.append(
            ImagePlan("postgres", f"tinyctl/postgres:{DEBIAN_POSTGRES_VERSION}-debian", build)
        )
    else:
        plans.append(ImagePlan("postgres", f"postgres:{pg.version}"))

    # Redis, the Celery broker
    if af.executor == "CeleryExecutor":
        if source == "debian":
            build = ImageBuild("build/redis", _recipe("redis-debian"), needs_base=True)
            plans.append(ImagePlan("redis", "tinyctl/redis:7-debian", build))
        else:
            plans.append(ImagePlan("redis", REDIS_OFFICIAL))
    return plans


def base_image(loaded: LoadedSpec, environ: Mapping[str, str]) -> BaseImage | None:
    """The Debian base image, when any planned build needs it."""
    if not any(p.build and p.build.needs_base for p in plan_images(loaded, environ)):
        return None
    return BaseImage(BASE_IMAGE, DEBIAN_SUITE, loaded.spec.images.debian_mirror)


def ca_bundle(spec: Spec, environ: Mapping[str, str], root: Path) -> Path | None:
    """The CA bundle handed to builds: the spec's, else PIP_CERT / REQUESTS_CA_BUNDLE / SSL_CERT_FILE."""
    if spec.images.ca_bundle:
        return (root / spec.images.ca_bundle).resolve()
    for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = environ.get(name)
        if value and Path(value).is_file():
            return Path(value).resolve()
    return None
