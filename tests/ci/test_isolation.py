"""One stack per CI run: names from each CI system's job id, free ports, a run folder of its own."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tinyctl.ci.isolation import (
    RunIdentity,
    ci_job,
    free_ports,
    list_runs,
    plan_run,
    prepare_run_folder,
    read_run,
    remove_run_folder,
    run_name,
)
from tinyctl.errors import BadInput
from tinyctl.spec import load_spec
from tinyctl.spec.models import PROJECT_NAME


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"CI_JOB_ID": "123456"}, "demo-ci-123456-ab12"),
        ({"BUILD_TAG": "jenkins-Team/ETL pipeline-42"}, "demo-ci-team-etl-pipeline-42-ab12"),
        ({"GITHUB_RUN_ID": "987", "GITHUB_RUN_ATTEMPT": "1"}, "demo-ci-987-ab12"),
        ({"GITHUB_RUN_ID": "987", "GITHUB_RUN_ATTEMPT": "2"}, "demo-ci-987-2-ab12"),
        ({}, "demo-ci-ab12"),
        # GitLab's id wins when several are set (a GitLab job started from a Jenkins agent...)
        ({"CI_JOB_ID": "7", "BUILD_TAG": "jenkins-x-1"}, "demo-ci-7-ab12"),
    ],
)
def test_run_names_come_from_the_ci_job_and_a_random_suffix(environ, expected) -> None:
    name, _system, _job = run_name("demo", environ, suffix="ab12")
    assert name == expected
    assert re.match(PROJECT_NAME, name)


def test_long_and_odd_names_are_still_valid_and_keep_the_suffix() -> None:
    environ = {"BUILD_TAG": "jenkins-" + "Ünïcode job/with spaces and-dashes---" * 5 + "-99"}
    name, system, job = run_name("a-very-long-project-name-" * 3, environ, suffix="beef")
    assert system == "jenkins" and job == environ["BUILD_TAG"]
    assert re.match(PROJECT_NAME, name), name
    assert len(name) <= 63 and name.endswith("-99-beef")


def test_random_suffixes_differ_between_runs() -> None:
    names = {run_name("demo", {"CI_JOB_ID": "1"})[0] for _ in range(20)}
    assert len(names) == 20


def test_ci_job_names_the_system() -> None:
    assert ci_job({"GITHUB_RUN_ID": "5"}) == ("github", "5")
    assert ci_job({"CI_JOB_ID": "9"}) == ("gitlab", "9")
    assert ci_job({}) == (None, None)


def test_free_ports_are_free_and_distinct() -> None:
    ports = free_ports(["127.0.0.1", "127.0.0.1"])
    assert len(set(ports)) == 2
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # really free


def test_a_run_gets_its_own_folder_and_a_copy_of_the_data(project: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    run = plan_run(loaded, {"CI_JOB_ID": "77"})
    assert run.name.startswith("demo-ci-77-") and run.project == "demo"
    assert run.folder == f".tinyctl/ci/{run.name}"
    assert {run.airflow_port, run.postgres_port} & {8080, 5432} == set()

    folder = prepare_run_folder(loaded, run)
    copied = folder / "data/landing/orders_2026-11-01.csv"
    assert copied.read_bytes() == (project / "data/landing/orders_2026-11-01.csv").read_bytes()
    assert (folder / "data/archive").is_dir()
    assert json.loads((folder / "run.json").read_text())["name"] == run.name
    assert list_runs(loaded) == [run.name]
    assert read_run(loaded, run.name) == run

    assert remove_run_folder(loaded, run) == []
    assert not folder.exists() and list_runs(loaded) == []
    with pytest.raises(BadInput, match="no CI run"):
        read_run(loaded, run.name)


def test_an_explicit_name_must_be_valid(project: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    assert plan_run(loaded, {}, name="mine-1").name == "mine-1"
    with pytest.raises(BadInput, match="--name"):
        plan_run(loaded, {}, name="Mine!")


def test_a_run_name_that_climbs_out_is_refused(project: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    outside = project.parent / "victim"
    outside.mkdir()
    (outside / "run.json").write_text("{}")
    for name in ("../../../victim", "..", "a/b", "Demo"):
        with pytest.raises(BadInput, match="is not the name of a CI run"):
            read_run(loaded, name)
    assert (outside / "run.json").exists()


@pytest.mark.parametrize(
    "edit",
    [
        {"folder": ".."},
        {"folder": "/"},
        {"name": "someone-else"},
        {"airflow_port": "8080"},
        {"postgres_port": True},
    ],
)
def test_an_edited_run_file_is_refused_and_nothing_is_removed(project: Path, edit) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    run = plan_run(loaded, {}, name="kept-1")
    folder = prepare_run_folder(loaded, run)
    data = {**json.loads((folder / "run.json").read_text()), **edit}
    (folder / "run.json").write_text(json.dumps(data))
    with pytest.raises(BadInput, match="does not describe CI run 'kept-1'"):
        read_run(loaded, "kept-1")
    assert folder.is_dir() and (project / "tinyctl.yaml").is_file()


def test_only_a_run_folder_is_ever_removed(project: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    run = plan_run(loaded, {}, name="kept-2")
    for folder in (
        "data",
        ".tinyctl",
        ".tinyctl/ci",
        ".tinyctl/ci/kept-2/state",
        "../elsewhere",
        "../other/.tinyctl/ci/kept-2",
    ):
        forged = RunIdentity(**{**run.as_dict(), "folder": folder})
        with pytest.raises(BadInput, match="is not the folder of CI run 'kept-2'"):
            remove_run_folder(loaded, forged)
    assert (project / "data").is_dir()
