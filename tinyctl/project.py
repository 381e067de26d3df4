"""One `Project` per command: the loaded spec, the state-folder layout, the secrets read once,
the runtime, and factories for the Airflow client and warehouse connections.

The CLI builds it once (`Project.open`) and hands it to core functions. Nothing outside this
module and `StateLayout` knows the names of the files inside the state folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tinyctl.airflow import AirflowClient
    from tinyctl.db import Dsn
    from tinyctl.runtime.base import Runtime
    from tinyctl.secrets import Secrets
    from tinyctl.spec.loader import LoadedSpec
    from tinyctl.spec.models import Spec
    from tinyctl.spec.override import SpecOverride


@dataclass(frozen=True)
class StateLayout:
    """The state folder (`project.state_dir`, default `.tinyctl/`) and what lives in it."""

    root: Path

    @property
    def compose_file(self) -> Path:
        return self.root / "compose.yaml"

    @property
    def render_stamp(self) -> Path:
        return self.root / "render.json"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    @property
    def identity_file(self) -> Path:
        return self.root / "project.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def dags_dir(self) -> Path:
        return self.root / "dags"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"


class Project:
    """A tinyctl project: everything a command needs, opened once."""

    def __init__(self, loaded: LoadedSpec, environ: Mapping[str, str] | None = None):
        self.loaded = loaded
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.state = StateLayout(loaded.state_dir)

    @classmethod
    def open(cls, spec_file: Path, environ: Mapping[str, str] | None = None) -> Project:
        from tinyctl.spec import load_spec

        return cls(load_spec(spec_file), environ)

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

    def path(self, relative: str) -> Path:
        """A path written in the spec, resolved against the project folder."""
        return self.loaded.path(relative)

    # ------------------------------------------------------------------ secrets and runtime

    @cached_property
    def secrets(self) -> Secrets:
        """The generated secrets, read once; raises BadInput when they were never rendered."""
        from tinyctl.secrets import load_secrets

        return load_secrets(self.state.root, self.spec, environ=self.environ, create=False)

    @cached_property
    def runtime(self) -> Runtime:
        from tinyctl.runtime import make_runtime

        return make_runtime(self.loaded, self.environ)

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
