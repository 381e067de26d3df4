"""What `tinyctl ci run` leaves in its output folder for a CI user without a shell on the runner.

junit.xml         the ETL tests (or, when they could not run, the stage that failed)
report.html       one-page HTML report of the ETL tests
report.json       the ETL tests as JSON (`tinyctl test-etl --json`)
ci-summary.json   the run: name, ports, stages with timings and errors, exit code
status.json       on failure: `tinyctl status --json` of the run's stack before teardown
logs/SERVICE.log  on failure: the last lines of every service's log
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinyctl.ci.stages import StageRecord
from tinyctl.data.test_etl.reports import xml_text
from tinyctl.state.fsutil import write_atomic

JUNIT = "junit.xml"
HTML = "report.html"
JSON = "report.json"
SUMMARY = "ci-summary.json"
STATUS = "status.json"
LOGS = "logs"


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, (json.dumps(data, indent=2, default=str) + "\n").encode())


def stages_junit(project: str, stages: list[StageRecord]) -> bytes:
    """A JUnit report of the pipeline's stages, for runs that stopped before the ETL tests: the
    CI's test view then says which stage failed and why, instead of showing nothing."""
    ran = [s for s in stages if s.status not in ("not_run", "skipped")]
    failed = [s for s in ran if s.status in ("failed", "interrupted", "crashed")]
    seconds = sum(s.seconds for s in ran)
    suites = ET.Element(
        "testsuites",
        name="tinyctl ci",
        tests=str(len(ran)),
        failures=str(len(failed)),
        errors="0",
        time=f"{seconds:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"tinyctl.ci.{project}",
        tests=str(len(ran)),
        failures=str(len(failed)),
        errors="0",
        skipped="0",
        time=f"{seconds:.3f}",
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    )
    for stage in ran:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"tinyctl.ci.{project}",
            name=f"stage {stage.name}",
            time=f"{stage.seconds:.3f}",
        )
        if stage.status in ("failed", "interrupted", "crashed"):
            error = stage.error or {}
            text = "\n\n".join(
                str(part) for part in (error.get("details"), error.get("hint")) if part
            )
            message = error.get("message") or stage.summary or stage.status
            if error.get("title") == "Invalid spec" and error.get("details"):
                message = error["details"].splitlines()[0]  # the first problem, file:line: what
            ET.SubElement(
                case,
                "failure",
                message=xml_text(message),
                type=f"Stage{stage.status.capitalize()}",
            ).text = xml_text(text)
        elif stage.summary:
            ET.SubElement(case, "system-out").text = xml_text(stage.summary)
    ET.indent(suites)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="utf-8") + b"\n"
    )
