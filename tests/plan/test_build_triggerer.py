"""The plan without a triggerer (`airflow.triggerer: off`, or `auto` finding no deferral)."""

from __future__ import annotations

import re
from pathlib import Path

from tinyctl.plan.build import build_plan, plan_for
from tinyctl.plan.model import Role
from tinyctl.project import Project
from tinyctl.spec import load_spec


def _spec_file(project: Path, value: str) -> Path:
    spec = project / "tinyctl.yaml"
    text = re.sub(r"  triggerer: .*\n", "", spec.read_text())
    spec.write_text(text.replace("  executor:", f"  triggerer: {value}\n  executor:", 1))
    return spec


def test_off_plans_no_triggerer_and_gives_it_no_secret(project: Path) -> None:
    plan = build_plan(load_spec(_spec_file(project, "off")).spec)
    assert not plan.with_role(Role.TRIGGERER)
    assert [s.name for s in plan.services if s.role != Role.WORKER][-1] == "dag-processor"
    assert all("triggerer" not in secret.readers for secret in plan.secrets)


def test_on_and_unresolved_auto_plan_one(project: Path) -> None:
    for value in ("on", "auto"):
        plan = build_plan(load_spec(_spec_file(project, value)).spec)
        assert plan.service("triggerer").role == Role.TRIGGERER


def test_plan_for_resolves_auto_from_the_code(project: Path) -> None:
    loaded = load_spec(_spec_file(project, "auto"))
    assert not plan_for(loaded).with_role(Role.TRIGGERER)
    (project / "dags" / "wait.py").write_text("w = TimeDeltaSensorAsync(task_id='w')\n")
    assert plan_for(loaded).service("triggerer")


def test_the_project_waits_for_no_triggerer_that_does_not_run(project: Path) -> None:
    opened = Project.open(_spec_file(project, "auto"))
    assert opened.triggerer.enabled is False
    assert opened.health_components == ("metadatabase", "scheduler", "dag_processor")
    assert not opened.plan.with_role(Role.TRIGGERER)
    assert "triggerer" in Project.open(_spec_file(project, "on")).health_components
