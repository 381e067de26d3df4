"""The one-shot gate against a real PostgreSQL (no stack): the databases bootstrapped by the
rendered script, a metadata database at an Alembic revision; what `decide` leaves out and why,
what `record` writes, and that anything else means "run them"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LocalPostgres, run_bootstrap
from fakes import FakeRuntime, with_runtime

from tinyctl.db import Dsn, query, run_script
from tinyctl.project import Project
from tinyctl.render import render
from tinyctl.stack.one_shots import OneShotGate

pytestmark = pytest.mark.engine

BOTH = {"db-setup", "airflow-init"}


class DatabaseRuntime(FakeRuntime):
    """A fake runtime whose database is the test's PostgreSQL and whose Airflow is `install`."""

    pg: LocalPostgres | None = None
    install: str | None = "sha256:image-1"

    def postgres_address(self) -> tuple[str, int]:
        assert self.pg is not None
        return str(self.pg.socket_dir), self.pg.port

    def airflow_install(self) -> str | None:
        return self.install


@pytest.fixture
def bootstrapped(project: Path, local_postgres: LocalPostgres) -> Iterator[Path]:
    """The scaffolded project's databases, bootstrapped; its metadata database at rev-1, and
    no record of anything (another test's records are removed first)."""
    render(Project.open(project / "tinyctl.yaml"))
    done = run_bootstrap(local_postgres, project / ".tinyctl")
    assert done.returncode == 0, done.stderr
    _sql(
        local_postgres,
        "airflow",
        "DROP SCHEMA IF EXISTS tinyctl CASCADE; DROP TABLE IF EXISTS public.alembic_version;"
        "CREATE TABLE public.alembic_version (version_num varchar(32) PRIMARY KEY);"
        "INSERT INTO public.alembic_version VALUES ('rev-1');"
        "COMMENT ON DATABASE airflow IS NULL; COMMENT ON DATABASE warehouse IS NULL",
    )
    yield project


def _sql(pg: LocalPostgres, database: str, text: str) -> None:
    run_script(Dsn(str(pg.socket_dir), pg.port, database, "postgres", "-"), text)


def _gate(root: Path, pg: LocalPostgres, *, full: bool = False, **runtime: object) -> OneShotGate:
    project = Project.open(root / "tinyctl.yaml", {})
    fake = with_runtime(project, DatabaseRuntime)
    fake.pg = pg
    for name, value in runtime.items():
        setattr(fake, name, value)
    return OneShotGate(project, full=full, ready_seconds=0.3)


def _ran_once(root: Path, pg: LocalPostgres) -> None:
    """An `up --full` that succeeded: both one-shots ran, then were recorded."""
    gate = _gate(root, pg, full=True)
    assert gate.decide() == {}
    gate.record()


def test_a_new_data_volume_runs_both_without_reading_then_a_warm_up_skips_both(
    bootstrapped: Path, local_postgres: LocalPostgres
) -> None:
    new = _gate(bootstrapped, local_postgres)
    new._read = None  # type: ignore[method-assign]  # reading anything would fail the test
    assert new.decide(new_database=True) == {}
    assert new.ran == dict.fromkeys(BOTH, "new data volume")
    new.record()  # what they applied, recorded as after any start that ran them
    assert set(_gate(bootstrapped, local_postgres).decide()) == BOTH


def test_fresh_databases_run_both_then_a_warm_up_skips_both(
    bootstrapped: Path, local_postgres: LocalPostgres
) -> None:
    first = _gate(bootstrapped, local_postgres)
    assert first.decide() == {}
    assert first.ran == {
        "db-setup": "database airflow holds no record of it (new)",
        "airflow-init": "no record in the metadata database",
    }
    first.record()
    warm = _gate(bootstrapped, local_postgres)
    skipped = warm.decide()
    assert set(skipped) == BOTH and warm.ran == {}
    assert (
        skipped["airflow-init"]
        == "the metadata database is at revision rev-1, this installation's head"
    )


def test_the_records_live_in_the_databases(
    bootstrapped: Path, local_postgres: LocalPostgres
) -> None:
    _ran_once(bootstrapped, local_postgres)
    dsn = Dsn(str(local_postgres.socket_dir), local_postgres.port, "airflow", "postgres", "-")
    _, comments = query(
        dsn,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = ANY(%s)",
        (["airflow", "warehouse"],),
    )
    assert {c[0].split()[:3] == ["tinyctl", "db-setup", "v1"] for c in comments} == {True}
    _, rows = query(dsn, "SELECT format, airflow_version, install, head FROM tinyctl.one_shots")
    assert rows == [(1, "3.3.2", "sha256:image-1", "rev-1")]


def test_a_new_schema_runs_db_setup_only(bootstrapped: Path, local_postgres: LocalPostgres) -> None:
    _ran_once(bootstrapped, local_postgres)
    spec = bootstrapped / "tinyctl.yaml"
    spec.write_text(spec.read_text().replace("schemas: [", "schemas: [marts, ", 1))
    gate = _gate(bootstrapped, local_postgres)
    assert set(gate.decide()) == {"airflow-init"}
    assert gate.ran == {
        "db-setup": "its inputs changed: roles, databases, schemas, grants or passwords"
    }


