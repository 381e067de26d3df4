"""`tinyctl test-etl` end to end (tinyctl/data/test_etl/runner.py, reports.py, expectations.py).

Runs DAGs through the shared live stack's real scheduler. The extra tests live in a second
spec file next to tinyctl.yaml with the same project name (`-s tinyctl-etltest.yaml`), with
their own small DAGs (`tt_etl_*`) and seed table (`staging.tt_etl_orders`); all of it is
removed afterwards.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from conftest import Stack, plain

from tinyctl.data.test_etl.kinds import expand

SPEC_NAME = "tinyctl-etltest.yaml"
SEED_FOLDER = "seeds/tt_etl"
DAG_FILES = ("tt_etl_noop_a.py", "tt_etl_noop_b.py", "tt_etl_boom.py", "tt_etl_totals.py")
FIXTURE_FOLDER = "tt_etl_fixture"  # in the data folder, where the test's fixture file goes
MARKER = "tinyctl-boom-marker"

ORDERS_CSV = (
    "order_id,customer_id,status,amount\n"
    "1,1,paid,10.00\n"
    "2,2,pending,250.00\n"
    "3,3,refunded,5.00\n"
    "4,1,pending,120.00\n"
    "5,2,paid,30.00\n"
)

NOOP_DAG = """from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["tinyctl-test"])
def {dag_id}():
    @task
    def nothing():
        return 1

    nothing()


{dag_id}()
"""

BOOM_DAG = f'''from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="tt_etl_boom", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     default_args={{"retries": 0}}, tags=["tinyctl-test"])
def tt_etl_boom():
    @task
    def prepare():
        return 1

    @task
    def explode(value):
        raise ValueError("{MARKER}")

    @task
    def after(value):
        return value

    after(explode(prepare()))


tt_etl_boom()
'''

# A transformation whose output `expected:` checks; the "changed" one multiplies the amounts.
TOTALS_SQL = (
    "CREATE TABLE staging.tt_etl_totals AS SELECT status, count(*) AS orders, {amount} AS amount"
    " FROM staging.tt_etl_orders GROUP BY status"
)
GOOD_AMOUNT, CHANGED_AMOUNT = "sum(amount)", "round(sum(amount) * 1.1, 2)"
TOTALS_DAG = """from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

SQL = "{sql}"


@dag(dag_id="tt_etl_totals", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     default_args={{"retries": 0}}, tags=["tinyctl-test"])
def tt_etl_totals():
    @task
    def build():
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        PostgresHook(postgres_conn_id="warehouse").run(
            ["DROP TABLE IF EXISTS staging.tt_etl_totals", SQL], autocommit=True
        )

    build()


