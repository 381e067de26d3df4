"""`columns:` schema contracts against a real PostgreSQL (tinyctl/data/test_etl/contract.py)."""

from __future__ import annotations

import pytest

from tinyctl.data.test_etl.kinds import CheckContext, evaluate, expand
from tinyctl.spec.models import Expectation

pytestmark = pytest.mark.engine

TABLE = "CREATE TABLE tc.orders (id bigint NOT NULL, amount numeric(12,2), code varchar(20), at timestamptz);"


def run(reader, tmp_path, body: dict):
    e = Expectation.model_validate({"columns": {"table": "tc.orders", **body}})
    return [evaluate(reader, x, CheckContext(tmp_path)) for x in expand([e])]


def test_types_are_normalised_by_postgres(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tc")
    columns = {
        "id": {"type": "int8", "nullable": False},
        "amount": "numeric",  # no modifier: any precision
        "code": "character varying(20)",
        "at": "timestamp with time zone",
    }
    [result] = run(pg_reader, tmp_path, {"columns": columns})
    assert result.passed, result.message


def test_each_difference_is_named(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tc")
    columns = {
        "id": {"type": "integer", "nullable": True},
        "amount": "numeric(10,2)",
        "gone": "text",
    }
    [result] = run(pg_reader, tmp_path, {"columns": columns})
    assert not result.passed
    problems = {(r[0], r[1]) for r in result.rows}
    assert problems >= {
        ("id", "type"),
        ("id", "nullability"),
        ("amount", "type"),
        ("gone", "missing"),
    }
    assert ("code", "unexpected") in problems and ("at", "unexpected") in problems  # mode: exact
    assert "id: type integer -> bigint" in result.message
    assert "amount: type numeric(10,2) -> numeric(12,2)" in result.message
    [at_least] = run(pg_reader, tmp_path, {"mode": "at_least", "columns": {"id": "bigint"}})
    assert at_least.passed


def test_a_missing_table_and_an_unknown_type_fail_with_the_reason(sql, pg_reader, tmp_path) -> None:
    sql(TABLE, "tc")
    e = Expectation.model_validate({"columns": {"table": "tc.nope", "columns": {"id": "int"}}})
    assert "tc.nope does not exist" in evaluate(pg_reader, e, CheckContext(tmp_path)).message
    [bad] = run(pg_reader, tmp_path, {"mode": "at_least", "columns": {"id": "nosuchtype"}})
    assert not bad.passed and 'type "nosuchtype" does not exist' in bad.message


def test_ranges_within_the_contract_become_range_checks(sql, pg_reader, tmp_path) -> None:
    sql(TABLE + "INSERT INTO tc.orders VALUES (1, -2, 'a', now()), (2, 5, NULL, now());", "tc")
    columns = {"amount": {"type": "numeric", "min": ">= 0"}, "code": {"null_share": "<= 10%"}}
    contract, amount, code = run(pg_reader, tmp_path, {"mode": "at_least", "columns": columns})
    assert contract.passed
    assert (
        amount.name == "columns(tc.orders).amount range" and "min of amount is -2" in amount.message
    )
    assert (
        code.name == "columns(tc.orders).code range" and "null_share of code is 0.5" in code.message
    )
