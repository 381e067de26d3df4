"""The local runtime: the same stack as the compose runtime, as supervised local processes.

PostgreSQL from the server binaries found on the machine, Airflow from a managed virtual
environment, each component a background process detached from tinyctl (its own session),
with a log file and a pid file in the state folder (`.tinyctl/local/`). The configuration is
the project's plan rendered for this machine (`tinyctl.targets.local.render`): the files
`tinyctl render` writes for the local target (the secret files in `secrets/airflow/` and
`secrets/postgres/`, the auth passwords file, `local/bootstrap.sh`), and the processes'
environments, with local folders and 127.0.0.1 (or the database's unix socket) addresses.
Secrets reach the processes as files, never as environment variables, as on compose.

Layout of `.tinyctl/local/`: `postgres/` (the cluster: `data/`, `sock/`; or a link to it),
`airflow-home/`, `run/<service>.pid` and `run/<one-shot>.json`, `logs/<service>.log`,
`ports.json` (the components' internal ports), `secrets/` (0700: the metadata URL secret files
with the local address, written at start), `bootstrap.sh` (rendered), `lib/` (PYTHONPATH).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tinyctl.errors import BadInput, EnvironmentProblem, WorkFailed
from tinyctl.http import httpx
from tinyctl.plan.values import Place, Value
from tinyctl.spec.image_inputs import image_inputs
from tinyctl.state.fsutil import sha256_bytes, write_atomic
from tinyctl.state.runtime_record import record_runtime
from tinyctl.targets.base import (
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
)
from tinyctl.targets.docker.images import ca_bundle
from tinyctl.targets.local import cluster as clusters
from tinyctl.targets.local import processes, registry
from tinyctl.targets.local import render as local_render
from tinyctl.targets.local.binaries import PgInstall, find_postgres
from tinyctl.targets.local.config import internal_ports
from tinyctl.targets.local.venv import Venv, VenvPlan, ensure_venv, uv_binary, venv_for

POSTGRES = "postgres"
ONE_SHOTS = ("db-setup", "airflow-init")
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
SERVICES = (POSTGRES, *ONE_SHOTS, *AIRFLOW_COMPONENTS)
DEFAULT_STOP_TIMEOUT = 10.0
POSTGRES_READY_TIMEOUT = 60.0


def _listening_port(argv: list[str]) -> int | None:
    """The TCP port in a recorded command line: Postgres' `-c port=N`, the api-server's
    `--port N`."""
    for i, arg in enumerate(argv):
        value = arg.removeprefix("port=") if arg.startswith("port=") else None
        if arg == "--port" and i + 1 < len(argv):
            value = argv[i + 1]
        if value is not None and value.isdigit():
            return int(value)
    return None


def _argv(component: str, venv: Venv, api_port: int, launcher: Path) -> list[str]:
    """The component's command: `airflow COMPONENT` through the launcher the containers use
    (Airflow's whole shutdown, without CPython's 2 s of teardown; see airflow_run.py)."""
    command = [str(venv.python), str(launcher), component]
    return [*command, "--port", str(api_port)] if component == "api-server" else command


@dataclass(frozen=True)
class LocalLayout:
    root: Path  # .tinyctl/local

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def cluster_link(self) -> Path:
        return self.root / "postgres"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow-home"

    @property
    def ports(self) -> Path:
        return self.root / "ports.json"

    @property
    def start_lock(self) -> Path:
        return self.root / "start.lock"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def bootstrap(self) -> Path:
        return self.root / "bootstrap.sh"

    def pid_file(self, service: str) -> Path:
        return self.run / f"{service}.pid"

    def one_shot_file(self, service: str) -> Path:
        return self.run / f"{service}.json"

    def log_file(self, service: str) -> Path:
        return self.logs / f"{service}.log"


class LocalWatch(ClosingWatch):
    """`Runtime.watch_services()` for the local runtime (a context manager). The start thread
    signals every step it takes (the server accepting connections, a one-shot starting or
    ending, a component spawned, the start's end), so those show at once; Airflow's health,
    which only its API can tell, is asked at most every `interval` seconds meanwhile."""

    def __init__(
        self,
        services: Callable[[], list[ServiceStatus]],
        changed: threading.Event,
        interval: float = 0.5,
    ):
        self._services, self._changed, self._interval = services, changed, interval
        self._first = True

    def changes(self, timeout: float) -> list[ServiceStatus]:
        """Every service as `services()` sees it: at once on the first call, then after the
        next step of the start or `min(timeout, interval)` seconds, whichever comes first."""
        if not self._first:
            self._changed.wait(max(0.0, min(timeout, self._interval)))
        self._first = False
        self._changed.clear()
        return self._services()


class LocalRuntime:
    name = "local"
    reason = ""

    def __init__(self, project: StackOwner):
        self.owner = project
        self.loaded = project.loaded
        self.spec = project.spec
        self.environ = project.environ
        self.project = project.name
        self.state = project.state
        self.state_dir = project.state.root
        self.layout = LocalLayout(project.state.local_dir)
        self._changed = threading.Event()  # set by the start thread at every step

    # ------------------------------------------------------------------ machine facts

    def _refuse_celery(self) -> None:
        if self.spec.airflow.executor == "CeleryExecutor":
            line, col = self.loaded.locate("airflow", "executor")
            raise BadInput(
                "the local runtime runs LocalExecutor only: CeleryExecutor needs Redis and "
                f"Celery workers, which it does not run (runtime local: {self.reason or 'chosen'})",
                hint=f"Set airflow.executor: LocalExecutor ({self.loaded.file}:{line}:{col}), or run "
                "on a Docker engine with `runtime: compose` (or TINYCTL_RUNTIME=compose).",
            )

    @cached_property
    def install(self) -> PgInstall:
        version = self.spec.postgres.version
        prefer = int(version) if version and str(version).isdigit() else None
        return find_postgres(self.environ, prefer_major=prefer)

    @cached_property
    def user(self) -> clusters.ServiceUser:
        return clusters.service_user()

    @cached_property
    def cluster(self) -> clusters.Cluster:
        pg = self.spec.postgres
        root = clusters.locate(self.layout.cluster_link, str(self.state_dir.resolve()), self.user)
        return clusters.Cluster(
            root=root,
            port=pg.port if pg.port is not None else 5432,
            listen_tcp=pg.port is not None,
            install=self.install,
            user=self.user,
            settings=self.owner.plan.server_settings,
        )

    @cached_property
    def venv_plan(self) -> VenvPlan:
        # the requirements as image builds read them: inline, or the lines of the file named
        return VenvPlan.for_spec(
            self.spec.airflow.version, list(image_inputs(self.loaded).requirements)
        )

    @property
    def venv(self) -> Venv:
        return venv_for(self.venv_plan, self.environ)

    def check_engine(self) -> dict[str, str]:
        self._refuse_celery()
        uv = uv_binary(self.environ)
        return {
            "runtime": f"local ({self.reason})" if self.reason else "local",
            "postgres": self.install.describe(),
            "python": self.venv_plan.python_version,
            "installer": "uv" if uv else "pip",
        }

    def memory_bytes(self) -> int:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

    # ------------------------------------------------------------------ the Airflow venv

    def images_to_build(self) -> list[str]:
        return [] if self.venv.ready() else ["airflow"]

    def build(
        self,
        *,
        force: bool = False,
        show_output: bool = True,
        on_step: ProgressCallback | None = None,
    ) -> list[BuildOutcome]:
        self._refuse_celery()
        images = self.spec.images
        venv, built = ensure_venv(
            self.venv_plan,
            self.environ,
            ca_bundle=ca_bundle(self.spec, self.environ, self.loaded.root),
            index_url=getattr(images, "pip_index_url", None),
            force=force,
            on_step=on_step,
        )
        reason = "forced" if force else ("inputs changed" if built else "up to date")
        return [BuildOutcome("airflow", f"venv {venv.path}", built, reason)]

    # ------------------------------------------------------------------ configuration

    @property
    def stop_timeout(self) -> dict[str, float]:
        """Seconds from the stop signal to SIGKILL: each service's grace period in the plan."""
        return {s.name: float(s.stop.grace_seconds) for s in self.owner.plan.services if s.stop}

    def _postgres_env(self) -> dict[str, str]:
        """The environment of the bootstrap and of psql & co.: the superuser and its password
        file (no secret), the cluster's socket, the found binaries first."""
        env = {k: v for k, v in self.environ.items() if not k.startswith("PG")}
        env.update(local_render.postgres_environment(self.owner.plan, self.loaded))
        env.update(self.cluster.client_env())
        env["PATH"] = f"{self.install.bindir}:{self.environ.get('PATH', '/usr/bin:/bin')}"
        return env

    def _lib_dir(self) -> Path:
        """A folder for PYTHONPATH holding only `include` (a link to the state folder's
        deployed copy), as the containers' lib folder does."""
        lib = local_render.places(self.loaded)[Place.LIB]
        link = lib / "include"
        target = self.state.file(self.state.INCLUDE)
        if not (link.is_symlink() and link.readlink() == target):
            lib.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(target, target_is_directory=True)
        return lib

    def _write_address_secrets(self) -> None:
        """The secret files holding a database URL, with this cluster's address (0600, in a
        0700 folder; rewritten only when they differ)."""
        files = local_render.address_secret_files(
            self.owner.plan, self.owner.secrets, self.postgres_address()
        )
        folder = self.layout.secrets
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        for name, content in files.items():
            target = folder / name
            data = content.encode()
            try:
                same = target.read_bytes() == data
            except OSError:
                same = False
            if not same:
                write_atomic(target, data, mode=0o600)

    def _addresses(self, *, in_use_by_us: bool) -> local_render.Addresses:
        af = self.spec.airflow
        return local_render.Addresses(
            database=self.postgres_address(),
            api=(af.bind, af.port),
            ports=internal_ports(self.layout.ports, in_use_by_us=in_use_by_us),
        )

    def _airflow_env(self, *, in_use_by_us: bool = False) -> dict[str, str]:
        self._write_address_secrets()
        self._lib_dir()
        return local_render.airflow_environment(
            self.owner.plan,
            self.loaded,
            base=self.environ,
            venv_bin=self.venv.bin,
            addresses=self._addresses(in_use_by_us=in_use_by_us),
        )

    @staticmethod
    def _config_digest(argv: list[str], env: Mapping[str, str]) -> str:
        """What a running component was started with: argv, its settings, and the content of
        the secret files its `*_CMD` settings read (a new password restarts it)."""
        keep = {k: v for k, v in env.items() if k.startswith(("AIRFLOW", "TINYCTL_", "PG"))}
        for key, command in sorted(keep.items()):
            if key.endswith("_CMD"):
                path = Path(shlex.split(command)[-1])
                with contextlib.suppress(OSError):
                    keep[key] += " " + sha256_bytes(path.read_bytes())
        return sha256_bytes(json.dumps([argv, keep], sort_keys=True).encode())[:16]

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, skip: OneShotSkips | None = None) -> StartHandle:
        self._refuse_celery()
        self.check_ownership()
        if not self.layout.bootstrap.is_file():
            raise BadInput(
                f"{self.layout.bootstrap} does not exist",
                hint="Run `tinyctl render` (or `tinyctl up`).",
            )
        # A process that died is started again: forget it now, so that the caller polling
        # services() sees it missing (to be started), not failed.
        for service in (POSTGRES, *AIRFLOW_COMPONENTS):
            processes.read_live(self.layout.pid_file(service))
        cancelled = threading.Event()

        def work() -> str:
            self._start_all(cancelled, skip)
            return ""

        return StartHandle.in_thread(
            work,
            stop=cancelled.set,
            grace=30,
            name="tinyctl-local-start",
            on_end=self._changed.set,  # the watch wakes at once to see the outcome
        )

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with open(self.layout.start_lock, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "another process"
                raise EnvironmentProblem(
                    f"another `tinyctl up` is starting {self.project} ({holder})",
                    hint="Wait for it to finish, then run `tinyctl status`.",
                ) from None
            lock.seek(0)
            lock.truncate()
            lock.write(f"pid {os.getpid()}")
            lock.flush()
            try:
                yield
            finally:
                lock.seek(0)
                lock.truncate()

    def _start_all(self, cancelled: threading.Event, skip: OneShotSkips | None = None) -> None:
        with self._start_lock():
            record_runtime(self.state, self.name)
            pg_port = self.spec.postgres.port
            registry.remember(
                self.environ,
                self._own_id,
                self.state_dir,
                [self.spec.airflow.port, *([pg_port] if pg_port is not None else [])],
            )
            for folder in (self.layout.run, self.layout.logs, self.layout.airflow_home):
                folder.mkdir(parents=True, exist_ok=True)
            venv, _ = ensure_venv(
                self.venv_plan,
                self.environ,
                ca_bundle=ca_bundle(self.spec, self.environ, self.loaded.root),
                index_url=getattr(self.spec.images, "pip_index_url", None),
            )
            self._start_postgres()
            if cancelled.is_set():
                return
            skipped = dict(skip()) if skip is not None else {}
            self._one_shot("db-setup", self._db_setup, skipped.get("db-setup"))
            if cancelled.is_set():
                return
            env = self._airflow_env(in_use_by_us=self._any_airflow_running())
            migrate = functools.partial(self._migrate, venv, env)
            self._one_shot("airflow-init", migrate, skipped.get("airflow-init"))
            if cancelled.is_set():
                return
            self._start_components(venv, env)

    @property
    def _launcher(self) -> Path:
        return self.state.file(self.state.AIRFLOW_RUN)

    def _any_airflow_running(self) -> bool:
        return any(self._live(c) for c in AIRFLOW_COMPONENTS)

    # ------------------------------------------------------------------ ownership

    @property
    def _own_id(self) -> str:
        identity = self.owner.identity
        return identity.id if identity is not None else ""

    def _owner_extra(self) -> dict[str, str]:
        return {"project_id": self._own_id, "folder": str(self.owner.root)}

    def _record(self, service: str) -> processes.ProcessRecord | None:
        """The service's pid record when it is this project's: made under its identity, or by
        a tinyctl from before identities (taken over). A copied state folder holds records of
        the original's processes: those are never this project's."""
        record = processes.ProcessRecord.read(self.layout.pid_file(service))
        if record is None:
            return None
        made_by = record.extra.get("project_id", "")
        if made_by and made_by != self._own_id:
            return None
        return record

    def _live(self, service: str) -> processes.ProcessRecord | None:
        record = self._record(service)
        if record is None or not processes.same_process(record):
            return None
        return record

    def orphaned_ids(self) -> list[str]:
        return []  # the processes' records live in the state folder: lost with it

    def check_ownership(self) -> None:
        """Refuse (exit 3) to use what this state folder points at when it is another tinyctl
        project's: its running processes (pid files copied with the folder) or its database
        (a link to a cluster outside the folder, copied with it). Stale records of another
        project's processes are dropped; a cluster made before identities is taken over."""
        mine = self._own_id
        foreign: dict[str, list[str]] = {}  # owner folder -> what of it
        for service in (POSTGRES, *AIRFLOW_COMPONENTS):
            pid_file = self.layout.pid_file(service)
            record = processes.ProcessRecord.read(pid_file)
            made_by = record.extra.get("project_id", "") if record is not None else ""
            if record is None or not made_by or made_by == mine:
                continue
            if processes.same_process(record):
                folder = record.extra.get("folder", "another folder")
                foreign.setdefault(folder, []).append(f"{service} (pid {record.pid})")
            else:
                pid_file.unlink(missing_ok=True)  # a dead process of another project
        link = self.layout.cluster_link
        linked_owner = clusters.owner_of(link.resolve()) if link.is_symlink() else {}
        if linked_owner.get("id") not in (None, mine):
            folder = linked_owner.get("folder", "another folder")
            foreign.setdefault(folder, []).append(f"its database {link.resolve()}")
        if not foreign:
            return
        folder, parts = next(iter(foreign.items()))
        database_only = all(p.startswith("its database") for p in parts)
        hint = (
            f"Remove the link {link} (`rm {link}`) to give this folder its own, empty database; "
            "the other project's data stays where it is."
            if database_only
            else f"Stop that stack first (`tinyctl down` in {folder}); this folder then starts "
            "its own."
        )
        raise EnvironmentProblem(
            f"the local stack this state folder points at belongs to the tinyctl project in {folder}",
            details="Its parts: "
            + ", ".join(p for ps in foreign.values() for p in ps)
            + f"\nThis folder is {self.owner.root} (a copy of that one?).",
            hint=hint,
        )

    def _spawn(self, service: str, argv: list[str], env: Mapping[str, str], **kwargs) -> None:
        config = self._config_digest(argv, env)
        current = self._live(service)
        if current is not None:
            if current.config == config:
                return
            processes.stop(current, timeout=self.stop_timeout.get(service, DEFAULT_STOP_TIMEOUT))
        self.layout.one_shot_file(service).unlink(missing_ok=True)
        processes.spawn(
            service,
            argv,
            env=env,
            cwd=kwargs.pop("cwd", self.layout.airflow_home),
            log_file=self.layout.log_file(service),
            pid_file=self.layout.pid_file(service),
            config=config,
            extra=self._owner_extra(),
            **kwargs,
        )
        self._changed.set()

    def _start_postgres(self) -> None:
        cluster = self.cluster
        if self._live(POSTGRES) is None:  # a server killed alone may have left its backends
            clusters.end_orphaned_backends(cluster)
        clusters.prepare(cluster, self.owner.secrets["postgres_password"])
        clusters.mark_owner(cluster.root, self._own_id, str(self.owner.root))
        env = {"PATH": self.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PGTZ": "UTC"}
        user = self.user
        self._spawn(
            POSTGRES,
            cluster.server_argv(),
            env,
            cwd=cluster.root,
            user=user.uid,
            group=user.gid,
            stop_signal=signal.SIGINT,  # "fast" shutdown: SIGTERM would wait for every client
        )
        deadline = time.monotonic() + POSTGRES_READY_TIMEOUT
        while not self._postgres_ready():
            if self._live(POSTGRES) is None:
                raise WorkFailed(
                    "postgres failed: the server exited while starting",
                    details=f"Last lines of its log:\n{self._tail(POSTGRES)}",
                    hint="Fix the cause shown above, then run `tinyctl up` again "
                    "(`tinyctl logs postgres` for more).",
                )
            if time.monotonic() > deadline:
                raise WorkFailed(
                    f"postgres did not accept connections within {POSTGRES_READY_TIMEOUT:.0f} s",
                    details=self._tail(POSTGRES),
                    hint="`tinyctl logs postgres` says why.",
                )
            time.sleep(0.1)
        self._changed.set()

    def _postgres_ready(self) -> bool:
        cluster = self.cluster
        try:
            return (
                subprocess.run(
                    [
                        self.install.tool("pg_isready"),
                        "-q",
                        "-h",
                        str(cluster.socket_dir),
                        "-p",
                        str(cluster.port),
                        "-d",
                        "postgres",
                    ],
                    timeout=5,
                    check=False,
                ).returncode
                == 0
            )
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _one_shot(self, service: str, action: Callable[[Path], None], skip: str | None) -> None:
        """Run a step to completion, logging into its log file and recording its outcome; or,
        with `skip` (why), record that it was left out, and say so in its log."""
        record = self.layout.one_shot_file(service)
        log = self.layout.log_file(service)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(log, "ab") as out:
            out.write(f"--- tinyctl: {service} at {stamp}\n".encode())
            if skip is not None:
                out.write(f"skipped: {skip}\n".encode())
        if skip is not None:
            write_atomic(record, json.dumps({"state": SKIPPED, "reason": skip}).encode())
            self._changed.set()
            return
        write_atomic(record, json.dumps({"state": "running", "started": time.time()}).encode())
        self._changed.set()
        try:
            action(log)
            code = 0
        except subprocess.CalledProcessError as error:
            code = error.returncode or 1
        write_atomic(
            record,
            json.dumps({"state": "exited", "exit_code": code, "finished": time.time()}).encode(),
        )
        self._changed.set()
        if code != 0:
            raise WorkFailed(
                f"{service} failed: state exited, exit code {code}",
                details=f"Last lines of its log:\n{self._tail(service)}",
                hint=f"Fix the cause shown above, then run `tinyctl up` again (`tinyctl logs {service}` for more).",
            )

    def _run_logged(self, argv: list[str], env: Mapping[str, str], log: Path) -> None:
        with open(log, "ab") as out:
            subprocess.run(
                argv,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                cwd=self.layout.root,
            )

    def _db_setup(self, log: Path) -> None:
        self._run_logged(["sh", str(self.layout.bootstrap)], self._postgres_env(), log)

    def _migrate(self, venv: Venv, env: Mapping[str, str], log: Path) -> None:
        """`airflow db migrate` (left out by `up` when the metadata database's own record says
        this environment migrated it already: tinyctl.stack.one_shots)."""
        self._run_logged([str(venv.python), str(self._launcher), "db", "migrate"], env, log)

    def airflow_install(self) -> str | None:
        """The digest of the Airflow environment's inputs (None: not installed yet)."""
        return self.venv_plan.digest if self.venv.ready() else None

    @property
    def _components(self) -> tuple[str, ...]:
        """The Airflow components the plan runs (no triggerer with `airflow.triggerer: off`)."""
        planned = {s.name for s in self.owner.plan.services}
        return tuple(c for c in AIRFLOW_COMPONENTS if c in planned)

    @property
    def _services(self) -> tuple[str, ...]:
        return (POSTGRES, *ONE_SHOTS, *self._components)

    def _start_components(self, venv: Venv, env: Mapping[str, str]) -> None:
        api_port = self.spec.airflow.port
        for component in AIRFLOW_COMPONENTS:
            if component not in self._components:
                self._stop_unplanned(component)
                continue
            self._spawn(
                component, _argv(component, venv, api_port, self._launcher), env, title="airflow"
            )

    def _stop_unplanned(self, component: str) -> None:
        """A component the plan no longer runs (the triggerer turned off) is stopped."""
        record = self._live(component)
        if record is not None:
            processes.stop(record, timeout=self.stop_timeout.get(component, DEFAULT_STOP_TIMEOUT))
        self.layout.pid_file(component).unlink(missing_ok=True)

    def stop(self, *, volumes: bool = False) -> None:
        self.check_ownership()  # never stop, nor delete the data of, another project's stack
        running = [s for s in AIRFLOW_COMPONENTS if self._live(s)]
        with ThreadPoolExecutor(max_workers=max(1, len(running))) as pool:
            for service in running:
                record = self._live(service)
                if record is not None:
                    pool.submit(
                        processes.stop,
                        record,
                        timeout=self.stop_timeout.get(service, DEFAULT_STOP_TIMEOUT),
                    )
        record = self._live(POSTGRES)
        if record is not None:
            processes.stop(record, timeout=self.stop_timeout[POSTGRES])
        for service in SERVICES:
            self.layout.pid_file(service).unlink(missing_ok=True)
            self.layout.one_shot_file(service).unlink(missing_ok=True)
        if volumes:
            link = self.layout.cluster_link
            if link.is_symlink():
                target = link.resolve()
                if clusters.made_by_locate(target):  # never what a hand-made link points at
                    shutil.rmtree(target, ignore_errors=True)
                link.unlink()
            elif link.exists():
                shutil.rmtree(link, ignore_errors=True)
            for folder in (
                self.layout.logs,
                self.layout.airflow_home,
                self.layout.run,
                self.layout.secrets,
            ):
                shutil.rmtree(folder, ignore_errors=True)

            record_runtime(self.state, None)
            registry.forget(self.environ, self._own_id)

    def restart(self, service: str | None = None, *, skip: OneShotSkips | None = None) -> None:
        self._check_service(service)
        if service is None:
            self.stop()
            handle = self.start(skip=skip)
            handle.result()
            return
        if service in ONE_SHOTS or service == POSTGRES:
            record = self._live(POSTGRES) if service == POSTGRES else None
            if record is not None:
                processes.stop(record, timeout=self.stop_timeout[POSTGRES])
            self.start().result()
            return
        record = self._live(service)
        if record is not None:
            processes.stop(record, timeout=self.stop_timeout.get(service, DEFAULT_STOP_TIMEOUT))
        self.layout.pid_file(service).unlink(missing_ok=True)
        env = self._airflow_env(in_use_by_us=True)
        self._spawn(
            service,
            _argv(service, self.venv, self.spec.airflow.port, self._launcher),
            env,
            title="airflow",
        )

    def end_start(self) -> None:
        """Nothing to end: processes start at the machine's own priority (an unprivileged
        process could lower another's but never raise it back, so none is lowered)."""

    def restart_airflow(self) -> None:
        """Restart every running Airflow component (each loads the deployed plugins at start)."""
        self.check_ownership()
        running = [c for c in AIRFLOW_COMPONENTS if self._live(c) is not None]
        for component in running:
            self.restart(component)

    def _check_service(self, service: str | None) -> None:
        if service and service not in self._services:
            raise BadInput(
                f"no service {service!r} in project {self.project}",
                hint="Services: " + ", ".join(self._services),
            )

    # ------------------------------------------------------------------ observing

    def expected_services(self) -> list[str]:
        return list(self._services)

    def _airflow_health(self) -> dict[str, str] | None:
        try:
            response = httpx.get(f"{self.api_url()}/api/v2/monitor/health", timeout=5.0)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return {
            name: (value or {}).get("status") or "unknown"
            for name, value in body.items()
            if isinstance(value, dict)
        }

    def watch_services(self) -> LocalWatch:
        """How `up` waits: see `LocalWatch` (no events to subscribe to, but the start thread
        is ours, so its steps wake the waiter at once)."""
        return LocalWatch(self.services, self._changed)

    def service_statuses(self, services: Sequence[str]) -> list[ServiceStatus]:
        wanted = set(services)
        return [s for s in self.services() if s.service in wanted]

    def running_for(self, services: Sequence[str]) -> dict[str, float]:
        ages = {}
        for service in services:
            record = self._record(service)
            if record is not None and processes.same_process(record):
                ages[service] = max(0.0, time.time() - record.started_at)
        return ages

    def service_starts(self, services: Sequence[str]) -> dict[str, str]:
        """The pid and start time of each named service's live process."""
        starts = {}
        for service in services:
            record = self._record(service)
            if record is not None and processes.same_process(record):
                starts[service] = f"{record.pid}:{record.start_ticks}"
        return starts

    def services(self) -> list[ServiceStatus]:
        result: list[ServiceStatus] = []
        health: dict[str, str] | None = None
        if self._live("api-server") is not None:
            health = self._airflow_health()
        pg = self.spec.postgres
        for service in self._services:
            if service in ONE_SHOTS:
                result.append(self._one_shot_status(service))
                continue
            record = self._record(service)
            if record is None:
                result.append(ServiceStatus(service, service, "missing", "none"))
                continue
            # The port a process was started with (its command line), not the spec's: a spec
            # edited since is not what this stack listens on until `up` applies it.
            ports: tuple[str, ...] = ()
            published: tuple[int, ...] = ()
            port = _listening_port(record.argv)
            if service == POSTGRES and pg.port is not None and port is not None:
                ports, published = (f"127.0.0.1:{port}->{port}/tcp",), (port,)
            if service == "api-server" and port is not None:
                ports, published = (f"{self.spec.airflow.bind}:{port}->{port}/tcp",), (port,)
            if not processes.same_process(record):
                result.append(
                    ServiceStatus(
                        service, service, "exited", "unhealthy", exit_code=self._exit_code(record)
                    )
                )
                continue
            if service == POSTGRES:
                state = "healthy" if self._postgres_ready() else "starting"
            elif health is None:
                state = "starting"
            elif service == "api-server":
                state = "healthy"
            else:
                state = (
                    "healthy" if health.get(service.replace("-", "_")) == "healthy" else "starting"
                )
            result.append(ServiceStatus(service, service, "running", state, ports, 0, published))
        return result

    @staticmethod
    def _exit_code(record: processes.ProcessRecord) -> int:
        """Our own child's exit status when we can still collect it; else unknown (shown as 0)."""
        try:
            pid, status = os.waitpid(record.pid, os.WNOHANG)
        except (ChildProcessError, OSError):
            return 0
        if pid == 0:
            return 0
        return os.waitstatus_to_exitcode(status)

    def _one_shot_status(self, service: str) -> ServiceStatus:
        try:
            data = json.loads(self.layout.one_shot_file(service).read_text())
        except (OSError, ValueError):
            return ServiceStatus(service, service, "missing", "none", one_shot=True)
        if data.get("state") == "running":
            return ServiceStatus(service, service, "running", "running", one_shot=True)
        if data.get("state") == SKIPPED:
            return ServiceStatus(service, service, SKIPPED, SKIPPED, one_shot=True)
        code = int(data.get("exit_code", 0))
        return ServiceStatus(
            service,
            service,
            "exited",
            "completed" if code == 0 else "failed",
            exit_code=code,
            one_shot=True,
        )

    def _tail(self, service: str, lines: int = 20) -> str:
        return "\n".join(self.logs(service, tail=lines)) or "(empty log)"

    def logs(
        self, service: str | None = None, *, tail: int | None = None, follow: bool = False
    ) -> Iterator[str]:
        self._check_service(service)
        chosen = [service] if service else list(self._services)
        prefix = service is None
        return self._read_logs(chosen, tail=tail, follow=follow, prefix=prefix)

    def _read_logs(
        self, services: list[str], *, tail: int | None, follow: bool, prefix: bool
    ) -> Iterator[str]:
        width = max(len(s) for s in services)
        offsets: dict[str, int] = {}
        for service in services:
            path = self.layout.log_file(service)
            try:
                data = path.read_bytes()
            except OSError:
                offsets[service] = 0
                continue
            offsets[service] = len(data)
            lines = data.decode(errors="replace").splitlines()
            if tail is not None:
                lines = lines[-tail:] if tail > 0 else []
            for line in lines:
                yield f"{service:<{width}} | {line}" if prefix else line
        while follow:
            time.sleep(0.25)
            for service in services:
                path = self.layout.log_file(service)
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                if size < offsets[service]:
                    offsets[service] = 0  # deleted and recreated
                if size == offsets[service]:
                    continue
                with open(path, "rb") as handle:
                    handle.seek(offsets[service])
                    chunk = handle.read()
                complete = chunk.rsplit(b"\n", 1)[0] if b"\n" in chunk else b""
                offsets[service] += len(complete) + (
                    1 if complete or chunk.startswith(b"\n") else 0
                )
                for line in complete.decode(errors="replace").splitlines():
                    yield f"{service:<{width}} | {line}" if prefix else line

    def _command(
        self, service: str, argv: list[str], env: dict[str, str] | None
    ) -> tuple[list[str], dict[str, str]]:
        self._check_service(service)
        if service in (POSTGRES, "db-setup"):
            full_env = self._postgres_env()
            program = argv[0]
            if "/" not in program:
                with contextlib.suppress(EnvironmentProblem):
                    program = self.install.tool(program)
        else:
            full_env = self._airflow_env(in_use_by_us=True)
            program = argv[0]
            if program in ("python", "python3", "airflow", "pip"):
                program = str(self.venv.bin / program)
        full_env.update(env or {})
        return [program, *argv[1:]], full_env

    def exec(
        self,
        service: str,
        argv: list[str],
        *,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        command, full_env = self._command(service, argv, env)
        try:
            done = subprocess.run(
                command,
                input=input,
                env=full_env,
                capture_output=True,
                check=False,
                cwd=self.layout.root if self.layout.root.is_dir() else None,
            )
        except OSError as error:
            raise EnvironmentProblem(f"could not run {command[0]}: {error}") from error
        return done.returncode, (done.stdout + done.stderr).decode(errors="replace")

    def interactive(
        self, service: str, argv: list[str], *, env: dict[str, str] | None = None
    ) -> int:
        command, full_env = self._command(service, argv, env)
        try:
            return subprocess.call(command, env=full_env)
        except OSError as error:
            raise EnvironmentProblem(f"could not run {command[0]}: {error}") from error

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
        """`argv` as a throw-away process of the project's Airflow venv (made first when it is
        missing or stale), with a fresh AIRFLOW_HOME that is removed afterwards. There is no
        container: a mount's place is its source folder itself, any other place the stack's own
        (read-only and `network=False` are not enforced: no namespaces here)."""
        import tempfile  # lazy: only one-offs make a temporary home

        self._refuse_celery()
        venv, _ = ensure_venv(
            self.venv_plan,
            self.environ,
            ca_bundle=ca_bundle(self.spec, self.environ, self.loaded.root),
            index_url=getattr(self.spec.images, "pip_index_url", None),
            on_step=on_step,
        )
        pg, af = self.spec.postgres, self.spec.airflow
        # A one-off reads no database URL (no secret reaches it) and no internal port.
        addresses = local_render.Addresses(
            (local_render.LOOPBACK, pg.port or 5432), (af.bind, af.port), {}
        )
        with tempfile.TemporaryDirectory(prefix="tinyctl-oneoff-") as home:
            resolve = local_render.oneoff_resolver(
                self.owner.plan, self.loaded, self._oneoff_places(mounts, Path(home)), addresses
            )
            full_env = {
                **local_render.inherited(self.environ),
                **{k: resolve(v) for k, v in (env or {}).items()},
                "AIRFLOW_HOME": home,
                "PATH": f"{venv.bin}:{self.environ.get('PATH', '/usr/bin:/bin')}",
                "VIRTUAL_ENV": str(venv.path),
            }
            full_env.pop("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", None)
            cwd = resolve(workdir) if workdir else home
            command = [resolve(a) for a in argv]
            if interactive:
                code = subprocess.run(
                    command, env=full_env, cwd=cwd, input=input, check=False
                ).returncode
                return OneOffResult(code, "", "")
            done = subprocess.run(
                command,
                env=full_env,
                cwd=cwd,
                input=input if input is not None else b"",
                capture_output=True,
                check=False,
            )
        return OneOffResult(
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )

    @staticmethod
    def _oneoff_places(mounts: Sequence[Mount], home: Path) -> dict[Place, Path]:
        """A mount's place is its source folder; a mounted include folder is importable as
        `include` from a lib folder of the one-off's own, as in a container."""
        places = {m.target: m.source for m in mounts}
        if Place.INCLUDE in places and Place.LIB not in places:
            lib = home / "lib"
            lib.mkdir()
            (lib / "include").symlink_to(places[Place.INCLUDE], target_is_directory=True)
            places[Place.LIB] = lib
        return places

    def api_url(self) -> str:
        return http_url(self.spec.airflow.bind, self.spec.airflow.port)

    def postgres_address(self) -> tuple[str, int]:
        """TCP on 127.0.0.1 at the spec's port; the socket folder when postgres.port is null."""
        pg = self.spec.postgres
        if pg.port is not None:
            return "127.0.0.1", pg.port
        return str(self.cluster.socket_dir), 5432

    def postgres_address_in_stack(self) -> tuple[str, int]:
        """Where Airflow's tasks reach the warehouse: the same address as this machine."""
        return self.postgres_address()

    def dag_folder(self) -> Path:
        return self.state.dags_dir

    def airflow_dag_folder(self) -> str:
        return str(self.state.dags_dir)

    def describe_port_holder(self, port: int, process: str | None) -> str | None:
        """One of this project's own local processes, named as a service."""
        owned = {self.spec.airflow.port: "api-server"}
        if self.spec.postgres.port is not None:
            owned[self.spec.postgres.port] = POSTGRES
        service = owned.get(port)
        if service is None or self._live(service) is None:
            return None
        return f"{service} of project {self.project} (local runtime)"


if sys.platform == "win32":  # pragma: no cover
    raise ImportError("the local runtime needs a POSIX system")
