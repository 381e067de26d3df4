"""One statement per call: `query` and SQL seeds never run a second, smuggled statement."""

from __future__ import annotations

import pytest
from conftest import LocalPostgres

from tinyctl.db import DatabaseError, Dsn, query, run_script

pytestmark = pytest.mark.engine


def _dsn(pg: LocalPostgres) -> Dsn:
    return Dsn(str(pg.socket_dir), pg.port, "postgres", pg.user, "unused")


def test_query_refuses_a_second_statement(local_postgres: LocalPostgres) -> None:
    dsn = _dsn(local_postgres)
    run_script(dsn, "DROP TABLE IF EXISTS guarded; CREATE TABLE guarded (id int);")
    with pytest.raises(DatabaseError, match="multiple commands"):
        query(dsn, "SELECT 1; DROP TABLE guarded")
    assert query(dsn, "SELECT count(*) FROM guarded")[1] == [(0,)]


def test_query_is_read_only(local_postgres: LocalPostgres) -> None:
    dsn = _dsn(local_postgres)
    run_script(dsn, "DROP TABLE IF EXISTS guarded2; CREATE TABLE guarded2 (id int);")
    with pytest.raises(DatabaseError, match="read-only"):
        query(dsn, "WITH d AS (INSERT INTO guarded2 VALUES (1) RETURNING 1) SELECT * FROM d")


def test_a_script_runs_each_statement_alone_and_rolls_back_whole(
    local_postgres: LocalPostgres,
) -> None:
    dsn = _dsn(local_postgres)
    run_script(dsn, "DROP TABLE IF EXISTS s1; CREATE TABLE s1 (id int); INSERT INTO s1 VALUES (1);")
    with pytest.raises(DatabaseError) as caught:
        run_script(dsn, "INSERT INTO s1 VALUES (2);\nSELECT * FROM missing_table;")
    assert caught.value.line == 2
    assert query(dsn, "SELECT count(*) FROM s1")[1] == [(1,)]
