"""`columns:`: a schema contract. A table keeps its columns, their types and nullability.

Types are normalised by Postgres itself: the declared types become a temporary table's
columns, so `int4`, `integer` and `int` are one type and `varchar(20)` is `character
varying(20)`. A declared type without a modifier (`numeric`) accepts any modifier
(`numeric(12,2)`); with one, the modifier must match too. The offending rows are ONE SELECT
over the catalog: one row per column that differs.
"""

from __future__ import annotations

from typing import Any

from tinyctl.data.test_etl.expectations import RowCheck
from tinyctl.db import Session
from tinyctl.db import sql as q
from tinyctl.spec.models import ColumnsContract

DECLARED = "tinyctl_contract"  # a temporary table with the declared column types


def _setup(body: ColumnsContract) -> Any:
    typed = [(c, body.spec_of(c).type) for c in body.columns]
    typed = [(c, t) for c, t in typed if t]

    def setup(s: Session) -> None:
        # Every type name matched SQL_TYPE when the spec loaded: only a type name reaches the SQL.
        columns = (
            q.SQL(", ").join(q.SQL("{} {}").format(q.Identifier(c), q.SQL(t)) for c, t in typed)
            if typed
            else q.SQL("")
        )
        s.execute(q.SQL("CREATE TEMP TABLE {} ({})").format(q.Identifier(DECLARED), columns))

    return setup


def offending_sql(body: ColumnsContract) -> q.Composable:
    """One row per difference: column, problem (missing | type | nullability | unexpected),
    expected, actual."""
    wanted = q.SQL(", ").join(
        q.SQL("({}, {}, {}::boolean)").format(
            q.Literal(column), q.Literal(position), q.Literal(body.spec_of(column).nullable)
        )
        for position, column in enumerate(body.columns, start=1)
    )
    extra = (
        q.SQL(
            " UNION ALL SELECT h.name, 'unexpected', NULL, h.type, 1000000 + h.num FROM have AS h"
            " WHERE h.name NOT IN (SELECT name FROM wanted)"
        )
        if body.mode == "exact"
        else q.SQL("")
    )
    return q.SQL(
        "WITH wanted (name, pos, nullable) AS (VALUES {wanted}),"
        " declared AS (SELECT attname AS name, atttypid AS typid, atttypmod AS typmod,"
        " format_type(atttypid, atttypmod) AS type FROM pg_attribute"
        " WHERE attrelid = {declared}::regclass AND attnum > 0),"
        " have AS (SELECT attname AS name, attnum AS num, atttypid AS typid, atttypmod AS typmod,"
        " format_type(atttypid, atttypmod) AS type, NOT attnotnull AS nullable FROM pg_attribute"
        " WHERE attrelid = to_regclass({table}) AND attnum > 0 AND NOT attisdropped)"
        " SELECT column_name, problem, expected, actual FROM ("
        " SELECT {table}::text AS column_name, 'no such table' AS problem, NULL AS expected,"
        " NULL AS actual, 0 AS pos WHERE to_regclass({table}) IS NULL"
        " UNION ALL SELECT w.name, 'missing', coalesce(d.type, 'any type'), NULL, w.pos"
        " FROM wanted AS w LEFT JOIN declared AS d USING (name)"
        " WHERE to_regclass({table}) IS NOT NULL AND w.name NOT IN (SELECT name FROM have)"
        " UNION ALL SELECT w.name, 'type', d.type, h.type, w.pos"
        " FROM wanted AS w JOIN declared AS d USING (name) JOIN have AS h USING (name)"
        " WHERE d.typid <> h.typid OR (d.typmod <> -1 AND d.typmod <> h.typmod)"
        " UNION ALL SELECT w.name, 'nullability',"
        " CASE WHEN w.nullable THEN 'NULL allowed' ELSE 'NOT NULL' END,"
        " CASE WHEN h.nullable THEN 'NULL allowed' ELSE 'NOT NULL' END, w.pos"
        " FROM wanted AS w JOIN have AS h USING (name) WHERE w.nullable <> h.nullable"
        "{extra}) AS p ORDER BY pos, problem"
    ).format(
        wanted=wanted,
        declared=q.Literal(f"pg_temp.{DECLARED}"),
        table=q.Literal(body.table),
        extra=extra,
    )


def check(body: ColumnsContract) -> RowCheck:
    def describe(failures: int, rows: list[list[Any]]) -> str:
        if not failures:
            how = "exactly these" if body.mode == "exact" else "at least these"
            return f"{body.table} has {how} {len(body.columns)} column(s), as declared"
        named = "; ".join(_problem(*row) for row in rows)
        more = f"; and {failures - len(rows)} more" if failures > len(rows) else ""
        return f"{failures} column difference(s) in {body.table}: {named}{more}"

    return RowCheck(offending_sql(body), describe, setup=_setup(body), limit=20)


def _problem(column: str, problem: str, expected: Any, actual: Any) -> str:
    if problem == "no such table":
        return f"{column} does not exist"
    if problem == "missing":
        return f"{column} is missing (expected {expected})"
    if problem == "unexpected":
        return f"{column} ({actual}) is not declared (mode: exact)"
    return f"{column}: {problem} {expected} -> {actual}"
