"""The one-shots' records and verdicts, pure: what proves a one-shot has nothing to do."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tinyctl.stack.one_shot_records import (
    Expected,
    MigrationFound,
    SetupFound,
    migration_verdict,
    setup_comment,
    setup_digest,
    setup_verdict,
)

PASSWORDS = {"postgres_password": "p0", "airflow_db_password": "p1", "role_etl_password": "p2"}
DIGEST = setup_digest(b"script", PASSWORDS)
EXPECTED = Expected(DIGEST, ("airflow", "warehouse"), ("airflow", "etl"), "3.3.2", "sha256:image-1")
RECORDED = SetupFound(
    {"airflow": setup_comment(DIGEST), "warehouse": setup_comment(DIGEST)},
    frozenset({"airflow", "etl"}),
)
MIGRATED = MigrationFound(1, "3.3.2", "sha256:image-1", "rev-1", "rev-1")


def test_the_digest_changes_with_the_script_and_with_every_password() -> None:
    assert setup_digest(b"script", dict(PASSWORDS)) == DIGEST, "deterministic"
    assert setup_digest(b"script 2", PASSWORDS) != DIGEST
    for name in PASSWORDS:
        assert setup_digest(b"script", {**PASSWORDS, name: "other"}) != DIGEST
    assert setup_digest(b"script", {**PASSWORDS, "role_new_password": "p3"}) != DIGEST


def test_the_recorded_comment_holds_no_password() -> None:
    comment = setup_comment(DIGEST)
    assert comment.startswith("tinyctl db-setup v1 ")
    assert not any(value in comment for value in PASSWORDS.values() if len(value) > 1)


def test_matching_records_prove_both_one_shots_have_nothing_to_do() -> None:
    assert setup_verdict(EXPECTED, RECORDED) is None
    assert migration_verdict(EXPECTED, MIGRATED) is None


@pytest.mark.parametrize(
    ("found", "why"),
    [
        (None, "its record could not be read"),
        (
            SetupFound({"airflow": None}, frozenset({"airflow", "etl"})),
            "database warehouse does not exist",
        ),
        (replace(RECORDED, roles=frozenset({"airflow"})), "role etl does not exist"),
        (
            replace(RECORDED, comments={**RECORDED.comments, "warehouse": None}),
            "database warehouse holds no record of it (new)",
        ),
        (
            replace(RECORDED, comments={**RECORDED.comments, "airflow": "my own notes"}),
            "database airflow holds no record of it (new)",
        ),
        (
            replace(
                RECORDED, comments={**RECORDED.comments, "airflow": f"tinyctl db-setup v0 {DIGEST}"}
            ),
            "database airflow holds a record of another tinyctl version",
        ),
        (
            replace(RECORDED, comments={**RECORDED.comments, "warehouse": setup_comment("0" * 64)}),
            "its inputs changed: roles, databases, schemas, grants or passwords",
        ),
    ],
)
def test_db_setup_runs_unless_every_database_holds_this_record(found, why: str) -> None:
    assert setup_verdict(EXPECTED, found) == why


@pytest.mark.parametrize(
    ("expected", "found", "why"),
    [
        (EXPECTED, None, "no record in the metadata database"),
        (EXPECTED, replace(MIGRATED, format=0), "a record of another tinyctl version"),
        (replace(EXPECTED, install=None), MIGRATED, "the Airflow installation is not there yet"),
        (
            replace(EXPECTED, airflow_version="3.4.0"),
            MIGRATED,
            "Airflow 3.3.2 migrated it, this is 3.4.0",
        ),
        (
            replace(EXPECTED, install="sha256:image-2"),
            MIGRATED,
            "another Airflow installation (image) migrated it",
        ),
        (
            EXPECTED,
            replace(MIGRATED, current="rev-0"),
            "the database is at revision rev-0, not rev-1",
        ),
        (EXPECTED, replace(MIGRATED, current=None), "the database is at revision none, not rev-1"),
    ],
)
def test_airflow_init_runs_unless_this_installation_migrated_the_database_to_where_it_is(
    expected: Expected, found, why: str
) -> None:
    assert migration_verdict(expected, found) == why
