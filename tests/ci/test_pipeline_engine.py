"""`tinyctl ci run` end to end on the real engine, and the generated .gitlab-ci.yml executed by
gitlab-ci-local. Each run is a full build/up/deploy/seed/test/down (about 90 s on 2 cores), so
there are three: two at once of one project that pass (the "two pipelines on one runner"
case), and one that fails, through the generated GitLab job. A broken DAG stops at `parse`,
before any stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import STACK_ENV
from tinyctl.scaffold import init_project

pytestmark = pytest.mark.engine
RUN_TIMEOUT = 1800


def start(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tinyctl", "ci", "run", *args],
        cwd=root,
        env={**os.environ, **STACK_ENV, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output


def docker_ids(*args: str) -> list[str]:
    found = subprocess.run(["docker", *args], capture_output=True, text=True, check=True)
    return found.stdout.split()


def assert_nothing_left(root: Path, summary: dict) -> None:
    """No container, volume, network or run folder of the run remains."""
    name = summary["run"]["name"]
    label = f"label=com.docker.compose.project={name}"
    assert docker_ids("ps", "--all", "--quiet", "--filter", label) == [], (
        f"containers of {name} remain"
    )
    assert docker_ids("volume", "ls", "--quiet", "--filter", label) == [], (
        f"volumes of {name} remain"
    )
    assert docker_ids("network", "ls", "--quiet", "--filter", label) == [], (
        f"networks of {name} remain"
    )
    assert not (root / summary["run"]["folder"]).exists()


def assert_torn_down(root: Path, summary: dict) -> None:
    """Its `down` stage ran and passed, and nothing of the run remains."""
    assert_nothing_left(root, summary)
    assert summary["stages"][-1] == {**summary["stages"][-1], "name": "down", "status": "passed"}


def junit_counts(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()  # parses: it is well-formed XML
    assert root.tag == "testsuites"
    cases = list(root.iter("testcase"))
    counts = {key: int(root.get(key)) for key in ("tests", "failures", "errors")}
    assert counts["tests"] == len(cases)
    assert counts["failures"] == sum(c.find("failure") is not None for c in cases)
    assert counts["errors"] == sum(c.find("error") is not None for c in cases)
    return counts


def new_project(base: Path, name: str) -> Path:
    root = base / name
    init_project(root, name=name, images_source="debian")
    return root


def test_two_runs_of_one_project_at_once_both_pass_and_leave_nothing(
    engine: None, tmp_path: Path
) -> None:
    root = new_project(tmp_path, "twins")
    spec_before = (root / "tinyctl.yaml").read_bytes()
    runs = [start(root, "--out", f"reports-{i}") for i in (1, 2)]
    results = [finish(p) for p in runs]
    summaries = []
    for i, (code, output) in enumerate(results, start=1):
        assert code == 0, output
        out = root / f"reports-{i}"
        summary = json.loads((out / "ci-summary.json").read_text())
        summaries.append(summary)
        assert summary["ok"] and summary["failed_stage"] is None
        assert [s["name"] for s in summary["stages"]] == [
            "validate",
            "parse",
            "build",
            "up",
            "deploy-dags",
            "seed",
            "test-etl",
            "down",
        ]
        assert all(s["seconds"] >= 0 for s in summary["stages"])
        assert junit_counts(out / "junit.xml") == {"tests": 1, "failures": 0, "errors": 0}
        assert json.loads((out / "report.json").read_text())["ok"] is True
        assert "orders_2026_11_01" in (out / "report.html").read_text()
        assert summary["tests"]["passed"] == 1
        assert "ci run passed" in output and "test-etl" in output
        assert_torn_down(root, summary)
    first, second = (s["run"] for s in summaries)
    assert first["name"] != second["name"]
    assert {first["airflow_port"], first["postgres_port"]}.isdisjoint(
        {second["airflow_port"], second["postgres_port"]}
    )
    assert (root / "tinyctl.yaml").read_bytes() == spec_before


def test_a_broken_dag_fails_the_parse_stage_before_any_stack_starts(
    engine: None, tmp_path: Path
) -> None:
    broken = new_project(tmp_path, "broken")
    (broken / "dags" / "broken_dag.py").write_text(
        "from airflow.sdk import dag\n\n@dag(schedule=None)\ndef broken(:\n    pass\n"
    )
    code, output = finish(start(broken))
    assert code == 1, output
    summary = json.loads((broken / "ci-reports/ci-summary.json").read_text())
    stages = {s["name"]: s["status"] for s in summary["stages"]}
    assert summary["failed_stage"] == "parse", output
    assert stages["build"] == stages["up"] == stages["test-etl"] == "not_run", stages
    failed_stage = next(s for s in summary["stages"] if s["name"] == "parse")
    assert "broken_dag.py" in json.dumps(failed_stage["error"]), failed_stage
    junit = ET.parse(broken / "ci-reports/junit.xml").getroot()
    failed = [c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None]
    assert failed == ["stage parse"]
    assert_nothing_left(broken, summary)


def test_the_generated_gitlab_pipeline_fails_on_a_wrong_expectation_and_keeps_its_reports(
    engine: None, tmp_path: Path
) -> None:
    """The job gitlab-ci-local runs is `tinyctl ci run`, whole (its passing path is the twins'
    above): a failing expectation fails the job, and the JUnit report, the services' logs and
    the stack's status are where GitLab collects them (`artifacts: when: always`)."""
    glci = shutil.which("gitlab-ci-local")
    if glci is None:
        pytest.fail(
            "gitlab-ci-local is missing: `make tools` installs it (npm i -g gitlab-ci-local)"
        )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(wheels),
            str(Path(__file__).resolve().parents[2]),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("tinyctl-*.whl")
    root = new_project(tmp_path, "glci")
    spec = root / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("equals: 14", "equals: 15"))
    ok = subprocess.run(
        [sys.executable, "-m", "tinyctl", "ci", "init", "gitlab"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    for git in (
        ["init", "-q", "-b", "main"],
        ["remote", "add", "origin", "https://gitlab.example.com/acme/etl.git"],
        ["add", "-A"],
        [
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "tinyctl ci init gitlab",
        ],
    ):
        subprocess.run(["git", *git], cwd=root, check=True)

    result = subprocess.run(
        [
            glci,
            "--cwd",
            ".",  # gitlab-ci-local takes a relative --cwd only
            "--variable",
            f"TINYCTL_PACKAGE={wheel}",
            "--variable",
            "TINYCTL_IMAGES_SOURCE=debian",
            "etl-tests",
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=root,
        # a HOME of its own for gitlab-ci-local's state; Docker's CLI plugins (Compose) stay found
        env={
            **os.environ,
            "HOME": str(tmp_path / "home"),
            "DOCKER_CONFIG": os.environ.get("DOCKER_CONFIG", str(Path.home() / ".docker")),
        },
    )
    assert result.returncode != 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "ci run failed" in result.stdout, result.stdout[-6000:]
    reports = root / "ci-reports"  # under artifacts:reports:junit, relative to the checkout
    assert junit_counts(reports / "junit.xml") == {"tests": 1, "failures": 1, "errors": 0}
    assert "15" in (reports / "junit.xml").read_text()
    summary = json.loads((reports / "ci-summary.json").read_text())
    assert summary["run"]["ci"] == "gitlab" and summary["run"]["ci_id"]
    assert summary["failed_stage"] == "test-etl" and summary["exit_code"] == 1
    logs = reports / "logs"
    assert {"scheduler.log", "api-server.log", "postgres.log"} <= {p.name for p in logs.iterdir()}
    assert (logs / "scheduler.log").stat().st_size > 0
    status = json.loads((reports / "status.json").read_text())
    assert status["project"] == summary["run"]["name"] and status["state"] == "up"
    assert_torn_down(root, summary)
