"""Docker CLI calls without python-on-whales.

python-on-whales costs about 0.15 s to import. Commands that only list or stop things (`down`,
the ownership check before it) run the `docker` CLI directly through `run`, with failures
translated exactly as the python-on-whales gateway (`tinyctl.runtime.docker`) translates them.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from collections.abc import Sequence

log = logging.getLogger("tinyctl.commands")

_LISTING = {
    "container": ["ps", "--all"],
    "volume": ["volume", "ls"],
    "network": ["network", "ls"],
}


def docker_binary(action: str) -> str:
    docker = shutil.which("docker")
    if docker is None:
        from tinyctl.runtime.docker import ClientNotFoundError, translate

        raise translate(ClientNotFoundError(), action)
    return docker


def run(args: Sequence[str], action: str) -> str:
    """`docker ARGS`; its stdout, or the translated error (EnvironmentProblem, WorkFailed)."""
    argv = [docker_binary(action), *args]
    log.debug("Running command: %s", shlex.join(argv))
    done = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        from tinyctl.runtime.docker import DockerException, translate

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
