"""`expected:`: a table or query compared with expected rows, in the database.

The expected rows (a CSV file next to the spec, or inline rows) are COPYed into a temporary
table typed like the compared relation's columns, so every value is read as Postgres casts it
to that column's type. The diff is then ONE SELECT over a FULL JOIN on the key (or EXCEPT ALL
both ways without a key), materialised once in a temporary table: counted for the verdict,
sampled (the first N of each kind, with the count of each kind) and stored by --store-failures.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tinyctl.data.test_etl.expectations import RowCheck
from tinyctl.db import DatabaseError, Dsn, Session, session
from tinyctl.db import sql as q
from tinyctl.spec.models import Expectation, ExpectedRows, tolerance_of
from tinyctl.state.fsutil import write_atomic

EXPECTED = "tinyctl_expected"  # the temporary table of the expected rows
DIFF = "tinyctl_diff"  # the temporary table of the differences
SAMPLE = "tinyctl_diff_sample"  # ... and of the first of each kind
KINDS = ("missing", "unexpected", "changed")
NUMERIC = "N"  # pg_type.typcategory of numeric types
UNIQUE_VIOLATION = "23505"  # SQLSTATE of a unique index that a duplicate refuses
NULLS_NOT_DISTINCT = 150000  # the first server version with UNIQUE ... NULLS NOT DISTINCT


@dataclass(frozen=True)
class ExpectedSource:
    """Where the expected rows come from: their header and a way to stream them as CSV."""

    label: str  # the file (relative to the spec) or "inline rows"
    header: list[str]
    open: Callable[[], IO[bytes]]


def source_of(body: ExpectedRows, root: Path) -> ExpectedSource:
    """The expected rows of `body`; raises DatabaseError when the file cannot be read."""
    if body.rows is not None:
        header = list(body.rows[0])
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        for row in body.rows:
            writer.writerow([_csv_value(row[c], body.null_text) for c in header])
        data = text.getvalue().encode()
        return ExpectedSource("inline rows", header, lambda: io.BytesIO(data))
    assert body.file is not None
    path = root / body.file
    return ExpectedSource(body.file, read_header(path), lambda: path.open("rb"))


def _csv_value(value: Any, null_text: str) -> str:
    if value is None:
        return null_text
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatabaseError(f"the expected file {path.name} cannot be read: {error}") from None
    if not header:
        raise DatabaseError(f"the expected file {path.name} is empty (it needs a header line)")
    return [c.strip() for c in header]


def relation_sql(body: ExpectedRows) -> q.Composable:
    """The compared relation as a SELECT."""
    if body.query is not None:
        return q.SQL(body.query.strip().rstrip(";"))  # the spec's own SQL, written by its owner
    assert body.table is not None
    where = q.SQL(f" WHERE ({body.where})") if body.where else q.SQL("")
    return q.SQL("SELECT * FROM {}").format(q.Identifier(*body.table.split("."))) + where


def _name(body: ExpectedRows) -> str:
    return body.table or "the query"


@dataclass(frozen=True)
class Plan:
    """What a comparison compares, once the relation's columns are known."""

    key: list[str]
    values: list[str]  # compared columns that are not the key
    tolerances: dict[str, tuple[str, float]]  # column -> (absolute|relative, amount)
    # The key in the column order of a btree index of the compared table that starts with it
    # (None: no such index, or not a plain table): both sides can then be read in key order.
    index_order: list[str] | None = None

    @property
    def columns(self) -> list[str]:
        return self.key + self.values


