"""`tinyctl init --from-astro [DIR]`: an Astro CLI project becomes a tinyctl project in place.

None of the project's files is changed; tinyctl adds `tinyctl.yaml`, its state folder (which
ignores itself in git) and, when `airflow_settings.yaml` holds passwords, their values in the
git-ignored `.env` (appended, keys already there are kept). What each Astro file becomes:

- `Dockerfile`: `FROM <astro runtime image>` -> `airflow.version` (tinyctl.interop.astro_runtime);
  `ENV AIRFLOW__SECTION__KEY=...` -> `airflow.config`; every other instruction is listed as not
  carried over (tinyctl builds its own image: a RUN or COPY must become a requirement or a
  system package, or stay in the Dockerfile for Astro).
- `requirements.txt`, `packages.txt` -> `airflow.requirements`, `airflow.system_packages` as files.
- `airflow_settings.yaml` -> `airflow.connections`, `pools`, `variables` (tinyctl.interop.astro_settings).
- `dags/`, `include/`, `plugins/` are tinyctl's own defaults; `tests/` is what `tinyctl pytest` runs.
- `.env` -> `env_file: .env`; its `AIRFLOW__` settings -> `airflow.config`, except secret ones.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tinyctl.errors import BadInput
from tinyctl.interop.astro_runtime import RuntimeImage, is_runtime_image, parse_runtime_image
from tinyctl.interop.astro_settings import SECRET_WORDS, import_settings
from tinyctl.scaffold import project_name
from tinyctl.spec import load_spec
from tinyctl.spec.checks import MANAGED_CONFIG
from tinyctl.spec.models import CONFIG_KEY, DEFAULT_AIRFLOW_VERSION
from tinyctl.state.env_file import parse_env_text, quote_env_value, read_dotenv
from tinyctl.state.fsutil import write_atomic

SPEC = "tinyctl.yaml"
ENV_FILE = ".env"
STATE_DIR = ".tinyctl"
MARKERS = ("Dockerfile", ".astro")  # what makes a folder an Astro project
ENV_BLOCK = "# Added by `tinyctl init --from-astro`: secrets from airflow_settings.yaml\n"


@dataclass
class DockerfileFacts:
    image: str | None = None
    from_line: int | None = None
    config: dict[str, str] = field(default_factory=dict)
    not_carried: list[str] = field(default_factory=list)  # "Dockerfile:LINE: text"


@dataclass
class AstroImport:
    root: Path
    spec: dict[str, Any]
    airflow_version: str
    runtime: RuntimeImage | None
    secrets: dict[str, str]  # env var -> value, appended to .env
    not_carried: list[str]
    notes: list[str]

    @property
    def spec_text(self) -> str:
        head = (
            "# tinyctl project, made from this Astro CLI project by `tinyctl init --from-astro`.\n"
            "# The Astro files are still read from where they are (requirements.txt, packages.txt, dags/, ...).\n"
        )
        return head + yaml.safe_dump(self.spec, sort_keys=False, allow_unicode=True)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Dockerfile instructions with their first line number, continuations joined."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append((start, pending + stripped))
        pending = ""
    if pending:
        lines.append((start, pending))
    return lines


def _env_pairs(args: str) -> dict[str, str]:
    if "=" not in args.split(None, 1)[0]:  # legacy form: ENV KEY value
        key, _, value = args.partition(" ")
        return {key: value.strip()}
    return parse_env_text("\n".join(_split_words(args)), "Dockerfile ENV")


def _split_words(args: str) -> list[str]:
    try:
        return shlex.split(args, posix=False)
    except ValueError:
        return args.split()


def read_dockerfile(path: Path) -> DockerfileFacts:
    facts = DockerfileFacts()
    for number, line in _logical_lines(path.read_text(encoding="utf-8")):
        word, _, args = line.partition(" ")
        instruction = word.upper()
        where = f"{path.name}:{number}: {line[:120]}"
        if instruction == "FROM":
            if facts.image is not None:
                facts.not_carried.append(where + " (a second build stage)")
                continue
            facts.image, facts.from_line = args.split()[0] if args.split() else "", number
        elif instruction == "ENV" and args.strip():
            for key, value in _env_pairs(args.strip()).items():
                dotted = airflow_setting(key)
                if dotted and not SECRET_WORDS.search(key):
                    facts.config[dotted] = value
                else:
                    facts.not_carried.append(f"{path.name}:{number}: ENV {key}")
        else:
            facts.not_carried.append(where)
    return facts


def airflow_setting(name: str) -> str | None:
    """AIRFLOW__SECTION__KEY -> section.key (None for anything else, e.g. *_CMD keys too)."""
    match = re.fullmatch(r"AIRFLOW__([A-Za-z0-9_]+?)__([A-Za-z0-9_]+)", name)
    if not match:
        return None
    dotted = f"{match.group(1).lower()}.{match.group(2).lower()}"
    return dotted if CONFIG_KEY.fullmatch(dotted) else None


def _airflow_version(
    facts: DockerfileFacts, given: str | None, notes: list[str]
) -> tuple[str, RuntimeImage | None]:
    if given is not None and not re.fullmatch(r"3\.\d+\.\d+", given):
        raise BadInput(f"--airflow-version {given!r} is not an Airflow 3 version such as 3.3.2")
    if facts.image is None:
        raise BadInput(
            "the Dockerfile has no FROM line",
            hint="An Astro project's Dockerfile starts FROM <astro runtime image>.",
        )
    if not is_runtime_image(facts.image):
        official = re.fullmatch(
            r"(?:docker\.io/)?apache/airflow:(3\.\d+\.\d+)(?:-python3\.\d+)?", facts.image
        )
        if given or official:
            return given or official.group(1), None  # type: ignore[union-attr]
        raise BadInput(
            f"Dockerfile:{facts.from_line}: FROM {facts.image} is not an Astro Runtime image",
            hint="Give the Airflow version it runs with --airflow-version 3.x.y.",
        )
    try:
        runtime = parse_runtime_image(facts.image)
    except BadInput as error:
        if given:
            notes.append(f"{facts.image}: not in tinyctl's runtime table; Airflow {given} as given")
            return given, None
        error.message = f"Dockerfile:{facts.from_line}: {error.message}"
        raise
    if runtime.yanked:
        notes.append(f"Astro Runtime {runtime.release} was yanked by Astronomer: {runtime.yanked}")
    if given:
        return given, runtime
    if runtime.is_airflow2:
        airflow2 = runtime.airflow2 or runtime.airflow2_line
        notes.append(
            f"Astro Runtime {runtime.release} runs Airflow {airflow2}; tinyctl runs "
            f"Airflow 3 only: airflow.version is {DEFAULT_AIRFLOW_VERSION}. Run `tinyctl "
            f"upgrade-test --to {DEFAULT_AIRFLOW_VERSION}` for the Airflow 3 migration findings."
        )
        return DEFAULT_AIRFLOW_VERSION, runtime
    assert runtime.airflow is not None
    return runtime.airflow, runtime


def _config(facts: DockerfileFacts, env: dict[str, str], notes: list[str]) -> dict[str, str]:
    config = dict(facts.config)
    for key, value in env.items():
        dotted = airflow_setting(key)
        if dotted is None:
            continue
        if SECRET_WORDS.search(key):
            notes.append(f".env: {key} looks secret: left in .env, not copied into tinyctl.yaml")
            continue
        config[dotted] = value
    for dotted in sorted(set(config) & set(MANAGED_CONFIG)):
        notes.append(f"airflow.config {dotted} dropped: {MANAGED_CONFIG[dotted]}")
        del config[dotted]
    return dict(sorted(config.items()))


def plan_import(
    root: Path,
    *,
    airflow_version: str | None = None,
    name: str | None = None,
    ports: tuple[int, int] = (8080, 5432),
) -> AstroImport:
    """What `init --from-astro` writes for the Astro project in `root` (nothing written yet)."""
    root = root.absolute()
    dockerfile = root / "Dockerfile"
    if not dockerfile.is_file():
        raise BadInput(
            f"{root} has no Dockerfile: it is not an Astro CLI project",
            hint="Run this in the folder `astro dev init` made (it holds Dockerfile, dags/, airflow_settings.yaml).",
        )
    notes: list[str] = []
    facts = read_dockerfile(dockerfile)
    version, runtime = _airflow_version(facts, airflow_version, notes)
    env = read_dotenv(root / ENV_FILE)
    settings = _settings(root)
    notes += settings.notes
    airflow: dict[str, Any] = {"version": version, "port": ports[0]}
    if (root / "requirements.txt").is_file():
        airflow["requirements"] = "requirements.txt"
    if (root / "packages.txt").is_file():
        airflow["system_packages"] = "packages.txt"
    if config := _config(facts, env, notes):
        airflow["config"] = config
    if settings.connections:
        airflow["connections"] = settings.connections
    if settings.pools:
        airflow["pools"] = settings.pools
    if settings.variables:
        airflow["variables"] = settings.variables
    spec: dict[str, Any] = {
        "project": {"name": name or project_name(root)},
        "env_file": ENV_FILE,
        "airflow": airflow,
        "postgres": {"port": ports[1]},
    }
    if (root / "tests").is_dir() and not _lists_pytest(root / "requirements.txt"):
        notes.append(
            "Astro Runtime images ship pytest, tinyctl's debian images too; with images.source: "
            "official or the local runtime, add pytest to requirements.txt for `tinyctl pytest`"
        )
    others = sorted(k for k in env if airflow_setting(k) is None)
    if others:
        notes.append(
            ".env variables left in .env (read for password_env, not set in the stack's "
            "containers): " + ", ".join(others)
        )
    secrets = {k: v for k, v in settings.secrets.items() if k not in env}
    return AstroImport(root, spec, version, runtime, secrets, facts.not_carried, notes)


def _lists_pytest(path: Path) -> bool:
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return bool(re.search(r"^\s*pytest\b", text, re.MULTILINE))


def _settings(root: Path):
    path = root / "airflow_settings.yaml"
    if not path.is_file():
        return import_settings(None)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise BadInput(
            f"airflow_settings.yaml{where} is not valid YAML", details=str(error)
        ) from None
    return import_settings(data, str(path.name))


def write_import(plan: AstroImport, *, force: bool = False) -> list[Path]:
    """Write tinyctl.yaml (validated first), the state folder's .gitignore and the secrets."""
    spec_file = plan.root / SPEC
    if spec_file.exists() and not force:
        raise BadInput(
            f"{spec_file} already exists; nothing was written",
            hint="Pass --force to replace it.",
        )
    trial = plan.root / f".{SPEC}.from-astro"
    write_atomic(trial, plan.spec_text.encode())
    try:
        load_spec(trial)
    finally:
        trial.unlink(missing_ok=True)
    written = [spec_file]
    write_atomic(spec_file, plan.spec_text.encode())
    ignore = plan.root / STATE_DIR / ".gitignore"
    if not ignore.exists():
        write_atomic(ignore, b"# tinyctl's state folder: rendered files, secrets, logs\n*\n")
        written.append(ignore)
    if plan.secrets:
        written.append(_append_secrets(plan.root / ENV_FILE, plan.secrets))
    return written


