"""`expected:` against a real PostgreSQL, run as a read-only role (tinyctl/data/test_etl/expected.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tinyctl.data.test_etl import expected
from tinyctl.data.test_etl.kinds import CheckContext, evaluate
from tinyctl.db import Dsn, Session, session
from tinyctl.spec.models import Expectation

pytestmark = pytest.mark.engine

TABLE = """
CREATE TABLE tx.daily (day date PRIMARY KEY, orders int, revenue numeric(14,2), note text);
INSERT INTO tx.daily VALUES ('2026-11-01', 14, 1167.18, NULL), ('2026-11-02', 3, 10.00, 'x'),
  ('2026-11-04', 1, 5.00, 'late');
"""
EXACT = (
    "day,orders,revenue,note\n2026-11-01,14,1167.18,\n2026-11-02,3,10,x\n2026-11-04,1,5.00,late\n"
)


def run(reader: Dsn, root: Path, body: dict, csv: str | None = None):
    if csv is not None:
        (root / "exp.csv").write_text(csv)
        body = {"file": "exp.csv", **body}
    e = Expectation.model_validate({"expected": {"table": "tx.daily", **body}})
    return evaluate(reader, e, CheckContext(root))


def test_equal_rows_pass_with_values_read_as_the_columns_types(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tx")
    # 10 and 10.00 are one numeric, an empty field is NULL and equals NULL.
    result = run(pg_reader, tmp_path, {"key": ["day"]}, EXACT)
    assert result.status == "pass", result.message
    assert run(pg_reader, tmp_path, {}, EXACT).status == "pass"  # as a multiset too


def test_a_keyed_diff_names_missing_unexpected_and_changed_cells(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tx")
    csv = "day,orders,revenue,note\n2026-11-01,14,1167.19,\n2026-11-02,3,10,\n2026-11-03,2,1,\n"
    result = run(pg_reader, tmp_path, {"key": ["day"]}, csv)
    assert result.status == "error" and result.failures == 4
    assert "1 missing row(s), 1 unexpected row(s), 2 changed row(s)" in result.message
    diff = result.details["diff"]
    assert diff["counts"] == {"missing": 1, "unexpected": 1, "changed": 2}
    changed = {e["key"]["day"]: e["cells"] for e in diff["rows"]["changed"]}
    assert changed == {"2026-11-01": "revenue: 1167.19 -> 1167.18", "2026-11-02": "note: NULL -> x"}
    assert diff["rows"]["missing"][0]["key"] == {"day": "2026-11-03"}
    assert diff["rows"]["unexpected"][0]["cells"] == "orders=1, revenue=5.00, note=late"
    assert expected.diff_lines(result.details)[0].startswith("missing day=2026-11-03")


def test_tolerance_absolute_relative_and_chosen_columns(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tx")
    csv = "day,orders,revenue,note\n2026-11-01,14,1167.19,ignored\n2026-11-02,3,10.004,x\n2026-11-04,1,5,late\n"
    columns = ["day", "orders", "revenue"]
    assert run(
        pg_reader, tmp_path, {"key": ["day"], "columns": columns, "tolerance": 0.01}, csv
    ).passed
    relative = run(
        pg_reader, tmp_path, {"key": ["day"], "columns": columns, "tolerance": "0.0001%"}, csv
    )
    assert not relative.passed and "revenue: 1167.19 -> 1167.18" in str(relative.details)
    per_column = {"key": ["day"], "columns": columns, "tolerance": {"revenue": "0.001%"}}
    assert run(pg_reader, tmp_path, per_column, csv).passed


def test_multiset_counts_copies(sql, pg_reader, tmp_path) -> None:
    sql(TABLE + "INSERT INTO tx.daily VALUES ('2026-11-05', 1, 5.00, 'late');", "tx")
    csv = "orders,revenue,note\n1,5,late\n14,1167.18,\n3,10,x\n3,10,x\n"
    result = run(pg_reader, tmp_path, {"columns": ["orders", "revenue", "note"]}, csv)
    assert result.details["diff"]["counts"] == {"missing": 1, "unexpected": 1, "changed": 0}
    assert (
        result.details["diff"]["rows"]["missing"][0]["cells"] == "orders=3, revenue=10.00, note=x"
    )


def test_inline_rows_and_a_query(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tx")
    e = Expectation.model_validate(
        {
            "expected": {
                "query": "SELECT day, orders FROM tx.daily WHERE orders > 2",
                "rows": [{"day": "2026-11-01", "orders": 14}, {"day": "2026-11-02", "orders": 3}],
                "key": ["day"],
            }
        }
    )
    assert evaluate(pg_reader, e, CheckContext(tmp_path)).passed


@pytest.mark.parametrize(
    ("csv", "body", "reason"),
    [
        (
            "day,orders\nnot a date,1\n",
            {},
            "exp.csv line 2, column day: invalid input syntax for type date",
        ),
        ("day,gone\n2026-11-01,1\n", {}, "column(s) gone compared but not in tx.daily"),
        (
            "day,orders\n2026-11-01,1\n2026-11-01,2\n",
            {"key": ["day"]},
            "the key (day) is not unique in exp.csv: day=2026-11-01 appears 2 times",
        ),
        (
            "day,note\n2026-11-01,a\n",
            {"key": ["day"], "tolerance": {"note": 1}},
            "not a number in tx.daily",
        ),
    ],
)
def test_bad_expected_rows_fail_the_expectation_with_the_reason(
    sql, pg_reader, tmp_path, csv, body, reason
) -> None:
    sql(TABLE, "tx")
    result = run(pg_reader, tmp_path, body, csv)
    assert result.status == "error" and reason in result.message, result.message


def test_a_type_without_equality_is_a_failed_expectation_not_a_traceback(
    sql, pg_reader, tmp_path
) -> None:
    sql("CREATE TABLE tx.docs (id int, doc json); INSERT INTO tx.docs VALUES (1, '{}');", "tx")
    (tmp_path / "d.csv").write_text('id,doc\n1,"{}"\n')
    e = Expectation.model_validate({"expected": {"table": "tx.docs", "file": "d.csv"}})
    result = evaluate(pg_reader, e, CheckContext(tmp_path))
    assert result.status == "error" and "could not identify an equality operator" in result.message


def test_the_expected_file_is_written_sorted_and_deterministic(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tx")
    e = Expectation.model_validate(
        {"expected": {"table": "tx.daily", "file": "w.csv", "key": ["day"]}}
    )
    written = expected.rewrite_files(pg_reader, [e], tmp_path)
    first = (tmp_path / "w.csv").read_bytes()
    assert written == ["w.csv"] and first.decode().splitlines() == [
        "day,orders,revenue,note",
        "2026-11-01,14,1167.18,",
        "2026-11-02,3,10.00,x",
        "2026-11-04,1,5.00,late",
    ]
    expected.rewrite_files(pg_reader, [e], tmp_path)
    assert (tmp_path / "w.csv").read_bytes() == first
    assert evaluate(pg_reader, e, CheckContext(tmp_path)).passed


def test_a_session_leaves_nothing_behind(pg_reader) -> None:
    with session(pg_reader) as s:
        s.execute("CREATE TEMP TABLE leftover (id int)")
        s.copy_csv("leftover", ["id"], io.BytesIO(b"id\n1\n"))
    with session(pg_reader) as s:
        assert s.query("SELECT to_regclass('pg_temp.leftover')")[1] == [(None,)]


@pytest.mark.parametrize("server_version", [None, 140000], ids=["15+", "before 15"])
def test_a_repeated_null_key_is_not_unique_either(
    sql, pg_reader, tmp_path, monkeypatch, server_version
) -> None:
    # NULL equals NULL in a key, as GROUP BY sees it: NULLS NOT DISTINCT from PostgreSQL 15,
    # a GROUP BY of the rows with a NULL key before it.
    if server_version is not None:
        monkeypatch.setattr(Session, "server_version", property(lambda _s: server_version))
    sql(TABLE, "tx")
    nulls = "day,orders\n,1\n2026-11-01,14\n,2\n"
    result = run(pg_reader, tmp_path, {"key": ["day"], "columns": ["day", "orders"]}, nulls)
    assert result.status == "error"
    assert "the key (day) is not unique in exp.csv: day=NULL appears 2 times" in result.message
    once = "day,orders\n,1\n2026-11-01,14\n2026-11-02,3\n2026-11-04,1\n"
    result = run(pg_reader, tmp_path, {"key": ["day"], "columns": ["day", "orders"]}, once)
    assert result.failures == 1 and result.details["diff"]["counts"]["missing"] == 1


def test_a_table_indexed_on_the_key_is_read_in_key_order_on_both_sides(
    sql, pg_reader, tmp_path
) -> None:
    # The primary key's column order, not the spec's, orders the expected rows' index: a merge
    # join then reads both sides side by side (no hash), with the same diff.
    sql(
        "CREATE TABLE tx.pairs (a int, b int, v text, PRIMARY KEY (b, a));"
        "CREATE TABLE tx.loose (a int, b int, v text);"
        "INSERT INTO tx.pairs VALUES (1, 1, 'x'), (2, 1, 'y'), (1, 2, 'z');"
        "INSERT INTO tx.loose SELECT * FROM tx.pairs;",
        "tx",
    )
    (tmp_path / "p.csv").write_text("a,b,v\n1,1,x\n2,1,Y\n1,2,z\n3,3,new\n")

    def body(**more):
        return Expectation.model_validate(
            {"expected": {"table": "tx.pairs", "file": "p.csv", "key": ["a", "b"], **more}}
        ).body

    with session(pg_reader) as s:
        order = expected._plan(s, body(), expected.source_of(body(), tmp_path)).index_order
    assert order == ["b", "a"]
    for more in ({"where": "v <> 'q'"}, {"table": "tx.loose"}):
        with session(pg_reader) as s:
            plan = expected._plan(s, body(**more), expected.source_of(body(**more), tmp_path))
            assert plan.index_order is None, more
    for more in ({}, {"table": "tx.loose"}):
        e = Expectation.model_validate(
            {"expected": {"table": "tx.pairs", "file": "p.csv", "key": ["a", "b"], **more}}
        )
        diff = evaluate(pg_reader, e, CheckContext(tmp_path)).details["diff"]
        assert diff["counts"] == {"missing": 1, "unexpected": 0, "changed": 1}, more
        assert diff["rows"]["changed"][0] == {"cells": "v: Y -> y", "key": {"a": "2", "b": "1"}}
