"""Test reports a CI server reads: JUnit XML and JSON (the HTML page a person reads is page.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def write_report(path: Path, content: bytes) -> None:
    write_atomic(path.absolute(), content)
