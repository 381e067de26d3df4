"""`service_statuses` of the Compose runtime: one engine API request gives what `docker compose
ps` gives, on a live stack; where the engine is not on a local socket, Compose is asked."""

from __future__ import annotations

import os

import pytest
from conftest import STACK_ENV, Stack

from tinyctl.project import Project
from tinyctl.targets.compose.runtime import ComposeRuntime


def _runtime(stack: Stack, **environ: str) -> ComposeRuntime:
    project = Project.open(stack.root / "tinyctl.yaml", {**os.environ, **STACK_ENV, **environ})
    return ComposeRuntime(project)


@pytest.mark.stack
def test_the_engine_api_answers_as_compose_does(live_stack: Stack) -> None:
    if live_stack.runtime != "compose":
        pytest.skip("a Compose runtime question")
    runtime = _runtime(live_stack)
    wanted = ["postgres", "db-setup", "api-server"]
    fast = runtime.service_statuses(wanted)
    assert fast == [s for s in runtime.services() if s.service in wanted]
    assert {s.service for s in fast} == set(wanted) and all(s.ok for s in fast)


@pytest.mark.stack
def test_another_engine_host_goes_through_compose(live_stack: Stack) -> None:
    if live_stack.runtime != "compose":
        pytest.skip("a Compose runtime question")
    runtime = _runtime(live_stack, DOCKER_HOST="unix:///nonexistent/docker.sock")
    asked: list[str] = []

    def through_compose():
        asked.append("compose ps")
        return _runtime(live_stack)._compose_ps()  # the real engine, through Compose

    runtime._compose_ps = through_compose  # type: ignore[method-assign]
    statuses = runtime.service_statuses(["postgres"])
    assert asked == ["compose ps"]
    assert [s.service for s in statuses] == ["postgres"] and statuses[0].ok


@pytest.mark.stack
def test_services_and_listings_from_the_engine_api_match_the_docker_cli(live_stack: Stack) -> None:
    """`services()` (status, require_up, up's first look) and the ownership listings come from
    the engine API now; they must say exactly what Compose and the Docker CLI say."""
    if live_stack.runtime != "compose":
        pytest.skip("a Compose runtime question")
    from tinyctl.targets.docker import engine_api

    runtime = _runtime(live_stack)
    assert runtime._statuses(runtime._containers()) == runtime._statuses(runtime._compose_ps())
    label = f"com.docker.compose.project={runtime.project}"
    fields = ("io.tinyctl.project-id", "com.docker.compose.project.working_dir")
    for kind in ("container", "volume", "network"):
        api = engine_api.resources(kind, label, fields, runtime.environ)
        assert sorted(api) == sorted(runtime.docker.resources(kind, label, fields)), kind
        assert api, f"the live stack has a {kind}"
