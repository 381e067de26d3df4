"""`range:`: statistics of a column (min, max, mean, share of NULL) and the row count within
bounds, the row count relative to another relation, and each of them against the previous
passing runs (`change_vs_previous`, from the run history). Also the history bound of
`row_count`. The SELECT measures one row; the judge counts each bound that does not hold."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from tinyctl.data.test_etl.expectations import CHECKS, Judged, MeasuredCheck
from tinyctl.db import sql as q
from tinyctl.spec.models import Range, RowCount, change_share, condition_holds

# (metric, n previous values) -> the metric's values in the previous passing runs, newest first
Previous = Callable[[str, int], list[float]]
STATS = ("min", "max", "mean", "null_share")


def _table(name: str) -> q.Composable:
    return q.Identifier(*name.split("."))


def _where(where: str | None) -> q.Composable:
    return q.SQL(f" WHERE ({where})") if where else q.SQL("")  # the spec's own SQL


def measure_sql(body: Range) -> q.Composable:
    picks = [q.SQL("count(*) AS row_count")]
    if body.column:
        c = q.Identifier(body.column)
        if body.min is not None:
            picks.append(q.SQL("min({})::float8 AS min").format(c))
        if body.max is not None:
            picks.append(q.SQL("max({})::float8 AS max").format(c))
        if body.mean is not None:
            picks.append(q.SQL("avg({})::float8 AS mean").format(c))
        picks.append(
            q.SQL("(count(*) - count({}))::float8 / nullif(count(*), 0) AS null_share").format(c)
        )
    if body.row_count is not None:
        other = body.row_count
        picks.append(
            q.SQL("(SELECT count(*) FROM {}{}) AS other_rows").format(
                _table(other.relative_to), _where(other.where)
            )
        )
    return q.SQL("SELECT {} FROM {}{}").format(
        q.SQL(", ").join(picks), _table(body.table), _where(body.where)
    )


def _shown(value: float | None) -> str:
    if value is None:
        return "NULL"
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def history_problem(metric: str, value: float, bound: str, previous: list[float]) -> str | None:
    """Why `value` is too far from the median of `previous` (None: within, or no history)."""
    if not previous:
        return None
    median = statistics.median(previous)
    share = change_share(bound)
    if median == 0:
        change = 0.0 if value == 0 else float("inf")
    else:
        change = abs(value - median) / abs(median)
    if change <= share + 1e-12:
        return None
    return (
        f"{metric} {_shown(value)} is {change:.0%} away from the median {_shown(median)} of the "
        f"last {len(previous)} passing run(s) (bound {bound.strip()})"
    )


def judge_range(
    body: Range, names: list[str], row: list[Any] | None, previous: Previous
) -> tuple[list[str], dict[str, float]]:
    """(the bounds that do not hold, the measured values)."""
    measured = dict(zip(names, row or [], strict=False))
    metrics: dict[str, float] = {"row_count": float(measured.get("row_count") or 0)}
    problems: list[str] = []
    for stat in STATS:
        bound = getattr(body, stat)
        if stat not in measured:
            continue
        value = measured[stat]
        if value is not None:
            metrics[stat] = float(value)
        if bound is None:
            continue
        if value is None:
            problems.append(f"{stat} of {body.column} is NULL (no value); bound {bound}")
        elif not condition_holds(bound, float(value)):
            problems.append(f"{stat} of {body.column} is {_shown(value)}; bound {bound}")
    if body.row_count is not None:
        other = int(measured.get("other_rows") or 0)
        ratio = metrics["row_count"] / other if other else float("inf")
        metrics["ratio"] = ratio
        if not condition_holds(body.row_count.ratio, ratio):
            problems.append(
                f"{int(metrics['row_count'])} row(s) are {ratio:.4g} of the {other} of "
                f"{body.row_count.relative_to}; bound {body.row_count.ratio}"
            )
    if body.change_vs_previous:
        bounded = ["row_count"] + [s for s in STATS if getattr(body, s) is not None]
        for metric in bounded:
            if metric in metrics:
                why = history_problem(
                    metric,
                    metrics[metric],
                    body.change_vs_previous,
                    previous(metric, body.previous_runs),
                )
                if why:
                    problems.append(why)
    return problems, metrics


def check(body: Range, previous: Previous) -> MeasuredCheck:
    details: dict[str, Any] = {}

    def judge(names: list[str], row: list[Any] | None) -> Judged:
        problems, metrics = judge_range(body, names, row, previous)
        details["metrics"] = metrics
        what = f"{body.table}.{body.column}" if body.column else body.table
        if problems:
            return len(problems), f"{what}: " + "; ".join(problems), names, [row] if row else []
        shown = ", ".join(f"{k} {_shown(v)}" for k, v in metrics.items())
        history = _history_note(body.change_vs_previous, previous, body.previous_runs)
        return 0, f"{what} within bounds ({shown}){history}", [], []

    return MeasuredCheck(measure_sql(body), judge, details=details)


def _history_note(bound: str | None, previous: Previous, n: int) -> str:
    if bound and not previous("row_count", n):
        return "; no previous passing run to compare with yet"
    return ""


def row_count_check(body: RowCount, previous: Previous) -> MeasuredCheck:
    """`row_count` with `change_vs_previous`: its own bounds, then the history's."""
    inner = CHECKS["row_count"](body)
    details: dict[str, Any] = {}

    def judge(names: list[str], row: list[Any] | None) -> Judged:
        count = int(row[0]) if row else 0
        details["metrics"] = {"row_count": float(count)}
        static = body.equals is not None or body.min is not None or body.max is not None
        failures, message, columns, rows = inner.judge(names, row) if static else (0, "", [], [])
        if not static:
            where = f" where {body.where}" if body.where else ""
            message = f"{body.table}{where} has {count} row(s)"
        assert body.change_vs_previous is not None
        history = previous("row_count", body.previous_runs)
        why = history_problem("row_count", float(count), body.change_vs_previous, history)
        if why:
            return failures + 1, f"{message}; {why}", names, [row] if row else []
        if not history:
            message += "; no previous passing run to compare with yet"
        return failures, message, columns, rows

    return MeasuredCheck(inner.select, judge, details=details)
