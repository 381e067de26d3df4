"""Severity and dbt's warn_if / error_if thresholds (tinyctl/data/test_etl/expectations.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tinyctl.data.test_etl.expectations import verdict
from tinyctl.spec.models import Expectation, threshold_holds

NOT_NULL = {"not_null": {"table": "staging.orders", "columns": ["order_id"]}}


@pytest.mark.parametrize(
    ("condition", "failures", "holds"),
    [
        ("!=0", 0, False),
        ("!=0", 3, True),
        (">10", 10, False),
        (">10", 11, True),
        (">= 5", 5, True),
        ("<2", 1, True),
        ("==0", 0, True),
        ("<=3", 4, False),
    ],
)
def test_threshold_holds(condition: str, failures: int, holds: bool) -> None:
    assert threshold_holds(condition, failures) is holds


def test_default_is_an_error_on_any_offending_row() -> None:
    e = Expectation.model_validate(NOT_NULL)
    assert (e.severity, e.warn_if, e.error_if) == ("error", "!=0", "!=0")
    assert verdict(e, 0) == "pass"
    assert verdict(e, 1) == "error"


def test_error_if_above_a_threshold_warns_below_it() -> None:
    e = Expectation.model_validate({**NOT_NULL, "error_if": ">10", "warn_if": ">2"})
    assert verdict(e, 2) == "pass"
    assert verdict(e, 5) == "warn"
    assert verdict(e, 11) == "error"


def test_severity_warn_never_fails() -> None:
    e = Expectation.model_validate({**NOT_NULL, "severity": "warn"})
    assert verdict(e, 1000) == "warn"
    assert verdict(e, 0) == "pass"


@pytest.mark.parametrize("bad", ["> ten", "10", "=>3", "!= -1"])
def test_a_bad_threshold_is_a_spec_error(bad: str) -> None:
    with pytest.raises(ValidationError):
        Expectation.model_validate({**NOT_NULL, "warn_if": bad})
    with pytest.raises(ValidationError):
        Expectation.model_validate({**NOT_NULL, "severity": "fatal"})
