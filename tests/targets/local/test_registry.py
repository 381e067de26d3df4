"""The machine's record of local stacks: `init` avoids the ports of stopped ones too."""

from __future__ import annotations

import shutil
from pathlib import Path

from tinyctl.project import Project
from tinyctl.targets.choice import ports_of_other_projects
from tinyctl.targets.local import registry


def test_a_recorded_local_stack_keeps_its_ports_until_its_folder_is_gone(
    project: Path, tmp_path: Path
) -> None:
    environ = {"TINYCTL_CACHE_DIR": str(tmp_path / "cache")}
    opened = Project.open(project / "tinyctl.yaml", environ)
    ident = opened.ensure_identity().id
    registry.remember(environ, ident, opened.state.root, [18080, 15432])
    assert registry.ports_in_use(environ) == {18080, 15432}
    shutil.rmtree(opened.state.root)  # the project is gone: its entry is dropped
    assert registry.ports_in_use(environ) == set()
    assert not list((tmp_path / "cache" / registry.FOLDER).glob("*.json"))


def test_forget_removes_the_entry_and_init_sees_recorded_ports(
    project: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TINYCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    import os

    opened = Project.open(project / "tinyctl.yaml", os.environ)
    ident = opened.ensure_identity().id
    registry.remember(os.environ, ident, opened.state.root, [18081])
    assert 18081 in ports_of_other_projects()
    registry.forget(os.environ, ident)
    assert 18081 not in ports_of_other_projects()
