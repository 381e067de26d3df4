"""The Astro Runtime table: FROM lines -> Airflow versions, as Astronomer's sources state them
(see the module's docstring); unknown releases refused with their nearest known neighbours."""

from __future__ import annotations

import re

import pytest

from tinyctl.errors import BadInput
from tinyctl.interop.astro_runtime import (
    NEW_FORMAT,
    OLD_FORMAT,
    REGISTRIES,
    RUNTIME_AIRFLOW_2,
    RUNTIME_AIRFLOW_2_LINES,
    RUNTIME_AIRFLOW_3,
    SOURCES,
    is_runtime_image,
    nearest_known,
    parse_runtime_image,
)

QUAY, AZURE = REGISTRIES[0], REGISTRIES[1]


# Read off the sources by hand: the feed snapshot (astro-cli testdata/catalog.json), the Astro
# CLI's test catalogs (3.1-2, 3.3-7), the archived release notes (8.x-10.x).
@pytest.mark.parametrize(
    ("release", "airflow"),
    [
        ("3.0-17", "3.0.6"),  # the first Airflow 3 release listed
        ("3.0-18", "3.0.6"),
        ("3.1-2", "3.1.0"),
        ("3.1-21", "3.1.8"),
        ("3.2-2", "3.2.0"),
        ("3.2-10", "3.2.2"),
        ("3.3-1", "3.3.0"),
        ("3.3-7", "3.3.1"),
        ("3.3-8", "3.3.2"),  # the last
    ],
)
@pytest.mark.parametrize("registry", [QUAY, AZURE])
def test_airflow3_releases(registry: str, release: str, airflow: str):
    runtime = parse_runtime_image(f"{registry}:{release}")
    assert (runtime.release, runtime.variant, runtime.airflow) == (release, "", airflow)
    assert not runtime.is_airflow2 and runtime.yanked is None


@pytest.mark.parametrize("suffix", ["-slim", "-base", "-python-3.12", "-python-3.12-base"])
@pytest.mark.parametrize("registry", REGISTRIES)
def test_tag_suffixes_keep_the_release(registry: str, suffix: str):
    runtime = parse_runtime_image(f"{registry}:3.2-10{suffix}")
    assert (runtime.release, runtime.variant, runtime.airflow) == ("3.2-10", suffix, "3.2.2")
    old = parse_runtime_image(f"{registry}:12.12.0{suffix}")
    assert (old.release, old.variant, old.airflow2) == ("12.12.0", suffix, "2.10.5")


def test_a_digest_after_the_tag_is_ignored():
    runtime = parse_runtime_image(f"{AZURE}:3.3-8-slim@sha256:{'a' * 64}")
    assert (runtime.release, runtime.variant, runtime.airflow) == ("3.3-8", "-slim", "3.3.2")


@pytest.mark.parametrize(
    ("release", "line", "exact"),
    [
        ("8.0.0", "2.6", "2.6.0"),  # archive, the first Runtime 8
        ("8.7.0", "2.6", "2.6.3"),
        ("9.4.0", "2.7", "2.7.2"),
        ("9.19.5", "2.7", "2.7.3"),
        ("9.21.0", "2.7", "2.7.3"),  # archive, the last Runtime 9
        ("10.5.0", "2.8", "2.8.3"),
        ("10.9.0", "2.8", "2.8.4"),
        ("12.12.0", "2.10", "2.10.5"),  # feed
        ("13.11.0", "2.11", "2.11.2"),  # feed
        ("12.7.1", "2.10", None),  # no source lists it: its major's line only
        ("4.2.9", "2.2", None),
    ],
)
def test_airflow2_releases(release: str, line: str, exact: str | None):
    runtime = parse_runtime_image(f"{QUAY}:{release}")
    assert runtime.is_airflow2 and runtime.airflow is None
    assert (runtime.airflow2_line, runtime.airflow2) == (line, exact)


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (f"{AZURE}:3.2-1", "environment manager connections"),
        (f"{QUAY}:3.1-8-slim", "yanked by Apache Airflow"),
        (f"{QUAY}:13.5.0", "Webserver throwing 500s"),
    ],
)
def test_yanked_releases_map_with_the_reason(image: str, reason: str):
    runtime = parse_runtime_image(image)
    assert runtime.yanked is not None and reason in runtime.yanked
    assert runtime.airflow or runtime.airflow2


