"""Plugins and include code: checked, then copied all-or-nothing into the state folder."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import tinyctl

from tinyctl.dags.code import (
    changed_modules,
    deploy_include,
    deploy_plugins,
    include_imports,
    pending_plugins,
    require_clean,
    sync_folder,
)
from tinyctl.errors import BadInput
from tinyctl.project import Project
from tinyctl.spec import load_spec


def test_init_scaffolds_both_folders_and_the_stack_mounts_their_copies(project: Path) -> None:
    assert (project / "plugins" / "README.md").is_file()
    assert (project / "include" / "README.md").is_file()
    loaded = load_spec(project / "tinyctl.yaml")
    assert loaded.spec.plugins.path == "plugins" and loaded.spec.include.path == "include"


def test_sync_copies_changes_removes_stale_files_and_skips_caches(tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "dst"
    (source / "pkg" / "__pycache__").mkdir(parents=True)
    (source / "pkg" / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"\0")
    (source / "pkg" / "__init__.py").write_text("")
    (source / "helpers.py").write_text("X = 1\n")
    (source / "query.sql").write_text("select 1\n")
    (source / ".hidden.py").write_text("broken(\n")
    first = sync_folder("include", source, target)
    assert sorted(first.changed) == ["helpers.py", "pkg/__init__.py", "query.sql"]
    assert not (target / "pkg" / "__pycache__").exists()
    assert not (target / ".hidden.py").exists()

    again = sync_folder("include", source, target)
    assert not again.applied

    (source / "pkg" / "__init__.py").unlink()
    (source / "pkg" / "__pycache__" / "x.cpython-312.pyc").unlink()
    (source / "pkg" / "__pycache__").rmdir()
    (source / "pkg").rmdir()
    (source / "helpers.py").write_text("X = 2\n")
    third = sync_folder("include", source, target)
    assert third.changed == ["helpers.py"] and third.removed == ["pkg/__init__.py"]
    assert not (target / "pkg").exists()
    assert (target / "helpers.py").read_text() == "X = 2\n"


def test_a_file_that_does_not_compile_blocks_the_whole_folder(tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    (source / "a.py").write_text("A = 1\n")
    sync_folder("plugins", source, target)
    (source / "a.py").write_text("A = 2\n")
    (source / "b.py").write_text("def f(:\n    pass\n")
    result = sync_folder("plugins", source, target)
    assert [(p.file, p.line) for p in result.problems] == [("b.py", 1)]
    assert not result.applied
    assert (target / "a.py").read_text() == "A = 1\n", "the last good copy stays"
    assert not (target / "b.py").exists()


def test_broken_plugins_raise_bad_input_naming_file_and_line(project: Path) -> None:
    (project / "plugins" / "mine.py").write_text("x = 1\n\nclass (:\n")
    opened = Project.open(project / "tinyctl.yaml")
    with pytest.raises(BadInput) as caught:
        require_clean(deploy_plugins(opened), opened)
    assert "plugins/mine.py:3:" in (caught.value.details or "")
    assert caught.value.exit_code == 2


def test_pending_plugins_compares_the_project_with_the_deployed_copy(project: Path) -> None:
    opened = Project.open(project / "tinyctl.yaml")
    (project / "plugins" / "mine.py").write_text("x = 1\n")
    assert pending_plugins(opened) == ["README.md", "mine.py"]
    deploy_plugins(opened)
    assert pending_plugins(opened) == []
    assert (project / ".tinyctl" / "plugins" / "mine.py").is_file()
    (project / "plugins" / "mine.py").unlink()
    assert pending_plugins(opened) == ["mine.py"]
    assert deploy_include(opened).changed == ["README.md"]


@pytest.mark.parametrize(
    ("source", "modules"),
    [
        ("from include.helpers import f", {"helpers"}),
        ("import include.db.pool", {"db"}),
        ("from include import helpers, sql", {"helpers", "sql"}),
        ("import include", {""}),
        ("from includes import x\nimport json", set()),
        ("def f():\n    from include.late import g", {"late"}),
    ],
)
def test_include_imports(source: str, modules: set[str]) -> None:
    assert include_imports(ast.parse(source)) == modules


def test_changed_modules() -> None:
    assert changed_modules(["helpers.py", "db/pool.py", "sql/q.sql"]) == {"helpers", "db", "sql"}


def test_an_explicit_folder_that_does_not_exist_is_an_error_at_its_line(project: Path) -> None:
    spec = project / "tinyctl.yaml"
    text = spec.read_text().replace("  path: plugins ", "  path: extensions ", 1)
    spec.write_text(text)
    result = tinyctl("validate", cwd=project)
    assert result.returncode == 2
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "path: extensions" in t)
    out = " ".join((result.stdout + result.stderr).split())
    assert f"tinyctl.yaml:{line}:" in out and "plugins folder 'extensions' does not exist" in out
    assert "Traceback" not in out


def test_a_project_without_the_folders_still_loads(project: Path) -> None:
    """Projects made before plugins/include existed: the defaults are optional."""
    spec = project / "tinyctl.yaml"
    text = spec.read_text()
    start = text.index("\nplugins:")
    end = text.index("\ndata:")
    spec.write_text(text[:start] + text[end:])
    for name in ("plugins", "include"):
        for file in (project / name).iterdir():
            file.unlink()
        (project / name).rmdir()
    opened = Project.open(spec)
    assert deploy_plugins(opened).changed == [] and pending_plugins(opened) == []


def test_stack_view_matches_the_rendered_environment(project: Path) -> None:
    from tinyctl.dags.code import stack_view
    from tinyctl.plan.settings import environment
    from tinyctl.plan.values import Place, PlaceRef
    from tinyctl.targets.compose.render import PLACES, resolve

    opened = Project.open(project / "tinyctl.yaml")
    mounts, env = stack_view(opened)
    rendered = environment(opened.plan.settings, resolve)
    assert all(rendered[key] == resolve(value) for key, value in env.items())
    assert [m.source for m in mounts] == [project / "plugins", project / "include"]
    assert env["PYTHONPATH"] == PlaceRef(Place.LIB) and mounts[1].target == Place.INCLUDE
    assert PLACES[Place.INCLUDE].startswith(PLACES[Place.LIB] + "/")
