"""The house as a checked contract (issue 19): the import-linter contracts of pyproject.toml
hold, and every import inside a function says why it is not at the module's top."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinyctl"


def test_the_layers_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-logo", "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _function_imports(tree: ast.AST) -> list[ast.stmt]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [
                sub for sub in ast.walk(node) if isinstance(sub, (ast.Import, ast.ImportFrom))
            ]
    return found


def _explained(lines: list[str], number: int) -> bool:
    """A `# lazy: ...` comment on the import's line, or above its block of imports."""
    if "# lazy" in lines[number - 1]:
        return True
    above = number - 2
    while above >= 0 and lines[above].strip().startswith(("from ", "import ", ")", "    ")):
        if "# lazy" in lines[above]:
            return True
        if not lines[above].strip().startswith(("from ", "import ")):
            break
        above -= 1
    return above >= 0 and lines[above].strip().startswith("# lazy")


def test_every_import_inside_a_function_says_why_it_is_lazy() -> None:
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in _function_imports(ast.parse(text)):
            if not _explained(lines, node.lineno):
                unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not unexplained, (
        "imports inside functions without a `# lazy: why` comment (move them to the top, or "
        f"say what start-up cost they avoid): {unexplained}"
    )
