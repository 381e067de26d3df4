"""Airflow's health report as the last word on its components: `up` returns on it, and
`require_up` / `status` agree, even while a container's own probe (every 2 s) has not run yet."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fakes import HEALTHY, FakeRuntime, open_on_free_ports, statuses, with_runtime

from tinyctl.airflow.models import Health
from tinyctl.errors import EnvironmentProblem
from tinyctl.project import Project
from tinyctl.stack.up import _ready, confirm_with_api, require_up
from tinyctl.targets.base import ServiceStatus

RECORDED = Path(__file__).parents[1] / "airflow" / "recorded"


def _health(name: str = "health.json") -> Health:
    return Health.from_json(json.loads((RECORDED / name).read_text())["body"])


def _probe_says_starting(*services: str) -> list[ServiceStatus]:
    from dataclasses import replace

    return [replace(s, health="starting") if s.service in services else s for s in HEALTHY]


def test_airflow_healthy_confirms_components_whose_probe_has_not_run_yet() -> None:
    services = _probe_says_starting("api-server", "scheduler", "triggerer")
    confirmed = confirm_with_api(services, _health())
    assert all(s.ok for s in confirmed)
    assert _ready(services, _health())


def test_only_starting_probes_of_covered_components_are_taken_over() -> None:
    from dataclasses import replace

    unhealthy = [replace(s, health="unhealthy") if s.service == "scheduler" else s for s in HEALTHY]
    assert not _ready(unhealthy, _health()), "a probe that says unhealthy is believed"
    postgres = _probe_says_starting("postgres")
    assert not _ready(postgres, _health()), "Airflow's report says nothing about the warehouse"
    assert confirm_with_api(postgres, _health()) == postgres


def test_a_component_airflow_reports_down_is_not_confirmed() -> None:
    services = _probe_says_starting("triggerer")
    health = _health("health_triggerer_down.json")
    assert not _ready(services, health)
    assert [s.health for s in confirm_with_api(services, health) if s.service == "triggerer"] == [
        "starting"
    ]
    assert not _ready(HEALTHY, None), "no report, not ready"


def test_a_triggerer_that_does_not_run_is_not_waited_for() -> None:
    """`airflow.triggerer: off`: Airflow still reports a triggerer (with no heartbeat), and the
    stack has no triggerer service; the wait is on the other components only."""
    services = [s for s in HEALTHY if s.service != "triggerer"]
    health = _health("health_triggerer_down.json")
    assert not _ready(services, health)
    assert _ready(services, health, ("metadatabase", "scheduler", "dag_processor"))


@pytest.fixture
def airflow_api() -> Iterator[dict[str, object]]:
    """A real HTTP server on loopback answering GET /api/v2/monitor/health with `body`."""
    state: dict[str, object] = {"body": json.loads((RECORDED / "health.json").read_text())["body"]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = json.dumps(state["body"]).encode()
            self.send_response(200 if self.path == "/api/v2/monitor/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _project(root: Path) -> Project:
    opened = open_on_free_ports(root)
    from tinyctl.render import render

    render(opened)  # the secrets the API client is made with
    return opened


def test_require_up_takes_airflows_word_just_after_up(
    project: Path, airflow_api: dict[str, object]
) -> None:
    opened = _project(project)
    fake = FakeRuntime(opened, script=[_probe_says_starting("scheduler", "dag-processor")])
    fake.api = str(airflow_api["url"])
    with_runtime(opened, lambda _p: fake)
    confirmed = require_up(opened)
    assert all(s.ok for s in confirmed)


def test_require_up_refuses_when_airflow_does_not_confirm(
    project: Path, airflow_api: dict[str, object]
) -> None:
    opened = _project(project)
    airflow_api["body"] = json.loads((RECORDED / "health_triggerer_down.json").read_text())["body"]
    fake = FakeRuntime(opened, script=[_probe_says_starting("triggerer")])
    fake.api = str(airflow_api["url"])
    with_runtime(opened, lambda _p: fake)
    with pytest.raises(EnvironmentProblem) as caught:
        require_up(opened)
    assert "triggerer (state running, health starting)" in (caught.value.details or "")


def test_require_up_never_asks_airflow_about_a_stopped_service(project: Path) -> None:
    opened = _project(project)
    stopped = statuses(scheduler=("exited", "none"))
    with_runtime(opened, lambda p: FakeRuntime(p, script=[stopped]))
    with pytest.raises(EnvironmentProblem):
        require_up(opened)
