"""Benchmark of `tinyctl up` (the Compose runtime): warm and cold start, no-op, idle memory.

Baseline, in the same run on the same machine: the very compose file tinyctl rendered, started
with plain `docker compose up -d --wait`, then Airflow's health endpoint polled until its four
components report healthy. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PYTHON,
    Api,
    Figure,
    Poller,
    Project,
    Report,
    container_times,
    create_project,
    finish_project,
    log,
    main_wrapper,
    parser,
    ratio_figure,
    run,
    workspace,
)

SCRIPT = "bench_up"
QUICKSTART_SECONDS = (
    91.0  # Airflow's official compose quickstart, measured on the same kind of machine (2 cores)
)
WARM_TARGET = 11.0  # issue 23: < 11 s on 2 cores
RATIO_TARGET = 0.75  # issue 23: <= 0.75 x plain compose + health
DOWN_TARGET = 3.0
COLD_RATIO_TARGET = 1.0  # issue 23: cold `up` <= 1.0 x plain compose cold
MEMORY_TARGET_MIB = 900.0  # issue 23: < 900 MiB
ONE_SHOTS = ("db-setup", "airflow-init")
LONG_RUNNING = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTH = ("metadatabase", "scheduler", "dag_processor", "triggerer")
HEALTH_WITHOUT_TRIGGERER = HEALTH[:3]
HEALTH_POLL = 0.25  # seconds between independent GET /api/v2/monitor/health


def timed_up(
    project: Project, *args: str, timeout: float, api: Api | None = None
) -> tuple[float, dict[str, float | None]]:
    """`tinyctl up ARGS` timed from process start to return; plus where the time went.

    With `api`, a thread polls Airflow's health meanwhile: `api_healthy` is when the API first
    reported all four components healthy, as seen from outside tinyctl.
    """
    started_wall = time.time()
    started = time.perf_counter()
    poller = (
        Poller(api.all_healthy, started=started, cap=timeout, interval=HEALTH_POLL) if api else None
    )
    try:
        result = project.tinyctl("up", *args, timeout=timeout)
    finally:
        if poller is not None:
            poller.stop()
    phases = breakdown(project, started_wall)
    phases["api_healthy"] = poller.seconds if poller is not None else None
    return result.seconds, phases


def breakdown(project: Project, started_wall: float) -> dict[str, float | None]:
    """Offsets (s) from the command start: containers started, one-shots' own durations."""
    times = container_times(project)

    def offset(service: str, key: str) -> float | None:
        value = (times.get(service) or {}).get(key)
        return None if value is None else value - started_wall

    def duration(service: str) -> float | None:
        entry = times.get(service) or {}
        if entry.get("started") is None or entry.get("finished") is None:
            return None
        return entry["finished"] - entry["started"]  # type: ignore[operator]

    starts = [offset(s, "started") for s in LONG_RUNNING]
    known = [s for s in starts if s is not None]
    return {
        "postgres_started": offset("postgres", "started"),
        "db_setup_seconds": duration("db-setup"),
        "airflow_init_seconds": duration("airflow-init"),
        "airflow_init_done": offset("airflow-init", "finished"),
        "components_started": max(known) if len(known) == len(starts) else None,
    }


def down(project: Project, report_down: Figure | None = None) -> None:
    result = project.tinyctl("down", timeout=300)
    if report_down is not None:
        report_down.samples.append(result.seconds)


def unweighted_file(project: Project) -> Path:
    """The rendered compose file without its `cpu_shares` (the api-server's start weight): what
    plain Compose does with a file that gives every service the same CPU weight."""
    lines = project.compose_file.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.strip().startswith("cpu_shares:")]
    if len(kept) == len(lines):
        raise RuntimeError("the rendered compose file has no cpu_shares to leave out")
    path = project.compose_file.with_name("compose-unweighted.yaml")
    path.write_text("".join(kept))
    return path


