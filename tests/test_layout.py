"""Tests mirror the package: tests/<path>/test_<module>[_topic].py tests tinyctl/<path>/<module>."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).parent
PACKAGE = TESTS.parent / "tinyctl"
OWN = {"test_layout.py", "test_resources.py", "test_architecture.py"}
# Suites about the whole tool rather than one module: faults/ (issue 22: killed commands,
# dying services, full disks, the OOM killer) drives every command through the CLI.
ACROSS = {"faults"}


def _modules(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.py")} | {
        p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }


def test_every_test_file_names_a_module_of_the_package() -> None:
    strays = []
    for test in sorted(TESTS.rglob("test_*.py")):
        relative = test.relative_to(TESTS)
        if relative.name in OWN and relative.parent == Path("."):
            continue
        if relative.parts[0] in ACROSS:
            continue
        folder = PACKAGE / relative.parent
        name = relative.stem.removeprefix("test_")
        if not folder.is_dir() or not any(
            name == m or name.startswith(m + "_") for m in _modules(folder)
        ):
            strays.append(str(relative))
    assert not strays, f"test files that mirror no module of tinyctl/: {strays}"
