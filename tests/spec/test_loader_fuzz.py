"""Property-based fuzzing of `validate` and `render` with hostile and careless specs.

Every mutated spec must give exit 0 or 2, never a traceback, within a bounded time, write
nothing outside the state folder, print no secret, and, when accepted, render files that parse:
env-file lines, `sh -n` on the bootstrap script, its SQL through PostgreSQL's own parser
(pglast = libpg_query). The engine test also runs `docker compose config` and the bootstrap on
a real PostgreSQL. `make test` runs a fixed seed; `make fuzz` a long random run
(HYPOTHESIS_PROFILE=fuzz). Figures: TINYCTL_FUZZ_STATS=file.json writes them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import pytest
from fuzzing import PATH_FIELDS, Stats, cases, check_case, path_cases, scaffold, tame_cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tinyctl.spec.models import FilePath, MountPath, Spec

COMMON = dict(deadline=None, suppress_health_check=list(HealthCheck), database=None)
settings.register_profile("ci", max_examples=200, derandomize=True, **COMMON)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("TINYCTL_FUZZ_EXAMPLES", "5000")),
    derandomize=False,
    print_blob=True,
    **COMMON,
)
settings.register_profile("engine", max_examples=40, derandomize=True, **COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")


def _write_stats(name: str, stats: Stats) -> None:
    target = os.environ.get("TINYCTL_FUZZ_STATS")
    figures = stats.as_dict()
    print(f"\nfuzz {name}: {json.dumps(figures)}")
    if target:
        path = Path(target)
        existing = json.loads(path.read_text()) if path.exists() else {}
        existing[name] = figures
        path.write_text(json.dumps(existing, indent=2) + "\n")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("fuzz") / "project"
    spec, base = scaffold(root)
    return root, spec, base


def _base_data() -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return scaffold(Path(folder) / "p")[1]


BASE = _base_data()


def test_hostile_specs_never_crash_leak_or_write_outside_the_state_folder(workspace) -> None:
    root, spec, _base = workspace
    stats = Stats()

    @settings(settings.get_profile(PROFILE))
    @given(case=st.one_of(cases(BASE), tame_cases(BASE), path_cases(BASE)))
    def run(case) -> None:
        check_case(case, root, spec, stats)

    try:
        run()
    finally:
        _write_stats("validate_render", stats)
    assert stats.exit_codes[2] > 0 and stats.exit_codes[0] > 0, stats.as_dict()


@pytest.mark.engine
def test_accepted_specs_render_files_the_engines_accept(workspace, local_postgres) -> None:
    """`docker compose config` on every accepted render, and its bootstrap on a real Postgres."""
    from conftest import compose_binary, run_bootstrap

    compose = compose_binary()
    if compose is None:
        pytest.skip("no Compose v2 binary")
    root, spec, _base = workspace
    stats = Stats()
    bootstraps: set[str] = set()

    @settings(settings.get_profile("engine" if PROFILE == "ci" else PROFILE))
    @given(case=st.one_of(cases(BASE), tame_cases(BASE), path_cases(BASE)))
    def run(case) -> None:
        shutil.rmtree(root / ".tinyctl", ignore_errors=True)
        state = check_case(case, root, spec, stats)
        if state is None:
            return
        checked = subprocess.run(
            [*compose, "-f", str(state / "compose.yaml"), "config", "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stderr
        script = (state / "postgres" / "bootstrap.sh").read_text()
        if script not in bootstraps:  # each distinct script once: CREATE DATABASE is slow
            bootstraps.add(script)
            done = run_bootstrap(local_postgres, state)
            assert done.returncode == 0, done.stderr

    try:
        run()
    finally:
        _write_stats("engine", stats)


PATH_CHECKS = {m.func for alias in (FilePath, MountPath) for m in alias.__metadata__}


def _is_path(annotation: Any, metadata: Any = ()) -> bool:
    if any(getattr(m, "func", None) in PATH_CHECKS for m in metadata):
        return True
    if get_origin(annotation) is Annotated:
        return _is_path(get_args(annotation)[0], annotation.__metadata__)
    return any(_is_path(arg) for arg in get_args(annotation))  # unions, lists


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _path_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    found = set()
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        if _is_path(field.annotation, field.metadata):
            found.add(key)
        for inner in _models_in(field.annotation):
            found |= _path_keys(inner, key + ".")
    return found


def test_the_path_strategy_covers_every_path_field_of_the_models() -> None:
    """A path field added to tinyctl.spec.models must join fuzzing.PATH_FIELDS (issue 25)."""
    fuzzed = {".".join(p for p in path if isinstance(p, str)) for path in PATH_FIELDS}
    assert _path_keys(Spec) == fuzzed
