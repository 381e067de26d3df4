"""Extending a live stack: plugins, include code, a requirements file and a Debian package.

One stack (images.source debian) for every test here: its Airflow image is built with
`jq` and a requirements file, its plugin registers Airflow's own example classes and a
timetable of its own, and its DAGs use them. The tests run in file order and build on
each other's state, like a user working on a project.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Stack, new_stack, ok

pytestmark = [pytest.mark.engine, pytest.mark.stack]

PLUGIN = '''\
"""Registers Airflow's example classes and a timetable of this project."""

from datetime import timedelta

from pendulum import UTC, DateTime, Time

from airflow.example_dags.plugins.decreasing_priority_weight_strategy import (
    DecreasingPriorityStrategy,
)
from airflow.example_dags.plugins.workday import AfterWorkdayTimetable
from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.base import DataInterval, Timetable


class PreviousDayTimetable(Timetable):
    """Runs only when triggered; the data interval is the day before the run."""

    description = "the day before each triggered run"

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        end = DateTime.combine(run_after.date(), Time.min).replace(tzinfo=UTC)
        return DataInterval(start=end - timedelta(days=1), end=end)

    def next_dagrun_info(self, *, last_automated_data_interval, restriction):
        return None


class ProjectPlugin(AirflowPlugin):
    name = "project_plugin"
    timetables = [AfterWorkdayTimetable, PreviousDayTimetable]
    priority_weight_strategies = [DecreasingPriorityStrategy]
