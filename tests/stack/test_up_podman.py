"""The Compose runtime on Podman (`make test-podman`): doctor names Podman and its limits, and
a whole stack runs there as on Docker: up, status, deploy-dags, seed, test-etl, down.

The images are built from the local Debian base through Podman itself (debootstrap + import,
then `podman --remote build` with the CA bundle as a build secret), into the service's own
storage: the first run builds Airflow (~9 min on 2 cores), later runs reuse it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import new_stack, ok, tinyctl
from podman_service import docker_on

from tinyctl.targets.docker.podman import LIMITS

pytestmark = pytest.mark.podman


def test_doctor_says_the_engine_is_podman_and_what_it_cannot_do(podman_host: str, tmp_path: Path):
    report = json.loads(
        ok(tinyctl("doctor", "--json", cwd=tmp_path, env={"DOCKER_HOST": podman_host})).stdout
    )
    engine = next(c for c in report["checks"] if c["name"] == "Docker engine")
    assert engine["detail"].startswith("Podman 4.")
    check = next(c for c in report["checks"] if c["name"].startswith("Podman"))
    assert check["ok"] and check["facts"]["product"] == "Podman"
    assert {"up", "status", "deploy-dags", "seed", "test-etl", "down"} <= set(
        check["facts"]["works"]
    )
    assert [limit["feature"] for limit in check["facts"]["limits"]] == [
        limit.feature for limit in LIMITS
    ]
    text = ok(tinyctl("doctor", cwd=tmp_path, env={"DOCKER_HOST": podman_host})).stdout
    assert "health checks" in text and "podman --remote build" in text


def test_a_stack_runs_on_podman(podman_host: str, tmp_path_factory: pytest.TempPathFactory):
    stack = new_stack(tmp_path_factory.mktemp("podman-stacks"), "pm")
    env = {"DOCKER_HOST": podman_host}
    try:
        up = ok(stack.run("up", env=env, timeout=1800))
        assert "is up and healthy" in up.stdout
        status = json.loads(ok(stack.run("status", "--json", env=env)).stdout)
        services = {s["service"]: s for s in status["services"]}
        assert services["postgres"]["health"] == "healthy"
        assert services["api-server"]["health"] == "healthy"
        assert services["airflow-init"]["health"] == "completed"
        assert status["state"] == "up"
        dag = stack.root / "dags" / "podman_probe.py"
        dag.write_text(
            "import pendulum\nfrom airflow.sdk import dag, task\n\n\n"
            "@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)\n"
            "def podman_probe():\n    @task\n    def hello():\n        return 1\n\n    hello()\n\n\n"
            "podman_probe()\n"
        )
        deployed = ok(stack.run("deploy-dags", env=env))
        assert "podman_probe" in deployed.stdout
        ok(stack.run("seed", env=env))
        report = json.loads(ok(stack.run("test-etl", "--json", env=env)).stdout)
        assert report["ok"] is True
        # the images were built on Podman, from the local Debian base, with buildah
        labels = docker_on(
            podman_host,
            "image",
            "inspect",
            "--format",
            "{{json .Config.Labels}}",
            "tinyctl/airflow:3.3.2-debian",
        )
        assert "io.buildah.version" in json.loads(labels.stdout)
    finally:
        down = stack.run("down", "--volumes", "--yes", env=env)
    ok(down)
    left = docker_on(
        podman_host,
        "ps",
        "--all",
        "--filter",
        f"label=com.docker.compose.project={stack.name}",
        "--quiet",
    )
    assert left.stdout.strip() == ""
