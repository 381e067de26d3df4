from __future__ import annotations

from pathlib import Path

import pytest

from tinyctl.errors import BadInput
from tinyctl.scaffold import init_project, project_name
from tinyctl.spec import load_spec


def test_scaffold_is_a_valid_project_with_everything_the_demo_needs(tmp_path: Path) -> None:
    result = init_project(tmp_path / "p1")
    loaded = load_spec(result.root / "tinyctl.yaml")
    assert loaded.spec.project.name == "p1"
    assert [s.name for s in loaded.spec.seeds] == ["fx_rates", "customers"]
    assert [t.dag for t in loaded.spec.tests] == ["staging_orders"]
    assert not loaded.warnings
    assert (result.root / "data" / "archive").is_dir()


@pytest.mark.parametrize(
    ("folder", "name"),
    [("My Project", "my-project"), ("__x__", "x"), ("Ünïcode", "n-code"), ("...", "tinyctl")],
)
def test_project_names(folder: str, name: str) -> None:
    assert project_name(Path(folder)) == name


def test_invalid_explicit_name(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not a valid project name"):
        init_project(tmp_path / "x", name="Bad Name")
    assert not (tmp_path / "x").exists()


def test_debian_images_in_the_spec(tmp_path: Path) -> None:
    init_project(tmp_path / "d", images_source="debian")
    assert load_spec(tmp_path / "d" / "tinyctl.yaml").spec.images.source == "debian"
