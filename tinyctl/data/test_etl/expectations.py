"""Expectations on the warehouse, each turned into one SELECT of the offending rows.

Every check returns an `ExpectationResult` with a message that names what was expected and
what was found, plus a few offending rows (never thousands).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tinyctl.db import DatabaseError, Dsn, Session, query, session
from tinyctl.db import sql as q
from tinyctl.spec.models import (
    AcceptedValues,
    ColumnsContract,
    CustomSql,
    Expectation,
    ExpectedRows,
    Freshness,
    NotNull,
    Range,
    Reconcile,
    Relationships,
    RowCount,
    Unique,
    parse_duration,
    threshold_holds,
)

SAMPLE_ROWS = 5
READ_ONLY_VIOLATION = "25006"  # SQLSTATE read_only_sql_transaction
WRITES = "it changes data, and checks run in a read-only session"


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
    details: dict[str, Any] = field(default_factory=dict)  # a diff, measured values (history)
    seconds: float = 0.0  # how long the check took

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
            "seconds": round(self.seconds, 3),
            **({"details": self.details} if self.details else {}),
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
        if body.change_vs_previous:
            bound = f"{bound} change {body.change_vs_previous.strip()}".strip()
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
    if isinstance(body, ExpectedRows):
        return f"expected({body.table or 'query'} = {body.file or 'inline rows'})"
    if isinstance(body, ColumnsContract):
        return f"columns({body.table}, {body.mode.replace('_', ' ')})"
    if isinstance(body, Reconcile):
        return f"reconcile({body.source} -> {body.to})"
    if isinstance(body, Range):
        return f"range({body.table}{'.' + body.column if body.column else ''})"
    return kind


# Each kind is one SELECT (dbt's `main_sql`): counted for the verdict, sampled for the console
# and stored whole for --store-failures. A row check's SELECT returns its offending rows (none
# when it holds); a measured check's SELECT returns one measured row, which fails (counting 1)
# when outside its bound.
OFFENDING = q.Identifier("tinyctl_offending")  # the CTE every wrapper reads the SELECT through
EVERY_ROW = q.SQL("SELECT * FROM {}").format(OFFENDING)


@dataclass(frozen=True)
class RowCheck:
    """Its failures are its offending rows, counted (dbt's default `fail_calc`, count(*))."""

    select: q.Composable  # every offending row
    describe: Callable[[int, list[list[Any]]], str]  # failures, sample -> the message
    sample: q.Composable | None = None  # what the console shows of them (None: the rows)
    setup: Setup | None = None  # loads the temporary tables the SELECT reads
    limit: int = SAMPLE_ROWS  # rows of the sample
    details: dict[str, Any] = field(default_factory=dict)  # filled by describe (reports)


Judged = tuple[int, str, list[str], list[list[Any]]]  # failures, message, columns, rows shown
Setup = Callable[[Session], None]  # runs in the check's session before its SELECT


@dataclass(frozen=True)
class MeasuredCheck:
    select: q.Composable  # one row: what is measured
    judge: Callable[[list[str], list[Any] | None], Judged]  # columns, the row (None: no row)
    setup: Setup | None = None  # loads the temporary tables the SELECT reads
    details: dict[str, Any] = field(default_factory=dict)  # filled by judge (history, reports)


Check = RowCheck | MeasuredCheck


def _over(check: Check, statement: q.Composable) -> q.Composable:
    """`statement` reading the check's SELECT as OFFENDING (a CTE, not a subquery: a query
    that changes data is refused as read-only rather than as bad syntax)."""
    return q.SQL("WITH {} AS ({}) ").format(OFFENDING, check.select) + statement


def _run(dsn: Dsn, check: Check) -> Judged:
    """The check's queries; in one session after its setup when it loads temporary tables."""
    if check.setup is None:
        return _ask(lambda statement: query(dsn, statement), check)
    with session(dsn) as s:
        check.setup(s)
        return _ask(s.query, check)


def _ask(ask: Callable[[q.Composable], tuple[list[str], list[Any]]], check: Check) -> Judged:
    """Count the offending rows, then sample them; or read and judge the measured row."""
    if isinstance(check, MeasuredCheck):
        names, rows = ask(_over(check, q.SQL("SELECT * FROM {} LIMIT 1").format(OFFENDING)))
        return check.judge(names, list(rows[0]) if rows else None)
    _, rows = ask(_over(check, q.SQL("SELECT count(*) FROM {}").format(OFFENDING)))
    failures = int(rows[0][0])
    if not failures:
        return 0, check.describe(0, []), [], []
    limit = q.SQL(" LIMIT {}").format(q.Literal(check.limit))
    names, sample = ask(_over(check, (check.sample or EVERY_ROW) + limit))
    shown = [list(r) for r in sample]
    return failures, check.describe(failures, shown), names, shown


def _row_count(e: RowCount) -> MeasuredCheck:
    def judge(_names: list[str], row: list[Any] | None) -> Judged:
        count = int(row[0]) if row else 0
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
        where = f" where {e.where}" if e.where else ""
        return int(not ok), f"{e.table}{where} has {count} row(s); expected {expected}", [], []

    select = q.SQL("SELECT count(*) AS row_count FROM {}{}")
    return MeasuredCheck(select.format(_table(e.table), _where(e.where)), judge)


def _not_null(e: NotNull) -> RowCheck:
    condition = q.SQL(" OR ").join(q.SQL("{} IS NULL").format(q.Identifier(c)) for c in e.columns)
    columns = ", ".join(e.columns)
    return RowCheck(
        q.SQL("SELECT * FROM {} WHERE ({}){}").format(
            _table(e.table), condition, _where(e.where, "AND")
        ),
        lambda bad, _rows: (
            f"{bad} row(s) of {e.table} have NULL in {columns}" if bad else f"no NULL in {columns}"
        ),
    )


def _unique(e: Unique) -> RowCheck:
    """The offending rows are the duplicated values, each with its number of copies."""
    cols = q.SQL(", ").join(map(q.Identifier, e.columns))
    label = ", ".join(e.columns)
    return RowCheck(
        q.SQL(
            "SELECT {cols}, count(*) AS copies FROM {table}{where} GROUP BY {cols} HAVING count(*) > 1"
        ).format(cols=cols, table=_table(e.table), where=_where(e.where)),
        lambda bad, _rows: (
            f"{bad} value(s) of ({label}) appear more than once in {e.table}"
            if bad
            else f"({label}) is unique"
        ),
        sample=q.SQL("SELECT * FROM {} ORDER BY copies DESC").format(OFFENDING),
    )


def _by_value(column: str) -> q.Composable:
    """A sample of offending rows as each offending value and its number of rows, most first."""
    return q.SQL(
        "SELECT {col} AS value, count(*) AS rows FROM {o} GROUP BY {col} ORDER BY rows DESC"
    ).format(col=q.Identifier(column), o=OFFENDING)


def _accepted(e: AcceptedValues) -> RowCheck:
    # Typed literals: Postgres compares them with the column's own type (booleans, numerics, dates).
    values = q.SQL(", ").join(q.Literal(v) for v in e.values)

    def describe(total: int, rows: list[list[Any]]) -> str:
        if not total:
            return f"every {e.column} is one of {', '.join(map(_show, e.values))}"
        shown = ", ".join(_show(r[0]) for r in rows)
        return f"{total} row(s) of {e.table} have {e.column} outside the accepted values: {shown}"

    return RowCheck(
        q.SQL(
            "SELECT * FROM {table} WHERE {col} IS NOT NULL AND {col} NOT IN ({values}){where}"
        ).format(
            col=q.Identifier(e.column),
            table=_table(e.table),
            values=values,
            where=_where(e.where, "AND"),
        ),
        describe,
        sample=_by_value(e.column),
    )


def _relationships(e: Relationships) -> RowCheck:
    parent_table, _, parent_column = e.to.rpartition(".")
    return RowCheck(
        q.SQL(
            "SELECT c.* FROM {child} AS c WHERE c.{col} IS NOT NULL{where}"
            " AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE p.{pcol} = c.{col})"
        ).format(
            col=q.Identifier(e.column),
            child=_table(e.table),
            where=_where(e.where, "AND"),
            parent=_table(parent_table),
            pcol=q.Identifier(parent_column),
        ),
        lambda total, _rows: (
            f"{total} row(s) of {e.table} have a {e.column} not found in {e.to}"
            if total
            else f"every {e.table}.{e.column} is found in {e.to}"
        ),
        sample=_by_value(e.column),
    )


def _freshness(e: Freshness) -> MeasuredCheck:
    limit = timedelta(seconds=parse_duration(e.max_age))

    def judge(_names: list[str], row: list[Any] | None) -> Judged:
        newest, age = row if row else (None, None)
        if newest is None:
            return 1, f"{e.table} has no {e.column} at all (no rows)", [], []
        if isinstance(age, timedelta) and age <= limit:
            return 0, f"newest {e.column} is {_human(age)} old (limit {e.max_age})", [], []
        shown = _human(age) if isinstance(age, timedelta) else age
        message = f"newest {e.column} in {e.table} is {shown} old; limit is {e.max_age}"
        return 1, message, ["newest"], [[newest]]

    select = q.SQL("SELECT max({c}) AS newest, now() - max({c}) AS age FROM {t}")
    return MeasuredCheck(select.format(c=q.Identifier(e.column), t=_table(e.table)), judge)


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


def _custom(e: CustomSql) -> Check:
    """The query's rows offend; with `equals`, its first value is measured instead."""
    select = q.SQL(e.query.strip().rstrip(";"))
    if e.equals is None:
        return RowCheck(
            select,
            lambda total, _rows: (
                f"the query returned {total} row(s); expected none"
                if total
                else "the query returned no rows"
            ),
        )

    def judge(names: list[str], row: list[Any] | None) -> Judged:
        if row is None:
            return 1, f"the query returned no rows; expected the value {_show(e.equals)}", names, []
        if _equal(row[0], e.equals):
            return 0, f"the query returned {_show(row[0])}", names, []
        return 1, f"the query returned {_show(row[0])}; expected {_show(e.equals)}", names, [row]

    return MeasuredCheck(select, judge)


CHECKS: dict[str, Callable[[Any], Check]] = {
    "row_count": _row_count,
    "not_null": _not_null,
    "unique": _unique,
    "accepted_values": _accepted,
    "relationships": _relationships,
    "freshness": _freshness,
    "sql": _custom,
}


def check_of(expectation: Expectation) -> Check:
    """The expectation as its one SELECT (and how to read what it returns)."""
    return CHECKS[expectation.kind](expectation.body)


def verdict(expectation: Expectation, failures: int) -> str:
    """pass, warn or error, with dbt's semantics of severity, error_if and warn_if."""
    if expectation.severity == "error" and threshold_holds(expectation.error_if, failures):
        return "error"
    if threshold_holds(expectation.warn_if, failures):
        return "warn"
    return "pass"


def evaluate(dsn: Dsn, expectation: Expectation, check: Check | None = None) -> ExpectationResult:
    """The expectation's verdict; `check`: its SELECT when built elsewhere (test_etl.kinds)."""
    name = expectation.name or default_name(expectation)
    table = getattr(expectation.body, "table", None)
    check = check or check_of(expectation)
    try:
        failures, message, columns, rows = _run(dsn, check)
    except DatabaseError as error:  # a broken check is an error whatever its severity
        # Postgres names the wrapping SELECT, not the user's DELETE: say what happened instead.
        why = WRITES if error.sqlstate == READ_ONLY_VIOLATION else error.message
        return ExpectationResult(
            name,
            expectation.kind,
            False,
            f"the check's query failed: {why}",
            table=table,
            severity=expectation.severity,
        )
    status = verdict(expectation, failures)
    if status == "pass" and failures:
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
        details=check.details,
    )


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
