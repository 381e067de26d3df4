"""The only module that imports psycopg: connections to the stack's Postgres, COPY, queries.

Database errors become tinyctl errors with the location Postgres reports (file line and column
for COPY, statement line for SQL files), and a failed unit of work is rolled back whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import psycopg
from psycopg import sql as pgsql

from tinyctl.errors import BadInput, DiskFull, EnvironmentProblem, TinyctlError, WorkFailed
from tinyctl.spec.models import SQL_TYPE

CHUNK = 1 << 20


@dataclass(frozen=True)
class Dsn:
    host: str
    port: int
    dbname: str
    user: str
    password: str

    def kwargs(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
            "password": self.password,
            "connect_timeout": 5,
            "application_name": "tinyctl",
        }


class DatabaseUnreachable(EnvironmentProblem):
    """Nothing accepts connections at the address (yet): not listening, or still starting."""


class DatabaseError(WorkFailed):
    """A statement or load failed; `line`/`column` locate it in the input where Postgres says."""

    title = "Database error"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
        hint: str | None = None,
        details: str | None = None,
        sqlstate: str | None = None,
    ):
        super().__init__(message, hint=hint, details=details)
        self.line = line
        self.column = column
        self.sqlstate = sqlstate  # Postgres's error code, where a caller tells errors apart


class ConnectionLost(WorkFailed):
    """The server went away in the middle of the work (killed, restarted, the network cut): what
    the unit of work did is rolled back by the server, never half applied."""

    title = "Lost the database connection"


# SQLSTATE classes of a lost server: 08 connection exception, 57P01-03 shut down or crashed.
_LOST = ("08", "57P")
DISK_FULL = "53100"


def special_error(error: psycopg.Error, connection: psycopg.Connection) -> TinyctlError | None:
    """A lost connection or the server's full disk, told apart from a failed statement (which
    the input's author fixes): None for those."""
    text = _first_line(error)
    if error.sqlstate == DISK_FULL or "No space left on device" in text:
        return DiskFull(
            f"the database server's disk is full: {text}",
            hint="Free space on the file system holding Postgres' data (the stack's postgres "
            "volume on Compose, the state folder's local/postgres on the local runtime), then run "
            "the command again: the statement that failed was rolled back.",
        )
    lost = connection.broken or (error.sqlstate or "").startswith(_LOST)
    if isinstance(error, psycopg.OperationalError) and lost:
        where = f"{connection.info.host}:{connection.info.port}"
        return ConnectionLost(
            f"lost the connection to Postgres at {where}: {text or 'the server closed it'}",
            hint="Its work was rolled back. `tinyctl status` shows whether Postgres is up; "
            "`tinyctl up` brings it back, then run the command again.",
        )
    return None


@contextmanager
def connect(
    dsn: Dsn, *, autocommit: bool = False, read_only: bool = False
) -> Iterator[psycopg.Connection]:
    options = {"options": "-c default_transaction_read_only=on"} if read_only else {}
    try:
        connection = psycopg.connect(**dsn.kwargs(), autocommit=autocommit, **options)
    except psycopg.OperationalError as error:
        text = str(error).strip()
        if "password authentication failed" in text:
            raise EnvironmentProblem(
                f"Postgres refused the password of role {dsn.user}",
                hint="The passwords in the state folder's secrets.json (or a TINYCTL_SECRET_* variable) no "
                "longer match the running stack. Restore the file, or run `tinyctl up` to re-render them "
                "into the stack and restart what changed; the data is kept.",
            ) from None
        raise DatabaseUnreachable(
            f"cannot connect to Postgres at {dsn.host}:{dsn.port} ({text.splitlines()[0] if text else 'no answer'})",
            hint="Is the stack up? Run `tinyctl up` (or `tinyctl status`).",
        ) from None
    try:
        yield connection
    finally:
        connection.close()


def _position_line(text: str, position: str | int | None) -> int | None:
    try:
        offset = int(position) if position is not None else None
    except ValueError:
        return None
    if not offset:
        return None
    return text[: offset - 1].count("\n") + 1


def _first_line(error: psycopg.Error) -> str:
    return (error.diag.message_primary or str(error)).strip().splitlines()[0]


