"""Docker failures become tinyctl errors that say what to do. The engine-down case is real:
the CLI is pointed at a socket where no engine listens."""

from __future__ import annotations

from pathlib import Path

import pytest
from python_on_whales.exceptions import DockerException

from tinyctl.errors import EnvironmentProblem, WorkFailed
from tinyctl.targets.docker.whales import ContainerState, Docker, translate


def test_an_unreachable_engine_says_how_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(EnvironmentProblem) as caught:
        Docker().engine()
    assert "not reachable" in caught.value.message
    assert "dockerd" in (caught.value.hint or "")


def test_missing_docker_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EnvironmentProblem, match="`docker` command is not installed"):
        Docker().engine()


@pytest.mark.parametrize(
    ("stderr", "kind", "text"),
    [
        (
            "Error response from daemon: pull access denied for x",
            EnvironmentProblem,
            "could not be pulled",
        ),
        (
            "Bind for 127.0.0.1:8080 failed: port is already allocated",
            EnvironmentProblem,
            "port is already in use",
        ),
        (
            "docker: 'compose' is not a docker command.",
            EnvironmentProblem,
            "Compose v2 is not installed",
        ),
        ("something else broke", WorkFailed, "failed (exit code 1)"),
    ],
)
def test_translation(stderr: str, kind: type, text: str) -> None:
    error = translate(
        DockerException(["docker", "compose", "up"], 1, b"", stderr.encode()), "docker compose up"
    )
    assert isinstance(error, kind) and text in error.message


def test_ps_rows_are_parsed() -> None:
    row = {
        "Name": "p-worker-2",
        "Service": "worker",
        "State": "running",
        "Health": "healthy",
        "ExitCode": 0,
        "Publishers": [
            {"URL": "127.0.0.1", "TargetPort": 8080, "PublishedPort": 18080, "Protocol": "tcp"},
            {"URL": "", "TargetPort": 8793, "PublishedPort": 0, "Protocol": "tcp"},
        ],
    }
    state = ContainerState.from_ps(row)
    assert state.ports == ("127.0.0.1:18080->8080",) and state.published == (18080,)