def test_a_new_role_or_password_runs_db_setup(
    bootstrapped: Path, local_postgres: LocalPostgres
) -> None:
    _ran_once(bootstrapped, local_postgres)
    spec = bootstrapped / "tinyctl.yaml"
    text = spec.read_text()
    spec.write_text(
        text.replace("  roles:\n", "  roles:\n    - {name: auditor, access: read}\n", 1)
    )
    render(Project.open(spec))  # as `up` does first: the new role's password is generated
    assert _decided(bootstrapped, local_postgres)["db-setup"] == "role auditor does not exist"
    spec.write_text(text)
    _ran_once(bootstrapped, local_postgres)
    secrets = bootstrapped / ".tinyctl" / "secrets.json"
    secrets.write_text(
        secrets.read_text().replace('"role_etl_password": "', '"role_etl_password": "x', 1)
    )
    assert "inputs changed" in _decided(bootstrapped, local_postgres)["db-setup"]


def _decided(root: Path, pg: LocalPostgres, **runtime: object) -> dict[str, str]:
    gate = _gate(root, pg, **runtime)
    gate.decide()
    return gate.ran


def test_another_installation_or_revision_runs_the_migration(
    bootstrapped: Path, local_postgres: LocalPostgres
) -> None:
    _ran_once(bootstrapped, local_postgres)
    assert _decided(bootstrapped, local_postgres, install="sha256:image-2") == {
        "airflow-init": "another Airflow installation (image) migrated it"
    }
    _ran_once(bootstrapped, local_postgres)
    _sql(local_postgres, "airflow", "UPDATE public.alembic_version SET version_num = 'rev-0'")
    assert _decided(bootstrapped, local_postgres) == {
        "airflow-init": "the database is at revision rev-0, not rev-1"
    }


def test_older_records_unreadable_databases_and_full_run_both(
    bootstrapped: Path, local_postgres: LocalPostgres
) -> None:
    _ran_once(bootstrapped, local_postgres)
    _sql(
        local_postgres,
        "airflow",
        "UPDATE tinyctl.one_shots SET format = 0; COMMENT ON DATABASE warehouse IS 'tinyctl db-setup v0 abc'",
    )
    assert _decided(bootstrapped, local_postgres) == {
        "db-setup": "database warehouse holds a record of another tinyctl version",
        "airflow-init": "a record of another tinyctl version",
    }
    _ran_once(bootstrapped, local_postgres)
    gone = LocalPostgres(local_postgres.socket_dir, 9, "postgres")  # nothing listens there
    assert set(_decided(bootstrapped, gone)) == BOTH
    full = _gate(bootstrapped, local_postgres, full=True)
    assert full.decide() == {} and full.ran == dict.fromkeys(BOTH, "up --full")


def test_a_run_clears_its_record_first(bootstrapped: Path, local_postgres: LocalPostgres) -> None:
    """A one-shot that fails halfway leaves no record claiming its work done: the next `up`
    runs it again even with the inputs of the last good run."""
    _ran_once(bootstrapped, local_postgres)
    spec = bootstrapped / "tinyctl.yaml"
    text = spec.read_text()
    spec.write_text(text.replace("schemas: [", "schemas: [marts, ", 1))
    _gate(bootstrapped, local_postgres).decide()  # ...and db-setup then fails: no record()
    spec.write_text(text)
    assert "db-setup" in _decided(bootstrapped, local_postgres)


def test_what_cannot_be_told_runs_both_and_never_fails_up(
    bootstrapped: Path, local_postgres: LocalPostgres
) -> None:
    from tinyctl.errors import EnvironmentProblem

    class Unreachable(DatabaseRuntime):
        def airflow_install(self) -> str | None:
            raise EnvironmentProblem("the engine went away")

    project = Project.open(bootstrapped / "tinyctl.yaml", {})
    with_runtime(project, Unreachable)
    gate = OneShotGate(project)
    assert gate.decide() == {}
    assert gate.ran == dict.fromkeys(BOTH, "what they apply is not known: the engine went away")
    gate.record()  # nothing to record, nothing raised


def test_a_database_that_does_not_listen_yet_is_waited_for(project: Path) -> None:
    """Compose asks as soon as the container runs: the first read waits until it listens."""
    from tinyctl.db import DatabaseUnreachable

    answers: list[object] = [DatabaseUnreachable("starting"), DatabaseUnreachable("starting")]

    def ask():
        if answers:
            raise answers.pop(0)  # type: ignore[misc]
        return ["x"], [("row",)]

    gate = OneShotGate(Project.open(project / "tinyctl.yaml", {}), ready_seconds=5)
    assert gate._once_reachable(ask) == [("row",)] and not answers
    never = OneShotGate(Project.open(project / "tinyctl.yaml", {}), ready_seconds=0.2)
    with pytest.raises(DatabaseUnreachable):
        never._once_reachable(lambda: (_ for _ in ()).throw(DatabaseUnreachable("down")))
