"""One-shots left out on real stacks (the session's `live_stack`, each runtime): a warm `up`
skips both and says why; a new schema or role runs db-setup again, a record naming another
Airflow installation the migration; `--full` runs both. Each test leaves the stack up with the
spec it found."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Stack, ok

from tinyctl.db import Dsn, execute, query

pytestmark = [pytest.mark.stack]


def _one_shots(result) -> dict:
    return json.loads(ok(result).stdout)["one_shots"]


def _superuser(stack: Stack, database: str) -> Dsn:
    secrets = json.loads((stack.root / ".tinyctl" / "secrets.json").read_text())
    return Dsn("127.0.0.1", stack.postgres_port, database, "postgres", secrets["postgres_password"])


@pytest.fixture
def spec_edits(live_stack: Stack) -> Iterator[Path]:
    """The stack's spec, to edit: put back afterwards, and applied again with `up --full`."""
    spec = live_stack.root / "tinyctl.yaml"
    text = spec.read_text()
    try:
        yield spec
    finally:
        spec.write_text(text)
        full = _one_shots(live_stack.run("up", "--no-deploy", "--full", "--json"))
        assert full == {
            "skipped": {},
            "ran": {"db-setup": "up --full", "airflow-init": "up --full"},
        }


def test_a_warm_up_after_down_skips_both_one_shots_and_says_why(live_stack: Stack) -> None:
    ok(live_stack.run("down"))
    result = ok(live_stack.run("up", "--no-deploy"))
    assert "db-setup: skipped (roles, databases and grants are as its record" in result.stdout
    assert "airflow-init: skipped (the metadata database is at revision" in result.stdout
    status = {s["name"]: s for s in live_stack.json("status")["services"]}
    assert status["db-setup"]["state"] == status["airflow-init"]["state"] == "skipped"
    assert status["db-setup"]["health"] == status["airflow-init"]["health"] == "skipped"


def test_a_new_schema_role_or_installation_runs_its_one_shot_again(
    live_stack: Stack, spec_edits: Path
) -> None:
    text = spec_edits.read_text()
    spec_edits.write_text(text.replace("schemas: [", "schemas: [one_shot_scratch, ", 1))
    ran = _one_shots(live_stack.run("up", "--no-deploy", "--json"))
    assert ran["ran"] == {
        "db-setup": "its inputs changed: roles, databases, schemas, grants or passwords"
    }
    assert set(ran["skipped"]) == {"airflow-init"}
    assert "one_shot_scratch" in live_stack.psql("SELECT nspname FROM pg_namespace")
    # a new role; and a record saying another image migrated the metadata database (what an
    # edit of airflow.version leads to, without building one)
    role = "    - {name: one_shot_auditor, access: read}\n"
    spec_edits.write_text(text.replace("  roles:\n", "  roles:\n" + role, 1))
    update = "UPDATE tinyctl.one_shots SET install = 'another image'"
    execute(_superuser(live_stack, "airflow"), [(update, None)])
    ran = _one_shots(live_stack.run("up", "--no-deploy", "--json"))
    assert ran == {
        "skipped": {},
        "ran": {
            "db-setup": "role one_shot_auditor does not exist",
            "airflow-init": "another Airflow installation (image) migrated it",
        },
    }
    check = "SELECT 1 FROM pg_roles WHERE rolname = 'one_shot_auditor'"
    assert query(_superuser(live_stack, "postgres"), check)[1] == [(1,)]
    _, rows = query(_superuser(live_stack, "airflow"), "SELECT install FROM tinyctl.one_shots")
    assert rows != [("another image",)], "the migration that ran was recorded"
