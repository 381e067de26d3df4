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


def test_without_a_triggerer_none_is_expected_nor_a_known_service(project: Path) -> None:
    spec = project / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("  executor:", "  triggerer: off\n  executor:", 1))
    runtime = _runtime(project)
    assert "triggerer" not in runtime.expected_services()
    assert "triggerer" not in [s.name for s in runtime.services()]
    with pytest.raises(BadInput):
        runtime.logs("triggerer")


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


def _spawn_sleeper(runtime, service: str):
    """A real process recorded as one of the runtime's services, as `up` records them."""
    import sys

    from tinyctl.targets.local import processes

    return processes.spawn(
        service,
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={},
        cwd=runtime.layout.root,
        log_file=runtime.layout.log_file(service),
        pid_file=runtime.layout.pid_file(service),
        extra=runtime._owner_extra(),
    )


def _opened(folder: Path) -> Project:
    project = Project.open(folder / "tinyctl.yaml", {"TINYCTL_RUNTIME": "local"})
    project.ensure_identity()
    return project


def test_a_copied_folder_never_takes_the_originals_processes_for_its_own(
    project: Path, tmp_path: Path
) -> None:
    import shutil

    from tinyctl.targets.local import processes

    original = _opened(project).runtime
    original.layout.root.mkdir(parents=True)
    record = _spawn_sleeper(original, "scheduler")
    try:
        copy_root = tmp_path / "copy"
        shutil.copytree(project, copy_root, symlinks=True)
        copy = _opened(copy_root).runtime
        assert copy._own_id != original._own_id  # the copy got its own identity
        with pytest.raises(EnvironmentProblem) as caught:
            copy.check_ownership()
        assert str(project) in caught.value.message
        assert f"scheduler (pid {record.pid})" in (caught.value.details or "")
        assert f"`tinyctl down` in {project}" in (caught.value.hint or "")
        with pytest.raises(EnvironmentProblem):
            copy.stop()  # never stops the original's processes
        assert processes.same_process(record)
        assert {s.name: s.state for s in copy.services()}["scheduler"] == "missing"
        assert {s.name: s.state for s in original.services()}["scheduler"] == "running"
    finally:
        processes.stop(record, timeout=5)
    copy.check_ownership()  # the original's process is gone: its stale record is dropped
    assert not copy.layout.pid_file("scheduler").exists()


def test_a_moved_folder_keeps_its_processes(project: Path, tmp_path: Path) -> None:
    from tinyctl.targets.local import processes

    runtime = _opened(project).runtime
    runtime.layout.root.mkdir(parents=True)
    record = _spawn_sleeper(runtime, "triggerer")
    try:
        moved_root = tmp_path / "moved"
        project.rename(moved_root)
        moved = _opened(moved_root).runtime
        assert moved._own_id == runtime._own_id
        moved.check_ownership()
        assert {s.name: s.state for s in moved.services()}["triggerer"] == "running"
    finally:
        processes.stop(record, timeout=5)


def test_a_copied_link_to_the_originals_database_is_refused(project: Path, tmp_path: Path) -> None:
    import shutil

    from tinyctl.targets.local import cluster

    original = _opened(project)
    runtime = original.runtime
    outside = tmp_path / "clusters" / "abc"
    outside.mkdir(parents=True)
    cluster.mark_owner(outside, runtime._own_id, str(project))
    runtime.layout.root.mkdir(parents=True)
    runtime.layout.cluster_link.symlink_to(outside)
    runtime.check_ownership()  # its own database

    copy_root = tmp_path / "copy"
    shutil.copytree(project, copy_root, symlinks=True)
    copy = _opened(copy_root).runtime
    with pytest.raises(EnvironmentProblem) as caught:
        copy.stop(volumes=True)  # would delete the original's data
    assert "Remove the link" in (caught.value.hint or "")
    assert str(outside) in (caught.value.details or "")
    assert outside.is_dir() and cluster.owner_of(outside)["id"] == runtime._own_id


def test_the_watch_answers_at_once_then_wakes_on_each_step_of_the_start(project: Path) -> None:
    import time

    from tinyctl.targets.local.runtime import LocalWatch

    runtime = _runtime(project)
    with runtime.watch_services() as watch:
        assert {s.state for s in watch.changes(timeout=30)} == {"missing"}  # first: at once

    calls: list[int] = []
    changed = threading.Event()
    watch = LocalWatch(lambda: calls.append(1) or [], changed, interval=30)
    watch.changes(timeout=30)
    timer = threading.Timer(0.2, changed.set)  # a step of the start thread
    timer.start()
    started = time.monotonic()
    watch.changes(timeout=30)
    assert time.monotonic() - started < 20, "a step wakes the waiter; it does not sit out 30 s"
    assert len(calls) == 2
    assert not changed.is_set()  # consumed: the next call waits for the next step again


@pytest.mark.stack  # needs the local runtime's Airflow environment (built on first use)
def test_parse_runs_as_a_one_off_of_the_local_venv_with_no_stack(project: Path) -> None:
    from tests.conftest import tinyctl

    (project / "dags" / "broken.py").write_text(
        'from airflow import DAG\nraise RuntimeError("boom")\n'
    )
    result = tinyctl("parse", cwd=project, env={"TINYCTL_RUNTIME": "local"}, timeout=900)
    assert result.returncode == 1, result.stderr
    assert "staging_orders" in result.stdout and "boom" in result.stdout + result.stderr
    assert str(project / "dags" / "broken.py") in result.stdout + result.stderr
    assert not (project / ".tinyctl" / "local" / "run").exists()  # nothing of a stack started


def test_down_volumes_never_deletes_what_a_hand_made_link_points_at(
    project: Path, tmp_path: Path
) -> None:
    runtime = _runtime(project)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    runtime.layout.root.mkdir(parents=True)
    runtime.layout.cluster_link.symlink_to(precious, target_is_directory=True)
    runtime.stop(volumes=True)
    assert (precious / "keep.txt").read_text() == "mine"
    assert not runtime.layout.cluster_link.is_symlink()  # the link itself is gone


def test_down_volumes_deletes_a_cluster_folder_tinyctl_made(project: Path) -> None:
    import os
    import tempfile
    import uuid

    from tinyctl.targets.local import cluster

    runtime = _runtime(project)
    made = Path(tempfile.gettempdir()) / f"tinyctl-{os.geteuid()}" / f"test-{uuid.uuid4().hex[:12]}"
    made.mkdir(parents=True)
    try:
        (made / "PG_VERSION").write_text("15\n")
        assert cluster.made_by_locate(made.resolve())
        runtime.layout.root.mkdir(parents=True)
        runtime.layout.cluster_link.symlink_to(made, target_is_directory=True)
        runtime.stop(volumes=True)
        assert not made.exists() and not runtime.layout.cluster_link.is_symlink()
    finally:
        if made.exists():
            import shutil

            shutil.rmtree(made)
