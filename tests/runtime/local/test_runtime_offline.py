"""The local runtime without a live stack: the start lock, services of a never-started
project, logs from the log files, and commands run with the cluster's client settings."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

import pytest

from tinyctl.errors import BadInput, EnvironmentProblem
from tinyctl.project import Project


def _runtime(project: Path):
    return Project.open(project / "tinyctl.yaml", {"TINYCTL_RUNTIME": "local"}).runtime


def test_a_second_start_while_one_runs_is_refused_naming_the_holder(project: Path) -> None:
    runtime = _runtime(project)
    runtime.layout.root.mkdir(parents=True)
    with open(runtime.layout.start_lock, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("pid 4242")
        held.flush()
        with pytest.raises(EnvironmentProblem) as caught:
            runtime._start_all(threading.Event())
    assert "another `tinyctl up` is starting" in caught.value.message
    assert "pid 4242" in caught.value.message


def test_a_never_started_project_has_every_service_missing(project: Path) -> None:
    services = _runtime(project).services()
    assert [s.name for s in services] == [
        "postgres",
        "db-setup",
        "airflow-init",
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
    ]
    assert {s.state for s in services} == {"missing"}


def test_logs_come_from_the_log_files_with_tail_and_prefixes(project: Path) -> None:
    runtime = _runtime(project)
    runtime.layout.logs.mkdir(parents=True)
    runtime.layout.log_file("scheduler").write_text("one\ntwo\nthree\n")
    runtime.layout.log_file("postgres").write_text("ready\n")
    assert list(runtime.logs("scheduler", tail=2)) == ["two", "three"]
    every = list(runtime.logs())
    assert "postgres      | ready" in every and "scheduler     | three" in every
    with pytest.raises(BadInput):
        list(runtime.logs("nope"))


def test_start_without_a_render_is_bad_input(project: Path) -> None:
    with pytest.raises(BadInput) as caught:
        _runtime(project).start()
    assert "tinyctl render" in (caught.value.hint or "")
