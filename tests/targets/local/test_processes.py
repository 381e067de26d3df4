"""Background processes with real child processes: detached start, identity checks that see
through stale and reused pid files, graceful then forced stop."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from pathlib import Path

from tinyctl.targets.local import processes


def _spawn(tmp_path: Path, name: str, code: str) -> processes.ProcessRecord:
    return processes.spawn(
        name,
        [sys.executable, "-c", code],
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
        log_file=tmp_path / f"{name}.log",
        pid_file=tmp_path / f"{name}.pid",
    )


def test_a_spawned_process_is_detached_logged_and_recognised(tmp_path: Path) -> None:
    record = _spawn(tmp_path, "sleeper", "import time; print('hello', flush=True); time.sleep(60)")
    try:
        assert os.getsid(record.pid) == record.pid != os.getsid(0), "it leads its own session"
        assert processes.read_live(tmp_path / "sleeper.pid") == record
        deadline = time.monotonic() + 10
        while "hello" not in (tmp_path / "sleeper.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "--- tinyctl: starting sleeper" in (tmp_path / "sleeper.log").read_text()
        assert "hello" in (tmp_path / "sleeper.log").read_text()
    finally:
        assert processes.stop(record, timeout=5) is False, "SIGTERM was enough"
    assert not processes.same_process(record)


def test_a_pid_file_naming_another_process_is_stale_and_removed(tmp_path: Path) -> None:
    """After a reboot or kill -9 the pid may belong to anyone: here, to this test process."""
    record = _spawn(tmp_path, "victim", "import time; time.sleep(60)")
    processes.stop(record, timeout=5)
    reused = dataclasses.replace(record, pid=os.getpid())
    (tmp_path / "victim.pid").write_bytes(reused.to_json())
    assert not processes.same_process(reused), "same pid, other start time: not ours"
    assert processes.read_live(tmp_path / "victim.pid") is None
    assert not (tmp_path / "victim.pid").exists()


def test_a_record_from_before_a_reboot_is_stale(tmp_path: Path) -> None:
    record = _spawn(tmp_path, "booted", "import time; time.sleep(60)")
    try:
        assert not processes.same_process(dataclasses.replace(record, boot_id="another-boot"))
        assert not processes.same_process(
            dataclasses.replace(record, start_ticks=(record.start_ticks or 0) + 1)
        )
    finally:
        processes.stop(record, timeout=5)


def test_a_process_killed_hard_is_no_longer_the_same_process(tmp_path: Path) -> None:
    record = _spawn(tmp_path, "killed", "import time; time.sleep(60)")
    os.kill(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while processes.same_process(record) and time.monotonic() < deadline:
        processes._reap(record.pid)
        time.sleep(0.05)
    assert not processes.same_process(record)
    assert processes.read_live(tmp_path / "killed.pid") is None


def test_a_process_ignoring_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    record = _spawn(
        tmp_path,
        "stubborn",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)",
    )
    deadline = time.monotonic() + 10
    while "ready" not in (tmp_path / "stubborn.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    assert processes.stop(record, timeout=0.5) is True
    assert time.monotonic() - started < 5
    assert not processes.same_process(record)


def test_stop_signals_the_whole_session(tmp_path: Path) -> None:
    """A component's children (the scheduler's executor workers) stop with it."""
    record = _spawn(
        tmp_path,
        "parent",
        "import subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print(c.pid, flush=True); time.sleep(60)",
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [x for x in (tmp_path / "parent.log").read_text().splitlines() if x.isdigit()]
        if lines:
            break
        time.sleep(0.05)
    child = int(lines[0])
    assert child in processes.group_members(record.pid)
    assert processes.pss_bytes(processes.group_members(record.pid)) > 0
    processes.stop(record, timeout=5)
    deadline = time.monotonic() + 5
    while processes.start_ticks(child) is not None and time.monotonic() < deadline:
        if processes.state_letter(child) == "Z":
            break
        time.sleep(0.05)
    assert processes.start_ticks(child) is None or processes.state_letter(child) == "Z"


def test_a_process_that_rewrites_its_title_is_known_by_its_title_word(tmp_path: Path) -> None:
    """Airflow's components start as `python airflow_run.py scheduler` and then show as
    "airflow scheduler" (setproctitle); `exec -a` does the same to a real process here."""
    argv = ["bash", "-c", "exec -a 'airflow scheduler' sleep 60"]
    spawned = [
        processes.spawn(
            name,
            argv,
            env={"PATH": os.environ["PATH"]},
            cwd=tmp_path,
            log_file=tmp_path / f"{name}.log",
            pid_file=tmp_path / f"{name}.pid",
            title=title,
        )
        for name, title in (("titled", "airflow"), ("untitled", ""))
    ]
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            (processes.cmdline(r.pid) or [""])[0] != "airflow scheduler" for r in spawned
        ):
            time.sleep(0.05)
        titled, untitled = (
            processes.ProcessRecord.read(tmp_path / f"{n}.pid") for n in ("titled", "untitled")
        )
        assert titled is not None and titled.title == "airflow"
        assert processes.same_process(titled)
        assert untitled is not None and not processes.same_process(untitled), (
            "without its title word, a process whose title changed is not recognised"
        )
    finally:
        for record in spawned:
            os.killpg(record.pid, signal.SIGKILL)
