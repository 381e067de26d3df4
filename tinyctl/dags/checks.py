"""Local checks of DAG files before they are deployed: they compile, and their imports resolve.

"Resolves" is judged statically against the top-level modules importable in the stack's
Airflow image (listed once per image and cached) plus the modules of the DAG folder itself,
so an obviously missing module is reported with its file and line before anything is copied.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tinyctl.spec.checks import dag_ids_in

# Run inside the Airflow image: every top-level module name it can import.
LIST_MODULES = (
    "import json, pkgutil, sys; "
    "print(json.dumps(sorted({m.name for m in pkgutil.iter_modules()} | set(sys.builtin_module_names)"
    " | set(getattr(sys, 'stdlib_module_names', ())))))"
)


@dataclass(frozen=True)
class LocalProblem:
    kind: str  # "syntax_error" or "missing_module"
    line: int
    message: str


@dataclass(frozen=True)
class LocalCheck:
    problem: LocalProblem | None
    dag_ids: tuple[str, ...]  # statically visible DAG ids (may miss dynamic ones)
    may_define_dags: bool  # passes Airflow's safe-mode heuristic (`might_contain_dag`)
    note: str | None = None  # a problem in a file Airflow never imports (shown, not failed)


def _top_level_imports(tree: ast.Module) -> Iterable[tuple[str, int]]:
    """(top-level package, line) of the module's unconditional imports."""
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno
        # Imports under `if` (version checks, TYPE_CHECKING) or `try` are conditional: the author
        # handles the absence, so they are never "obviously" failing.


def local_modules(dag_root: Path) -> set[str]:
    """Modules importable from the DAG folder itself (Airflow puts it on sys.path)."""
    names = set()
    if dag_root.is_dir():
        for child in dag_root.iterdir():
            if child.suffix == ".py":
                names.add(child.stem)
            elif (child.is_dir() and (child / "__init__.py").exists()) or (
                child.is_dir() and any(child.glob("*.py"))
            ):
                names.add(child.name)
    return names


def might_contain_dag(source: bytes) -> bool:
    """Airflow 3.3's safe-mode heuristic (airflow.utils.file.might_contain_dag_via_default_heuristic):
    the DAG processor only parses a file whose lower-cased bytes contain "airflow" and either
    "dag" or "asset"; every other file is skipped, never imported, never an import error."""
    content = source.lower()
    return b"airflow" in content and (b"dag" in content or b"asset" in content)


def check_source(source: bytes, filename: str, known_modules: set[str] | None) -> LocalCheck:
    may_define = might_contain_dag(source)
    try:
        tree = ast.parse(source, filename=filename)
        compile(tree, filename, "exec")
    except SyntaxError as error:
        message = f"{error.msg}"
        if error.text:
            message += f": {error.text.strip()}"
        return LocalCheck(LocalProblem("syntax_error", error.lineno or 0, message), (), may_define)
    except ValueError as error:  # e.g. null bytes
        return LocalCheck(LocalProblem("syntax_error", 0, str(error)), (), may_define)
    ids = tuple(dict.fromkeys(dag_ids_in(tree)))
    if known_modules is not None:
        for module, line in _top_level_imports(tree):
            if (
                module not in known_modules
                and module not in sys.builtin_module_names
                and module != "__future__"
            ):
                return LocalCheck(
                    LocalProblem(
                        "missing_module",
                        line,
                        f"No module named {module!r} in the stack's Airflow image",
                    ),
                    ids,
                    may_define,
                )
    return LocalCheck(None, ids, may_define)
