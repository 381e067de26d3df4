"""Which Apache Airflow version an Astro Runtime image ships, read from an Astro project's
Dockerfile (`FROM quay.io/astronomer/astro-runtime:X` or `FROM astrocrpublic.azurecr.io/runtime:X`).

Source of the table: Astronomer's published mapping of Astro Runtime releases to Apache Airflow
versions, the "Airflow version" of each release in the Astro Runtime release notes
(astronomer.io/docs/runtime/runtime-release-notes) and the release table of the Astro Runtime
architecture page (astronomer.io/docs/runtime/runtime-image-architecture). Astronomer's
versioning rule (also astro-cli's airflow_versions/runtime_versions.go): Airflow 3 runtimes are
named `MAJOR.MINOR-PATCH` where MAJOR.MINOR is the Airflow line and PATCH is Astronomer's build
number; Airflow 2 runtimes are semantic versions whose major number names the Airflow 2 line.

Only releases whose Airflow version the sources state are listed: an unknown release is refused
with the nearest known ones (a guess would build the wrong Airflow); `--airflow-version` gives it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from tinyctl.errors import BadInput

# Airflow 3 runtimes: release -> the exact Airflow version it ships.
RUNTIME_AIRFLOW_3: dict[str, str] = {
    "3.1-1": "3.1.0",
    "3.1-2": "3.1.0",
    "3.1-17": "3.1.8",
    "3.3-2": "3.3.0",
    "3.3-6": "3.3.1",
    "3.3-7": "3.3.1",
}
# Airflow 2 runtimes (old, semantic-version names): runtime major -> Airflow 2 line.
# tinyctl runs Airflow 3 only, so these are imported onto Airflow 3 (see `astro.py`).
RUNTIME_AIRFLOW_2_LINES: dict[int, str] = {
    8: "2.6",
    9: "2.7",
    10: "2.8",
    11: "2.9",
    12: "2.10",
    13: "2.11",
}
REGISTRIES = (
    "quay.io/astronomer/astro-runtime",
    "astrocrpublic.azurecr.io/runtime",
    "astrocrpublic.azurecr.io/astronomer/astro-runtime",
)
NEW_FORMAT = re.compile(r"(\d+)\.(\d+)-(\d+)")
OLD_FORMAT = re.compile(r"(\d+)\.(\d+)\.(\d+)")
# what may follow the release in a tag: -slim, -base, -python-3.12 (and combinations)
TAG_SUFFIX = re.compile(r"(?:-(?:slim|base|python-\d+\.\d+))*")


@dataclass(frozen=True)
class RuntimeImage:
    image: str  # as written in the Dockerfile
    release: str  # e.g. 3.3-7 or 12.7.1
    variant: str  # e.g. "-slim", "" for the default image
    airflow: str | None  # exact Airflow 3 version, when known
    airflow2_line: str | None = None  # for an Airflow 2 runtime: its line, e.g. "2.10"

    @property
    def is_airflow2(self) -> bool:
        return self.airflow2_line is not None


def is_runtime_image(image: str) -> bool:
    return image.split(":", 1)[0].split("@", 1)[0] in REGISTRIES


def parse_runtime_image(image: str) -> RuntimeImage:
    """The runtime release of an image reference; BadInput when the tag is no runtime release
    or the release is not in the table (with the nearest known releases)."""
    _name, _, tag = image.partition(":")
    tag = tag.split("@", 1)[0]
    for pattern in (NEW_FORMAT, OLD_FORMAT):
        match = pattern.match(tag)
        if match and TAG_SUFFIX.fullmatch(tag[match.end() :]):
            release, variant = match.group(0), tag[match.end() :]
            break
    else:
        raise BadInput(
            f"{image!r} does not name an Astro Runtime release",
            hint="Write FROM <registry>/runtime:3.3-7 (Airflow 3) or astro-runtime:12.7.1 (Airflow 2), "
            "or give the Airflow version with --airflow-version.",
        )
    if pattern is OLD_FORMAT:
        line = RUNTIME_AIRFLOW_2_LINES.get(int(match.group(1)))
        if line is None:
            raise _unknown(image, release)
        return RuntimeImage(image, release, variant, None, line)
    airflow = RUNTIME_AIRFLOW_3.get(release)
    if airflow is None:
        raise _unknown(image, release)
    return RuntimeImage(image, release, variant, airflow)


def _key(release: str) -> tuple[int, int, int, int]:
    """Sort order of releases: every Airflow 2 runtime before every Airflow 3 one."""
    if match := NEW_FORMAT.fullmatch(release):
        return (1, *(int(g) for g in match.groups()))
    match = OLD_FORMAT.fullmatch(release)
    assert match is not None
    return (0, *(int(g) for g in match.groups()))


def nearest_known(release: str) -> list[str]:
    """The known releases around `release` in release order: up to two older and two newer."""
    if OLD_FORMAT.fullmatch(release):
        return [f"{major}.x.x (Airflow {line})" for major, line in RUNTIME_AIRFLOW_2_LINES.items()]
    known = sorted(RUNTIME_AIRFLOW_3, key=_key)
    target = _key(release) if NEW_FORMAT.fullmatch(release) else (1, 0, 0, 0)
    at = bisect.bisect_left([_key(r) for r in known], target)
    return [f"{r} (Airflow {RUNTIME_AIRFLOW_3[r]})" for r in known[max(at - 2, 0) : at + 2]]


def _unknown(image: str, release: str) -> BadInput:
    return BadInput(
        f"Astro Runtime {release} ({image}) is not in tinyctl's table of runtime releases",
        details="nearest known: " + ", ".join(nearest_known(release)),
        hint="Give the Airflow version it ships: tinyctl init --from-astro --airflow-version 3.x.y",
    )