tt_etl_totals()
"""
TOTALS_CSV = "status,orders,amount\npaid,2,40.00\npending,2,370.00\nrefunded,1,5.00\n"

PASSING = [{"sql": {"query": "SELECT 1", "equals": 1}}]
EXTRA_TESTS = [
    {
        "name": "tt_etl_wrong",
        "dag": "tt_etl_noop_a",
        "seeds": ["tt_etl_orders"],
        "timeout": "3m",
        "expect": [
            {"row_count": {"table": "staging.tt_etl_orders", "equals": 999}},
            {
                "accepted_values": {
                    "table": "staging.tt_etl_orders",
                    "column": "status",
                    "values": ["paid", "refunded"],
                }
            },
            {
                "name": "tt no big orders",
                "sql": {
                    "query": "SELECT order_id, amount FROM staging.tt_etl_orders WHERE amount > 100 ORDER BY order_id"
                },
            },
            {"not_null": {"table": "staging.tt_etl_orders", "columns": ["order_id", "status"]}},
        ],
    },
    {
        "name": "tt_etl_thresholds",
        "dag": "tt_etl_noop_b",
        "seeds": ["tt_etl_orders"],
        "timeout": "3m",
        "tags": ["tt_sev"],
        "expect": [
            {
                "accepted_values": {
                    "table": "staging.tt_etl_orders",
                    "column": "status",
                    "values": ["paid", "refunded"],
                },
                "severity": "warn",
            },
            {
                "name": "tt big orders within limits",
                "sql": {"query": "SELECT * FROM staging.tt_etl_orders WHERE amount > 100"},
                "error_if": ">5",
                "warn_if": ">1",
            },
            {"not_null": {"table": "staging.tt_etl_orders", "columns": ["order_id"]}},
        ],
    },
    {
        "name": "tt_etl_thresholds_fail",
        "dag": "tt_etl_noop_b",
        "seeds": ["tt_etl_orders"],
        "timeout": "3m",
        "tags": ["tt_sev_fail"],
        "expect": [
            {
                "name": "tt big orders over the limit",
                "sql": {"query": "SELECT * FROM staging.tt_etl_orders WHERE amount > 100"},
                "error_if": ">1",
            },
        ],
    },
    {
        "name": "tt_etl_expected",
        "dag": "tt_etl_totals",
        "seeds": ["tt_etl_orders"],
        "files": [{"from": f"{SEED_FOLDER}/orders.csv", "to": FIXTURE_FOLDER}],
        "timeout": "3m",
        "tags": ["tt_expected"],
        "expect": [
            {
                "expected": {
                    "table": "staging.tt_etl_totals",
                    "file": f"{SEED_FOLDER}/totals.csv",
                    "key": ["status"],
                }
            },
            {
                "columns": {
                    "table": "staging.tt_etl_totals",
                    "columns": {"status": "text", "orders": "int8", "amount": "numeric"},
                }
            },
            {
                "reconcile": {
                    "from": "fixture",
                    "to": "staging.tt_etl_orders",
                    "aggregates": {"amount": "sum"},
                    "keys": ["order_id"],
                }
            },
            {
                "range": {
                    "table": "staging.tt_etl_orders",
                    "column": "amount",
                    "min": ">= 0",
                    "change_vs_previous": "<=20%",
                }
            },
        ],
    },
    {"name": "tt_etl_boom", "dag": "tt_etl_boom", "timeout": "3m"},
    {"name": "tt_etl_par_a", "dag": "tt_etl_noop_a", "timeout": "3m", "expect": PASSING},
    {"name": "tt_etl_par_b", "dag": "tt_etl_noop_b", "timeout": "3m", "expect": PASSING},
]


def run_json(s: Stack, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = s.run("test-etl", *args, "--json")
    try:
        return result, json.loads(result.stdout)
    except ValueError:
        pytest.fail(
            f"test-etl --json printed no JSON (exit {result.returncode})\n{result.stdout}\n{result.stderr}"
        )


def by_name(data: dict) -> dict[str, dict]:
    return {t["name"]: t for t in data["tests"]}


@pytest.fixture(scope="module")
def etl(live_stack: Stack) -> Iterator[Stack]:
    root = live_stack.root
    (root / SEED_FOLDER).mkdir(parents=True, exist_ok=True)
    (root / SEED_FOLDER / "orders.csv").write_text(ORDERS_CSV)
    (root / "dags" / "tt_etl_noop_a.py").write_text(NOOP_DAG.format(dag_id="tt_etl_noop_a"))
    (root / "dags" / "tt_etl_noop_b.py").write_text(NOOP_DAG.format(dag_id="tt_etl_noop_b"))
    (root / "dags" / "tt_etl_boom.py").write_text(BOOM_DAG)
    (root / "dags" / "tt_etl_totals.py").write_text(
        TOTALS_DAG.format(sql=TOTALS_SQL.format(amount=GOOD_AMOUNT))
    )
    (root / SEED_FOLDER / "totals.csv").write_text(TOTALS_CSV)
    spec = yaml.safe_load((root / "tinyctl.yaml").read_text())
    spec["seeds"] = [
        *spec.get("seeds", []),
        {
            "name": "tt_etl_orders",
            "csv": f"{SEED_FOLDER}/orders.csv",
            "table": "staging.tt_etl_orders",
            "columns": {
                "order_id": "integer",
                "customer_id": "integer",
                "status": "text",
                "amount": "numeric(10,2)",
            },
        },
    ]
    spec["tests"] = [*spec.get("tests", []), *EXTRA_TESTS]
    (root / SPEC_NAME).write_text(yaml.safe_dump(spec, sort_keys=False))
    try:
        yield live_stack
    finally:
        for name in DAG_FILES:
            (root / "dags" / name).unlink(missing_ok=True)
        (root / SPEC_NAME).unlink(missing_ok=True)
        shutil.rmtree(root / SEED_FOLDER, ignore_errors=True)
        shutil.rmtree(root / "data" / FIXTURE_FOLDER, ignore_errors=True)
        pruned = live_stack.run("deploy-dags", "--prune", "--json")
        live_stack.psql(
            "DROP TABLE IF EXISTS staging.tt_etl_orders; DROP TABLE IF EXISTS staging.tt_etl_totals"
        )
        assert pruned.returncode == 0, pruned.stdout + pruned.stderr


@pytest.fixture(scope="module")
def boom_and_pass(
    etl: Stack, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, dict, Path, Path]:
    """One run of a failing test (a task raises) and a passing one, with both reports."""
    out = tmp_path_factory.mktemp("mixed")
    junit, page = out / "mixed.xml", out / "mixed.html"
    result, data = run_json(
        etl,
        "-s",
        SPEC_NAME,
        "-k",
        "tt_etl_boom",
        "-k",
        "tt_etl_par_a",
        "--junit",
        str(junit),
        "--html",
        str(page),
    )
    return result.returncode, data, junit, page


# --------------------------------------------------------------------------- stack tests


@pytest.mark.stack
def test_the_sample_spec_passes_end_to_end(live_stack: Stack, tmp_path: Path) -> None:
    junit, page = tmp_path / "r.xml", tmp_path / "r.html"
    result, data = run_json(live_stack, "--junit", str(junit), "--html", str(page))
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    selected = [t.name for t in live_stack.loaded().spec.tests]
    assert "orders_2026_11_01" in selected
    assert data["ok"] is True
    assert data["summary"]["passed"] == data["summary"]["total"] == len(selected)
    sample = by_name(data)["orders_2026_11_01"]
    assert sample["status"] == "passed" and sample["run_state"] == "success"
    assert sample["failed_task"] is None and sample["log_tail"] is None
    spec_test = next(t for t in live_stack.loaded().spec.tests if t.name == "orders_2026_11_01")
    assert len(sample["expectations"]) == len(expand(list(spec_test.expect))) >= 9
    kinds = {e["kind"] for e in sample["expectations"]}
    assert kinds >= {"expected", "columns", "reconcile", "range"}  # one example of each
    assert all(e["passed"] for e in sample["expectations"])  # the warn-severity one included
    assert sample["row_counts"]["staging.orders"] >= 14
    assert {t["task_id"] for t in sample["tasks"]} >= {
        "ensure_tables",
        "find_files",
        "load_file",
        "build_daily_revenue",
        "archive_files",
    }
    assert all(t["state"] == "success" for t in sample["tasks"])
    print(
        f"\n[observed] sample test-etl: {sample['seconds']} s in total, DAG run {sample['run_seconds']} s"
    )

    root = ET.parse(junit).getroot()
    cases = list(root.iter("testcase"))
    assert [c.get("name") for c in cases] == selected
    assert (
        root.get("failures") == "0"
        and root.get("errors") == "0"
        and root.get("tests") == str(len(selected))
    )
    assert not list(root.iter("failure")) and not list(root.iter("error"))
    assert cases[0].get("classname") == f"tinyctl.{live_stack.name}.staging_orders"
    assert "PASS daily revenue of 2026-11-01" in cases[0].findtext("system-out")

    html = page.read_text()
    assert html.startswith("<!doctype html>")
    assert "orders_2026_11_01" in html and "Task timeline" in html
    assert "class=timeline" in html and "class=bar" in html
    for task in ("ensure_tables", "load_file[0]", "build_daily_revenue", "archive_files"):
        assert task in html
    assert "1/1 passed" in html or f"{len(selected)}/{len(selected)} passed" in html


@pytest.mark.stack
@pytest.mark.one_runtime  # reports and selections: the same on every runtime
def test_wrong_expectations_fail_and_show_the_offending_rows(etl: Stack) -> None:
    result, data = run_json(etl, "-s", SPEC_NAME, "-k", "tt_etl_wrong")
    assert result.returncode == 1, f"{result.stdout}\n{result.stderr}"
    assert data["ok"] is False and data["summary"]["failed"] == 1
    [test] = data["tests"]
    assert test["name"] == "tt_etl_wrong" and test["status"] == "failed"
    assert test["run_state"] == "success", "the run itself succeeded; the expectations failed"
    assert test["message"] == "3 of 4 expectation(s) failed"
    checks = {e["name"]: e for e in test["expectations"]}
    count = checks["row_count(staging.tt_etl_orders) = 999"]
    assert count["passed"] is False and "has 5 row(s); expected exactly 999" in count["message"]
    accepted = checks["accepted_values(staging.tt_etl_orders.status)"]
    assert accepted["passed"] is False
    assert accepted["columns"] == ["value", "rows"] and accepted["rows"] == [["pending", 2]]
    assert "2 row(s)" in accepted["message"] and "'pending'" in accepted["message"]
    custom = checks["tt no big orders"]
    assert custom["passed"] is False and "returned 2 row(s); expected none" in custom["message"]
    assert custom["columns"] == ["order_id", "amount"] and custom["rows"] == [
        [2, "250.00"],
        [4, "120.00"],
    ]
    assert checks["not_null(staging.tt_etl_orders: order_id, status)"]["passed"] is True
    assert test["row_counts"] == {"staging.tt_etl_orders": 5}

    console = etl.run("test-etl", "-s", SPEC_NAME, "-k", "tt_etl_wrong")
    assert console.returncode == 1
    lines = console.stdout.splitlines()
    assert any(
        "✗ FAIL tt_etl_wrong" in line and "3 of 4 expectation(s) failed" in line for line in lines
    ), console.stdout
    assert any("✗ row_count(staging.tt_etl_orders) = 999" in line for line in lines)
    assert any("✗ accepted_values(staging.tt_etl_orders.status)" in line for line in lines)
    assert any(line.split() == ["pending", "2"] for line in lines), (
        "the offending value and its count are shown"
    )
    assert any(line.split() == ["2", "250.00"] for line in lines) and any(
        line.split() == ["4", "120.00"] for line in lines
    )
    assert any("✓ not_null(staging.tt_etl_orders: order_id, status)" in line for line in lines)
    assert "0 passed, 1 failed, 0 errors" in console.stdout


@pytest.mark.stack
@pytest.mark.one_runtime  # reports and selections: the same on every runtime
def test_a_task_that_raises_fails_the_test_naming_the_task_and_its_log(boom_and_pass) -> None:
    code, data, _junit, page = boom_and_pass
    assert code == 1, data
    boom = by_name(data)["tt_etl_boom"]
    assert boom["status"] == "failed" and boom["run_state"] == "failed"
    assert boom["failed_task"] == "explode"
    assert "explode" in boom["message"]
    assert MARKER in boom["log_tail"], boom["log_tail"]
    assert f"ValueError: {MARKER}" in boom["log_tail"]
    assert boom["expectations"] == [], "no expectation is evaluated after a failed run"
    states = {t["task_id"]: t["state"] for t in boom["tasks"]}
    assert states == {"prepare": "success", "explode": "failed", "after": "upstream_failed"}
    html = page.read_text()
    assert "Log tail of explode" in html and MARKER in html


@pytest.mark.stack
@pytest.mark.one_runtime  # reports and selections: the same on every runtime
def test_junit_with_one_failing_and_one_passing_test(boom_and_pass) -> None:
    _code, data, junit, _page = boom_and_pass
    assert [t["name"] for t in data["tests"]] == ["tt_etl_boom", "tt_etl_par_a"], (
        "-k picks exactly these, in spec order"
    )
    assert by_name(data)["tt_etl_par_a"]["status"] == "passed"
    root = ET.fromstring(junit.read_bytes())  # valid XML
    suite = root.find("testsuite")
    assert suite is not None
    for element in (root, suite):
        assert (
            element.get("tests") == "2"
            and element.get("failures") == "1"
            and element.get("errors") == "0"
        )
    failures = list(root.iter("failure"))
    assert len(failures) == 1
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"tt_etl_boom", "tt_etl_par_a"}
    assert cases["tt_etl_boom"].find("failure") is failures[0]
    assert cases["tt_etl_par_a"].find("failure") is None
    assert "explode" in failures[0].get("message") and MARKER in failures[0].text


@pytest.mark.stack
@pytest.mark.one_runtime  # reports and selections: the same on every runtime
def test_k_selects_a_subset_and_parallel_runs_independent_tests(etl: Stack) -> None:
    result, data = run_json(etl, "-s", SPEC_NAME, "-k", "tt_etl_par_*", "--parallel", "2")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert [t["name"] for t in data["tests"]] == ["tt_etl_par_a", "tt_etl_par_b"]
    assert all(t["status"] == "passed" for t in data["tests"])
    a, b = data["tests"]
    assert a["dag"] != b["dag"]
    spans = [
        (
            min(datetime.fromisoformat(t["start"]) for t in x["tasks"]),
            max(datetime.fromisoformat(t["end"]) for t in x["tasks"]),
        )
        for x in (a, b)
    ]
    overlap = min(spans[0][1], spans[1][1]) > max(spans[0][0], spans[1][0])
    print(
        f"\n[observed] --parallel 2: {a['seconds']} s and {b['seconds']} s, task spans overlap: {overlap}"
    )


@pytest.mark.stack
@pytest.mark.one_runtime  # reports and selections: the same on every runtime
def test_warnings_pass_errors_fail_and_failures_are_stored(etl: Stack, tmp_path: Path) -> None:
    result, data = run_json(etl, "-s", SPEC_NAME, "--select", "tag:tt_sev", "--store-failures")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [t["name"] for t in data["tests"]] == ["tt_etl_thresholds"]
    checks = data["tests"][0]["expectations"]
    assert [c["status"] for c in checks] == ["warn", "warn", "pass"]
    assert [c["failures"] for c in checks] == [2, 2, 0]
    assert checks[0]["stored_in"] == "test_failures.tt_etl_thresholds__1_accepted_values"
    assert checks[1]["stored_in"] == "test_failures.tt_etl_thresholds__2_sql"
    assert checks[2]["stored_in"] is None
    stored = etl.psql("SELECT status FROM test_failures.tt_etl_thresholds__1_accepted_values")
    assert stored.count("pending") == 2
    junit = tmp_path / "fail.xml"
    failing = etl.run(
        "test-etl",
        SPEC_NAME,  # the spec as an argument
        "--select",
        "tag:tt_sev_fail",
        "--store-failures",
        "--junit",
        str(junit),
    )
    assert failing.returncode == 1
    text = plain(failing.stdout)
    assert "all rows in test_failures.tt_etl_thresholds_fail__1_sql" in text
    assert "offending rows: test_failures.tt_etl_thresholds_fail__1_sql" in junit.read_text()
    assert "2" in etl.psql("SELECT count(*) FROM test_failures.tt_etl_thresholds_fail__1_sql")
    nothing = etl.run("test-etl", "-s", SPEC_NAME, "--select", "tag:no_such_tag")
    assert nothing.returncode == 2 and "tt_sev" in plain(nothing.stderr)


@pytest.mark.stack
@pytest.mark.one_runtime  # reports and selections: the same on every runtime
def test_a_k_pattern_matching_nothing_is_bad_input(etl: Stack) -> None:
    result = etl.run("test-etl", "-s", SPEC_NAME, "-k", "tt_etl_matches_nothing")
    assert result.returncode == 2
    message = plain(result.stderr)
    assert "no test matches 'tt_etl_matches_nothing'" in message
    assert "tt_etl_par_a" in message, "the hint lists the tests"


# --------------------------------------------------------------------------- issue 21's kinds


def _deploy_totals(etl: Stack, amount: str) -> None:
    (etl.root / "dags" / "tt_etl_totals.py").write_text(
        TOTALS_DAG.format(sql=TOTALS_SQL.format(amount=amount))
    )


@pytest.mark.stack
@pytest.mark.one_runtime  # reports and selections: the same on every runtime
def test_expected_output_passes_then_a_changed_transformation_names_the_changed_cell(
    etl: Stack, tmp_path: Path
) -> None:
    _deploy_totals(etl, GOOD_AMOUNT)
    result, data = run_json(etl, "-s", SPEC_NAME, "--select", "tag:tt_expected")
    assert result.returncode == 0, result.stdout + result.stderr
    checks = data["tests"][0]["expectations"]
    assert [c["kind"] for c in checks] == ["expected", "columns", "reconcile", "range"]
    assert all(c["status"] == "pass" for c in checks), checks
    try:
        _deploy_totals(etl, CHANGED_AMOUNT)
        page = tmp_path / "changed.html"
        failing = etl.run(
            "test-etl", "-s", SPEC_NAME, "--select", "tag:tt_expected", "--html", str(page)
        )
        assert failing.returncode == 1, failing.stdout + failing.stderr
        text = plain(failing.stdout)
        assert "3 changed row(s)" in text
        assert "amount: 40.00 -> 44.00" in text and "amount: 370.00 -> 407.00" in text
        assert "amount: 40.00 -&gt; 44.00" in page.read_text()  # the page carries the diff
        _, data = run_json(etl, "--no-run", "-s", SPEC_NAME, "--select", "tag:tt_expected")
        diff = data["tests"][0]["expectations"][0]["details"]["diff"]
        assert diff["counts"] == {"missing": 0, "unexpected": 0, "changed": 3}
        assert (
            data["dag_runs"] is False and "no DAG run (--no-run)" not in data["tests"][0]["message"]
        )
    finally:
        _deploy_totals(etl, GOOD_AMOUNT)


@pytest.mark.stack
@pytest.mark.one_runtime  # reports and selections: the same on every runtime
def test_history_records_every_run_and_the_change_bound_catches_a_jump(etl: Stack) -> None:
    """Passing --no-run checks build the history; 10 times the rows is far from their median."""
    for _ in range(2):
        result, _data = run_json(
            etl,
            "--no-run",
            "--seed",
            "-s",
            SPEC_NAME,
            "--select",
            "tag:tt_expected",
            "-k",
            "tt_etl_expected",
        )
        assert result.returncode in (0, 1), result.stdout + result.stderr
    runs = etl.json("history", "-s", SPEC_NAME, "--limit", "2")
    assert [r["mode"] for r in runs] == ["no-run", "no-run"]
    assert runs[0]["tests"][0]["test"] == "tt_etl_expected"
    etl.psql(
        "INSERT INTO staging.tt_etl_orders SELECT order_id + 100 * g, customer_id, status, amount FROM staging.tt_etl_orders, generate_series(1, 9) AS g"
    )
    try:
        result, data = run_json(etl, "--no-run", "-s", SPEC_NAME, "--select", "tag:tt_expected")
        assert result.returncode == 1
        ranged = data["tests"][0]["expectations"][3]
        assert ranged["kind"] == "range" and ranged["status"] == "error"
        assert "row_count 50 is 900% away from the median 5" in ranged["message"]
        history = etl.json("history", "-s", SPEC_NAME, "--limit", "1")
        assert history[0]["failed"] == 1
    finally:
        etl.psql("DELETE FROM staging.tt_etl_orders WHERE order_id > 100")
    report = etl.run("report", "-s", SPEC_NAME, "-o", "tt-report.html")
    assert report.returncode == 0 and "tt_etl_expected" in (etl.root / "tt-report.html").read_text()
    (etl.root / "tt-report.html").unlink()
