"""Expectations on the warehouse, each turned into SQL that finds the offending rows.

Every check returns an `ExpectationResult` with a message that names what was expected and
what was found, plus a few offending rows (never thousands).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tinyctl.db import DatabaseError, Dsn, query
from tinyctl.db import sql as q
from tinyctl.spec.models import (
    AcceptedValues,
    CustomSql,
    Expectation,
    Freshness,
    NotNull,
    Relationships,
    RowCount,
    Unique,
    parse_duration,
    threshold_holds,
)

SAMPLE_ROWS = 5


@dataclass
class ExpectationResult:
    name: str
    kind: str
    passed: bool
    message: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)  # a few offending rows
    table: str | None = None
    failures: int = 0  # offending rows (1 for a failed check that has no rows)
    status: str = ""  # pass | warn | error (derived from passed when not given)
    severity: str = "error"
    stored_in: str | None = None  # schema.table holding every offending row (--store-failures)

    def __post_init__(self) -> None:
        if not self.status:
            self.status = "pass" if self.passed else "error"

    @property
    def warned(self) -> bool:
        return self.status == "warn"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "status": self.status,
            "severity": self.severity,
            "failures": self.failures,
            "stored_in": self.stored_in,
            "message": self.message,
            "table": self.table,
            "columns": self.columns,
            "rows": [[_plain(v) for v in r] for r in self.rows],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def _show(value: Any) -> str:
    """A value as a person reads it: numbers bare, text quoted, NULL for None."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _table(name: str) -> q.Composable:
    return q.Identifier(*name.split("."))


def _where(where: str | None, prefix: str = "WHERE") -> q.Composable:
    return (
        q.SQL(f" {prefix} ({where})") if where else q.SQL("")
    )  # the spec's own SQL, written by its owner


def default_name(expectation: Expectation) -> str:
    body = expectation.body
    kind = expectation.kind
    if isinstance(body, RowCount):
        bound = (
            f"= {body.equals}"
            if body.equals is not None
            else " ".join(
                part
                for part in (
                    f">= {body.min}" if body.min is not None else "",
                    f"<= {body.max}" if body.max is not None else "",
                )
                if part
            )
        )
        return f"row_count({body.table}{' where ' + body.where if body.where else ''}) {bound}"
    if isinstance(body, NotNull | Unique):
        return f"{kind}({body.table}: {', '.join(body.columns)})"
    if isinstance(body, AcceptedValues):
        return f"accepted_values({body.table}.{body.column})"
    if isinstance(body, Relationships):
        return f"relationships({body.table}.{body.column} -> {body.to})"
    if isinstance(body, Freshness):
        return f"freshness({body.table}.{body.column} within {body.max_age})"
    if isinstance(body, CustomSql):
        query_text = " ".join(body.query.split())
        return f"sql({query_text[:60]}{'...' if len(query_text) > 60 else ''})"
    return kind


def _row_count(dsn: Dsn, e: RowCount) -> tuple[bool, str, list[str], list[list[Any]]]:
    _, rows = query(
        dsn, q.SQL("SELECT count(*) FROM {}{}").format(_table(e.table), _where(e.where))
    )
    count = int(rows[0][0])
    where = f" where {e.where}" if e.where else ""
    if e.equals is not None:
        ok = count == e.equals
        expected = f"exactly {e.equals}"
    else:
        ok = (e.min is None or count >= e.min) and (e.max is None or count <= e.max)
        expected = " and ".join(
            p
            for p in (
                f"at least {e.min}" if e.min is not None else "",
                f"at most {e.max}" if e.max is not None else "",
            )
            if p
        )
    return ok, f"{e.table}{where} has {count} row(s); expected {expected}", [], [], int(not ok)


def _not_null(dsn: Dsn, e: NotNull):
    condition = q.SQL(" OR ").join(q.SQL("{} IS NULL").format(q.Identifier(c)) for c in e.columns)
    base = q.SQL("FROM {} WHERE ({}){}").format(_table(e.table), condition, _where(e.where, "AND"))
    _, counted = query(dsn, q.SQL("SELECT count(*) ") + base)
    bad = int(counted[0][0])
    if not bad:
        return True, f"no NULL in {', '.join(e.columns)}", [], [], 0
    names, rows = query(
        dsn, q.SQL("SELECT * ") + base + q.SQL(" LIMIT {}").format(q.Literal(SAMPLE_ROWS))
    )
    return (
        False,
        f"{bad} row(s) of {e.table} have NULL in {', '.join(e.columns)}",
        names,
        [list(r) for r in rows],
        bad,
    )


