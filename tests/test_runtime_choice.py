"""Choosing the runtime (`tinyctl.runtime.make_runtime`): environment, spec, the runtime a
stack was started with, and whether a Docker engine answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyctl.errors import BadInput
from tinyctl.runtime import choose_runtime, make_runtime
from tinyctl.spec import load_spec


def _loaded(project: Path, runtime: str | None = None):
    if runtime:
        spec = project / "tinyctl.yaml"
        spec.write_text(spec.read_text().replace("runtime: auto", f"runtime: {runtime}"))
    return load_spec(project / "tinyctl.yaml")


def test_auto_without_an_engine_picks_local_and_says_why(project: Path, tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    name, reason = choose_runtime(_loaded(project), env)
    assert name == "local" and reason.startswith("auto: no Docker engine answers")
    runtime = make_runtime(_loaded(project), env)
    assert runtime.name == "local" and runtime.reason == reason


def test_the_environment_overrides_the_spec(project: Path) -> None:
    loaded = _loaded(project, "compose")
    assert choose_runtime(loaded, {}) == ("compose", "runtime in tinyctl.yaml")
    assert choose_runtime(loaded, {"TINYCTL_RUNTIME": "local"}) == ("local", "TINYCTL_RUNTIME")
    with pytest.raises(BadInput) as caught:
        choose_runtime(loaded, {"TINYCTL_RUNTIME": "kubernetes"})
    assert "auto, compose, local" in (caught.value.hint or "")


def test_auto_keeps_the_runtime_a_stack_was_started_with(project: Path, tmp_path: Path) -> None:
    loaded = _loaded(project)
    loaded.state_dir.mkdir(parents=True, exist_ok=True)
    (loaded.state_dir / "runtime.json").write_text(json.dumps({"runtime": "compose"}))
    name, reason = choose_runtime(loaded, {"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert name == "compose" and "started with compose" in reason


def test_local_refuses_the_celery_executor_naming_the_line(project: Path) -> None:
    spec = project / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("executor: LocalExecutor", "executor: CeleryExecutor"))
    runtime = make_runtime(load_spec(spec), {"TINYCTL_RUNTIME": "local"})
    with pytest.raises(BadInput) as caught:
        runtime.check_engine()
    assert "LocalExecutor only" in caught.value.message
    assert "tinyctl.yaml:" in (caught.value.hint or "")
