"""Expectations (tinyctl/data/test_etl/expectations.py): default names (unit), and each kind evaluated
against a small table in the shared live stack's warehouse (`staging.tt_expect_*`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Stack

from tinyctl.data.test_etl.expectations import default_name, evaluate, tables_of
from tinyctl.spec.models import Expectation


def expectation(data: dict) -> Expectation:
    return Expectation.model_validate(data)


# --------------------------------------------------------------------------- unit: names


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (
            {"row_count": {"table": "staging.orders", "equals": 14}},
            "row_count(staging.orders) = 14",
        ),
        ({"row_count": {"table": "staging.orders", "equals": 0}}, "row_count(staging.orders) = 0"),
        (
            {
                "row_count": {
                    "table": "staging.orders",
                    "where": "order_date = '2026-11-01'",
                    "equals": 14,
                }
            },
            "row_count(staging.orders where order_date = '2026-11-01') = 14",
        ),
        ({"row_count": {"table": "orders", "min": 1}}, "row_count(orders) >= 1"),
        ({"row_count": {"table": "orders", "max": 9}}, "row_count(orders) <= 9"),
        ({"row_count": {"table": "orders", "min": 1, "max": 9}}, "row_count(orders) >= 1 <= 9"),
        (
            {"not_null": {"table": "staging.orders", "columns": ["order_id", "amount"]}},
            "not_null(staging.orders: order_id, amount)",
        ),
        (
            {"unique": {"table": "staging.orders", "columns": ["order_id"]}},
            "unique(staging.orders: order_id)",
        ),
        (
            {
                "accepted_values": {
                    "table": "staging.orders",
                    "column": "status",
                    "values": ["paid"],
                }
            },
            "accepted_values(staging.orders.status)",
        ),
        (
            {
                "relationships": {
                    "table": "staging.orders",
                    "column": "customer_id",
                    "to": "staging.customers.customer_id",
                }
            },
            "relationships(staging.orders.customer_id -> staging.customers.customer_id)",
        ),
        (
            {"freshness": {"table": "staging.orders", "column": "loaded_at", "max_age": "1h"}},
            "freshness(staging.orders.loaded_at within 1h)",
        ),
        ({"sql": {"query": "SELECT 1"}}, "sql(SELECT 1)"),
        (
            {"sql": {"query": "SELECT *\n  FROM  analytics.daily_revenue\n WHERE revenue_eur < 0"}},
            "sql(SELECT * FROM analytics.daily_revenue WHERE revenue_eur < 0)",
        ),
    ],
)
def test_default_name(data: dict, name: str) -> None:
    assert default_name(expectation(data)) == name


def test_default_name_of_a_long_query_is_cut_at_60_characters() -> None:
    query = "SELECT order_id, customer_id, amount FROM staging.orders WHERE amount < 0 OR amount > 100000"
    name = default_name(expectation({"sql": {"query": query}}))
    assert name == f"sql({query[:60]}...)"
    assert default_name(expectation({"sql": {"query": "x" * 60}})) == f"sql({'x' * 60})"


def test_an_explicit_name_wins_and_tables_are_collected() -> None:
    items = [
        expectation({"name": "my check", "row_count": {"table": "staging.orders", "min": 1}}),
        expectation(
            {
                "relationships": {
                    "table": "staging.orders",
                    "column": "customer_id",
                    "to": "staging.customers.customer_id",
                }
            }
        ),
        expectation({"not_null": {"table": "staging.orders", "columns": ["order_id"]}}),
        expectation({"sql": {"query": "SELECT 1"}}),
    ]
    assert items[0].name == "my check"
    assert tables_of(items) == ["staging.orders", "staging.customers"]


# --------------------------------------------------------------------------- on the live stack

TABLE = "staging.tt_expect_items"
PARENT = "staging.tt_expect_parents"
OLD = "staging.tt_expect_old"


@pytest.fixture(scope="module")
def dsn(live_stack: Stack) -> Iterator[object]:
    live_stack.psql(
        f"DROP TABLE IF EXISTS {TABLE}; DROP TABLE IF EXISTS {PARENT}; DROP TABLE IF EXISTS {OLD};"
        f"CREATE TABLE {OLD} (at timestamptz); INSERT INTO {OLD} VALUES (now() - interval '3 hours');"
        f"CREATE TABLE {PARENT} (id int PRIMARY KEY);"
        f"INSERT INTO {PARENT} VALUES (1), (2);"
        f"CREATE TABLE {TABLE} (id int, parent_id int, status text, flag boolean, price numeric(8,2), created_at timestamptz);"
        f"INSERT INTO {TABLE} VALUES"
        " (1, 1, 'paid', true, 12.50, now()),"
        " (2, 2, 'paid', false, 3.00, now() - interval '10 minutes'),"
        " (3, 9, 'lost', true, NULL, now() - interval '2 days'),"
        " (3, NULL, 'pending', NULL, 7.25, now() - interval '3 days')"
    )
    try:
        yield live_stack.project().warehouse()
    finally:
        live_stack.psql(
            f"DROP TABLE IF EXISTS {TABLE}; DROP TABLE IF EXISTS {PARENT}; DROP TABLE IF EXISTS {OLD}"
        )


def check(dsn, data: dict):
    return evaluate(dsn, expectation(data))


@pytest.mark.stack
def test_row_count(dsn) -> None:
    result = check(dsn, {"row_count": {"table": TABLE, "equals": 4}})
    assert result.passed and result.message == f"{TABLE} has 4 row(s); expected exactly 4"
    result = check(dsn, {"row_count": {"table": TABLE, "where": "status = 'paid'", "min": 3}})
    assert (
        not result.passed
        and result.message == f"{TABLE} where status = 'paid' has 2 row(s); expected at least 3"
    )
    assert check(dsn, {"row_count": {"table": TABLE, "min": 1, "max": 4}}).passed
    assert result.table == TABLE and result.kind == "row_count"


@pytest.mark.stack
def test_not_null_shows_the_offending_rows(dsn) -> None:
    result = check(dsn, {"not_null": {"table": TABLE, "columns": ["parent_id", "price"]}})
    assert not result.passed
    assert result.message == f"2 row(s) of {TABLE} have NULL in parent_id, price"
    assert result.columns == ["id", "parent_id", "status", "flag", "price", "created_at"]
    assert sorted(r[2] for r in result.rows) == ["lost", "pending"]
    assert check(
        dsn, {"not_null": {"table": TABLE, "columns": ["price"], "where": "status = 'paid'"}}
    ).passed


@pytest.mark.stack
def test_unique_shows_the_duplicated_values(dsn) -> None:
    result = check(dsn, {"unique": {"table": TABLE, "columns": ["id"]}})
    assert not result.passed
    assert result.message == f"1 value(s) of (id) appear more than once in {TABLE}"
    assert result.columns == ["id", "copies"] and result.rows == [[3, 2]]
    assert check(dsn, {"unique": {"table": TABLE, "columns": ["id", "status"]}}).passed


@pytest.mark.stack
def test_accepted_values_on_text(dsn) -> None:
    result = check(
        dsn,
        {"accepted_values": {"table": TABLE, "column": "status", "values": ["paid", "pending"]}},
    )
    assert not result.passed and result.rows == [["lost", 1]]
    assert "'lost'" in result.message
    assert check(
        dsn,
        {
            "accepted_values": {
                "table": TABLE,
                "column": "status",
                "values": ["paid", "pending", "lost"],
            }
        },
    ).passed
    assert check(
        dsn,
        {
            "accepted_values": {
                "table": TABLE,
                "column": "status",
                "values": ["paid"],
                "where": "id < 3",
            }
        },
    ).passed


@pytest.mark.stack
def test_accepted_values_on_a_boolean_column(dsn) -> None:
    # YAML `values: [true, false]` on a boolean column: every row holds one of them.
    result = check(
        dsn, {"accepted_values": {"table": TABLE, "column": "flag", "values": [True, False]}}
    )
    assert result.passed, result.message


@pytest.mark.stack
def test_relationships_shows_the_orphans(dsn) -> None:
    result = check(
        dsn, {"relationships": {"table": TABLE, "column": "parent_id", "to": f"{PARENT}.id"}}
    )
    assert not result.passed
    assert result.message == f"1 row(s) of {TABLE} have a parent_id not found in {PARENT}.id"
    assert result.rows == [[9, 1]]
    assert check(
        dsn,
        {
            "relationships": {
                "table": TABLE,
                "column": "parent_id",
                "to": f"{PARENT}.id",
                "where": "status <> 'lost'",
            }
        },
    ).passed


@pytest.mark.stack
def test_freshness(dsn) -> None:
    result = check(dsn, {"freshness": {"table": TABLE, "column": "created_at", "max_age": "1h"}})
    assert result.passed and "old (limit 1h)" in result.message
    stale = check(dsn, {"freshness": {"table": OLD, "column": "at", "max_age": "2h"}})
    assert not stale.passed and stale.message == f"newest at in {OLD} is 3h old; limit is 2h"
    assert stale.columns == ["newest"] and len(stale.rows) == 1
    assert check(dsn, {"freshness": {"table": OLD, "column": "at", "max_age": "4h"}}).passed
    result = check(dsn, {"freshness": {"table": PARENT, "column": "id", "max_age": "1h"}})
    assert (
        not result.passed and "the check's query failed" in result.message
    )  # max(int) - now() makes no sense


@pytest.mark.stack
def test_custom_sql(dsn) -> None:
    result = check(
        dsn, {"sql": {"query": f"SELECT price FROM {TABLE} WHERE id = 1", "equals": 12.5}}
    )
    assert result.passed, "12.50 (numeric) equals 12.5"
    result = check(dsn, {"sql": {"query": f"SELECT count(*) FROM {TABLE}", "equals": 5}})
    assert not result.passed and result.message == "the query returned 4; expected 5"
    result = check(
        dsn, {"sql": {"query": f"SELECT id, status FROM {TABLE} WHERE status = 'lost';"}}
    )
    assert not result.passed and result.message == "the query returned 1 row(s); expected none"
    assert result.columns == ["id", "status"] and result.rows == [[3, "lost"]]
    result = check(dsn, {"sql": {"query": f"SELECT id FROM {TABLE}"}})
    assert not result.passed and len(result.rows) == 4
    assert check(dsn, {"sql": {"query": f"SELECT * FROM {TABLE} WHERE price < 0"}}).passed
    result = check(dsn, {"sql": {"query": f"SELECT id FROM {TABLE} WHERE false", "equals": 1}})
    assert not result.passed and "returned no rows" in result.message


@pytest.mark.stack
def test_a_failing_query_is_a_failed_expectation_not_a_crash(dsn) -> None:
    result = check(dsn, {"row_count": {"table": "staging.tt_expect_no_such_table", "min": 1}})
    assert not result.passed
    assert (
        result.message.startswith("the check's query failed:")
        and "does not exist" in result.message
    )
    # Expectations run read-only: a custom query cannot change the warehouse.
    result = check(dsn, {"sql": {"query": f"DELETE FROM {TABLE} RETURNING id"}})
    assert not result.passed and "read-only" in result.message
    assert check(dsn, {"row_count": {"table": TABLE, "equals": 4}}).passed
