"""A derived spec: name, ports, state and data folders replaced in memory, the file untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyctl.errors import BadInput
from tinyctl.project import Project
from tinyctl.spec.override import SpecOverride, apply_override


def test_derive_replaces_identity_fields_and_leaves_the_file_alone(project: Path) -> None:
    spec_file = project / "tinyctl.yaml"
    before = spec_file.read_bytes()
    base = Project.open(spec_file)
    derived = base.derive(
        SpecOverride(
            name="demo-ci-42-abc",
            airflow_port=18080,
            postgres_port=15432,
            state_dir=".tinyctl/ci/demo-ci-42-abc/state",
            data_path=".tinyctl/ci/demo-ci-42-abc/data",
        )
    )
    assert spec_file.read_bytes() == before
    assert (derived.name, derived.spec.airflow.port, derived.spec.postgres.port) == (
        "demo-ci-42-abc",
        18080,
        15432,
    )
    assert derived.state.root == project / ".tinyctl/ci/demo-ci-42-abc/state"
    assert derived.path(derived.spec.data.path) == project / ".tinyctl/ci/demo-ci-42-abc/data"
    # Everything else, and where paths resolve, is the user's spec.
    assert derived.root == base.root == project
    assert derived.spec.seeds == base.spec.seeds and derived.spec.tests == base.spec.tests
    assert derived.loaded.positions is base.loaded.positions
    assert (base.name, base.spec.airflow.port) == ("demo", 8080)


def test_an_unexposed_postgres_stays_unexposed(project: Path) -> None:
    spec_file = project / "tinyctl.yaml"
    spec_file.write_text(spec_file.read_text().replace("port: 5432", "port: null"))
    base = Project.open(spec_file)
    derived = apply_override(base.loaded, SpecOverride(postgres_port=15432))
    assert derived.spec.postgres.port is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (SpecOverride(name="Bad Name"), "not a valid project name"),
        (SpecOverride(name="x" * 64), "not a valid project name"),
        (SpecOverride(state_dir="/tmp/elsewhere"), "inside the project folder"),
        (SpecOverride(data_path="../other"), "inside the project folder"),
        (SpecOverride(airflow_port=70000), "out of range"),
    ],
)
def test_invalid_overrides_are_bad_input(
    project: Path, override: SpecOverride, message: str
) -> None:
    loaded = Project.open(project / "tinyctl.yaml").loaded
    with pytest.raises(BadInput, match=message):
        apply_override(loaded, override)