def baseline_up(
    project: Project, api: Api, timeout: float, file: Path | None = None
) -> tuple[float, float, dict[str, float | None]]:
    """Plain `docker compose up -d --wait` of the rendered file; then Airflow's own health.

    The health poll starts with compose (same poller as for tinyctl), so `api_healthy` is
    comparable; the baseline is done when both compose returned and the API said healthy.
    """
    started_wall = time.time()
    started = time.perf_counter()
    poller = Poller(api.all_healthy, started=started, cap=timeout + 60, interval=HEALTH_POLL)
    try:
        project.compose(
            "up",
            "--detach",
            "--wait",
            "--wait-timeout",
            str(int(timeout)),
            timeout=timeout + 60,
            file=file,
        )
    except BaseException:
        poller.stop()
        raise
    compose_seconds = time.perf_counter() - started
    healthy = poller.result(timeout=timeout + 60)
    if healthy is None:
        raise RuntimeError(
            f"baseline: Airflow not healthy {timeout:.0f} s after `docker compose up --wait` returned"
        )
    phases = breakdown(project, started_wall)
    phases["api_healthy"] = healthy
    return compose_seconds, max(compose_seconds, healthy), phases


_UNITS = {
    "b": 1,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
}


def cold_section(
    project: Project, api: Api, repeat: int, timeout: float, cold: Figure, base: Figure
) -> None:
    """N x each, alternating who goes first, from no volumes: `tinyctl up --no-deploy`, and
    plain Compose on the same file (which creates the data volume itself and runs both
    one-shots, as tinyctl must here too). Leaves tinyctl's stack up."""
    order: tuple[str, ...] = ()
    for i in range(repeat):
        order = ("tinyctl", "baseline") if i % 2 == 0 else ("baseline", "tinyctl")
        for which in order:
            log(f"cold up {i + 1}/{repeat}: {which} after down --volumes")
            project.tinyctl("down", "--volumes", "--yes", timeout=300)
            if which == "tinyctl":
                cold.samples.append(timed_up(project, "--no-deploy", timeout=timeout)[0])
            else:
                base.samples.append(baseline_up(project, api, timeout)[1])
                project.compose("down", "--volumes", timeout=300)
    if order and order[-1] == "baseline":
        project.tinyctl("up", "--no-deploy", timeout=timeout)


