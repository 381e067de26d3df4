"""Render the stack's files into the state folder, deterministically, and stamp them.

`render_files` is pure (spec + secrets -> {path: bytes}); `render` writes the result atomically
and records a stamp (`render.json`) of what it wrote, so later commands can tell when the
rendered files are stale (the spec changed) or were edited by hand.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from tinyctl import __version__
from tinyctl.errors import BadInput
from tinyctl.project import Project
from tinyctl.render.context import Host, bootstrap_plan, build_context
from tinyctl.resources import templates_dir
from tinyctl.spec.loader import LoadedSpec
from tinyctl.spec.models import Spec
from tinyctl.state.fsutil import sha256_bytes, sha256_file, write_atomic
from tinyctl.state.layout import StateLayout
from tinyctl.state.secrets import Secrets
from tinyctl.targets.docker.images import plan_images

SECRET_MODE = 0o600


@dataclass(frozen=True)
class RenderedFile:
    content: bytes
    mode: int = 0o644
    # A container uid that must own the file when tinyctl runs as root (a 0600 secret that a
    # non-root container reads); None: the user running tinyctl owns it.
    owner: int | None = None


@dataclass
class RenderResult:
    state_dir: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    generated_secrets: tuple[str, ...] = ()


def _compose_str(value: Any) -> str:
    """A YAML double-quoted scalar that Compose will not interpolate (`$` -> `$$`)."""
    return json.dumps(str(value)).replace("$", "$$")


_ENV_UNSAFE = {"'", "\x7f", "\x85", "\u2028", "\u2029"}


def _env_value(value: Any, key: str = "a value") -> str:
    """A single-quoted env_file value: Compose takes it literally (no interpolation).

    Only non-secret settings are written to env files (secrets are files of their own), and the
    spec refuses what cannot be written; a value that still cannot be is refused by name.
    """
    text = str(value)
    if any(c in _ENV_UNSAFE or ord(c) < 32 for c in text) or text.endswith("\\"):
        raise BadInput(
            f"{key} cannot be written to an env file: it contains a single quote or a control character, or ends with a backslash",
            hint="Remove the quote or line break from the value in tinyctl.yaml.",
        )
    return f"'{text}'"


def _sql_ident(name: Any) -> str:
    """A quoted SQL identifier: reserved words (user, order, select) stay names."""
    return '"' + str(name).replace('"', '""') + '"'


def _sql_literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = _compose_str
    env.filters["envq"] = _env_value
    env.filters["ident"] = _sql_ident
    env.filters["lit"] = _sql_literal
    env.filters["sh"] = shlex.quote
    env.filters["json"] = lambda value: json.dumps(value, sort_keys=True)
    env.filters["rstrip"] = lambda value: str(value).rstrip()
    return env


def bootstrap_script(spec: Spec) -> str:
    """The warehouse bootstrap script every target runs (the Kubernetes target in a Job)."""
    context = {"bootstrap": bootstrap_plan(spec)}
    return _environment().get_template("postgres/bootstrap.sh.j2").render(context)


def _env_file(title: str, values: Mapping[str, str]) -> bytes:
    lines = [f"# {title}", "# Written by `tinyctl render`; edits are overwritten. Do not commit."]
    lines += [f"{key}={_env_value(value, key)}" for key, value in values.items()]
    return ("\n".join(lines) + "\n").encode()


def render_files(
    loaded: LoadedSpec, secrets: Secrets, host: Host, environ: Mapping[str, str]
) -> dict[str, RenderedFile]:
    """Everything the stack needs, as {path relative to the state folder: file}. Pure."""
    context = build_context(loaded, secrets, host, environ)
    env = _environment()

    def template(name: str) -> bytes:
        try:
            return env.get_template(name).render(context).encode()
        except jinja2.UndefinedError as error:  # a template bug, not user input: keep the traceback
            raise RuntimeError(f"template {name} uses an undefined value: {error}") from error

    airflow_uid = host.container_uid
    files: dict[str, RenderedFile] = {
        StateLayout.COMPOSE: RenderedFile(template("compose.yaml.j2")),
        StateLayout.AIRFLOW_ENV: RenderedFile(
            _env_file("Airflow configuration (non-secret)", context["airflow_env"])
        ),
        StateLayout.POSTGRES_ENV: RenderedFile(
            _env_file("PostgreSQL (non-secret; passwords are files)", context["postgres_env"])
        ),
        StateLayout.PASSWORDS: RenderedFile(
            (json.dumps(context["passwords"], indent=2, sort_keys=True) + "\n").encode(),
            SECRET_MODE,
            airflow_uid,
        ),
        StateLayout.POSTGRES_BOOTSTRAP: RenderedFile(template("postgres/bootstrap.sh.j2"), 0o755),
        StateLayout.HEALTHCHECK: RenderedFile(
            (templates_dir() / "healthcheck.py").read_bytes(), 0o755
        ),
        StateLayout.AIRFLOW_RUN: RenderedFile(
            (templates_dir() / "airflow_run.py").read_bytes(), 0o755
        ),
    }
    for name, value in context["airflow_secret_files"].items():
        files[f"{StateLayout.AIRFLOW_SECRETS}/{name}"] = RenderedFile(
            value.encode(), SECRET_MODE, airflow_uid
        )
    for name, value in context["postgres_secret_files"].items():
        files[f"{StateLayout.POSTGRES_SECRETS}/{name}"] = RenderedFile(value.encode(), SECRET_MODE)
    for plan in plan_images(loaded, environ):
        if plan.build:
            for name, content in plan.build.files.items():
                mode = 0o755 if name.endswith(".sh") or name == "entrypoint" else 0o644
                files[f"{plan.build.context}/{name}"] = RenderedFile(content, mode)
    return dict(sorted(files.items()))


def digest(files: Mapping[str, RenderedFile]) -> str:
    return sha256_bytes(
        json.dumps({k: sha256_bytes(v.content) for k, v in files.items()}, sort_keys=True).encode()
    )


def _stamp(files: Mapping[str, RenderedFile]) -> bytes:
    stamp = {
        "tinyctl": __version__,
        "digest": digest(files),
        "files": {name: sha256_bytes(f.content) for name, f in files.items()},
    }
    return (json.dumps(stamp, indent=2, sort_keys=True) + "\n").encode()


def read_stamp(state: StateLayout) -> dict[str, Any] | None:
    try:
        stamp = json.loads(state.render_stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def stamped_files(state: StateLayout, stamp: Mapping[str, Any]) -> dict[str, Path]:
    """{name: path} of the files a stamp says render wrote, keeping only names that stay inside
    the state folder: a stamp edited by hand (or committed from elsewhere) never names a file
    that `render` may delete or `render --check` may read outside it."""
    files = stamp.get("files")
    if not isinstance(files, dict):
        return {}
    root = state.root.resolve()
    kept: dict[str, Path] = {}
    for name in files:
        if not isinstance(name, str) or not name or "\0" in name:
            continue
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            continue
        path = state.file(name)
        if not path.resolve().is_relative_to(root):  # a symlink inside pointing out
            continue
        kept[name] = path
    return kept


def _prepare_state_dir(state: StateLayout, container_uid: int) -> None:
    state.root.mkdir(parents=True, exist_ok=True)
    as_root = os.geteuid() == 0
    for name in StateLayout.MOUNT_DIRS:
        state.file(name).mkdir(exist_ok=True)
    if as_root:  # Airflow (not root) writes task logs
        os.chown(state.file(StateLayout.LOGS), container_uid, 0)
        state.file(StateLayout.LOGS).chmod(0o775)
    for name in StateLayout.SECRET_DIRS:
        secret_dir = state.file(name)
        secret_dir.mkdir(exist_ok=True)
        secret_dir.chmod(0o700)
    if as_root:  # the folders mounted into Airflow containers must be theirs to open
        for name in ("secrets/auth", StateLayout.AIRFLOW_SECRETS):
            os.chown(state.file(name), container_uid, 0)


def _own(target: Path, rendered: RenderedFile) -> None:
    if rendered.owner is not None and os.geteuid() == 0:
        info = target.stat()
        if (info.st_uid, info.st_gid) != (rendered.owner, 0):
            os.chown(target, rendered.owner, 0)


def render(project: Project) -> RenderResult:
    """Render into the state folder. Everything is rendered in memory before the first write."""
    state = project.state
    if state.root.exists() and not state.root.is_dir():
        raise BadInput(f"{state.root} is a file, but project.state_dir must be a folder")
    secrets = project.generate_secrets()
    identity = project.ensure_identity()
    host = Host.detect(project.loaded, project.environ, identity)
    files = render_files(project.loaded, secrets, host, project.environ)
    result = RenderResult(state_dir=state.root, generated_secrets=secrets.generated)

    _prepare_state_dir(state, host.container_uid)
    old = stamped_files(state, read_stamp(state) or {})
    for name, rendered in files.items():
        target = state.file(name)
        if target.is_file() and target.read_bytes() == rendered.content:
            if (target.stat().st_mode & 0o777) != rendered.mode:
                target.chmod(rendered.mode)
            _own(target, rendered)
            result.unchanged.append(name)
            continue
        write_atomic(target, rendered.content, mode=rendered.mode)
        _own(target, rendered)
        result.written.append(name)
    for name in sorted(set(old) - set(files)):
        target = old[name]
        if target.is_file() and not target.is_symlink():
            target.unlink()
            result.removed.append(name)
    write_atomic(state.render_stamp, _stamp(files))
    return result


@dataclass(frozen=True)
class RenderStatus:
    fresh: bool
    reasons: tuple[str, ...] = ()


def render_status(project: Project) -> RenderStatus:
    """Whether the rendered files match what the spec would render now. Writes nothing."""
    state = project.state
    stamp = read_stamp(state)
    if stamp is None:
        return RenderStatus(False, ("not rendered yet",))
    try:
        secrets = project.secrets
    except BadInput:
        return RenderStatus(False, ("the spec needs secrets that are not generated yet",))
    files = render_files(
        project.loaded,
        secrets,
        Host.detect(project.loaded, project.environ, project.identity),
        project.environ,
    )
    recorded = stamp.get("files") if isinstance(stamp.get("files"), dict) else {}
    reasons = []
    if stamp.get("digest") != digest(files):
        changed = sorted(
            name
            for name in set(files) | set(recorded)
            if recorded.get(name) != (sha256_bytes(files[name].content) if name in files else None)
        )
        reasons.append(
            "the spec changed since the last render ("
            + ", ".join(changed[:5])
            + (", ..." if len(changed) > 5 else "")
            + ")"
        )
    for name, path in sorted(stamped_files(state, stamp).items()):
        expected = recorded[name]
        if not path.is_file():
            reasons.append(f"{name} is missing")
        elif sha256_file(path) != expected:
            reasons.append(f"{name} was edited by hand")
    return RenderStatus(not reasons, tuple(reasons))
