"""Podman behind DOCKER_HOST: how to tell, what its Docker-compatible API (4.3) cannot do, and
the two things tinyctl does differently there.

Podman's `podman system service` answers Docker's engine API, so the docker CLI and the same
Compose v2 plugin drive it. Two gaps matter to a tinyctl stack:

- Builds. The compat API has no BuildKit (no /session, no /grpc): Compose then boots a
  `moby/buildkit` container (a registry pull), or with DOCKER_BUILDKIT=0 uses its classic
  builder, which refuses `build.secrets` (the CA bundle). tinyctl builds each image with
  `podman --remote build` on the same socket instead: buildah under it runs the same
  Dockerfiles (RUN --mount=type=secret and type=bind, COPY --chmod) with the CA bundle as a
  build secret, from the build sections of the rendered compose file (`build_argv`).
- Health checks. Podman schedules them with systemd timers; without systemd (a container, WSL,
  most CI) they never run and a container stays "starting", so Compose's `service_healthy`
  conditions never hold. tinyctl runs them itself through the libpod API while it waits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from tinyctl.errors import BadInput

PODMAN_COMPONENT = "Podman Engine"
# The libpod API path that runs a container's health check once and returns its result.
HEALTHCHECK_PATH = "/v4.0.0/libpod/containers/{name}/healthcheck"


@dataclass(frozen=True)
class EngineProduct:
    """Which engine answers on DOCKER_HOST: "Docker Engine" or "Podman", and its version."""

    name: str
    version: str

    @property
    def is_podman(self) -> bool:
        return self.name == "Podman"


def product_of(server: Mapping[str, Any]) -> EngineProduct:
    """From the engine API's `GET /version` (or `docker version --format '{{json .Server}}'`):
    Podman lists a "Podman Engine" component."""
    for component in server.get("Components") or []:
        if str(component.get("Name", "")) == PODMAN_COMPONENT:
            return EngineProduct("Podman", str(component.get("Version") or server.get("Version")))
    return EngineProduct("Docker Engine", str(server.get("Version") or "?"))


# What tinyctl runs on Podman 4.3 as on Docker (each covered by the `podman` tests).
WORKS = (
    "up",
    "status",
    "deploy-dags",
    "seed",
    "test-etl",
    "down",
    "build (images.source debian: debootstrap + import, then podman build)",
)


@dataclass(frozen=True)
class Limit:
    """Something Podman 4.3's Docker-compatible API does not do, and what tinyctl does instead."""

    feature: str
    podman: str
    tinyctl: str


LIMITS: tuple[Limit, ...] = (
    Limit(
        "BuildKit builds through Compose",
        "no BuildKit in the compat API: Compose boots a moby/buildkit container (needs a "
        "registry); its classic builder (DOCKER_BUILDKIT=0) refuses build.secrets",
        "builds each image with `podman --remote build` (buildah): same Dockerfiles, CA bundle "
        "as a build secret",
    ),
    Limit(
        "health checks",
        "run by systemd timers only: without systemd they never run (health stays 'starting')",
        "runs them through the libpod API while `up`/`restart` wait and on `status`; between "
        "tinyctl commands `docker ps` shows the last result",
    ),
    Limit(
        "`docker events` health results",
        "a health_status event carries no result (Docker's says `health_status: healthy`), "
        "and the container list shows no health",
        "watches the stack by asking the engine once a second instead of streaming events",
    ),
)

# The keys of a Compose `build:` section that `build_argv` turns into podman flags.
_SUPPORTED_BUILD_KEYS = {"context", "dockerfile", "args", "labels", "network", "secrets"}


def build_argv(
    url: str,
    image: str,
    build: Mapping[str, Any],
    secret_files: Mapping[str, str],
    *,
    no_cache: bool = False,
) -> list[str]:
    """`podman --remote --url URL build ...` args for one service's build section of
    `docker compose config --format json` (context made absolute by Compose); `secret_files`
    is the config's top-level secrets (name -> file)."""
    unknown = sorted(set(build) - _SUPPORTED_BUILD_KEYS)
    if unknown:
        raise BadInput(
            f"the build of {image} uses {', '.join(unknown)}, which tinyctl cannot pass to "
            "`podman build`",
            hint="Build that image on a Docker engine, or remove those build keys.",
        )
    argv = ["--remote", "--url", url, "build", "--tag", image]
    # podman reads a relative --file from its own folder, Compose from the context
    argv += [
        "--file",
        str(PurePosixPath(build["context"], build.get("dockerfile") or "Dockerfile")),
    ]
    if build.get("network"):
        argv += ["--network", str(build["network"])]
    for key, value in (build.get("args") or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in (build.get("labels") or {}).items():
        argv += ["--label", f"{key}={value}"]
    for secret in build.get("secrets") or []:
        name = secret["source"] if isinstance(secret, Mapping) else str(secret)
        target = secret.get("target", name) if isinstance(secret, Mapping) else name
        argv += ["--secret", f"id={target},src={secret_files[name]}"]
    if no_cache:
        argv.append("--no-cache")
    return [*argv, str(build["context"])]


def secret_files(config: Mapping[str, Any]) -> dict[str, str]:
    """Top-level secrets of a compose config that come from a file: name -> path."""
    return {
        name: str(value["file"])
        for name, value in (config.get("secrets") or {}).items()
        if isinstance(value, Mapping) and value.get("file")
    }


def services_built(config: Mapping[str, Any], services: Sequence[str]) -> list[tuple[str, dict]]:
    """(image, build section) of each of `services` that has a build section."""
    found = config.get("services") or {}
    return [
        (str(found[s]["image"]), dict(found[s]["build"]))
        for s in services
        if s in found and found[s].get("build")
    ]
