"""`airflow.triggerer`: on, off, or auto (a static look at the project's code for deferral)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyctl.errors import SpecError
from tinyctl.spec import load_spec
from tinyctl.spec.triggerer import choose_triggerer, python_deferral


def _set(project: Path, value: str) -> Path:
    spec = project / "tinyctl.yaml"
    spec.write_text(
        spec.read_text().replace("  executor:", f"  triggerer: {value}\n  executor:", 1)
    )
    return spec


@pytest.mark.parametrize(("written", "enabled"), [("on", True), ("off", False), ('"off"', False)])
def test_on_and_off_are_taken_as_written_even_bare(project: Path, written: str, enabled: bool):
    choice = choose_triggerer(load_spec(_set(project, written)))
    assert choice.enabled is enabled and choice.reason == f"airflow.triggerer: {choice.word}"


def test_the_default_is_on(project: Path) -> None:
    assert choose_triggerer(load_spec(project / "tinyctl.yaml")).enabled is True


def test_a_bad_value_is_an_error_at_its_line(project: Path) -> None:
    spec = _set(project, "sometimes")
    line = next(i for i, t in enumerate(spec.read_text().splitlines(), 1) if "triggerer:" in t)
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    problem = next(p for p in caught.value.problems if p.path == "airflow.triggerer")
    assert problem.line == line
    assert "one of 'auto', 'on' or 'off'" in problem.message and "sometimes" in problem.message


def test_auto_is_off_for_the_sample_project(project: Path) -> None:
    choice = choose_triggerer(load_spec(_set(project, "auto")))
    assert choice.enabled is False
    assert choice.reason.startswith("auto: no DAG, plugin or include file")


@pytest.mark.parametrize(
    ("folder", "name", "code", "line", "what"),
    [
        (
            "dags",
            "wait.py",
            "t = S3KeySensor(task_id='w', deferrable=True)\n",
            1,
            "deferrable=True",
        ),
        (
            "dags",
            "wait.py",
            "t = DateTimeSensorAsync(task_id='w', target_time=x)\n",
            1,
            "DateTimeSensorAsync",
        ),
        (
            "plugins",
            "op.py",
            "class Op:\n    def execute(self, c):\n        self.defer(trigger=t)\n",
            3,
            ".defer(...)",
        ),
        ("include", "trig.py", "from airflow.triggers.base import BaseTrigger\n", 1, "BaseTrigger"),
        ("dags", "flag.py", "DEFER = True\nop = X(deferrable=DEFER)\n", 2, "deferrable=DEFER"),
        ("dags", "events.py", "w = AssetWatcher(name='w', trigger=t)\n", 1, "AssetWatcher"),
        ("dags", "factory.yaml", "tasks:\n  wait:\n    deferrable: true\n", 3, "deferrable: true"),
    ],
)
def test_auto_is_on_where_the_code_defers_and_says_where(
    project: Path, folder: str, name: str, code: str, line: int, what: str
) -> None:
    (project / folder / name).write_text(code)
    choice = choose_triggerer(load_spec(_set(project, "auto")))
    assert choice.enabled is True
    assert choice.reason == f"auto: {folder}/{name}:{line} uses {what}"


def test_comments_strings_and_false_do_not_count(project: Path) -> None:
    (project / "dags" / "quiet.py").write_text(
        '"""This DAG could use deferrable=True, or a DateTimeSensorAsync."""\n'
        "# self.defer(trigger=...) one day\n"
        "op = X(deferrable=False)\n"
        "if deferrable == True:\n    pass\n"
    )
    assert choose_triggerer(load_spec(_set(project, "auto"))).enabled is False


def test_airflows_default_deferrable_setting_turns_it_on(project: Path) -> None:
    spec = _set(project, "auto")
    spec.write_text(
        spec.read_text().replace(
            "  config:\n", "  config:\n    operators.default_deferrable: true\n", 1
        )
    )
    choice = choose_triggerer(load_spec(spec))
    assert choice.enabled and "operators.default_deferrable" in choice.reason


def test_a_python_file_that_does_not_tokenize_is_read_as_text(project: Path) -> None:
    (project / "dags" / "broken.py").write_text("op = X(\n    deferrable=True,\n")
    choice = choose_triggerer(load_spec(_set(project, "auto")))
    assert choice.reason == "auto: dags/broken.py:2 uses deferrable=True"
    assert python_deferral("op = TimeDeltaSensorAsync(task_id='t')\n") == (
        1,
        "TimeDeltaSensorAsync",
    )