def _plan(s: Session, body: ExpectedRows, source: ExpectedSource) -> Plan:
    """Load the expected rows into EXPECTED and decide what is compared; a mismatch between
    the file, the spec and the relation raises DatabaseError naming it."""
    relation = relation_sql(body)
    actual, _ = s.query(q.SQL("SELECT * FROM ({}) AS tinyctl_actual LIMIT 0").format(relation))
    compared = body.columns or source.header
    for where, names in ((source.label, source.header), (_name(body), actual)):
        missing = [c for c in compared if c not in names]
        if missing:
            raise DatabaseError(
                f"column(s) {', '.join(missing)} compared but not in {where} "
                f"(its columns: {', '.join(names)})"
            )
    picks = [
        q.SQL("a.{c}").format(c=q.Identifier(c))
        if c in actual
        else q.SQL("NULL::text AS {c}").format(c=q.Identifier(c))
        for c in source.header
    ]
    s.execute(
        q.SQL("CREATE TEMP TABLE {t} AS SELECT {cols} FROM ({rel}) AS a WITH NO DATA").format(
            t=q.Identifier(EXPECTED), cols=q.SQL(", ").join(picks), rel=relation
        )
    )
    with source.open() as stream:
        try:
            s.copy_csv(EXPECTED, source.header, stream, null=body.null_text)
        except DatabaseError as error:
            where = f" line {error.line}" if error.line else ""
            column = f", column {error.column}" if error.column else ""
            raise DatabaseError(
                f"{source.label}{where}{column}: {error.message} (values are read as the "
                f"types of {_name(body)}'s columns)"
            ) from None
    key = list(body.key or [])
    plan = Plan(
        key,
        [c for c in compared if c not in key],
        _tolerances(s, body, compared),
        _index_order(s, body, key),
    )
    if key:
        _unique_key(s, plan, source)
    else:  # the index build records the row count; without a key, ANALYZE does
        s.execute(q.SQL("ANALYZE {}").format(q.Identifier(EXPECTED)))
    return plan


def _tolerances(
    s: Session, body: ExpectedRows, compared: list[str]
) -> dict[str, tuple[str, float]]:
    _, rows = s.query(
        "SELECT a.attname, t.typcategory FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (f"pg_temp.{EXPECTED}",),
    )
    category = dict(rows)
    if body.tolerance is None:
        return {}
    if isinstance(body.tolerance, dict):
        wanted = body.tolerance
        for column in wanted:
            if column not in compared:
                raise DatabaseError(f"tolerance on {column}, which is not compared")
            if category.get(column) != NUMERIC:
                raise DatabaseError(
                    f"tolerance on {column}, which is not a number in {_name(body)}: "
                    "a tolerance applies to numeric columns only"
                )
        return {c: tolerance_of(t) for c, t in wanted.items()}
    every = tolerance_of(body.tolerance)
    return {c: every for c in compared if category.get(c) == NUMERIC and c not in (body.key or [])}


def _index_order(s: Session, body: ExpectedRows, key: list[str]) -> list[str] | None:
    """The key columns in the order of a valid, whole btree index of the compared table whose
    leading columns are exactly the key (its primary key, usually); None without one, for a
    query, or with a `where` (a filter may leave few rows, which a hash join suits better)."""
    if not key or body.table is None or body.where:
        return None
    _, rows = s.query(
        "SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam"
        " CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE i.indrelid = to_regclass(%s) AND i.indisvalid AND i.indpred IS NULL"
        " AND am.amname = 'btree' AND k.n <= %s"
        " GROUP BY i.indexrelid ORDER BY i.indexrelid",
        (_quoted(body.table), len(key)),
    )
    for (columns,) in rows:
        if len(columns) == len(key) and set(columns) == set(key):
            return list(columns)
    return None


