"""`tinyctl test-etl` as one call (tinyctl/data/test_etl/suite.py): which tests run side by
side, progress reported one at a time, and the --store-failures schema check. The whole call
runs end to end in test_runner.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tinyctl.data.test_etl.runner import Progress
from tinyctl.data.test_etl.suite import _one_at_a_time, check_failures_schema, conflict_groups
from tinyctl.errors import BadInput
from tinyctl.spec import load_spec
from tinyctl.spec.models import EtlTest


def etl_test(
    name: str, dag: str, seeds: tuple[str, ...] = (), files: tuple[str, ...] = ()
) -> EtlTest:
    return EtlTest.model_validate(
        {
            "name": name,
            "dag": dag,
            "seeds": list(seeds),
            "files": [{"from": f"fixtures/{t}", "to": t} for t in files],
        }
    )


def names(groups: list[list[EtlTest]]) -> list[list[str]]:
    return [[t.name for t in group] for group in groups]


def test_conflict_groups_keeps_independent_tests_apart() -> None:
    tests = [etl_test("a", "dag_a"), etl_test("b", "dag_b"), etl_test("c", "dag_c")]
    assert names(conflict_groups(tests)) == [["a"], ["b"], ["c"]]
    assert conflict_groups([]) == []


def test_conflict_groups_joins_tests_sharing_a_dag_a_seed_or_a_fixture_folder() -> None:
    tests = [
        etl_test("a", "dag_a", seeds=("s1",)),
        etl_test("b", "dag_b", files=("landing",)),
        etl_test("c", "dag_a"),  # same DAG as a
        etl_test("d", "dag_d", seeds=("s1",)),  # same seed as a
        etl_test("e", "dag_e", files=("landing",)),  # same fixture folder as b
        etl_test("f", "dag_f", files=("other",)),
    ]
    assert names(conflict_groups(tests)) == [["a", "c", "d"], ["b", "e"], ["f"]]


def test_conflict_groups_merges_groups_a_later_test_links() -> None:
    tests = [
        etl_test("a", "dag_a", seeds=("s1",)),
        etl_test("b", "dag_b", seeds=("s2",)),
        etl_test("c", "dag_c"),
        etl_test("bridge", "dag_x", seeds=("s1", "s2")),  # links a's and b's groups
    ]
    groups = names(conflict_groups(tests))
    assert len(groups) == 2
    assert sorted(groups[0]) == ["a", "b", "bridge"] and groups[0][-1] == "bridge"
    assert groups[1] == ["c"]
    # Every test is in exactly one group.
    assert sorted(n for g in groups for n in g) == ["a", "b", "bridge", "c"]


def test_progress_from_threads_side_by_side_is_reported_one_at_a_time() -> None:
    inside, most, seen = 0, 0, []

    def on_progress(progress: Progress) -> None:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        time.sleep(0.002)  # long enough for another thread to come in, were it let
        seen.append(progress.test)
        inside -= 1

    report = _one_at_a_time(on_progress)
    threads = [
        threading.Thread(
            target=lambda n=n: [report(Progress(f"t{n}", "running")) for _ in range(20)]
        )
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1 and len(seen) == 80
    _one_at_a_time(None)(Progress("t", "done"))  # no callback: nothing to call


def test_store_failures_needs_its_schema_in_each_tested_database(project: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    tests = list(loaded.spec.tests)
    assert tests, "the scaffolded project has ETL tests"
    check_failures_schema(loaded, tests)  # the scaffold lists the schema: nothing to say
    schema = loaded.spec.store_failures.schema_
    for database in loaded.spec.postgres.databases:
        if schema in database.schemas:
            database.schemas.remove(schema)
    with pytest.raises(BadInput, match=f"writes into schema '{schema}'") as caught:
        check_failures_schema(loaded, tests)
    assert "store_failures.schema" in (caught.value.hint or "")
