"""Start-up of the commands people run most, this tree against another checkout, interleaved.

Each sample is one whole process, `python -m tinyctl ARGS`, from start to exit, with
PYTHONPATH pointing at the tree under test (so both trees run on the same interpreter and the
same installed libraries). The commands run on a fresh `tinyctl init` project with no stack
up, so `status` and `seed` measure what they do before they reach a stack: imports, the spec's
load and checks, the own-stack check. `--help` and `validate` are whole commands.

Also `python -X importtime` of each command's module: the cumulative microseconds of the
`tinyctl` package's imports, as Python reports them.

    python bench/bench_startup.py --before ../tinyctl-before [--repeat 15]

`--before` is a checkout of the commit to compare with (e.g. `git worktree add ../before
<commit>`). Nothing here asserts on timings; the table goes to stdout and JSON to
bench/results/.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ENV, PYTHON, REPO, Figure, Report, log, main_wrapper, parser, ratio_figure

SCRIPT = "bench_startup"

COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "validate": ["validate"],
    "status": ["status"],
    "seed": ["seed"],
}
# The command module each command imports first (tinyctl/cli/command_modules.py).
MODULES = {
    "--help": "tinyctl.cli",
    "validate": "tinyctl.cli.project",
    "status": "tinyctl.cli.stack",
    "seed": "tinyctl.cli.data",
}


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in ENV.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(tree)}


def _time(tree: Path, args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [PYTHON, "-m", "tinyctl", *args],
        cwd=cwd,
        env=_env(tree),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - start


def _import_us(tree: Path, module: str) -> int:
    """Cumulative import time of `module`, in microseconds, as `-X importtime` reports it."""
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", f"import {module}"],
        env=_env(tree),
        capture_output=True,
        text=True,
        check=True,
    )
    pattern = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s*" + re.escape(module) + r"$")
    for line in done.stderr.splitlines():
        found = pattern.search(line)
        if found:
            return int(found.group(1))
    raise RuntimeError(f"no import time line for {module}")


def _section(report: Report, title: str) -> list[Figure]:
    figures: list[Figure] = []
    report.sections.append((title, figures))
    return figures


def body(args, report: Report) -> None:
    trees = {"before": args.before.resolve(), "after": REPO}
    with tempfile.TemporaryDirectory(prefix="tinyctl-bench-startup-") as base:
        # Each tree on the project its own `init` makes: an older tree refuses the spec kinds a
        # newer scaffold holds (the expectations of issue 21), which would time an error.
        projects = {label: Path(base) / label for label in trees}
        for label, tree in trees.items():
            subprocess.run(
                [PYTHON, "-m", "tinyctl", "init", str(projects[label]), "--images", "debian"],
                env=_env(tree),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        section = _section(report, "whole process, s (interleaved before/after)")
        for name, argv in COMMANDS.items():
            samples: dict[str, list[float]] = {"before": [], "after": []}
            for label, tree in trees.items():  # warm the bytecode caches of both trees
                _time(tree, argv, projects[label])
            for i in range(args.repeat):  # alternate which tree goes first
                for label, tree in sorted(trees.items(), reverse=i % 2 == 1):
                    samples[label].append(_time(tree, argv, projects[label]))
            figures = {
                label: report.add(
                    section, Figure(f"{name}-{label}", f"{name} ({label})", "s", samples[label])
                )
                for label in trees
            }
            report.add(
                section,
                ratio_figure(
                    f"{name}-ratio", f"{name} after / before", figures["after"], figures["before"]
                ),
            )
            log(f"{name}: done")
        section = _section(report, "python -X importtime, cumulative, s")
        for name, module in MODULES.items():
            for label, tree in trees.items():
                values = [_import_us(tree, module) / 1e6 for _ in range(5)]
                report.add(
                    section, Figure(f"import-{name}-{label}", f"{module} ({label})", "s", values)
                )


def main() -> int:
    p = parser(SCRIPT, __doc__.splitlines()[0], repeat=15)
    p.add_argument("--before", type=Path, required=True, help="checkout to compare with")
    return main_wrapper(body, p.parse_args(), SCRIPT)


if __name__ == "__main__":
    sys.exit(main())
