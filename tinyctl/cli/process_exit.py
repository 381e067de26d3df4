"""Ending the `tinyctl` process without the interpreter's teardown.

Once psycopg, pydantic and Rich are loaded, Python's own shutdown (a last garbage collection,
then clearing every module one by one) takes about 60 ms on the developers' 2-core machine:
as much as `tinyctl status` spends asking the engine. Nothing in it matters to a finished
command: what does matter is done here first, the way the interpreter would do it:

- the `atexit` handlers run (logging's flush, temporary folders, anything a library registered);
- stdout and stderr are flushed.

Then `os._exit` ends the process with the command's exit status. A normal exit is kept (this
function returns) when a non-daemon thread is still running, since the interpreter would wait
for it, when the exit code is a message for Python to print, or when a stream cannot be
flushed (a closed pipe: Python reports it as it always does).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading


def _other_threads_running() -> bool:
    main = threading.main_thread()
    return any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate())


def exit_now(code: object) -> None:
    """End the process with `code` (SystemExit's) now, or return if a normal exit is needed."""
    if code is None:
        status = 0
    elif isinstance(code, int) and not isinstance(code, bool):
        status = code & 0xFF
    else:
        return  # a message (sys.exit("text")): Python prints it and exits 1
    if _other_threads_running():
        return
    try:
        atexit._run_exitfuncs()  # what Python runs at exit; the handlers are cleared after
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except BaseException:  # a broken pipe or a failing handler: the normal exit reports it
        return
    os._exit(status)