def _unique(dsn: Dsn, e: Unique):
    cols = q.SQL(", ").join(map(q.Identifier, e.columns))
    groups = q.SQL(
        "SELECT {cols}, count(*) AS copies FROM {table}{where} GROUP BY {cols} HAVING count(*) > 1"
    ).format(cols=cols, table=_table(e.table), where=_where(e.where))
    _, counted = query(dsn, q.SQL("SELECT count(*) FROM ({}) AS d").format(groups))
    bad = int(counted[0][0])
    label = ", ".join(e.columns)
    if not bad:
        return True, f"({label}) is unique", [], [], 0
    names, rows = query(
        dsn, groups + q.SQL(" ORDER BY copies DESC LIMIT {}").format(q.Literal(SAMPLE_ROWS))
    )
    return (
        False,
        f"{bad} value(s) of ({label}) appear more than once in {e.table}",
        names,
        [list(r) for r in rows],
        bad,
    )


def _accepted(dsn: Dsn, e: AcceptedValues):
    # Typed literals: Postgres compares them with the column's own type (booleans, numerics, dates).
    values = q.SQL(", ").join(q.Literal(v) for v in e.values)
    statement = q.SQL(
        "SELECT {col} AS value, count(*) AS rows FROM {table} WHERE {col} IS NOT NULL AND {col} NOT IN ({values}){where}"
        " GROUP BY {col} ORDER BY rows DESC"
    ).format(
        col=q.Identifier(e.column),
        table=_table(e.table),
        values=values,
        where=_where(e.where, "AND"),
    )
    names, rows = query(dsn, statement)
    if not rows:
        return True, f"every {e.column} is one of {', '.join(map(_show, e.values))}", [], [], 0
    total = sum(int(r[1]) for r in rows)
    shown = ", ".join(_show(r[0]) for r in rows[:SAMPLE_ROWS])
    return (
        False,
        f"{total} row(s) of {e.table} have {e.column} outside the accepted values: {shown}",
        names,
        [list(r) for r in rows[:SAMPLE_ROWS]],
        total,
    )


def _relationships(dsn: Dsn, e: Relationships):
    parent_table, _, parent_column = e.to.rpartition(".")
    statement = q.SQL(
        "SELECT c.{col} AS value, count(*) AS rows FROM {child} AS c WHERE c.{col} IS NOT NULL{where}"
        " AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE p.{pcol} = c.{col}) GROUP BY c.{col} ORDER BY rows DESC"
    ).format(
        col=q.Identifier(e.column),
        child=_table(e.table),
        where=_where(e.where, "AND"),
        parent=_table(parent_table),
        pcol=q.Identifier(parent_column),
    )
    names, rows = query(dsn, statement)
    if not rows:
        return True, f"every {e.table}.{e.column} is found in {e.to}", [], [], 0
    total = sum(int(r[1]) for r in rows)
    return (
        False,
        f"{total} row(s) of {e.table} have a {e.column} not found in {e.to}",
        names,
        [list(r) for r in rows[:SAMPLE_ROWS]],
        total,
    )


def _freshness(dsn: Dsn, e: Freshness):
    limit = timedelta(seconds=parse_duration(e.max_age))
    _, rows = query(
        dsn,
        q.SQL("SELECT max({c}), now() - max({c}) FROM {t}").format(
            c=q.Identifier(e.column), t=_table(e.table)
        ),
    )
    newest, age = rows[0]
    if newest is None:
        return False, f"{e.table} has no {e.column} at all (no rows)", [], [], 1
    if isinstance(age, timedelta) and age <= limit:
        return True, f"newest {e.column} is {_human(age)} old (limit {e.max_age})", [], [], 0
    return (
        False,
        f"newest {e.column} in {e.table} is {_human(age) if isinstance(age, timedelta) else age} old; limit is {e.max_age}",
        ["newest"],
        [[newest]],
        1,
    )


