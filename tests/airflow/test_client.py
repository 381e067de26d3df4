"""Unit tests of tinyctl.airflow.client against responses recorded from a real Airflow 3.3.2.

The files under recorded/ are real response bodies (secrets replaced), captured by running the
client against api-server + scheduler + dag-processor + triggerer + PostgreSQL 15. Every test
here runs on `httpx.MockTransport`: no network, no sleeping.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tinyctl.airflow import client as client_module
from tinyctl.airflow.client import (
    AirflowApiError,
    AirflowAuthError,
    AirflowClient,
    AirflowNotHealthy,
    AirflowUnreachable,
    format_log,
)
from tinyctl.airflow.errors import CREDENTIALS_HINT, UP_HINT
from tinyctl.errors import EnvironmentProblem, ExitCode, WorkFailed

RECORDED = Path(__file__).parent / "recorded"
BASE = "http://airflow.test:8080"
PASSWORD = "pw-Very-Secret-42"
TOKEN = "RECORDED-ACCESS-TOKEN"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text())


Handler = Callable[[httpx.Request], httpx.Response]


class FakeAirflow:
    """Routes (METHOD, path) to queued responses; records every request it sees."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Handler | httpx.Response | Exception]] = {}
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0
        self.route("POST", "/auth/token", self._issue_token, repeat=True)

    def _issue_token(self, request: httpx.Request) -> httpx.Response:
        self.tokens_issued += 1
        return httpx.Response(201, json={"access_token": f"{TOKEN}-{self.tokens_issued}"})

    def route(self, method: str, path: str, *responses: Any, repeat: bool = False) -> None:
        """Answer `method path` with `responses` in turn (the last one again when `repeat`)."""
        items = list(responses)
        if repeat:
            items = items * 50
        self.routes[(method, path)] = items

    def reply(self, method: str, path: str, name: str, **overrides: Any) -> None:
        """Answer with a recorded response."""
        rec = recorded(name)
        self.route(method, path, httpx.Response(rec["status"], json=rec["body"]), **overrides)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            return httpx.Response(
                599, json={"detail": f"no fake route for {request.method} {request.url.path}"}
            )
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        if callable(item):
            return item(request)
        return item

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


@pytest.fixture
def fake() -> FakeAirflow:
    return FakeAirflow()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(fake: FakeAirflow, sleeps: list[float]) -> AirflowClient:
    c = AirflowClient(BASE, "tinyctl", PASSWORD, transport=httpx.MockTransport(fake.handle))
    c._sleep = sleeps.append
    return c


def one_page_of_dags() -> dict[str, Any]:
    body = recorded("dags_page2")["body"]
    return {**body, "total_entries": len(body["dags"])}


def all_text(error: BaseException) -> str:
    """Everything a user or a log could see of an error."""
    parts = [str(error), repr(error), repr(error.args)]
    for attr in ("message", "hint", "details", "detail", "path", "method"):
        parts.append(repr(getattr(error, attr, None)))
    return "\n".join(parts)


# --- auth -----------------------------------------------------------------------------------


