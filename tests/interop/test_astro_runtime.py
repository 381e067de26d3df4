"""The Astro Runtime table: FROM lines -> Airflow versions; unknown releases refused."""

from __future__ import annotations

import pytest

from tinyctl.errors import BadInput
from tinyctl.interop.astro_runtime import nearest_known, parse_runtime_image


@pytest.mark.parametrize(
    ("image", "release", "variant", "airflow"),
    [
        ("astrocrpublic.azurecr.io/runtime:3.3-7", "3.3-7", "", "3.3.1"),
        ("quay.io/astronomer/astro-runtime:3.1-17-slim", "3.1-17", "-slim", "3.1.8"),
        ("astrocrpublic.azurecr.io/runtime:3.3-2-python-3.12", "3.3-2", "-python-3.12", "3.3.0"),
    ],
)
def test_airflow3_runtimes(image, release, variant, airflow):
    runtime = parse_runtime_image(image)
    assert (runtime.release, runtime.variant, runtime.airflow) == (release, variant, airflow)
    assert not runtime.is_airflow2


def test_airflow2_runtime_names_its_line():
    runtime = parse_runtime_image("quay.io/astronomer/astro-runtime:12.7.1")
    assert runtime.is_airflow2 and runtime.airflow2_line == "2.10"


def test_unknown_release_exits_2_with_the_nearest_known():
    with pytest.raises(BadInput) as caught:
        parse_runtime_image("astrocrpublic.azurecr.io/runtime:3.3-5")
    assert caught.value.exit_code == 2
    assert "3.3-5" in caught.value.message
    assert "3.3-6 (Airflow 3.3.1)" in caught.value.details
    assert "--airflow-version" in caught.value.hint


def test_not_a_release_tag():
    with pytest.raises(BadInput, match="does not name an Astro Runtime release"):
        parse_runtime_image("quay.io/astronomer/astro-runtime:latest")


def test_nearest_known_is_in_release_order():
    assert nearest_known("3.2-1") == [
        "3.1-2 (Airflow 3.1.0)",
        "3.1-17 (Airflow 3.1.8)",
        "3.3-2 (Airflow 3.3.0)",
        "3.3-6 (Airflow 3.3.1)",
    ]
