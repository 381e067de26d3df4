"""What test-etl checks before any DAG runs, so a mistake costs seconds, not a DAG run: every
problem with its file:line, all at once (exit 2).

Always: expected files exist inside the project and read as CSV; their header holds the
compared and key columns; the key is unique and never empty; a tolerance is on a column whose
expected values are numbers; a reconcile from the fixture has fixture CSV files sharing a
header with the columns it needs; every relation is in a schema of the test's database.
With --no-run (nothing will create them): every relation exists, with the compared columns.
"""

from __future__ import annotations

import csv
import io
import operator
from collections.abc import Callable, Iterator
from typing import IO, Any

from tinyctl.data.test_etl import fixture
from tinyctl.data.test_etl.expected import source_of
from tinyctl.db import DatabaseError, query
from tinyctl.errors import SpecError, SpecProblem
from tinyctl.project import Project
from tinyctl.spec.checks import path_escape
from tinyctl.spec.loader import format_path
from tinyctl.spec.models import (
    ColumnsContract,
    EtlTest,
    ExpectedRows,
    Range,
    Reconcile,
    tolerance_of,
)
from tinyctl.state.secrets import READER_ROLE

Path_ = tuple[Any, ...]


class _Problems:
    def __init__(self, project: Project):
        self.project = project
        self.found: list[SpecProblem] = []

    def add(self, path: Path_, message: str) -> None:
        line, col = self.project.locate(*path)
        self.found.append(
            SpecProblem(self.project.spec_file, line, col, format_path(path), message)
        )


def check_tests(project: Project, tests: list[EtlTest], *, live: bool) -> None:
    """Raise SpecError (exit 2) naming every problem of `tests`; `live`: the relations they
    read must exist now."""
    problems = _Problems(project)
    index = {t.name: i for i, t in enumerate(project.spec.tests)}
    for test in tests:
        base: Path_ = ("tests", index[test.name])
        for j, expectation in enumerate(test.expect):
            at = (*base, "expect", j, expectation.kind)
            body = expectation.body
            _schemas(project, problems, test, at, body)
            if isinstance(body, ExpectedRows):
                _expected(project, problems, at, body)
            elif isinstance(body, Reconcile) and body.source == "fixture":
                _fixture(project, problems, test, at, body)
    if not problems.found and live:
        for test in tests:
            _live(project, problems, test, ("tests", index[test.name]))
    if problems.found:
        raise SpecError(
            problems.found,
            hint="Fix the lines above; nothing ran (no seed, no DAG run).",
        )


def relations_of(body: Any) -> Iterator[tuple[str, str]]:
    """(field, relation) pairs an expectation body names."""
    if isinstance(body, ExpectedRows | ColumnsContract | Range) and getattr(body, "table", None):
        yield "table", body.table
    if isinstance(body, Range) and body.row_count is not None:
        yield "row_count", body.row_count.relative_to
    if isinstance(body, Reconcile):
        yield "to", body.to
        if body.source != "fixture":
            yield "from", body.source


def _database(project: Project, test: EtlTest):
    name = test.database or project.spec.postgres.default_database.name
    return next(d for d in project.spec.postgres.databases if d.name == name)


def _schemas(project: Project, problems: _Problems, test: EtlTest, at: Path_, body: Any) -> None:
    database = _database(project, test)
    known = [*database.schemas, "public"]
    for field, relation in relations_of(body):
        schema = relation.split(".")[0] if "." in relation else "public"
        if schema not in known:
            problems.add(
                (*at, field),
                f"{relation} is in schema {schema!r}, which database {database.name} does not "
                f"have (its schemas: {', '.join(known)}); no relation of it can exist",
            )


def _expected(project: Project, problems: _Problems, at: Path_, body: ExpectedRows) -> None:
    where: Path_ = (*at, "rows") if body.rows is not None else (*at, "file")
    if body.file is not None:
        escape = path_escape(project.root, body.file)
        if escape:
            problems.add(where, f"expected file {body.file!r} {escape}")
            return
        if not project.path(body.file).is_file():
            problems.add(
                where,
                f"expected file {body.file!r} does not exist (looked for {project.path(body.file)}); "
                "write it, or run `tinyctl test-etl --update-expected` once the output is right",
            )
            return
    try:
        source = source_of(body, project.root)
    except DatabaseError as error:
        problems.add(where, error.message)
        return
    header = source.header
    for field, names in (("columns", body.columns or []), ("key", body.key or [])):
        missing = [c for c in names if c not in header]
        if missing:
            problems.add(
                (*at, field),
                f"column(s) {', '.join(missing)} are not in the header of {source.label} "
                f"({', '.join(header)})",
            )
            return
    for column, message in _scan(body, source.open, header):
        problems.add((*at, "tolerance") if column else where, message)


