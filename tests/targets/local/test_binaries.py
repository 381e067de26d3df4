"""Finding PostgreSQL server binaries: real ones on this machine, and made-up folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinyctl.errors import EnvironmentProblem
from tinyctl.targets.local.binaries import find_postgres


def _fake_bindir(root: Path, version: str) -> Path:
    bindir = root / version / "bin"
    bindir.mkdir(parents=True)
    for tool in ("initdb", "postgres"):
        script = bindir / tool
        script.write_text(f"#!/bin/sh\necho 'postgres (PostgreSQL) {version}'\n")
        script.chmod(0o755)
    return bindir


def test_the_machines_binaries_are_found_with_their_version() -> None:
    install = find_postgres(dict(os.environ))
    assert (install.bindir / "postgres").is_file()
    assert install.major >= 12 and install.version.startswith(str(install.major))
    assert Path(install.tool("psql")).name == "psql"


def test_tinyctl_pg_bindir_chooses_the_binaries(tmp_path: Path) -> None:
    bindir = _fake_bindir(tmp_path, "16.4")
    install = find_postgres({"TINYCTL_PG_BINDIR": str(bindir), "PATH": ""})
    assert (install.bindir, install.version, install.source) == (
        bindir.resolve(),
        "16.4",
        "TINYCTL_PG_BINDIR",
    )


def test_no_binaries_is_an_environment_problem_saying_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        find_postgres({"TINYCTL_PG_BINDIR": str(tmp_path / "nothing"), "PATH": ""})
    assert "TINYCTL_PG_BINDIR" in caught.value.message
    assert "local-postgres" in (caught.value.hint or "")
