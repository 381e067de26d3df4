"""`tinyctl pytest`: the project's own tests (DAG unit and integrity tests in `tests/`) run with
pytest in a throw-away container of the stack's Airflow image: the same Airflow, Python and
requirements as the DAGs get, and no stack needed.

The project folder is mounted read-only as the plan's project place (the working folder), the DAG
folder also as its DAG folder (so file locations read as in the stack), with no network; pytest
writes no cache and Python no bytecode into the project.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tinyctl.dags.code import stack_view
from tinyctl.dags.parse import oneoff_config
from tinyctl.errors import BadInput
from tinyctl.plan.values import PathList, Place, PlaceRef, Value
from tinyctl.targets.base import Mount

if TYPE_CHECKING:
    from tinyctl.project import Project

NO_PYTEST = 97  # the wrapper's exit code when the image has no pytest

# pytest's exit codes -> tinyctl's (0 ok, 1 work failed, 2 bad input, 130 interrupted).
EXIT_CODES = {0: 0, 1: 1, 2: 130, 3: 1, 4: 2, 5: 1}


def pytest_argv(args: list[str]) -> list[str]:
    """The container's command: fail fast (97) without pytest, else pytest on tests/ by default
    (`testpaths` only applies when ARGS name no file or folder, as in pytest itself)."""
    script = 'python -c "import pytest" 2>/dev/null || exit 97; exec python -m pytest "$@"'
    return ["sh", "-c", script, "pytest", "-p", "no:cacheprovider", "-o", "testpaths=tests", *args]


def run_pytest(
    project: Project, args: list[str], *, on_step: Callable[[str], None] | None = None
) -> int:
    # lazy: Jinja only when a build may come
    from tinyctl.render.engine import render_for_build

    root = project.root.resolve()
    tests = root / "tests"
    if not tests.is_dir():
        raise BadInput(
            f"{tests} does not exist",
            hint="Put pytest tests in tests/ (`tinyctl init` scaffolds tests/test_dag_integrity.py).",
        )
    dags = project.path(project.spec.dags.path).resolve()
    mounts = [Mount(root, Place.PROJECT)]
    python_path: list[Place] = []
    if dags.is_dir():
        mounts.append(Mount(dags, Place.DAGS))
        python_path.append(Place.DAGS)
    # Plugins and include code exactly where the stack (and `tinyctl parse`) has them: the
    # plugins folder on sys.path, include/ importable as the package `include`.
    code, code_env = stack_view(project)
    for mount in code:
        if mount.source.is_dir():
            mounts.append(Mount(mount.source.resolve(), mount.target))
    if code[0].source.is_dir():
        python_path.append(code[0].target)
    python_path.append(Place.LIB)  # the stack's PYTHONPATH: include/ as the package `include`
    env: dict[str, Value] = {
        **oneoff_config(project.plan),
        **code_env,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": PlaceRef(Place.DAGS),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": PathList(tuple(python_path)),
        "TINYCTL_DAGS_FOLDER": PlaceRef(Place.DAGS),
    }
    render_for_build(project)
    result = project.runtime.run_oneoff(
        pytest_argv(args),
        mounts=mounts,
        env=env,
        workdir=PlaceRef(Place.PROJECT),
        interactive=True,
        on_step=on_step,
    )
    if result.exit_code == NO_PYTEST:
        raise BadInput(
            "pytest is not installed in the project's Airflow image",
            hint="Add `pytest` to airflow.requirements in tinyctl.yaml (the official "
            "apache/airflow image has none; images.source: debian ships it), then run again.",
        )
    return EXIT_CODES.get(result.exit_code, 1)
