"""Test reports a CI server and a person can both read: JUnit XML, JSON and one HTML page."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinyctl import __version__
from tinyctl.data.test_etl.runner import TestResult
from tinyctl.state.fsutil import write_atomic

_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def xml_text(text: str) -> str:
    """Text XML 1.0 can hold: colour codes removed, other control characters dropped."""
    return _XML_ILLEGAL.sub("", _ANSI.sub("", text))


def summary(results: list[TestResult]) -> dict[str, Any]:
    return {
        "passed": sum(r.status == "passed" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "errors": sum(r.status == "error" for r in results),
        "total": len(results),
        "seconds": round(sum(r.seconds for r in results), 2),
    }


def as_json(project: str, results: list[TestResult]) -> dict[str, Any]:
    return {
        "project": project,
        "ok": all(r.passed for r in results),
        "summary": summary(results),
        "tests": [r.as_dict() for r in results],
    }


def _failure_text(result: TestResult) -> str:
    lines = [result.message]
    if result.failed_task:
        lines.append(f"failed task: {result.failed_task}")
    if result.log_tail:
        lines += ["", "log tail:", result.log_tail]
    for e in result.expectations:
        if e.status != "pass":
            label = "WARN " if e.warned else ""
            lines.append(f"- {label}{e.name}: {e.message}")
            if e.stored_in:
                lines.append(f"  all offending rows: {e.stored_in}")
            if e.rows:
                lines.append("  " + " | ".join(e.columns))
                lines += ["  " + " | ".join(str(v) for v in row) for row in e.rows]
    return "\n".join(lines)


def junit_xml(project: str, results: list[TestResult]) -> bytes:
    counts = summary(results)
    suites = ET.Element(
        "testsuites",
        name="tinyctl",
        tests=str(counts["total"]),
        failures=str(counts["failed"]),
        errors=str(counts["errors"]),
        time=f"{counts['seconds']:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"tinyctl.{project}",
        tests=str(counts["total"]),
        failures=str(counts["failed"]),
        errors=str(counts["errors"]),
        skipped="0",
        time=f"{counts['seconds']:.3f}",
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    )
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"tinyctl.{project}.{result.dag}",
            name=result.name,
            time=f"{result.seconds:.3f}",
        )
        if result.status == "failed":
            ET.SubElement(
                case, "failure", message=xml_text(result.message), type="EtlTestFailure"
            ).text = xml_text(_failure_text(result))
        elif result.status == "error":
            ET.SubElement(
                case, "error", message=xml_text(result.message), type="EtlTestError"
            ).text = xml_text(_failure_text(result))
        out = [f"dag run {result.run_id} ({result.run_state})"] if result.run_id else []
        out += [
            f"{e.status.upper() if e.status != 'error' else 'FAIL'} {e.name}: {e.message}"
            + (f" [offending rows in {e.stored_in}]" if e.stored_in else "")
            for e in result.expectations
        ]
        out += [f"rows {table}: {count}" for table, count in result.row_counts.items()]
        if out:
            ET.SubElement(case, "system-out").text = xml_text("\n".join(out))
    ET.indent(suites)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="utf-8") + b"\n"
    )


STATE_COLOURS = {
    "success": "#2e9e5b",
    "failed": "#d64545",
    "upstream_failed": "#e08a3c",
    "skipped": "#b5b5c3",
    "running": "#3b82f6",
    "queued": "#9aa5b1",
    "scheduled": "#9aa5b1",
    None: "#d0d4da",
}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2430;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem} .sub{color:#667} .pill{display:inline-block;border-radius:999px;padding:.1rem .6rem;font-weight:600;color:#fff}
.passed{background:#2e9e5b}.failed{background:#d64545}.error{background:#8a4fd6}
section{border:1px solid #e3e6eb;border-radius:10px;margin:1.25rem 0;padding:1rem 1.25rem}
section h2{font-size:1.1rem;margin:0 0 .5rem;display:flex;gap:.6rem;align-items:center}
table{border-collapse:collapse;width:100%;margin:.5rem 0} td,th{border-bottom:1px solid #eef0f3;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{color:#556;font-weight:600} .ok{color:#2e9e5b;font-weight:700} .ko{color:#d64545;font-weight:700} .warn{color:#c98a00;font-weight:700}
.timeline{position:relative;margin:.5rem 0} .row{display:flex;align-items:center;height:22px}
.row .name{width:220px;flex:none;font-family:ui-monospace,monospace;font-size:12px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.row .track{position:relative;flex:1;height:14px;background:#f4f5f7;border-radius:4px}
.row .bar{position:absolute;top:0;height:14px;border-radius:4px;min-width:2px}
pre{background:#1f2430;color:#e6e6e6;padding:.75rem;border-radius:8px;overflow:auto;font-size:12px}
.sample td{font-family:ui-monospace,monospace;font-size:12px}
"""


