"""`range:` and the history bound of `row_count` (tinyctl/data/test_etl/ranges.py)."""

from __future__ import annotations

import pytest

from tinyctl.data.test_etl.kinds import CheckContext, evaluate
from tinyctl.data.test_etl.ranges import history_problem
from tinyctl.spec.models import Expectation

pytestmark = pytest.mark.engine

TABLE = """
CREATE TABLE tg.sales (amount numeric, day date);
INSERT INTO tg.sales SELECT g, '2026-11-01' FROM generate_series(1, 9) AS g;
INSERT INTO tg.sales VALUES (NULL, '2026-11-01');
CREATE TABLE tg.orders AS SELECT * FROM tg.sales UNION ALL SELECT * FROM tg.sales;
"""


def context(tmp_path, previous=None) -> CheckContext:
    return CheckContext(
        tmp_path, previous=lambda name, metric, n: (previous or {}).get(metric, [])[:n]
    )


def run(reader, ctx, data: dict):
    return evaluate(reader, Expectation.model_validate(data), ctx)


def test_min_max_mean_and_null_share(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tg")
    ok = {
        "table": "tg.sales",
        "column": "amount",
        "min": ">= 1",
        "max": "<= 9",
        "mean": "== 5",
        "null_share": "<= 10%",
    }
    assert run(pg_reader, context(tmp_path), {"range": ok}).passed
    bad = {**ok, "min": "> 1", "null_share": "< 10%"}
    result = run(pg_reader, context(tmp_path), {"range": bad})
    assert result.failures == 2
    assert (
        "min of amount is 1; bound > 1" in result.message
        and "null_share of amount is 0.1" in result.message
    )


def test_row_count_relative_to_another_relation(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tg")
    body = {
        "table": "tg.sales",
        "row_count": {"relative_to": "tg.orders", "ratio": "between 0.4 and 0.6"},
    }
    assert run(pg_reader, context(tmp_path), {"range": body}).passed
    body["row_count"]["ratio"] = ">= 0.9"
    assert (
        "10 row(s) are 0.5 of the 20 of tg.orders"
        in run(pg_reader, context(tmp_path), {"range": body}).message
    )


def test_change_vs_previous_runs(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tg")
    first = run(
        pg_reader,
        context(tmp_path),
        {"row_count": {"table": "tg.sales", "change_vs_previous": "<=20%"}},
    )
    assert first.passed and "no previous passing run" in first.message
    assert first.details["metrics"] == {"row_count": 10.0}
    steady = context(tmp_path, {"row_count": [9.0, 10.0, 11.0]})
    assert run(
        pg_reader, steady, {"row_count": {"table": "tg.sales", "change_vs_previous": "<=20%"}}
    ).passed
    jump = context(tmp_path, {"row_count": [100.0, 100.0], "mean": [5.0]})
    result = run(
        pg_reader, jump, {"row_count": {"table": "tg.sales", "change_vs_previous": "<=20%"}}
    )
    assert not result.passed and "row_count 10 is 90% away from the median 100" in result.message
    ranged = {
        "table": "tg.sales",
        "column": "amount",
        "mean": ">= 0",
        "change_vs_previous": "<=20%",
    }
    result = run(pg_reader, jump, {"range": ranged})
    assert (
        result.failures == 1 and "row_count 10 is 90% away" in result.message
    )  # mean 5 = 5: within


def test_history_problem_edges() -> None:
    assert history_problem("row_count", 5, "<=20%", []) is None
    assert history_problem("row_count", 0, "<=20%", [0.0, 0.0]) is None
    assert history_problem("row_count", 1, "<=20%", [0.0]) is not None
    assert history_problem("row_count", 12, "<=20%", [10.0]) is None