def parse_size(text: str) -> float:
    match = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", text)
    if not match:
        raise ValueError(f"unreadable size {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def memory_sample(project: Project) -> dict[str, float]:
    """MiB per running container of the project (one `docker stats --no-stream`)."""
    ids = project.container_ids(all_states=False)
    if not ids:
        return {}
    out = run(["docker", "stats", "--no-stream", "--format", "{{json .}}", *ids]).stdout
    sample: dict[str, float] = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        name = row.get("Name", "?")
        service = (
            name[len(project.name) + 1 :].rsplit("-", 1)[0]
            if name.startswith(project.name + "-")
            else name
        )
        sample[service] = parse_size(row["MemUsage"].split("/")[0]) / 2**20
    return sample


def set_triggerer(project: Project, value: str) -> None:
    """The project's spec with `airflow.triggerer: value` (added, or replaced)."""
    text = re.sub(r"\n  triggerer: \w+", "", project.spec_file.read_text())
    project.spec_file.write_text(
        text.replace("\n  executor:", f"\n  triggerer: {value}\n  executor:", 1)
    )


def idle_memory(project: Project, samples: int, seconds: float) -> list[dict[str, float]]:
    """`samples` docker-stats samples spread over `seconds` of the idle stack."""
    taken: list[dict[str, float]] = []
    started = time.perf_counter()
    for k in range(samples):
        taken.append(memory_sample(project))
        remaining = started + seconds * (k + 1) / samples - time.perf_counter()
        if remaining > 0 and k < samples - 1:
            time.sleep(remaining)
    return taken


def triggerer_section(project: Project, api: Api, args: argparse.Namespace, report: Report) -> None:
    """`airflow.triggerer: on` against `off` on the same project, interleaved: warm `up
    --no-deploy` after `down` to all-healthy, then (after `up`, the sample DAG deployed) the
    idle memory of the stack. The spec is put back to on at the end."""
    section = report.section("airflow.triggerer: off vs on (same project, interleaved)")
    warm = {
        v: Figure(f"warm_up_triggerer_{v}_s", f"warm up --no-deploy, triggerer {v}", "s")
        for v in ("on", "off")
    }
    memory = {
        v: Figure(
            f"memory_total_triggerer_{v}_mib",
            f"idle memory, triggerer {v} (peak total)",
            "MiB",
            note="docker stats, each stack after `tinyctl up` (the sample DAG deployed)",
        )
        for v in ("on", "off")
    }
    try:
        for i in range(args.repeat):
            for value in ("on", "off") if i % 2 == 0 else ("off", "on"):
                log(f"triggerer {value} {i + 1}/{args.repeat}: down, warm up --no-deploy, memory")
                set_triggerer(project, value)
                down(project)
                api.required = HEALTH if value == "on" else HEALTH_WITHOUT_TRIGGERER
                seconds, _ = timed_up(project, "--no-deploy", timeout=args.timeout, api=api)
                warm[value].samples.append(seconds)
                project.tinyctl("up", timeout=args.timeout)
                totals = [sum(s.values()) for s in idle_memory(project, 3, args.memory_seconds / 2)]
                memory[value].samples.append(max(totals) if totals else None)
    finally:
        set_triggerer(project, "on")
        api.required = HEALTH
        for figure in (*warm.values(), *memory.values()):
            report.add(section, figure)
        report.add(
            section,
            ratio_figure("ratio_triggerer_off_vs_on", "warm up: off / on", warm["off"], warm["on"]),
        )
        on, off = memory["on"].value, memory["off"].value
        saved = Figure(
            "memory_saved_triggerer_off_mib",
            "idle memory saved with off (median on - median off)",
            "MiB",
        )
        saved.value_override = (on - off) if on is not None and off is not None else None
        report.add(section, saved)


def body(args: argparse.Namespace, report: Report) -> None:
    warm_sec = report.section("warm up (images built, volumes present)")
    cold_sec = report.section("cold up (no volumes; images present, no build)")
    other_sec = report.section("other")
    mem_sec = report.section("idle memory, LocalExecutor stack (docker stats, peak of samples)")
    where_sec = report.section("where the warm up time goes (container timestamps, informative)")

    warm = Figure(
        "warm_up_no_deploy_s", "tinyctl up --no-deploy (warm)", "s", target=("<", WARM_TARGET)
    )
    quick = Figure(
        "warm_up_vs_quickstart_s",
        "same, vs 3x faster than the official quickstart",
        "s",
        target=("<=", QUICKSTART_SECONDS / 3),
        target_text=f"<= {QUICKSTART_SECONDS / 3:.1f} s (91 s / 3)",
        note=f"the quickstart's {QUICKSTART_SECONDS:.0f} s is a CONSTANT (the quickstart measured on the same kind of machine), "
        "not measured in this run",
    )
    base_wait = Figure("baseline_compose_wait_s", "baseline: docker compose up -d --wait", "s")
    base_even = Figure(
        "baseline_unweighted_s",
        "baseline, the file without cpu_shares: + health",
        "s",
        note="the rendered file minus its cpu_shares line (every service at Docker's default weight)",
    )
    base_health = Figure(
        "baseline_compose_wait_health_s", "baseline: ... + Airflow /monitor/health all healthy", "s"
    )
    full_up = Figure(
        "warm_up_with_deploy_s", "tinyctl up (with settings sync + DAG deploy), warm", "s"
    )
    cold_first = Figure(
        "first_up_new_project_s",
        "tinyctl up --no-deploy, first ever (new project)",
        "s",
        note="includes generating secrets and the first render",
    )
    cold = Figure("cold_up_no_deploy_s", "tinyctl up --no-deploy after down --volumes", "s")
    cold_base = Figure(
        "cold_baseline_s",
        "baseline: docker compose up -d --wait + health, no volumes",
        "s",
        note="after `tinyctl down --volumes --yes`; then `docker compose down --volumes`",
    )
    noop = Figure("noop_up_s", "tinyctl up on a stack already up (no-op)", "s")
    spawned = Figure(
        "processes_spawned_by_warm_up",
        "processes tinyctl started during one warm up --no-deploy",
        "",
        note="execve calls under strace -f (docker CLI plugins re-exec: one `docker compose` = 2)",
    )
    down_fig = Figure("down_s", "tinyctl down (keeps volumes)", "s", target=("<", DOWN_TARGET))
    parts = {
        "postgres_started": Figure(
            "phase_postgres_started_s", "postgres container started at", "s"
        ),
        "db_setup_seconds": Figure("phase_db_setup_s", "db-setup (roles, databases) ran for", "s"),
        "airflow_init_seconds": Figure(
            "phase_airflow_init_s", "airflow-init (airflow db migrate) ran for", "s"
        ),
        "components_started": Figure(
            "phase_components_started_s", "last Airflow component container started at", "s"
        ),
        "api_healthy": Figure(
            "phase_api_healthy_s", "Airflow API all healthy at (independent poll)", "s"
        ),
    }
    parts_base = {
        "postgres_started": Figure(
            "phase_baseline_postgres_started_s", "baseline: postgres container started at", "s"
        ),
        "airflow_init_seconds": Figure(
            "phase_baseline_airflow_init_s", "baseline: airflow-init ran for", "s"
        ),
        "components_started": Figure(
            "phase_baseline_components_started_s", "baseline: last component started at", "s"
        ),
        "api_healthy": Figure(
            "phase_baseline_api_healthy_s", "baseline: Airflow API all healthy at", "s"
        ),
    }
    overhead = Figure(
        "tinyctl_after_api_healthy_s",
        "tinyctl returned this long after the API was healthy",
        "s",
        note="container healthchecks (2 s interval) lag the API; tinyctl also waits for them, "
        "then warms the execution API",
    )
    timeout = args.timeout
    project: Project | None = None
    with workspace(args, "up") as base:
        try:
            project = create_project(base, "bench-up")
            log(
                f"project {project.name} in {project.root} (airflow :{project.airflow_port}, postgres :{project.postgres_port})"
            )

            built = json.loads(project.tinyctl("build", "--json", timeout=1800).stdout)
            rebuilt = [b["image"] for b in built if b.get("built")]
            report.extra["build_check"] = built
            if rebuilt:
                report.notes.append(
                    f"images were NOT up to date; `tinyctl build` built {', '.join(rebuilt)} "
                    "before any timing (builds are excluded from every figure)"
                )
            else:
                report.notes.append(
                    "`tinyctl build --json`: every image up to date before timing (no build in any figure)"
                )

            log("first up of the new project (cold, no volumes)")
            seconds, _ = timed_up(project, "--no-deploy", timeout=timeout)
            cold_first.samples.append(seconds)
            down(project, down_fig)

            with Api(project) as api:
                sides = ("tinyctl", "baseline", "unweighted")
                unweighted = unweighted_file(project)
                for i in range(args.repeat):
                    order = sides[i % 3 :] + sides[: i % 3]
                    for which in order:
                        if which == "tinyctl":
                            log(f"warm up {i + 1}/{args.repeat}: tinyctl up --no-deploy")
                            seconds, phases = timed_up(
                                project, "--no-deploy", timeout=timeout, api=api
                            )
                            warm.samples.append(seconds)
                            if phases.get("api_healthy") is not None:
                                overhead.samples.append(seconds - phases["api_healthy"])
                            quick.samples.append(seconds)
                            for key, figure in parts.items():
                                if phases.get(key) is not None:
                                    figure.samples.append(phases[key])
                        elif which == "unweighted":
                            log(f"warm up {i + 1}/{args.repeat}: baseline without cpu_shares")
                            base_even.samples.append(
                                baseline_up(project, api, timeout, file=unweighted)[1]
                            )
                        else:
                            log(
                                f"warm up {i + 1}/{args.repeat}: baseline docker compose up -d --wait"
                            )
                            compose_s, health_s, phases = baseline_up(project, api, timeout)
                            base_wait.samples.append(compose_s)
                            base_health.samples.append(health_s)
                            for key, figure in parts_base.items():
                                if phases.get(key) is not None:
                                    figure.samples.append(phases[key])
                        down(project, down_fig)

                if shutil.which("strace"):
                    log("one more warm up under strace: processes tinyctl starts (untimed)")
                    trace = base / "up.strace"
                    run(
                        [
                            "strace",
                            "-f",
                            "-qq",
                            "-e",
                            "trace=execve",
                            "-o",
                            str(trace),
                            PYTHON,
                            "-m",
                            "tinyctl",
                            "up",
                            "--no-deploy",
                        ],
                        cwd=project.root,
                        timeout=timeout,
                    )
                    lines = [x for x in trace.read_text().splitlines() if "execve(" in x]
                    programs = [x.split('["', 1)[1].split('"', 3) for x in lines[1:] if '["' in x]
                    spawned.samples.append(float(len(lines) - 1))
                    report.extra["processes_spawned_by_up"] = [" ".join(p[0:3:2]) for p in programs]
                    down(project, down_fig)
                else:
                    report.notes.append("strace not installed: processes spawned not counted")

                log("warm up with deploy (tinyctl up)")
                seconds, _ = timed_up(project, timeout=timeout)
                full_up.samples.append(seconds)

                for i in range(args.repeat):
                    log(f"no-op up {i + 1}/{args.repeat}")
                    result = project.tinyctl("up", timeout=timeout)
                    if "already up" not in result.stdout:
                        report.notes.append(
                            f"no-op up #{i + 1} did not say 'already up': {result.stdout.strip()[:200]}"
                        )
                    noop.samples.append(result.seconds)

                log(f"idle memory: {args.memory_samples} samples over ~{args.memory_seconds:.0f} s")
                if not api.all_healthy():
                    raise RuntimeError("the stack is not healthy before sampling memory")
                samples: list[dict[str, float]] = []
                started = time.perf_counter()
                for k in range(args.memory_samples):
                    samples.append(memory_sample(project))
                    remaining = (
                        started
                        + args.memory_seconds * (k + 1) / args.memory_samples
                        - time.perf_counter()
                    )
                    if remaining > 0 and k < args.memory_samples - 1:
                        time.sleep(remaining)
                report.extra["memory_samples_mib"] = samples
                totals = [sum(s.values()) for s in samples if s]
                total = Figure(
                    "memory_total_mib",
                    "total (sum of containers)",
                    "MiB",
                    target=("<", MEMORY_TARGET_MIB),
                    target_text="< 900 MiB",
                    note="docker stats MemUsage (cgroup usage minus page cache); value = peak sample",
                )
                total.samples = totals
                total.value_override = max(totals) if totals else None
                report.add(mem_sec, total)
                for service in sorted({s for sample in samples for s in sample}):
                    values = [sample[service] for sample in samples if service in sample]
                    figure = Figure(
                        f"memory_{service.replace('-', '_')}_mib", service, "MiB", samples=values
                    )
                    figure.value_override = max(values)
                    report.add(mem_sec, figure)

                cold_section(project, api, args.repeat, timeout, cold, cold_base)

                if not args.skip_triggerer:
                    triggerer_section(project, api, args, report)
        finally:
            for figure in (warm, quick, base_wait, base_health):
                report.add(warm_sec, figure)
            report.add(
                warm_sec,
                ratio_figure(
                    "ratio_warm_vs_baseline_health",
                    "ratio tinyctl warm / baseline (+ health)",
                    warm,
                    base_health,
                    target=("<=", RATIO_TARGET),
                ),
            )
            report.add(
                warm_sec,
                ratio_figure(
                    "ratio_warm_vs_baseline_compose_wait",
                    "ratio tinyctl warm / baseline (compose --wait only)",
                    warm,
                    base_wait,
                ),
            )
            report.add(warm_sec, base_even)
            report.add(
                warm_sec,
                ratio_figure(
                    "ratio_warm_vs_unweighted",
                    "ratio tinyctl warm / baseline without cpu_shares",
                    warm,
                    base_even,
                ),
            )
            report.add(warm_sec, full_up)
            report.add(cold_sec, cold_first)
            report.add(cold_sec, cold)
            report.add(cold_sec, cold_base)
            report.add(
                cold_sec,
                ratio_figure(
                    "ratio_cold_vs_baseline",
                    "ratio tinyctl cold / baseline cold (+ health)",
                    cold,
                    cold_base,
                    target=("<=", COLD_RATIO_TARGET),
                ),
            )
            report.add(other_sec, noop)
            report.add(other_sec, down_fig)
            report.add(other_sec, spawned)
            for figure in [*parts.values(), overhead, *parts_base.values()]:
                report.add(where_sec, figure)
            report.notes.append(
                "baseline = `docker compose -f <project>/.tinyctl/compose.yaml -p <project> up --detach "
                "--wait --wait-timeout N` (returns once every service is healthy and the one-shots "
                "db-setup/airflow-init exited 0; no extra flag needed with Compose 2.40), then "
                "GET /api/v2/monitor/health polled every 0.25 s from the start, for both sides"
            )
            report.notes.append(
                "phase figures are offsets from the command start (container StartedAt/FinishedAt); "
                "the rest of the time is the Airflow components starting up until healthy"
            )
            finish_project(project, args)


def main() -> int:
    p = parser(SCRIPT, __doc__.splitlines()[0])
    p.add_argument(
        "--timeout", type=float, default=600, help="seconds allowed for each start (default 600)"
    )
    p.add_argument(
        "--memory-seconds", type=float, default=20, help="sampling window for memory (default 20)"
    )
    p.add_argument(
        "--memory-samples",
        type=int,
        default=5,
        help="docker stats samples in that window (default 5)",
    )
    p.add_argument(
        "--skip-triggerer",
        action="store_true",
        help="leave out the airflow.triggerer off-vs-on section (about 2 x N warm ups)",
    )
    args = p.parse_args()
    return main_wrapper(body, args, SCRIPT)


if __name__ == "__main__":
    sys.exit(main())
