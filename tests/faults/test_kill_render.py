"""`render` killed (SIGKILL) and interrupted (Ctrl-C) at every point (issue 22, items 1 and 2).

No stack: render only writes the state folder. After each kill every file there is its whole
old or whole new version, `render --check` tells the truth about them (fresh only when they
are what render writes now), and render run again leaves exactly the new version.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from faultkit import SWEEPS, Killed, Point, is_temp, snapshot, whole_json
from sweep import Scenario, run_sweep

from tinyctl.scaffold import init_project

ENV = {**os.environ, "TINYCTL_RUNTIME": "compose", "TINYCTL_IMAGES_SOURCE": "debian"}


def _project(tmp_path: Path) -> tuple[Path, str, str]:
    root = tmp_path / "chaos"
    init_project(root, name="chaos")
    old = (root / "tinyctl.yaml").read_text()
    assert "core.parallelism: 4" in old and "port: 8082" not in old
    new = old.replace("core.parallelism: 4", "core.parallelism: 5")
    new = new.replace(
        "  executor: LocalExecutor", "  executor: LocalExecutor\n  variables: {chaos: new}"
    )
    return root, old, new


def _check_tells_truth(scenario: Scenario, new: dict[str, bytes], point: Point) -> None:
    """`render --check` says fresh only when the files are what render writes now."""
    check = scenario.run("render", "--check")
    now = {k: v for k, v in snapshot(scenario.state_dir).items() if not k.startswith(".")}
    rendered = {k: v for k, v in new.items() if k in json.loads(new["render.json"])["files"]}
    fresh = all(now.get(k) == v for k, v in rendered.items()) and now.get("render.json") == new.get(
        "render.json"
    )
    if check.returncode not in (0, 1):
        point.fail(f"render --check exited {check.returncode}: {check.stderr[-800:]}")
    elif check.returncode == 0 and not fresh:
        point.lose("render --check says fresh, but the files are not what render writes now")
    elif check.returncode == 1 and fresh:
        point.fail(f"render --check says stale, but every file is current: {check.stdout}")


@pytest.mark.parametrize("sweep", SWEEPS)
def test_render_killed_at_every_point(tmp_path: Path, sweep: str) -> None:
    root, old_spec, new_spec = _project(tmp_path)
    spec = root / "tinyctl.yaml"
    state = root / ".tinyctl"
    versions: dict[str, dict[str, bytes]] = {}

    def reset() -> None:
        spec.write_text(old_spec)
        done = scenario.run("render")
        assert done.returncode == 0, done.stderr
        spec.write_text(new_spec)

    def check(killed: Killed, point: Point) -> None:
        _check_tells_truth(scenario, versions["new"], point)

    def after_rerun(point: Point) -> None:
        now = {k: v for k, v in snapshot(state).items() if not is_temp(k)}
        if now != versions["new"]:
            point.fail(
                f"render run again did not leave the new version: {sorted(set(now) ^ set(versions['new']))}"
            )

    scenario = Scenario(
        "render",
        ("render",),
        root,
        ENV,
        state,
        reset,
        check=check,
        after_rerun=after_rerun,
        after_clean_run=lambda: versions.__setitem__("new", snapshot(state)),
    )
    run_sweep(scenario, sweep)


@pytest.mark.parametrize("sweep", SWEEPS)
def test_first_render_killed_at_every_point(tmp_path: Path, sweep: str) -> None:
    """The first render generates the secrets and the identity: killed anywhere, what it left is
    whole, and render run again finishes with secret files that match secrets.json."""
    root, _old, _new = _project(tmp_path)
    state = root / ".tinyctl"

    def reset() -> None:
        for path in sorted(state.rglob("*"), reverse=True) if state.exists() else []:
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        if state.exists():
            state.rmdir()

    def check(killed: Killed, point: Point) -> None:
        for name, data in snapshot(state).items():
            if (
                name.endswith(".json")
                and not name.split("/")[-1].startswith(".")
                and not whole_json(data)
            ):
                point.lose(f".tinyctl/{name} is torn (not whole JSON)")

    def after_rerun(point: Point) -> None:
        check_run = scenario.run("render", "--check")
        if check_run.returncode != 0:
            point.fail(
                f"render --check after render run again: {check_run.stdout}{check_run.stderr}"
            )
        stored = json.loads((state / "secrets.json").read_text())
        for file in (state / "secrets" / "postgres").iterdir():
            if file.read_text().strip() != stored.get(file.name, "").strip():
                point.lose(f"secrets/postgres/{file.name} does not match secrets.json")

    scenario = Scenario(
        "first render",
        ("render",),
        root,
        ENV,
        state,
        reset,
        check=check,
        after_rerun=after_rerun,
        compare_state=False,  # each first render generates new secrets: checked for wholeness
    )
    run_sweep(scenario, sweep)
