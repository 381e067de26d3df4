"""The HTML page of the run history (tinyctl/data/test_etl/page.py, history.py), and the page
in a real headless Chromium (Debian's, driven by Playwright; no browser is ever downloaded)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tinyctl.data.test_etl import page
from tinyctl.data.test_etl.expectations import ExpectationResult
from tinyctl.data.test_etl.history import History
from tinyctl.data.test_etl.runner import TestResult as Result
from tinyctl.spec.models import EtlTest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(
    os.environ.get("TINYCTL_TEST_ARTIFACTS") or Path(__file__).parents[3] / "test-artifacts"
)
DIFF = {
    "diff": {
        "key": ["order_date"],
        "columns": ["order_date", "revenue_eur"],
        "total": 3,
        "counts": {"missing": 1, "unexpected": 0, "changed": 2},
        "rows": {
            "missing": [{"key": {"order_date": "2026-11-03"}, "cells": "revenue_eur=1.00"}],
            "unexpected": [],
            "changed": [
                {"key": {"order_date": "2026-11-01"}, "cells": "revenue_eur: 1167.18 -> 1167.20"}
            ],
        },
    }
}
TESTS = {
    "daily_ok": EtlTest(name="daily_ok", dag="staging_orders", tags=["daily"]),
    "revenue": EtlTest(name="revenue", dag="staging_orders", tags=["nightly", "finance"]),
}


def results(run: int, revenue_fails: bool) -> list[Result]:
    ok = Result(
        "daily_ok", "staging_orders", status="passed", message="run succeeded", seconds=10 + run
    )
    ok.expectations = [
        ExpectationResult("row_count(staging.orders) = 14", "row_count", True, "14 rows")
    ]
    ok.row_counts = {"staging.orders": 14 + run}
    bad = Result(
        "revenue", "staging_orders", seconds=20 + run, run_id=f"tinyctl_test__revenue__{run}"
    )
    bad.status = "failed" if revenue_fails else "passed"
    bad.message = "1 of 1 expectation(s) failed" if revenue_fails else "run succeeded"
    bad.expectations = [
        ExpectationResult(
            "daily revenue",
            "expected",
            not revenue_fails,
            "analytics.daily_revenue differs: 1 missing row(s), 2 changed row(s)"
            if revenue_fails
            else "matches",
            ["diff", "order_date", "cells", "of_kind"],
            [["changed", "2026-11-01", "revenue_eur: 1167.18 -> 1167.20", 2]]
            if revenue_fails
            else [],
            failures=3 if revenue_fails else 0,
            details=DIFF if revenue_fails else {},
        )
    ]
    bad.row_counts = {"analytics.daily_revenue": 1}
    return [ok, bad]


@pytest.fixture
def history(tmp_path: Path) -> History:
    h = History(tmp_path / "state" / "history.sqlite")
    tables = {"daily_ok": [["staging.orders"]], "revenue": [["analytics.daily_revenue"]]}
    for run in range(3):
        h.record(f"run-{run}", "run", results(run, revenue_fails=False), TESTS, tables)
    h.record("run-3", "no-run", results(3, revenue_fails=True), TESTS, tables)
    return h


def test_history_keeps_each_run_and_the_latest_result_of_each_test(history: History) -> None:
    assert [r.run_id for r in history.runs()] == ["run-3", "run-2", "run-1", "run-0"]
    latest = {item["test"]: item for item in history.latest()}
    assert latest["revenue"]["status"] == "failed" and latest["revenue"]["mode"] == "no-run"
    trend = history.trend("daily_ok")
    assert [p["seconds"] for p in trend] == [10, 11, 12, 13]
    assert [p["row_counts"]["staging.orders"] for p in trend] == [14, 15, 16, 17]
    assert history.previous("revenue", "daily revenue", "row_count", 5) == []  # no metric kept
    assert history.as_json(1)[0]["tests"][1] == {
        "test": "revenue",
        "status": "failed",
        "seconds": 23,
        "tags": ["nightly", "finance"],
    }


def test_the_page_is_self_contained(history: History) -> None:
    text = page.render("demo", history).decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing from the network
    assert "<svg" in text and "<style>" in text
    assert "No DAG ran" in text  # the latest run was --no-run
    assert "revenue_eur: 1167.18 -&gt; 1167.20" in text and "and 1 more changed" in text
    assert text.index("id='test-revenue'") < text.index("id='test-daily_ok'")  # failures first


@pytest.mark.browser
def test_the_page_in_a_headless_chromium(history: History, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make tools` (Debian's chromium package)")
    from playwright.sync_api import sync_playwright  # only this test needs it

    file = tmp_path / "report.html"
    file.write_bytes(page.render("demo", history))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, ARTIFACTS / "test-etl-report.html")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 900})
            problems: list[str] = []
            tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: problems.append(str(e)))
            requests: list[str] = []
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto(file.as_uri())
            assert problems == []
            assert all(url.startswith("file://") for url in requests)
            changed = tab.locator("#test-revenue tr.diff-changed")
            assert (
                changed.is_visible() and "revenue_eur: 1167.18 -> 1167.20" in changed.inner_text()
            )
            assert tab.locator("#shown").inner_text() == "2 of 2 test(s) shown"
            tab.screenshot(path=str(ARTIFACTS / "test-etl-report.png"), full_page=True)
            tab.click("label[for=status-failed]")
            assert tab.locator("#test-daily_ok").is_hidden()
            assert tab.locator("#test-revenue").is_visible()
            assert tab.locator("#shown").inner_text() == "1 of 2 test(s) shown"
            assert tab.url.endswith("#status=failed")
            tab.click("label[for=status-all]")
            tab.click("label[for=tag-0]")  # tags sorted: daily first
            assert (
                tab.locator("#test-revenue").is_hidden()
                and tab.locator("#test-daily_ok").is_visible()
            )
            # Without JavaScript the filters still work (radio buttons and CSS :has()).
            plain = browser.new_page(java_script_enabled=False)
            plain.goto(file.as_uri())
            plain.click("label[for=status-failed]")
            assert (
                plain.locator("#test-daily_ok").is_hidden()
                and plain.locator("#test-revenue").is_visible()
            )
            assert problems == []
        finally:
            browser.close()