'''

TIMETABLE_DAG = """\
import pendulum
from airflow.sdk import DAG, task

from project_plugin import PreviousDayTimetable

with DAG(
    "ext_timetable",
    schedule=PreviousDayTimetable(),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):

    @task
    def today():
        return "ran"

    today()
"""

INCLUDE_DAG = """\
import pendulum
from airflow.sdk import DAG, task

from include.greetings import greeting

with DAG("ext_include", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):

    @task
    def greet():
        import cowsay  # from the project's requirements file

        text = greeting("tinyctl")
        assert text.startswith("hello"), text
        return cowsay.get_output_string("cow", text)

    greet()
"""


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _add_airflow_keys(text: str) -> str:
    return text.replace(
        "  config:\n", "  requirements: requirements.txt\n  system_packages: [jq]\n  config:\n", 1
    )


@pytest.fixture(scope="module")
def ext_stack(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = new_stack(tmp_path_factory.mktemp("ext"), "ext", edit=_add_airflow_keys)
    _write(
        stack.root,
        {
            "requirements.txt": "# what the DAGs import\ncowsay==6.0\n",
            "plugins/project_plugin.py": PLUGIN,
            "include/greetings.py": 'def greeting(name):\n    return f"hello {name}"\n',
            "dags/ext_timetable.py": TIMETABLE_DAG,
            "dags/ext_include.py": INCLUDE_DAG,
        },
    )
    try:
        stack.first_up = _up(stack)  # type: ignore[attr-defined]
        yield stack
    finally:
        stack.run("down", "--volumes", "--yes")


def _up(stack: Stack) -> dict:
    """`up --json`, once more when the first one only lost a race with a loaded machine.

    On a machine shared by many stacks a (re)started component can fail its healthchecks
    while it is still importing (the compose healthchecks have no start period), or the API
    can time out; Docker keeps checking and a second `up` waits for it. Build failures, bad
    input and any other failure still fail the tests.
    """
    first = stack.run("up", "--json")
    if first.returncode in (1, 3) and ("unhealthy" in first.stderr or "timed out" in first.stderr):
        first = stack.run("up", "--json")
    return json.loads(ok(first).stdout)


def _image_id(tag: str) -> str:
    import subprocess

    return subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _exec(stack: Stack, *argv: str) -> tuple[int, str]:
    return stack.project().runtime.exec("scheduler", list(argv))


def _run(stack: Stack, dag_id: str, timeout: float = 240) -> str:
    """Trigger a run and wait: 'success', or the state with each failed task's log tail."""
    with stack.client() as client:
        client.set_paused(dag_id, False)
        run_id = f"t-{uuid.uuid4().hex[:8]}"
        client.trigger(dag_id, run_id=run_id)
        deadline = time.monotonic() + timeout
        state = "timeout"
        while time.monotonic() < deadline:
            state = client.dag_run(dag_id, run_id).state
            if state in ("success", "failed"):
                break
            time.sleep(1)
        if state == "success":
            return state
        logs = [
            f"{ti.task_id}: {ti.state}\n"
            + "\n".join(
                client.task_log(dag_id, run_id, ti.task_id, ti.try_number).splitlines()[-15:]
            )
            for ti in client.task_instances(dag_id, run_id)
            if ti.state not in ("success", "skipped") and ti.try_number
        ]
        return f"{state}\n" + "\n".join(logs)


def _files(report: dict) -> dict[str, dict]:
    return {f"{f['folder']}/{f['file']}": f for f in report["files"]}


def test_the_image_has_the_system_package_and_the_requirements(ext_stack: Stack) -> None:
    tag = f"tinyctl-{ext_stack.name}/airflow:3.3.2-debian"
    compose = (ext_stack.root / ".tinyctl" / "compose.yaml").read_text()
    assert f'image: "{tag}"' in compose
    code, text = _exec(ext_stack, "jq", "--version")
    assert code == 0 and text.startswith("jq-"), text
    code, text = _exec(ext_stack, "python", "-c", "import cowsay; print(cowsay.__name__)")
    assert code == 0, text


def test_a_custom_timetable_from_a_plugin_and_a_helper_from_include(ext_stack: Stack) -> None:
    deployed = _files(ext_stack.first_up["deploy"])  # type: ignore[attr-defined]
    assert deployed["dags/ext_timetable.py"]["status"] == "live", deployed
    assert deployed["dags/ext_include.py"]["status"] == "live", deployed
    # `up` deployed include/ before the components started (plugins may import it).
    assert (ext_stack.root / ".tinyctl" / "include" / "greetings.py").is_file()
    assert _run(ext_stack, "ext_timetable") == "success"
    assert _run(ext_stack, "ext_include") == "success"


def test_airflows_own_examples_that_need_a_plugin_deploy_and_run(ext_stack: Stack) -> None:
    for name in ("example_custom_weight", "example_workday_timetable"):
        code, text = _exec(
            ext_stack,
            "python",
            "-c",
            "import pathlib, airflow.example_dags as e; "
            f"print(pathlib.Path(e.__file__).with_name('{name}.py').read_text())",
        )
        assert code == 0, text
        (ext_stack.root / "dags" / f"{name}.py").write_text(text)
    report = json.loads(ok(ext_stack.run("deploy-dags", "--json")).stdout)
    files = _files(report)
    assert files["dags/example_custom_weight.py"]["status"] == "live", files
    assert files["dags/example_workday_timetable.py"]["status"] == "live", files
    assert _run(ext_stack, "example_custom_weight") == "success"
    assert _run(ext_stack, "example_workday_timetable") == "success"


def test_changed_include_code_is_deployed_and_its_dags_reparsed(ext_stack: Stack) -> None:
    (ext_stack.root / "include" / "greetings.py").write_text(
        'def greeting(name):\n    return f"hello again, {name}"\n'
    )
    files = _files(json.loads(ok(ext_stack.run("deploy-dags", "--json")).stdout))
    assert files["include/greetings.py"]["status"] == "module"
    assert files["dags/ext_include.py"]["status"] == "live"
    assert files["dags/ext_timetable.py"]["status"] == "unchanged"
    assert _run(ext_stack, "ext_include") == "success"


def test_a_changed_plugin_waits_for_restart_and_up_loads_it(ext_stack: Stack) -> None:
    plugin = ext_stack.root / "plugins" / "project_plugin.py"
    plugin.write_text(PLUGIN.replace("the day before each triggered run", "yesterday, daily"))
    report = json.loads(ok(ext_stack.run("deploy-dags", "--json")).stdout)
    assert report["plugins"] == {"changed": ["project_plugin.py"], "restart_needed": True}
    text = ok(ext_stack.run("deploy-dags")).stdout
    assert "tinyctl restart" in text

    up = _up(ext_stack)
    assert up["plugins"] in (
        {"deployed": ["project_plugin.py"], "restarted": True},
        {"deployed": [], "restarted": False},  # the second up of _up: the first restarted
    )
    deployed = ext_stack.root / ".tinyctl" / "plugins" / "project_plugin.py"
    assert deployed.read_text() == plugin.read_text()
    report = json.loads(ok(ext_stack.run("deploy-dags", "--json")).stdout)
    assert report["plugins"]["restart_needed"] is False
    assert _run(ext_stack, "ext_timetable") == "success"


def test_a_broken_plugin_is_refused_with_its_line_and_the_stack_keeps_the_old_one(
    ext_stack: Stack,
) -> None:
    plugin = ext_stack.root / "plugins" / "project_plugin.py"
    good = plugin.read_text()
    plugin.write_text(good + "\ndef broken(:\n")
    result = ext_stack.run("restart")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "project_plugin.py:" in " ".join(result.stderr.split())
    deployed = ext_stack.root / ".tinyctl" / "plugins" / "project_plugin.py"
    assert deployed.read_text() == good
    plugin.write_text(good)


def test_a_requirements_change_rebuilds_once(ext_stack: Stack) -> None:
    tag = f"tinyctl-{ext_stack.name}/airflow:3.3.2-debian"
    before = _image_id(tag)
    (ext_stack.root / "requirements.txt").write_text("cowsay==6.0\npyfiglet==1.0.2\n")
    _up(ext_stack)
    rebuilt = _image_id(tag)
    assert rebuilt != before, "a changed requirements file rebuilds the image"
    code, text = _exec(ext_stack, "python", "-c", "import pyfiglet")
    assert code == 0, text
    second = json.loads(ok(ext_stack.run("up", "--json")).stdout)
    assert second["built"] == [] and second["already_up"] is True
    assert _image_id(tag) == rebuilt


@pytest.mark.engine
def test_the_extension_recipe_installs_packages_on_any_airflow_image(
    engine: None, tmp_path: Path
) -> None:
    """`airflow.image` (or images.source official) builds with docker/airflow-extend."""
    import subprocess

    base = new_stack(tmp_path, "extbase")
    ok(base.run("build"))  # tinyctl/airflow:3.3.2-debian, the image the extension starts from
    stack = new_stack(
        tmp_path,
        "extimg",
        edit=lambda t: t.replace(
            "  config:\n",
            "  image: tinyctl/airflow:3.3.2-debian\n  system_packages: packages.txt\n  config:\n",
            1,
        ),
    )
    (stack.root / "packages.txt").write_text("# a JSON processor\njq\n")
    built = json.loads(ok(stack.run("build", "--json")).stdout)
    tag = f"tinyctl-{stack.name}/airflow:3.3.2"
    assert any(o["image"] == tag and o["built"] for o in built), built
    version = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "jq", tag, "--version"],
        capture_output=True,
        text=True,
    )
    subprocess.run(["docker", "image", "rm", tag], capture_output=True)
    assert version.returncode == 0 and version.stdout.startswith("jq-"), version
