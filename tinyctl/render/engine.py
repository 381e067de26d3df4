"""Render the stack's files into the state folder, deterministically, and stamp them.

The target decides what its files are (`tinyctl.targets.<target>.render`, from the plan); this
module only builds the plan, asks the target's renderer, writes the result atomically and
records a stamp (`render.json`) of what it wrote, so later commands can tell when the rendered
files are stale (the spec changed) or were edited by hand.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyctl import __version__
from tinyctl.errors import BadInput
from tinyctl.plan.build import plan_for
from tinyctl.project import Project
from tinyctl.render.context import Host
from tinyctl.spec.loaded import LoadedSpec
from tinyctl.state.fsutil import remove_stale_temps, sha256_bytes, sha256_file, write_atomic
from tinyctl.state.layout import StateLayout
from tinyctl.state.secrets import Secrets
from tinyctl.targets.base import RenderedFile, RenderedFolder
from tinyctl.targets.choice import choose_runtime, renderer

# What render never looks through for stale temporary files: the stack's own data and logs.
STATE_SKIP = (StateLayout.LOGS, StateLayout.LOCAL + "/postgres", StateLayout.LOCAL + "/logs")


@dataclass
class RenderResult:
    state_dir: Path
    target: str = "compose"
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    generated_secrets: tuple[str, ...] = ()


def render_files(
    loaded: LoadedSpec,
    secrets: Secrets,
    host: Host,
    environ: Mapping[str, str],
    target: str = "compose",
) -> dict[str, RenderedFile]:
    """Everything the target's stack needs, as {path relative to the state folder: file}. Pure:
    the plan of the spec, rendered by the target."""
    plan = plan_for(loaded, host.identity)
    files = renderer(target).render_files(plan, host.inputs(loaded, secrets, environ))
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


def read_stamp(stamp_file: Path) -> dict[str, Any] | None:
    try:
        stamp = json.loads(stamp_file.read_text(encoding="utf-8"))
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


def _prepare_state_dir(state: StateLayout, folders: Mapping[str, RenderedFolder]) -> None:
    state.root.mkdir(parents=True, exist_ok=True)
    as_root = os.geteuid() == 0
    for name, folder in folders.items():
        path = state.file(name)
        path.mkdir(parents=True, exist_ok=True)
        if folder.mode is not None:
            path.chmod(folder.mode)
        if as_root and folder.owner is not None:  # a non-root container opens it
            os.chown(path, folder.owner, 0)


def _own(target: Path, rendered: RenderedFile) -> None:
    if rendered.owner is not None and os.geteuid() == 0:
        info = target.stat()
        if (info.st_uid, info.st_gid) != (rendered.owner, 0):
            os.chown(target, rendered.owner, 0)


def render_target(project: Project) -> str:
    """The target whose files the state folder holds: the one the project's runtime runs on."""
    return choose_runtime(project)[0]


def render(project: Project) -> RenderResult:
    """Render into the state folder. Everything is rendered in memory before the first write."""
    state = project.state
    check_state_folder(state)
    target = render_target(project)
    secrets = project.generate_secrets()
    identity = project.ensure_identity()
    host = Host.detect(project.loaded, project.environ, identity)
    files = render_files(project.loaded, secrets, host, project.environ, target)
    folders = renderer(target).state_folders(
        project.plan, host.inputs(project.loaded, secrets, project.environ)
    )
    result = RenderResult(state.root, target, generated_secrets=secrets.generated)
    result.written, result.unchanged, result.removed = write_stamped(
        state, files, state.render_stamp, folders
    )
    return result


def check_state_folder(state: StateLayout) -> None:
    if state.root.exists() and not state.root.is_dir():
        raise BadInput(f"{state.root} is a file, but project.state_dir must be a folder")


def write_stamped(
    state: StateLayout,
    files: Mapping[str, RenderedFile],
    stamp_file: Path,
    folders: Mapping[str, RenderedFolder] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """Write `files` (names relative to the state folder) atomically, each only when it changed;
    delete what the previous stamp in `stamp_file` named and `files` no longer has; then stamp
    them. `folders` are made first. Returns (written, unchanged, removed)."""
    if folders is not None:
        _prepare_state_dir(state, folders)
    # a command killed while writing left its temporary file: the lock says it is gone
    remove_stale_temps(state.root, skip=STATE_SKIP)
    written, unchanged, removed = [], [], []
    previous = read_stamp(stamp_file) or {}
    old = stamped_files(state, previous)
    changed = {
        name: rendered
        for name, rendered in files.items()
        if not (state.file(name).is_file() and state.file(name).read_bytes() == rendered.content)
    }
    if changed:
        _stamp_interrupted(stamp_file, previous, files)
    for name, rendered in files.items():
        target = state.file(name)
        if name not in changed:
            if (target.stat().st_mode & 0o777) != rendered.mode:
                target.chmod(rendered.mode)
            _own(target, rendered)
            unchanged.append(name)
            continue
        write_atomic(target, rendered.content, mode=rendered.mode)
        _own(target, rendered)
        written.append(name)
    for name in sorted(set(old) - set(files)):
        target = old[name]
        if target.is_file() and not target.is_symlink():
            target.unlink()
            removed.append(name)
    write_atomic(stamp_file, _stamp(files))
    return written, unchanged, removed


def _stamp_interrupted(
    stamp_file: Path, previous: Mapping[str, Any], files: Mapping[str, RenderedFile]
) -> None:
    """Before the first file is replaced: the stamp says a render is under way, and names every
    file of the old and the new render. A render killed halfway is then reported as such by
    `render --check` (not as files edited by hand), and the next render still deletes a file
    the killed one wrote that the spec no longer renders."""
    recorded = previous.get("files") if isinstance(previous.get("files"), dict) else {}
    stamp = {
        **previous,
        "interrupted": True,
        "files": {**dict.fromkeys(files, ""), **recorded},
    }
    write_atomic(stamp_file, (json.dumps(stamp, indent=2, sort_keys=True) + "\n").encode())


@dataclass(frozen=True)
class RenderStatus:
    fresh: bool
    reasons: tuple[str, ...] = ()


def render_status(project: Project) -> RenderStatus:
    """Whether the rendered files match what the spec would render now. Writes nothing."""
    state = project.state
    if read_stamp(state.render_stamp) is None:
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
        render_target(project),
    )
    return stamp_status(state, files, state.render_stamp)


def stamp_status(
    state: StateLayout, files: Mapping[str, RenderedFile], stamp_file: Path
) -> RenderStatus:
    """Whether what `write_stamped` wrote into `stamp_file` is still `files`: the inputs did not
    change, and nobody edited or deleted a written file since."""
    stamp = read_stamp(stamp_file)
    if stamp is None:
        return RenderStatus(False, ("not rendered yet",))
    recorded = stamp.get("files") if isinstance(stamp.get("files"), dict) else {}
    if stamp.get("interrupted"):
        return RenderStatus(
            False, ("the last render was interrupted before it finished: run it again",)
        )
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


def render_for_build(project: Project) -> None:
    """Before a one-off whose image may have to be built: the build reads the rendered build
    context, so the target's files are rendered first when an image is stale and they are too."""
    if project.runtime.images_to_build() and not render_status(project).fresh:
        render(project)
