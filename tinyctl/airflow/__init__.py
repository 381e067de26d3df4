"""Talking to Airflow 3's REST API. `client.AirflowClient` is the only way in."""

from tinyctl.airflow.client import AirflowClient, format_log
from tinyctl.airflow.errors import (
    AirflowApiError,
    AirflowAuthError,
    AirflowNotHealthy,
    AirflowUnreachable,
)
from tinyctl.airflow.models import (
    Dag,
    DagRun,
    Health,
    ImportErrorInfo,
    Pool,
    TaskInstance,
    Variable,
)

__all__ = [
    "AirflowApiError",
    "AirflowAuthError",
    "AirflowClient",
    "AirflowNotHealthy",
    "AirflowUnreachable",
    "Dag",
    "DagRun",
    "Health",
    "ImportErrorInfo",
    "Pool",
    "TaskInstance",
    "Variable",
    "format_log",
]
