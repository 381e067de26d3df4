"""`tinyctl ci run` up to the stages that need no live stack: a bad spec, an engine that is not
there, an engine that never answers and a SIGTERM. Real processes, real signals, no mocks; the
full runs on a real engine are in test_pipeline_engine.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import tinyctl


def summary(out: Path) -> dict:
    return json.loads((out / "ci-summary.json").read_text())


def stages(data: dict) -> dict[str, str]:
    return {s["name"]: s["status"] for s in data["stages"]}


def test_a_bad_spec_fails_validate_with_exit_2_and_a_junit_saying_so(project: Path) -> None:
    out = project / "ci-reports"
    out.mkdir()
    (out / "report.html").write_text("stale report of an earlier run")
    spec = project / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("executor: LocalExecutor", "executor: Local"))

    result = tinyctl("ci", "run", cwd=project)
    assert result.returncode == 2, result.stderr
    assert "tinyctl.yaml:" in result.stderr  # file:line of the problem
    data = summary(out)
    assert data["exit_code"] == 2 and data["failed_stage"] == "validate"
    assert stages(data)["build"] == "not_run" and stages(data)["down"] == "skipped"
    assert not (out / "report.html").exists()  # a CI must never collect stale results
    suite = ET.parse(out / "junit.xml").getroot()
    [case] = suite.iter("testcase")
    assert case.get("name") == "stage validate"
    assert "executor" in case.find("failure").get("message")


def test_no_engine_fails_build_with_exit_3_and_cleans_the_run_folder(project: Path) -> None:
    out = project / "out"
    result = tinyctl(
        "ci",
        "run",
        "--out",
        "out",
        "--skip",
        "parse",
        cwd=project,
        # compose asked for: with `runtime: auto` a missing engine means the local runtime
        env={
            "DOCKER_HOST": f"unix://{project}/no-such.sock",
            "CI_JOB_ID": "31",
            "TINYCTL_RUNTIME": "compose",
        },
    )
    assert result.returncode == 3, result.stderr
    data = summary(out)
    assert data["run"]["name"].startswith("demo-ci-31-") and data["run"]["ci"] == "gitlab"
    assert stages(data) == {
        "validate": "passed",
        "parse": "skipped",
        "build": "failed",
        "up": "not_run",
        "deploy-dags": "not_run",
        "seed": "not_run",
        "test-etl": "not_run",
        "down": "passed",
    }
    assert data["stages"][2]["error"]["title"] == "Environment problem"
    assert not (project / data["run"]["folder"]).exists()
    assert (project / "tinyctl.yaml").read_text().count("port: 8080") == 1  # spec untouched
    failures = [
        c
        for c in ET.parse(out / "junit.xml").getroot().iter("testcase")
        if c.find("failure") is not None
    ]
    assert [c.get("name") for c in failures] == ["stage build"]
    # the summary table names every stage
    for name in ("validate", "build", "test-etl", "down"):
        assert name in result.stdout


def test_sigterm_stops_the_stage_tears_down_and_exits_130(project: Path, tmp_path: Path) -> None:
    """A cancelled CI job gets SIGTERM: the stage in progress stops and teardown still runs."""
    silent = tmp_path / "silent.sock"  # an engine that accepts and never answers
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(silent))
    server.listen(8)
    env = {
        **os.environ,
        "TINYCTL_IMAGES_SOURCE": "debian",
        "DOCKER_HOST": f"unix://{silent}",
        "TINYCTL_RUNTIME": "compose",  # `auto` would take the silent engine as none: local
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tinyctl", "ci", "run", "--skip", "parse"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        server.settimeout(60)
        connection, _ = server.accept()  # the build stage is asking the engine: it hangs there
        assert time.monotonic() < deadline
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
        connection.close()
    finally:
        process.kill()
        server.close()
    assert process.returncode == 130, stderr
    data = summary(project / "ci-reports")
    assert stages(data)["build"] == "interrupted" and stages(data)["down"] == "passed"
    assert data["exit_code"] == 130
    assert not (project / data["run"]["folder"]).exists()
    assert "interrupted" in stdout


def test_ci_down_of_an_unknown_run_says_which_runs_exist(project: Path) -> None:
    result = tinyctl("ci", "down", "demo-ci-nope", cwd=project)
    assert result.returncode == 2
    assert "no CI run 'demo-ci-nope'" in result.stderr


def test_only_optional_stages_can_be_skipped(project: Path) -> None:
    result = tinyctl("ci", "run", "--skip", "up", cwd=project)
    assert result.returncode == 2 and "parse, seed" in result.stderr
    assert not (project / "ci-reports").exists()


def test_a_bug_in_a_stage_is_never_reported_as_ok(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tinyctl bug keeps its traceback, but the summary and JUnit written on the way out
    must say the run failed (a CI reading them must not go green). A real bug cannot be made
    on purpose, so one stage function stands in for it."""
    from tinyctl.ci import pipeline

    def broken(_ctx: object) -> str:
        raise AttributeError("a bug")

    monkeypatch.setitem(pipeline.STAGE_FUNCTIONS, "parse", broken)
    monkeypatch.chdir(project)
    out = project / "out"
    with pytest.raises(AttributeError):
        pipeline.run_ci(pipeline.CiOptions(spec_file=project / "tinyctl.yaml", out=out))
    data = summary(out)
    assert data["ok"] is False and data["exit_code"] == 1
    assert data["failed_stage"] == "parse" and stages(data)["parse"] == "crashed"
    [failure] = ET.parse(out / "junit.xml").getroot().iter("failure")
    assert "a bug" in failure.get("message")


def test_ci_down_all_removes_every_run_but_one_still_going(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a stack (local runtime, never started): the run folders and the lock logic."""
    from tinyctl.ci.isolation import list_runs, plan_run, prepare_run_folder
    from tinyctl.ci.pipeline import tear_down_all_kept
    from tinyctl.spec import load_spec
    from tinyctl.state.lock import ProjectLock

    monkeypatch.setenv("TINYCTL_RUNTIME", "local")
    loaded = load_spec(project / "tinyctl.yaml")
    for name in ("demo-ci-a", "demo-ci-b", "demo-ci-live"):
        prepare_run_folder(loaded, plan_run(loaded, {}, name=name))
    live = ProjectLock(project / ".tinyctl/ci/demo-ci-live/state/lock", "demo-ci-live")
    live.acquire("ci run", wait=0)  # a `ci run` that is still going
    try:
        outcomes = dict(tear_down_all_kept(project / "tinyctl.yaml"))
    finally:
        live.release()
    assert outcomes["demo-ci-a"] is None and outcomes["demo-ci-b"] is None
    assert "busy: `tinyctl ci run` (pid" in outcomes["demo-ci-live"].message
    assert list_runs(loaded) == ["demo-ci-live"]


def test_ci_down_takes_a_name_or_all(project: Path) -> None:
    for args in ((), ("x", "--all")):
        result = tinyctl("ci", "down", *args, cwd=project, env={})
        assert result.returncode == 2, result.stderr
        assert "--all" in result.stderr and "Traceback" not in result.stderr
    result = tinyctl("ci", "down", "--all", cwd=project, env={})
    assert result.returncode == 0 and "No CI run folders" in result.stdout
