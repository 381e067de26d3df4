"""Test selection by name (-k/--keyword) and by tag (--select tag:NAME), and failure tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyctl.data.test_etl.runner import failures_table, select_tests
from tinyctl.errors import BadInput
from tinyctl.spec import load_spec

TESTS = """
tests:
  - {name: orders_daily, dag: staging_orders, tags: [daily, staging]}
  - {name: orders_backfill, dag: staging_orders, tags: [backfill]}
  - {name: revenue_check, dag: staging_orders}
"""


@pytest.fixture
def loaded(project: Path):
    spec = project / "tinyctl.yaml"
    text = spec.read_text()
    head = text[: text.index("\ntests:")]
    tail = text[text.index("\nstore_failures:") :]
    spec.write_text(head + "\n" + TESTS + tail)
    return load_spec(spec)


def names(tests) -> list[str]:
    return [t.name for t in tests]


def test_select_by_tag_name_and_keyword(loaded) -> None:
    assert names(select_tests(loaded, None, ["tag:daily"])) == ["orders_daily"]
    assert names(select_tests(loaded, None, ["tag:daily", "tag:backfill"])) == [
        "orders_daily",
        "orders_backfill",
    ]
    assert names(select_tests(loaded, None, ["tag:*"])) == ["orders_daily", "orders_backfill"]
    assert names(select_tests(loaded, None, ["revenue_*"])) == ["revenue_check"]
    # -k and --select together: both must match
    assert names(select_tests(loaded, ["orders"], ["tag:backfill"])) == ["orders_backfill"]
    assert names(select_tests(loaded, ["orders"], None)) == ["orders_daily", "orders_backfill"]


def test_an_empty_selection_names_the_tests_and_tags(loaded) -> None:
    with pytest.raises(BadInput) as caught:
        select_tests(loaded, None, ["tag:nightly"])
    assert "tags: backfill, daily, staging" in (caught.value.hint or "")
    with pytest.raises(BadInput, match="names no tag"):
        select_tests(loaded, None, ["tag:"])


def test_failures_tables_are_identifiers() -> None:
    assert failures_table("orders_2026_11_01", 2, "not_null") == "orders_2026_11_01__3_not_null"
    long = failures_table("x" * 80, 0, "accepted_values")
    assert len(long) <= 63 and long.endswith("__1_accepted_values")
    assert failures_table("Orders.Daily-1", 0, "sql") == "orders_daily_1__1_sql"
