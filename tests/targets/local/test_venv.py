"""The managed Airflow venv: named by the digest of its inputs, found again when ready."""

from __future__ import annotations

import json
from pathlib import Path

from tinyctl.targets.local.venv import MARKER, VenvPlan, cache_root, constraints_text, venv_for


def test_the_digest_changes_with_each_input_and_only_then() -> None:
    base = VenvPlan.for_spec("3.3.2", ["pandas==2.2.3"])
    assert VenvPlan.for_spec("3.3.2", ["pandas==2.2.3"]).digest == base.digest
    assert VenvPlan.for_spec("3.3.2", [" pandas==2.2.3 ", ""]).digest == base.digest
    assert VenvPlan.for_spec("3.3.2", []).digest != base.digest
    assert VenvPlan.for_spec("3.3.1", ["pandas==2.2.3"]).digest != base.digest


def test_the_projects_constraints_pin_celery_below_5_7() -> None:
    pins = constraints_text("3.3.2")
    assert "apache-airflow==3.3.2" in pins and "celery==5.6.3" in pins
    assert constraints_text("9.9.9") == "celery<5.7\n"


def test_the_cache_is_shared_and_a_venv_is_ready_only_once_marked(tmp_path: Path) -> None:
    env = {"TINYCTL_CACHE_DIR": str(tmp_path)}
    assert cache_root(env) == tmp_path
    assert cache_root({"XDG_CACHE_HOME": "/x"}) == Path("/x/tinyctl")
    plan = VenvPlan.for_spec("3.3.2", [])
    venv = venv_for(plan, env)
    assert venv.path == tmp_path / "venvs" / plan.digest
    venv.bin.mkdir(parents=True)
    venv.airflow.write_text("#!/bin/sh\n")
    assert not venv.ready(), "a half-built venv (no marker) is not used"
    (venv.path / MARKER).write_text(json.dumps({"digest": plan.digest}))
    assert venv.ready()


def test_a_venv_made_without_bytecode_is_compiled_once(tmp_path: Path) -> None:
    """A venv an earlier tinyctl made (PYTHONDONTWRITEBYTECODE left it without .pyc files) is
    compiled the next time it is used, and marked so."""
    import os
    import sys

    from tinyctl.targets.local.venv import ensure_venv

    env = {"TINYCTL_CACHE_DIR": str(tmp_path), "PATH": os.environ["PATH"]}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    plan = VenvPlan.for_spec("3.3.2", [])
    venv = venv_for(plan, env)
    venv.bin.mkdir(parents=True)
    venv.python.symlink_to(sys.executable)
    venv.airflow.write_text("#!/bin/sh\n")
    site = venv.path / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "module.py").write_text("VALUE = 1\n")
    (venv.path / MARKER).write_text(json.dumps({"digest": plan.digest}))

    assert ensure_venv(plan, env) == (venv, False), "ready: used, not rebuilt"
    assert list((site / "__pycache__").glob("module.*.pyc")), "compiled"
    assert json.loads((venv.path / MARKER).read_text()) == {"digest": plan.digest, "bytecode": True}
    (site / "__pycache__").rename(site / "seen")
    ensure_venv(plan, env)
    assert not (site / "__pycache__").exists(), "only once"
