"""`tinyctl test-etl` as one call: pick the tests, check that --store-failures can write,
deploy the DAG folder once, run the tests (independent ones side by side), write the reports."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tinyctl.dags.deploy import deploy_dags
from tinyctl.dags.run import stop_leftover_runs
from tinyctl.data.test_etl import kinds, page, preflight, reports
from tinyctl.data.test_etl.history import History, new_run_id
from tinyctl.data.test_etl.runner import (
    Progress,
    ProgressCallback,
    RunOptions,
    TestResult,
    run_test,
    select_tests,
)
from tinyctl.errors import BadInput
from tinyctl.project import Project
from tinyctl.spec.models import EtlTest


def run_suite(
    project: Project,
    *,
    keywords: list[str] | None = None,
    selectors: list[str] | None = None,
    parallel: int = 1,
    store_failures: bool = False,
    junit: Path | None = None,
    html: Path | None = None,
    on_progress: ProgressCallback | None = None,
    deploy: bool = True,
    no_run: bool = False,
    seed: bool = False,
    update_expected: bool = False,
) -> list[TestResult]:
    """The results of the tests `keywords` (-k) and `selectors` (--select) pick, in spec order.
    `deploy`: deploy the DAG folder once when a test's DAG needs it (`ci run` deployed already).

    `on_progress` is called from one thread at a time, even with `parallel` > 1: first with
    "waiting" for every test picked, then with each phase of each test. Every invocation is
    recorded in the run history; `html` is the history's page, this run's results first.
    `no_run`: the checks only, on the warehouse as it is (seeds too when `seed`)."""
    tests = select_tests(project, keywords, selectors)
    if update_expected and no_run:
        raise BadInput(
            "--update-expected rewrites expected files after a passing run of the DAG",
            hint="Drop --no-run (or --update-expected).",
        )
    if seed and not no_run:
        raise BadInput("--seed goes with --no-run (a test's run loads its seeds anyway)")
    if store_failures:
        check_failures_schema(project, tests)
    preflight.check_tests(project, tests, live=no_run)
    report = _one_at_a_time(on_progress)
    for test in tests:
        report(Progress(test.name, "waiting"))
    if not no_run:
        with project.airflow() as client:
            client.require_up()
            # runs an earlier test-etl left going (killed, or its stack failed under it)
            stop_leftover_runs(client, {t.dag for t in tests}, "test")
    history = History(project.state.history_file)
    options = RunOptions(no_run, seed, update_expected, history.previous)
    results = _run_tests(project, tests, parallel, report, store_failures, options, deploy)
    by_name = {t.name: t for t in tests}
    history.record(
        new_run_id(),
        "no-run" if no_run else "run",
        results,
        by_name,
        {t.name: [kinds.tables_of([e]) for e in kinds.expand(list(t.expect))] for t in tests},
    )
    if junit:
        reports.write_report(junit, reports.junit_xml(project.name, results))
    if html:
        reports.write_report(html, page.render(project.name, history))
    return results


def check_failures_schema(project: Project, tests: list[EtlTest]) -> None:
    """--store-failures writes as the ETL role into a schema tinyctl created for it."""
    schema = project.spec.store_failures.schema_
    pg = project.spec.postgres
    for test in tests:
        name = test.database or pg.default_database.name
        database = next(d for d in pg.databases if d.name == name)
        if schema not in database.schemas:
            raise BadInput(
                f"--store-failures writes into schema {schema!r}, which database {name} does not have",
                hint=f"Add {schema!r} to postgres.databases[{name}].schemas (then `tinyctl up`), "
                "or set store_failures.schema to one of its schemas: "
                + ", ".join(database.schemas),
            )


def _one_at_a_time(on_progress: ProgressCallback | None) -> ProgressCallback:
    """`on_progress`, called under a lock: tests running side by side report one by one."""
    lock = threading.Lock()

    def report(progress: Progress) -> None:
        if on_progress is not None:
            with lock:
                on_progress(progress)

    return report


class DeployOnce:
    """Deploys the DAG folder the first time a test asks, once per invocation (whatever the
    thread); a deploy that fails is tried again by the next test."""

    def __init__(self, project: Project):
        self.project = project
        self.deployed = False
        self.lock = threading.Lock()

    def __call__(self, _dag_id: str) -> None:
        with self.lock:
            if self.deployed:
                return
            with self.project.airflow() as client:
                deploy_dags(self.project, client)
            self.deployed = True


def _run_tests(
    project: Project,
    tests: list[EtlTest],
    parallel: int,
    report: ProgressCallback,
    store_failures: bool,
    options: RunOptions,
    deploy: bool = True,
) -> list[TestResult]:
    """Each group of conflicting tests in turn on one Airflow client; groups side by side."""
    ensure_dag = DeployOnce(project) if deploy else None

    def run_group(group: list[EtlTest]) -> list[TestResult]:
        if options.no_run:  # no Airflow at all: the checks read the warehouse only
            return [
                run_test(
                    project,
                    None,
                    t,
                    on_progress=report,
                    store_failures=store_failures,
                    options=options,
                )
                for t in group
            ]
        with project.airflow() as client:
            return [
                run_test(
                    project,
                    client,
                    test,
                    on_progress=report,
                    ensure_dag=ensure_dag,
                    store_failures=store_failures,
                    options=options,
                )
                for test in group
            ]

    if parallel <= 1:
        results = run_group(tests)
    else:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            results = [r for group in pool.map(run_group, conflict_groups(tests)) for r in group]
    order = {t.name: i for i, t in enumerate(tests)}
    return sorted(results, key=lambda r: order[r.name])


def conflict_groups(tests: list[EtlTest]) -> list[list[EtlTest]]:
    """Tests that share a DAG, a seed or a fixture folder run one after another; groups run together."""
    groups: list[list[EtlTest]] = []
    keys: list[set[str]] = []
    for test in tests:
        mine = (
            {f"dag:{test.dag}"}
            | {f"seed:{s}" for s in test.seeds}
            | {f"files:{f.target}" for f in test.files}
        )
        joined = [i for i, k in enumerate(keys) if k & mine]
        if not joined:
            groups.append([test])
            keys.append(mine)
            continue
        first = joined[0]
        for other in reversed(joined[1:]):
            groups[first].extend(groups.pop(other))
            keys[first] |= keys.pop(other)
        groups[first].append(test)
        keys[first] |= mine
    return groups
