"""One `Project` per command: the loaded spec, the state-folder layout, the secrets read once,
the runtime, and factories for the Airflow client and warehouse connections.

The CLI builds it once (`Project.open`) and hands it to core functions. Nothing outside this
module knows the names of the files inside the state folder: every other module asks
`StateLayout` (`project.state`) for them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from tinyctl.errors import BadInput
from tinyctl.state.env_file import read_dotenv
from tinyctl.state.identity import Identity
from tinyctl.state.layout import StateLayout
from tinyctl.state.lock import ProjectLock, wait_seconds

if TYPE_CHECKING:
    from tinyctl.airflow import AirflowClient
    from tinyctl.db import Dsn
    from tinyctl.plan.model import StackPlan
    from tinyctl.spec.loaded import LoadedSpec
    from tinyctl.spec.models import Spec
    from tinyctl.spec.override import SpecOverride
    from tinyctl.spec.triggerer import TriggererChoice
    from tinyctl.state.lock import ProjectLock
    from tinyctl.state.secrets import Secrets
    from tinyctl.targets.base import Runtime


class Project:
    """A tinyctl project: everything a command needs, opened once."""

    def __init__(self, loaded: LoadedSpec, environ: Mapping[str, str] | None = None):
        self.loaded = loaded
        base = os.environ if environ is None else environ
        # the spec's env_file (e.g. an Astro project's .env) under the environment, which wins
        self.environ: Mapping[str, str] = (
            {**read_dotenv(loaded.path(loaded.spec.env_file)), **base}
            if loaded.spec.env_file
            else base
        )
        self.state = StateLayout(loaded.state_dir)
        self._lock: ProjectLock | None = None

    @classmethod
    def open(
        cls, spec_file: Path, environ: Mapping[str, str] | None = None, *, check_files: bool = True
    ) -> Project:
        # lazy: the spec (pydantic) off `tinyctl --help`, which imports this module
        from tinyctl.spec import load_spec

        return cls(load_spec(spec_file, check_files=check_files), environ)

    def __repr__(self) -> str:
        return f"Project({self.name!r}, root={str(self.root)!r})"

    def derive(self, override: SpecOverride, environ: Mapping[str, str] | None = None) -> Project:
        """This project with its name, ports, state and data folders replaced in memory (the
        spec file is not touched): e.g. one isolated stack per `tinyctl ci run`."""
        # lazy: the spec (pydantic) off `tinyctl --help`, which imports this module
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

    # ------------------------------------------------------------------ the plan

    @cached_property
    def plan(self) -> StackPlan:
        """The stack's neutral plan (`tinyctl.plan`), from the spec and the identity."""
        from tinyctl.plan.build import build_plan  # lazy: commands that never render stay light

        return build_plan(self.spec, self.identity, triggerer=self.triggerer.enabled)

    @cached_property
    def triggerer(self) -> TriggererChoice:
        """Whether the stack runs Airflow's triggerer, and why (`airflow.triggerer`)."""
        # lazy: the code scan of `auto` only for commands that plan the stack
        from tinyctl.spec.triggerer import choose_triggerer

        return choose_triggerer(self.loaded)

    @property
    def health_components(self) -> tuple[str, ...]:
        """The components Airflow's health report must call healthy for the stack to be up: the
        metadata database, scheduler and dag-processor, and the triggerer when it runs."""
        required = ("metadatabase", "scheduler", "dag_processor")
        return (*required, "triggerer") if self.triggerer.enabled else required

    # ------------------------------------------------------------------ secrets and runtime

    @cached_property
    def secrets(self) -> Secrets:
        """The generated secrets, read once; raises BadInput when they were never rendered."""
        # lazy: the spec (pydantic) off `tinyctl --help`, which imports this module
        from tinyctl.state.secrets import load_secrets

        return load_secrets(self.state.secrets_file, self.spec, environ=self.environ, create=False)

    def generate_secrets(self) -> Secrets:
        """The secrets, generating (and storing) the missing ones: what `render` does first."""
        # lazy: the spec (pydantic) off `tinyctl --help`, which imports this module
        from tinyctl.state.secrets import load_secrets

        secrets = load_secrets(self.state.secrets_file, self.spec, environ=self.environ)
        self.__dict__["secrets"] = secrets  # later readers see what was just written
        return secrets

    @cached_property
    def runtime(self) -> Runtime:
        """The runtime running this project's stack (TINYCTL_RUNTIME chooses; Compose by default)."""
        # lazy: one runtime per command, only for commands that reach a stack
        from tinyctl.targets.choice import make_runtime

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
        # lazy: tempfile and hashlib off `tinyctl --help`, which imports this module
        from tinyctl.state.fsutil import write_atomic

        found = self.identity or Identity(uuid.uuid4().hex, str(self.root))
        if Identity.read(self.state.identity_file) != found:
            write_atomic(self.state.identity_file, found.as_json(), mode=0o644)
        self.__dict__["identity"] = found
        self.__dict__.pop("plan", None)  # its labels name the identity
        return found

    def record_adopted(self, volume: str) -> Identity:
        """Remember that this project took over `volume` from an earlier tinyctl."""
        # lazy: tempfile and hashlib off `tinyctl --help`, which imports this module
        from tinyctl.state.fsutil import write_atomic

        current = self.ensure_identity()
        if volume in current.adopted:
            return current
        updated = Identity(current.id, current.folder, (*current.adopted, volume))
        write_atomic(self.state.identity_file, updated.as_json(), mode=0o644)
        self.__dict__["identity"] = updated
        self.__dict__.pop("plan", None)
        return updated

    def take_identity(self, ident: str) -> Identity:
        """Become the project `ident` (a stack this folder started under an identity its state
        folder lost): its resources are this project's again, data and all."""
        from tinyctl.state.fsutil import write_atomic  # lazy: only on adoption

        current = self.ensure_identity()
        updated = Identity(ident, str(self.root), current.adopted)
        write_atomic(self.state.identity_file, updated.as_json(), mode=0o644)
        self.__dict__["identity"] = updated
        self.__dict__.pop("plan", None)  # its labels name the identity
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
        """Hold this project's lock for the rest of the process (see `tinyctl.state.lock`). With
        `create=False`, a project whose state folder does not exist yet is not locked: there is
        no stack to protect, and the command will say the stack is not up. `wait`: seconds to
        wait for another holder (default: TINYCTL_LOCK_WAIT, else 5)."""
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
        # lazy: httpx and the Airflow client only for commands that talk to the API
        from tinyctl.airflow import AirflowClient
        from tinyctl.state.secrets import INTERNAL_USER

        return AirflowClient(
            self.runtime.api_url(),
            INTERNAL_USER,
            self.secrets.user_password(INTERNAL_USER),
            timeout=timeout,
            retries=retries,
            required=self.health_components,
        )

    def warehouse(self, database: str | None = None, role: str | None = None) -> Dsn:
        """Connection details for a warehouse database, as the ETL writer role by default."""
        # lazy: psycopg only for commands that reach the warehouse
        from tinyctl.db import Dsn

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
