"""Shared plumbing for the benchmarks in bench/: throwaway projects, timed commands, figures.

Nothing here asserts on timings. Each script collects `Figure`s (samples, median, min, max,
target), prints them as a table and writes them to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = sys.executable
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")

# Every tinyctl call: locally built images (no registry), no user overrides leaking in.
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("TINYCTL_SPEC", "TINYCTL_VERBOSE", "TINYCTL_RUNTIME")
}
ENV.update({"TINYCTL_IMAGES_SOURCE": "debian", "TINYCTL_WIDTH": "200", "COLUMNS": "200"})

if (
    str(REPO) not in sys.path
):  # `python bench/bench_x.py` from the repo: tinyctl importable in-process
    sys.path.insert(0, str(REPO))


def log(message: str) -> None:
    """Progress on stderr, so stdout keeps only the result table."""
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


@dataclass
class Run:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self, lines: int = 25) -> str:
        tail = "\n".join((self.stdout + "\n" + self.stderr).strip().splitlines()[-lines:])
        return f"$ {' '.join(self.argv)}\nexit {self.returncode} after {self.seconds:.1f}s\n{tail}"


class CommandFailed(RuntimeError):
    def __init__(self, run: Run):
        super().__init__(run.describe())
        self.run = run


def run(
    argv: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    check: bool = True,
    input: str | None = None,
) -> Run:
    """Run a command to completion; `seconds` is perf_counter around the whole process."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env or ENV,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        result = Run(argv, done.returncode, done.stdout, done.stderr, time.perf_counter() - started)
    except FileNotFoundError as error:  # no such program (no docker on a machine without Docker)
        result = Run(argv, 127, "", str(error), time.perf_counter() - started)
    except subprocess.TimeoutExpired as error:
        out = (
            error.stdout.decode(errors="replace")
            if isinstance(error.stdout, bytes)
            else (error.stdout or "")
        )
        err = (
            error.stderr.decode(errors="replace")
            if isinstance(error.stderr, bytes)
            else (error.stderr or "")
        )
        result = Run(
            argv,
            -9,
            out,
            err + f"\n(timed out after {timeout:.0f} s)",
            time.perf_counter() - started,
        )
    if check and not result.ok:
        raise CommandFailed(result)
    return result


def free_port(taken: set[int] | None = None) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not taken or port not in taken:
            return port


# --------------------------------------------------------------------------- projects


@dataclass
class Project:
    """A throwaway tinyctl project in a temp folder, with its own name and ports."""

    root: Path
    name: str
    airflow_port: int
    postgres_port: int

    @property
    def spec_file(self) -> Path:
        return self.root / "tinyctl.yaml"

    @property
    def state_dir(self) -> Path:
        return self.root / ".tinyctl"

    @property
    def state(self):
        from tinyctl.state.layout import StateLayout

        return StateLayout(self.state_dir)

    @property
    def compose_file(self) -> Path:
        return self.state.compose_file

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    def tinyctl(self, *args: str, check: bool = True, timeout: float = 900) -> Run:
        return run([PYTHON, "-m", "tinyctl", *args], cwd=self.root, check=check, timeout=timeout)

    def compose(
        self, *args: str, check: bool = True, timeout: float = 900, file: Path | None = None
    ) -> Run:
        """Plain `docker compose` on the file tinyctl rendered (the baselines use this), or on
        `file` (a variant of it beside it, so that its relative paths mean the same)."""
        argv = ["docker", "compose", "-f", str(file or self.compose_file), "-p", self.name, *args]
        return run(argv, cwd=self.root, check=check, timeout=timeout)

    def secrets(self) -> dict[str, str]:
        return json.loads(self.state.secrets_file.read_text())

    def container_ids(self, all_states: bool = True) -> list[str]:
        argv = ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={self.name}"]
        if all_states:
            argv.insert(2, "-a")
        return run(argv, check=False).stdout.split()

    def teardown(self) -> None:
        """`tinyctl down --volumes --yes`; if that fails, remove whatever is left with plain Docker."""
        if self.spec_file.is_file():
            result = self.tinyctl("down", "--volumes", "--yes", check=False, timeout=300)
            if not result.ok:
                log(f"tinyctl down failed for {self.name}:\n{result.describe(10)}")
        if self.compose_file.is_file() and self.container_ids():
            self.compose(
                "down", "--volumes", "--remove-orphans", "--timeout", "10", check=False, timeout=300
            )
        leftover = self.container_ids()
        if leftover:
            run(["docker", "rm", "-f", "-v", *leftover], check=False)
        label = f"label=com.docker.compose.project={self.name}"
        for kind, remove in (("volume", ["rm", "-f"]), ("network", ["rm"])):
            names = run(["docker", kind, "ls", "-q", "--filter", label], check=False).stdout.split()
            if names:
                run(["docker", kind, *remove, *names], check=False)


