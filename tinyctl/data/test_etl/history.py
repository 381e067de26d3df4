"""The run history of `test-etl`: every invocation recorded in the state folder (SQLite, the
standard library's sqlite3), per test and per expectation: the verdict, the offending count,
the duration, the row counts of the tables it checked, the measured values, and the run ids.

It lives in the state folder next to the secrets, which no `down --volumes` removes, and it
feeds `change_vs_previous` (the previous passing runs), `tinyctl history` and the HTML page.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinyctl import __version__
from tinyctl.errors import EnvironmentProblem
from tinyctl.state.fsutil import disk_full

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    mode TEXT NOT NULL,              -- run (the DAGs ran) | no-run (the warehouse as it was)
    version TEXT NOT NULL,
    passed INTEGER NOT NULL, failed INTEGER NOT NULL, errors INTEGER NOT NULL,
    seconds REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tests (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    test TEXT NOT NULL,
    dag TEXT NOT NULL,
    status TEXT NOT NULL,
    seconds REAL NOT NULL,
    dag_run_id TEXT,
    tags TEXT NOT NULL,              -- JSON list
    result TEXT NOT NULL,            -- the test's JSON report
    PRIMARY KEY (run_id, test)
);
CREATE TABLE IF NOT EXISTS expectations (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    test TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,            -- pass | warn | error
    failures INTEGER NOT NULL,
    seconds REAL NOT NULL,
    row_counts TEXT NOT NULL,        -- JSON: table -> rows, of the tables it read
    metrics TEXT NOT NULL,           -- JSON: measured values (row_count, mean, ...)
    PRIMARY KEY (run_id, test, position)
);
CREATE INDEX IF NOT EXISTS expectations_by_name ON expectations (test, name, status);
"""


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    started_at: str
    mode: str
    passed: int
    failed: int
    errors: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def sqlite3_full(error: sqlite3.DatabaseError) -> bool:
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
        "database or disk is full" in str(error)
    )


@contextmanager
def _open(path: Path) -> Iterator[sqlite3.Connection]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=30)
    except (OSError, sqlite3.Error) as error:
        raise EnvironmentProblem(
            f"cannot open the test history {path}: {error}",
            hint="Check that the state folder is writable.",
        ) from None
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        connection.executescript(SCHEMA)
        with connection:
            yield connection
    except sqlite3.DatabaseError as error:
        if sqlite3_full(error):  # SQLite rolled the run's rows back: the history is whole
            raise disk_full(path, f"the test history {path.name}") from None
        raise EnvironmentProblem(
            f"the test history {path} is unreadable: {error}",
            hint="Move the file away (a new one is started), or restore it from a backup.",
        ) from None
    finally:
        connection.close()


