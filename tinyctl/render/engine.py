"""Render the stack's files into the state folder, deterministically, and stamp them.

`render_files` is pure (spec + secrets -> {path: bytes}); `render` writes the result atomically
and records a stamp (`render.json`) of what it wrote, so later commands can tell when the
rendered files are stale (the spec changed) or were edited by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from tinyctl import __version__
from tinyctl.errors import BadInput
from tinyctl.fsutil import sha256_bytes, sha256_file, write_atomic
from tinyctl.project import Project, StateLayout
from tinyctl.render.context import Host, build_context
from tinyctl.render.images import plan_images
from tinyctl.resources import templates_dir
from tinyctl.secrets import Secrets
from tinyctl.spec.loader import LoadedSpec

SECRET_MODE = 0o600


@dataclass(frozen=True)
class RenderedFile:
    content: bytes
    mode: int = 0o644


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


def _env_value(value: Any) -> str:
    """A single-quoted env_file value: Compose takes it literally (no interpolation)."""
    text = str(value)
    if "'" in text or "\n" in text:
        raise ValueError(f"env value {text!r} cannot be written to an env file")
    return f"'{text}'"


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
    env.filters["json"] = lambda value: json.dumps(value, sort_keys=True)
    env.filters["rstrip"] = lambda value: str(value).rstrip()
    return env


def _env_file(title: str, values: Mapping[str, str]) -> bytes:
    lines = [f"# {title}", "# Written by `tinyctl render`; edits are overwritten. Do not commit."]
    lines += [f"{key}={_env_value(value)}" for key, value in values.items()]
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

    files: dict[str, RenderedFile] = {
        StateLayout.COMPOSE: RenderedFile(template("compose.yaml.j2")),
        StateLayout.AIRFLOW_ENV: RenderedFile(
            _env_file("Airflow configuration (non-secret)", context["airflow_env"])
        ),
        StateLayout.AIRFLOW_SECRET_ENV: RenderedFile(
            _env_file("Airflow secrets", context["airflow_secret_env"]), SECRET_MODE
        ),
        StateLayout.POSTGRES_SECRET_ENV: RenderedFile(
            _env_file("PostgreSQL passwords", context["postgres_secret_env"]), SECRET_MODE
        ),
        StateLayout.PASSWORDS: RenderedFile(
            (json.dumps(context["passwords"], indent=2, sort_keys=True) + "\n").encode(),
            SECRET_MODE,
        ),
        StateLayout.POSTGRES_BOOTSTRAP: RenderedFile(template("postgres/bootstrap.sh.j2"), 0o755),
        StateLayout.HEALTHCHECK: RenderedFile(
            (templates_dir() / "healthcheck.py").read_bytes(), 0o755
        ),
    }
    for plan in plan_images(loaded.spec, environ):
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


def _prepare_state_dir(state: StateLayout) -> None:
    state.root.mkdir(parents=True, exist_ok=True)
    for name in StateLayout.MOUNT_DIRS:
        state.file(name).mkdir(exist_ok=True)
    for name in StateLayout.SECRET_DIRS:
        secret_dir = state.file(name)
        secret_dir.mkdir(exist_ok=True)
        secret_dir.chmod(0o700)


def render(project: Project) -> RenderResult:
    """Render into the state folder. Everything is rendered in memory before the first write."""
    state = project.state
    if state.root.exists() and not state.root.is_dir():
        raise BadInput(f"{state.root} is a file, but project.state_dir must be a folder")
    secrets = project.generate_secrets()
    files = render_files(
        project.loaded, secrets, Host.detect(project.loaded, project.environ), project.environ
    )
    result = RenderResult(state_dir=state.root, generated_secrets=secrets.generated)

    _prepare_state_dir(state)
    old = stamped_files(state, read_stamp(state) or {})
    for name, rendered in files.items():
        target = state.file(name)
        if target.is_file() and target.read_bytes() == rendered.content:
            if (target.stat().st_mode & 0o777) != rendered.mode:
                target.chmod(rendered.mode)
            result.unchanged.append(name)
            continue
        write_atomic(target, rendered.content, mode=rendered.mode)
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
        project.loaded, secrets, Host.detect(project.loaded, project.environ), project.environ
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
