"""The local runtime beside the compose runtime, in the same run on the same machine: warm `up`
to healthy, `test-etl` of the sample pipeline, and the idle memory of each stack.

For each runtime: a fresh project (`tinyctl init`, free ports), a first `up` (cold: builds the
image or the venv if needed, initialises the database), then `--repeat` times `down` + `up`
(warm, `--no-deploy`: data kept, images/venv current, the DAGs deployed by the first) timed
from process start to return, then `seed` and
`--repeat` runs of `test-etl`, then memory at idle: proportional set size (PSS, shared pages
split among their users) of every process of the stack, the same measure for both (a
container's processes are found through its cgroup). The compose runtime is skipped, and
said so, when no Docker engine answers. Machine load (1-minute load average) is recorded with
each figure: the machine may be shared.

    python bench/bench_runtimes.py [--repeat N] [--runtimes local,compose] [--keep]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ENV,
    PYTHON,
    Figure,
    Project,
    Report,
    create_project,
    finish_project,
    log,
    main_wrapper,
    parser,
    ratio_figure,
    run,
    workspace,
)

SCRIPT = "bench_runtimes"
WARM_UP_TARGET_LOCAL = 12.0  # issue 13: the four components as processes reach healthy in 8-9 s


@dataclass
class RuntimeProject(Project):
    runtime: str = "local"

    def tinyctl(self, *args: str, check: bool = True, timeout: float = 900):
        env = {**ENV, "TINYCTL_RUNTIME": self.runtime}
        return run(
            [PYTHON, "-m", "tinyctl", *args], cwd=self.root, env=env, check=check, timeout=timeout
        )

    def teardown(self) -> None:
        if self.runtime == "compose":
            super().teardown()
        elif self.spec_file.is_file():
            self.tinyctl("down", "--volumes", "--yes", check=False, timeout=300)


def load() -> float:
    return os.getloadavg()[0]


def _pss(pids: list[int]) -> int:
    from tinyctl.targets.local.processes import pss_bytes

    return pss_bytes(pids)


def stack_pids(project: RuntimeProject) -> list[int]:
    """Every process of the project's stack (containers: through their cgroups)."""
    if project.runtime == "local":
        from tinyctl.project import Project
        from tinyctl.targets.local.processes import group_members

        runtime = Project.open(project.spec_file, {**ENV, "TINYCTL_RUNTIME": "local"}).runtime
        pids: list[int] = []
        for service in ("postgres", "api-server", "scheduler", "dag-processor", "triggerer"):
            record = runtime._live(service)  # type: ignore[attr-defined]
            if record is not None:
                pids += group_members(record.pid) or [record.pid]
        return pids
    pids = []
    for cid in project.container_ids(all_states=False):
        main = run(["docker", "inspect", "-f", "{{.State.Pid}}", cid]).stdout.strip()
        members = container_members(int(main))
        if not members:
            raise RuntimeError(f"no process list found for container {cid[:12]} (pid {main})")
        pids += members
    return pids


def container_members(main: int) -> list[int]:
    """Every process in the container's cgroup, on cgroup v2 and on v1/hybrid hierarchies
    (where /proc/PID/cgroup lists one path per controller)."""
    root = Path("/sys/fs/cgroup")
    for line in Path(f"/proc/{main}/cgroup").read_text().splitlines():
        _ident, controllers, path = line.split(":", 2)
        folders = [root / path.lstrip("/")] if not controllers else []
        folders += [root / "unified" / path.lstrip("/")]
        folders += [root / c / path.lstrip("/") for c in controllers.split(",") if c]
        for folder in folders:
            try:
                return [int(p) for p in (folder / "cgroup.procs").read_text().split()]
            except (OSError, ValueError):
                continue
    return []


