"""The one module in tinyctl that talks to Airflow's REST API (Airflow 3.3, API v2).

`AirflowClient` is a thin, synchronous wrapper over `httpx.Client`:

* auth: `POST /auth/token` (SimpleAuthManager) gives a JWT that is cached; a 401 ("Token
  Expired") or a 403 "Invalid JWT token" (the stack restarted with a new JWT secret) on any
  call fetches a new token once and repeats the call;
* timeouts and retries are explicit: idempotent calls (GET/PUT/PATCH/DELETE) and the token
  request are retried on transport errors and 502/503/504, with exponential backoff; any call
  is retried when the connection could not even be opened (nothing was sent);
* it never prints and never exits: failures raise `AirflowApiError`, `AirflowAuthError` or
  `AirflowUnreachable`, whose texts never contain the password or a token.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import quote

from tinyctl.airflow.errors import (
    AirflowApiError,
    AirflowAuthError,
    AirflowNotHealthy,
    AirflowUnreachable,
    strip_inputs,
)
from tinyctl.airflow.models import (
    HEALTH_COMPONENTS,
    Dag,
    DagRun,
    Health,
    ImportErrorInfo,
    Pool,
    TaskInstance,
    Variable,
)
from tinyctl.http import httpx

API = "/api/v2"
PAGE_SIZE = 100  # Airflow's default [api] maximum_page_limit
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})
# Standard connection fields; `update_connection` sends all of them so the update is a replace.
CONNECTION_FIELDS = (
    "conn_type",
    "description",
    "host",
    "login",
    "schema",
    "port",
    "password",
    "extra",
)
DEFAULT_POOL = "default_pool"
REDACTED = "***"


def _seg(value: str) -> str:
    """One path segment, percent-encoded (run ids hold ':' and '+')."""
    return quote(str(value), safe="")


class AirflowClient:
    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        required: tuple[str, ...] = HEALTH_COMPONENTS,
    ):
        self.base_url = base_url.rstrip("/")
        self.required = required  # the components `require_up` wants healthy
        self.username = username
        self._password = password
        self.retries = max(0, retries)
        self.backoff = backoff
        self._token: str | None = None
        self._tokens: set[str] = set()  # every token issued to us, redacted from error texts
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
            follow_redirects=False,
            # plain HTTP (the stack's loopback port): no TLS context to build, whose CA bundle
            # takes ~60 ms to load for every client; https is verified as always
            verify=self.base_url.startswith("https:"),
        )
        self._sleep = time.sleep  # tests replace it

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- plumbing --------------------------------------------------------------------------

    def _redact(self, text: str, secrets: tuple[str, ...] = ()) -> str:
        for secret in (self._password, *self._tokens, *secrets):
            if secret and len(secret) >= 3:
                text = text.replace(secret, REDACTED)
        return text

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        retry_on_status: bool,
        secrets: tuple[str, ...] = (),
    ) -> httpx.Response:
        """One logical request, with retries. Raises AirflowUnreachable when no answer came."""
        attempts = 1 + self.retries
        tries = 0
        last_error: httpx.TransportError | None = None
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            tries += 1
            try:
                response = self._http.request(
                    method, path, params=params, json=json_body, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                last_error = error  # nothing was sent: safe to repeat for any method
                continue
            except httpx.TransportError as error:
                last_error = error
                if retry_on_status:
                    continue
                break  # a POST may have reached Airflow: do not send it twice
            if (
                retry_on_status
                and response.status_code in RETRY_STATUSES
                and attempt < attempts - 1
            ):
                response.close()
                continue
            return response
        assert last_error is not None
        kind = type(last_error).__name__
        reason = self._redact(str(last_error) or kind, secrets)
        times = "once" if tries == 1 else f"{tries} times"
        raise AirflowUnreachable(
            f"Airflow API at {self.base_url} is not reachable: {method} {path} failed "
            f"({kind}: {reason}); tried {times}",
        ) from None

    def _fetch_token(self) -> str:
        path = "/auth/token"
        response = self._send(
            "POST",
            path,
            json_body={"username": self.username, "password": self._password},
            retry_on_status=True,
        )
        if response.status_code in (401, 403):
            raise AirflowAuthError(
                status_code=response.status_code,
                method="POST",
                path=path,
                detail=self._redact_detail(self._detail(response), ()),
            )
        if response.status_code not in (200, 201):
            raise self._api_error(response, "POST", path)
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            raise AirflowApiError(
                status_code=response.status_code,
                method="POST",
                path=path,
                detail="the answer has no access_token",
            ) from None
        self._token = token
        self._tokens.add(token)
        return token

    @staticmethod
    def _is_auth_failure(response: httpx.Response) -> bool:
        if response.status_code == 401:
            return True
        # A token signed with another secret (the stack was re-rendered) is a 403 in Airflow 3.
        return (
            response.status_code == 403 and AirflowClient._detail(response) == "Invalid JWT token"
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        expected: tuple[int, ...] = (200,),
        allow_404: bool = False,
        secrets: tuple[str, ...] = (),
    ) -> httpx.Response | None:
        """An authenticated call. Returns the response (None on 404 when `allow_404`)."""
        retry_on_status = method in IDEMPOTENT
        fresh = False
        if self._token is None:
            self._fetch_token()
            fresh = True
        while True:
            auth = {"Authorization": f"Bearer {self._token}", **(headers or {})}
            response = self._send(
                method,
                path,
                params=params,
                json_body=json_body,
                headers=auth,
                retry_on_status=retry_on_status,
                secrets=secrets,
            )
            if self._is_auth_failure(response):
                if not fresh:
                    self._token = None
                    self._fetch_token()
                    fresh = True
                    continue
                raise AirflowAuthError(
                    status_code=response.status_code,
                    method=method,
                    path=path,
                    detail=self._redact_detail(self._detail(response), secrets),
                )
            break
        if allow_404 and response.status_code == 404:
            return None
        if response.status_code not in expected:
            raise self._api_error(response, method, path, secrets)
        return response

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self._request("GET", path, params=params)
        assert response is not None
        return self._json(response, "GET", path)

    def _paginate(
        self, path: str, key: str, params: dict[str, Any] | None = None
    ) -> Iterator[dict]:
        """Every item of an offset-paginated collection, page by page until total_entries."""
        offset = 0
        while True:
            page = self._get_json(path, {**(params or {}), "limit": PAGE_SIZE, "offset": offset})
            items = page.get(key) or []
            yield from items
            offset += len(items)
            total = page.get("total_entries")
            if not items or total is None or offset >= total:
                return

    @staticmethod
    def _detail(response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            return response.text.strip()[:500] or None
        if isinstance(body, dict) and "detail" in body:
            return strip_inputs(body["detail"])
        return strip_inputs(body)

    def _redact_detail(self, detail: Any, secrets: tuple[str, ...]) -> Any:
        """`detail` with every string in it cleared of the password, tokens and `secrets`."""
        if isinstance(detail, str):
            return self._redact(detail, secrets)
        if isinstance(detail, list):
            return [self._redact_detail(item, secrets) for item in detail]
        if isinstance(detail, dict):
            return {key: self._redact_detail(value, secrets) for key, value in detail.items()}
        return detail

    def _api_error(
        self, response: httpx.Response, method: str, path: str, secrets: tuple[str, ...] = ()
    ) -> AirflowApiError:
        detail = self._redact_detail(self._detail(response), secrets)
        details = None
        if not isinstance(detail, str) and detail is not None:
            details = json.dumps(detail, indent=2)
        return AirflowApiError(
            status_code=response.status_code,
            method=method,
            path=path,
            detail=detail,
            details=details,
        )

    @staticmethod
    def _json(response: httpx.Response, method: str, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise AirflowApiError(
                status_code=response.status_code,
                method=method,
                path=path,
                detail="the answer is not JSON",
            ) from None

    # --- stack -----------------------------------------------------------------------------

    def health(self) -> Health:
        """GET /api/v2/monitor/health (no auth needed)."""
        path = f"{API}/monitor/health"
        response = self._send("GET", path, retry_on_status=True)
        if response.status_code != 200:
            raise self._api_error(response, "GET", path)
        return Health.from_json(self._json(response, "GET", path))

    def require_up(self, required: tuple[str, ...] | None = None) -> Health:
        """The health, if the API answers and every `required` component (default: the
        client's, the stack's own) is healthy; otherwise AirflowUnreachable or
        AirflowNotHealthy (both exit 3)."""
        required = self.required if required is None else required
        health = self.health()
        if not health.all_healthy(required):
            raise AirflowNotHealthy(health.components, health.unhealthy(required))
        return health

    def version(self) -> str:
        return str(self._get_json(f"{API}/version")["version"])

    def warm_up_execution_api(self, *, wait: float = 0.05) -> None:
        """GET /execution/health: the execution API initialises lazily (about 3 s of CPU), and
        the first task waits for it. Send one request and wait at most `wait` seconds: the
        server finishes initialising even after we hang up. Failures are ignored."""
        with contextlib.suppress(httpx.HTTPError):
            self._http.get("/execution/health", timeout=wait).close()

    # --- DAGs ------------------------------------------------------------------------------

    def dags(self, *, include_stale: bool = True) -> list[Dag]:
        """All DAGs. Airflow hides stale DAGs (file removed or no longer defining it) unless
        `exclude_stale=false` is passed."""
        params = {"exclude_stale": "false" if include_stale else "true"}
        return [Dag.from_json(item) for item in self._paginate(f"{API}/dags", "dags", params)]

    def dag(self, dag_id: str) -> Dag | None:
        response = self._request("GET", f"{API}/dags/{_seg(dag_id)}", allow_404=True)
        if response is None:
            return None
        return Dag.from_json(self._json(response, "GET", f"{API}/dags/{dag_id}"))

    def set_paused(self, dag_id: str, paused: bool) -> Dag:
        path = f"{API}/dags/{_seg(dag_id)}"
        response = self._request(
            "PATCH", path, params={"update_mask": "is_paused"}, json_body={"is_paused": paused}
        )
        assert response is not None
        return Dag.from_json(self._json(response, "PATCH", path))

    def import_errors(self) -> list[ImportErrorInfo]:
        items = self._paginate(f"{API}/importErrors", "import_errors")
        return [ImportErrorInfo.from_json(item) for item in items]

    def reparse(self, file_token: str) -> None:
        """Ask the dag-processor to parse a file ahead of its turn (the `file_token` of a DAG)."""
        self._request("PUT", f"{API}/parseDagFile/{_seg(file_token)}", expected=(200, 201))

    # --- runs ------------------------------------------------------------------------------

    def trigger(
        self,
        dag_id: str,
        *,
        run_id: str,
        conf: dict[str, Any] | None = None,
        note: str | None = None,
        logical_date: str | None = None,
    ) -> DagRun:
        path = f"{API}/dags/{_seg(dag_id)}/dagRuns"
        body: dict[str, Any] = {
            "dag_run_id": run_id,
            "logical_date": logical_date,
            "conf": conf or {},
        }
        if note is not None:
            body["note"] = note
        response = self._request("POST", path, json_body=body)
        assert response is not None
        return DagRun.from_json(self._json(response, "POST", path))

    def dag_run(self, dag_id: str, run_id: str) -> DagRun:
        return DagRun.from_json(self._get_json(f"{API}/dags/{_seg(dag_id)}/dagRuns/{_seg(run_id)}"))

    def dag_runs(self, dag_id: str, states: tuple[str, ...]) -> list[DagRun]:
        """The runs of `dag_id` in one of `states` (e.g. queued, running)."""
        path = f"{API}/dags/{_seg(dag_id)}/dagRuns"
        return [
            DagRun.from_json(item)
            for item in self._paginate(path, "dag_runs", {"state": list(states)})
        ]

    def fail_run(self, dag_id: str, run_id: str, note: str) -> None:
        """Mark a run failed (its unfinished tasks end with it), with a note saying why."""
        path = f"{API}/dags/{_seg(dag_id)}/dagRuns/{_seg(run_id)}"
        self._request("PATCH", path, json_body={"state": "failed"})
        self._request("PATCH", path, params={"update_mask": "note"}, json_body={"note": note})

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskInstance]:
        """Every task instance of a run, mapped ones included (one per map_index)."""
        path = f"{API}/dags/{_seg(dag_id)}/dagRuns/{_seg(run_id)}/taskInstances"
        return [TaskInstance.from_json(item) for item in self._paginate(path, "task_instances")]

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, *, map_index: int = -1
    ) -> str:
        """The task's log as text, one "timestamp level event" line per log event.

        Airflow 3 serves structured events only (Accept: application/json, or
        application/x-ndjson as a stream; text/plain is refused with 406)."""
        path = (
            f"{API}/dags/{_seg(dag_id)}/dagRuns/{_seg(run_id)}/taskInstances/{_seg(task_id)}"
            f"/logs/{int(try_number)}"
        )
        params = {"map_index": map_index, "full_content": "true"}
        body = self._get_json(path, params)
        return format_log(body.get("content") or [])

    # --- settings --------------------------------------------------------------------------

    def connections(self) -> dict[str, dict]:
        """conn_id -> the connection's JSON as Airflow returns it (the password and secret-looking
        keys of `extra` come back masked as "***"; `extra` is a JSON string)."""
        items = self._paginate(f"{API}/connections", "connections")
        return {item["connection_id"]: item for item in items}

    def create_connection(self, body: dict) -> None:
        self._request(
            "POST",
            f"{API}/connections",
            json_body=body,
            expected=(201,),
            secrets=_connection_secrets(body),
        )

    def update_connection(self, conn_id: str, body: dict) -> None:
        """Replace a connection: standard fields missing from `body` are set to null (a "***"
        password or extra value keeps the stored one, as Airflow merges masked values)."""
        full = {name: body.get(name) for name in CONNECTION_FIELDS}
        full.update(body)
        full["connection_id"] = conn_id
        self._request(
            "PATCH",
            f"{API}/connections/{_seg(conn_id)}",
            json_body=full,
            secrets=_connection_secrets(body),
        )

    def variables(self) -> dict[str, Variable]:
        items = self._paginate(f"{API}/variables", "variables")
        return {item["key"]: Variable.from_json(item) for item in items}

    def create_variable(self, key: str, value: str, description: str | None = None) -> None:
        self._request(
            "POST",
            f"{API}/variables",
            json_body={"key": key, "value": value, "description": description},
            expected=(201,),
            secrets=(value,),
        )

    def update_variable(self, key: str, value: str, description: str | None = None) -> None:
        self._request(
            "PATCH",
            f"{API}/variables/{_seg(key)}",
            json_body={"key": key, "value": value, "description": description},
            secrets=(value,),
        )

    def pools(self) -> dict[str, Pool]:
        items = self._paginate(f"{API}/pools", "pools")
        return {item["name"]: Pool.from_json(item) for item in items}

    def create_pool(
        self, name: str, slots: int, description: str | None = None, include_deferred: bool = False
    ) -> None:
        self._request(
            "POST",
            f"{API}/pools",
            json_body={
                "name": name,
                "slots": slots,
                "description": description,
                "include_deferred": include_deferred,
            },
            expected=(201,),
        )

    def update_pool(
        self, name: str, slots: int, description: str | None = None, include_deferred: bool = False
    ) -> None:
        """Update a pool. Airflow lets only `slots` and `include_deferred` change on
        default_pool: its description is left as it is."""
        body: dict[str, Any] = {"name": name, "slots": slots, "include_deferred": include_deferred}
        params = None
        if name == DEFAULT_POOL:
            params = {"update_mask": ["slots", "include_deferred"]}
        else:
            body["description"] = description
        self._request("PATCH", f"{API}/pools/{_seg(name)}", params=params, json_body=body)


def _connection_secrets(body: dict) -> tuple[str, ...]:
    secrets = []
    password = body.get("password")
    if isinstance(password, str) and password != REDACTED:
        secrets.append(password)
    return tuple(secrets)


# --- task logs -----------------------------------------------------------------------------


def _format_timestamp(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    # "2026-11-25T17:47:32.596005Z" -> "2026-11-25 17:47:32.596"
    text = value.replace("T", " ", 1)
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        text = f"{head}.{digits[:3]}"
    return text.rstrip("Z")


def _format_error_detail(detail: Any) -> list[str]:
    """Airflow's structured exception (`error_detail`, structlog's dict traceback) as a
    Python-style traceback. The list starts with the exception that was raised last and goes
    down its causes; like Python, print the innermost first."""
    if not isinstance(detail, list):
        return [str(detail)] if detail else []
    lines: list[str] = []
    previous: dict | None = None
    for exc in reversed(detail):
        if not isinstance(exc, dict):
            lines.append(str(exc))
            continue
        if previous is not None:
            lines.append(
                "The above exception was the direct cause of the following exception:"
                if previous.get("is_cause")
                else "During handling of the above exception, another exception occurred:"
            )
        lines.append("Traceback (most recent call last):")
        for frame in exc.get("frames") or []:
            lines.append(
                f'  File "{frame.get("filename")}", line {frame.get("lineno")}, in {frame.get("name")}'
            )
        exc_type = exc.get("exc_type") or "Exception"
        value = exc.get("exc_value")
        lines.append(f"{exc_type}: {value}" if value else str(exc_type))
        previous = exc
    return lines


def format_log(content: list[Any]) -> str:
    """Turn the log endpoint's `content` (structured events, or plain lines when Airflow could
    not parse the file) into readable text. The "::group::"/"::endgroup::" markers Airflow puts
    around sections are reduced to the section's title."""
    lines: list[str] = []
    for event in content:
        if isinstance(event, str):
            lines.append(event)
            continue
        if not isinstance(event, dict):
            continue
        message = str(event.get("event", ""))
        if message == "::endgroup::":
            continue
        message = message.removeprefix("::group::")
        parts = [
            _format_timestamp(event.get("timestamp")),
            str(event.get("level") or "").upper(),
            message,
        ]
        lines.append(" ".join(part for part in parts if part))
        if event.get("error_detail"):
            lines.extend(_format_error_detail(event["error_detail"]))
    return "\n".join(lines) + ("\n" if lines else "")
