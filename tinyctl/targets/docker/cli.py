"""Docker CLI calls without python-on-whales.

python-on-whales costs about 0.15 s to import. Commands that only list or stop things (`down`,
the ownership check before it) run the `docker` CLI directly through `run`, with failures
translated exactly as the python-on-whales gateway (`tinyctl.targets.docker.whales`) translates them.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger("tinyctl.commands")

_LISTING = {
    "container": ["ps", "--all"],
    "volume": ["volume", "ls"],
    "network": ["network", "ls"],
}


def docker_binary(action: str) -> str:
    docker = shutil.which("docker")
    if docker is None:
        from tinyctl.targets.docker.whales import ClientNotFoundError, translate

        raise translate(ClientNotFoundError(), action)
    return docker


def run(args: Sequence[str], action: str) -> str:
    """`docker ARGS`; its stdout, or the translated error (EnvironmentProblem, WorkFailed)."""
    argv = [docker_binary(action), *args]
    log.debug("Running command: %s", shlex.join(argv))
    done = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        from tinyctl.targets.docker.whales import DockerException, translate

        raise translate(DockerException(argv, done.returncode, done.stdout, done.stderr), action)
    return done.stdout.decode(errors="replace")


def listing_args(kind: str, label: str, fields: Sequence[str]) -> list[str]:
    """`docker ps --all` / `volume ls` / `network ls` of what carries `label` (k=v), printing
    the name, then the value of each label in `fields`, tab-separated."""
    name = "{{.Names}}" if kind == "container" else "{{.Name}}"
    template = "\t".join([name, *(f'{{{{.Label "{f}"}}}}' for f in fields)])
    return [*_LISTING[kind], "--filter", f"label={label}", "--format", template]


def parse_listing(out: str) -> list[list[str]]:
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def resources(kind: str, label: str, fields: Sequence[str]) -> list[list[str]]:
    """Containers (all states), volumes or networks carrying `label`, each as [name, *fields]
    ("" for a missing label)."""
    args = listing_args(kind, label, fields)
    return parse_listing(run(args, f"docker {' '.join(_LISTING[kind])}"))


def start(args: Sequence[str], action: str) -> subprocess.Popen[bytes]:
    """`docker ARGS` in the background (e.g. `compose up -d`); `finish` waits for it."""
    argv = [docker_binary(action), *args]
    log.debug("Running command: %s", shlex.join(argv))
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )


def finish(process: subprocess.Popen[bytes], action: str) -> str:
    """Wait for a command from `start`; its failure becomes a tinyctl error."""
    stdout, _ = process.communicate()
    if process.returncode != 0:
        from tinyctl.targets.docker.whales import DockerException, translate

        raise translate(DockerException(process.args, process.returncode, stdout, b""), action)  # type: ignore[arg-type]
    return stdout.decode(errors="replace")


@dataclass(frozen=True)
class EngineInfo:
    server_version: str
    memory_bytes: int
    compose_version: str
    cpus: int


def parse_compose_version(text: str) -> str:
    """ "2.40.3" from `docker compose version`; EnvironmentProblem unless it is Compose v2+."""
    from tinyctl.errors import EnvironmentProblem

    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    if not match or int(match.group(1)) < 2:
        from tinyctl.targets.docker.whales import INSTALL_COMPOSE

        raise EnvironmentProblem(
            f"Docker Compose v2 is required (found {text.strip()})", hint=INSTALL_COMPOSE
        )
    return ".".join(match.groups())


def compose_version() -> str:
    """The Compose v2 plugin's version; EnvironmentProblem when it is missing."""
    from tinyctl.errors import EnvironmentProblem, TinyctlError

    try:
        text = run(["compose", "version"], "docker compose version")
    except EnvironmentProblem:
        raise
    except TinyctlError as error:
        from tinyctl.targets.docker.whales import INSTALL_COMPOSE

        raise EnvironmentProblem(
            "Docker Compose v2 is not installed", hint=INSTALL_COMPOSE, details=error.details
        ) from None
    return parse_compose_version(text)
