"""`tinyctl X` imports only X's command module; the map of modules matches what they register,
and the seed, status and psql commands start without the modules they do not use."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tinyctl.cli import app, load_commands
from tinyctl.cli.command_modules import COMMANDS, modules_for


def test_the_map_names_every_command_and_group_where_it_is_registered() -> None:
    load_commands()
    registered = {
        info.name or info.callback.__name__.replace("_", "-") for info in app.registered_commands
    } | {info.name for info in app.registered_groups}
    assert registered == set(COMMANDS)
    for info in app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        assert info.callback.__module__ == f"tinyctl.cli.{COMMANDS[name]}"


@pytest.mark.parametrize(
    ("args", "modules"),
    [
        (["seed", "--only", "x"], ("data",)),
        (["-s", "other.yaml", "-v", "status"], ("stack",)),
        (["--spec=other.yaml", "psql"], ("stack",)),
        (["ci", "run"], ("ci",)),
        (["--version"], ()),
        ([], None),
        (["--help"], None),
        (["--install-completion"], None),
        (["sede"], None),  # misspelt: the suggestion needs every name
    ],
)
def test_modules_for(args: list[str], modules: tuple[str, ...] | None) -> None:
    assert modules_for(args) == modules


def _imported(*args: str) -> set[str]:
    code = (
        "import sys; from tinyctl.cli import run; sys.argv = ['tinyctl', *sys.argv[1:]]\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )
    return set(done.stderr.split()[-2000:]) if done.stderr else set()


def test_seed_help_loads_only_its_own_command_module() -> None:
    modules = _imported("seed", "--help")
    assert "tinyctl.cli.data" in modules
    assert not {"tinyctl.cli.stack", "tinyctl.cli.authoring", "tinyctl.cli.ci"} & modules
    assert "python_on_whales" not in modules and "jinja2" not in modules


def test_help_lists_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tinyctl", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TINYCTL_WIDTH": "200", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0
    for command in ("seed", "status", "psql", "ci", "settings", "pytest", "doctor"):
        assert f" {command} " in done.stdout
