"""A container as the engine API lists it reads as `docker compose ps` reports it."""

from __future__ import annotations

import pytest

from tinyctl.targets.docker.containers import ContainerState

LABELS = {
    "com.docker.compose.project": "demo",
    "com.docker.compose.service": "postgres",
    "io.tinyctl.project-id": "0123abcd",
}


def _row(status: str, state: str = "running", **extra: object) -> dict[str, object]:
    return {
        "Names": ["/demo-postgres-1"],
        "State": state,
        "Status": status,
        "Labels": LABELS,
        "Ports": [
            {"IP": "127.0.0.1", "PrivatePort": 5432, "PublicPort": 5434, "Type": "tcp"},
            {"PrivatePort": 8080, "Type": "tcp"},  # exposed, not published
        ],
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("Up 2 minutes (healthy)", "healthy"),
        ("Up 3 seconds (health: starting)", "starting"),
        ("Up 1 hour (unhealthy)", "unhealthy"),
        ("Up 5 minutes", ""),
    ],
)
def test_health_from_the_status_text(status: str, health: str) -> None:
    container = ContainerState.from_api(_row(status))
    assert container.health == health
    assert container.name == "demo-postgres-1" and container.service == "postgres"
    assert container.state == "running" and container.exit_code == 0
    assert container.ports == ("127.0.0.1:5434->5432",) and container.published == (5434,)
    assert container.label("io.tinyctl.project-id") == "0123abcd"
    assert container.label("com.docker.compose.project") == "demo"


def test_the_health_field_of_newer_engines_wins() -> None:
    row = _row("Up 2 minutes (healthy)", Health={"Status": "unhealthy", "FailingStreak": 3})
    assert ContainerState.from_api(row).health == "unhealthy"


def test_an_exited_container_has_its_exit_code() -> None:
    container = ContainerState.from_api(_row("Exited (137) 5 seconds ago", state="exited"))
    assert container.state == "exited" and container.exit_code == 137 and container.health == ""


def test_from_api_matches_from_ps() -> None:
    ps = ContainerState.from_ps(
        {
            "Name": "demo-postgres-1",
            "Service": "postgres",
            "State": "running",
            "Health": "healthy",
            "ExitCode": 0,
            "Publishers": [
                {"URL": "127.0.0.1", "TargetPort": 5432, "PublishedPort": 5434, "Protocol": "tcp"}
            ],
            "Labels": ",".join(f"{k}={v}" for k, v in LABELS.items()),
        }
    )
    assert ContainerState.from_api(_row("Up 2 minutes (healthy)")) == ps
