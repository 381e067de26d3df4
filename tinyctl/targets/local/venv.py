"""The Airflow virtual environment of the local runtime.

One venv per set of inputs (Python, Airflow version, constraints, the spec's requirements),
kept in a shared cache (`$TINYCTL_CACHE_DIR`, else `$XDG_CACHE_HOME/tinyctl`, else
`~/.cache/tinyctl`) under `venvs/<digest>`: created once, reused by every project with the same
inputs, rebuilt only when they change. A venv is not relocatable, so it is built in place under
an exclusive lock and marked complete (`tinyctl-venv.json`) last; a half-built one is removed.

Installed the way the Debian image does it: `apache-airflow[postgres]==<version>` under the
project's constraints file (docker/airflow-debian/constraints/constraints-<version>.txt, or only
`celery<5.7` without one), then the spec's requirements with Airflow held at its version. `uv`
(a dependency of tinyctl) installs in seconds; without it, `python -m venv` and pip.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tinyctl.errors import WorkFailed
from tinyctl.resources import docker_dir
from tinyctl.state.fsutil import write_atomic

FORMAT = 1  # bump when the way a venv is built changes
MARKER = "tinyctl-venv.json"
FALLBACK_PINS = "celery<5.7\n"


def cache_root(environ: Mapping[str, str]) -> Path:
    if environ.get("TINYCTL_CACHE_DIR"):
        return Path(environ["TINYCTL_CACHE_DIR"])
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tinyctl"


def constraints_text(airflow_version: str) -> str:
    path = docker_dir() / "airflow-debian" / "constraints" / f"constraints-{airflow_version}.txt"
    return path.read_text() if path.is_file() else FALLBACK_PINS


def uv_binary(environ: Mapping[str, str]) -> str | None:
    if environ.get("TINYCTL_NO_UV"):
        return None
    try:
        # lazy: an optional package (uv), looked for only here
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv", path=environ.get("PATH"))


@dataclass(frozen=True)
class VenvPlan:
    """What goes into the venv; its digest names it."""

    python: str
    python_version: str
    airflow_version: str
    requirements: tuple[str, ...]
    constraints: str

    @property
    def digest(self) -> str:
        payload = json.dumps(
            {
                "format": FORMAT,
                "python": self.python_version,
                "airflow": self.airflow_version,
                "requirements": list(self.requirements),
                "constraints": hashlib.sha256(self.constraints.encode()).hexdigest(),
                "platform": sys.platform,
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @classmethod
    def for_spec(cls, airflow_version: str, requirements: list[str]) -> VenvPlan:
        python = sys.executable
        version = ".".join(str(p) for p in sys.version_info[:3])
        return cls(
            python,
            version,
            airflow_version,
            tuple(r.strip() for r in requirements if r.strip()),
            constraints_text(airflow_version),
        )


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def airflow(self) -> Path:
        return self.bin / "airflow"

    def ready(self) -> bool:
        return (self.path / MARKER).is_file() and self.airflow.is_file()


def venv_for(plan: VenvPlan, environ: Mapping[str, str]) -> Venv:
    return Venv(cache_root(environ) / "venvs" / plan.digest)


def _installer_env(environ: Mapping[str, str], ca_bundle: Path | None, index_url: str | None):
    # PYTHONDONTWRITEBYTECODE (set in many CI images) would leave the venv without bytecode.
    env = {
        k: v
        for k, v in environ.items()
        if not k.startswith(("VIRTUAL_ENV", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE"))
    }
    if ca_bundle is not None:
        env.update(SSL_CERT_FILE=str(ca_bundle), PIP_CERT=str(ca_bundle))
    if index_url:
        env.update(UV_INDEX_URL=index_url, PIP_INDEX_URL=index_url)
    return env


def _run(argv: list[str], env: Mapping[str, str], log: Path, what: str) -> None:
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        code = subprocess.run(
            argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT, check=False
        ).returncode
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise WorkFailed(
            f"{what} failed (exit code {code})",
            details=f"Last lines of {log}:\n{tail}",
            hint="A requirement that does not resolve with this Airflow version? Fix airflow.requirements "
            "in tinyctl.yaml; a network problem? Check the package index (images.pip_index_url).",
        )


def ensure_venv(
    plan: VenvPlan,
    environ: Mapping[str, str],
    *,
    ca_bundle: Path | None = None,
    index_url: str | None = None,
    force: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> tuple[Venv, bool]:
    """The venv for plan, built if missing (or forced). Returns (venv, built now)."""
    venv = venv_for(plan, environ)
    if venv.ready() and not force and _has_bytecode(venv):
        return venv, False
    venv.path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = venv.path.parent / f"{plan.digest}.lock"
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another tinyctl may be building the same venv
        if venv.ready() and not force:
            if not _has_bytecode(venv):  # made by an earlier tinyctl: compile it once, now
                _compile_bytecode(venv, environ, venv.path.parent / f"{plan.digest}.log")
                marker = {**_marker(venv), "bytecode": True}
                write_atomic(venv.path / MARKER, (json.dumps(marker, indent=2) + "\n").encode())
            return venv, False
        _build(plan, venv, environ, ca_bundle, index_url, on_step)
    return venv, True


def _marker(venv: Venv) -> dict:
    try:
        return json.loads((venv.path / MARKER).read_text())
    except (OSError, ValueError):
        return {}


def _has_bytecode(venv: Venv) -> bool:
    return bool(_marker(venv).get("bytecode"))


def _compile_bytecode(venv: Venv, environ: Mapping[str, str], log: Path) -> None:
    """Compile every module of the venv once. Without it each of the four Airflow processes
    compiles ~3,700 modules at every start (when PYTHONDONTWRITEBYTECODE is set, as in many CI
    images) or the first one to import them does: measured 18.3 s of CPU for the four
    components to reach healthy without, 14.5 s with. A file that does not compile (some
    packages ship Python 2 examples) is left as it is: Python never imports those."""
    env = _installer_env(environ, None, None)
    with open(log, "ab") as out:
        for site in sorted(venv.path.glob("lib/python*/site-packages")):
            subprocess.run(
                [str(venv.python), "-m", "compileall", "-q", "-j", "0", str(site)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )


def _build(
    plan: VenvPlan,
    venv: Venv,
    environ: Mapping[str, str],
    ca_bundle: Path | None,
    index_url: str | None,
    on_step: Callable[[str], None] | None,
) -> None:
    """Make the venv anew (uv when there is one, else pip), check that it imports the planned
    Airflow, and mark it; a failed or interrupted build leaves no venv behind."""
    started = time.monotonic()
    if venv.path.exists():
        shutil.rmtree(venv.path)
    log = venv.path.parent / f"{plan.digest}.log"
    log.unlink(missing_ok=True)
    env = _installer_env(environ, ca_bundle, index_url)
    uv = uv_binary(environ)
    (on_step or (lambda _m: None))(
        f"creating the Airflow {plan.airflow_version} environment with {'uv' if uv else 'pip'} "
        f"({'seconds' if uv else 'about a minute'}; once per set of requirements)"
    )
    constraints = venv.path.parent / f"{plan.digest}.constraints.txt"
    pin = venv.path.parent / f"{plan.digest}.pin.txt"
    constraints.write_text(plan.constraints)
    pin.write_text(f"apache-airflow=={plan.airflow_version}\n")
    try:
        install = _create(plan, venv, uv, env, log)
        airflow = f"apache-airflow[postgres]=={plan.airflow_version}"
        _run(
            [*install, airflow, "--constraint", str(constraints)], env, log, f"installing {airflow}"
        )
        if plan.requirements:
            _run(
                [*install, "--constraint", str(pin), *plan.requirements],
                env,
                log,
                "installing airflow.requirements",
            )
        _require_airflow(plan, venv, log)
        _compile_bytecode(venv, environ, log)
    except BaseException:
        shutil.rmtree(venv.path, ignore_errors=True)
        raise
    finally:
        constraints.unlink(missing_ok=True)
        pin.unlink(missing_ok=True)
    _mark(plan, venv, "uv" if uv else "pip", time.monotonic() - started)


def _create(
    plan: VenvPlan, venv: Venv, uv: str | None, env: Mapping[str, str], log: Path
) -> list[str]:
    """The empty venv; returns the install command for it."""
    if uv:
        _run([uv, "venv", "--quiet", "--python", plan.python, str(venv.path)], env, log, "uv venv")
        # bytecode compiled now: the first start of four Airflow processes does not do it 4x
        return [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(venv.python)]
    _run([plan.python, "-m", "venv", str(venv.path)], env, log, "python -m venv")
    return [str(venv.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


def _require_airflow(plan: VenvPlan, venv: Venv, log: Path) -> None:
    """The new venv imports Airflow and its Postgres provider, at the planned version."""
    probe = subprocess.run(
        [
            str(venv.python),
            "-c",
            "import airflow, airflow.providers.postgres; print(airflow.__version__)",
        ],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "AIRFLOW_HOME": str(venv.path / ".probe")},
        check=False,
    )
    shutil.rmtree(venv.path / ".probe", ignore_errors=True)
    if probe.returncode != 0 or probe.stdout.strip().splitlines()[-1:] != [plan.airflow_version]:
        raise WorkFailed(
            f"the new Airflow environment does not import Airflow {plan.airflow_version}",
            details=(probe.stderr or probe.stdout)[-2000:],
            hint=f"See {log}; delete {venv.path} and run `tinyctl build` again.",
        )


def _mark(plan: VenvPlan, venv: Venv, installer: str, seconds: float) -> None:
    """The marker that says the venv is whole and what it holds (written last, atomically)."""
    marker = {
        "bytecode": True,
        "digest": plan.digest,
        "airflow": plan.airflow_version,
        "python": plan.python_version,
        "requirements": list(plan.requirements),
        "installer": installer,
        "seconds": round(seconds, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_atomic(venv.path / MARKER, (json.dumps(marker, indent=2) + "\n").encode())
