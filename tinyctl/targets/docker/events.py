"""Watching a Compose project's containers through ONE `docker events` stream.

`tinyctl up` used to ask `docker compose ps` every 0.25 s while the stack started: a Go
process of ~0.1 s CPU each time, competing with Airflow's own start-up on two cores. Here one
`docker events` process, started before the containers are, reports every create, start,
exit, health change and removal of the project's containers as it happens; the state is kept
from those events, so waiting costs nothing while nothing changes. The initial state comes
from one `docker compose ps`; if the event stream cannot run or ends, the watch falls back to
asking `ps` once a second.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tinyctl.targets.docker import cli
from tinyctl.targets.docker.containers import ContainerState

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
# Only the events that change what `ServiceStatus` shows (healthchecks' exec_* are left out).
EVENTS = ("create", "start", "die", "destroy", "health_status")
FALLBACK_POLL_SECONDS = 1.0


def events_args(project: str) -> list[str]:
    """`docker events` of the project's containers, one JSON object per line."""
    argv = [
        "events",
        "--filter",
        f"label={PROJECT_LABEL}={project}",
        "--filter",
        "type=container",
    ]
    for event in EVENTS:
        argv += ["--filter", f"event={event}"]
    return [*argv, "--format", "{{json .}}"]


def apply_event(
    containers: dict[str, ContainerState], event: dict[str, Any], has_healthcheck: set[str]
) -> bool:
    """Update `containers` (by id) from one decoded event; True when something changed."""
    action = str(event.get("Action") or event.get("status") or "")
    actor = event.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    cid = str(actor.get("ID") or event.get("id") or "")
    service = attributes.get(SERVICE_LABEL)
    if not cid or not service:
        return False
    known = cid in containers
    current = containers.get(cid) or ContainerState(
        name=str(attributes.get("name", "")),
        service=service,
        state="created",
        health="",
        exit_code=0,
        labels=",".join(
            f"{k}={v}" for k, v in attributes.items() if k not in ("name", "image", "exitCode")
        ),
    )
    if current.id != cid:  # a container from the snapshot, or made by this event
        current = replace(current, id=cid)
    if action == "destroy":
        return containers.pop(cid, None) is not None
    if action == "create":
        new = replace(current, state="created", health="", exit_code=0)
    elif action == "start":
        new = replace(
            current,
            state="running",
            health="starting" if service in has_healthcheck else "",
            exit_code=0,
        )
    elif action == "die":
        try:
            code = int(attributes.get("exitCode") or 0)
        except ValueError:
            code = 1
        new = replace(current, state="exited", exit_code=code)
    elif action.startswith("health_status"):
        new = replace(current, health=action.partition(":")[2].strip() or current.health)
    else:
        return False
    containers[cid] = new
    return not known or new != current


class ComposeWatch:
    """The project's containers, kept current from `docker events`; see the module docstring.

    `changes(timeout)` blocks until a container changed (or `timeout` passed) and returns the
    current containers; `close()` ends the event process.
    """

    def __init__(
        self,
        args: list[str] | None,
        snapshot: Callable[[], list[ContainerState]],
        has_healthcheck: set[str] | Callable[[], set[str]],
    ):
        self._snapshot = snapshot
        # Which services have a healthcheck is read when the first start event needs it: the
        # watch may be opened while `up` is still rendering the compose file.
        self._has_healthcheck = has_healthcheck
        self._changed = threading.Condition()
        self._version = 0
        self._seen = 0
        self._closed = False
        self._containers: dict[str, ContainerState] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._streaming = False
        # args None: no event stream, `snapshot` once a second (Podman: see podman.py)
        try:
            if args is not None:
                self._process = cli.spawn(args, stderr=subprocess.DEVNULL)
                self._streaming = True
        except OSError:
            self._process = None
        # The stream is open before the snapshot is taken: no change falls between the two.
        # Events that arrive before the snapshot is in are applied on top of it.
        self._pending: list[dict[str, Any]] = []
        self._have_snapshot = False
        if self._process is not None:
            threading.Thread(target=self._read, name="compose-events", daemon=True).start()
        self._load_snapshot()

    @property
    def streaming(self) -> bool:
        """True while changes arrive from the event stream (False: polling `ps`)."""
        return self._streaming

    def _load_snapshot(self) -> None:
        rows = self._snapshot()
        ids_unknown = {f"name:{c.name}": c for c in rows}
        with self._changed:
            # containers from `ps` are keyed by name until an event names their id
            for key, container in ids_unknown.items():
                self._containers.setdefault(key, container)
            self._have_snapshot = True
            for event in self._pending:
                self._apply(event)
            self._pending.clear()
            self._version += 1
            self._changed.notify_all()

    def _apply(self, event: dict[str, Any]) -> bool:
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        name = attributes.get("name")
        cid = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
        if name and f"name:{name}" in self._containers and cid:
            self._containers[cid] = self._containers.pop(f"name:{name}")
        if callable(self._has_healthcheck):
            self._has_healthcheck = self._has_healthcheck()
        return apply_event(self._containers, event, self._has_healthcheck)

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for raw in self._process.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            with self._changed:
                if not self._have_snapshot:
                    self._pending.append(event)
                    continue
                if self._apply(event):
                    self._version += 1
                    self._changed.notify_all()
        with self._changed:  # the stream ended: fall back to polling
            self._streaming = False
            self._changed.notify_all()

    def changes(self, timeout: float) -> list[ContainerState]:
        """The containers once something changed since the last call, or after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._streaming and self._version == self._seen and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            streaming = self._streaming
            if streaming:
                self._seen = self._version
                return sorted(self._containers.values(), key=lambda c: c.name)
        # No stream (or it ended): one `ps` per call, at most once a second.
        time.sleep(max(0.0, min(timeout, FALLBACK_POLL_SECONDS)))
        return self._snapshot()

    def close(self) -> None:
        self._closed = True
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        with self._changed:
            self._changed.notify_all()
