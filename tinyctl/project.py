"""One `Project` per command: the loaded spec, the state-folder layout, the secrets read once,
the runtime, and factories for the Airflow client and warehouse connections.

The CLI builds it once (`Project.open`) and hands it to core functions. Nothing outside this
module knows the names of the files inside the state folder: every other module asks
`StateLayout` (`project.state`) for them.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tinyctl.airflow import AirflowClient
    from tinyctl.db import Dsn
    from tinyctl.lock import ProjectLock
    from tinyctl.runtime.base import Runtime
    from tinyctl.secrets import Secrets
    from tinyctl.spec.loader import LoadedSpec
    from tinyctl.spec.models import Spec
    from tinyctl.spec.override import SpecOverride


@dataclass(frozen=True)
class StateLayout:
    """The state folder (`project.state_dir`, default `.tinyctl/`) and what lives in it.

    The class constants are names relative to the state folder (what `render.json` records);
    the properties are the paths.
    """

    root: Path

    # Written by `render` (recorded in the stamp, replaced on every render).
    COMPOSE = "compose.yaml"
    AIRFLOW_ENV = "airflow.env"
    POSTGRES_ENV = "postgres.env"
    # Secret files, mounted read-only: Airflow's (read by its *_CMD settings) and Postgres'.
    AIRFLOW_SECRETS = "secrets/airflow"
    POSTGRES_SECRETS = "secrets/postgres"
    PASSWORDS = "secrets/auth/passwords.json"
    POSTGRES_BOOTSTRAP = "postgres/bootstrap.sh"
    HEALTHCHECK = "bin/healthcheck.py"
    AIRFLOW_RUN = "bin/airflow_run.py"  # every Airflow command runs through it (no teardown)
    # Kept across renders.
    STAMP = "render.json"
    SECRETS = "secrets.json"
    IDENTITY = "project.json"
    LOCK = "lock"
    APPLIED_SETTINGS = "applied-settings.json"
    RUNTIME_RECORD = "runtime.json"
    LOCAL = "local"
    # Folders: the stack mounts `dags/` and `logs/`, and the deployed copies of the project's
    # `plugins/` and `include/` (tinyctl.project_code); `secrets/` holds mode-0600 files.
    DAGS = "dags"
    LOGS = "logs"
    PLUGINS = "plugins"
    INCLUDE = "include"
    CACHE = "cache"
    SECRET_DIRS = ("secrets", "secrets/auth", AIRFLOW_SECRETS, POSTGRES_SECRETS)
    MOUNT_DIRS = (DAGS, LOGS, PLUGINS, INCLUDE)

    def file(self, relative: str) -> Path:
        """A path inside the state folder from a name relative to it (as `render.json` records)."""
        return self.root / relative

    @property
    def compose_file(self) -> Path:
        return self.root / self.COMPOSE

    @property
    def render_stamp(self) -> Path:
        return self.root / self.STAMP

    @property
    def secrets_file(self) -> Path:
        return self.root / self.SECRETS

    @property
    def identity_file(self) -> Path:
        return self.root / self.IDENTITY

    @property
    def lock_file(self) -> Path:
        return self.root / self.LOCK

    @property
    def runtime_record(self) -> Path:
        """Which runtime holds the stack's data (written by a runtime's start)."""
        return self.root / self.RUNTIME_RECORD

    @property
    def local_dir(self) -> Path:
        """The local runtime's processes, logs, cluster and Airflow home."""
        return self.root / self.LOCAL

    @property
    def applied_settings_file(self) -> Path:
        return self.root / self.APPLIED_SETTINGS

    @property
    def dags_dir(self) -> Path:
        return self.root / self.DAGS

    @property
    def logs_dir(self) -> Path:
        return self.root / self.LOGS

    @property
    def plugins_dir(self) -> Path:
        """The deployed copy of the project's plugins folder (tinyctl.project_code)."""
        return self.root / self.PLUGINS

    @property
    def include_dir(self) -> Path:
        """The deployed copy of the project's include folder (tinyctl.project_code)."""
        return self.root / self.INCLUDE

    @property
    def cache_dir(self) -> Path:
        return self.root / self.CACHE


@dataclass(frozen=True)
class Identity:
    """Who a project is: a stable id made once in its state folder, and the folder it belongs to.

    The runtime labels everything it creates with it, so two folders whose specs share a
    project name never share a stack. `adopted` names data volumes made by an earlier tinyctl
    (without the id label, which Docker cannot add afterwards) that this project took over.
    """

    id: str
    folder: str
    adopted: tuple[str, ...] = ()

    def as_json(self) -> bytes:
        data = {"id": self.id, "folder": self.folder, "adopted": list(self.adopted)}
        return (json.dumps(data, indent=2) + "\n").encode()

    @classmethod
    def read(cls, file: Path) -> Identity | None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            ident = str(data["id"])
            if not re.fullmatch(r"[0-9a-f]{32}", ident):
                return None
            return cls(ident, str(data["folder"]), tuple(str(v) for v in data.get("adopted", ())))
        except (OSError, ValueError, KeyError, TypeError):
            return None


