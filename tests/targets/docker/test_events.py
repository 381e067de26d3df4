"""The Compose service watch: events applied to container state, and a real `docker events` stream."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tinyctl.targets.docker.containers import ContainerState
from tinyctl.targets.docker.events import ComposeWatch, apply_event, events_args


def event(action: str, cid: str = "c1", service: str = "scheduler", **attributes: str) -> dict:
    return {
        "Type": "container",
        "Action": action,
        "Actor": {
            "ID": cid,
            "Attributes": {
                "com.docker.compose.service": service,
                "name": f"demo-{service}-1",
                **attributes,
            },
        },
    }


def test_a_container_goes_from_created_to_healthy_to_exited_to_removed() -> None:
    containers: dict[str, ContainerState] = {}
    healthchecked = {"scheduler"}
    assert apply_event(containers, event("create"), healthchecked)
    assert containers["c1"].state == "created"
    assert apply_event(containers, event("start"), healthchecked)
    assert (containers["c1"].state, containers["c1"].health) == ("running", "starting")
    assert apply_event(containers, event("health_status: healthy"), healthchecked)
    assert containers["c1"].health == "healthy"
    assert not apply_event(containers, event("health_status: healthy"), healthchecked)  # no change
    assert apply_event(containers, event("die", exitCode="137"), healthchecked)
    assert (containers["c1"].state, containers["c1"].exit_code) == ("exited", 137)
    assert apply_event(containers, event("destroy"), healthchecked)
    assert containers == {}


def test_a_one_shot_without_healthcheck_has_no_health_and_keeps_its_exit_code() -> None:
    containers: dict[str, ContainerState] = {}
    apply_event(containers, event("start", service="airflow-init"), set())
    assert containers["c1"].health == ""
    apply_event(containers, event("die", service="airflow-init", exitCode="0"), set())
    assert (containers["c1"].state, containers["c1"].exit_code) == ("exited", 0)


def test_events_of_other_kinds_or_without_a_service_change_nothing() -> None:
    containers: dict[str, ContainerState] = {}
    assert not apply_event(containers, event("exec_start: pg_isready"), set())
    no_service = {"Action": "start", "Actor": {"ID": "x", "Attributes": {}}}
    assert not apply_event(containers, no_service, set())
    assert containers == {}


def test_the_stream_asks_only_for_this_projects_container_changes() -> None:
    argv = events_args("demo")
    assert argv[0] == "events"
    assert "label=com.docker.compose.project=demo" in argv
    assert "type=container" in argv
    assert "event=health_status" in argv and "event=die" in argv
    assert argv[-2:] == ["--format", "{{json .}}"]


def test_without_the_event_process_the_watch_falls_back_to_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "docker"  # on PATH and executable, but no program: the start fails
    broken.write_bytes(b"\0not a program\0")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    calls = []

    def snapshot() -> list[ContainerState]:
        calls.append(1)
        return [ContainerState("demo-postgres-1", "postgres", "running", "healthy", 0)]

    watch = ComposeWatch(events_args("demo"), snapshot, set())
    try:
        assert not watch.streaming
        assert watch.changes(0.1)[0].health == "healthy"
        assert len(calls) >= 2
    finally:
        watch.close()


@pytest.mark.engine
def test_a_real_stream_reports_start_health_and_exit(engine: None, tmp_path: Path) -> None:
    """A throwaway one-service project on the real engine: every change arrives as it happens,
    with no `ps` after the first."""
    name = f"watch-{uuid.uuid4().hex[:6]}"
    image = "tinyctl/debian-base:bookworm"
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
        pytest.fail(f"{image} is missing: build the images first (`tinyctl build`)")
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        f"""name: {name}
services:
  job:
    image: {image}
    command: ["sh", "-c", "touch /tmp/ready; sleep 3; exit 3"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
"""
    )
    snapshots = []

    def snapshot() -> list[ContainerState]:
        snapshots.append(1)
        return []

    watch = ComposeWatch(events_args(name), snapshot, {"job"})
    seen: list[tuple[str, str, int]] = []
    try:
        assert watch.streaming
        subprocess.run(
            ["docker", "compose", "-f", str(compose), "-p", name, "up", "-d"],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            containers = watch.changes(5)
            if containers:
                c = containers[0]
                if not seen or seen[-1] != (c.state, c.health, c.exit_code):
                    seen.append((c.state, c.health, c.exit_code))
                if c.state == "exited":
                    break
    finally:
        watch.close()
        subprocess.run(
            ["docker", "compose", "-f", str(compose), "-p", name, "down", "-t", "0"],
            capture_output=True,
        )
    assert ("running", "healthy", 0) in seen, seen
    assert seen[-1][0] == "exited" and seen[-1][2] == 3, seen
    assert len(snapshots) == 1  # the stream carried every change
