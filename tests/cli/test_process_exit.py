"""`tinyctl.cli.process_exit.exit_now`: the process ends at once, with its output and atexit work."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _run(body: str) -> subprocess.CompletedProcess[str]:
    code = "import atexit, sys, threading, time\nfrom tinyctl.cli.process_exit import exit_now\n"
    return subprocess.run(
        [sys.executable, "-c", code + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_output_and_atexit_handlers_survive_the_fast_exit() -> None:
    done = _run(
        """
        atexit.register(lambda: print("atexit ran", file=sys.stderr))
        sys.stdout.write("x" * 100_000)  # more than one buffer, no newline: must be flushed
        sys.stderr.write("partial line")
        exit_now(3)
        print("not reached")
        """
    )
    assert done.returncode == 3
    assert done.stdout == "x" * 100_000
    assert done.stderr.startswith("partial line") and "atexit ran" in done.stderr


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (2, 2), (130, 130)])
def test_the_exit_code_is_kept(code: object, status: int) -> None:
    assert _run(f"exit_now({code!r})").returncode == status


def test_a_running_thread_keeps_the_normal_exit() -> None:
    done = _run(
        """
        worker = threading.Thread(target=lambda: (time.sleep(0.3), print("worker done")))
        worker.start()
        exit_now(0)
        print("returned")
        """
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["returned", "worker done"]  # Python waited for the thread


def test_a_message_is_left_to_python() -> None:
    done = _run(
        """
        exit_now("bad things")
        sys.exit("bad things")
        """
    )
    assert done.returncode == 1 and "bad things" in done.stderr


def test_the_tinyctl_command_ends_through_it(tmp_path) -> None:
    """A real command: a spec error still prints its panel and exits 2."""
    (tmp_path / "tinyctl.yaml").write_text("project: [\n")
    done = subprocess.run(
        [sys.executable, "-m", "tinyctl", "validate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"TINYCTL_WIDTH": "120", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert "tinyctl.yaml" in done.stderr and "Traceback" not in done.stderr