@pytest.mark.parametrize(
    ("release", "neighbours"),
    [
        (
            "3.3-5",
            [
                "3.3-1 (Airflow 3.3.0)",
                "3.3-2 (Airflow 3.3.0)",
                "3.3-7 (Airflow 3.3.1)",
                "3.3-8 (Airflow 3.3.2)",
            ],
        ),
        (
            "3.1-17",
            [
                "3.1-2 (Airflow 3.1.0)",
                "3.1-8 (Airflow 3.1.4)",
                "3.1-21 (Airflow 3.1.8)",
                "3.2-1 (Airflow 3.2.0)",
            ],
        ),
        ("3.4-1", ["3.3-7 (Airflow 3.3.1)", "3.3-8 (Airflow 3.3.2)"]),  # after the last
        ("3.0-1", ["3.0-17 (Airflow 3.0.6)", "3.0-18 (Airflow 3.0.6)"]),  # before the first
    ],
)
@pytest.mark.parametrize("registry", [QUAY, AZURE])
def test_unknown_release_exits_2_with_the_nearest_known(
    registry: str, release: str, neighbours: list[str]
):
    assert nearest_known(release) == neighbours
    with pytest.raises(BadInput) as caught:
        parse_runtime_image(f"{registry}:{release}-python-3.12")
    assert caught.value.exit_code == 2
    assert f"Astro Runtime {release} " in caught.value.message
    assert caught.value.details == "nearest known: " + ", ".join(neighbours)
    assert "--airflow-version" in caught.value.hint


@pytest.mark.parametrize("release", ["14.0.0", "2.5.0"])
def test_unknown_airflow2_major_names_the_known_majors(release: str):
    with pytest.raises(BadInput) as caught:
        parse_runtime_image(f"{QUAY}:{release}")
    assert caught.value.exit_code == 2
    assert "3.x.x (Airflow 2.1)" in caught.value.details
    assert "13.x.x (Airflow 2.11)" in caught.value.details


@pytest.mark.parametrize("tag", ["latest", "3.3-8-turbo", "3.3", "v3.3-8"])
def test_not_a_release_tag(tag: str):
    with pytest.raises(BadInput, match="does not name an Astro Runtime release") as caught:
        parse_runtime_image(f"{AZURE}:{tag}")
    assert caught.value.exit_code == 2


def test_which_images_are_runtime_images():
    for registry in REGISTRIES:
        assert is_runtime_image(f"{registry}:3.3-8")
    assert not is_runtime_image("apache/airflow:3.3.2")
    assert not is_runtime_image("quay.io/astronomer/ap-airflow:2.2.0")


# The table against itself: what would betray a typo in a transcribed entry.
def test_every_entry_names_a_source_and_its_airflow_line():
    for release, known in RUNTIME_AIRFLOW_3.items():
        match = NEW_FORMAT.fullmatch(release)
        assert match and known.source in SOURCES, release
        assert known.airflow.startswith(f"{match[1]}.{match[2]}."), release
    for release, known in RUNTIME_AIRFLOW_2.items():
        match = OLD_FORMAT.fullmatch(release)
        assert match and known.source in SOURCES, release
        assert known.airflow.startswith(RUNTIME_AIRFLOW_2_LINES[int(match[1])] + "."), release


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.split(r"[.-]", version))


@pytest.mark.parametrize("table", [RUNTIME_AIRFLOW_3, RUNTIME_AIRFLOW_2])
def test_a_newer_release_never_ships_an_older_airflow(table):
    ordered = sorted(table, key=_numbers)
    versions = [_numbers(table[release].airflow) for release in ordered]
    assert versions == sorted(versions)


def test_the_feeds_synthetic_decoys_are_not_listed():
    assert not {"3.4-1", "3.5-1", "3.6-1"} & set(RUNTIME_AIRFLOW_3)