def measure(project: RuntimeProject, args: argparse.Namespace, report: Report, sec) -> dict:
    label = project.runtime
    figures: dict[str, Figure] = {}
    log(f"[{label}] first up (cold; may build)")
    cold = project.tinyctl("up", timeout=1800)
    report.add(sec, Figure(f"{label}_cold_up_s", f"{label}: first up (cold)", "s", [cold.seconds]))
    warm = Figure(f"{label}_warm_up_s", f"{label}: warm up --no-deploy, to healthy", "s")
    if label == "local":
        warm.target = ("<", WARM_UP_TARGET_LOCAL)
    loads = []
    for i in range(args.repeat):
        project.tinyctl("down", timeout=300)
        time.sleep(1)
        loads.append(load())
        # to healthy: the DAGs were deployed by the first up, and stay deployed across down
        result = project.tinyctl("up", "--no-deploy", timeout=900)
        warm.samples.append(result.seconds)
        log(f"[{label}] warm up {i + 1}: {result.seconds:.1f}s (load {loads[-1]:.1f})")
    warm.note = f"1-min load average before each: {', '.join(f'{x:.1f}' for x in loads)}"
    figures["warm"] = report.add(sec, warm)
    project.tinyctl("up")  # untimed: syncs settings and deploys, which the warm ups skipped
    noop = project.tinyctl("up")
    report.add(
        sec, Figure(f"{label}_noop_up_s", f"{label}: up on an up stack", "s", [noop.seconds])
    )
    project.tinyctl("seed")
    etl = Figure(f"{label}_test_etl_s", f"{label}: test-etl of the sample pipeline", "s")
    etl_loads = []
    for i in range(args.repeat):
        etl_loads.append(load())
        result = project.tinyctl("test-etl", timeout=900)
        etl.samples.append(result.seconds)
        log(f"[{label}] test-etl {i + 1}: {result.seconds:.1f}s")
    etl.note = f"1-min load average before each: {', '.join(f'{x:.1f}' for x in etl_loads)}"
    figures["etl"] = report.add(sec, etl)
    log(
        f"[{label}] idle memory: {args.memory_seconds:.0f} s settle, then {args.memory_samples} samples"
    )
    time.sleep(args.memory_seconds)
    samples = []
    for _ in range(args.memory_samples):
        samples.append(_pss(stack_pids(project)) / 2**20)
        time.sleep(2)
    figures["memory"] = report.add(
        sec,
        Figure(
            f"{label}_idle_pss_mib",
            f"{label}: idle memory (PSS of every process)",
            "MiB",
            samples,
            note=f"{len(stack_pids(project))} processes",
        ),
    )
    return figures


def body(args: argparse.Namespace, report: Report) -> None:
    from tinyctl.targets.docker.probe import docker_answers

    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    if "compose" in runtimes and not docker_answers(ENV)[0]:
        report.notes.append("no Docker engine answers: the compose runtime was not measured")
        runtimes.remove("compose")
    sec = report.section("local beside compose (same run, same machine)")
    results: dict[str, dict[str, Figure]] = {}
    with workspace(args, "runtimes") as base:
        os.chmod(base, 0o755)
        for runtime in runtimes:
            project = None
            try:
                plain = create_project(base, f"br-{runtime[:3]}")
                project = RuntimeProject(
                    plain.root, plain.name, plain.airflow_port, plain.postgres_port, runtime
                )
                results[runtime] = measure(project, args, report, sec)
            except Exception as error:
                report.error(f"{runtime} runtime", error)
            finally:
                finish_project(project, args)
    if "local" in results and "compose" in results:
        ratios = report.section("local / compose (ratio of medians; < 1: local is faster/smaller)")
        for key, label in (("warm", "warm up"), ("etl", "test-etl"), ("memory", "idle memory")):
            report.add(
                ratios,
                ratio_figure(
                    f"ratio_{key}",
                    f"{label}: local / compose",
                    results["local"][key],
                    results["compose"][key],
                ),
            )
    report.notes.append(f"1-min load average at the end: {load():.1f} on {os.cpu_count()} cpus")


def main() -> int:
    p = parser(SCRIPT, __doc__.split("\n\n")[0], repeat=3)
    p.add_argument("--runtimes", default="local,compose", help="runtimes to measure, in order")
    p.add_argument("--memory-seconds", type=float, default=20, help="idle time before sampling")
    p.add_argument("--memory-samples", type=int, default=3, help="memory samples (2 s apart)")
    args = p.parse_args()
    return main_wrapper(body, args, SCRIPT)


if __name__ == "__main__":
    raise SystemExit(main())
