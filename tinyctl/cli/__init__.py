"""tinyctl's command line: the only layer that prints or exits.

`main` (the `tinyctl` command) registers only the module of the command being run
(`tinyctl.cli.command_modules`), runs it, and ends the process without the interpreter's
teardown (`tinyctl.cli.process_exit`). `run` does the same but returns through `SystemExit`;
code that drives the whole app in-process (tests) calls `load_commands()` first.
"""

import sys

from tinyctl.cli.app import app
from tinyctl.cli.command_modules import load_commands, modules_for
from tinyctl.cli.process_exit import exit_now


def run() -> None:
    """Run `tinyctl` with `sys.argv`; ends with `SystemExit` (Click's standalone mode)."""
    load_commands(modules_for(sys.argv[1:]))
    app(prog_name="tinyctl")


def main() -> None:
    """The `tinyctl` command."""
    try:
        run()
    except SystemExit as done:
        exit_now(done.code)  # returns only when a normal exit is needed
        raise


__all__ = ["app", "load_commands", "main", "run"]
