"""The state folder (`project.state_dir`, default `.tinyctl/`) and the names of what lives in it.

A leaf module: nothing of tinyctl's features is imported here. No other module names a file
inside the state folder: they all ask `StateLayout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
    # The one-shots the last start left out, and why: shown by `status`, never what decides a
    # skip (the databases' own records do, see tinyctl.stack.one_shots).
    SKIPPED_ONE_SHOTS = "skipped-one-shots.json"
    HISTORY = "history.sqlite"  # test-etl's run history: kept by `down --volumes`
    LOCAL = "local"
    # Folders: the stack mounts `dags/` and `logs/`, and the deployed copies of the project's
    # `plugins/` and `include/` (tinyctl.dags.code); `secrets/` holds mode-0600 files.
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
    def history_file(self) -> Path:
        """test-etl's run history (tinyctl.data.test_etl.history)."""
        return self.root / self.HISTORY

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
        """The deployed copy of the project's plugins folder (tinyctl.dags.code)."""
        return self.root / self.PLUGINS

    @property
    def include_dir(self) -> Path:
        """The deployed copy of the project's include folder (tinyctl.dags.code)."""
        return self.root / self.INCLUDE

    @property
    def cache_dir(self) -> Path:
        return self.root / self.CACHE
