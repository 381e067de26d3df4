"""What a project adds to its Airflow image: pip requirements and Debian packages.

Both come inline from the spec (`airflow.requirements: [...]`, `airflow.system_packages: [...]`)
or from a file in the project named there (`requirements: requirements.txt`,
`system_packages: packages.txt`), one entry per line, `#` comments and blank lines allowed.
Every entry is validated before it can reach a Dockerfile: requirements as PEP 508 (no pip
options), packages as Debian package names. Problems are located as `file:line`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tinyctl.errors import SpecError, SpecProblem
from tinyctl.spec.loaded import LoadedSpec, format_path
from tinyctl.spec.packages import package_problem, requirement_problem
from tinyctl.spec.places import FILE, found_kind


@dataclass(frozen=True)
class ImageInputs:
    """The validated additions to the Airflow image, in the order written."""

    requirements: tuple[str, ...] = ()
    system_packages: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.system_packages

    def requirements_txt(self) -> bytes:
        return "".join(f"{line}\n" for line in self.requirements).encode()

    def packages_txt(self) -> bytes:
        return "".join(f"{line}\n" for line in self.system_packages).encode()


def _strip_comment(line: str) -> str:
    """pip's rule: `#` starts a comment at the start of a line or after whitespace."""
    match = re.search(r"(^|\s)#", line)
    return (line[: match.start()] if match else line).strip()


def _read_entries(
    loaded: LoadedSpec, key: str, relative: str, check, what: str
) -> tuple[list[str], list[SpecProblem]]:
    where = ("airflow", key)
    line, col = loaded.locate(*where)
    spec_problem = lambda message: SpecProblem(  # noqa: E731
        loaded.file, line, col, format_path(where), message
    )
    path = loaded.path(relative)
    kind = found_kind(path)
    if kind is None:
        return [], [spec_problem(f"{what} file {relative!r} does not exist (looked for {path})")]
    if kind != FILE:  # a folder, or a pipe that would never finish reading
        return [], [spec_problem(f"{relative!r} is {kind}; name a {what} file")]
    try:
        raw = path.read_bytes()
    except OSError as error:
        return [], [spec_problem(f"cannot read {what} file {relative!r}: {error.strerror}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad_line = raw[: error.start].count(b"\n") + 1
        return [], [SpecProblem(path, bad_line, 0, "", "is not UTF-8 text; save it as UTF-8")]
    entries: list[str] = []
    problems: list[SpecProblem] = []
    for number, text_line in enumerate(text.splitlines(), start=1):
        entry = _strip_comment(text_line)
        if not entry:
            continue
        problem = check(entry)
        if problem is not None:
            problems.append(SpecProblem(path, number, 1, "", problem))
        else:
            entries.append(entry)
    return entries, problems


def read_image_inputs(loaded: LoadedSpec) -> tuple[ImageInputs, list[SpecProblem]]:
    """The project's requirements and system packages, read from the spec or its files."""
    af = loaded.spec.airflow
    problems: list[SpecProblem] = []
    if isinstance(af.requirements, str):
        requirements, found = _read_entries(
            loaded, "requirements", af.requirements, requirement_problem, "requirements"
        )
        problems += found
    else:
        requirements = [r.strip() for r in af.requirements]
    if isinstance(af.system_packages, str):
        packages, found = _read_entries(
            loaded, "system_packages", af.system_packages, package_problem, "system packages"
        )
        problems += found
    else:
        packages = [p.strip() for p in af.system_packages]
    return ImageInputs(tuple(requirements), tuple(packages)), problems


def image_inputs(loaded: LoadedSpec) -> ImageInputs:
    """The validated image inputs; raises SpecError (exit 2) naming file and line."""
    inputs, problems = read_image_inputs(loaded)
    if problems:
        raise SpecError(problems, hint=_HINT)
    return inputs


_HINT = (
    "Fix the lines above. Requirements are PEP 508 lines (pandas==2.2.3, no pip options); "
    "system packages are Debian package names (jq, unixodbc=2.3.11-2)."
)