def _quoted(table: str) -> str:
    """`schema.table` as to_regclass reads it, each part quoted (its case kept)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in table.split("."))


def _unique_key(s: Session, plan: Plan, source: ExpectedSource) -> None:
    """The key is unique in the expected rows, NULL equal to NULL (as GROUP BY sees them).

    A unique index on the key says so in one sort of the key columns (about a quarter of the
    time of a GROUP BY over every row), records the row count for the planner, and lets the
    diff's join read the expected rows in key order. Only when it fails does a GROUP BY name
    the first duplicate. Before PostgreSQL 15 (no NULLS NOT DISTINCT) the rows with a NULL in
    the key are grouped on their own."""
    keys = q.SQL(", ").join(map(q.Identifier, plan.index_order or plan.key))
    nulls_equal = s.server_version >= NULLS_NOT_DISTINCT
    s.execute("SAVEPOINT tinyctl_key")
    try:
        s.execute(
            q.SQL("CREATE UNIQUE INDEX ON {t} ({k}){n}").format(
                t=q.Identifier(EXPECTED),
                k=keys,
                n=q.SQL(" NULLS NOT DISTINCT" if nulls_equal else ""),
            )
        )
    except DatabaseError as error:
        if error.sqlstate != UNIQUE_VIOLATION:
            raise
        s.execute("ROLLBACK TO SAVEPOINT tinyctl_key")
        _duplicate(s, plan, source, q.SQL(""))
        raise  # not reached: the GROUP BY finds the duplicate the index refused
    s.execute("RELEASE SAVEPOINT tinyctl_key")
    if not nulls_equal:
        with_null = q.SQL(" OR ").join(
            q.SQL("{} IS NULL").format(q.Identifier(k)) for k in plan.key
        )
        _duplicate(s, plan, source, q.SQL(" WHERE ") + with_null)


def _duplicate(s: Session, plan: Plan, source: ExpectedSource, where: q.Composable) -> None:
    """Raise naming the most repeated key of the expected rows (of those `where` picks)."""
    keys = q.SQL(", ").join(map(q.Identifier, plan.key))
    _, rows = s.query(
        q.SQL(
            "SELECT {k}, count(*) FROM {t}{w} GROUP BY {k} HAVING count(*) > 1"
            " ORDER BY count(*) DESC LIMIT 1"
        ).format(k=keys, t=q.Identifier(EXPECTED), w=where)
    )
    if rows:
        *values, copies = rows[0]
        shown = ", ".join(f"{c}={_text(v)}" for c, v in zip(plan.key, values, strict=True))
        raise DatabaseError(
            f"the key ({', '.join(plan.key)}) is not unique in {source.label}: {shown} appears {copies} times"
        )


def _text(value: Any) -> str:
    return "NULL" if value is None else str(value)


def _same(
    column: str, tolerance: tuple[str, float] | None, e: str = "e", a: str = "a"
) -> q.Composable:
    """<e>.<column> equals <a>.<column>: NULL equals NULL; numbers within the tolerance.
    `e` and `a` name the expected and actual sides: e.g. `d.total` and `d.total__actual`."""
    x = q.SQL("{}.{}").format(q.Identifier(e), q.Identifier(column))
    y = q.SQL("{}.{}").format(
        q.Identifier(a), q.Identifier(column if a != e else f"{column}__actual")
    )
    if tolerance is None:
        return q.SQL("{x} IS NOT DISTINCT FROM {y}").format(x=x, y=y)
    how, amount = tolerance
    bound: q.Composable = q.Literal(amount)
    if how == "relative":
        bound = q.SQL("{} * abs({})").format(bound, x)
    return q.SQL(
        "(({x} IS NULL AND {y} IS NULL) OR coalesce(abs({x} - {y}) <= {b}, false))"
    ).format(x=x, y=y, b=bound)


def diff_sql(body: ExpectedRows, plan: Plan) -> q.Composable:
    """Every difference, one row each: `diff` (missing | unexpected | changed), then the key
    and each compared column's expected value and actual value (`<column>__actual`)."""
    relation = relation_sql(body)
    expected = q.Identifier(EXPECTED)
    cols = q.SQL(", ").join(map(q.Identifier, plan.columns))
    if not plan.key:  # a multiset: every row once per copy
        return q.SQL(
            "SELECT 'missing'::text AS diff, * FROM (SELECT {c} FROM {e} EXCEPT ALL"
            " SELECT {c} FROM ({r}) AS r) AS m UNION ALL"
            " SELECT 'unexpected'::text AS diff, * FROM (SELECT {c} FROM ({r}) AS r EXCEPT ALL"
            " SELECT {c} FROM {e}) AS u"
        ).format(c=cols, e=expected, r=relation)
    join = q.SQL(" AND ").join(q.SQL("e.{k} = a.{k}").format(k=q.Identifier(k)) for k in plan.key)
    same = q.SQL(" AND ").join(_same(c, plan.tolerances.get(c)) for c in plan.values)
    picked = [q.SQL("coalesce(e.{k}, a.{k}) AS {k}").format(k=q.Identifier(k)) for k in plan.key]
    for c in plan.values:
        picked.append(q.SQL("e.{c} AS {c}").format(c=q.Identifier(c)))
        picked.append(
            q.SQL("a.{c} AS {a}").format(c=q.Identifier(c), a=q.Identifier(f"{c}__actual"))
        )
    return q.SQL(
        "SELECT CASE WHEN a.tinyctl_row IS NULL THEN 'missing' WHEN e.tinyctl_row IS NULL"
        " THEN 'unexpected' ELSE 'changed' END AS diff, {picked}"
        " FROM (SELECT {c}, true AS tinyctl_row FROM {e}) AS e"
        " FULL JOIN (SELECT {c}, true AS tinyctl_row FROM ({r}) AS r) AS a ON {join}"
        " WHERE a.tinyctl_row IS NULL OR e.tinyctl_row IS NULL{changed}"
    ).format(
        picked=q.SQL(", ").join(picked),
        c=cols,
        e=expected,
        r=relation,
        join=join,
        changed=q.SQL(" OR NOT ({})").format(same) if plan.values else q.SQL(""),
    )


