"""Reaching inside the stack (tinyctl/cli/inside.py): airflow, shell, credentials."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Stack, tinyctl

stack = pytest.mark.stack


@stack
def test_airflow_cli_passes_every_argument_through(live_stack: Stack) -> None:
    result = live_stack.run("airflow", "dags", "list", "--output", "json")
    assert result.returncode == 0, result.stderr
    # Airflow's own warnings (e.g. "Could not import graphviz") come first, as with airflow itself
    listing = next(line for line in result.stdout.splitlines() if line.startswith("["))
    assert "staging_orders" in {d["dag_id"] for d in json.loads(listing)}
    version = live_stack.run("airflow", "version")
    assert version.stdout.strip().splitlines()[-1] == "3.3.2"
    failing = live_stack.run("airflow", "dags", "no-such-subcommand")
    assert failing.returncode != 0


@stack
def test_shell_runs_in_the_scheduler_by_default(live_stack: Stack) -> None:
    # The shell's own exit code (3 here) is tinyctl's.
    result = subprocess.run(
        [sys.executable, "-m", "tinyctl", "shell"],
        cwd=live_stack.root,
        env=live_stack.env,
        input="echo $AIRFLOW_HOME; hostname\nexit 3\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    # The scheduler's AIRFLOW_HOME: the image's in a container, the state folder's locally.
    if live_stack.runtime == "local":
        home = str(live_stack.runtime_object().layout.airflow_home)
    else:
        home = "/opt/airflow"
    assert home in result.stdout, result.stdout
    pg = subprocess.run(
        [sys.executable, "-m", "tinyctl", "shell", "postgres"],
        cwd=live_stack.root,
        env=live_stack.env,
        input="command -v psql\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pg.returncode == 0 and "psql" in pg.stdout
    unknown = live_stack.run("shell", "nope")
    assert unknown.returncode == 2


@stack
def test_credentials_masks_the_password_unless_asked(live_stack: Stack) -> None:
    password = live_stack.project().secrets.user_password("admin")
    masked = live_stack.run("credentials")
    assert masked.returncode == 0
    assert password not in masked.stdout + masked.stderr
    assert f"127.0.0.1:{live_stack.airflow_port}" in masked.stdout
    shown = live_stack.run("credentials", "admin", "--show-password", "--json")
    assert json.loads(shown.stdout) == {
        "url": f"http://127.0.0.1:{live_stack.airflow_port}",
        "user": "admin",
        "role": "admin",
        "password": password,
    }
    assert live_stack.run("credentials", "nobody").returncode == 2


def test_credentials_before_any_render_is_a_clear_error(project: Path) -> None:
    result = tinyctl("credentials", cwd=project)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
