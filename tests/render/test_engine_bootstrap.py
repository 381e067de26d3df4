"""The rendered bootstrap script against a real PostgreSQL: reserved words stay names, and the
read-only role tinyctl checks with can read every warehouse table and write none."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from conftest import LocalPostgres, run_bootstrap

from tinyctl.project import Project
from tinyctl.render import render
from tinyctl.spec import load_spec
from tinyctl.state.secrets import READER_ROLE

pytestmark = pytest.mark.engine

HOSTILE = """
postgres:
  databases:
    - name: order
      schemas: [all, end, select]
    - name: warehouse_2
  roles:
    - {name: user, access: write}
    - {name: current_role_x, access: write}
    - {name: select, access: read}
"""


def _hostile_project(project: Path) -> Path:
    spec = project / "tinyctl.yaml"
    text = spec.read_text()
    start = text.index("postgres:")
    end = text.index("\nairflow:")
    spec.write_text(text[:start] + HOSTILE.strip() + text[end:])
    return spec


def test_reserved_words_as_names_bootstrap_cleanly_twice(
    project: Path, local_postgres: LocalPostgres
) -> None:
    spec = _hostile_project(project)
    loaded = load_spec(spec, check_files=False)
    render(Project(loaded))
    for _ in range(2):  # idempotent: the second run changes nothing and fails nothing
        done = run_bootstrap(local_postgres, loaded.state_dir)
        assert done.returncode == 0, done.stderr
    listed = local_postgres.psql("-d", "order", "-Atc", "SELECT nspname FROM pg_namespace")
    assert {"all", "end", "select"} <= set(listed.stdout.split())


def test_the_reader_role_reads_everything_and_writes_nothing(
    project: Path, local_postgres: LocalPostgres
) -> None:
    spec = _hostile_project(project)
    loaded = load_spec(spec, check_files=False)
    render(Project(loaded))
    assert run_bootstrap(local_postgres, loaded.state_dir).returncode == 0

    def connect(user: str) -> psycopg.Connection:
        return psycopg.connect(
            host=str(local_postgres.socket_dir),
            port=local_postgres.port,
            dbname="order",
            user=user,
            autocommit=True,
        )

    with connect("user") as writer:
        writer.execute('CREATE TABLE "all".t (id int)')
        writer.execute('INSERT INTO "all".t VALUES (1)')
    with connect(READER_ROLE) as reader:
        assert reader.execute('SELECT count(*) FROM "all".t').fetchone() == (1,)
        for statement in (
            'INSERT INTO "all".t VALUES (2)',
            'DELETE FROM "all".t',
            "CREATE TABLE public.x (id int)",
            'CREATE TABLE "all".x (id int)',
        ):
            reader.execute("BEGIN READ WRITE")  # must not open a way around the role
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(statement)
            reader.execute("ROLLBACK")
    with connect("user") as writer:
        assert writer.execute('SELECT count(*) FROM "all".t').fetchone() == (1,)
