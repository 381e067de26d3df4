"""What tinyctl asks of a Docker engine and of the Compose project it renders for one spec.

Each question is one docker command run through `tinyctl.targets.docker.cli` (the chokepoint:
echo, missing binary, stderr-to-error map); nothing here starts a process itself.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyctl.errors import EnvironmentProblem, TinyctlError, WorkFailed
from tinyctl.targets.base import OneOffResult
from tinyctl.targets.docker import cli
from tinyctl.targets.docker.containers import ContainerState

_LISTING = {
    "container": ["ps", "--all"],
    "volume": ["volume", "ls"],
    "network": ["network", "ls"],
}
# `docker run` exits 125 when the engine could not start the container at all.
RUN_NOT_STARTED = 125


@dataclass(frozen=True)
class ServerInfo:
    server_version: str
    memory_bytes: int
    cpus: int

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ServerInfo:
        """From `docker system info --format '{{json .}}'`, or the engine API's `GET /info`
        (the same keys)."""
        return cls(
            server_version=str(info.get("ServerVersion") or "?"),
            memory_bytes=int(info.get("MemTotal") or 0),
            cpus=int(info.get("NCPU") or 0),
        )


@dataclass(frozen=True)
class EngineInfo:
    server_version: str
    memory_bytes: int
    compose_version: str
    cpus: int

    @classmethod
    def of(cls, server: ServerInfo, compose_version: str) -> EngineInfo:
        return cls(server.server_version, server.memory_bytes, compose_version, server.cpus)


def parse_compose_version(text: str) -> str:
    """ "2.40.3" from `docker compose version`; EnvironmentProblem unless it is Compose v2+."""
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    if not match or int(match.group(1)) < 2:
        raise EnvironmentProblem(
            f"Docker Compose v2 is required (found {text.strip()})", hint=cli.INSTALL_COMPOSE
        )
    return ".".join(match.groups())


def listing_args(kind: str, label: str, fields: Sequence[str]) -> list[str]:
    """`docker ps --all` / `volume ls` / `network ls` of what carries `label` (k=v), printing
    the name, then the value of each label in `fields`, tab-separated."""
    name = "{{.Names}}" if kind == "container" else "{{.Name}}"
    template = "\t".join([name, *(f'{{{{.Label "{f}"}}}}' for f in fields)])
    return [*_LISTING[kind], "--filter", f"label={label}", "--format", template]


def parse_listing(out: str) -> list[list[str]]:
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def parse_ps(out: str) -> list[ContainerState]:
    """`docker compose ps --format json`: one JSON array, or one object per line (>= 2.21)."""
    text = out.strip()
    if not text:
        return []
    if text.startswith("["):
        rows = json.loads(text)
    else:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return sorted((ContainerState.from_ps(r) for r in rows), key=lambda c: c.name)


class Docker:
    """A Docker engine, and the compose project tinyctl renders for one spec."""

    def __init__(self, compose_file: Path | None = None, project: str | None = None):
        self.compose_file = compose_file
        self.project = project

    def compose_args(self) -> list[str]:
        """`compose` with this project's file, name and folder."""
        args = ["compose"]
        if self.compose_file is not None:
            args += ["--file", str(self.compose_file)]
        if self.project is not None:
            args += ["--project-name", self.project]
        if self.compose_file is not None:
            args += ["--project-directory", str(self.compose_file.parent)]
        return args

    # ------------------------------------------------------------------ engine

    def server(self) -> ServerInfo:
        """Facts of a reachable engine (`docker system info`)."""
        out = cli.run(["system", "info", "--format", "{{json .}}"], "docker info")
        return ServerInfo.from_info(json.loads(out))

    def server_version(self) -> dict[str, Any]:
        """The engine's `GET /version` (`docker version`'s Server part: Components, Version)."""
        out = cli.run(["version", "--format", "{{json .Server}}"], "docker version")
        return json.loads(out or "{}") or {}

    def compose_version(self) -> str:
        """The Compose v2 version, e.g. "2.40.3"; EnvironmentProblem when Compose v2 is missing."""
        try:
            text = cli.run(["compose", "version"], "docker compose version")
        except EnvironmentProblem:
            raise
        except TinyctlError as error:
            raise EnvironmentProblem(
                "Docker Compose v2 is not installed",
                hint=cli.INSTALL_COMPOSE,
                details=error.details,
            ) from None
        return parse_compose_version(text)

    def engine(self) -> EngineInfo:
        """Engine and Compose facts; raises EnvironmentProblem when either is missing."""
        return EngineInfo.of(self.server(), self.compose_version())

    # ------------------------------------------------------------------ images

    def image_label(self, tag: str, label: str) -> str | None:
        """The value of `label` on image `tag`; None when the image does not exist."""
        done = cli.output(["image", "inspect", "--format", "{{json .Config.Labels}}", tag])
        if done.return_code != 0:
            if re.search(r"no such image|image not known", done.text.lower()):
                return None
            raise cli.translate(done, f"docker image inspect {tag}")
        labels = json.loads(done.stdout or "null") or {}
        return labels.get(label, "")

    def image_id(self, reference: str) -> str | None:
        """The image id (sha256:...) of a local image; None when it does not exist."""
        done = cli.output(["image", "inspect", "--format", "{{.Id}}", reference])
        if done.return_code != 0:
            if re.search(r"no such image|image not known", done.text.lower()):
                return None
            raise cli.translate(done, f"docker image inspect {reference}")
        return done.stdout.strip()

    def push(self, source: str, reference: str) -> str:
        """Tag `source` as `reference` (repository:tag), push it; returns the pushed digest."""
        cli.run(["tag", source, reference], f"docker tag {reference}")
        out = cli.run(["push", reference], f"docker push {reference}")
        match = re.search(r"digest: (sha256:[0-9a-f]{64})", out or "")
        if match is None:
            raise WorkFailed(f"docker push {reference} printed no digest", details=cli.tail(out))
        return match.group(1)

    def import_rootfs(
        self, tarball: Path, tag: str, labels: dict[str, str], env: dict[str, str]
    ) -> None:
        changes = [f"LABEL {k}={json.dumps(v)}" for k, v in labels.items()]
        changes += [f"ENV {k}={json.dumps(v)}" for k, v in env.items()]
        changes.append('CMD ["/bin/bash"]')
        args = ["image", "import"]
        for change in changes:
            args += ["--change", change]
        args += ["--message", "tinyctl debian base", str(tarball), tag]
        cli.run(args, f"docker import {tag}")

    # ------------------------------------------------------------------ compose project

    def compose(
        self,
        args: Sequence[str],
        action: str,
        *,
        capture: bool = True,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run a compose command of this project; `env` adds variables for this command only."""
        return cli.run([*self.compose_args(), *args], action, capture=capture, env=env)

    def start_compose(self, args: Sequence[str]):
        """A compose command of this project in the background (`up -d`); `cli.finish` waits."""
        return cli.start([*self.compose_args(), *args])

    def compose_config(self) -> dict[str, Any]:
        """The project's compose file as Compose reads it (paths absolute, defaults filled)."""
        return json.loads(self.compose(["config", "--format", "json"], "docker compose config"))

    def podman_build(self, args: Sequence[str], image: str, *, capture: bool = True) -> None:
        """`podman ARGS` (a `--remote build` from `podman.build_argv`) of one image."""
        cli.run(args, f"podman build {image}", capture=capture, program="podman")

    def compose_interactive(self, args: Sequence[str]) -> int:
        """Run a compose command attached to the terminal (psql, logs -f); returns its exit code."""
        return cli.call([*self.compose_args(), *args])

    def ps(self) -> list[ContainerState]:
        """Every container of the project, running or not (one `docker compose ps` call)."""
        return parse_ps(self.compose(["ps", "--all", "--format", "json"], "docker compose ps"))

    def logs(
        self, service: str | None, *, tail: int | None = None, follow: bool = False
    ) -> Iterator[str]:
        args = ["logs", "--no-color"]
        if tail is not None:
            args += ["--tail", str(tail)]
        if follow:
            args.append("--follow")
        if service:
            args.append(service)
        if not follow:
            yield from self.compose(args, "docker compose logs").splitlines()
            return
        process = self.start_compose(args)
        assert process.stdout is not None
        try:
            for raw in process.stdout:
                yield raw.decode(errors="replace").rstrip("\n")
        finally:
            process.terminate()
            process.wait()

    def exec(
        self,
        service: str,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """Run a command in a service's running container; returns (exit code, output)."""
        args = [*self.compose_args(), "exec", "-T"]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        done = cli.output([*args, service, *argv], input=input)
        return done.return_code, done.stdout + done.stderr

    def run_container(
        self,
        image: str,
        argv: Sequence[str],
        *,
        mounts: Sequence[tuple[str, str, bool]] = (),
        env: dict[str, str] | None = None,
        input: bytes | None = None,
        network: bool = False,
        workdir: str | None = None,
        interactive: bool = False,
        labels: dict[str, str] | None = None,
    ) -> OneOffResult:
        """`docker run --rm` of a one-off container.

        The image's entrypoint is replaced by argv[0] (both Airflow images put python/pytest/
        airflow on PATH), so no entrypoint logic (database waits, user setup) runs."""
        args = ["run", "--rm", "--entrypoint", argv[0]]
        args += ["--interactive"] if (input is not None or interactive) else []
        if interactive and os.isatty(0) and os.isatty(1):
            args.append("--tty")
        if not network:
            args += ["--network", "none"]
        for source, target, read_only in mounts:
            args += ["--volume", f"{source}:{target}{':ro' if read_only else ''}"]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        if workdir:
            args += ["--workdir", workdir]
        args += [image, *argv[1:]]
        if interactive:
            return OneOffResult(cli.call(args), "", "")
        done = cli.output(args, input=input)
        if done.return_code == RUN_NOT_STARTED:
            raise cli.translate(done, f"docker run {image}")
        return OneOffResult(done.return_code, done.stdout, done.stderr)

    # ------------------------------------------------------------------ resources

    def containers_publishing(self, port: int) -> list[tuple[str, str]]:
        """(container name, compose project) of running containers that publish host `port`."""
        template = '{{.Names}}\t{{.Label "com.docker.compose.project"}}'
        out = cli.run(["ps", "--filter", f"publish={port}", "--format", template], "docker ps")
        rows = ([*row, ""][:2] for row in parse_listing(out))
        return [(name, project) for name, project in rows if name]

    def resources(self, kind: str, label: str, fields: Sequence[str]) -> list[list[str]]:
        """Containers (all states), volumes or networks carrying `label` (k=v), each as
        [name, *values of the labels in `fields`] ("" for a missing label)."""
        args = listing_args(kind, label, fields)
        return parse_listing(cli.run(args, f"docker {' '.join(_LISTING[kind])}"))

    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        args = ["volume", "create"]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        cli.run([*args, name], "docker volume create")

    def remove_volumes(self, names: Sequence[str]) -> None:
        if names:
            cli.run(["volume", "rm", *names], "docker volume rm")

    def set_cpu_shares(self, containers: Sequence[str], shares: int) -> None:
        """`docker update --cpu-shares`: the containers' CPU weight, as they run."""
        cli.run(["update", "--cpu-shares", str(shares), *containers], "docker update")

    def inspect(self, container: str) -> dict[str, Any]:
        """`docker inspect CONTAINER` (what the engine API's inspection gives, through the CLI)."""
        out = cli.run(["inspect", "--type", "container", container], "docker inspect")
        try:
            data = json.loads(out)
        except ValueError:
            return {}
        return data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}

    def service_ip(self, service: str) -> str | None:
        """The IP address of a running service container on the project network."""
        running = [c for c in self.ps() if c.service == service and c.state == "running"]
        if not running:
            return None
        template = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        out = cli.run(["inspect", "--format", template, running[0].name], "docker inspect")
        addresses = out.split()
        return addresses[0] if addresses else None
