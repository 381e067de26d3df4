"""Project and StateLayout: one object per command, one place that names the state files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinyctl.errors import BadInput
from tinyctl.project import Project
from tinyctl.render import render
from tinyctl.state.layout import StateLayout


def test_state_layout_names_every_file_inside_the_state_folder(tmp_path: Path) -> None:
    state = StateLayout(tmp_path / ".tinyctl")
    paths = [
        state.compose_file,
        state.render_stamp,
        state.secrets_file,
        state.identity_file,
        state.lock_file,
        state.applied_settings_file,
        state.dags_dir,
        state.logs_dir,
        state.cache_dir,
    ]
    assert all(p.parent == state.root for p in paths)
    assert len(set(paths)) == len(paths)


def test_project_opens_the_spec_once_and_reads_secrets_after_render(project: Path) -> None:
    opened = Project.open(project / "tinyctl.yaml", {**os.environ})
    assert opened.name == "demo" and opened.root == project
    assert opened.state.root == project / ".tinyctl"
    with pytest.raises(BadInput, match="not been generated"):
        _ = opened.secrets
    render(opened)
    # render generated the secrets and the project serves those, without re-reading the file
    assert opened.secrets.user_password("tinyctl")
    dsn = Project.open(project / "tinyctl.yaml").warehouse()
    assert dsn.user == "etl" and dsn.password == opened.secrets.role_password("etl")
    assert opened.airflow().base_url.startswith("http://127.0.0.1:")
