"""The fixture files of a test as one relation (`reconcile: {from: fixture}`): their CSV
files COPYed into a temporary table, each column typed like the same-named column of the
relation they are compared with (else text), so keys and sums compare as Postgres casts them."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import IO

from tinyctl.db import DatabaseError, Session
from tinyctl.db import sql as q

FIXTURE = "tinyctl_fixture"
SUFFIXES = (".csv", ".csv.gz")


def csv_files(paths: list[Path]) -> list[Path]:
    """The CSV files among `paths` (files, or folders searched recursively), sorted."""
    found: list[Path] = []
    for path in paths:
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        found += [p for p in candidates if p.name.lower().endswith(SUFFIXES)]
    return found


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def header_of(path: Path) -> list[str]:
    try:
        with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
            header = next(csv.reader(text), None)
    except (OSError, UnicodeDecodeError, csv.Error, EOFError) as error:
        raise DatabaseError(f"the fixture file {path.name} cannot be read: {error}") from None
    if not header:
        raise DatabaseError(f"the fixture file {path.name} is empty (it needs a header line)")
    return [c.strip() for c in header]


def common_header(files: list[Path]) -> list[str]:
    """The header every fixture file shares; raises DatabaseError naming a file that differs."""
    if not files:
        raise DatabaseError("the test has no fixture CSV file (files: ... with .csv or .csv.gz)")
    header = header_of(files[0])
    for other in files[1:]:
        if (theirs := header_of(other)) != header:
            raise DatabaseError(
                f"the fixture files' headers differ: {files[0].name} has {','.join(header)}, "
                f"{other.name} has {','.join(theirs)}"
            )
    return header


def load(s: Session, files: list[Path], like: str) -> int:
    """COPY every fixture file into FIXTURE (typed after the table `like`); the rows loaded."""
    header = common_header(files)
    _, rows = s.query(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        (like,),
    )
    types = dict(rows)
    columns = q.SQL(", ").join(
        q.SQL("{} {}").format(q.Identifier(c), q.SQL(types.get(c, "text"))) for c in header
    )  # type names from the catalog's own format_type
    s.execute(q.SQL("CREATE TEMP TABLE {} ({})").format(q.Identifier(FIXTURE), columns))
    total = 0
    for path in files:
        with _open(path) as stream:
            try:
                total += s.copy_csv(FIXTURE, header, stream)
            except DatabaseError as error:
                where = f" line {error.line}" if error.line else ""
                raise DatabaseError(f"fixture {path.name}{where}: {error.message}") from None
    s.execute(q.SQL("ANALYZE {}").format(q.Identifier(FIXTURE)))
    return total