class Project:
    """A tinyctl project: everything a command needs, opened once."""

    def __init__(self, loaded: LoadedSpec, environ: Mapping[str, str] | None = None):
        self.loaded = loaded
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.state = StateLayout(loaded.state_dir)
        self._lock: ProjectLock | None = None

    @classmethod
    def open(
        cls, spec_file: Path, environ: Mapping[str, str] | None = None, *, check_files: bool = True
    ) -> Project:
        from tinyctl.spec import load_spec

        return cls(load_spec(spec_file, check_files=check_files), environ)

    def __repr__(self) -> str:
        return f"Project({self.name!r}, root={str(self.root)!r})"

    def derive(self, override: SpecOverride, environ: Mapping[str, str] | None = None) -> Project:
        """This project with its name, ports, state and data folders replaced in memory (the
        spec file is not touched): e.g. one isolated stack per `tinyctl ci run`."""
        from tinyctl.spec.override import apply_override

        return Project(
            apply_override(self.loaded, override), self.environ if environ is None else environ
        )

    # ------------------------------------------------------------------ the spec

    @property
    def spec(self) -> Spec:
        return self.loaded.spec

    @property
    def name(self) -> str:
        return self.loaded.spec.project.name

    @property
    def root(self) -> Path:
        return self.loaded.root

    @property
    def spec_file(self) -> Path:
        return self.loaded.file

    def path(self, relative: str) -> Path:
        """A path written in the spec, resolved against the project folder."""
        return self.loaded.path(relative)

    def locate(self, *path: object) -> tuple[int, int]:
        """(line, column) of a spec key, for error messages."""
        return self.loaded.locate(*path)

    # ------------------------------------------------------------------ secrets and runtime

    @cached_property
    def secrets(self) -> Secrets:
        """The generated secrets, read once; raises BadInput when they were never rendered."""
        from tinyctl.secrets import load_secrets

        return load_secrets(self.state.secrets_file, self.spec, environ=self.environ, create=False)

    def generate_secrets(self) -> Secrets:
        """The secrets, generating (and storing) the missing ones: what `render` does first."""
        from tinyctl.secrets import load_secrets

        secrets = load_secrets(self.state.secrets_file, self.spec, environ=self.environ)
        self.__dict__["secrets"] = secrets  # later readers see what was just written
        return secrets

    @cached_property
    def runtime(self) -> Runtime:
        """The runtime running this project's stack (TINYCTL_RUNTIME chooses; Compose by default)."""
        from tinyctl.runtime import make_runtime

        return make_runtime(self)

    # ------------------------------------------------------------------ identity

    @cached_property
    def identity(self) -> Identity | None:
        """This project's identity; None before its first render (nothing of it exists yet)."""
        found = Identity.read(self.state.identity_file)
        if found is not None and found.folder != str(self.root):
            return self._relocated(found)
        return found

    def ensure_identity(self) -> Identity:
        """The identity, created on first use (render does this); repaired when the folder moved."""
        from tinyctl.fsutil import write_atomic

        found = self.identity or Identity(uuid.uuid4().hex, str(self.root))
        if Identity.read(self.state.identity_file) != found:
            write_atomic(self.state.identity_file, found.as_json(), mode=0o644)
        self.__dict__["identity"] = found
        return found

    def record_adopted(self, volume: str) -> Identity:
        """Remember that this project took over `volume` from an earlier tinyctl."""
        from tinyctl.fsutil import write_atomic

        current = self.ensure_identity()
        if volume in current.adopted:
            return current
        updated = Identity(current.id, current.folder, (*current.adopted, volume))
        write_atomic(self.state.identity_file, updated.as_json(), mode=0o644)
        self.__dict__["identity"] = updated
        return updated

    def _relocated(self, found: Identity) -> Identity:
        """The state folder says it belongs to another folder: this one is a copy (that folder
        still holds the same id: a new identity here) or the project moved (same id, new folder).
        Written by the next `ensure_identity`."""
        original = Path(found.folder)
        try:
            other = original / self.state.root.relative_to(self.root) / StateLayout.IDENTITY
            copied = (Identity.read(other) or Identity("", "")).id == found.id
        except ValueError:
            copied = False
        if copied:
            return Identity(uuid.uuid4().hex, str(self.root))
        return Identity(found.id, str(self.root), found.adopted)

    # ------------------------------------------------------------------ one command at a time

    def lock(self, command: str, *, create: bool = True, wait: float | None = None) -> None:
        """Hold this project's lock for the rest of the process (see `tinyctl.lock`). With
        `create=False`, a project whose state folder does not exist yet is not locked: there is
        no stack to protect, and the command will say the stack is not up. `wait`: seconds to
        wait for another holder (default: TINYCTL_LOCK_WAIT, else 5)."""
        from tinyctl.lock import ProjectLock, wait_seconds

        if not create and not self.state.root.is_dir():
            return
        if self._lock is None:
            self._lock = ProjectLock(self.state.lock_file, self.name)
        self._lock.acquire(command, wait=wait_seconds(self.environ) if wait is None else wait)

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    # ------------------------------------------------------------------ clients

    def airflow(self, *, timeout: float = 10.0, retries: int = 3) -> AirflowClient:
        """A client of this project's Airflow API, logged in as tinyctl's internal user."""
        from tinyctl.airflow import AirflowClient
        from tinyctl.secrets import INTERNAL_USER

        return AirflowClient(
            self.runtime.api_url(),
            INTERNAL_USER,
            self.secrets.user_password(INTERNAL_USER),
            timeout=timeout,
            retries=retries,
        )

    def warehouse(self, database: str | None = None, role: str | None = None) -> Dsn:
        """Connection details for a warehouse database, as the ETL writer role by default."""
        from tinyctl.db import Dsn
        from tinyctl.errors import BadInput

        pg = self.spec.postgres
        db = database or pg.default_database.name
        user = role or (pg.writer.name if pg.writer else None)
        if user is None:
            raise BadInput(
                "postgres.roles has no role with access: write",
                hint="Add one; seeds load as that role.",
            )
        host, port = self.runtime.postgres_address()
        return Dsn(host, port, db, user, self.secrets.role_password(user))
