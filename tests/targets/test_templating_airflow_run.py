"""templates/airflow_run.py, the wrapper every Airflow component runs under, run for real with a
stand-in `airflow` package (the real one lives in the image; the memory it saves there is
measured by bench/bench_up.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tinyctl.resources import templates_dir

FAKE_MAIN = """
import gc, json, os, sys

def main():
    keep = [[i] for i in range(10_000)]  # objects the child is born with
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what its collector would walk
        os.write(write, json.dumps({"child_frozen": gc.get_freeze_count()}).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    seen = json.loads(os.read(read, 4096))
    seen["parent_frozen"] = gc.get_freeze_count()
    seen["argv"] = sys.argv
    print(json.dumps(seen))
    return 3 if keep else 0
"""


def run_wrapper(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    package = tmp_path / "airflow"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_MAIN)
    return subprocess.run(
        [sys.executable, str(templates_dir() / "airflow_run.py"), *args],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_fork_shares_the_parents_objects_and_the_parent_collects_as_before(
    tmp_path: Path,
) -> None:
    done = run_wrapper(tmp_path, "triggerer", "--skip-serve-logs")
    seen = json.loads(done.stdout)
    assert seen["child_frozen"] > 10_000  # the child's collections never walk the parent's objects
    assert seen["parent_frozen"] == 0  # the parent thawed them right after the fork
    assert seen["argv"] == ["airflow", "triggerer", "--skip-serve-logs"]
    assert done.returncode == 3  # the command's exit code is the process's
