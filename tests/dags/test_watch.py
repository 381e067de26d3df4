"""`tinyctl deploy-dags --watch` (tinyctl/dags/watch.py): redeploy on save, Ctrl-C stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import STACK_ENV, Stack

stack = pytest.mark.stack

DAG = """from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def pipeline():
    @task
    def hello():
        return 1

    hello()


pipeline()
"""


def read_events(process: subprocess.Popen, count: int, timeout: float = 180) -> list[dict]:
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while len(events) < count and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        events.append(json.loads(line))
    return events


@stack
def test_watch_redeploys_each_save_and_stops_with_exit_0(live_stack: Stack) -> None:
    dags = live_stack.root / "dags"
    path = dags / "tt_watch_me.py"
    process = subprocess.Popen(
        [sys.executable, "-m", "tinyctl", "deploy-dags", "--watch", "--json"],
        cwd=live_stack.root,
        env={**os.environ, **STACK_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = read_events(process, 1)
        assert first and first[0]["ok"], first  # the whole folder, once
        time.sleep(1)  # the watcher is set up after the first deploy
        path.write_text(DAG.format(dag_id="tt_watch_v1"))
        created = read_events(process, 1)
        assert created, process.stderr.read() if process.poll() is not None else "no event"
        assert created[0]["changed"] == ["tt_watch_me.py"]
        assert created[0]["files"][0]["status"] == "live"
        assert created[0]["files"][0]["dags"][0]["dag_id"] == "tt_watch_v1"
        path.write_text(DAG.format(dag_id="tt_watch_v1") + "\nx = (\n")  # a broken save
        broken = read_events(process, 1)
        assert broken[0]["ok"] is False
        assert broken[0]["files"][0]["status"] == "syntax_error"
        path.unlink()
        removed = read_events(process, 1)
        assert removed[0]["removed"] == ["tt_watch_me.py"]
        assert not (live_stack.root / ".tinyctl" / "dags" / "tt_watch_me.py").exists()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
        path.unlink(missing_ok=True)
        live_stack.run("deploy-dags", "--prune")


def test_watcher_ignores_files_outside_and_hidden(project: Path) -> None:
    from tinyctl.dags.watch import Watcher
    from tinyctl.project import Project

    watcher = Watcher(Project.open(project / "tinyctl.yaml"), None)
    root = watcher.root.absolute()
    assert watcher._relative(str(root / "a.py")) == "a.py"
    assert watcher._relative(str(root / ".a.py.swp")) is None
    assert watcher._relative(str(root / "__pycache__" / "a.pyc")) is None
    assert watcher._relative(str(project / "seeds" / "x.sql")) is None


def test_sigint_stops_the_watch_even_when_inherited_ignored() -> None:
    # A watcher started with `&` by a non-interactive shell (CI, test harnesses) inherits SIGINT
    # ignored, so Python installs no handler: `kill -INT` must still stop the watch.
    from tinyctl.dags.watch import _sigint_raises

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(KeyboardInterrupt), _sigint_raises():
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # put back as it was
    finally:
        signal.signal(signal.SIGINT, before)
