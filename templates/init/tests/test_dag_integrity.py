"""DAG integrity: every file in the DAG folder imports, and every DAG keeps the house rules.

Run with `tinyctl pytest`: pytest in the stack's Airflow image, no stack needed.
"""

import os

import pytest
from airflow.dag_processing.dagbag import DagBag

DAGS_FOLDER = os.environ.get("TINYCTL_DAGS_FOLDER", "dags")


@pytest.fixture(scope="session")
def dagbag() -> DagBag:
    return DagBag(dag_folder=DAGS_FOLDER)


def test_every_dag_file_imports(dagbag: DagBag) -> None:
    assert not dagbag.import_errors, "\n".join(
        f"{path}:\n{error}" for path, error in dagbag.import_errors.items()
    )


def test_there_are_dags(dagbag: DagBag) -> None:
    assert dagbag.dags, f"no DAG found in {DAGS_FOLDER}"


@pytest.mark.parametrize("rule", ["tags", "retries"])
def test_house_rules(dagbag: DagBag, rule: str) -> None:
    for dag_id, dag in dagbag.dags.items():
        if rule == "tags":
            assert dag.tags, f"{dag_id}: give it tags"
        if rule == "retries":
            retries = dag.default_args.get("retries", 0)
            assert retries <= 3, f"{dag_id}: retries {retries} > 3"
