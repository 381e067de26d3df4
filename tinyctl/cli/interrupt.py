"""Ctrl-C, wherever it lands: exit 130 with one line, never a traceback or Click's "Aborted!".

`tinyctl.cli` installs `on_sigint` before it imports anything heavy, so a Ctrl-C while the
command's modules load is a KeyboardInterrupt `main` catches too. It behaves as Python's own
handler (it only remembers the signal), so in-process users of the CLI see no difference. A command's own handling (the CLI's error
wrapper, `deploy-dags --watch`) says what was interrupted; the exit code after a Ctrl-C is
130 however the command ended, unless it ended well (0: a watch stops that way).

A Ctrl-C that lands in Python code called back by a compiled library (pydantic's core building
the spec models' patterns was seen doing it) may be swallowed there: the library reports it as
"Exception ignored in ..." and goes on. `install` also takes over that report for
KeyboardInterrupt: nothing is printed, and the interrupt is delivered again to the main thread,
at its next line of Python, so the command stops as after any Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from types import FrameType
from typing import Any

EXIT_CODE = 130
REDELIVERIES = 100  # a library that swallows every one: report it as Python would, after these
REDELIVERY_DELAY = 0.01  # seconds: the hook and the library's report are long over by then
_seen = False
_redelivered = 0
_previous_hook = sys.unraisablehook


def on_sigint(signum: int, frame: FrameType | None) -> None:
    """SIGINT: remember it, then what Python does by default (raise KeyboardInterrupt)."""
    global _seen
    _seen = True
    raise KeyboardInterrupt


def on_unraisable(unraisable: Any) -> None:
    """sys.unraisablehook: a swallowed KeyboardInterrupt is delivered again (see the module
    docstring); anything else is reported as before."""
    global _redelivered
    if (
        unraisable.exc_type is not None
        and issubclass(unraisable.exc_type, KeyboardInterrupt)
        and _redelivered < REDELIVERIES
    ):
        _redelivered += 1
        # a real SIGINT to the main thread (it ends a blocking call too), from another thread
        # a moment later: raised in this hook, the KeyboardInterrupt would be swallowed again
        later = threading.Timer(REDELIVERY_DELAY, _sigint_main_thread)
        later.daemon = True
        later.start()
        return
    _previous_hook(unraisable)


def _sigint_main_thread() -> None:
    main = threading.main_thread().ident
    if main is not None:
        signal.pthread_kill(main, signal.SIGINT)


def install() -> None:
    """Take over SIGINT, unless someone chose another handler (a parent ignoring it, a test),
    and the report of a KeyboardInterrupt a library swallowed."""
    global _previous_hook
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        # imported outside the main thread: Python's handler stays
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, on_sigint)
            if sys.unraisablehook is not on_unraisable:
                _previous_hook, sys.unraisablehook = sys.unraisablehook, on_unraisable


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