_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split a SQL script at top-level semicolons: [(line the statement starts on, statement)].

    Quotes ('', "", E'' with backslashes, $tag$...$tag$) and comments (--, nested /* */) are
    respected, so a semicolon inside them does not split.
    """
    statements: list[tuple[int, str]] = []
    i, n, start = 0, len(text), 0

    def flush(end: int) -> None:
        chunk = text[start:end]
        body = _strip_leading_comments(chunk)
        if body.strip():
            offset = start + (len(chunk) - len(body))
            statements.append((text.count("\n", 0, offset) + 1, body.rstrip()))

    while i < n:
        c = text[i]
        if c == "-" and text.startswith("--", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif c == "/" and text.startswith("/*", i):
            i = _after_block_comment(text, i)
            continue
        elif c == "'":
            escapes = (
                i > 0
                and text[i - 1] in "eE"
                and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            )
            i += 1
            while i < n:
                if escapes and text[i] == "\\":
                    i += 2
                    continue
                if text[i] == "'":
                    if text.startswith("''", i):
                        i += 2
                        continue
                    break
                i += 1
        elif c == '"':
            i = text.find('"', i + 1)
            i = n if i < 0 else i
        elif (
            c == "$"
            and (match := _DOLLAR.match(text, i))
            and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"))
        ):
            tag = match.group(0)
            end = text.find(tag, match.end())
            i = n if end < 0 else end + len(tag) - 1
        elif c == ";":
            flush(i)
            start = i + 1
        i += 1
    flush(n)
    return statements


def _after_block_comment(text: str, i: int) -> int:
    """The index just after the /* comment */ that starts at `i` (Postgres nests them)."""
    depth, i = 1, i + 2
    while i < len(text) and depth:
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i


def _strip_leading_comments(chunk: str) -> str:
    while True:
        stripped = chunk.lstrip()
        if stripped.startswith("--"):
            newline = stripped.find("\n")
            chunk = "" if newline < 0 else stripped[newline + 1 :]
        elif stripped.startswith("/*"):
            chunk = stripped[_after_block_comment(stripped, 0) :]
        else:
            return stripped


def run_script(dsn: Dsn, text: str) -> None:
    """Run a SQL script in one transaction, statement by statement so an error has a line.

    On any error the whole script is rolled back.
    """
    with connect(dsn) as connection:
        statements = split_statements(text)
        try:
            with connection.transaction():
                for line, statement in statements:
                    try:
                        # binary=True forces the extended protocol: one statement per call,
                        # so a statement the splitter missed cannot smuggle in another.
                        connection.execute(statement.encode(), binary=True)
                    except psycopg.Error as error:
                        if (special := special_error(error, connection)) is not None:
                            raise special from None
                        within = _position_line(statement, error.diag.statement_position)
                        raise DatabaseError(
                            _first_line(error),
                            line=line + (within - 1 if within else 0),
                            hint=error.diag.message_hint,
                        ) from None
        except psycopg.Error as error:  # e.g. the COMMIT itself (deferred constraints)
            raise special_error(error, connection) or DatabaseError(
                _first_line(error), hint=error.diag.message_hint
            ) from None


_COPY_CONTEXT = re.compile(r"COPY [^,]+, line (?P<line>\d+)(?:, column (?P<column>[^:]+))?")


def copy_error(error: psycopg.Error) -> DatabaseError:
    context = error.diag.context or ""
    match = _COPY_CONTEXT.search(context)
    line = int(match.group("line")) if match else None
    column = match.group("column") if match and match.group("column") else None
    return DatabaseError(_first_line(error), line=line, column=column, hint=error.diag.message_hint)


@dataclass(frozen=True)
class LoadResult:
    rows: int
    bytes: int


def _type_name(text: str) -> str:
    """A column type as written in the spec; only a type name ever reaches the SQL."""
    if not SQL_TYPE.fullmatch(text):
        raise BadInput(f"{text!r} is not a SQL type name", hint="Write e.g. text or numeric(12,2).")
    return text


def _identifier(name: str) -> pgsql.Composable:
    return pgsql.Identifier(*name.split("."))


def table_exists(connection: psycopg.Connection, table: str) -> bool:
    row = connection.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def load_csv(
    dsn: Dsn,
    stream: IO[bytes],
    *,
    table: str,
    columns: Sequence[str],
    mode: str,
    key: Sequence[str] | None = None,
    create: Sequence[tuple[str, str]] | None = None,
    header: bool = True,
    delimiter: str = ",",
    null: str = "",
    on_chunk: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """COPY a CSV stream into `table` in ONE transaction: replace, append or upsert on `key`.

    On any error the transaction is rolled back, so the table is left exactly as it was.
    """
    target = _identifier(table)
    column_list = pgsql.SQL(", ").join(pgsql.Identifier(c) for c in columns)
    copy_options = _csv_options(header=header, delimiter=delimiter, null=null)
    with connect(dsn) as connection:
        try:
            with connection.transaction():
                created = _ensure_table(connection, table, create, key)
                copy_into = target
                if mode == "replace":
                    connection.execute(pgsql.SQL("TRUNCATE {}").format(target))
                elif mode == "upsert":
                    copy_into = pgsql.Identifier("tinyctl_upsert")
                    connection.execute(
                        pgsql.SQL(
                            "CREATE TEMP TABLE tinyctl_upsert ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
                        ).format(column_list, target)
                    )
                fresh = created or mode == "replace"
                options = copy_options(fresh and mode != "upsert")
                rows, size = _copy(connection, stream, copy_into, column_list, options, on_chunk)
                if mode == "upsert":
                    _merge(connection, target, columns, key or [])
            return LoadResult(rows, size)
        except psycopg.Error as error:
            raise special_error(error, connection) or copy_error(error) from None


def _csv_options(*, header: bool, delimiter: str, null: str) -> Callable[[bool], pgsql.Composable]:
    """COPY's options for this CSV; `freeze` for a table created or truncated in the same
    transaction (its rows are written frozen: no later hint-bit rewrite; with
    wal_level=minimal such a load also skips the WAL)."""

    def options(freeze: bool) -> pgsql.Composable:
        return pgsql.SQL(
            "(FORMAT csv, HEADER {header}, DELIMITER {delim}, NULL {null}{freeze})"
        ).format(
            header=pgsql.SQL("true" if header else "false"),
            delim=pgsql.Literal(delimiter),
            null=pgsql.Literal(null),
            freeze=pgsql.SQL(", FREEZE true" if freeze else ""),
        )

    return options


def _ensure_table(
    connection: psycopg.Connection,
    table: str,
    create: Sequence[tuple[str, str]] | None,
    key: Sequence[str] | None,
) -> bool:
    """Create `table` from `create` (name, type) when it is missing; True when created. A
    missing table without `create` is bad input."""
    if table_exists(connection, table):
        return False
    if not create:
        raise BadInput(
            f"table {table} does not exist",
            hint="Create it first (a SQL seed), or declare `columns` so tinyctl creates it.",
        )
    defs = [
        pgsql.SQL("{} {}").format(pgsql.Identifier(n), pgsql.SQL(_type_name(t))) for n, t in create
    ]
    if key:
        defs.append(
            pgsql.SQL("PRIMARY KEY ({})").format(pgsql.SQL(", ").join(map(pgsql.Identifier, key)))
        )
    connection.execute(
        pgsql.SQL("CREATE TABLE {} ({})").format(_identifier(table), pgsql.SQL(", ").join(defs))
    )
    return True


def _copy(
    connection: psycopg.Connection,
    stream: IO[bytes],
    target: pgsql.Composable,
    columns: pgsql.Composable,
    options: pgsql.Composable,
    on_chunk: Callable[[int, int], None] | None,
) -> tuple[int, int]:
    statement = pgsql.SQL("COPY {} ({}) FROM STDIN {}").format(target, columns, options)
    size = 0
    with connection.cursor() as cursor:
        with cursor.copy(statement) as copy:
            while chunk := stream.read(CHUNK):
                copy.write(chunk)
                size += len(chunk)
                if on_chunk:
                    on_chunk(size, chunk.count(b"\n"))
        return max(cursor.rowcount, 0), size


def _merge(
    connection: psycopg.Connection,
    target: pgsql.Composable,
    columns: Sequence[str],
    key: Sequence[str],
) -> None:
    keys = pgsql.SQL(", ").join(map(pgsql.Identifier, key))
    duplicate = connection.execute(
        pgsql.SQL(
            "SELECT {keys}, count(*) FROM tinyctl_upsert GROUP BY {keys} HAVING count(*) > 1 LIMIT 1"
        ).format(keys=keys)
    ).fetchone()
    if duplicate:
        values = ", ".join(map(str, duplicate[:-1]))
        raise BadInput(
            f"the key ({', '.join(key)}) = ({values}) appears {duplicate[-1]} times in the file",
            hint="An upsert key must identify one row; remove the duplicates or change `key`.",
        )
    match = pgsql.SQL(" AND ").join(
        pgsql.SQL("t.{k} = s.{k}").format(k=pgsql.Identifier(k)) for k in key
    )
    connection.execute(
        pgsql.SQL("DELETE FROM {} AS t USING tinyctl_upsert AS s WHERE {}").format(target, match)
    )
    column_list = pgsql.SQL(", ").join(map(pgsql.Identifier, columns))
    connection.execute(
        pgsql.SQL("INSERT INTO {} ({}) SELECT {} FROM tinyctl_upsert").format(
            target, column_list, column_list
        )
    )


def query(
    dsn: Dsn,
    statement: str | pgsql.Composable,
    params: Sequence[Any] | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ONE query in a read-only session; returns (column names, rows): put a LIMIT in the
    query to cap them (the server sends every row the query returns).

    The query always goes through the extended protocol (pipeline mode), which runs a single
    statement: `SELECT 1; DROP TABLE t` is refused by the server instead of run.
    """
    with connect(dsn, autocommit=True, read_only=True) as connection:
        try:
            with connection.pipeline():
                cursor = connection.execute(statement, params)
            names = [c.name for c in cursor.description or []]
            rows = cursor.fetchall()
        except psycopg.Error as error:
            raise special_error(error, connection) or DatabaseError(
                _first_line(error), hint=error.diag.message_hint, sqlstate=error.sqlstate
            ) from None
        return names, rows


