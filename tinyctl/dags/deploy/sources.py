"""What to deploy: the files of the DAG folder (or those named), and the modules they may import."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tinyctl.dags.checks import LIST_MODULES, local_modules
from tinyctl.dags.code import INCLUDE_PACKAGE
from tinyctl.errors import BadInput, TinyctlError
from tinyctl.project import Project
from tinyctl.state.fsutil import sha256_bytes, write_atomic
from tinyctl.targets.base import DAG_PROCESSOR

SKIP_NAMES = {"__pycache__", ".git", ".ipynb_checkpoints"}


def wanted(path: Path) -> bool:
    """DAG-folder content worth deploying: no caches, editor droppings or hidden folders."""
    *folders, name = path.parts
    if any(part in SKIP_NAMES or part.startswith(".") for part in folders):
        return False
    if path.suffix in (".pyc", ".pyo", ".swp") or name.endswith("~"):
        return False
    return not name.startswith(".") or name == ".airflowignore"


def collect_sources(
    project: Project, paths: Iterable[Path] | None, refused: dict[str, str] | None = None
) -> dict[str, Path]:
    """{relative name in the stack's DAG folder: source file}.

    A file reached through a symlink is deployed only when its target stays inside the project
    folder; otherwise it goes into `refused` ({name: why}) and is reported on its own. (Files
    named on the command line that are not symlinks are the user's explicit choice.)
    """
    root = project.path(project.spec.dags.path)
    chosen = list(paths or [])
    if not chosen:
        if not root.is_dir():
            raise BadInput(
                f"the DAG folder {root} does not exist",
                hint="Create it, or set dags.path in tinyctl.yaml.",
            )
        chosen = [root]
    sources: dict[str, Path] = {}
    for raw in chosen:
        _collect_one(Path(raw), root, project.root.resolve(), sources, refused)
    return sources


def _collect_one(
    raw: Path, root: Path, inside: Path, sources: dict[str, Path], refused: dict[str, str] | None
) -> None:
    """The files of one file or folder named (or the DAG folder itself) into `sources`."""
    path = raw.absolute()
    if not path.exists():
        if path.is_symlink():
            raise BadInput(f"{raw} is a broken symlink", hint="Point it at a DAG file.")
        raise BadInput(f"{raw} does not exist", hint="Pass DAG files or folders that exist.")
    files = [p for p in sorted(path.rglob("*")) if p.is_file()] if path.is_dir() else [path]
    resolved = path.resolve()
    if resolved.is_relative_to(root.resolve()):
        # a file or folder inside the DAG folder keeps its place in it
        prefix = resolved.relative_to(root.resolve())
        if not path.is_dir():
            prefix = prefix.parent
    else:
        prefix = Path()
    for file in files:
        within = file.relative_to(path) if path.is_dir() else Path(file.name)
        rel = prefix / within
        if not wanted(rel):
            continue
        target = file.resolve()
        expected = resolved / within if path.is_dir() else resolved
        through_link = path.is_symlink() or target != expected
        if through_link and not target.is_relative_to(inside):
            if refused is not None:
                refused[rel.as_posix()] = f"a symlink to {target}, outside the project folder"
            continue
        sources[rel.as_posix()] = file


def image_modules(project: Project) -> set[str] | None:
    """Top-level modules importable where the dag-processor runs, cached per rendered inputs."""
    stamp = project.state.render_stamp
    key = sha256_bytes(stamp.read_bytes())[:16] if stamp.exists() else "none"
    cache = project.state.cache_dir / f"modules-{key}.json"
    if cache.exists():
        try:
            return set(json.loads(cache.read_text()))
        except ValueError:
            pass
    try:
        code, text = project.runtime.exec(DAG_PROCESSOR, ["python", "-c", LIST_MODULES])
    except TinyctlError:
        return None
    if code != 0:
        return None
    try:
        modules = json.loads(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    write_atomic(cache, json.dumps(modules).encode())
    return set(modules)


def known_modules(project: Project, sources: dict[str, Path], target_root: Path) -> set[str] | None:
    """Every top-level module a DAG file may import: the image's, the DAG folders', the files
    being deployed, the plugins folder and the include package (the stack puts both on
    sys.path). None when the image could not be asked (imports are then not checked)."""
    known = image_modules(project)
    if known is None:
        return None
    known |= local_modules(project.path(project.spec.dags.path)) | local_modules(target_root)
    known |= {Path(rel).parts[0].removesuffix(".py") for rel in sources}
    return known | local_modules(project.path(project.spec.plugins.path)) | {INCLUDE_PACKAGE}
