"""Model rules that hostile input used to slip through."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tinyctl.spec.models import Airflow, Postgres, Seed, is_requirement, parse_duration


def test_pydantic_patterns_refuse_a_trailing_newline() -> None:
    with pytest.raises(ValidationError):
        Postgres.model_validate({"databases": [{"name": "warehouse\n"}]})


@pytest.mark.parametrize(
    "item",
    [
        "pandas==2.2.3\r--index-url http://x/simple",
        "pandas==2.2.3\u2028--index-url http://x/simple",
        "pandas==2.2.3\n-e .",
        "--index-url http://x",
        "-r other.txt",
        "",
        "pandas===",
    ],
)
def test_requirements_are_one_pep_508_requirement(item: str) -> None:
    assert not is_requirement(item)


@pytest.mark.parametrize("item", ["pandas==2.2.3", "requests[socks]>=2; python_version>'3.8'"])
def test_real_requirements_pass(item: str) -> None:
    assert is_requirement(item)


@pytest.mark.parametrize(
    "value", [True, -5, 0, "0s", "99999999999999999999d", "5 x", "\u0661m"]
)  # \u0661: an Arabic-Indic digit
def test_durations_are_positive_bounded_and_not_booleans(value) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_ports_and_timeouts_are_not_booleans() -> None:
    with pytest.raises(ValidationError):
        Postgres.model_validate({"port": True})
    with pytest.raises(ValidationError):
        Airflow.model_validate({"start_timeout": True})


@pytest.mark.parametrize(
    "kind", ["text", "numeric(12,2)", "timestamp with time zone", "character varying(20)", "int[]"]
)
def test_column_types_are_type_names(kind: str) -> None:
    Seed.model_validate({"name": "s", "csv": "s.csv", "table": "a.b", "columns": {"c": kind}})


@pytest.mark.parametrize("kind", ["int); DROP TABLE x; --", "text;", "int -- x", "text'"])
def test_sql_in_a_column_type_is_refused(kind: str) -> None:
    with pytest.raises(ValidationError, match="not a SQL type name"):
        Seed.model_validate({"name": "s", "csv": "s.csv", "table": "a.b", "columns": {"c": kind}})


def test_null_text_is_the_null_option_and_quoted_null_still_works() -> None:
    for key in ("null_text", "null"):
        seed = Seed.model_validate({"name": "s", "csv": "s.csv", "table": "a.b", key: "NA"})
        assert seed.null == "NA"
