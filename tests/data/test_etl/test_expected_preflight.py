"""The expected rows' own problems, found before anything runs (tinyctl/data/test_etl/preflight.py).

No engine: the scan reads the CSV in Python, one pass, a hash per key.
"""

from __future__ import annotations

import io

import pytest

from tinyctl.data.test_etl import preflight
from tinyctl.spec.models import Expectation


def scan(csv: str, **body) -> list[tuple[str | None, str]]:
    e = Expectation.model_validate({"expected": {"table": "t.daily", "file": "e.csv", **body}})
    data = csv.encode()
    return list(
        preflight._scan(
            e.body, lambda: io.BytesIO(data), csv.lstrip("\ufeff").splitlines()[0].split(",")
        )
    )


def test_clean_rows_have_no_problem_with_a_bom_quotes_and_a_newline_in_a_field() -> None:
    csv = '\ufeffday,orders,note\n2026-11-01,1,"a, b"\n2026-11-02,2,"two\nlines"\n2026-11-03,3,\n'
    assert scan(csv, key=["day"]) == []
    assert scan(csv, key=["day", "orders"], tolerance={"orders": 1}) == []


def test_a_repeated_key_names_both_lines() -> None:
    csv = "day,orders,note\n2026-11-01,1,x\n2026-11-02,2,y\n2026-11-01,3,z\n"
    assert scan(csv, key=["day"]) == [
        (None, "the key (day) is not unique in e.csv: day=2026-11-01 on lines 2 and 4")
    ]
    two = "day,orders,note\n2026-11-01,1,x\n2026-11-01,2,y\n2026-11-01,1,z\n"
    assert scan(two, key=["day", "orders"]) == [
        (
            None,
            "the key (day, orders) is not unique in e.csv: day=2026-11-01, orders=1 on lines 2 and 4",
        )
    ]


def test_an_empty_key_and_a_short_row_stop_the_scan() -> None:
    assert scan("day,orders,note\n2026-11-01,1,x\n,2,y\n", key=["day"]) == [
        (None, "e.csv line 3: a key column (day) is empty")
    ]
    assert scan("day,orders,note\n2026-11-01,1\n", key=["day"]) == [
        (None, "e.csv line 2 has 2 value(s); the header has 3")
    ]


def test_a_tolerance_on_text_values_is_named_once_per_column() -> None:
    problems = scan(
        "day,orders,note\n2026-11-01,x,a\n2026-11-02,y,b\n", key=["day"], tolerance={"orders": 1}
    )
    assert [c for c, _ in problems] == ["orders"]
    assert "expected value on line 2 of e.csv is 'x', not a number" in problems[0][1]


def test_two_keys_with_the_same_hash_are_not_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every key hashes alike: each repeat of a hash is checked against the values themselves.
    monkeypatch.setattr(preflight, "hash", lambda _value: 0, raising=False)
    csv = "day,orders,note\n2026-11-01,1,x\n2026-11-02,2,y\n2026-11-03,3,z\n"
    assert scan(csv, key=["day"]) == []
    repeated = csv + "2026-11-02,4,w\n"
    assert scan(repeated, key=["day"]) == [
        (None, "the key (day) is not unique in e.csv: day=2026-11-02 on lines 3 and 5")
    ]
