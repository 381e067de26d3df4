"""Ctrl-C, wherever it lands: exit 130 with one line, never a traceback or Click's "Aborted!".

`tinyctl.cli` installs `on_sigint` before it imports anything heavy, so a Ctrl-C while the
command's modules load is a KeyboardInterrupt `main` catches too. It behaves as Python's own
handler (it only remembers the signal), so in-process users of the CLI see no difference. A command's own handling (the CLI's error
wrapper, `deploy-dags --watch`) says what was interrupted; the exit code after a Ctrl-C is
130 however the command ended, unless it ended well (0: a watch stops that way).
"""

from __future__ import annotations

import contextlib
import signal
import sys
from types import FrameType

EXIT_CODE = 130
_seen = False


def on_sigint(signum: int, frame: FrameType | None) -> None:
    """SIGINT: remember it, then what Python does by default (raise KeyboardInterrupt)."""
    global _seen
    _seen = True
    raise KeyboardInterrupt


def install() -> None:
    """Take over SIGINT, unless someone chose another handler (a parent ignoring it, a test)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        # imported outside the main thread: Python's handler stays
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, on_sigint)


def seen() -> bool:
    return _seen


def exit_code(code: object) -> object:
    """The process's exit status: 130 after a Ctrl-C that ended the command (an error it
    caused, Click's abort), else `code` unchanged."""
    if _seen and code not in (None, 0, EXIT_CODE):
        return EXIT_CODE
    return code


def say_interrupted() -> None:
    """One line on stderr, without Rich (which may be what was being imported)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write("Interrupted.\n")
        sys.stderr.flush()