class History:
    """The history file of one project."""

    def __init__(self, path: Path):
        self.path = path

    def record(
        self,
        run_id: str,
        mode: str,
        results: list[Any],
        tests: dict[str, Any],
        tables: dict[str, list[list[str]]],
    ) -> None:
        """Store one invocation: `results` (TestResult), `tests` the spec's tests by name
        (for their tags), `tables` per test the tables each expectation read."""
        passed = sum(r.status == "passed" for r in results)
        failed = sum(r.status == "failed" for r in results)
        with _open(self.path) as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    mode,
                    __version__,
                    passed,
                    failed,
                    len(results) - passed - failed,
                    round(sum(r.seconds for r in results), 3),
                ),
            )
            for result in results:
                self._record_test(
                    db, run_id, result, tests.get(result.name), tables.get(result.name, [])
                )

    def _record_test(
        self, db: sqlite3.Connection, run_id: str, result: Any, test: Any, tables: list[list[str]]
    ) -> None:
        tags = list(test.tags) if test is not None else []
        db.execute(
            "INSERT INTO tests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                result.name,
                result.dag,
                result.status,
                round(result.seconds, 3),
                result.run_id,
                json.dumps(tags),
                json.dumps(result.as_dict(), default=str),
            ),
        )
        for position, e in enumerate(result.expectations):
            read = tables[position] if position < len(tables) else []
            counts = {t: result.row_counts.get(t) for t in read}
            db.execute(
                "INSERT INTO expectations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    result.name,
                    position,
                    e.name,
                    e.kind,
                    e.status,
                    e.failures,
                    round(e.seconds, 3),
                    json.dumps(counts),
                    json.dumps(e.details.get("metrics", {})),
                ),
            )

    def previous(self, test: str, name: str, metric: str, n: int) -> list[float]:
        """`metric` of expectation `name` in its last `n` passing runs, newest first."""
        if not self.path.exists():
            return []
        with _open(self.path) as db:
            rows = db.execute(
                "SELECT e.metrics FROM expectations e JOIN runs r USING (run_id)"
                " WHERE e.test = ? AND e.name = ? AND e.status = 'pass'"
                " ORDER BY r.started_at DESC, r.rowid DESC LIMIT ?",
                (test, name, n),
            ).fetchall()
        values = [json.loads(m).get(metric) for (m,) in rows]
        return [float(v) for v in values if isinstance(v, int | float)]

    def runs(self, limit: int = 20) -> list[RunSummary]:
        if not self.path.exists():
            return []
        with _open(self.path) as db:
            rows = db.execute(
                "SELECT run_id, started_at, mode, passed, failed, errors, seconds FROM runs"
                " ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [RunSummary(*row) for row in rows]

    def tests_of(self, run_id: str) -> list[dict[str, Any]]:
        """The tests of one run: name, status, seconds, tags and the full JSON result."""
        with _open(self.path) as db:
            rows = db.execute(
                "SELECT test, status, seconds, tags, result FROM tests WHERE run_id = ? ORDER BY rowid",
                (run_id,),
            ).fetchall()
        return [
            {
                "test": t,
                "status": s,
                "seconds": sec,
                "tags": json.loads(tags),
                "result": json.loads(r),
            }
            for t, s, sec, tags, r in rows
        ]

    def latest(self) -> list[dict[str, Any]]:
        """The latest recorded result of every test (whatever run it was in), by test name,
        with the mode and id of that run."""
        if not self.path.exists():
            return []
        with _open(self.path) as db:
            rows = db.execute(
                "SELECT t.test, t.status, t.tags, t.result, r.run_id, r.started_at, r.mode"
                " FROM tests t JOIN runs r USING (run_id) WHERE r.rowid = ("
                " SELECT max(r2.rowid) FROM tests t2 JOIN runs r2 USING (run_id) WHERE t2.test = t.test)"
                " ORDER BY t.test"
            ).fetchall()
        return [
            {
                "test": test,
                "status": status,
                "tags": json.loads(tags),
                "result": json.loads(result),
                "run_id": run_id,
                "started_at": started,
                "mode": mode,
            }
            for test, status, tags, result, run_id, started, mode in rows
        ]

    def trend(self, test: str, limit: int = 30) -> list[dict[str, Any]]:
        """Per recorded run of `test`, oldest first: when, status, seconds, offending rows
        (summed over its expectations) and the row counts of the tables it read."""
        with _open(self.path) as db:
            rows = db.execute(
                "SELECT r.run_id, r.started_at, r.mode, t.status, t.seconds, t.result FROM tests t"
                " JOIN runs r USING (run_id) WHERE t.test = ? ORDER BY r.rowid DESC LIMIT ?",
                (test, limit),
            ).fetchall()
        points = []
        for run_id, started, mode, status, seconds, result in reversed(rows):
            data = json.loads(result)
            points.append(
                {
                    "run_id": run_id,
                    "started_at": started,
                    "mode": mode,
                    "status": status,
                    "seconds": seconds,
                    "failures": sum(e.get("failures", 0) for e in data.get("expectations", [])),
                    "row_counts": data.get("row_counts", {}),
                }
            )
        return points

    def as_json(self, limit: int) -> list[dict[str, Any]]:
        """`tinyctl history --json`: the recent runs, newest first, with their tests' verdicts."""
        return [
            {
                **run.as_dict(),
                "tests": [
                    {k: t[k] for k in ("test", "status", "seconds", "tags")}
                    for t in self.tests_of(run.run_id)
                ],
            }
            for run in self.runs(limit)
        ]