def _shown(value: q.Composable) -> q.Composable:
    return q.SQL("coalesce(({})::text, 'NULL')").format(value)


def _cell_text(plan: Plan) -> q.Composable:
    """What a person reads of a stored difference `d`: the changed cells (`column: expected ->
    actual`) of a changed row, every value of a missing or unexpected one."""

    def values(columns: list[str], suffix: str = "") -> q.Composable:
        return q.SQL("concat_ws(', ', {})").format(
            q.SQL(", ").join(
                q.SQL("{} || '=' || {}").format(
                    q.Literal(c), _shown(q.SQL("d.{}").format(q.Identifier(c + suffix)))
                )
                for c in columns
            )
        )

    if not plan.key:
        return values(plan.columns)
    if not plan.values:
        return q.SQL("''")
    changed = q.SQL("concat_ws('; ', {})").format(
        q.SQL(", ").join(
            q.SQL("CASE WHEN NOT ({same}) THEN {name} || ': ' || {e} || ' -> ' || {a} END").format(
                same=_same(c, plan.tolerances.get(c), "d", "d"),
                name=q.Literal(c),
                e=_shown(q.SQL("d.{}").format(q.Identifier(c))),
                a=_shown(q.SQL("d.{}").format(q.Identifier(f"{c}__actual"))),
            )
            for c in plan.values
        )
    )
    return q.SQL(
        "CASE d.diff WHEN 'changed' THEN {changed} WHEN 'missing' THEN {missing} ELSE {unexpected} END"
    ).format(
        changed=changed, missing=values(plan.values), unexpected=values(plan.values, "__actual")
    )


def sample_sql(plan: Plan, show: int) -> q.Composable:
    """The first `show` differences of each kind (by key), each with its kind's count."""
    keys = plan.key
    return q.SQL(
        "SELECT diff{keys}, cells, of_kind FROM (SELECT d.diff{dkeys}, {cells} AS cells,"
        " row_number() OVER (PARTITION BY d.diff ORDER BY {dorder}) AS n,"
        " count(*) OVER (PARTITION BY d.diff) AS of_kind FROM {d} AS d) AS s"
        " WHERE n <= {show} ORDER BY array_position({kinds}, diff), n"
    ).format(
        keys=q.SQL("").join(q.SQL(", {}").format(q.Identifier(k)) for k in keys),
        dkeys=q.SQL("").join(q.SQL(", d.{}").format(q.Identifier(k)) for k in keys),
        cells=_cell_text(plan),
        dorder=q.SQL(", ").join(q.SQL("d.{}").format(q.Identifier(c)) for c in plan.columns),
        d=q.Identifier(DIFF),
        show=q.Literal(show),
        kinds=q.Literal(list(KINDS)),
    )


def check(body: ExpectedRows, root: Path) -> RowCheck:
    """The comparison as a RowCheck: its setup loads the expected rows, then stores the
    differences and their sample in temporary tables its SELECTs read."""
    planned: dict[str, Plan] = {}
    details: dict[str, Any] = {}

    def setup(s: Session) -> None:
        plan = planned["plan"] = _plan(s, body, source_of(body, root))
        # Both sides indexed on the key: a merge join reads them side by side in key order.
        # The planner prices it above hashing one side (0.75 s against 1.4 s measured on
        # 1,000,000 rows, bench/bench_expected.py), so hash joins are off for this statement.
        merge = plan.index_order is not None
        if merge:
            s.execute("SET LOCAL enable_hashjoin = off")
        s.execute(
            q.SQL("CREATE TEMP TABLE {} AS ").format(q.Identifier(DIFF)) + diff_sql(body, plan)
        )
        if merge:
            s.execute("SET LOCAL enable_hashjoin = on")
        s.execute(
            q.SQL("CREATE TEMP TABLE {} AS ").format(q.Identifier(SAMPLE))
            + sample_sql(plan, body.show)
        )

    def describe(failures: int, rows: list[list[Any]]) -> str:
        plan = planned["plan"]
        details.update(_details(plan, rows, failures))
        if not failures:
            return f"{_name(body)} matches the {_label(body)}{_within(plan)}"
        return _message(body, plan, details)

    return RowCheck(
        q.SQL("SELECT * FROM {}").format(q.Identifier(DIFF)),
        describe,
        sample=q.SQL("SELECT * FROM {}").format(q.Identifier(SAMPLE)),
        setup=setup,
        limit=body.show * len(KINDS),
        details=details,
    )


