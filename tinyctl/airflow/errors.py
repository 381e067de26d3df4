"""Errors raised by tinyctl's Airflow API client.

Every failure the client meets becomes one of these, so the CLI shows a panel with a hint and
the documented exit code. None of them ever carries the password or the access token.
"""

from __future__ import annotations

from typing import Any

from tinyctl.errors import EnvironmentProblem, WorkFailed

UP_HINT = "Is the stack up? Run `tinyctl up` (or `tinyctl status`)."
CREDENTIALS_HINT = (
    "The credentials tinyctl generated do not match the ones Airflow was started with. "
    "Run `tinyctl up` again to re-render the configuration and restart the stack."
)


def _status_hint(status_code: int) -> str:
    if status_code == 400:
        return "Airflow refused the request; the detail above says why."
    if status_code == 403:
        return "The tinyctl user lacks the permission for this call; check its role in the spec."
    if status_code == 404:
        return (
            "Check the name. A DAG file that was just added or changed takes a few seconds "
            "to be parsed; `tinyctl status` shows what Airflow knows."
        )
    if status_code == 409:
        return "It already exists: update it instead of creating it."
    if status_code == 422:
        return "Airflow did not accept the request body; this is likely a tinyctl bug: please report it."
    if status_code in (502, 503, 504):
        return "The Airflow API server is starting or overloaded; wait a moment and try again."
    if status_code >= 500:
        return "Airflow failed internally; look at the api-server's logs."
    return "See the detail above."


def format_detail(detail: Any) -> str:
    """Airflow's JSON `detail` as one line: a string, FastAPI's validation list or a DB-error dict."""
    if detail is None:
        return ""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(part) for part in item.get("loc", ()))
                message = item.get("msg", "")
                parts.append(f"{loc}: {message}" if loc else str(message))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, dict):
        # A database error (409 on a duplicate): the reason says it; the rest points at logs.
        reason = detail.get("reason") or detail.get("message")
        if reason:
            return str(reason)
    return str(detail)


def strip_inputs(detail: Any) -> Any:
    """Drop the `input` that FastAPI echoes in validation errors: it may hold a secret we sent."""
    if isinstance(detail, list):
        return [strip_inputs(item) for item in detail]
    if isinstance(detail, dict):
        return {key: strip_inputs(value) for key, value in detail.items() if key != "input"}
    return detail


class AirflowApiError(WorkFailed):
    """Airflow answered, but with an error status."""

    title = "Airflow API error"

    def __init__(
        self,
        *,
        status_code: int,
        method: str,
        path: str,
        detail: Any = None,
        hint: str | None = None,
        details: str | None = None,
    ):
        self.status_code = status_code
        self.method = method
        self.path = path
        self.detail = detail
        text = format_detail(detail)
        message = f"Airflow API: {method} {path} returned {status_code}"
        if text:
            message += f": {text}"
        super().__init__(message, hint=hint or _status_hint(status_code), details=details)


class AirflowAuthError(EnvironmentProblem):
    """Airflow rejected tinyctl's credentials, or a token it had just issued."""

    title = "Airflow rejected the credentials"

    def __init__(self, *, status_code: int, method: str, path: str, detail: Any = None):
        self.status_code = status_code
        self.method = method
        self.path = path
        self.detail = detail
        text = format_detail(detail)
        message = f"Airflow API: {method} {path} returned {status_code}"
        if text:
            message += f": {text}"
        super().__init__(message, hint=CREDENTIALS_HINT)


class AirflowUnreachable(EnvironmentProblem):
    """The Airflow API could not be reached at all (refused, timed out, reset) after retries."""

    title = "Airflow is not reachable"

    def __init__(self, message: str, *, hint: str | None = None, details: str | None = None):
        super().__init__(message, hint=hint or UP_HINT, details=details)


class AirflowNotHealthy(EnvironmentProblem):
    """The API answers, but a component the work needs (scheduler, dag-processor...) is not healthy."""

    title = "Airflow is not healthy"

    def __init__(self, components: dict[str, str | None], unhealthy: list[str]):
        self.components = components
        self.unhealthy = unhealthy
        states = ", ".join(f"{name} {components.get(name) or 'not reported'}" for name in unhealthy)
        super().__init__(
            f"Airflow is up but not healthy: {states}",
            hint="Run `tinyctl status` to see which service is down; `tinyctl up` starts it again.",
        )
