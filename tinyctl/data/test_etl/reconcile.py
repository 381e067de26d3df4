"""`reconcile:`: two relations agree on their row counts, aggregates of columns and distinct
keys, within a tolerance. `from: fixture` is the test's fixture CSV files as one relation.

ONE SELECT of the offending rows: one row per measure outside the tolerance (`row_count`,
`sum(amount)`, ...) with both values, and one per distinct key of `from` not found in `to`
(and, with keys_match: equal, of `to` not found in `from`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinyctl.data.test_etl import fixture
from tinyctl.data.test_etl.expectations import RowCheck
from tinyctl.db import Session
from tinyctl.db import sql as q
from tinyctl.spec.models import Reconcile, tolerance_of

NUMERIC_AGGREGATES = ("sum", "avg", "count", "count_distinct")


def _relation(name: str, where: str | None) -> q.Composable:
    table = q.Identifier(fixture.FIXTURE) if name == "fixture" else q.Identifier(*name.split("."))
    condition = q.SQL(f" WHERE ({where})") if where else q.SQL("")  # the spec's own SQL
    return q.SQL("SELECT * FROM {}").format(table) + condition


def _aggregate(aggregate: str, column: str) -> q.Composable:
    c = q.Identifier(column)
    if aggregate == "count_distinct":
        return q.SQL("count(DISTINCT {})").format(c)
    return q.SQL(f"{aggregate}({{}})").format(c)  # one of AGGREGATES, checked by the model


def _within(body: Reconcile) -> q.Composable:
    """f and t (numeric) are close enough."""
    how, amount = tolerance_of(body.tolerance)
    bound: q.Composable = q.Literal(amount)
    if how == "relative":
        bound = q.SQL("{} * abs(f)").format(bound)
    return q.SQL("coalesce(abs(f - t) <= {}, f IS NULL AND t IS NULL)").format(bound)


def offending_sql(body: Reconcile) -> q.Composable:
    """One row per difference between the two relations (f: from, t: to): a measure out of
    tolerance, an exact measure that differs, a key on one side only."""
    parts = [*_measure_parts(body), *_key_parts(body)]
    return q.SQL("WITH f AS ({f}), t AS ({t}) SELECT * FROM ({parts}) AS d").format(
        f=_relation(body.source, body.from_where),
        t=_relation(body.to, body.to_where),
        parts=q.SQL(" UNION ALL ").join(parts)
        if parts
        else q.SQL(
            "SELECT NULL::text AS what, NULL::text AS key, NULL::text, NULL::text WHERE false"
        ),
    )


def _measure_parts(body: Reconcile) -> list[q.Composable]:
    """The row count and aggregates: numeric ones within the tolerance, min/max exactly."""
    measures: list[q.Composable] = []
    if body.row_count:
        measures.append(
            q.SQL(
                "SELECT 'row_count' AS what, NULL::text AS key, (SELECT count(*) FROM f)::numeric AS f,"
                " (SELECT count(*) FROM t)::numeric AS t"
            )
        )
    exact: list[q.Composable] = []
    for aggregate, column in body.measures:
        numeric = aggregate in NUMERIC_AGGREGATES
        # min/max keep their column's type (a date, a text): compared exactly, as text
        cast = q.SQL("numeric" if numeric else "text")
        (measures if numeric else exact).append(
            q.SQL("SELECT {}, NULL, (SELECT {v} FROM f)::{c}, (SELECT {v} FROM t)::{c}").format(
                q.Literal(f"{aggregate}({column})"), v=_aggregate(aggregate, column), c=cast
            )
        )
    parts = []
    if measures:
        parts.append(
            q.SQL(
                "SELECT what, key, f::text AS from_value, t::text AS to_value FROM ({m}) AS m (what, key, f, t)"
                " WHERE NOT ({within})"
            ).format(m=q.SQL(" UNION ALL ").join(measures), within=_within(body))
        )
    if exact:
        parts.append(
            q.SQL(
                "SELECT what, key, f, t FROM ({m}) AS m (what, key, f, t) WHERE f IS DISTINCT FROM t"
            ).format(m=q.SQL(" UNION ALL ").join(exact))
        )
    return parts


def _key_parts(body: Reconcile) -> list[q.Composable]:
    """The keys of `from` missing in `to` (and back, with `keys_match: equal`)."""
    if not body.keys:
        return []
    keys = q.SQL(", ").join(map(q.Identifier, body.keys))
    shown = q.SQL("concat_ws(', ', {})").format(
        q.SQL(", ").join(
            q.SQL("{} || '=' || coalesce({}::text, 'NULL')").format(q.Literal(k), q.Identifier(k))
            for k in body.keys
        )
    )
    directions = [("key missing in " + body.to, "f", "t")]
    if body.keys_match == "equal":
        directions.append((f"key missing in {body.source}", "t", "f"))
    return [
        q.SQL(
            "SELECT {label}, {shown}, NULL, NULL FROM (SELECT {k} FROM {one} EXCEPT"
            " SELECT {k} FROM {other}) AS k"
        ).format(
            label=q.Literal(label),
            shown=shown,
            k=keys,
            one=q.Identifier(one),
            other=q.Identifier(other),
        )
        for label, one, other in directions
    ]


def check(body: Reconcile, fixtures: list[Path]) -> RowCheck:
    setup = None
    if body.source == "fixture":
        files = fixture.csv_files(fixtures)

        def setup(s: Session) -> None:
            fixture.load(s, files, body.to)

    label = "the fixture files" if body.source == "fixture" else body.source

    def describe(failures: int, rows: list[list[Any]]) -> str:
        if not failures:
            what = ["row count"] * body.row_count + [f"{a}({c})" for a, c in body.measures]
            what += [f"distinct ({', '.join(body.keys)})"] if body.keys else []
            return f"{label} and {body.to} agree on {', '.join(what) or 'nothing asked'}"
        shown = []
        for what, key, f, t in rows:
            shown.append(f"{what}: {key}" if key else f"{what}: {f} in {label}, {t} in {body.to}")
        more = f"; and {failures - len(rows)} more" if failures > len(rows) else ""
        return f"{label} and {body.to} differ: {'; '.join(shown)}{more}"

    return RowCheck(
        offending_sql(body),
        describe,
        sample=None,
        setup=setup,
        limit=10,
    )
