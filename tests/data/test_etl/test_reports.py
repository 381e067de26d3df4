"""Reports of ETL test results (tinyctl/data/test_etl/reports.py), from constructed results."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tinyctl.dags.run import TaskState
from tinyctl.data.test_etl import page, runner
from tinyctl.data.test_etl.expectations import ExpectationResult
from tinyctl.data.test_etl.history import History
from tinyctl.data.test_etl.reports import as_json, junit_xml, summary, write_report
from tinyctl.spec.models import EtlTest

Result = runner.TestResult  # not bound to a Test* name: pytest would try to collect it

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def task(
    task_id: str, state: str | None, start: float | None, end: float | None, map_index: int = -1
) -> TaskState:
    return TaskState(
        task_id,
        map_index,
        state,
        try_number=1,
        start=None if start is None else T0 + timedelta(seconds=start),
        end=None if end is None else T0 + timedelta(seconds=end),
    )


def passed() -> Result:
    return Result(
        "orders_ok",
        "staging_orders",
        status="passed",
        run_id="run_ok",
        run_state="success",
        message="run succeeded; 1 expectation(s) passed",
        tasks=[
            task("extract", "success", 0, 2),
            task("load", "success", 2, 5, map_index=0),
            task("load", "success", 2, 4, map_index=1),
        ],
        expectations=[
            ExpectationResult(
                "rows of orders",
                "row_count",
                True,
                "staging.orders has 14 row(s); expected exactly 14",
                table="staging.orders",
            )
        ],
        row_counts={"staging.orders": 14},
        seconds=6.25,
        run_seconds=5.5,
    )


def failed_expectation() -> Result:
    return Result(
        "orders_bad",
        "staging_orders",
        status="failed",
        run_id="run_bad",
        run_state="success",
        message="1 of 2 expectation(s) failed",
        tasks=[task("extract", "success", 0, 1)],
        expectations=[
            ExpectationResult(
                "statuses",
                "accepted_values",
                False,
                "2 row(s) have status outside the accepted values: 'lost'",
                ["value", "rows"],
                [["lost", 2]],
                "staging.orders",
            ),
            ExpectationResult(
                "not null", "not_null", True, "no NULL in order_id", table="staging.orders"
            ),
        ],
        row_counts={"staging.orders": 3, "staging.missing": None},
        seconds=3.0,
    )


def failed_task() -> Result:
    return Result(
        "boom",
        "boom_dag",
        status="failed",
        run_id="run_boom",
        run_state="failed",
        message="the DAG run failed: task explode failed",
        failed_task="explode",
        log_tail="Traceback (most recent call last):\nValueError: tinyctl-boom-marker <b>not html</b> & more",
        tasks=[
            task("prepare", "success", 0, 1),
            task("explode", "failed", 1, 2),
            task("after", "upstream_failed", None, None),
        ],
        seconds=4.0,
    )


def errored() -> Result:
    return Result(
        "missing",
        "no_such_dag",
        status="error",
        message="DAG 'no_such_dag' is not in Airflow",
        seconds=0.5,
    )


ALL = [passed(), failed_expectation(), failed_task(), errored()]


def parse(results: list[Result]) -> ET.Element:
    data = junit_xml("demo", results)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(data)


def test_summary_counts_each_status() -> None:
    assert summary(ALL) == {"passed": 1, "failed": 2, "errors": 1, "total": 4, "seconds": 13.75}
    assert summary([]) == {"passed": 0, "failed": 0, "errors": 0, "total": 0, "seconds": 0}


def test_junit_has_one_testcase_per_result_with_failures_and_errors() -> None:
    root = parse(ALL)
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "tinyctl.demo"
    for element in (root, suite):
        assert (element.get("tests"), element.get("failures"), element.get("errors")) == (
            "4",
            "2",
            "1",
        )
    assert suite.get("skipped") == "0" and suite.get("time") == "13.750"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["orders_ok", "orders_bad", "boom", "missing"]
    assert [c.get("classname") for c in cases] == [
        "tinyctl.demo.staging_orders",
        "tinyctl.demo.staging_orders",
        "tinyctl.demo.boom_dag",
        "tinyctl.demo.no_such_dag",
    ]
    assert cases[0].get("time") == "6.250"
    assert len(list(root.iter("failure"))) == 2 and len(list(root.iter("error"))) == 1
    ok, bad, boom, missing = cases
    assert ok.find("failure") is None and ok.find("error") is None
    assert "dag run run_ok (success)" in ok.findtext("system-out")
    assert "PASS rows of orders" in ok.findtext(
        "system-out"
    ) and "rows staging.orders: 14" in ok.findtext("system-out")

    failure = bad.find("failure")
    assert failure is not None and failure.get("message") == "1 of 2 expectation(s) failed"
    assert failure.get("type") == "EtlTestFailure"
    assert "- statuses: 2 row(s) have status outside the accepted values: 'lost'" in failure.text
    assert "value | rows" in failure.text and "lost | 2" in failure.text
    assert "not null" not in failure.text, "passing expectations are not listed as failures"

    failure = boom.find("failure")
    assert failure is not None and "failed task: explode" in failure.text
    assert "ValueError: tinyctl-boom-marker <b>not html</b> & more" in failure.text, (
        "the log tail round-trips through XML escaping"
    )

    error = missing.find("error")
    assert error is not None and error.get("type") == "EtlTestError"
    assert error.get("message") == "DAG 'no_such_dag' is not in Airflow"
    assert missing.find("system-out") is None, "nothing ran, nothing to print"


def test_junit_of_nothing_is_valid() -> None:
    root = parse([])
    assert root.get("tests") == "0" and not list(root.iter("testcase"))


def test_junit_stays_valid_xml_when_a_log_contains_control_characters() -> None:
    # Task logs may carry ANSI colour codes (dbt, rich, pytest...) or other control characters,
    # which XML 1.0 does not allow even escaped; the report must still parse in CI.
    result = failed_task()
    result.log_tail = "\x1b[31mERROR\x1b[0m something broke\x07\nValueError: tinyctl-boom-marker"
    root = parse([result])
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and "tinyctl-boom-marker" in failure.text


def page_of(results: list[Result], folder: Path) -> str:
    """The HTML page (`test-etl --html`, `ci run`'s report.html) after one run of `results`."""
    history = History(folder / "history.sqlite")
    tests = {r.name: EtlTest(name=r.name, dag=r.dag) for r in results}
    history.record("run-1", "run", results, tests, {r.name: [] for r in results})
    return page.render("demo", history).decode()


def test_the_page_names_each_test_and_draws_a_timeline(tmp_path: Path) -> None:
    text = page_of(ALL, tmp_path)
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")
    for name in ("orders_ok", "orders_bad", "boom", "missing"):
        assert f"id='test-{name}'" in text
    assert text.count("class=bar") == 6, "one bar per task that started"
    assert "load[0]" in text and "load[1]" in text
    assert "5.0s from the first task start" in text
    assert "<td>lost</td><td>2</td>" in text, "the offending rows"
    # The log tail is escaped, never interpreted as HTML
    assert "Log tail of explode" in text
    assert "&lt;b&gt;not html&lt;/b&gt; &amp; more" in text and "<b>not html</b>" not in text


def test_the_timeline_places_bars_relative_to_the_first_task(tmp_path: Path) -> None:
    text = page_of([passed()], tmp_path)
    # extract runs 0-2 s of a 5 s span; load[0] 2-5 s
    assert "left:0.00%;width:40.00%" in text
    assert "left:40.00%;width:60.00%" in text


def test_json_report_and_write(tmp_path: Path) -> None:
    data = as_json("demo", ALL)
    assert data["project"] == "demo" and data["ok"] is False
    assert data["summary"]["total"] == 4
    assert [t["status"] for t in data["tests"]] == ["passed", "failed", "failed", "error"]
    assert data["tests"][1]["expectations"][0]["rows"] == [["lost", 2]]
    assert data["tests"][0]["tasks"][1] == {
        "task_id": "load",
        "map_index": 0,
        "state": "success",
        "start": "2026-11-01T12:00:02+00:00",
        "end": "2026-11-01T12:00:05+00:00",
    }
    json.dumps(data)  # serialisable as it is
    assert as_json("demo", [passed()])["ok"] is True
    target = tmp_path / "out" / "r.xml"
    write_report(target, junit_xml("demo", ALL))
    assert ET.parse(target).getroot().get("tests") == "4"
