"""The local DAG checks (tinyctl/dags/checks.py): Airflow 3.3's safe-mode heuristic."""

from __future__ import annotations

import pytest

from tinyctl.dags.checks import check_source, might_contain_dag


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"from airflow.sdk import dag\n", True),
        (b"# AIRFLOW and my DAG\n", True),
        (b"from airflow.sdk import Asset\nA = Asset('s3://x')\n", True),  # 'asset' counts in 3.3
        (b"import airflow\n", False),
        (b"# dags and assets, no a-word\n", False),
        (b"def helper():\n    return 1\n", False),
    ],
)
def test_might_contain_dag_is_airflows_heuristic(text: bytes, expected: bool) -> None:
    assert might_contain_dag(text) is expected


def test_a_problem_in_a_file_airflow_skips_is_kept_as_a_note() -> None:
    check = check_source(b"def broken(:\n", "helpers.py", None)
    assert check.may_define_dags is False
    assert check.problem is not None and check.problem.kind == "syntax_error"