def _append_secrets(path: Path, secrets: dict[str, str]) -> Path:
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    sep = "" if not current or current.endswith("\n") else "\n"
    block = ENV_BLOCK + "".join(f"{k}={quote_env_value(v)}\n" for k, v in sorted(secrets.items()))
    write_atomic(path, (current + sep + ("\n" if current else "") + block).encode(), mode=0o600)
    _ensure_ignored(path)
    return path


def _ensure_ignored(path: Path) -> None:
    """`.env` holds secrets: make sure git ignores it (Astro's .gitignore already does); when it
    does not, add it to the repository's own exclude file (no project file is changed)."""
    try:
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", path.name],
            cwd=path.parent,
            capture_output=True,
            timeout=10,
        )
        top = subprocess.run(
            ["git", "rev-parse", "--git-path", "info/exclude", "--show-prefix"],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return
    if ignored.returncode == 0 or top.returncode != 0:
        return  # ignored already, or not a git repository
    exclude_path, _, prefix = top.stdout.partition("\n")
    exclude = (path.parent / exclude_path.strip()).resolve()
    text = exclude.read_text() if exclude.exists() else ""
    line = f"/{prefix.strip()}{path.name}\n"
    write_atomic(
        exclude, (text + ("" if text.endswith("\n") or not text else "\n") + line).encode()
    )
