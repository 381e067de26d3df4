"""sync_settings' diff against a fake Airflow (no engine): created, updated, unchanged; the
warehouse connection's host comes from the runtime, passwords from the fingerprint file."""

from __future__ import annotations

import json
from pathlib import Path

from fakes import FakeAirflow, FakeRuntime, with_runtime

from tinyctl.airflow_settings.sync import sync_settings
from tinyctl.project import Project
from tinyctl.render import render


def _opened(project: Path) -> Project:
    spec = project / "tinyctl.yaml"
    spec.write_text(
        spec.read_text().replace("  pools:", "  variables: {report_currency: EUR}\n  pools:", 1)
    )
    opened = Project.open(spec)
    render(opened)
    with_runtime(opened, lambda p: FakeRuntime(p))
    return opened


def _actions(items) -> dict[str, str]:
    return {f"{i.kind} {i.name}": i.action for i in items}


def test_first_sync_creates_then_nothing_changes(project: Path) -> None:
    opened, airflow = _opened(project), FakeAirflow()
    first = _actions(sync_settings(opened, airflow))
    assert first == {
        "connection warehouse": "created",
        "variable report_currency": "created",
        "pool warehouse_loads": "created",
    }
    body = airflow.conns["warehouse"]
    assert (body["host"], body["port"]) == ("warehouse-host", 6543), "the runtime says where"
    airflow.writes.clear()
    again = _actions(sync_settings(opened, airflow))
    assert set(again.values()) == {"unchanged"} and airflow.writes == []


def test_drift_and_a_new_password_are_updated(project: Path) -> None:
    opened, airflow = _opened(project), FakeAirflow()
    sync_settings(opened, airflow)
    airflow.vars["report_currency"] = airflow.vars["report_currency"].__class__(
        "report_currency", "USD", None
    )
    pool = airflow.pool_map["warehouse_loads"]
    airflow.pool_map["warehouse_loads"] = pool.__class__(pool.name, 9, pool.description, False)
    # a password changed: only the fingerprint file can tell (the API masks it)
    applied = opened.state.applied_settings_file
    fingerprints = json.loads(applied.read_text())
    fingerprints["connection:warehouse"] = "stale"
    applied.write_text(json.dumps(fingerprints))
    airflow.writes.clear()
    actions = _actions(sync_settings(opened, airflow))
    assert actions == {
        "connection warehouse": "updated",
        "variable report_currency": "updated",
        "pool warehouse_loads": "updated",
    }
    assert (
        airflow.vars["report_currency"].value == "EUR"
        and airflow.pool_map["warehouse_loads"].slots == 2
    )
