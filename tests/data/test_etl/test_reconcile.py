"""`reconcile:` against a real PostgreSQL (tinyctl/data/test_etl/reconcile.py, fixture.py)."""

from __future__ import annotations

import gzip

import pytest

from tinyctl.data.test_etl.kinds import CheckContext, evaluate
from tinyctl.spec.models import Expectation

pytestmark = pytest.mark.engine

TABLES = """
CREATE TABLE tr.landing (order_id bigint, amount numeric(12,2), day date);
CREATE TABLE tr.orders (order_id bigint, amount numeric(12,2), day date);
INSERT INTO tr.landing VALUES (1, 10.00, '2026-11-01'), (2, 20.00, '2026-11-01'), (3, 30.00, '2026-11-01');
INSERT INTO tr.orders VALUES (1, 10.00, '2026-11-01'), (2, 20.50, '2026-11-01'), (9, 1.00, '2026-10-31');
"""


def run(reader, context: CheckContext, body: dict):
    return evaluate(reader, Expectation.model_validate({"reconcile": body}), context)


def test_counts_aggregates_and_keys_of_two_tables(sql, pg_reader, tmp_path) -> None:
    sql(TABLES, "tr")
    context = CheckContext(tmp_path)
    body = {"from": "tr.landing", "to": "tr.orders", "to_where": "day = '2026-11-01'"}
    result = run(
        pg_reader, context, {**body, "aggregates": {"amount": ["sum", "max"]}, "keys": ["order_id"]}
    )
    rows = {r[0]: r[1:] for r in result.rows}
    assert result.failures == 4 and not result.passed
    assert rows["row_count"] == [None, "3", "2"]
    assert rows["sum(amount)"] == [None, "60.00", "30.50"]
    assert rows["max(amount)"] == [None, "30.00", "20.50"]
    assert rows["key missing in tr.orders"][0] == "order_id=3"
    within = run(
        pg_reader,
        context,
        {**body, "row_count": True, "tolerance": "40%", "aggregates": {"amount": "sum"}},
    )
    assert not within.passed and within.failures == 1  # the count is within 40%, the sum is not
    assert "sum(amount): 60.00 in tr.landing, 30.50 in tr.orders" in within.message


def test_keys_equal_both_ways(sql, pg_reader, tmp_path) -> None:
    sql(TABLES, "tr")
    body = {
        "from": "tr.landing",
        "to": "tr.orders",
        "row_count": False,
        "keys": ["order_id"],
        "keys_match": "equal",
    }
    result = run(pg_reader, CheckContext(tmp_path), body)
    assert sorted(r[:2] for r in result.rows) == [
        ["key missing in tr.landing", "order_id=9"],
        ["key missing in tr.orders", "order_id=3"],
    ]


def test_the_fixture_files_are_a_relation_typed_like_the_target(sql, pg_reader, tmp_path) -> None:
    sql(TABLES, "tr")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a.csv").write_text("order_id,amount,status\n1,10,paid\n")
    with gzip.open(landing / "b.csv.gz", "wt") as handle:
        handle.write("order_id,amount,status\n2,20.5,paid\n")
    context = CheckContext(tmp_path, [landing])
    body = {
        "from": "fixture",
        "to": "tr.orders",
        "to_where": "day = '2026-11-01'",
        "aggregates": {"amount": "sum"},
        "keys": ["order_id"],
    }
    result = run(pg_reader, context, body)
    assert result.passed, result.message
    (landing / "c.csv").write_text("order_id,amount,status\n7,1,paid\n")
    missing = run(pg_reader, context, body)
    assert "key missing in tr.orders: order_id=7" in missing.message
    (landing / "d.csv").write_text("order_id,amount,status\nseven,1,paid\n")
    bad = run(pg_reader, context, body)
    assert "fixture d.csv line 2" in bad.message and "bigint" in bad.message
