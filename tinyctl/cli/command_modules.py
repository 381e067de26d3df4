"""Which module holds which command, so that `tinyctl X` imports only X's module.

Each command module imports what its commands need (Rich tables, views, core modules); a
command run from the shell pays only for its own. `--help`, completion, a misspelt command
(the suggestions need every name) and in-process users of the whole app load them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module

from tinyctl.cli.app import order_help

# module of tinyctl.cli -> the commands (and command groups) it registers
MODULES: dict[str, tuple[str, ...]] = {
    "authoring": ("parse", "run", "pytest"),
    "ci": ("ci",),
    "dags": ("deploy-dags", "sync-settings"),
    "data": ("seed", "test-etl", "history", "report"),
    "inside": ("airflow", "shell", "credentials", "settings"),
    "k8s": ("k8s",),
    "project": ("init", "validate", "schema", "render"),
    "stack": ("up", "down", "restart", "status", "logs", "psql", "build", "doctor"),
    "upgrade": ("upgrade-test",),
}
COMMANDS = {command: module for module, commands in MODULES.items() for command in commands}
# Root options that take a value (as `tinyctl.cli.argv` reads them) and those that need no
# command at all (`--version` exits before any command runs).
VALUE_OPTIONS = ("--spec", "-s", "-f")
NO_COMMAND = ("--version",)


def modules_for(args: Sequence[str]) -> tuple[str, ...] | None:
    """The command modules `tinyctl ARGS` needs: () for none, None for all of them."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] in NO_COMMAND:
            return ()
        if args[i] in VALUE_OPTIONS:
            i += 1
        elif args[i] not in ("-v", "--verbose") and not args[i].startswith("--spec="):
            return None  # --help, completion options, anything unknown: all
        i += 1
    if i >= len(args):
        return None  # no command: the help lists them all
    module = COMMANDS.get(args[i])
    return (module,) if module else None


def load_commands(modules: Sequence[str] | None = None) -> None:
    """Register the commands of `modules` (all when None) on the app, in help order."""
    for module in MODULES if modules is None else modules:
        import_module(f"tinyctl.cli.{module}")

    order_help()
