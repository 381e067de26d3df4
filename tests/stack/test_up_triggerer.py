"""`airflow.triggerer` on a real stack (the session's `live_stack`, each runtime): `auto` on the
sample project turns the running triggerer off and says why, the stack is healthy without it;
back to the default, it runs again."""

from __future__ import annotations

import json

import pytest
from conftest import Stack, ok

pytestmark = [pytest.mark.stack]


def test_auto_without_deferral_runs_no_triggerer_and_on_brings_it_back(live_stack: Stack) -> None:
    spec = live_stack.root / "tinyctl.yaml"
    text = spec.read_text()
    spec.write_text(text.replace("  executor:", "  triggerer: auto\n  executor:", 1))
    try:
        report = json.loads(ok(live_stack.run("up", "--no-deploy", "--json")).stdout)
        assert report["triggerer"]["enabled"] is False
        assert report["triggerer"]["reason"].startswith("auto: no DAG, plugin or include file")
        assert "triggerer" not in {s["service"] for s in report["services"]}  # and healthy: exit 0
        assert "triggerer" not in {s["service"] for s in live_stack.json("status")["services"]}
        assert "triggerer: off (auto: no DAG" in ok(live_stack.run("up", "--no-deploy")).stdout
    finally:
        spec.write_text(text)
    report = json.loads(ok(live_stack.run("up", "--no-deploy", "--json")).stdout)
    assert report["triggerer"] == {"enabled": True, "reason": "airflow.triggerer: on"}
    assert "triggerer" in {s["service"] for s in report["services"]}
