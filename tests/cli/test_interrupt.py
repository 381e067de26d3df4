"""Ctrl-C wherever it lands (tinyctl/cli/interrupt.py): exit 130 and one line, never a traceback."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import sigint_as_in_a_terminal

from tinyctl.cli import interrupt


def test_after_a_ctrl_c_an_error_or_clicks_abort_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interrupt, "_seen", False)
    assert interrupt.exit_code(1) == 1
    monkeypatch.setattr(interrupt, "_seen", True)
    assert interrupt.exit_code(1) == 130  # Click turns a KeyboardInterrupt into "Aborted!", 1
    assert interrupt.exit_code(3) == 130
    assert interrupt.exit_code(0) == 0  # a watch ends well on Ctrl-C
    assert interrupt.exit_code(None) is None


def test_ctrl_c_while_the_command_loads_is_exit_130_without_a_traceback() -> None:
    """SIGINT as soon as the interpreter runs tinyctl's code: the imports of Typer and Rich."""
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "tinyctl", "validate"],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=sigint_as_in_a_terminal,
    )
    assert process.stderr is not None
    # the smallest pipe (one page): the child blocks on its import lines until they are read,
    # so a loaded machine cannot let it finish `validate` before the signal is sent
    fcntl.fcntl(process.stderr.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    seen = []
    for line in process.stderr:  # -X importtime: one line per module imported
        seen.append(line)
        if "tinyctl.cli.interrupt" in line:
            time.sleep(0.01)
            os.killpg(process.pid, signal.SIGINT)
            break
    rest = process.stderr.read()
    # 130; or ended by the signal itself (a shell shows 128 + 2 = 130 for both), which a
    # Ctrl-C in the first milliseconds of the interpreter, before tinyctl's code, still gives
    assert process.wait(timeout=30) in (130, -signal.SIGINT)
    assert "Traceback" not in rest
    assert "Interrupted." in rest


SWALLOWED = """
import os, signal, time
from tinyctl.cli import interrupt
interrupt.install()

class Finalizer:  # Python reports an exception in __del__ as "Exception ignored in", and goes on
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)  # the Ctrl-C lands while it runs
        time.sleep(0.5)

try:
    Finalizer()
    time.sleep(60)  # a blocking call: the interrupt ends it
    print("went on")
except KeyboardInterrupt:
    print("interrupted")
"""


def test_a_ctrl_c_a_library_swallowed_is_delivered_again_without_a_traceback() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SWALLOWED], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.stdout.strip() == "interrupted"
    assert time.monotonic() - started < 20  # not after the minute's sleep
    assert done.stderr == ""  # no "Exception ignored in ...", no traceback