def _timeline(result: TestResult) -> str:
    spans = [t for t in result.tasks if t.start]
    if not spans:
        return "<p class=sub>No task ran.</p>"
    begin = min(t.start for t in spans)
    end = max((t.end or t.start) for t in spans)
    total = max((end - begin).total_seconds(), 0.001)
    rows = []
    for task in sorted(result.tasks, key=lambda t: (t.start or end, t.task_id, t.map_index)):
        colour = STATE_COLOURS.get(task.state, "#9aa5b1")
        if task.start:
            left = (task.start - begin).total_seconds() / total * 100
            width = max(((task.end or task.start) - task.start).total_seconds() / total * 100, 0.4)
            seconds = ((task.end or task.start) - task.start).total_seconds()
            bar = f'<div class=bar style="left:{left:.2f}%;width:{width:.2f}%;background:{colour}" title="{html.escape(str(task.state))} {seconds:.2f}s"></div>'
        else:
            bar = ""
        rows.append(
            f'<div class=row><div class=name title="{html.escape(task.label)}">{html.escape(task.label)} '
            f'<span style="color:{colour}">●</span></div><div class=track>{bar}</div></div>'
        )
    return f"<div class=timeline>{''.join(rows)}</div><p class=sub>Run took {total:.1f}s from the first task start to the last task end.</p>"


def _expectations(result: TestResult) -> str:
    if not result.expectations:
        return "<p class=sub>No expectation was evaluated.</p>" if result.status != "passed" else ""
    rows = []
    for e in result.expectations:
        mark = {
            "pass": "<span class=ok>✓</span>",
            "warn": "<span class=warn>! warn</span>",
        }.get(e.status, "<span class=ko>✗</span>")
        sample = (
            f"<p class=sub>All offending rows: <code>{html.escape(e.stored_in)}</code></p>"
            if e.stored_in
            else ""
        )
        if e.rows:
            head = "".join(f"<th>{html.escape(c)}</th>" for c in e.columns)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                for row in e.rows
            )
            sample += f"<table class=sample><tr>{head}</tr>{body}</table>"
        rows.append(
            f"<tr><td>{mark}</td><td>{html.escape(e.name)}</td><td>{html.escape(e.message)}{sample}</td></tr>"
        )
    return (
        "<table><tr><th></th><th>expectation</th><th>result</th></tr>" + "".join(rows) + "</table>"
    )


def html_report(project: str, results: list[TestResult]) -> bytes:
    counts = summary(results)
    status = "passed" if counts["passed"] == counts["total"] else "failed"
    sections = []
    for r in results:
        counts_rows = "".join(
            f"<tr><td>{html.escape(t)}</td><td>{'—' if c is None else c}</td></tr>"
            for t, c in r.row_counts.items()
        )
        log = (
            f"<h3>Log tail of {html.escape(r.failed_task or '')}</h3><pre>{html.escape(r.log_tail)}</pre>"
            if r.log_tail
            else ""
        )
        sections.append(
            f"<section><h2><span class='pill {r.status}'>{r.status}</span>{html.escape(r.name)}"
            f"<span class=sub>DAG {html.escape(r.dag)} · {r.seconds:.1f}s</span></h2>"
            f"<p>{html.escape(r.message)}</p>"
            + (
                f"<p class=sub>run id {html.escape(r.run_id)} · state {html.escape(str(r.run_state))}</p>"
                if r.run_id
                else ""
            )
            + "<h3>Task timeline</h3>"
            + _timeline(r)
            + "<h3>Expectations</h3>"
            + _expectations(r)
            + (
                f"<h3>Row counts</h3><table><tr><th>table</th><th>rows</th></tr>{counts_rows}</table>"
                if counts_rows
                else ""
            )
            + log
            + "</section>"
        )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>tinyctl test-etl: {html.escape(project)}</title>"
        f"<style>{CSS}</style><h1>ETL smoke tests: {html.escape(project)} <span class='pill {status}'>"
        f"{counts['passed']}/{counts['total']} passed</span></h1>"
        f"<p class=sub>Generated {generated} by tinyctl {__version__} · {counts['seconds']:.1f}s in total</p>"
        + "".join(sections)
        + "</html>\n"
    )
    return page.encode()


def write_report(path: Path, content: bytes) -> None:
    write_atomic(path.absolute(), content)