def set_section_port(text: str, section: str, port: int) -> str:
    """The spec text with the `port:` line of top-level `section` set to `port`."""
    lines = text.splitlines(keepends=True)
    current = None
    for i, line in enumerate(lines):
        if line[:1].isalpha():
            current = line.split(":", 1)[0]
        elif current == section and line.startswith("  port:"):
            lines[i] = re.sub(r"^(  port: *)\S+", rf"\g<1>{port}", line)
            return "".join(lines)
    raise RuntimeError(f"the scaffolded spec has no `port:` line under `{section}:` to edit")


def create_project(
    base: Path,
    prefix: str,
    *,
    edit: Callable[[str], str] | None = None,
    taken_ports: set[int] | None = None,
) -> Project:
    """`tinyctl init` a new project (real CLI), give it free ports and a unique name."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    root = base / name
    run(
        [PYTHON, "-m", "tinyctl", "init", str(root), "--name", name, "--images", "debian"], cwd=base
    )
    taken = set(taken_ports or ())
    airflow_port = free_port(taken)
    taken.add(airflow_port)
    postgres_port = free_port(taken)
    spec = root / "tinyctl.yaml"
    text = spec.read_text()
    # `init` picks free ports itself (8080/5432 when free): set each section's own `port:` line.
    for section, port in (("airflow", airflow_port), ("postgres", postgres_port)):
        text = set_section_port(text, section, port)
    spec.write_text(edit(text) if edit else text)
    return Project(root, name, airflow_port, postgres_port)


@contextmanager
def workspace(args: argparse.Namespace, label: str) -> Iterator[Path]:
    """A temp folder for the projects; removed at the end unless --keep."""
    base = Path(tempfile.mkdtemp(prefix=f"tinyctl-bench-{label}-"))
    try:
        yield base
    finally:
        if args.keep:
            log(f"--keep: projects left in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def finish_project(project: Project | None, args: argparse.Namespace) -> None:
    if project is None:
        return
    if args.keep:
        log(
            f"--keep: {project.name} left up in {project.root} "
            f"(tear down: cd {project.root} && TINYCTL_IMAGES_SOURCE=debian {PYTHON} -m tinyctl down --volumes --yes)"
        )
        return
    log(f"tearing down {project.name}")
    project.teardown()


class Psql:
    """The host's psql, against the stack's published Postgres port, as the ETL role."""

    def __init__(self, project: Project, role: str = "etl", database: str = "warehouse"):
        self.project, self.role, self.database = project, role, database
        self.env = {
            **ENV,
            "PGPASSWORD": project.secrets()[f"role_{role}_password"],
            "PGCONNECT_TIMEOUT": "10",
        }

    def argv(self, *args: str) -> list[str]:
        return [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.project.postgres_port),
            "-U",
            self.role,
            "-d",
            self.database,
            *args,
        ]

    def __call__(self, *commands: str, timeout: float = 900):
        argv = self.argv(*[a for c in commands for a in ("-c", c)])
        return run(argv, env=self.env, timeout=timeout)

    def scalar(self, sql: str) -> str:
        return run(self.argv("-A", "-t", "-c", sql), env=self.env).stdout.strip()


def start_warehouse(project: Project, timeout: float = 300) -> float:
    """Only the project's Postgres (and its one-shot db-setup: roles, schemas, grants) from the
    compose file tinyctl renders, no Airflow: for benches that check the warehouse as it is
    (`test-etl --no-run` needs nothing else). Returns the seconds it took."""
    project.tinyctl("render")
    started = time.perf_counter()
    wait = ("--wait", "--wait-timeout", str(int(timeout)))
    project.compose("up", "--detach", *wait, "postgres", timeout=timeout + 60)
    # db-setup is a one-shot: `--wait` on it fails when it has already exited 0.
    project.compose("up", "--detach", "--no-deps", "db-setup", timeout=timeout)
    ids = project.compose("ps", "--all", "--quiet", "db-setup").stdout.split()
    code = run(["docker", "wait", *ids], timeout=timeout).stdout.strip()
    if not ids or code != "0":
        logs = project.compose("logs", "--tail", "30", "db-setup", check=False).stdout
        raise RuntimeError(f"db-setup exited {code or '?'}:\n{logs}")
    return time.perf_counter() - started


@dataclass
class Measured(Run):
    """A Run with the peak resident memory of the process (its own and its children's)."""

    peak_rss_mib: float = 0.0


def run_measured(
    argv: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> Measured:
    """Run a command to completion like `run` (no check), also reading its peak RSS from
    wait4's rusage (ru_maxrss, KiB on Linux)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=cwd, env=env or ENV, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            argv,
            process.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            seconds,
            usage.ru_maxrss / 1024,
        )


# --------------------------------------------------------------------------- Airflow API


class Api:
    """A minimal, independent Airflow REST client (httpx) used to check what tinyctl reports."""

    def __init__(self, project: Project, user: str = "tinyctl", timeout: float = 10.0):
        import httpx

        self.httpx = httpx
        self.project = project
        self.user = user
        self.password = project.secrets()[f"user_{user}_password"]
        self.http = httpx.Client(base_url=project.api_url, timeout=timeout)
        self.token: str | None = None
        # the components that must be healthy (without "triggerer" where it does not run)
        self.required: tuple[str, ...] = HEALTH_COMPONENTS

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self) -> dict[str, Any] | None:
        try:
            response = self.http.get("/api/v2/monitor/health")
        except self.httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def all_healthy(self) -> bool:
        health = self.health()
        return bool(health) and all(
            (health.get(c) or {}).get("status") == "healthy" for c in self.required
        )

    def _auth(self) -> dict[str, str]:
        if self.token is None:
            response = self.http.post(
                "/auth/token", json={"username": self.user, "password": self.password}
            )
            response.raise_for_status()
            self.token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        for _ in range(2):
            response = self.http.get(path, params=params, headers=self._auth())
            if response.status_code in (401, 403):
                self.token = None
                continue
            return response
        return response

    def dag_visible(self, dag_id: str) -> bool:
        try:
            response = self.get(f"/api/v2/dags/{dag_id}")
        except self.httpx.HTTPError:
            return False
        return response.status_code == 200 and not response.json().get("is_stale", False)

    def count_dags(self, pattern: str) -> int:
        """Active (not stale) DAGs whose id contains `pattern`."""
        try:
            response = self.get(
                "/api/v2/dags", {"dag_id_pattern": pattern, "limit": 1, "exclude_stale": "true"}
            )
        except self.httpx.HTTPError:
            return -1
        return int(response.json().get("total_entries", 0)) if response.status_code == 200 else -1


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.1,
    started: float | None = None,
) -> float | None:
    """Seconds from `started` (perf_counter, default now) until `predicate()` holds; None on timeout."""
    started = time.perf_counter() if started is None else started
    deadline = time.perf_counter() + timeout
    while True:
        if predicate():
            return time.perf_counter() - started
        if time.perf_counter() > deadline:
            return None
        time.sleep(interval)


class Poller:
    """Polls `predicate` in a thread from a given start until it holds (or a cap passes)."""

    def __init__(
        self, predicate: Callable[[], bool], *, started: float, cap: float, interval: float = 0.1
    ):
        self.predicate, self.started, self.cap, self.interval = predicate, started, cap, interval
        self.seconds: float | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                if self.predicate():
                    self.seconds = time.perf_counter() - self.started
                    return
                if time.perf_counter() - self.started > self.cap:
                    return
                self._stop.wait(self.interval)
        except BaseException as error:  # reported by result()
            self.error = error

    def result(self, timeout: float | None = None) -> float | None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(5)
        if self.error is not None:
            raise self.error
        return self.seconds

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


# --------------------------------------------------------------------------- figures


@dataclass
class Figure:
    """One reported number: samples (None = not reached within `cap`), the median, and a target."""

    key: str
    label: str
    unit: str
    samples: list[float | None] = field(default_factory=list)
    target: tuple[str, float] | None = None  # ("<", 30) / ("<=", 1.1) / (">=", 0.9)
    target_text: str | None = None
    note: str = ""
    cap: float | None = None
    value_override: float | None = None  # for derived figures (ratios of medians)
    display_override: str | None = None

    @property
    def known(self) -> list[float]:
        return [s for s in self.samples if s is not None]

    @property
    def value(self) -> float | None:
        if self.value_override is not None:
            return self.value_override
        if not self.samples:
            return None
        ordered = sorted(self.samples, key=lambda s: float("inf") if s is None else s)
        # median with missed samples counted as +inf (they are above the cap)
        n = len(ordered)
        middle = ordered[(n - 1) // 2 : n // 2 + 1]
        if any(m is None for m in middle):
            return None
        return statistics.fmean(middle)  # type: ignore[arg-type]

    @property
    def censored(self) -> bool:
        return bool(self.samples) and self.value is None and self.value_override is None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        op, limit = self.target
        value = self.value
        if value is None:
            if self.censored and self.cap is not None:  # above the cap
                return op in (">", ">=") and self.cap >= limit
            return None
        return {"<": value < limit, "<=": value <= limit, ">": value > limit, ">=": value >= limit}[
            op
        ]

    def fmt(self, value: float | None) -> str:
        if value is None:
            return f"> {self.cap:.0f}" if self.cap is not None else "n/a"
        if self.unit == "x":
            return f"{value:.4f} (1/{1 / value:.0f})" if 0 < value < 0.1 else f"{value:.2f}"
        if self.unit in ("s",):
            return f"{value:.2f}" if value < 100 else f"{value:.1f}"
        if self.unit == "rows/s":
            return f"{value:,.0f}"
        if self.unit == "MiB":
            return f"{value:,.0f}"
        return f"{value:.3g}"

    @property
    def display(self) -> str:
        if self.display_override is not None:
            return self.display_override
        if not self.samples and self.value_override is None:
            return "not measured"
        return self.fmt(self.value)

    @property
    def spread(self) -> str:
        if len(self.samples) < 2:
            return ""
        known = self.known
        low = self.fmt(min(known)) if known else "n/a"
        high = self.fmt(None) if len(known) < len(self.samples) else self.fmt(max(known))
        return f"{low} .. {high}"

    @property
    def target_display(self) -> str:
        if self.target_text:
            return self.target_text
        if self.target is None:
            return ""
        op, limit = self.target
        unit = "" if self.unit == "x" else f" {self.unit}"
        return f"{op} {limit:g}{unit}"

    def as_dict(self) -> dict[str, Any]:
        known = self.known
        return {
            "label": self.label,
            "unit": self.unit,
            "value": None if self.value is None else round(self.value, 4),
            "display": self.display,
            "median": None if self.value is None else round(self.value, 4),
            "min": round(min(known), 4) if known else None,
            "max": None
            if len(known) < len(self.samples)
            else (round(max(known), 4) if known else None),
            "n": len(self.samples),
            "samples": [None if s is None else round(s, 4) for s in self.samples],
            "cap": self.cap,
            "above_cap": len(self.samples) - len(known),
            "target": None
            if self.target is None
            else {"op": self.target[0], "value": self.target[1]},
            "target_text": self.target_display or None,
            "met": self.met,
            "note": self.note or None,
        }


def ratio_figure(
    key: str,
    label: str,
    numerator: Figure,
    denominator: Figure,
    *,
    target: tuple[str, float] | None = None,
    note: str = "",
) -> Figure:
    """numerator.median / denominator.median, handling medians that are only known to be above a cap."""
    figure = Figure(key, label, "x", target=target, note=note)
    a, b = numerator.value, denominator.value
    if a is not None and b is not None and b > 0:
        figure.value_override = a / b
    elif a is not None and b is None and denominator.censored and denominator.cap:
        bound = (
            a / denominator.cap
        )  # the denominator is above its cap: the ratio is below this bound
        figure.value_override = bound
        figure.display_override = f"< {bound:.3f}"
    elif a is None and numerator.censored and numerator.cap and b:
        figure.display_override = f"> {numerator.cap / b:.2f}"
    else:
        figure.display_override = "n/a"
    return figure


class Report:
    """The figures of one script run, printed as a table and written as JSON."""

    def __init__(self, script: str, args: argparse.Namespace):
        self.script = script
        self.args = args
        self.started = datetime.now(UTC)
        self.figures: list[Figure] = []
        self.sections: list[tuple[str, list[Figure]]] = []
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.extra: dict[str, Any] = {}

    def section(self, title: str) -> list[Figure]:
        figures: list[Figure] = []
        self.sections.append((title, figures))
        return figures

    def add(self, section: list[Figure], figure: Figure) -> Figure:
        section.append(figure)
        self.figures.append(figure)
        return figure

    def error(self, what: str, error: BaseException) -> None:
        text = f"{what}: {type(error).__name__}: {error}"
        self.errors.append(text)
        log("ERROR " + text)
        if not isinstance(error, CommandFailed):
            traceback.print_exc(file=sys.stderr)

    def print(self) -> None:
        headers = ("figure", "median", "min .. max", "n", "unit", "target", "met")
        rows: list[tuple[str, ...] | str] = []
        for title, figures in self.sections:
            if not figures:
                continue
            rows.append(title)
            for f in figures:
                met = {True: "yes", False: "NO", None: ""}[f.met]
                rows.append(
                    (
                        f"  {f.label}",
                        f.display,
                        f.spread,
                        str(len(f.samples)) if f.samples else "",
                        f.unit,
                        f.target_display,
                        met,
                    )
                )
        widths = [len(h) for h in headers]
        for row in rows:
            if isinstance(row, tuple):
                widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        print(f"\n{self.script} — {self.started.strftime('%Y-%m-%d %H:%M UTC')}  {host_line()}")
        print(line)
        print("-" * len(line))
        for row in rows:
            if isinstance(row, str):
                print(row)
            else:
                print(
                    "  ".join(
                        c.ljust(w) if i != 1 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))
                    )
                )
        notes = [f.note and f"{f.label}: {f.note}" for f in self.figures if f.note]
        for text in [*self.notes, *notes]:
            if text:
                print(f"note: {text}")
        for text in self.errors:
            print(f"ERROR: {text}")

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "script": self.script,
            "started": self.started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": host_facts(),
            "params": {
                k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self.args).items()
            },
            "figures": {f.key: f.as_dict() for f in self.figures},
            "sections": {title: [f.key for f in figures] for title, figures in self.sections},
            "notes": self.notes,
            "errors": self.errors,
            **self.extra,
        }
        path.write_text(json.dumps(data, indent=2) + "\n")
        print(f"\nJSON: {path}")


_HOST: dict[str, Any] | None = None


def host_facts() -> dict[str, Any]:
    global _HOST
    if _HOST is None:
        facts: dict[str, Any] = {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        }
        info = run(
            ["docker", "info", "--format", "{{.ServerVersion}}\t{{.MemTotal}}\t{{.NCPU}}"],
            check=False,
        )
        if info.ok and info.stdout.strip():
            version, mem, ncpu = [*info.stdout.strip().split("\t"), "", "", ""][:3]
            facts.update(
                docker=version, docker_mem_gib=round(int(mem or 0) / 2**30, 1), docker_cpus=ncpu
            )
        compose = run(["docker", "compose", "version", "--short"], check=False)
        facts["compose"] = compose.stdout.strip() if compose.ok else None
        others = run(
            ["docker", "ps", "--format", '{{.Label "com.docker.compose.project"}}'], check=False
        )
        facts["other_projects_running_at_start"] = sorted({p for p in others.stdout.split() if p})
        _HOST = facts
    return _HOST


def host_line() -> str:
    h = host_facts()
    return f"({h.get('cpus')} cpus, docker {h.get('docker', '?')}, compose {h.get('compose', '?')})"


# --------------------------------------------------------------------------- CLI


def parser(script: str, description: str, *, repeat: int = 3) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"bench/{script}.py", description=description)
    p.add_argument(
        "--repeat",
        type=int,
        default=repeat,
        help=f"samples per timed figure (median reported; default {repeat})",
    )
    p.add_argument(
        "--out", type=Path, default=RESULTS_DIR / f"{script}.json", help="JSON file for the figures"
    )
    p.add_argument(
        "--keep", action="store_true", help="leave the stack(s) and temp folder for debugging"
    )
    return p


def install_signal_handlers() -> None:
    """SIGTERM/SIGHUP behave like Ctrl-C so `finally` blocks tear the stacks down."""

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def main_wrapper(
    body: Callable[[argparse.Namespace, Report], None], args: argparse.Namespace, script: str
) -> int:
    install_signal_handlers()
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    report = Report(script, args)
    host_facts()
    interrupted = False
    try:
        body(args, report)
    except KeyboardInterrupt as error:
        interrupted = True
        report.errors.append(f"interrupted ({error})")
    except Exception as error:  # report what was measured so far
        report.error("benchmark aborted", error)
    report.print()
    report.write(args.out)
    if interrupted:
        return 130
    return 1 if report.errors else 0


def parse_docker_time(text: str) -> float | None:
    """Docker's RFC 3339 timestamps (nanoseconds) as a POSIX time; None for the zero time."""
    if not text or text.startswith("0001-"):
        return None
    text = text.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        frac = "".join(ch for ch in frac if ch.isdigit())[:6].ljust(6, "0")
        text = f"{head}.{frac}"
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def container_times(project: Project) -> dict[str, dict[str, float | None]]:
    """Per service: when its container started and (one-shots) finished, as POSIX times."""
    ids = project.container_ids()
    if not ids:
        return {}
    fmt = '{{index .Config.Labels "com.docker.compose.service"}}\t{{.State.StartedAt}}\t{{.State.FinishedAt}}\t{{.State.Status}}'
    out = run(["docker", "inspect", "--format", fmt, *ids], check=False).stdout
    result: dict[str, dict[str, float | None]] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 4:
            continue
        service, started, finished, status = parts
        result[service] = {
            "started": parse_docker_time(started),
            "finished": parse_docker_time(finished) if status == "exited" else None,
        }
    return result