def test_token_is_fetched_once_and_sent_as_bearer(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/version", "version", repeat=True)
    assert client.version() == "3.3.2"
    assert client.version() == "3.3.2"
    token_calls = fake.calls("POST", "/auth/token")
    assert len(token_calls) == 1
    assert json.loads(token_calls[0].content) == {"username": "tinyctl", "password": PASSWORD}
    for request in fake.calls("GET", "/api/v2/version"):
        assert request.headers["Authorization"] == f"Bearer {TOKEN}-1"


def test_expired_token_is_refreshed_once_and_the_call_repeated(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    expired = recorded("auth_token_expired_401")
    page = one_page_of_dags()
    fake.route(
        "GET",
        "/api/v2/dags",
        httpx.Response(200, json=page),
        httpx.Response(401, json=expired["body"]),
        httpx.Response(200, json=page),
    )
    client.dags()
    client.dags()
    assert fake.tokens_issued == 2
    auths = [r.headers["Authorization"] for r in fake.calls("GET", "/api/v2/dags")]
    assert auths == [f"Bearer {TOKEN}-1", f"Bearer {TOKEN}-1", f"Bearer {TOKEN}-2"]


def test_token_from_another_jwt_secret_403_is_refreshed(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    invalid = recorded("auth_invalid_jwt_403")
    assert invalid["body"] == {"detail": "Invalid JWT token"}
    client._token = "token-signed-with-an-old-secret"
    fake.route(
        "GET",
        "/api/v2/dags",
        httpx.Response(403, json=invalid["body"]),
        httpx.Response(200, json=one_page_of_dags()),
    )
    assert [d.dag_id for d in client.dags()] == ["new_tinyctl"]
    assert fake.tokens_issued == 1


def test_401_with_a_fresh_token_means_credentials_do_not_match(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    fake.route(
        "GET", "/api/v2/dags", httpx.Response(401, json={"detail": "Token Expired"}), repeat=True
    )
    with pytest.raises(AirflowAuthError) as caught:
        client.dags()
    assert caught.value.hint == CREDENTIALS_HINT
    assert "tinyctl up" in caught.value.hint
    assert fake.tokens_issued == 1  # fresh token: no second refresh loop
    assert len(fake.calls("GET", "/api/v2/dags")) == 1


def test_wrong_password_is_an_auth_error_without_the_password(fake: FakeAirflow) -> None:
    rec = recorded("auth_token_401")
    fake.route("POST", "/auth/token", httpx.Response(401, json=rec["body"]), repeat=True)
    c = AirflowClient(BASE, "tinyctl", PASSWORD, transport=httpx.MockTransport(fake.handle))
    with pytest.raises(AirflowAuthError) as caught:
        c.dags()
    error = caught.value
    assert isinstance(error, EnvironmentProblem)
    assert error.exit_code == ExitCode.ENVIRONMENT
    assert error.message == "Airflow API: POST /auth/token returned 401: Invalid credentials"
    assert error.status_code == 401 and error.detail == "Invalid credentials"
    assert PASSWORD not in all_text(error)
    assert len(fake.calls("POST", "/auth/token")) == 1  # a 401 is not retried


# --- health, version, warm-up ---------------------------------------------------------------


def test_health_all_healthy_needs_no_token(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/monitor/health", "health")
    health = client.health()
    assert health.components == {
        "metadatabase": "healthy",
        "scheduler": "healthy",
        "triggerer": "healthy",
        "dag_processor": "healthy",
    }
    assert health.all_healthy()
    assert health.unhealthy() == []
    assert fake.tokens_issued == 0
    assert "Authorization" not in fake.requests[-1].headers


def test_health_reports_a_stopped_triggerer(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/monitor/health", "health_triggerer_down")
    health = client.health()
    assert health.components["triggerer"] == "unhealthy"
    assert not health.all_healthy()
    assert health.unhealthy() == ["triggerer"]
    assert health.all_healthy(required=("metadatabase", "scheduler", "dag_processor"))


def test_require_up(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/monitor/health", "health")
    assert client.require_up().all_healthy()
    fake.reply("GET", "/api/v2/monitor/health", "health_triggerer_down")
    with pytest.raises(AirflowNotHealthy) as caught:
        client.require_up()
    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert caught.value.unhealthy == ["triggerer"]
    assert caught.value.message == "Airflow is up but not healthy: triggerer unhealthy"
    fake.reply("GET", "/api/v2/monitor/health", "health_triggerer_down")
    assert (
        client.require_up(required=("metadatabase", "scheduler")).components["scheduler"]
        == "healthy"
    )


def test_health_counts_a_missing_component_as_unhealthy(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    body = copy.deepcopy(recorded("health")["body"])
    body["dag_processor"] = None  # the schema allows it: no dag-processor reported
    del body["triggerer"]
    fake.route("GET", "/api/v2/monitor/health", httpx.Response(200, json=body))
    health = client.health()
    assert health.components["dag_processor"] is None
    assert health.components["triggerer"] is None
    assert health.unhealthy() == ["triggerer", "dag_processor"]
    assert health.all_healthy(required=("metadatabase", "scheduler"))


def test_warm_up_ignores_failures(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.route(
        "GET",
        "/execution/health",
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.Response(200, json={"status": "healthy"}),
    )
    client.warm_up_execution_api()
    client.warm_up_execution_api()
    assert len(fake.calls("GET", "/execution/health")) == 2
    assert fake.tokens_issued == 0


# --- DAGs -----------------------------------------------------------------------------------


def test_dags_paginates_until_total_entries_and_includes_stale(
    client: AirflowClient, fake: FakeAirflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "PAGE_SIZE", 2)
    fake.route(
        "GET",
        "/api/v2/dags",
        httpx.Response(200, json=recorded("dags_page1")["body"]),
        httpx.Response(200, json=recorded("dags_page2")["body"]),
    )
    dags = client.dags()
    assert [d.dag_id for d in dags] == ["fails_tinyctl", "hello_tinyctl", "new_tinyctl"]
    params = [dict(r.url.params) for r in fake.calls("GET", "/api/v2/dags")]
    assert params == [
        {"exclude_stale": "false", "limit": "2", "offset": "0"},
        {"exclude_stale": "false", "limit": "2", "offset": "2"},
    ]
    stale = dags[2]
    assert stale.is_stale and stale.is_paused


def test_dags_without_stale_asks_airflow_to_exclude_them(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    fake.route("GET", "/api/v2/dags", httpx.Response(200, json={"dags": [], "total_entries": 0}))
    assert client.dags(include_stale=False) == []
    assert fake.requests[-1].url.params["exclude_stale"] == "true"


def test_dag_is_parsed_into_a_dataclass(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/dags/hello_tinyctl", "dag_hello")
    dag = client.dag("hello_tinyctl")
    assert dag is not None
    assert dag.dag_id == "hello_tinyctl"
    assert dag.is_paused is False and dag.is_stale is False
    assert dag.fileloc == "/tmp/clienttest/dags/hello_tinyctl.py"
    assert dag.relative_fileloc == "hello_tinyctl.py"
    assert dag.bundle_name == "dags-folder"
    assert dag.file_token.startswith("eyJidW5kbGVfbmFtZSI6")
    assert dag.tags == ["demo", "tinyctl"]
    assert dag.last_parsed_time is not None
    assert dag.last_parsed_time.tzinfo is not None
    assert dag.last_parsed_time.year == 2026
    with pytest.raises(AttributeError):
        dag.is_paused = True  # type: ignore[misc]  # frozen


def test_dag_returns_none_on_404(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/dags/nope_not_here", "dag_get_404")
    assert client.dag("nope_not_here") is None


def test_set_paused_patches_with_update_mask(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("PATCH", "/api/v2/dags/hello_tinyctl", "dag_patch_unpause")
    dag = client.set_paused("hello_tinyctl", False)
    assert dag.is_paused is False
    request = fake.calls("PATCH", "/api/v2/dags/hello_tinyctl")[0]
    assert request.url.params["update_mask"] == "is_paused"
    assert json.loads(request.content) == {"is_paused": False}


def test_404_becomes_an_api_error_with_airflow_detail(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    fake.reply("PATCH", "/api/v2/dags/nope_not_here", "dag_patch_404")
    with pytest.raises(AirflowApiError) as caught:
        client.set_paused("nope_not_here", True)
    error = caught.value
    assert isinstance(error, WorkFailed) and error.exit_code == ExitCode.FAILED
    assert (error.status_code, error.method, error.path) == (
        404,
        "PATCH",
        "/api/v2/dags/nope_not_here",
    )
    assert error.detail == "Dag with id: nope_not_here was not found"
    assert error.message == (
        "Airflow API: PATCH /api/v2/dags/nope_not_here returned 404: "
        "Dag with id: nope_not_here was not found"
    )
    assert error.hint
    assert len(fake.calls("PATCH", "/api/v2/dags/nope_not_here")) == 1  # 404 is not retried


def test_import_errors_are_parsed(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/importErrors", "import_errors")
    [error] = client.import_errors()
    assert error.import_error_id == 1
    assert error.filename == "broken_dag.py"  # relative to the bundle, not absolute
    assert error.relative_fileloc == "broken_dag.py"
    assert error.bundle_name == "dags-folder"
    assert error.timestamp == datetime(2026, 11, 25, 17, 50, 22, 655609, tzinfo=UTC)
    assert 'File "/tmp/clienttest/dags/broken_dag.py", line 6, in <module>' in error.stack_trace
    assert error.stack_trace.rstrip().endswith(
        "ModuleNotFoundError: No module named 'not_a_module'"
    )


def test_syntax_error_import_error_keeps_its_line(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/importErrors", "import_errors_syntax")
    [error] = client.import_errors()
    assert 'File "/tmp/clienttest/dags/broken_dag.py", line 6\n' in error.stack_trace
    assert "SyntaxError: invalid syntax" in error.stack_trace


def test_reparse_puts_the_file_token(client: AirflowClient, fake: FakeAirflow) -> None:
    rec = recorded("reparse_201")
    path = rec["request"].split()[1]
    fake.route("PUT", path, httpx.Response(201, json=None))
    client.reparse(path.rsplit("/", 1)[1])
    assert len(fake.calls("PUT", path)) == 1


# --- runs -----------------------------------------------------------------------------------


def test_trigger_sends_a_null_logical_date(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("POST", "/api/v2/dags/hello_tinyctl/dagRuns", "trigger_200")
    run = client.trigger(
        "hello_tinyctl", run_id="tinyctl_1795629037", conf={"k": 1}, note="from tinyctl"
    )
    assert run.run_id == "tinyctl_1795629037"
    assert run.state == "queued"
    assert run.conf == {"k": 1}
    assert run.start_date is None
    body = json.loads(fake.calls("POST", "/api/v2/dags/hello_tinyctl/dagRuns")[0].content)
    assert body == {
        "dag_run_id": "tinyctl_1795629037",
        "logical_date": None,
        "conf": {"k": 1},
        "note": "from tinyctl",
    }


def test_trigger_conflict_is_not_retried(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("POST", "/api/v2/dags/hello_tinyctl/dagRuns", "trigger_409", repeat=True)
    with pytest.raises(AirflowApiError) as caught:
        client.trigger("hello_tinyctl", run_id="tinyctl_1795629037")
    assert caught.value.status_code == 409
    assert caught.value.message.endswith("returned 409: Unique constraint violation")
    assert "already exists" in (caught.value.hint or "")
    assert caught.value.details and "api server" in caught.value.details
    assert len(fake.calls("POST", "/api/v2/dags/hello_tinyctl/dagRuns")) == 1


def test_dag_run_states(client: AirflowClient, fake: FakeAirflow) -> None:
    ok = recorded("dag_run_success")
    failed = recorded("dag_run_failed")
    fake.route("GET", ok["request"].split()[1], httpx.Response(200, json=ok["body"]))
    fake.route("GET", failed["request"].split()[1], httpx.Response(200, json=failed["body"]))
    run = client.dag_run("hello_tinyctl", ok["body"]["dag_run_id"])
    assert run.state == "success" and run.finished
    assert run.start_date is not None and run.end_date is not None and run.end_date > run.start_date
    bad = client.dag_run("fails_tinyctl", failed["body"]["dag_run_id"])
    assert bad.state == "failed" and bad.finished


def test_run_ids_are_percent_encoded_in_paths(client: AirflowClient, fake: FakeAirflow) -> None:
    body = recorded("dag_run_success")["body"]
    fake.route(
        "GET",
        "/api/v2/dags/d/dagRuns/manual__2026-11-25T17:47:31+00:00",
        httpx.Response(200, json=body),
    )
    client.dag_run("d", "manual__2026-11-25T17:47:31+00:00")
    assert fake.requests[-1].url.raw_path.endswith(
        b"/dagRuns/manual__2026-11-25T17%3A47%3A31%2B00%3A00"
    )


def test_task_instances_include_mapped_ones_across_pages(
    client: AirflowClient, fake: FakeAirflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "PAGE_SIZE", 2)
    path = "/api/v2/dags/hello_tinyctl/dagRuns/tinyctl_pag/taskInstances"
    fake.route(
        "GET",
        path,
        *(httpx.Response(200, json=recorded(f"task_instances_page{i}")["body"]) for i in (1, 2, 3)),
    )
    tis = client.task_instances("hello_tinyctl", "tinyctl_pag")
    assert [(t.task_id, t.map_index) for t in tis] == [
        ("extract", -1),
        ("load", -1),
        ("square", 0),
        ("square", 1),
        ("square", 2),
    ]
    assert all(t.state == "success" and t.try_number == 1 for t in tis)
    assert all(t.duration and t.duration > 0 for t in tis)
    assert [r.url.params["offset"] for r in fake.calls("GET", path)] == ["0", "2", "4"]


def test_task_log_is_readable_text(client: AirflowClient, fake: FakeAirflow) -> None:
    rec = recorded("task_log_extract")
    path = rec["request"].split("?")[0].split()[1]
    fake.route("GET", path, httpx.Response(200, json=rec["body"]))
    run_id = path.split("/dagRuns/")[1].split("/")[0]
    text = client.task_log("hello_tinyctl", run_id, "extract", 1)
    request = fake.calls("GET", path)[0]
    assert request.headers["Accept"] == "application/json"
    assert request.url.params["map_index"] == "-1"
    lines = text.splitlines()
    assert "2026-11-25 17:50:37.815 INFO TINYCTL-EXTRACT-LINE rows=3" in lines
    assert "2026-11-25 17:50:37.735 INFO Pre Execute" in lines
    assert not any("::group::" in line or "::endgroup::" in line for line in lines)
    assert text.endswith("\n")


def test_task_log_of_a_mapped_instance_passes_map_index(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    rec = recorded("task_log_square_1")
    path = rec["request"].split("?")[0].split()[1]
    fake.route("GET", path, httpx.Response(200, json=rec["body"]))
    run_id = path.split("/dagRuns/")[1].split("/")[0]
    text = client.task_log("hello_tinyctl", run_id, "square", 1, map_index=1)
    assert fake.calls("GET", path)[0].url.params["map_index"] == "1"
    assert "INFO TINYCTL-SQUARE x=2" in text


def test_task_log_of_a_failed_task_shows_the_traceback(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    rec = recorded("task_log_boom_failed")
    path = rec["request"].split("?")[0].split()[1]
    fake.route("GET", path, httpx.Response(200, json=rec["body"]))
    run_id = path.split("/dagRuns/")[1].split("/")[0]
    lines = client.task_log("fails_tinyctl", run_id, "boom", 1).splitlines()
    error_at = next(
        i for i, line in enumerate(lines) if line.endswith("ERROR Task failed with exception")
    )
    assert lines[error_at + 1] == "Traceback (most recent call last):"
    assert '  File "/tmp/clienttest/dags/fails_tinyctl.py", line 12, in boom' in lines
    assert "ValueError: deliberate failure for tinyctl" in lines
    assert any(line.endswith("INFO TINYCTL-BOOM about to fail") for line in lines)


def test_format_log_handles_plain_lines_and_chained_exceptions() -> None:
    assert format_log(["raw line one", "raw line two"]) == "raw line one\nraw line two\n"
    assert format_log([]) == ""
    event = {
        "timestamp": "2026-11-25T17:47:55.593099Z",
        "event": "Task failed with exception",
        "level": "error",
        "error_detail": [
            {"exc_type": "RuntimeError", "exc_value": "outer", "is_cause": False, "frames": []},
            {
                "exc_type": "KeyError",
                "exc_value": "'x'",
                "is_cause": True,
                "frames": [{"filename": "/dags/a.py", "lineno": 3, "name": "f"}],
            },
        ],
    }
    assert format_log([event]).splitlines() == [
        "2026-11-25 17:47:55.593 ERROR Task failed with exception",
        "Traceback (most recent call last):",
        '  File "/dags/a.py", line 3, in f',
        "KeyError: 'x'",
        "The above exception was the direct cause of the following exception:",
        "Traceback (most recent call last):",
        "RuntimeError: outer",
    ]


# --- settings -------------------------------------------------------------------------------


def test_connections_are_keyed_by_id_with_extra_as_a_string(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    fake.reply("GET", "/api/v2/connections", "connections")
    connections = client.connections()
    conn = connections["tinyctl_pg"]
    assert conn["conn_type"] == "postgres"
    assert conn["password"] == "***"  # Airflow never returns the password
    assert isinstance(conn["extra"], str)
    assert json.loads(conn["extra"])["api_key"] == "***"


def test_create_connection_posts_the_body(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.route("POST", "/api/v2/connections", httpx.Response(201, json={}))
    body = recorded("connection_409")["request_body"]
    client.create_connection(body)
    assert json.loads(fake.calls("POST", "/api/v2/connections")[0].content) == body


def test_update_connection_replaces_every_field(client: AirflowClient, fake: FakeAirflow) -> None:
    rec = recorded("connection_patch")
    fake.route("PATCH", "/api/v2/connections/tinyctl_pg", httpx.Response(200, json=rec["body"]))
    client.update_connection(
        "tinyctl_pg",
        {
            "conn_type": "postgres",
            "host": "db2",
            "login": "u",
            "port": 5433,
            "password": "***",
            "extra": json.dumps({"sslmode": "require", "api_key": "***"}),
        },
    )
    request = fake.calls("PATCH", "/api/v2/connections/tinyctl_pg")[0]
    assert "update_mask" not in request.url.params
    assert json.loads(request.content) == rec["request_body"]  # what the real server accepted


def test_duplicate_connection_error_hides_the_connection_password(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    rec = recorded("connection_409")
    fake.route("POST", "/api/v2/connections", httpx.Response(409, json=rec["body"]))
    with pytest.raises(AirflowApiError) as caught:
        client.create_connection(rec["request_body"])
    assert caught.value.status_code == 409
    assert rec["request_body"]["password"] not in all_text(caught.value)


def test_validation_error_is_summarised_and_echoed_inputs_dropped(
    client: AirflowClient, fake: FakeAirflow
) -> None:
    rec = recorded("connection_422")
    body = copy.deepcopy(rec["body"])
    # FastAPI echoes the offending input; make it carry a secret, as it can in real life.
    body["detail"][0]["input"] = {"connection_id": "bad id!", "password": "conn-secret-xyz"}
    fake.route("POST", "/api/v2/connections", httpx.Response(422, json=body))
    with pytest.raises(AirflowApiError) as caught:
        client.create_connection(
            {"connection_id": "bad id!", "conn_type": "x", "password": "conn-secret-xyz"}
        )
    error = caught.value
    assert error.message == (
        "Airflow API: POST /api/v2/connections returned 422: "
        "body.connection_id: String should match pattern '^[\\w.-]+$'"
    )
    assert "conn-secret-xyz" not in all_text(error)
    assert error.details and "string_pattern_mismatch" in error.details


def test_variables(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/variables", "variables")
    fake.reply("PATCH", "/api/v2/variables/tinyctl_var", "variable_patch")
    fake.route("POST", "/api/v2/variables", httpx.Response(201, json={}))
    variables = client.variables()
    assert variables["tinyctl_var"].value == '{"a": 1}'
    assert variables["tinyctl_var"].description == "updated"
    assert variables["tinyctl_api_token"].value == "***"  # secret-looking key: masked by Airflow
    client.update_variable("tinyctl_var", '{"a": 1}', "updated")
    assert json.loads(fake.calls("PATCH", "/api/v2/variables/tinyctl_var")[0].content) == {
        "key": "tinyctl_var",
        "value": '{"a": 1}',
        "description": "updated",
    }
    client.create_variable("k", "v", None)
    assert json.loads(fake.calls("POST", "/api/v2/variables")[0].content) == {
        "key": "k",
        "value": "v",
        "description": None,
    }


def test_pools(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.reply("GET", "/api/v2/pools", "pools")
    fake.reply("PATCH", "/api/v2/pools/tinyctl_pool", "pool_patch")
    fake.reply("PATCH", "/api/v2/pools/default_pool", "pool_patch_default")
    fake.route("POST", "/api/v2/pools", httpx.Response(201, json={}))
    pools = client.pools()
    assert pools["tinyctl_pool"].slots == 5
    assert pools["tinyctl_pool"].include_deferred is True
    assert pools["default_pool"].description == "Default pool"

    client.update_pool("tinyctl_pool", 5, "resized", True)
    request = fake.calls("PATCH", "/api/v2/pools/tinyctl_pool")[0]
    assert json.loads(request.content) == recorded("pool_patch")["request_body"]
    assert "update_mask" not in request.url.params

    client.update_pool("default_pool", 64, "ignored", False)
    request = fake.calls("PATCH", "/api/v2/pools/default_pool")[0]
    assert request.url.params.get_list("update_mask") == ["slots", "include_deferred"]
    assert "description" not in json.loads(request.content)

    client.create_pool("p", 2, "d", False)
    assert json.loads(fake.calls("POST", "/api/v2/pools")[0].content) == {
        "name": "p",
        "slots": 2,
        "description": "d",
        "include_deferred": False,
    }


# --- retries and unreachable ----------------------------------------------------------------


def test_get_503_is_retried_with_backoff_then_succeeds(
    client: AirflowClient, fake: FakeAirflow, sleeps: list[float]
) -> None:
    ok = recorded("version")["body"]
    fake.route(
        "GET",
        "/api/v2/version",
        httpx.Response(503, text="Service Unavailable"),
        httpx.Response(503, text="Service Unavailable"),
        httpx.Response(200, json=ok),
    )
    assert client.version() == "3.3.2"
    assert len(fake.calls("GET", "/api/v2/version")) == 3
    assert sleeps == [0.5, 1.0]


def test_503_that_persists_becomes_an_api_error(
    client: AirflowClient, fake: FakeAirflow, sleeps: list[float]
) -> None:
    fake.route(
        "GET", "/api/v2/version", httpx.Response(503, text="Service Unavailable"), repeat=True
    )
    with pytest.raises(AirflowApiError) as caught:
        client.version()
    assert caught.value.status_code == 503
    assert caught.value.detail == "Service Unavailable"
    assert len(fake.calls("GET", "/api/v2/version")) == 4  # 1 + retries
    assert sleeps == [0.5, 1.0, 2.0]


def test_post_is_not_retried_on_500_or_503(client: AirflowClient, fake: FakeAirflow) -> None:
    path = "/api/v2/dags/hello_tinyctl/dagRuns"
    fake.route(
        "POST", path, httpx.Response(500, json={"detail": "Internal Server Error"}), repeat=True
    )
    with pytest.raises(AirflowApiError) as caught:
        client.trigger("hello_tinyctl", run_id="r1")
    assert caught.value.status_code == 500
    assert len(fake.calls("POST", path)) == 1
    fake.route("POST", path, httpx.Response(503, text="busy"), repeat=True)
    with pytest.raises(AirflowApiError):
        client.trigger("hello_tinyctl", run_id="r2")
    assert len(fake.calls("POST", path)) == 2


def test_post_read_timeout_is_not_repeated(client: AirflowClient, fake: FakeAirflow) -> None:
    path = "/api/v2/dags/hello_tinyctl/dagRuns"
    fake.route("POST", path, httpx.ReadTimeout("timed out"), repeat=True)
    with pytest.raises(AirflowUnreachable) as caught:
        client.trigger("hello_tinyctl", run_id="r1")
    assert len(fake.calls("POST", path)) == 1
    assert "tried once" in caught.value.message


def test_get_read_timeout_is_retried(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.route(
        "GET",
        "/api/v2/version",
        httpx.ReadTimeout("timed out"),
        httpx.Response(200, json=recorded("version")["body"]),
    )
    assert client.version() == "3.3.2"


def test_token_request_is_retried(client: AirflowClient, fake: FakeAirflow) -> None:
    fake.route(
        "POST",
        "/auth/token",
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(201, json=recorded("auth_token")["body"]),
    )
    fake.reply("GET", "/api/v2/version", "version")
    assert client.version() == "3.3.2"
    assert len(fake.calls("POST", "/auth/token")) == 2
    assert fake.calls("GET", "/api/v2/version")[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_connection_refused_is_unreachable_after_retries(
    client: AirflowClient, fake: FakeAirflow, sleeps: list[float]
) -> None:
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    fake.route("GET", "/api/v2/monitor/health", refused, repeat=True)
    with pytest.raises(AirflowUnreachable) as caught:
        client.health()
    error = caught.value
    assert isinstance(error, EnvironmentProblem) and error.exit_code == ExitCode.ENVIRONMENT
    assert error.hint == UP_HINT
    assert "Connection refused" in error.message and "tried 4 times" in error.message
    assert len(fake.calls("GET", "/api/v2/monitor/health")) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_retries_zero_fails_at_once(fake: FakeAirflow) -> None:
    fake.route(
        "POST", "/auth/token", httpx.ConnectError("[Errno 111] Connection refused"), repeat=True
    )
    c = AirflowClient(
        BASE, "tinyctl", PASSWORD, retries=0, transport=httpx.MockTransport(fake.handle)
    )
    with pytest.raises(AirflowUnreachable) as caught:
        c.dags()
    assert "tried once" in caught.value.message
    assert len(fake.requests) == 1


def test_no_secret_in_any_error(fake: FakeAirflow) -> None:
    """Password and token never show in an error's text, whatever Airflow sends back."""
    leaky = f"echo: {PASSWORD} and {TOKEN}-1"
    fake.route("GET", "/api/v2/dags/x", httpx.Response(400, json={"detail": leaky}))
    fake.route(
        "GET", "/api/v2/pools", httpx.ConnectError(f"refused while sending {PASSWORD}"), repeat=True
    )
    fake.route("GET", "/api/v2/variables", httpx.Response(401, json={"detail": leaky}), repeat=True)
    c = AirflowClient(
        BASE, "tinyctl", PASSWORD, retries=1, transport=httpx.MockTransport(fake.handle)
    )
    c._sleep = lambda _: None
    errors: list[BaseException] = []
    for call in (lambda: c.dag("x"), c.pools, c.variables):
        with pytest.raises((AirflowApiError, AirflowAuthError, AirflowUnreachable)) as caught:
            call()
        errors.append(caught.value)
    for error in errors:
        text = all_text(error)
        assert PASSWORD not in text
        assert TOKEN not in text


def test_context_manager_closes_the_http_client(fake: FakeAirflow) -> None:
    with AirflowClient(BASE, "tinyctl", PASSWORD, transport=httpx.MockTransport(fake.handle)) as c:
        pass
    assert c._http.is_closed
