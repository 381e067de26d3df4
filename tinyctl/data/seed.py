"""`tinyctl seed`: SQL files and CSV loads from the spec's `seeds` section, as the ETL role.

Each SQL file runs in one transaction; each CSV seed loads in one transaction (replace,
append or upsert), so a failure leaves the database as it was and names the file and line.
"""

from __future__ import annotations

import csv
import gzip
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tinyctl.db import ConnectionLost, DatabaseError, Dsn, load_csv, run_script
from tinyctl.errors import BadInput, DiskFull
from tinyctl.project import Project
from tinyctl.spec.models import Seed
from tinyctl.state.fsutil import full_file_systems


@dataclass(frozen=True)
class SeedOutcome:
    name: str
    kind: str  # sql or csv
    target: str  # table, or the SQL files
    rows: int | None
    bytes: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "target": self.target,
            "rows": self.rows,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
        }


ProgressCallback = Callable[
    [str, int, int, int], None
]  # seed name, bytes done, bytes total, rows done


class _Prepend:
    """A stream that yields `head` and then the rest of `tail` (to put a peeked header back)."""

    def __init__(self, head: bytes, tail: IO[bytes]):
        self.head, self.tail = head, tail

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head, b""
            return data
        return self.tail.read(size)


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _header_columns(stream: IO[bytes], delimiter: str, file: Path) -> tuple[list[str], bytes]:
    first = stream.readline()
    if not first:
        raise BadInput(
            f"{file} is empty", hint="A CSV seed with `header: true` starts with a header line."
        )
    text = first.decode("utf-8-sig").rstrip("\r\n")
    columns = next(csv.reader([text], delimiter=delimiter))
    cleaned = [c.strip() for c in columns]
    if any(not c for c in cleaned):
        raise BadInput(
            f"{file}:1: the header has an empty column name",
            hint="Name every column in the first line.",
        )
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    return cleaned, first


def _load_csv_seed(
    project: Project, seed: Seed, dsn: Dsn, progress: ProgressCallback
) -> tuple[int, int]:
    path = project.path(seed.csv or "")
    if not path.is_file():
        raise BadInput(f"seed {seed.name}: {path} does not exist")
    total = path.stat().st_size
    rows_seen = 0
    with _open(path) as raw:
        stream: IO[bytes] = raw
        if seed.header:
            columns, first = _header_columns(raw, seed.delimiter, path)
            stream = _Prepend(first, raw)  # type: ignore[assignment]
        elif seed.columns:
            columns = list(seed.columns)
        else:
            raise BadInput(f"seed {seed.name}: without a header line, declare `columns`")
        if seed.columns:
            unknown = [c for c in columns if c not in seed.columns]
            if unknown:
                line, col = project.locate(
                    "seeds", [s.name for s in project.spec.seeds].index(seed.name), "columns"
                )
                raise BadInput(
                    f"{path}:1: column(s) {', '.join(unknown)} are not declared in seed {seed.name}'s columns",
                    hint=f"Add them to `columns` ({project.spec_file}:{line}:{col}) or fix the header.",
                )

        def on_chunk(done: int, newlines: int) -> None:
            nonlocal rows_seen
            rows_seen += newlines
            position = (
                raw.fileobj.tell() if hasattr(raw, "fileobj") and raw.fileobj else done
            )  # gzip: compressed offset
            progress(seed.name, min(position, total), total, rows_seen)

        # Read and decompress in this thread: while the server parses one chunk, the next is
        # decompressed (the socket's buffers hold the one sent), the way `gzip -dc | psql` runs.
        # A reader thread ahead of the COPY measured 0.1 s slower on the flights file (2 cores):
        # psycopg's writer, zlib and the reader then took turns at the GIL.
        try:
            result = load_csv(
                dsn,
                stream,
                table=seed.table or "",
                columns=columns,
                mode=seed.mode,
                key=seed.key,
                create=list(seed.columns.items()) if seed.columns else None,
                header=seed.header,
                delimiter=seed.delimiter,
                null=seed.null,
                on_chunk=on_chunk,
            )
        except DatabaseError as error:
            where = f"{path}:{error.line}" if error.line else str(path)
            column = f", column {error.column}" if error.column else ""
            raise BadInput(
                f"seed {seed.name}: {where}{column}: {error.message}",
                hint=f"Fix that row; {seed.table} was left exactly as it was (the load is one transaction).",
            ) from None
        except BadInput as error:
            raise BadInput(f"seed {seed.name}: {path}: {error.message}", hint=error.hint) from None
        except (EOFError, OSError, zlib.error) as error:  # a truncated or corrupt .gz, a read error
            raise BadInput(
                f"seed {seed.name}: {path} could not be read: {error}",
                hint=f"Check the file (`gzip -t` for a .gz); {seed.table} was left exactly as it was.",
            ) from None
    progress(seed.name, total, total, result.rows)
    return result.rows, result.bytes


def _run_sql_seed(project: Project, seed: Seed, dsn: Dsn, progress: ProgressCallback) -> int:
    size = 0
    for relative in seed.sql_files:
        path = project.path(relative)
        if not path.is_file():
            raise BadInput(f"seed {seed.name}: {path} does not exist")
        text = path.read_text(encoding="utf-8-sig")
        size += len(text)
        try:
            run_script(dsn, text)
        except DatabaseError as error:
            where = f"{path}:{error.line}" if error.line else str(path)
            raise BadInput(
                f"seed {seed.name}: {where}: {error.message}",
                hint=(error.hint + " " if error.hint else "")
                + "That file was rolled back; earlier files stay applied.",
            ) from None
        progress(seed.name, size, size, 0)
    return size


def select_seeds(project: Project, only: Iterable[str] | None) -> list[Seed]:
    seeds = list(project.spec.seeds)
    if not only:
        return seeds
    names = [s.name for s in seeds]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise BadInput(
            f"unknown seed(s): {', '.join(unknown)}",
            hint="Seeds in the spec: " + (", ".join(names) or "none"),
        )
    wanted = set(only)
    return [s for s in seeds if s.name in wanted]


def run_seeds(
    project: Project,
    *,
    only: Iterable[str] | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[SeedOutcome]:
    progress = on_progress or (lambda *_args: None)
    outcomes = []
    for seed in select_seeds(project, only):
        try:
            outcomes.append(_run_seed(project, seed, progress))
        except (ConnectionLost, DiskFull) as error:  # the server, not the seed: name both
            left = f"{seed.table} was left as it was" if seed.table else "that file was rolled back"
            # a server on a full disk may crash instead of saying so (it cannot write its WAL)
            full = full_file_systems([project.state.root])
            raise type(error)(
                f"seed {seed.name}: {error.message}; {left} (one transaction)"
                + "".join(f"; {f}" for f in full),
                hint=error.hint,
            ) from None
    return outcomes


def _run_seed(project: Project, seed: Seed, progress: ProgressCallback) -> SeedOutcome:
    dsn = project.warehouse(seed.database)
    started = time.monotonic()
    if seed.csv is not None:
        rows, size = _load_csv_seed(project, seed, dsn, progress)
        return SeedOutcome(
            seed.name, "csv", seed.table or "", rows, size, time.monotonic() - started
        )
    size = _run_sql_seed(project, seed, dsn, progress)
    return SeedOutcome(
        seed.name, "sql", ", ".join(seed.sql_files), None, size, time.monotonic() - started
    )