Statement = tuple[str | pgsql.Composable, Sequence[Any] | None]


def execute(dsn: Dsn, statements: Sequence[Statement]) -> None:
    """Run (statement, params) pairs in ONE transaction: all of them, or none."""
    with connect(dsn) as connection:
        try:
            with connection.transaction():
                for statement, params in statements:
                    connection.execute(statement, params)
        except psycopg.Error as error:
            raise DatabaseError(
                _first_line(error), hint=error.diag.message_hint, sqlstate=error.sqlstate
            ) from None


def count_rows(dsn: Dsn, tables: Iterable[str]) -> dict[str, int | None]:
    """Row counts per table (None where the table does not exist)."""
    counts: dict[str, int | None] = {}
    with connect(dsn, autocommit=True, read_only=True) as connection:
        try:
            for table in tables:
                if not table_exists(connection, table):
                    counts[table] = None
                    continue
                row = connection.execute(
                    pgsql.SQL("SELECT count(*) FROM {}").format(_identifier(table))
                ).fetchone()
                counts[table] = int(row[0]) if row else 0
        except psycopg.Error as error:
            raise special_error(error, connection) or DatabaseError(
                _first_line(error), sqlstate=error.sqlstate
            ) from None
    return counts


def store_rows(
    dsn: Dsn,
    schema: str,
    table: str,
    select: pgsql.Composable,
    setup: Callable[[Session], None] | None = None,
) -> int:
    """Replace `schema.table` with the rows of `select` (one transaction); returns the row count.
    For `test-etl --store-failures`: a check's offending rows, kept for inspection. `setup`
    first loads what the SELECT reads from temporary tables (expected rows, fixture files)."""
    target = pgsql.Identifier(schema, table)
    with connect(dsn) as connection:
        try:
            with connection.transaction():
                if setup is not None:
                    setup(Session(connection))
                connection.execute(pgsql.SQL("DROP TABLE IF EXISTS {}").format(target))
                cursor = connection.execute(
                    pgsql.SQL("CREATE TABLE {} AS ").format(target) + select
                )
                return max(cursor.rowcount, 0)
        except psycopg.Error as error:
            if (special := special_error(error, connection)) is not None:
                raise special from None
            raise DatabaseError(
                f"storing failures in {schema}.{table}: {_first_line(error)}",
                hint=error.diag.message_hint
                or f"The ETL role needs CREATE on schema {schema}: list it in postgres.databases[].schemas.",
            ) from None


