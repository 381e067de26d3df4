"""tinyctl's command line: the only layer that prints or exits.

`main` (the `tinyctl` command) registers only the module of the command being run
(`tinyctl.cli.command_modules`), runs it, and ends the process without the interpreter's
teardown (`tinyctl.cli.process_exit`). `run` does the same but returns through `SystemExit`;
code that drives the whole app in-process (tests) calls `load_commands()` first.

Ctrl-C is taken over before Typer and Rich load (`tinyctl.cli.interrupt`): an interrupt while
the command's modules load ends it with exit 130 like any other, without a traceback.
"""

import sys

from tinyctl.cli import interrupt

interrupt.install()
try:  # Typer, Rich: a Ctrl-C while they load ends the command as any other does
    from tinyctl.cli.app import app
    from tinyctl.cli.command_modules import load_commands, modules_for
    from tinyctl.cli.process_exit import exit_now
except KeyboardInterrupt:
    interrupt.say_interrupted()
    raise SystemExit(interrupt.EXIT_CODE) from None


def run() -> None:
    """Run `tinyctl` with `sys.argv`; ends with `SystemExit` (Click's standalone mode)."""
    load_commands(modules_for(sys.argv[1:]))
    app(prog_name="tinyctl")


def main() -> None:
    """The `tinyctl` command."""
    try:
        try:
            run()
        except KeyboardInterrupt:  # outside a command's own handling: loading, parsing
            interrupt.say_interrupted()
            raise SystemExit(interrupt.EXIT_CODE) from None
    except SystemExit as done:
        code = interrupt.exit_code(done.code)
        exit_now(code)  # returns only when a normal exit is needed
        raise SystemExit(code) from None


__all__ = ["app", "load_commands", "main", "run"]
