"""Small file-system helpers: atomic writes, so no reader ever sees a half-written file, and a
full file system reported as one (`DiskFull`, naming it) instead of an OSError."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from tinyctl.errors import FULL_ERRNOS, DiskFull

FULL = FULL_ERRNOS
TEMP_SUFFIX = ".tmp"


def mount_point(path: Path) -> Path:
    """The mount point of the file system holding `path` (or its nearest existing parent)."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def free_bytes(path: Path) -> int | None:
    try:
        info = os.statvfs(mount_point(path))
    except OSError:
        return None
    return info.f_bavail * info.f_frsize


def _size(count: int | None) -> str:
    if count is None:
        return "unknown"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return str(count)


def disk_full(path: Path, what: str | None = None) -> DiskFull:
    """The error for a write of `path` that found its file system full."""
    mount = mount_point(path)
    free = free_bytes(path)
    return DiskFull(
        f"the file system at {mount} is full: could not write {what or path} ({_size(free)} free)",
        mount=str(mount),
        free_bytes=free,
    )


NEARLY_FULL = 1 << 20  # bytes: less free than this is a full file system for a stack


def full_file_systems(paths: list[Path], *, below: int = NEARLY_FULL) -> list[str]:
    """'the file system at MOUNT is full (N free)' for each distinct file system holding one of
    `paths` with less than `below` bytes free: what a failure on a full disk is told with."""
    said: dict[Path, str] = {}
    for path in paths:
        mount = mount_point(path)
        free = free_bytes(path)
        if mount not in said and free is not None and free < below:
            said[mount] = f"the file system at {mount} is full ({_size(free)} free)"
    return list(said.values())


def is_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in FULL


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write `data` to `path` via a temporary file in the same folder and a rename.

    The temporary file is created with `mode` from the start, so a secret is never readable by
    others, not even for an instant. On a full file system the old file stays as it was and
    `DiskFull` names the file system. The temporary file's name carries this process's id: a
    writer killed before its rename leaves `.NAME.PID.<random>.tmp`, which
    `remove_stale_temps` knows to be garbage.
    """
    fd, tmp = _temp_beside(path)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if is_full(error):
            raise disk_full(path) from None
        raise


def _temp_beside(path: Path) -> tuple[int, str]:
    """A new temporary file in `path`'s folder, named for `remove_stale_temps` to recognise;
    DiskFull when the file system has no room for it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX
        )
    except OSError as error:
        if is_full(error):
            raise disk_full(path) from None
        raise


def copy_atomic(source: Path, target: Path) -> None:
    """Copy a file as `write_atomic` writes one: a reader sees the old file or the whole copy."""
    fd, tmp = _temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as handle, source.open("rb") as reading:
            shutil.copyfileobj(reading, handle, 1 << 20)
            handle.flush()
            os.fsync(handle.fileno())
        shutil.copymode(source, tmp)
        os.replace(tmp, target)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if is_full(error):
            raise disk_full(target) from None
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(folder: Path, *, skip: tuple[str, ...] = ()) -> list[Path]:
    """Delete the temporary files of atomic writes whose writer is gone (killed before its
    rename) under `folder`, but not in its sub-folders named in `skip` (relative: a database's
    files, logs); a live writer's are left alone. Returns what was removed."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for top, dirs, names in os.walk(folder):
        relative = Path(top).relative_to(folder)
        dirs[:] = [d for d in dirs if (relative / d).as_posix() not in skip]
        for name in names:
            if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
                continue
            parts = name[1:].split(".")
            pid = next((int(p) for p in reversed(parts[:-2]) if p.isdigit()), None)
            if pid is None or pid == os.getpid() or _pid_alive(pid):
                continue
            path = Path(top) / name
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
