"""The Compose runtime: the rendered compose file, run on a Docker engine."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from tinyctl.errors import BadInput, EnvironmentProblem, TinyctlError, WorkFailed
from tinyctl.plan.labels import FOLDER_LABEL, PROJECT_ID_LABEL, project_labels
from tinyctl.plan.values import Endpoint, Place, Value
from tinyctl.state.fsutil import write_atomic
from tinyctl.state.runtime_record import record_runtime
from tinyctl.targets.base import (
    AIRFLOW_SERVICES,
    POSTGRES,
    SKIPPED,
    BuildOutcome,
    ClosingWatch,
    Mount,
    OneOffResult,
    OneShotSkips,
    ProgressCallback,
    ServiceStatus,
    StackOwner,
    StartHandle,
    http_url,
    reachable_host,
)
from tinyctl.targets.compose.render import CPU_SHARES, DATA_VOLUME, PLACES, address, resolve
from tinyctl.targets.compose.start import ONE_SHOTS, PhasedStart
from tinyctl.targets.docker import cli as docker_cli
from tinyctl.targets.docker import engine_api, podman
from tinyctl.targets.docker.base_image import base_image_current, build_base_image
from tinyctl.targets.docker.containers import ContainerState
from tinyctl.targets.docker.events import ComposeWatch, events_args
from tinyctl.targets.docker.gateway import Docker, EngineInfo, ServerInfo
from tinyctl.targets.docker.images import INPUTS_LABEL, base_image, plan_images

BUILD_ENV = {"COMPOSE_BAKE": "false", "DOCKER_BUILDKIT": "1"}
# Compose services that run once per start (database setup, Airflow's migrations).
ONE_SHOT = ONE_SHOTS
# Where the Airflow containers see the state folder's `dags/` (bind mount in compose.yaml).
CONTAINER_DAGS = PLACES[Place.DAGS]
# Postgres inside the Compose network: the service name, on its own port.
POSTGRES_IN_NETWORK = address(Endpoint.WAREHOUSE)
# Compose's own labels (the data volume's name is the renderer's DATA_VOLUME).
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_VOLUME_LABEL = "com.docker.compose.volume"
COMPOSE_DIR_LABEL = "com.docker.compose.project.working_dir"


def _owner_text(folder: str, ident: str) -> str:
    return f"the tinyctl project in {folder}" if folder else f"another tinyctl project (id {ident})"


def _health(state: str, health: str, exit_code: int, one_shot: bool) -> str:
    if one_shot:
        if state == "exited":
            return "completed" if exit_code == 0 else "failed"
        return "running" if state == "running" else state
    return health or "none"


def _unwell(container) -> bool:
    """Not running healthy, and not done: a container that exited 0 (a finished one-shot) was
    not killed by anything."""
    if container.state == "exited":
        return container.exit_code != 0
    return container.state != "running" or container.health in ("starting", "unhealthy")


class ComposeServiceWatch(ClosingWatch):
    """`Runtime.watch_services()` for Compose: container changes as `ServiceStatus` lists."""

    def __init__(self, watch: Any, to_statuses: Callable[[list], list[ServiceStatus]]):
        self._watch, self._to_statuses = watch, to_statuses

    def changes(self, timeout: float) -> list[ServiceStatus]:
        return self._to_statuses(self._watch.changes(timeout))

    def close(self) -> None:
        self._watch.close()


# How far back `status` and `up` look for OOM kills of a container that is not healthy.
OOM_LOOKBACK = 3600.0


class ComposeRuntime:
    name = "compose"
    reason = ""

    def __init__(self, project: StackOwner):
        self.owner = project
        self.spec = project.spec
        self.environ = project.environ
        self.project = project.name
        self.state = project.state
        self.compose_file = project.state.compose_file

    @cached_property
    def docker(self) -> Docker:
        """The engine and this project's Compose commands (each through the Docker chokepoint)."""
        return Docker(self.compose_file, self.project)

    # ------------------------------------------------------------------ engine

    def check_engine(self) -> dict[str, str]:
        info = self._engine_light() or self.docker.engine()
        self._engine = info
        return {
            "engine": info.server_version,
            "compose": info.compose_version,
            "cpus": str(info.cpus),
        }

    def _engine_light(self) -> EngineInfo | None:
        """Engine facts from the engine API (no `docker info` process, on `up`'s critical path)
        and `docker compose version`; None where the engine is not on a local socket, so that
        `docker info` reports what is wrong."""
        try:
            facts = engine_api.info(self.environ)
        except engine_api.EngineApiUnavailable:
            return None
        return EngineInfo.of(ServerInfo.from_info(facts), self.docker.compose_version())

    def memory_bytes(self) -> int:
        info = getattr(self, "_engine", None) or self.docker.engine()
        return info.memory_bytes

    def describe_port_holder(self, port: int, process: str | None) -> str | None:
        # Docker publishes ports through docker-proxy (or iptables, where no process shows).
        if process is not None and not process.startswith("docker-proxy"):
            return None
        owners = self.docker.containers_publishing(port)
        if not owners:
            return None
        return ", ".join(
            f"container {name}" + (f" of project {project}" if project else "")
            for name, project in owners
        )

    # ------------------------------------------------------------------ ownership

    @property
    def _own_id(self) -> str | None:
        identity = self.owner.identity
        return identity.id if identity else None

    def _data_volume(self) -> str:
        return f"{self.project}_{DATA_VOLUME}"

    def _ownership_rows(self) -> dict[str, list[list[str]]]:
        """{kind: [[name, project id, folder, compose working dir], ...]} of this Compose
        project name's containers, volumes and networks."""
        from concurrent.futures import ThreadPoolExecutor  # lazy: only commands checking ownership

        selector = f"{COMPOSE_PROJECT_LABEL}={self.project}"
        fields = (PROJECT_ID_LABEL, FOLDER_LABEL, COMPOSE_DIR_LABEL)
        with ThreadPoolExecutor(max_workers=3) as pool:
            found = {
                kind: pool.submit(self._resources, kind, selector, fields)
                for kind in ("container", "volume", "network")
            }
            listed = {kind: future.result() for kind, future in found.items()}
        return {kind: [([*r, "", "", ""])[:4] for r in rows] for kind, rows in listed.items()}

    def _foreign(self, listed: dict[str, list[list[str]]]) -> dict[str, list[str]]:
        """{owner text: resources} of what another project made; "" for this very folder's
        stack made under an identity the state folder no longer holds (the folder was deleted
        and created again while the stack ran)."""
        foreign: dict[str, list[str]] = {}
        state_dir = str(self.state.root)
        for kind, rows in listed.items():
            for name, ident, folder, working_dir in rows:
                if ident:
                    if ident != self._own_id:
                        owner = "" if folder == str(self.owner.root) else _owner_text(folder, ident)
                        foreign.setdefault(owner, []).append(f"{kind} {name}")
                elif kind == "container" and working_dir and working_dir != state_dir:
                    # made by an earlier tinyctl (no id label) for another folder
                    owner = _owner_text(str(Path(working_dir).parent), "")
                    foreign.setdefault(owner, []).append(f"{kind} {name}")
        return foreign

    def orphaned_ids(self) -> list[str]:
        """The project ids of this folder's own stack made under an identity its state folder
        no longer holds; none while another folder's stack uses this project name."""
        listed = self._ownership_rows()
        if set(self._foreign(listed)) - {""}:
            return []
        here, mine = str(self.owner.root), self._own_id
        ids = {r[1] for rows in listed.values() for r in rows if r[1] and r[2] == here}
        return sorted(ids - {mine})

    def check_ownership(self) -> None:
        """Refuse (EnvironmentProblem) when containers, volumes or networks of this Compose
        project name belong to another tinyctl project, or to this folder under an identity it
        lost; adopt the data volume an earlier tinyctl made for this folder (it has no id label,
        and Docker cannot add one)."""
        listed = self._ownership_rows()
        foreign = self._foreign(listed)
        others = {owner: found for owner, found in foreign.items() if owner}
        if others:
            self._refuse_foreign(others)
        if foreign:
            self._refuse_orphaned(foreign[""])
        self._volumes_seen = [row[0] for row in listed["volume"] if row]
        if self._own_id is None:
            return
        for name, ident, _folder, _dir in listed["volume"]:
            if not ident and name == self._data_volume():
                self.owner.record_adopted(name)

    def _refuse_foreign(self, foreign: dict[str, list[str]]) -> None:
        owner = next(iter(foreign))
        folder = owner.removeprefix("the tinyctl project in ")
        where = f" in {folder}" if folder != owner else " in that folder"
        raise EnvironmentProblem(
            f"the Compose project {self.project} belongs to {owner}",
            details="Its resources: "
            + ", ".join(r for rs in foreign.values() for r in rs)
            + f"\nThis folder is {self.owner.root}.",
            hint=f"Give this project another name (project.name in {self.owner.spec_file.name}), "
            f"or remove that project's stack: `tinyctl down --volumes`{where} (deletes its data).",
        )

    def _refuse_orphaned(self, resources: list[str]) -> None:
        raise EnvironmentProblem(
            f"a stack of this folder is running, but {self.state.root.name}/ no longer knows it",
            details=f"The Compose project {self.project} was started from {self.owner.root} "
            "under an identity this folder's state no longer holds (the folder was deleted and "
            "created again, or `tinyctl init` run again, while the stack ran).\nIts resources: "
            + ", ".join(resources),
            hint="Take it over with its data: `tinyctl up --adopt`; or remove it: "
            "`tinyctl down --orphaned` (add `--volumes --yes` to delete its data too).",
        )

    def _ensure_data_volume(self) -> bool:
        """Create the data volume labelled with the project's identity (Compose would create it
        without); whether it was created. An existing one is kept as it is."""
        identity = self.owner.identity
        if identity is None:
            return False
        name = self._data_volume()
        if name in getattr(self, "_volumes_seen", ()):  # listed by check_ownership just before
            return False
        existing = self._resources("volume", f"{COMPOSE_VOLUME_LABEL}={DATA_VOLUME}", ())
        if any(row[0] == name for row in existing):
            return False
        labels = {
            COMPOSE_PROJECT_LABEL: self.project,
            COMPOSE_VOLUME_LABEL: DATA_VOLUME,
            **project_labels(self.spec, identity),
        }
        self.docker.create_volume(name, labels)
        return True

    def _own_volumes(self) -> list[str]:
        """The volumes `down --volumes` may delete: labelled with this id, or adopted."""
        identity = self.owner.identity
        if identity is None:
            return []
        rows = self._resources(
            "volume", f"{COMPOSE_PROJECT_LABEL}={self.project}", (PROJECT_ID_LABEL,)
        )
        return [
            row[0]
            for row in rows
            if (len(row) > 1 and row[1] == identity.id)
            or ((len(row) < 2 or not row[1]) and row[0] in identity.adopted)
        ]

    def _require_render(self) -> None:
        if not self.compose_file.is_file():
            raise BadInput(
                f"{self.compose_file} does not exist",
                hint="Run `tinyctl render` (or `tinyctl up`).",
            )

    # ------------------------------------------------------------------ images

    def images_to_build(self) -> list[str]:
        """Services whose image is missing or was built from other inputs."""
        return [
            plan.service
            for plan in plan_images(self.owner.loaded, self.environ)
            if plan.build and self._image_label(plan.image, INPUTS_LABEL) != plan.build.digest
        ]

    def _image_label(self, tag: str, label: str) -> str | None:
        """The value of `label` on image `tag` (None: no such image), from the engine API where
        it is on a local socket."""
        try:
            labels = engine_api.image_labels(tag, self.environ)
        except engine_api.EngineApiUnavailable:
            return self.docker.image_label(tag, label)
        return None if labels is None else labels.get(label, "")

    def build(
        self,
        *,
        force: bool = False,
        show_output: bool = True,
        on_step: ProgressCallback | None = None,
    ) -> list[BuildOutcome]:
        self._require_render()
        plans = [p for p in plan_images(self.owner.loaded, self.environ) if p.build]
        stale = set(self.images_to_build())
        todo = [p for p in plans if force or p.service in stale]
        outcomes = [
            BuildOutcome(p.service, p.image, False, "up to date") for p in plans if p not in todo
        ]
        if not todo:
            return outcomes

        base = base_image(self.owner.loaded, self.environ)
        if (
            base
            and any(p.build and p.build.needs_base for p in todo)
            and (force or not base_image_current(self.docker, base))
        ):
            if on_step:
                on_step(f"building the Debian base image {base.tag} (debootstrap, about 30 s)")
            build_base_image(self.docker, base)
        if on_step:
            on_step("building " + ", ".join(f"{p.image}" for p in todo))
        if self.product.is_podman:
            self._build_on_podman([p.service for p in todo], force, show_output)
        else:
            args = ["build", *(["--no-cache"] if force else []), *[p.service for p in todo]]
            self.docker.compose(
                args, "docker compose build", capture=not show_output, env=BUILD_ENV
            )
        return outcomes + [
            BuildOutcome(p.service, p.image, True, "forced" if force else "inputs changed")
            for p in todo
        ]

    def _build_on_podman(self, services: list[str], force: bool, show_output: bool) -> None:
        """Compose cannot build on Podman with build secrets (see targets/docker/podman.py):
        `podman --remote build` each image, from the compose file's own build sections."""
        config = self.docker.compose_config()
        files = podman.secret_files(config)
        url = self.environ.get("DOCKER_HOST") or f"unix://{engine_api.engine_socket(self.environ)}"
        for image, build in podman.services_built(config, services):
            argv = podman.build_argv(url, image, build, files, no_cache=force)
            self.docker.podman_build(argv, image, capture=not show_output)

    @cached_property
    def product(self) -> podman.EngineProduct:
        """The engine behind DOCKER_HOST (Docker or Podman), from its /version."""
        try:
            return podman.product_of(engine_api.version(self.environ))
        except engine_api.EngineApiUnavailable:
            return podman.product_of(self.docker.server_version())

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, skip: OneShotSkips | None = None) -> StartHandle:
        """`docker compose up -d` in the background (in phases with `skip`: see
        `tinyctl.targets.compose.start`); the caller polls `services()` meanwhile."""
        self._require_render()

        record_runtime(self.state, self.name)
        created = self._ensure_data_volume()
        self._record_skipped({})
        if skip is not None:
            phased = PhasedStart(
                self.docker.start_compose,
                self.service_statuses,
                self.expected_services(),
                skip,
                self._record_skipped,
                new_database=created,
            )
            return StartHandle.in_thread(
                phased.run, stop=phased.stop, grace=10, name="tinyctl-compose-up"
            )
        process = self.docker.start_compose(
            ["up", "--detach", "--remove-orphans", "--pull", "missing"]
        )

        def stop() -> None:
            if process.poll() is None:
                process.terminate()

        return StartHandle.in_thread(
            lambda: docker_cli.finish(process, "docker compose up"),
            stop=stop,
            grace=10,
            name="tinyctl-compose-up",
        )

    def end_start(self) -> None:
        """Back to Docker's default CPU weight for the services that started with more (see
        `Service.start_weight`): once healthy, the api-server is no longer ahead of the tasks.
        A restart by Docker keeps the default; the next `up` that creates them starts them
        weighted again. Where the engine refuses (a Podman without cgroup CPU control), the
        weight stays: it only matters while several services want the CPU."""
        weighted = {s.name for s in self.owner.plan.services if s.start_weight > 1}
        names = [
            c.name for c in self._containers() if c.service in weighted and c.state == "running"
        ]
        if names:
            with contextlib.suppress(TinyctlError):
                self.docker.set_cpu_shares(names, CPU_SHARES)

    def _record_skipped(self, skipped: Mapping[str, str]) -> None:
        """Remember which one-shots this start left out, for `services()` (and `status`)."""
        self._skipped = dict(skipped)
        path = self.state.file(self.state.SKIPPED_ONE_SHOTS)
        if skipped:
            write_atomic(path, (json.dumps(self._skipped, sort_keys=True) + "\n").encode())
        else:
            path.unlink(missing_ok=True)

    def _skipped_one_shots(self) -> dict[str, str]:
        if hasattr(self, "_skipped"):
            return self._skipped
        try:
            found = json.loads(self.state.file(self.state.SKIPPED_ONE_SHOTS).read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def airflow_install(self) -> str | None:
        """The id of the Airflow image the components run (None: not built or pulled yet)."""
        tag = next(
            p.image
            for p in plan_images(self.owner.loaded, self.environ)
            if p.service == "airflow-init"
        )
        try:
            return engine_api.image_id(tag, self.environ)
        except engine_api.EngineApiUnavailable:
            return self.docker.image_id(tag)

    def stop(self, *, volumes: bool = False) -> None:
        if not self.compose_file.is_file():
            return
        # No --timeout: it would override every service's own stop_grace_period (compose.yaml
        # gives each the time its shutdown needs; idle, they all stop in well under a second).
        self.check_ownership()  # never stop or delete another folder's stack
        self.docker.compose(["down", "--remove-orphans"], "docker compose down")
        self._record_skipped({})
        if volumes:
            self.docker.remove_volumes(self._own_volumes())

            record_runtime(self.state, None)

    def restart(self, service: str | None = None, *, skip: OneShotSkips | None = None) -> None:
        """`docker compose restart`: the containers as they are (`skip` changes nothing here:
        a one-shot's container runs again only if it exists)."""
        self._require_render()
        self._check_service(service)
        self.check_ownership()  # never restart another folder's containers
        self.docker.compose(["restart", *([service] if service else [])], "docker compose restart")

    def restart_airflow(self) -> None:
        self._require_render()
        names = [s for s in self.expected_services() if s in AIRFLOW_SERVICES]
        self.docker.compose(["restart", *names], "docker compose restart")

    def _check_service(self, service: str | None) -> None:
        if service and service not in self.expected_services():
            raise BadInput(
                f"no service {service!r} in project {self.project}",
                hint="Services: " + ", ".join(self.expected_services()),
            )

    # ------------------------------------------------------------------ observing

    def expected_services(self) -> list[str]:
        services = ["postgres", "db-setup", "airflow-init", *AIRFLOW_SERVICES]
        if self.spec.airflow.executor == "CeleryExecutor":
            services[1:1] = ["redis"]
        planned = {s.name for s in self.owner.plan.services}
        return [s for s in services if s in planned]

    def _containers(self):
        """The project's containers: one engine API request on the local socket (a few ms, no
        process); `docker compose ps` where the engine is not on a local socket."""
        if not self.compose_file.is_file():
            return []
        try:
            rows = engine_api.containers(
                [f"{COMPOSE_PROJECT_LABEL}={self.project}", "com.docker.compose.oneoff=False"],
                self.environ,
            )
        except engine_api.EngineApiUnavailable:
            return self._compose_ps()
        containers = [ContainerState.from_api(row) for row in rows]
        if self.product.is_podman:
            containers = self._podman_health(containers)
        return sorted(containers, key=lambda c: c.name)

    def _podman_health(self, containers: list[ContainerState]) -> list[ContainerState]:
        """Podman runs health checks from systemd timers only (none without systemd) and its
        container list shows no health: run each running container's check now, as Docker's
        engine would have on its interval (see targets/docker/podman.py)."""
        # lazy: the thread pool only on Podman (a Docker engine runs its checks itself)
        from concurrent.futures import ThreadPoolExecutor
        from dataclasses import replace

        checked = self._services_with_healthcheck()
        due = [c for c in containers if c.state == "running" and c.service in checked]

        def probe(container: ContainerState) -> ContainerState:
            try:
                status = engine_api.run_healthcheck(
                    container.name, self.environ, podman.HEALTHCHECK_PATH
                )
            except engine_api.EngineApiUnavailable:
                return container
            return replace(container, health=status or container.health)

        if not due:
            return containers
        with ThreadPoolExecutor(max_workers=len(due)) as pool:
            probed = {c.name: c for c in pool.map(probe, due)}
        return [probed.get(c.name, c) for c in containers]

    def _compose_ps(self) -> list[ContainerState]:
        return self.docker.ps()

    def _resources(self, kind: str, label: str, fields: Sequence[str]) -> list[list[str]]:
        """Containers, volumes or networks carrying `label`, as [name, *label values]: from the
        engine API on the local socket, else through the Docker CLI."""
        try:
            return engine_api.resources(kind, label, fields, self.environ)
        except engine_api.EngineApiUnavailable:
            return self.docker.resources(kind, label, fields)

    def services(self) -> list[ServiceStatus]:
        return self._statuses(self._containers())

    def service_statuses(self, services: Sequence[str]) -> list[ServiceStatus]:
        """`services()` of the named services only, from one engine API request on the local
        socket (no Compose process: `seed` and `psql` ask this before they connect); through
        `docker compose ps` where the engine is not on a local socket."""
        wanted = set(services)
        return [s for s in self._statuses(self._containers()) if s.service in wanted]

    def _mine(self, containers: list) -> list:
        """Only the containers of this folder's stack (a same-named project elsewhere is not ours):
        labelled with this project's id, or made by an earlier tinyctl (no id label) from this
        folder's state folder. The latter still hold the stack's ports until `up` recreates them,
        so they count as this stack's for status and the port pre-flight."""
        mine = self._own_id
        state_dir = str(self.state.root)

        def ours(container) -> bool:
            ident = container.label(PROJECT_ID_LABEL)
            if ident:
                return bool(mine) and ident == mine
            return container.label(COMPOSE_DIR_LABEL) == state_dir

        return [c for c in containers if ours(c)]

    def watch_services(self) -> ComposeServiceWatch:
        """Service changes from one `docker events` stream (see `tinyctl.targets.docker.events`)."""
        # Podman: its health_status events carry no result, and nobody runs the checks but
        # tinyctl (see _podman_health), so the watch polls instead of streaming events.
        watch = ComposeWatch(
            None if self.product.is_podman else events_args(self.project),
            self._containers,
            self._services_with_healthcheck,
        )
        return ComposeServiceWatch(watch, self._statuses)

    def _services_with_healthcheck(self) -> set[str]:
        try:
            document = yaml.safe_load(self.compose_file.read_text()) or {}
        except (OSError, yaml.YAMLError):
            return set()
        services = document.get("services") or {}
        return {name for name, body in services.items() if (body or {}).get("healthcheck")}

    def _statuses(self, containers: list) -> list[ServiceStatus]:
        containers = self._mine(containers)
        oom = self._oom_kills(containers)
        by_service: dict[str, list] = {}
        for container in containers:
            by_service.setdefault(container.service, []).append(container)
        result: list[ServiceStatus] = []
        skipped = self._skipped_one_shots()
        for service in self.expected_services():
            found = by_service.get(service, [])
            replicas = self.spec.airflow.worker_count if service == "worker" else 1
            if not found and service in skipped:
                result.append(ServiceStatus(service, service, SKIPPED, SKIPPED, one_shot=True))
                continue
            if not found:
                for i in range(replicas):
                    name = f"{service}-{i + 1}" if replicas > 1 else service
                    result.append(ServiceStatus(name, service, "missing", "none"))
                continue
            for container in found:
                suffix = container.name.rsplit("-", 1)[-1]
                name = f"{service}-{suffix}" if replicas > 1 or len(found) > 1 else service
                one_shot = service in ONE_SHOT
                killed, limit, exit_code = self._ended(container, oom)
                result.append(
                    ServiceStatus(
                        name=name,
                        service=service,
                        state=container.state,
                        health=_health(container.state, container.health, exit_code, one_shot),
                        ports=container.ports,
                        exit_code=exit_code,
                        published=container.published,
                        one_shot=one_shot,
                        oom_killed=killed,
                        memory_limit=limit,
                    )
                )
        return result

    def _ended(self, container, oom: set[str]) -> tuple[bool, int, int]:
        """(killed by the OOM killer, its memory limit, exit code) of a container that stopped,
        is being restarted or was OOM-killed since it was made (`oom`: a restart loop shows as
        "running" between kills): the container list says neither, its inspection does (one
        more request, for such a container only)."""
        failed = container.state in ("restarting", "dead") or (
            container.state == "exited" and container.exit_code != 0
        )
        if not failed and container.id not in oom:
            return False, 0, container.exit_code
        data = self._inspect(container.id or container.name)  # its name changes as it is recreated
        state = data.get("State") or {}
        limit = int((data.get("HostConfig") or {}).get("Memory") or 0)
        killed = bool(state.get("OOMKilled")) or container.id in oom
        return killed, limit, int(state.get("ExitCode") or container.exit_code)

    def _oom_kills(self, containers: list) -> set[str]:
        """Ids of this project's containers not (yet) healthy that the OOM killer hit in the
        last OOM_LOOKBACK seconds: one events request, made only when one is not healthy."""
        unwell = [c for c in containers if _unwell(c)]
        if not any(c.id for c in unwell):
            return set()
        try:
            hit = engine_api.oom_kills(
                f"{COMPOSE_PROJECT_LABEL}={self.project}", time.time() - OOM_LOOKBACK, self.environ
            )
        except engine_api.EngineApiUnavailable:
            return set()  # no local socket: an OOM kill shows while the container is down
        return {c.id for c in unwell if c.id in hit}

    def _inspect(self, container: str) -> dict:
        try:
            return engine_api.inspect(container, self.environ)
        except engine_api.NotFound:
            return {}  # removed since it was listed
        except engine_api.EngineApiUnavailable:
            try:
                return self.docker.inspect(container)
            except TinyctlError:
                return {}

    def running_for(self, services: Sequence[str]) -> dict[str, float]:
        """Seconds since each named service's running container started (its inspection)."""
        wanted = set(services)
        ages = {}
        for container in self._mine(self._containers()):
            if container.service not in wanted or container.state != "running":
                continue
            state = self._inspect(container.id or container.name).get("State") or {}
            started = _parse_started(str(state.get("StartedAt") or ""))
            if state.get("Running") and started is not None:
                name = container.service if container.service != "worker" else container.name
                ages[name] = max(0.0, time.time() - started)
        return ages

    def service_starts(self, services: Sequence[str]) -> dict[str, str]:
        """The id, start time and restart count of each named service's running container."""
        wanted = set(services)
        starts = {}
        for container in self._mine(self._containers()):
            if container.service not in wanted or container.state != "running":
                continue
            data = self._inspect(container.id or container.name)
            state = data.get("State") or {}
            if state.get("Running"):
                starts[container.name] = (
                    f"{data.get('Id', '')[:12]}:{state.get('StartedAt')}:{data.get('RestartCount')}"
                )
        return starts

    def logs(
        self, service: str | None = None, *, tail: int | None = None, follow: bool = False
    ) -> Iterator[str]:
        self._require_render()
        self._check_service(service)
        self.check_ownership()  # never show another folder's logs as this project's
        lines = self.docker.logs(service, tail=tail, follow=follow)
        skipped = self._skipped_one_shots().get(service or "")
        if skipped is None:
            return lines
        # no container of its own this time: its log says so, and why
        note = f"tinyctl: {service} was left out by the last `tinyctl up`: {skipped}"
        return itertools.chain(lines, [note])

    def exec(
        self,
        service: str,
        argv: list[str],
        *,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        return self.docker.exec(service, argv, input=input, env=env)

    def interactive(
        self, service: str, argv: list[str], *, env: dict[str, str] | None = None
    ) -> int:
        args = ["exec"]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        if not os.isatty(0):
            args.append("-T")
        return self.docker.compose_interactive([*args, service, *argv])

    def _ensure_airflow_image(self, on_step: ProgressCallback | None) -> str:
        plan = next(
            p for p in plan_images(self.owner.loaded, self.environ) if p.service == "airflow-init"
        )
        if plan.build is None:
            return plan.image  # pulled by `docker run` when missing
        if self.docker.image_label(plan.image, INPUTS_LABEL) == plan.build.digest:
            return plan.image
        # built from the rendered build context: the caller renders first (`render_for_build`)
        self.build(show_output=False, on_step=on_step)
        return plan.image

    def run_oneoff(
        self,
        argv: Sequence[Value],
        *,
        mounts: Sequence[Mount] = (),
        env: Mapping[str, Value] | None = None,
        input: bytes | None = None,
        network: bool = False,
        workdir: Value | None = None,
        interactive: bool = False,
        on_step: ProgressCallback | None = None,
    ) -> OneOffResult:
        image = self._ensure_airflow_image(on_step)
        return self.docker.run_container(
            image,
            [resolve(a) for a in argv],
            mounts=[(str(m.source), PLACES[m.target], m.read_only) for m in mounts],
            env={k: resolve(v) for k, v in (env or {}).items()},
            input=input,
            network=network,
            workdir=resolve(workdir) if workdir else None,
            interactive=interactive,
            labels={"com.tinyctl.project": self.project, "com.tinyctl.oneoff": "1"},
        )

    def api_url(self) -> str:
        return http_url(self.spec.airflow.bind, self.spec.airflow.port)

    def postgres_address_in_stack(self) -> tuple[str, int]:
        return POSTGRES_IN_NETWORK

    def dag_folder(self) -> Path:
        return self.state.dags_dir

    def airflow_dag_folder(self) -> str:
        return CONTAINER_DAGS

    def postgres_address(self) -> tuple[str, int]:
        """Where the host reaches Postgres: the published port, else the container's own address."""
        pg = self.spec.postgres
        if pg.port is not None:
            return reachable_host(pg.bind), pg.port
        address = self.docker.service_ip(POSTGRES)
        if not address:
            raise WorkFailed("Postgres is not running", hint="Start the stack with `tinyctl up`.")
        return address, POSTGRES_IN_NETWORK[1]


def _parse_started(text: str) -> float | None:
    """Docker's StartedAt (RFC 3339 with nanoseconds, Z) as Unix time; None when unset."""
    if not text or text.startswith("0001-"):
        return None
    head, _, rest = text.rstrip("Z").partition(".")
    try:
        stamp = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
    digits = "".join(ch for ch in rest if ch.isdigit())
    return stamp + (float(f"0.{digits}") if digits else 0.0)
