"""Which one-shots `up` leaves out: the runtime asks `OneShotGate.decide` once the database
accepts connections (before any one-shot or Airflow component starts), and once the start has
succeeded, `record` writes what the one-shots that ran applied. The records and the verdicts
are `tinyctl.stack.one_shot_records`; this module reads and writes them, as the database's
superuser, with one short query per database (the server's catalog, the metadata database).

Anything that cannot be read means "run them", as before: the gate never makes `up` fail.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from tinyctl.db import DatabaseUnreachable, Dsn, execute, query, sql
from tinyctl.errors import TinyctlError
from tinyctl.project import Project
from tinyctl.stack.one_shot_records import (
    FORMAT,
    MIGRATE,
    ONE_SHOTS,
    RECORDS_SCHEMA,
    RECORDS_TABLE,
    SETUP,
    Expected,
    MigrationFound,
    SetupFound,
    migration_verdict,
    setup_comment,
    setup_digest,
    setup_verdict,
    skip_reason,
)
from tinyctl.targets.templating import bootstrap_script

# How long the first read waits for the server to accept connections, and how often it asks.
READY_SECONDS = 30.0
RETRY_SECONDS = 0.1
MAINTENANCE_DB = "postgres"  # the server's own database, always there: the catalog is read in it
SETUP_QUERY = (
    "SELECT 'database', datname::text, shobj_description(oid, 'pg_database') FROM pg_database"
    " WHERE datname = ANY(%s) UNION ALL"
    " SELECT 'role', rolname::text, NULL FROM pg_roles WHERE rolname = ANY(%s)"
)
REVISION = "(SELECT string_agg(version_num, ',' ORDER BY version_num) FROM public.alembic_version)"
MIGRATION_QUERY = (
    f"SELECT format, airflow_version, install, head, {REVISION}"
    f" FROM {RECORDS_SCHEMA}.{RECORDS_TABLE} WHERE service = %s"
)
TABLE = (
    f"CREATE TABLE IF NOT EXISTS {RECORDS_SCHEMA}.{RECORDS_TABLE} (service text PRIMARY KEY,"
    " format int NOT NULL, airflow_version text NOT NULL, install text NOT NULL, head text,"
    " applied_at timestamptz NOT NULL DEFAULT now())"
)
UPSERT = (
    f"INSERT INTO {RECORDS_SCHEMA}.{RECORDS_TABLE} (service, format, airflow_version, install,"
    f" head) SELECT %s, %s, %s, %s, {REVISION} ON CONFLICT (service) DO UPDATE SET"
    " format = EXCLUDED.format, airflow_version = EXCLUDED.airflow_version,"
    " install = EXCLUDED.install, head = EXCLUDED.head, applied_at = now()"
)


class OneShotGate:
    """One `up`'s decision about its one-shots: `skipped` and `ran` name each with its reason."""

    def __init__(
        self, project: Project, *, full: bool = False, ready_seconds: float = READY_SECONDS
    ):
        self.project, self.full, self.ready_seconds = project, full, ready_seconds
        self.skipped: dict[str, str] = {}
        self.ran: dict[str, str] = {}
        self._expected: Expected | None = None
        self._setup: SetupFound | None = None
        self._migration: MigrationFound | None = None
        self._address: tuple[str, int] | None = None

    def decide(self, *, new_database: bool = False) -> dict[str, str]:
        """The one-shots to leave out, each with why (the runtime's `skip` callback);
        `new_database`: its storage was just created, there is nothing to read."""
        try:
            self._expected = expected = expected_records(self.project)
        except TinyctlError as error:  # never a reason for `up` to fail: run them
            self.ran = dict.fromkeys(ONE_SHOTS, f"what they apply is not known: {error.message}")
            return {}
        if self.full or new_database:
            self.ran = dict.fromkeys(ONE_SHOTS, "up --full" if self.full else "new data volume")
            return {}
        self._setup, self._migration = self._read()
        verdicts = {
            SETUP: setup_verdict(expected, self._setup),
            MIGRATE: migration_verdict(expected, self._migration),
        }
        self.ran = {name: why for name, why in verdicts.items() if why is not None}
        self.skipped = {
            name: skip_reason(name, expected, self._migration)
            for name, why in verdicts.items()
            if why is None
        }
        self._clear()
        return dict(self.skipped)

    def record(self) -> None:
        """After a start that succeeded: what the one-shots that ran applied, into the
        databases. A record that cannot be written is left out (the next `up` runs them)."""
        expected = self._expected
        if expected is None:
            return
        if SETUP in self.ran:
            self._try(MAINTENANCE_DB, _comments(expected, setup_comment(expected.setup_digest)))
        if MIGRATE in self.ran and expected.install is not None:
            values = (MIGRATE, FORMAT, expected.airflow_version, expected.install)
            statements = [
                (f"CREATE SCHEMA IF NOT EXISTS {RECORDS_SCHEMA}", None),
                (TABLE, None),
                (UPSERT, values),
            ]
            self._try(self._metadata_database, statements)

    def _read(self) -> tuple[SetupFound | None, MigrationFound | None]:
        expected = self._expected
        assert expected is not None
        params = (list(expected.databases), list(expected.roles))
        try:
            rows = self._once_reachable(
                lambda: query(self._dsn(MAINTENANCE_DB), SETUP_QUERY, params)
            )
        except TinyctlError:
            return None, None
        setup = SetupFound(
            {name: comment for kind, name, comment in rows if kind == "database"},
            frozenset(name for kind, name, _ in rows if kind == "role"),
        )
        if expected.databases[0] not in setup.comments:
            return setup, None  # no metadata database: nothing to read there
        return setup, self._read_migration()

    def _once_reachable(self, ask: Callable[[], tuple[list[str], list[tuple]]]) -> list[tuple]:
        """The rows `ask()` returns once the server accepts connections: a runtime asks as
        soon as the database runs, which may be a moment before it listens (Compose does not
        wait for the container's health probe here). For up to `ready_seconds`."""
        deadline = time.monotonic() + self.ready_seconds
        while True:
            try:
                return ask()[1]
            except DatabaseUnreachable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(RETRY_SECONDS)

    def _read_migration(self) -> MigrationFound | None:
        try:
            _, rows = query(self._dsn(self._metadata_database), MIGRATION_QUERY, (MIGRATE,))
        except TinyctlError:  # no record table, or no alembic_version: never migrated here
            return None
        if not rows:
            return None
        format_, version, install, head, current = rows[0]
        return MigrationFound(int(format_), str(version), str(install), str(head), current)

    def _clear(self) -> None:
        """The records of the one-shots about to run go first: one that fails halfway then
        leaves no record that would claim its work done."""
        if SETUP in self.ran and self._setup is not None:
            self._try(MAINTENANCE_DB, _comments_on(list(self._setup.comments), None))
        if MIGRATE in self.ran and self._migration is not None:
            delete = f"DELETE FROM {RECORDS_SCHEMA}.{RECORDS_TABLE} WHERE service = %s"
            self._try(self._metadata_database, [(delete, (MIGRATE,))])

    def _try(self, database: str, statements: list) -> None:
        with contextlib.suppress(TinyctlError):
            execute(self._dsn(database), statements)

    @property
    def _metadata_database(self) -> str:
        return self.project.plan.bootstrap.metadata_database

    def _dsn(self, database: str) -> Dsn:
        bootstrap = self.project.plan.bootstrap
        if self._address is None:  # asked once: without a published port, Compose inspects
            self._address = self.project.runtime.postgres_address()
        host, port = self._address
        password = self.project.secrets[bootstrap.superuser_secret]
        return Dsn(host, port, database, bootstrap.superuser, password)


def expected_records(project: Project) -> Expected:
    """What the one-shots of this spec, secrets and Airflow installation would apply."""
    plan = project.plan
    bootstrap = plan.bootstrap
    # the script as this tinyctl renders it, with the target's own facts left out
    script = bootstrap_script(bootstrap, secrets_dir="<secrets>", host="<host>", port=0)
    names = (
        bootstrap.superuser_secret,
        bootstrap.metadata_secret,
        *(role.secret for role in bootstrap.roles),
        bootstrap.reader.secret,
    )
    passwords = {name: project.secrets[name] for name in names}
    return Expected(
        setup_digest(script, passwords),
        (bootstrap.metadata_database, *(db.name for db in bootstrap.databases)),
        (bootstrap.metadata_role, *(role.name for role in bootstrap.roles), bootstrap.reader.name),
        plan.airflow_version,
        project.runtime.airflow_install(),
    )


def _comments(expected: Expected, comment: str | None) -> list:
    return _comments_on(list(expected.databases), comment)


def _comments_on(databases: list[str], comment: str | None) -> list:
    text = sql.SQL("NULL") if comment is None else sql.Literal(comment)
    return [
        (sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), text), None)
        for name in databases
    ]
