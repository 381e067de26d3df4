"""One project, one stack, on a real Docker engine: identity labels, two folders with one name,
the upgrade of a volume from the release before labels, and foreign servers on a stopped
project's ports.

These tests start only PostgreSQL (the resource that matters: the data), never a full Airflow.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import STACK_ENV, Stack, free_port, new_stack, ok, tinyctl

from tinyctl.project import Project
from tinyctl.scaffold import init_project
from tinyctl.stack.adopt import adopt_orphaned
from tinyctl.stack.up import preflight

pytestmark = pytest.mark.engine

ENV = {**os.environ, **STACK_ENV}


def _docker(*args: str, check: bool = True) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, stdin=subprocess.DEVNULL
    ).stdout


def _compose(compose_file: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", "-f", str(compose_file), "-p", name, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def _wait_healthy(container: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = _docker("inspect", "-f", "{{.State.Health.Status}}", container, check=False)
        if health.strip() == "healthy":
            return
        time.sleep(1)
    raise AssertionError(f"{container} did not become healthy")


def _psql(compose_file: Path, name: str, sql: str) -> str:
    result = _compose(
        compose_file, name, "exec", "-T", "postgres", "psql", "-U", "postgres", "-tAc", sql
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _start_postgres(stack: Stack) -> Project:
    """Render the project and start only its postgres service, the way `up` starts it."""
    ok(stack.run("render"))
    project = Project.open(stack.root / "tinyctl.yaml", ENV)
    project.runtime.check_ownership()
    project.runtime._ensure_data_volume()
    result = _compose(project.state.compose_file, stack.name, "up", "-d", "--no-deps", "postgres")
    assert result.returncode == 0, result.stderr
    return project


def _volume(name: str) -> dict[str, str] | None:
    out = _docker("volume", "inspect", "-f", "{{json .Labels}}|{{.CreatedAt}}", name, check=False)
    if not out.strip():
        return None
    labels, _, created = out.strip().partition("|")
    return {"labels": labels, "created": created}


@pytest.fixture
def two_folders(engine: None, tmp_path: Path) -> Iterator[tuple[Stack, Stack]]:
    first = new_stack(tmp_path / "a", "same")
    root = tmp_path / "b" / first.name
    init_project(root, name=first.name, images_source="debian")
    second = Stack(root, first.name, free_port(), free_port())
    spec = root / "tinyctl.yaml"
    spec.write_text(
        spec.read_text()
        .replace("port: 8080", f"port: {second.airflow_port}")
        .replace("port: 5432", f"port: {second.postgres_port}")
    )
    try:
        yield first, second
    finally:
        first.run("down", "--volumes", "--yes")
        _compose(first.root / ".tinyctl" / "compose.yaml", first.name, "down", "--volumes")


def test_two_folders_with_one_name_never_share_a_stack(two_folders: tuple[Stack, Stack]) -> None:
    first, second = two_folders
    project = _start_postgres(first)
    container = f"{first.name}-postgres-1"
    _wait_healthy(container)
    labels = _docker("inspect", "-f", "{{json .Config.Labels}}", container)
    assert project.identity is not None and project.identity.id in labels
    volume = _volume(f"{first.name}_postgres-data")
    assert volume is not None and project.identity.id in volume["labels"]

    up = second.run("up", env={"TINYCTL_WIDTH": "2000"})
    assert up.returncode == 3, up.stderr
    assert f"belongs to the tinyctl project in {first.root}" in up.stderr
    assert "project.name" in up.stderr
    assert f"`tinyctl down --volumes` in {first.root}" in up.stderr

    down = second.run("down", "--volumes", "--yes")
    assert down.returncode == 3, down.stderr
    assert _docker("inspect", "-f", "{{.State.Running}}", container).strip() == "true"
    assert _volume(f"{first.name}_postgres-data") is not None, "the other folder's data is kept"

    # the ways out for a folder's own orphaned stack never take another folder's
    adopt = second.run("up", "--adopt", "--no-deploy", env={"TINYCTL_WIDTH": "2000"})
    assert adopt.returncode == 3 and "belongs to the tinyctl project in" in adopt.stderr
    orphaned = second.run("down", "--orphaned", "--volumes", "--yes")
    assert orphaned.returncode == 3 and "belongs to" in orphaned.stderr, orphaned.stderr
    assert _docker("inspect", "-f", "{{.State.Running}}", container).strip() == "true"
    assert Project.open(second.root / "tinyctl.yaml").identity != project.identity

    # the second folder's commands do not see the first folder's stack as theirs
    seed = second.run("seed")
    assert seed.returncode == 3 and "is not up" in seed.stderr, seed.stderr

    ok(first.run("down", "--volumes", "--yes"))
    assert _volume(f"{first.name}_postgres-data") is None


def test_a_volume_from_the_release_before_labels_is_adopted_with_its_data(
    engine: None, tmp_path: Path
) -> None:
    stack = new_stack(tmp_path, "adopt")
    ok(stack.run("render"))
    state = stack.root / ".tinyctl"
    # The previous release's compose file: the same, without tinyctl's labels and network.
    new_text = (state / "compose.yaml").read_text()
    old_text = re.sub(r"\n    labels:\n(      io\.tinyctl\.[^\n]*\n)+", "\n", new_text)
    old_text = re.sub(r"\nnetworks:\n  default:\n(    [^\n]*\n)+", "\n", old_text)
    assert "io.tinyctl" not in old_text
    old = state / "compose-previous-release.yaml"
    old.write_text(old_text)
    volume = f"{stack.name}_postgres-data"
    try:
        started = _compose(old, stack.name, "up", "-d", "--no-deps", "postgres")
        assert started.returncode == 0, started.stderr
        _wait_healthy(f"{stack.name}-postgres-1")
        _psql(old, stack.name, "CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (42)")
        before = _volume(volume)
        assert before is not None and "io.tinyctl" not in before["labels"]

        project = Project.open(stack.root / "tinyctl.yaml", ENV)
        # the earlier release's running container is this folder's: it holds the stack's port,
        # and the pre-flight of the `up` that upgrades it must not call the port taken
        listed = project.runtime.services()
        assert any(s.service == "postgres" and s.running for s in listed)
        preflight(project, listed)
        project.runtime.check_ownership()
        assert Project.open(stack.root / "tinyctl.yaml").identity.adopted == (volume,)
        project.runtime._ensure_data_volume()
        again = _compose(state / "compose.yaml", stack.name, "up", "-d", "--no-deps", "postgres")
        assert again.returncode == 0, again.stderr
        assert "data will be lost" not in again.stderr and "match" not in again.stderr
        _wait_healthy(f"{stack.name}-postgres-1")
        after = _volume(volume)
        assert after is not None and after["labels"] == before["labels"], "the same volume"
        assert _psql(state / "compose.yaml", stack.name, "SELECT id FROM keep_me") == "42"
        assert project.runtime.services()[0].running, "the relabelled container is this project's"

        ok(stack.run("down", "--volumes", "--yes"))
        assert _volume(volume) is None, "an adopted volume is this project's to delete"
    finally:
        _compose(old, stack.name, "down", "--volumes")


def _lose_state_folder(stack: Stack) -> None:
    """The folder deleted and made again at the same path (a fresh clone) while its stack runs."""
    spec = (stack.root / "tinyctl.yaml").read_text()
    shutil.rmtree(stack.root)
    init_project(stack.root, name=stack.name, images_source="debian")
    (stack.root / "tinyctl.yaml").write_text(spec)


@pytest.fixture
def orphaned(engine: None, tmp_path: Path) -> Iterator[tuple[Stack, str]]:
    """A project whose folder was lost while its postgres ran (holding a table); its old id."""
    stack = new_stack(tmp_path, "lost")
    compose_file = stack.root / ".tinyctl" / "compose.yaml"
    kept = tmp_path / "compose-of-the-lost-folder.yaml"
    try:
        project = _start_postgres(stack)
        shutil.copy(compose_file, kept)
        _wait_healthy(f"{stack.name}-postgres-1")
        _psql(
            compose_file,
            stack.name,
            "CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (7)",
        )
        assert project.identity is not None
        _lose_state_folder(stack)
        yield stack, project.identity.id
    finally:
        _remove_compose_project(kept, stack.name)


def _remove_compose_project(compose_file: Path, name: str) -> None:
    """Down the project; when Compose cannot (its file names secret files the lost folder took
    with it), remove its containers and volumes by label, so that none is left restarting."""
    _compose(compose_file, name, "down", "--volumes")
    label = f"label=com.docker.compose.project={name}"
    containers = _docker("ps", "-aq", "--filter", label, check=False).split()
    if containers:
        _docker("rm", "-f", *containers, check=False)
    volumes = _docker("volume", "ls", "-q", "--filter", label, check=False).split()
    if volumes:
        _docker("volume", "rm", "-f", *volumes, check=False)


def test_a_stack_whose_folder_was_made_again_is_named_as_such(orphaned: tuple[Stack, str]) -> None:
    stack, _old_id = orphaned
    up = stack.run("up", "--no-deploy", env={"TINYCTL_WIDTH": "2000"})
    assert up.returncode == 3, up.stderr
    assert "a stack of this folder is running, but .tinyctl/ no longer knows it" in up.stderr
    assert "`tinyctl up --adopt`" in up.stderr and "`tinyctl down --orphaned`" in up.stderr
    assert "belongs to" not in up.stderr, "not called another project"
    down = stack.run("down", "--volumes", "--yes", env={"TINYCTL_WIDTH": "2000"})
    assert down.returncode == 3 and "no longer knows it" in down.stderr, down.stderr
    assert _volume(f"{stack.name}_postgres-data") is not None, "nothing deleted without a flag"


def test_adopting_an_orphaned_stack_keeps_its_data(orphaned: tuple[Stack, str]) -> None:
    stack, old_id = orphaned
    project = Project.open(stack.root / "tinyctl.yaml", ENV)
    assert adopt_orphaned(project) == old_id
    assert Project.open(stack.root / "tinyctl.yaml").identity.id == old_id
    project.runtime.check_ownership()  # the stack is this folder's again
    compose_file = project.state.compose_file
    again = _compose(compose_file, stack.name, "up", "-d", "--no-deps", "postgres")
    assert again.returncode == 0, again.stderr
    _wait_healthy(f"{stack.name}-postgres-1")
    assert _psql(compose_file, stack.name, "SELECT id FROM keep_me") == "7"
    # the database answers to this folder's new superuser password, over TCP
    password = project.secrets[project.plan.bootstrap.superuser_secret]
    checked = _compose(
        compose_file,
        stack.name,
        "exec",
        "-T",
        "-e",
        f"PGPASSWORD={password}",
        "postgres",
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-tAc",
        "SELECT id FROM keep_me",
    )
    assert checked.returncode == 0 and checked.stdout.strip() == "7", checked.stderr
    assert adopt_orphaned(Project.open(stack.root / "tinyctl.yaml", ENV)) is None, "done once"


def test_down_orphaned_removes_the_lost_folders_stack(orphaned: tuple[Stack, str]) -> None:
    stack, _old_id = orphaned
    down = stack.run("down", "--orphaned", "--volumes", "--yes")
    assert down.returncode == 0, down.stderr
    assert "Took over the stack" in down.stderr
    assert _volume(f"{stack.name}_postgres-data") is None
    assert not _docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={stack.name}")


class _Listener:
    """A foreign server on a port: accepts connections and counts them, answers nothing."""

    def __init__(self, port: int):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


COMMANDS = [
    ("deploy-dags",),
    ("sync-settings",),
    ("seed",),
    ("test-etl",),
    ("psql", "-c", "SELECT 1"),
]


def test_a_never_rendered_project_is_not_up_rather_than_missing_secrets(project: Path) -> None:
    for command in COMMANDS:
        result = tinyctl(*command, cwd=project)
        assert result.returncode == 3, (command, result.stderr)
        assert "stack demo is not up" in result.stderr, (command, result.stderr)
        assert "secret" not in result.stderr
    assert not (project / ".tinyctl").exists(), "nothing written for a stack that is not up"


def test_foreign_servers_on_a_stopped_projects_ports_are_never_reached(
    engine: None, tmp_path: Path
) -> None:
    stack = new_stack(tmp_path, "foreign")
    ok(stack.run("render"))  # secrets exist: only the ownership check stands in the way
    airflow, postgres = _Listener(stack.airflow_port), _Listener(stack.postgres_port)
    try:
        for command in COMMANDS:
            result = stack.run(*command)
            assert result.returncode == 3, (command, result.stderr)
            assert f"stack {stack.name} is not up" in result.stderr, (command, result.stderr)
            assert "down --volumes" not in result.stderr
        assert airflow.accepted == 0 and postgres.accepted == 0
    finally:
        airflow.close()
        postgres.close()


def test_a_plain_postgres_on_the_port_is_not_seeded(engine: None, tmp_path: Path) -> None:
    stack = new_stack(tmp_path, "plainpg")
    ok(stack.run("render"))
    name = f"plain-{stack.name}"
    _docker(
        "run", "-d", "--name", name, "-e", "POSTGRES_PASSWORD=other",
        "-p", f"127.0.0.1:{stack.postgres_port}:5432", "tinyctl/postgres:15-debian",
    )  # fmt: skip
    try:
        _wait_healthy_or_running(name)
        for command in (("seed",), ("test-etl",), ("psql", "-c", "SELECT 1")):
            result = stack.run(*command)
            assert result.returncode == 3, (command, result.stderr)
            assert f"stack {stack.name} is not up" in result.stderr
    finally:
        _docker("rm", "-f", name, check=False)


def _wait_healthy_or_running(container: str) -> None:
    for _ in range(60):
        if _docker("inspect", "-f", "{{.State.Running}}", container, check=False).strip() == "true":
            return
        time.sleep(0.5)


def test_init_avoids_ports_another_project_uses_even_when_stopped(
    engine: None, tmp_path: Path
) -> None:
    from tinyctl.targets.choice import ports_of_other_projects

    a, b = free_port(), free_port()
    volume = f"portsprobe-{a}"
    _docker(
        "volume", "create", "--label", "io.tinyctl.project-id=" + "f" * 32,
        "--label", f"io.tinyctl.ports={a},{b}", volume,
    )  # fmt: skip
    try:
        assert {a, b} <= ports_of_other_projects()
        from tinyctl.scaffold import choose_ports

        (airflow, postgres), notes = choose_ports((a, b))
        assert airflow != a and postgres != b and len(notes) == 2
    finally:
        _docker("volume", "rm", volume, check=False)
