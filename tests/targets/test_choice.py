"""Choosing the runtime (`tinyctl.targets.choice.make_runtime`): environment, spec, the runtime a
stack was started with, and whether a Docker engine answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyctl.errors import BadInput
from tinyctl.project import Project
from tinyctl.targets.choice import choose_runtime


def _open(project: Path, environ: dict[str, str], runtime: str | None = None) -> Project:
    if runtime:
        spec = project / "tinyctl.yaml"
        spec.write_text(spec.read_text().replace("runtime: auto", f"runtime: {runtime}"))
    return Project.open(project / "tinyctl.yaml", environ)


def test_auto_without_an_engine_picks_local_and_says_why(project: Path, tmp_path: Path) -> None:
    opened = _open(project, {"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    name, reason = choose_runtime(opened)
    assert name == "local" and reason.startswith("auto: no Docker engine answers")
    assert opened.runtime.name == "local" and opened.runtime.reason == reason


def test_the_environment_overrides_the_spec(project: Path) -> None:
    assert choose_runtime(_open(project, {}, "compose")) == ("compose", "runtime in tinyctl.yaml")
    assert choose_runtime(_open(project, {"TINYCTL_RUNTIME": "local"})) == (
        "local",
        "TINYCTL_RUNTIME",
    )
    with pytest.raises(BadInput) as caught:
        choose_runtime(_open(project, {"TINYCTL_RUNTIME": "kubernetes"}))
    assert "auto, compose, local" in (caught.value.hint or "")


def test_auto_keeps_the_runtime_a_stack_was_started_with(project: Path, tmp_path: Path) -> None:
    opened = _open(project, {"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    opened.state.root.mkdir(parents=True, exist_ok=True)
    opened.state.runtime_record.write_text(json.dumps({"runtime": "compose"}))
    name, reason = choose_runtime(opened)
    assert name == "compose" and "started with compose" in reason


def test_local_refuses_the_celery_executor_naming_the_line(project: Path) -> None:
    spec = project / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("executor: LocalExecutor", "executor: CeleryExecutor"))
    runtime = _open(project, {"TINYCTL_RUNTIME": "local"}).runtime
    with pytest.raises(BadInput) as caught:
        runtime.check_engine()
    assert "LocalExecutor only" in caught.value.message
    assert "tinyctl.yaml:" in (caught.value.hint or "")
