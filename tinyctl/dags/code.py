"""The project's plugins and include folders: checked, then copied into the stack.

The stack never mounts the project's own folders: it mounts copies in the state folder
(`.tinyctl/plugins`, `.tinyctl/include`), written only here, after every Python file in the
folder compiled. The copy is all or nothing (modules of one folder import each other), each
file written atomically, so no Airflow process ever imports a half-written or broken file.

- plugins are loaded by each Airflow component when it starts: `up` and `restart` deploy them
  and restart the components when they changed; `deploy-dags` only says that they changed.
- include code is imported by DAG files at parse time and by tasks when they run:
  `deploy-dags` (and so `up`) deploys it, then has the DAG files that import it re-parsed.
"""

from __future__ import annotations

import ast
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tinyctl.errors import BadInput
from tinyctl.plan.values import Place, Value
from tinyctl.state.fsutil import write_atomic

if TYPE_CHECKING:
    from tinyctl.project import Project

SKIP_NAMES = {"__pycache__", ".git", ".ipynb_checkpoints"}
INCLUDE_PACKAGE = "include"  # the import name of the include folder inside the stack


@dataclass(frozen=True)
class CodeProblem:
    file: str  # relative to the folder
    line: int
    message: str


@dataclass
class CodeSync:
    """What deploying one folder did (or, with problems, refused to do)."""

    name: str  # "plugins" or "include"
    source: Path
    changed: list[str] = field(default_factory=list)  # written: new or modified
    removed: list[str] = field(default_factory=list)
    problems: list[CodeProblem] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return not self.problems and bool(self.changed or self.removed)

    def as_dict(self) -> dict[str, object]:
        return {
            "folder": self.name,
            "changed": self.changed,
            "removed": self.removed,
            "problems": [
                {"file": p.file, "line": p.line, "message": p.message} for p in self.problems
            ],
        }


def _wanted(rel: Path) -> bool:
    """Code worth deploying: no caches, editor droppings, compiled files or hidden files."""
    *folders, name = rel.parts
    if any(part in SKIP_NAMES or part.startswith(".") for part in folders):
        return False
    if rel.suffix in (".pyc", ".pyo", ".swp") or name.endswith("~"):
        return False
    return not name.startswith(".")


def source_files(root: Path) -> dict[str, Path]:
    """{relative name: file} of a folder; empty when the folder does not exist."""
    if not root.is_dir():
        return {}
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and _wanted(rel):
            files[rel.as_posix()] = path
    return files


def compile_problem(source: bytes, filename: str) -> tuple[int, str] | None:
    """(line, message) when Python source does not compile."""
    try:
        compile(ast.parse(source, filename=filename), filename, "exec")
    except SyntaxError as error:
        message = error.msg + (f": {error.text.strip()}" if error.text else "")
        return error.lineno or 0, message
    except ValueError as error:  # null bytes
        return 0, str(error)
    return None


def _plan(source_root: Path, target_root: Path) -> tuple[dict[str, bytes], list[str], list[str]]:
    """(every source file's bytes, names to write, names to remove)."""
    contents = {rel: path.read_bytes() for rel, path in source_files(source_root).items()}
    deployed = source_files(target_root)
    changed = [
        rel
        for rel, data in contents.items()
        if rel not in deployed or deployed[rel].read_bytes() != data
    ]
    removed = sorted(set(deployed) - set(contents))
    return contents, changed, removed


def sync_folder(name: str, source_root: Path, target_root: Path) -> CodeSync:
    """Check every Python file, then bring the deployed copy in line with the source."""
    contents, changed, removed = _plan(source_root, target_root)
    result = CodeSync(name, source_root)
    for rel, data in contents.items():
        if rel.endswith(".py") and (problem := compile_problem(data, rel)) is not None:
            result.problems.append(CodeProblem(rel, problem[0], problem[1]))
    if result.problems:
        return result  # nothing written: the stack keeps the last good copy
    target_root.mkdir(parents=True, exist_ok=True)
    for rel in changed:
        write_atomic(target_root / rel, contents[rel])
    for rel in removed:
        (target_root / rel).unlink()
        parent = (target_root / rel).parent
        while parent != target_root:
            with contextlib.suppress(OSError):
                pycache = parent / "__pycache__"
                if pycache.is_dir() and not any(pycache.iterdir()):
                    pycache.rmdir()
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when empty
            parent = parent.parent
    result.changed, result.removed = changed, removed
    return result


def _roots(project: Project, name: str) -> tuple[Path, Path]:
    """(the project's folder, its deployed copy in the state folder)."""
    source = project.path(getattr(project.spec, name).path)
    return source, project.state.plugins_dir if name == "plugins" else project.state.include_dir


def deploy_plugins(project: Project) -> CodeSync:
    return sync_folder("plugins", *_roots(project, "plugins"))


def deploy_include(project: Project) -> CodeSync:
    return sync_folder("include", *_roots(project, "include"))


def pending_plugins(project: Project) -> list[str]:
    """Plugin files that differ between the project and what the stack loaded (new, changed, gone)."""
    _contents, changed, removed = _plan(*_roots(project, "plugins"))
    return sorted(changed + removed)


def require_clean(result: CodeSync, project: Project) -> CodeSync:
    """Raise BadInput (exit 2) naming file:line when a folder was refused."""
    if not result.problems:
        return result
    section = getattr(project.spec, result.name).path
    lines = [f"{section}/{p.file}:{p.line}: {p.message}" for p in result.problems]
    raise BadInput(
        f"{len(result.problems)} file(s) in {section}/ do not compile; nothing in it was deployed",
        details="\n".join(lines),
        hint=f"Fix the lines above; the stack keeps running the last good copy of {section}/.",
    )


def include_imports(tree: ast.AST) -> set[str]:
    """Modules of the include package a DAG file imports (`include.x` -> 'x'; bare 'include' -> '')."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == INCLUDE_PACKAGE:
                    found.add(parts[1] if len(parts) > 1 else "")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] == INCLUDE_PACKAGE:
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(alias.name for alias in node.names)
    return found


def changed_modules(names: list[str]) -> set[str]:
    """Top-level include modules touched by changed files: 'helpers.py' -> 'helpers'."""
    return {Path(name).parts[0].removesuffix(".py") for name in names}


@dataclass(frozen=True)
class CodeMount:
    """A project folder and the place of the plan where the stack shows it to Airflow."""

    source: Path  # the project's folder (not the deployed copy)
    target: Place


def stack_view(project: Project) -> tuple[list[CodeMount], dict[str, Value]]:
    """How the stack sees plugins and include code: mounts and environment, for anything that
    parses DAGs outside the stack (`tinyctl parse`) and must see exactly what the stack sees.
    The environment is the plan's own settings for them (places, resolved by the target)."""
    mounts = [
        CodeMount(project.path(project.spec.plugins.path), Place.PLUGINS),
        CodeMount(project.path(project.spec.include.path), Place.INCLUDE),
    ]
    wanted = ("AIRFLOW__CORE__PLUGINS_FOLDER", "PYTHONPATH")
    env = {s.env_name: s.value for s in project.plan.settings if s.env_name in wanted}
    return mounts, env
