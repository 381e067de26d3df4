"""Atomic writes (tinyctl/state/fsutil.py): a full file system is a DiskFull naming it, the old
file stays whole, and the temporary files of a killed writer are told from a live one's."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinyctl.errors import DiskFull
from tinyctl.state import fsutil


def test_a_full_disk_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "compose.yaml"
    target.write_bytes(b"old")

    def full(_src, _dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil.os, "replace", full)
    with pytest.raises(DiskFull) as caught:
        fsutil.write_atomic(target, b"new")
    assert caught.value.exit_code == 3
    assert f"the file system at {fsutil.mount_point(tmp_path)} is full" in caught.value.message
    assert str(target) in caught.value.message
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.yaml"]


def test_other_write_errors_stay_what_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(_src, _dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(fsutil.os, "replace", denied)
    with pytest.raises(PermissionError):
        fsutil.write_atomic(tmp_path / "x", b"1")


def test_the_temporary_file_of_a_dead_writer_is_removed_a_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    (tmp_path / "sub").mkdir()
    (tmp_path / "db").mkdir()
    stale = tmp_path / "sub" / f".airflow.env.{dead_pid}.abc123.tmp"
    mine = tmp_path / f".render.json.{os.getpid()}.def456.tmp"
    kept_in_skip = tmp_path / "db" / f".x.{dead_pid}.ghi789.tmp"
    not_ours = tmp_path / ".notes.tmp"
    for path in (stale, mine, kept_in_skip, not_ours):
        path.write_bytes(b"")
    removed = fsutil.remove_stale_temps(tmp_path, skip=("db",))
    assert removed == [stale]
    assert mine.exists() and kept_in_skip.exists() and not_ours.exists()


def test_a_copy_is_atomic_and_keeps_the_mode(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_bytes(b"a,b\n1,2\n")
    source.chmod(0o640)
    target = tmp_path / "landing" / "orders.csv"
    fsutil.copy_atomic(source, target)
    assert target.read_bytes() == source.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in target.parent.iterdir()] == ["orders.csv"]


def test_a_nearly_full_file_system_is_named_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fsutil, "free_bytes", lambda _path: 1024)
    said = fsutil.full_file_systems([tmp_path, tmp_path / "data"])
    assert said == [f"the file system at {fsutil.mount_point(tmp_path)} is full (1.0 KiB free)"]
    monkeypatch.setattr(fsutil, "free_bytes", lambda _path: 10 << 30)
    assert fsutil.full_file_systems([tmp_path]) == []
