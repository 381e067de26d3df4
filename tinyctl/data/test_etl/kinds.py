"""Every expectation kind as its check: the generic ones (expectations.py) and those that need
the test's context: expected rows and fixture files next to the spec, the run history."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tinyctl.data.test_etl import contract, expected, ranges, reconcile
from tinyctl.data.test_etl.expectations import (
    Check,
    ExpectationResult,
    default_name,
)
from tinyctl.data.test_etl.expectations import (
    check_of as generic_check_of,
)
from tinyctl.data.test_etl.expectations import (
    evaluate as evaluate_check,
)
from tinyctl.data.test_etl.expectations import (
    tables_of as generic_tables_of,
)
from tinyctl.db import Dsn
from tinyctl.spec.models import (
    ColumnsContract,
    Expectation,
    ExpectedRows,
    Range,
    Reconcile,
    RowCount,
)

# (expectation name, metric, n) -> the metric's values in the previous passing runs
History = Callable[[str, str, int], list[float]]


def _no_history(_name: str, _metric: str, _n: int) -> list[float]:
    return []


@dataclass(frozen=True)
class CheckContext:
    """What a test's checks read besides the warehouse."""

    root: Path  # the spec's folder: expected files are relative to it
    fixtures: list[Path] = field(default_factory=list)  # the test's fixture files (resolved)
    previous: History = _no_history


def expand(expectations: list[Expectation]) -> list[Expectation]:
    """The expectations as evaluated: the value ranges of a `columns:` contract become `range`
    expectations of their own, right after it."""
    out: list[Expectation] = []
    for e in expectations:
        out.append(e)
        body = e.body
        if not isinstance(body, ColumnsContract):
            continue
        for column in body.columns:
            spec = body.spec_of(column)
            if spec.ranges:
                bounds = {s: getattr(spec, s) for s in ranges.STATS if getattr(spec, s) is not None}
                out.append(
                    Expectation(
                        name=f"columns({body.table}).{column} range",
                        severity=e.severity,
                        warn_if=e.warn_if,
                        error_if=e.error_if,
                        range=Range(table=body.table, column=column, **bounds),
                    )
                )
    return out


def check_of(expectation: Expectation, context: CheckContext, name: str) -> Check:
    body = expectation.body

    def previous(metric: str, n: int) -> list[float]:
        return context.previous(name, metric, n)

    if isinstance(body, ExpectedRows):
        return expected.check(body, context.root)
    if isinstance(body, ColumnsContract):
        return contract.check(body)
    if isinstance(body, Reconcile):
        return reconcile.check(body, context.fixtures)
    if isinstance(body, Range):
        return ranges.check(body, previous)
    if isinstance(body, RowCount) and body.change_vs_previous:
        return ranges.row_count_check(body, previous)
    return generic_check_of(expectation)


def name_of(expectation: Expectation) -> str:
    return expectation.name or default_name(expectation)


def evaluate(dsn: Dsn, expectation: Expectation, context: CheckContext) -> ExpectationResult:
    """The expectation's verdict, timed."""
    started = time.monotonic()
    result = evaluate_check(dsn, expectation, check_of(expectation, context, name_of(expectation)))
    result.seconds = time.monotonic() - started
    return result


def tables_of(expectations: list[Expectation]) -> list[str]:
    """Every table the expectations read (the row counts the reports and history keep)."""
    tables = generic_tables_of(expectations)
    for e in expectations:
        body = e.body
        more: list[str | None] = []
        if isinstance(body, Reconcile):
            more = [body.to, None if body.source == "fixture" else body.source]
        elif isinstance(body, Range) and body.row_count is not None:
            more = [body.row_count.relative_to]
        tables += [t for t in more if t and t not in tables]
    return tables