def _human(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _equal(found: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(found, bool):
        return found == expected
    if isinstance(expected, int | float) or isinstance(found, Decimal | int | float):
        try:
            return Decimal(str(found)) == Decimal(str(expected))
        except (InvalidOperation, ValueError):
            return False
    return str(found) == str(expected)


def _custom(dsn: Dsn, e: CustomSql):
    statement = q.SQL(e.query.strip().rstrip(";"))
    if e.equals is None:
        names, rows = query(dsn, statement, limit=SAMPLE_ROWS + 1)
        if not rows:
            return True, "the query returned no rows", [], [], 0
        total = len(rows)
        if total > SAMPLE_ROWS:
            _, counted = query(
                dsn, q.SQL("SELECT count(*) FROM ({}) AS offending").format(statement)
            )
            total = int(counted[0][0])
        return (
            False,
            f"the query returned {total} row(s); expected none",
            names,
            [list(r) for r in rows[:SAMPLE_ROWS]],
            total,
        )
    names, rows = query(dsn, statement, limit=2)
    if not rows:
        return (
            False,
            f"the query returned no rows; expected the value {_show(e.equals)}",
            names,
            [],
            1,
        )
    found = rows[0][0]
    if _equal(found, e.equals):
        return True, f"the query returned {_show(found)}", names, [], 0
    return (
        False,
        f"the query returned {_show(found)}; expected {_show(e.equals)}",
        names,
        [list(rows[0])],
        1,
    )


CHECKS = {
    "row_count": _row_count,
    "not_null": _not_null,
    "unique": _unique,
    "accepted_values": _accepted,
    "relationships": _relationships,
    "freshness": _freshness,
    "sql": _custom,
}


def verdict(expectation: Expectation, failures: int) -> str:
    """pass, warn or error, with dbt's semantics of severity, error_if and warn_if."""
    if expectation.severity == "error" and threshold_holds(expectation.error_if, failures):
        return "error"
    if threshold_holds(expectation.warn_if, failures):
        return "warn"
    return "pass"


def evaluate(dsn: Dsn, expectation: Expectation) -> ExpectationResult:
    name = expectation.name or default_name(expectation)
    body = expectation.body
    table = getattr(body, "table", None)
    try:
        ok, message, columns, rows, failures = CHECKS[expectation.kind](dsn, body)
    except DatabaseError as error:  # a broken check is an error whatever its severity
        return ExpectationResult(
            name,
            expectation.kind,
            False,
            f"the check's query failed: {error.message}",
            table=table,
            severity=expectation.severity,
        )
    status = verdict(expectation, failures)
    if status == "pass" and not ok and failures:
        message += f" (within the thresholds: warn_if {expectation.warn_if}, error_if {expectation.error_if})"
    return ExpectationResult(
        name,
        expectation.kind,
        status != "error",
        message,
        columns,
        rows,
        table,
        failures=failures,
        status=status,
        severity=expectation.severity,
    )


def offending_rows_sql(expectation: Expectation) -> q.Composable:
    """Every offending row of an expectation, as one SELECT (for --store-failures)."""
    body = expectation.body
    if isinstance(body, NotNull):
        condition = q.SQL(" OR ").join(
            q.SQL("{} IS NULL").format(q.Identifier(c)) for c in body.columns
        )
        return q.SQL("SELECT * FROM {} WHERE ({}){}").format(
            _table(body.table), condition, _where(body.where, "AND")
        )
    if isinstance(body, Unique):
        cols = q.SQL(", ").join(map(q.Identifier, body.columns))
        return q.SQL(
            "SELECT {cols}, count(*) AS copies FROM {table}{where} GROUP BY {cols} HAVING count(*) > 1"
        ).format(cols=cols, table=_table(body.table), where=_where(body.where))
    if isinstance(body, AcceptedValues):
        values = q.SQL(", ").join(q.Literal(v) for v in body.values)
        return q.SQL(
            "SELECT * FROM {table} WHERE {col} IS NOT NULL AND {col} NOT IN ({values}){where}"
        ).format(
            col=q.Identifier(body.column),
            table=_table(body.table),
            values=values,
            where=_where(body.where, "AND"),
        )
    if isinstance(body, Relationships):
        parent_table, _, parent_column = body.to.rpartition(".")
        return q.SQL(
            "SELECT c.* FROM {child} AS c WHERE c.{col} IS NOT NULL{where}"
            " AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE p.{pcol} = c.{col})"
        ).format(
            col=q.Identifier(body.column),
            child=_table(body.table),
            where=_where(body.where, "AND"),
            parent=_table(parent_table),
            pcol=q.Identifier(parent_column),
        )
    if isinstance(body, RowCount):
        return q.SQL("SELECT count(*) AS row_count FROM {}{}").format(
            _table(body.table), _where(body.where)
        )
    if isinstance(body, Freshness):
        return q.SQL("SELECT max({c}) AS newest, now() - max({c}) AS age FROM {t}").format(
            c=q.Identifier(body.column), t=_table(body.table)
        )
    assert isinstance(body, CustomSql)
    return q.SQL(body.query.strip().rstrip(";"))


def tables_of(expectations: list[Expectation]) -> list[str]:
    tables: list[str] = []
    for expectation in expectations:
        body = expectation.body
        for name in (
            getattr(body, "table", None),
            getattr(body, "to", "").rpartition(".")[0] if isinstance(body, Relationships) else None,
        ):
            if name and name not in tables:
                tables.append(name)
    return tables
