"""What each one-shot applied, as the databases themselves record it, against what this spec
and this Airflow installation would apply now: the proof `up` needs to leave a one-shot out.

- **db-setup** (roles, databases, schemas, grants, passwords): a comment on every database the
  bootstrap makes, Airflow's metadata database and each warehouse database:
  `tinyctl db-setup v1 <digest>`. The digest is an HMAC-SHA256 of the bootstrap's inputs (the
  script as this tinyctl renders it from the plan, and the passwords it sets), keyed with those
  passwords: any change of either changes it, and a role reading the catalog (every role can
  read database comments) learns nothing from it. A database dropped (and made again) loses
  its comment; a role dropped by hand is noticed too (every role must exist). A schema dropped
  by hand inside a database is not: `up --full` applies everything again.
- **airflow-init** (`airflow db migrate`): a row of `tinyctl.one_shots` in the metadata
  database: the Airflow version and installation (the image's id, or the local environment's
  digest) that migrated it, and the Alembic revision the migration ended at, that
  installation's head. It proves nothing once the database is at another revision
  (`alembic_version`, Airflow's own record), or the installation changed.

A record that is absent (fresh volumes), unreadable, or written in another format (an older
tinyctl) proves nothing: the one-shot runs. Pure: no database, no file.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

FORMAT = 1
SETUP = "db-setup"
MIGRATE = "airflow-init"
ONE_SHOTS = (SETUP, MIGRATE)
SETUP_PREFIX = "tinyctl db-setup"
RECORDS_SCHEMA = "tinyctl"
RECORDS_TABLE = "one_shots"


@dataclass(frozen=True)
class Expected:
    """What the one-shots would apply now."""

    setup_digest: str
    databases: tuple[str, ...]  # every database the bootstrap makes (metadata first)
    roles: tuple[str, ...]  # every role it makes
    airflow_version: str
    install: str | None  # None: the installation is not there yet (nothing to compare)


@dataclass(frozen=True)
class SetupFound:
    """What the server says of db-setup's record: each existing database's comment."""

    comments: Mapping[str, str | None]  # a database missing here does not exist
    roles: frozenset[str]  # the expected roles that exist


@dataclass(frozen=True)
class MigrationFound:
    """airflow-init's row of `tinyctl.one_shots`, and the revision the database is at now."""

    format: int
    airflow_version: str
    install: str
    head: str
    current: str | None


def setup_digest(script: bytes, passwords: Mapping[str, str]) -> str:
    """The HMAC of the bootstrap's inputs, keyed with its passwords (see the module docstring)."""
    names = sorted(passwords)
    key = "\0".join(passwords[name] for name in names).encode()
    message = b"\0".join([f"v{FORMAT}".encode(), script, *(name.encode() for name in names)])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def setup_comment(digest: str) -> str:
    """The comment db-setup's record is, on every database it makes."""
    return f"{SETUP_PREFIX} v{FORMAT} {digest}"


def setup_verdict(expected: Expected, found: SetupFound | None) -> str | None:
    """Why db-setup must run; None when its record proves it has nothing to do."""
    if found is None:
        return "its record could not be read"
    for database in expected.databases:
        if database not in found.comments:
            return f"database {database} does not exist"
    missing = [role for role in expected.roles if role not in found.roles]
    if missing:
        return f"role {missing[0]} does not exist"
    for database in expected.databases:
        problem = _comment_problem(database, found.comments[database], expected.setup_digest)
        if problem is not None:
            return problem
    return None


def _comment_problem(database: str, comment: str | None, digest: str) -> str | None:
    if not comment or not comment.startswith(SETUP_PREFIX + " "):
        return f"database {database} holds no record of it (new)"
    parts = comment.split()
    if len(parts) != 4 or parts[2] != f"v{FORMAT}":
        return f"database {database} holds a record of another tinyctl version"
    if not hmac.compare_digest(parts[3], digest):
        return "its inputs changed: roles, databases, schemas, grants or passwords"
    return None


def migration_verdict(expected: Expected, found: MigrationFound | None) -> str | None:
    """Why airflow-init must run; None when its record proves it has nothing to do."""
    if found is None:
        return "no record in the metadata database"
    if found.format != FORMAT:
        return "a record of another tinyctl version"
    if expected.install is None:
        return "the Airflow installation is not there yet"
    if found.airflow_version != expected.airflow_version:
        return f"Airflow {found.airflow_version} migrated it, this is {expected.airflow_version}"
    if found.install != expected.install:
        return "another Airflow installation (image) migrated it"
    if found.current != found.head:
        return f"the database is at revision {found.current or 'none'}, not {found.head}"
    return None


def skip_reason(service: str, expected: Expected, found: MigrationFound | None) -> str:
    """What `up` says of a one-shot it leaves out."""
    if service == SETUP:
        return "roles, databases and grants are as its record in the databases says"
    head = found.head if found is not None else "?"
    return f"the metadata database is at revision {head}, this installation's head"
