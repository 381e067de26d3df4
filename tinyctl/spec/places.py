"""The places a spec names on disk, and what is at each of them now.

Every path field of the spec is a place: a folder tinyctl creates or reads (the state, DAG,
plugins, include and data folders), a file it reads (seeds, requirement and package files, the
CA bundle) or either (a test's fixture). `tinyctl.spec.checks` uses them to refuse, before
anything is written, a place that holds something of the wrong kind (a file where a folder is
needed, a folder where a file is) and a state folder that overlaps the project's inputs.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from tinyctl.spec.loaded import LoadedSpec, format_path

FOLDER = "a folder"
FILE = "a file"
EITHER = "a file or a folder"
SPEC_FILE = "the spec file"


@dataclass(frozen=True)
class Place:
    """A path the spec names, where it is written and what it is for."""

    where: tuple[Any, ...]  # the YAML path of the value; () for the spec file itself
    relative: str  # as written, relative to the project folder (or absolute: the CA bundle)
    role: str  # what it is, e.g. "the DAG folder", "the CSV file of seed 'customers'"
    want: str  # FOLDER, FILE or EITHER
    note: str = ""  # how the place is named, when not by its own line (the seeds folder)

    def describe(self, *, with_path: bool = True) -> str:
        """The place in a message: its role, its path and the line that names it."""
        if not self.where:
            return f"{SPEC_FILE} {self.relative!r}" if with_path else f"{SPEC_FILE} itself"
        shown = f" {self.relative!r}" if with_path else ""
        return f"{self.role}{shown} ({self.note or format_path(self.where)})"


def spec_places(loaded: LoadedSpec) -> list[Place]:
    """Every place the spec names, folders before files (the first overlap found reads best)."""
    spec = loaded.spec
    places = [
        Place(("project", "state_dir"), spec.project.state_dir, "the state folder", FOLDER),
        Place(("dags", "path"), spec.dags.path, "the DAG folder", FOLDER),
        Place(("plugins", "path"), spec.plugins.path, "the plugins folder", FOLDER),
        Place(("include", "path"), spec.include.path, "the include folder", FOLDER),
        Place(("data", "path"), spec.data.path, "the data folder", FOLDER),
    ]
    files = [Place((), loaded.file.name, SPEC_FILE, FILE)]
    for i, seed in enumerate(spec.seeds):
        if seed.csv is not None:
            role = f"the CSV file of seed {seed.name!r}"
            files.append(Place(("seeds", i, "csv"), seed.csv, role, FILE))
        for j, sql in enumerate(seed.sql_files):
            where = ("seeds", i, "sql", j) if isinstance(seed.sql, list) else ("seeds", i, "sql")
            files.append(Place(where, sql, f"an SQL file of seed {seed.name!r}", FILE))
    for seed_file in files[1:]:  # the seeds folders: each folder holding a seed file
        folder = os.path.normpath(PurePath(seed_file.relative).parent)  # 'dags/..' is '.'
        if folder != ".":  # the project folder holds everything: it is no seeds folder
            note = f"the folder of {format_path(seed_file.where)}"
            places.append(Place(seed_file.where, folder, "the seeds folder", FOLDER, note))
    for i, test in enumerate(spec.tests):
        for j, fixture in enumerate(test.files):
            where = ("tests", i, "files", j, "from")
            places.append(Place(where, fixture.source, f"test {test.name!r}'s fixture", EITHER))
    af = spec.airflow
    for key, role in (("requirements", "requirements"), ("system_packages", "system packages")):
        value = getattr(af, key)
        if isinstance(value, str):
            files.append(Place(("airflow", key), value, f"the {role} file", FILE))
    if spec.images.ca_bundle is not None:
        files.append(Place(("images", "ca_bundle"), spec.images.ca_bundle, "the CA bundle", FILE))
    return places + files


def found_kind(target: Path) -> str | None:
    """What is at `target` now, in words (FILE, FOLDER, "a named pipe", ...), or None when
    nothing is there yet (or a file on the way hides it: see `blocking_part`)."""
    try:
        info = target.stat()
    except (FileNotFoundError, NotADirectoryError):
        try:
            return "a broken symlink" if target.is_symlink() else None
        except OSError:
            return None
    except OSError as error:  # a symlink loop, a name too long for this system
        return f"unusable ({error.strerror or error})"
    except ValueError:
        return None  # a NUL byte: the models refuse it before this runs
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return FOLDER
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device file"


def blocking_part(root: Path, relative: str) -> tuple[str, str] | None:
    """The first part on the way to `relative` that exists but is not a folder (a file, a
    pipe), as written, with what it is: nothing can be created or found under it."""
    parts = PurePath(relative).parts
    current = root
    for index, part in enumerate(parts[:-1]):
        current = current / part
        kind = found_kind(current)
        if kind is None:
            return None
        if kind != FOLDER:
            return str(PurePath(*parts[: index + 1])), kind
    return None


def fits(kind: str | None, want: str) -> bool:
    """Whether what is there (None: nothing yet) can serve as `want`."""
    return kind is None or kind == want or (want == EITHER and kind in (FILE, FOLDER))
