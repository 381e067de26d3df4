"""What `tinyctl up` does once the stack is healthy: sync the spec's settings, deploy the DAG
folder (kept apart from `tinyctl.stack.up`, so `up --no-deploy` imports neither)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tinyctl.airflow_settings.sync import SyncItem, sync_settings
from tinyctl.dags.deploy import DeployReport, FileResult, deploy_dags
from tinyctl.project import Project

START_READ_TIMEOUT = 45.0  # seconds


@dataclass
class AfterUp:
    """What `up` did once the stack was healthy."""

    settings: list[SyncItem]
    deploy: DeployReport

    def as_dict(self) -> dict[str, Any]:
        return {"settings": [i.as_dict() for i in self.settings], **self.deploy.as_dict()}


def after_up(project: Project, *, on_result: Callable[[FileResult], None] | None = None) -> AfterUp:
    """What `up` does once the stack is healthy: sync the spec's settings, deploy the DAG folder.

    Returns both reports; the caller shows them, then `deploy.require_deployable(report)` turns
    failed files into a WorkFailed.
    """
    # The api-server answered its health check, but its first authenticated requests may take
    # long on a loaded machine right after it started (seen: over 10 s for a token after an
    # interrupted `up`, on 2 busy cores): a long read timeout, not a "not reachable".
    with project.airflow(timeout=START_READ_TIMEOUT) as client:
        items = sync_settings(project, client)
        report = deploy_dags(project, client, on_result=on_result)
    return AfterUp(items, report)
