"""Which Apache Airflow version an Astro Runtime image ships, read from an Astro project's
Dockerfile (`FROM quay.io/astronomer/astro-runtime:X` or `FROM astrocrpublic.azurecr.io/runtime:X`).

Every entry below is what one of these Astronomer sources states (stored copies read on
2026-12-03; each entry names its source by key):

- `feed`: astronomer/astro-cli, `pkg/runtimeversions/testdata/catalog.json` at commit
  fc27cd1d495e5ecc0217310b6da5a10f1d97b04d. Machine-readable: its `_fixture` key says it was
  "Cut from https://updates.astronomer.io/astronomer-runtime on 2026-09-25 (schemaVersion 1.8),
  keeping real entries" (the JSON the Astro CLI itself reads: `runtimeVersions` for Airflow 2,
  `runtimeVersionsV3` for Airflow 3, `metadata.airflowVersion` per release). Preferred over
  the others. The three Airflow 3 entries it marks SYNTHETIC (3.4-1, 3.5-1, 3.6-1) are left out.
- `cli-tests`: the Astro CLI's own test catalogs that are not marked as cut from the feed:
  astronomer/astro-cli `pkg/runtimeversions/python_test.go` (commit
  c7c05f3b0d767a81e3f4f75b4ed85f590ac656d5, `projectPythonCatalog`) and
  `pkg/runtimeversions/astrobuild_test.go` (commit 1a868d4f1ba92d3d7e9296bafecc02508e8a8b4f,
  `TestLookupAstroBuildFollowsTheRuntimeBuild`). Used only for 3.3-7 -> 3.3.1 (both files)
  and 3.1-2 -> 3.1.0 (python_test.go), each between `feed` neighbours of its series; their
  entries dated in the future (3.3-9 in 2999) or stated differently elsewhere are not used.
- `archive`: astronomer/astronomer-docs-resources, the release notes of every Runtime 8, 9
  and 10 release (`- Airflow version: X`): `astro/runtime/8.0.0-airflow-2.6/release-notes.md`
  (commit f0b51a2a4128273d4375b6793d8cba5189e20069), `astro/runtime/9.0.0-airflow-2.7/
  release-notes.md` and `astro/runtime/10.0.0-airflow-2.8/release-notes.md` (commit
  ecaee96f0c4977d0c7f2914641fa19ca67db9c03). This is the archive that
  https://www.astronomer.io/docs/runtime/runtime-release-notes names for "Astro Runtime
  versions 10.x and older"; the folder names also give the Airflow line of Runtime 3, 5-10.
- `parity`: astronomer/docs, `astro/runtime-image-architecture.md` (commit
  03616b9439f818a64a4d6485ea5576841f1e1eba), table "Astro Runtime and Apache Airflow parity"
  (Runtime 4 -> Airflow 2.2 ... 10 -> 2.8), and its versioning rule: a new Runtime major for
  each new Airflow minor, so every release of a major runs the same Airflow 2 line.

Naming (astro-cli `airflow_versions/runtime_versions.go`): Airflow 3 runtimes are
`MAJOR.MINOR-BUILD`, MAJOR.MINOR being the Airflow line and BUILD Astronomer's build number;
Airflow 2 runtimes are semantic versions whose major names the Airflow 2 line.

Only what a source states is listed: an unknown release is refused with the nearest known ones
(a guess would build the wrong Airflow); `--airflow-version` gives it. A release Astronomer
yanked is still mapped (the image exists), with the feed's reason.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from tinyctl.errors import BadInput

SOURCES = ("feed", "cli-tests", "archive", "parity")


@dataclass(frozen=True)
class Release:
    airflow: str  # the exact Airflow version the release ships
    source: str  # one of SOURCES
    yanked: str | None = None  # the feed's yankedReason, when Astronomer yanked it


def _feed(airflow: str, yanked: str | None = None) -> Release:
    return Release(airflow, "feed", yanked)


def _archive(airflow: str) -> Release:
    return Release(airflow, "archive")


# Airflow 3 runtimes: release -> the exact Airflow version it ships.
RUNTIME_AIRFLOW_3: dict[str, Release] = {
    "3.0-17": _feed("3.0.6"),
    "3.0-18": _feed("3.0.6"),
    "3.1-2": Release("3.1.0", "cli-tests"),
    "3.1-8": _feed(
        "3.1.4",
        yanked="This version is based on Airflow 3.1.4, which has been yanked by Apache Airflow.",
    ),
    "3.1-21": _feed("3.1.8"),
    "3.2-1": _feed(
        "3.2.0",
        yanked="This version has issues with environment manager connections not being found.",
    ),
    "3.2-2": _feed("3.2.0"),
    "3.2-10": _feed("3.2.2"),
    "3.3-1": _feed("3.3.0"),
    "3.3-2": _feed("3.3.0"),
    "3.3-7": Release("3.3.1", "cli-tests"),
    "3.3-8": _feed("3.3.2"),
}
# Airflow 2 runtimes (semantic-version names): runtime major -> Airflow 2 line. tinyctl runs
# Airflow 3 only, so these are imported onto Airflow 3 (see `astro.py`).
RUNTIME_AIRFLOW_2_LINES: dict[int, str] = {
    3: "2.1",  # archive: folder astro/runtime/3.0.0-airflow-2.1
    4: "2.2",  # parity
    5: "2.3",  # parity
    6: "2.4",  # parity
    7: "2.5",  # parity
    8: "2.6",  # parity, archive
    9: "2.7",  # parity, archive
    10: "2.8",  # parity, archive
    11: "2.9",  # feed: 11.0.0
    12: "2.10",  # feed: 12.12.0
    13: "2.11",  # feed: 13.5.0, 13.10.0, 13.11.0
}
# The exact Airflow 2 version of the releases a source lists.
RUNTIME_AIRFLOW_2: dict[str, Release] = {
    **{f"8.{minor}.0": _archive("2.6.0") for minor in (0, 1)},
    **{f"8.{minor}.0": _archive("2.6.1") for minor in (2, 3, 4)},
    **{f"8.{minor}.0": _archive("2.6.2") for minor in (5, 6)},
    **{f"8.{minor}.0": _archive("2.6.3") for minor in (7, 8, 9, 10)},
    "9.0.0": _archive("2.7.0"),
    "9.1.0": _feed(  # archive too
        "2.7.1",
        yanked="This version has issues with CeleryExecutor workers not terminating properly.",
    ),
    **{f"9.{minor}.0": _archive("2.7.2") for minor in (2, 3, 4)},
    **{f"9.{minor}.0": _archive("2.7.3") for minor in range(5, 22)},
    **{f"9.10.{patch}": _archive("2.7.3") for patch in (1, 2)},
    **{f"9.19.{patch}": _archive("2.7.3") for patch in (1, 2, 3, 4, 5)},
    **{f"10.{minor}.0": _archive("2.8.0") for minor in (0, 1)},
    **{f"10.{minor}.0": _archive("2.8.1") for minor in (2, 3)},
    "10.4.0": _archive("2.8.2"),
    "10.5.0": _archive("2.8.3"),
    **{f"10.{minor}.0": _archive("2.8.4") for minor in (6, 7, 8, 9)},
    "11.0.0": _feed(
        "2.9.0", yanked="This version has db migration issues when you have running triggers."
    ),
    "12.12.0": _feed("2.10.5"),
    "13.5.0": _feed(
        "2.11.1",
        yanked="Webserver throwing 500s for existing user sessions when upgrading from "
        "previous versions",
    ),
    "13.10.0": _feed("2.11.2"),
    "13.11.0": _feed("2.11.2"),
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
    release: str  # e.g. 3.3-8 or 12.12.0
    variant: str  # e.g. "-slim", "" for the default image
    airflow: str | None  # exact Airflow 3 version, when known
    airflow2_line: str | None = None  # for an Airflow 2 runtime: its line, e.g. "2.10"
    airflow2: str | None = (
        None  # for an Airflow 2 runtime: its exact version, when a source lists it
    )
    yanked: str | None = None  # why Astronomer yanked the release, when it did

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
            hint="Write FROM <registry>/runtime:3.3-8 (Airflow 3) or astro-runtime:12.12.0 (Airflow 2), "
            "or give the Airflow version with --airflow-version.",
        )
    if pattern is OLD_FORMAT:
        line = RUNTIME_AIRFLOW_2_LINES.get(int(match.group(1)))
        if line is None:
            raise _unknown(image, release)
        exact = RUNTIME_AIRFLOW_2.get(release)
        if exact is None:
            return RuntimeImage(image, release, variant, None, line)
        return RuntimeImage(image, release, variant, None, line, exact.airflow, exact.yanked)
    known = RUNTIME_AIRFLOW_3.get(release)
    if known is None:
        raise _unknown(image, release)
    return RuntimeImage(image, release, variant, known.airflow, yanked=known.yanked)


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
    return [f"{r} (Airflow {RUNTIME_AIRFLOW_3[r].airflow})" for r in known[max(at - 2, 0) : at + 2]]


def _unknown(image: str, release: str) -> BadInput:
    return BadInput(
        f"Astro Runtime {release} ({image}) is not in tinyctl's table of runtime releases",
        details="nearest known: " + ", ".join(nearest_known(release)),
        hint="Give the Airflow version it ships: tinyctl init --from-astro --airflow-version 3.x.y "
        "(Astronomer's release notes name it: astronomer.io/docs/runtime/runtime-release-notes)",
    )