sql = pgsql  # re-exported: callers compose statements safely (expectations)


class Session:
    """One connection in one transaction that is rolled back at the end: for checks that load
    expected rows into temporary tables first. Nothing done in a session outlives it."""

    def __init__(self, connection: psycopg.Connection):
        self.connection = connection

    @property
    def server_version(self) -> int:
        """The server's version as a number: 150004 for 15.4."""
        return self.connection.info.server_version

    def query(
        self, statement: str | pgsql.Composable, params: Sequence[Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """ONE statement (the extended protocol refuses a second), as `query` runs it."""
        try:
            with self.connection.pipeline():
                cursor = self.connection.execute(statement, params)
            return [c.name for c in cursor.description or []], cursor.fetchall()
        except psycopg.Error as error:
            raise special_error(error, self.connection) or DatabaseError(
                _first_line(error), hint=error.diag.message_hint, sqlstate=error.sqlstate
            ) from None

    def execute(
        self, statement: str | pgsql.Composable, params: Sequence[Any] | None = None
    ) -> int:
        """One statement that returns no rows; its row count."""
        try:
            with self.connection.pipeline():
                cursor = self.connection.execute(statement, params)
            return max(cursor.rowcount, 0)
        except psycopg.Error as error:
            raise special_error(error, self.connection) or DatabaseError(
                _first_line(error), hint=error.diag.message_hint, sqlstate=error.sqlstate
            ) from None

    def copy_csv(
        self,
        table: str,
        columns: Sequence[str],
        stream: IO[bytes],
        *,
        header: bool = True,
        null: str = "",
    ) -> int:
        """COPY a CSV stream into `table` (a temporary table of this session); the rows loaded.
        A value Postgres cannot read as its column's type raises with the file's line."""
        statement = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER {}, NULL {})").format(
            _identifier(table),
            pgsql.SQL(", ").join(map(pgsql.Identifier, columns)),
            pgsql.SQL("true" if header else "false"),
            pgsql.Literal(null),
        )
        try:
            with self.connection.cursor() as cursor:
                with cursor.copy(statement) as copy:
                    while chunk := stream.read(CHUNK):
                        copy.write(chunk)
                return max(cursor.rowcount, 0)
        except psycopg.Error as error:
            raise special_error(error, self.connection) or copy_error(error) from None

    def copy_out(self, statement: pgsql.Composable, sink: IO[bytes]) -> int:
        """Run a `COPY ... TO STDOUT` into `sink`; the bytes written."""
        size = 0
        try:
            with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
                for chunk in copy:
                    sink.write(chunk)
                    size += len(chunk)
            return size
        except psycopg.Error as error:
            raise special_error(error, self.connection) or DatabaseError(
                _first_line(error), sqlstate=error.sqlstate
            ) from None


SESSION_SETTINGS = (
    # The reader role's sessions default to read-only; temporary tables need a read-write
    # transaction, and the role's privileges still allow it to write nothing else.
    "SET TRANSACTION READ WRITE",
    # Joins and set operations of a comparison stay in memory up to this (per operation).
    "SET LOCAL work_mem = '64MB'",
    # Temporary tables live in the session's own buffers (8MB by default, else on disk).
    "SET LOCAL temp_buffers = '64MB'",
)


@contextmanager
def session(dsn: Dsn) -> Iterator[Session]:
    """A `Session` on `dsn`: everything it does is rolled back when the block ends."""
    with connect(dsn) as connection:
        try:
            for setting in SESSION_SETTINGS:
                connection.execute(setting)
        except psycopg.Error as error:
            raise special_error(error, connection) or DatabaseError(
                _first_line(error), sqlstate=error.sqlstate
            ) from None
        try:
            yield Session(connection)
        finally:
            if not connection.broken:  # a lost server rolled it back already
                connection.rollback()