def _label(body: ExpectedRows) -> str:
    return "inline expected rows" if body.rows is not None else f"expected rows of {body.file}"


def _within(plan: Plan) -> str:
    if not plan.tolerances:
        return ""
    shown = ", ".join(
        f"{c} ±{a * 100:g}%" if how == "relative" else f"{c} ±{a:g}"
        for c, (how, a) in plan.tolerances.items()
    )
    return f" (within {shown})"


def _details(plan: Plan, rows: list[list[Any]], failures: int) -> dict[str, Any]:
    """The diff as the reports carry it: per kind its count and its first rows."""
    counts = {kind: 0 for kind in KINDS}
    shown: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for row in rows:
        kind, *keys, cells, of_kind = row
        counts[kind] = int(of_kind)
        entry: dict[str, Any] = {"cells": cells}
        if plan.key:
            entry["key"] = {k: _text(v) for k, v in zip(plan.key, keys, strict=True)}
        shown[kind].append(entry)
    return {
        "diff": {
            "key": plan.key,
            "columns": plan.columns,
            "total": failures,
            "counts": counts,
            "rows": shown,
        }
    }


def _message(body: ExpectedRows, plan: Plan, details: dict[str, Any]) -> str:
    diff = details["diff"]
    counts = diff["counts"]
    parts = [f"{counts[k]} {k} row(s)" for k in KINDS if counts[k]]
    # The rows (first of each kind, in the sample) carry the diff itself.
    return f"{_name(body)} differs from the {_label(body)}: {', '.join(parts)}{_within(plan)}"


def diff_lines(details: dict[str, Any]) -> list[str]:
    """The diff as text lines (JUnit, the console's narrow view): each shown difference, then
    how many more of its kind were not shown."""
    diff = details.get("diff")
    if not diff:
        return []
    lines = []
    for kind in KINDS:
        for entry in diff["rows"][kind]:
            key = ", ".join(f"{k}={v}" for k, v in entry.get("key", {}).items())
            lines.append(f"{kind} {key + ': ' if key else ''}{entry['cells']}")
        if diff["counts"][kind] > len(diff["rows"][kind]):
            lines.append(f"... and {diff['counts'][kind] - len(diff['rows'][kind])} more {kind}")
    return lines


def write_expected(s: Session, body: ExpectedRows, root: Path, sink: IO[bytes]) -> int:
    """The relation's current rows as the expected CSV: the file's columns (or every column of
    the relation), sorted by the key then every column, so reruns give the same bytes."""
    relation = relation_sql(body)
    actual, _ = s.query(q.SQL("SELECT * FROM ({}) AS tinyctl_actual LIMIT 0").format(relation))
    path = root / body.file if body.file else None
    columns = body.columns or (read_header(path) if path and path.exists() else actual)
    missing = [c for c in columns if c not in actual]
    if missing:
        raise DatabaseError(f"column(s) {', '.join(missing)} are not in {_name(body)}")
    key = list(body.key or [])
    order = key + [c for c in columns if c not in key]
    statement = q.SQL(
        "COPY (SELECT {cols} FROM ({rel}) AS r ORDER BY {order}) TO STDOUT"
        " (FORMAT csv, HEADER true, NULL {null})"
    ).format(
        cols=q.SQL(", ").join(map(q.Identifier, columns)),
        rel=relation,
        order=q.SQL(", ").join(q.SQL("{} NULLS FIRST").format(q.Identifier(c)) for c in order),
        null=q.Literal(body.null_text),
    )
    return s.copy_out(statement, sink)


def rewrite_files(dsn: Dsn, expectations: list[Expectation], root: Path) -> list[str]:
    """`test-etl --update-expected`: each `expected:` file of `expectations` rewritten from its
    relation's current rows (atomically); the files written. Inline rows stay as written."""
    written = []
    for e in expectations:
        body = e.body
        if not isinstance(body, ExpectedRows) or body.file is None:
            continue
        sink = io.BytesIO()
        with session(dsn) as s:
            write_expected(s, body, root, sink)
        write_atomic(root / body.file, sink.getvalue())
        written.append(body.file)
    return written