def _scan(
    body: ExpectedRows, open_stream: Callable[[], IO[bytes]], header: list[str]
) -> Iterator[tuple[str | None, str]]:
    """Problems of the expected rows themselves: a key that repeats or is empty, a tolerance on
    a column whose values are not numbers.

    One pass of the C csv reader straight over the decoded stream, keeping one hash per key
    (not the rows): on 1,000,000 rows this is the bulk of what test-etl does in Python, so the
    loop does no more per row than it must. A repeated hash is confirmed against the values
    themselves (a second pass, only then), so a collision never reports a duplicate."""
    width = len(header)
    null = body.null_text
    key_names = body.key or []
    key_of = operator.itemgetter(*(header.index(k) for k in key_names)) if key_names else None
    single = len(key_names) == 1  # itemgetter of one index gives the value, not a tuple
    tolerated = _tolerated(body, header)
    seen: set[int] = set()
    with open_stream() as raw:
        reader = _rows(raw)
        for number, row in enumerate(reader, start=2):
            if len(row) != width:
                yield (
                    None,
                    f"{_where(body)} line {number} has {len(row)} value(s); the header has {width}",
                )
                return
            if key_of is not None:
                values = key_of(row)
                if (values == null) if single else (null in values):
                    yield (
                        None,
                        f"{_where(body)} line {number}: a key column ({', '.join(key_names)}) is empty",
                    )
                    return
                before = len(seen)
                seen.add(hash(values))
                if len(seen) == before:
                    first = _first_line(open_stream, key_of, values, number)
                    if first is not None:
                        shown = ", ".join(
                            f"{k}={v}"
                            for k, v in zip(key_names, (values,) if single else values, strict=True)
                        )
                        yield (
                            None,
                            (
                                f"the key ({', '.join(key_names)}) is not unique in {_where(body)}: "
                                f"{shown} on lines {first} and {number}"
                            ),
                        )
                        return
            if tolerated:
                for column, i in tolerated:
                    if row[i] != null and not _number(row[i]):
                        yield (
                            column,
                            (
                                f"tolerance on {column}, but its expected value on line {number} of "
                                f"{_where(body)} is {row[i]!r}, not a number: a tolerance is for numeric columns"
                            ),
                        )
                        tolerated = [t for t in tolerated if t[0] != column]


def _rows(raw: IO[bytes]) -> Iterator[list[str]]:
    """The data rows of an expected CSV stream (the header skipped), decoded as UTF-8 (a byte
    order mark dropped, a bad byte replaced: COPY names those later, with its line)."""
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    next(reader, None)
    return reader


def _first_line(
    open_stream: Callable[[], IO[bytes]],
    key_of: Callable[[list[str]], Any],
    values: Any,
    before: int,
) -> int | None:
    """The line of the first row before line `before` whose key is `values`; None when there is
    none (two different keys with the same hash)."""
    with open_stream() as raw:
        for number, row in enumerate(_rows(raw), start=2):
            if number >= before:
                return None
            if key_of(row) == values:
                return number
    return None


def _tolerated(body: ExpectedRows, header: list[str]) -> list[tuple[str, int]]:
    if body.tolerance is None:
        return []
    if isinstance(body.tolerance, dict):
        return [(c, header.index(c)) for c in body.tolerance if c in header]
    tolerance_of(body.tolerance)
    return []  # one tolerance for every numeric column: the relation's types decide


def _where(body: ExpectedRows) -> str:
    return body.file or "the inline rows"


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fixture(
    project: Project, problems: _Problems, test: EtlTest, at: Path_, body: Reconcile
) -> None:
    files = fixture.csv_files(
        [project.path(f.source) for f in test.files if project.path(f.source).exists()]
    )
    try:
        header = fixture.common_header(files)
    except DatabaseError as error:
        problems.add((*at, "from"), error.message)
        return
    needed = [*(body.keys or []), *(c for _, c in body.measures)]
    missing = [c for c in needed if c not in header]
    if missing:
        problems.add(
            (*at, "from"),
            f"column(s) {', '.join(missing)} are not in the fixture files' header ({', '.join(header)})",
        )


def _live(project: Project, problems: _Problems, test: EtlTest, base: Path_) -> None:
    """--no-run: the relations exist now, as the read-only role sees them."""
    dsn = project.warehouse(test.database, role=READER_ROLE)
    for j, expectation in enumerate(test.expect):
        at = (*base, "expect", j, expectation.kind)
        for field, relation in relations_of(expectation.body):
            _, rows = query(dsn, "SELECT to_regclass(%s) IS NOT NULL", (relation,))
            if not rows[0][0]:
                problems.add(
                    (*at, field),
                    f"{relation} does not exist in database {dsn.dbname} (--no-run checks the "
                    "warehouse as it is: run the DAG once, or fix the name)",
                )
