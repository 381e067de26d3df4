"""tinyctl's command line: the only layer that prints or exits.

`main` registers only the module of the command being run (`tinyctl.cli.command_modules`); code that
drives the whole app in-process (tests) calls `load_commands()` first.
"""

import sys

from tinyctl.cli.app import app
from tinyctl.cli.command_modules import load_commands, modules_for


def main() -> None:
    load_commands(modules_for(sys.argv[1:]))
    app(prog_name="tinyctl")


__all__ = ["app", "load_commands", "main"]
