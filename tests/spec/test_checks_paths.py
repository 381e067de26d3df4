"""Path fields naming something of the wrong kind, and a state folder overlapping the project's
inputs (issue 25): `validate`, `render` and `up` refuse them with exit 2 at the spec's line,
saying what is there now and what tinyctl needs there, before anything is written."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import tinyctl
from typer.testing import CliRunner

from tinyctl.cli import app, load_commands

load_commands()  # the whole app, as `tinyctl --help` sees it

runner = CliRunner()
SPEC = "tinyctl.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    old: str  # text of the scaffold's spec replaced ...
    new: str  # ... by this; the problem is expected on the last line of `new`
    where: str  # the key the problem names
    says: str  # the message (whitespace-insensitive)
    setup: Callable[[Path], None] | None = None


def state(value: str) -> tuple[str, str]:
    return "  name: demo\n", f"  name: demo\n  state_dir: {value}\n"


def _fifo(root: Path) -> None:
    os.mkfifo(root / "tests" / "fixtures" / "pipe.csv")


def _folder_named_csv(root: Path) -> None:
    (root / "seeds" / "more.csv").mkdir()


STATE_NEEDS = (
    "tinyctl needs a folder of its own there, apart from the project's files, for rendered "
    "files and secrets: name another folder (default .tinyctl)"
)
CASES = [
    # project.state_dir: a file of the project ...
    Case("state-spec", *state(SPEC), "project.state_dir",
         f"state folder 'tinyctl.yaml' is the spec file itself; {STATE_NEEDS}"),
    Case("state-dag-file", *state("dags/staging_orders.py"), "project.state_dir",
         "state folder 'dags/staging_orders.py' is a file in the DAG folder 'dags' (dags.path)"),
    Case("state-seed", *state("seeds/customers.csv"), "project.state_dir",
         "state folder 'seeds/customers.csv' is the CSV file of seed 'customers' (seeds[1].csv)"),
    Case("state-include-file", *state("include/README.md"), "project.state_dir",
         "state folder 'include/README.md' is a file in the include folder 'include' (include.path)"),
    Case("state-under-a-file", *state("tinyctl.yaml/state"), "project.state_dir",
         "state folder 'tinyctl.yaml/state' cannot be made or found: 'tinyctl.yaml' is the spec "
         "file itself, and tinyctl needs a folder at 'tinyctl.yaml'"),
    # ... or one of its folders, a folder inside one, a folder holding an input
    Case("state-dags", *state("dags"), "project.state_dir",
         f"state folder 'dags' is the DAG folder (dags.path); {STATE_NEEDS}"),
    Case("state-plugins", *state("plugins"), "project.state_dir",
         "state folder 'plugins' is the plugins folder (plugins.path)"),
    Case("state-include", *state("include"), "project.state_dir",
         "state folder 'include' is the include folder (include.path)"),
    Case("state-data", *state("data"), "project.state_dir",
         "state folder 'data' is the data folder (data.path)"),
    Case("state-in-data", *state("data/landing"), "project.state_dir",
         "state folder 'data/landing' is inside the data folder 'data' (data.path)"),
    Case("state-seeds", *state("seeds"), "project.state_dir",
         "state folder 'seeds' is the seeds folder (the folder of seeds[0].sql)"),
    Case("state-in-seeds", *state("seeds/state"), "project.state_dir",
         "state folder 'seeds/state' is inside the seeds folder 'seeds' (the folder of seeds[0].sql)"),
    Case("state-in-dags-via-dots", *state(".tinyctl/../dags/state"), "project.state_dir",
         "state folder '.tinyctl/../dags/state' is inside the DAG folder 'dags' (dags.path)"),
    Case("state-holds-fixture", *state("tests/fixtures"), "project.state_dir",
         "state folder 'tests/fixtures' holds test 'orders_2026_11_01''s fixture "
         "'tests/fixtures/landing/orders_2026-11-01.csv' (tests[0].files[0].from)"),
    # the folders the project reads or mounts: a file there, or the state folder inside them
    Case("dags-spec", "  path: dags\n", "  path: tinyctl.yaml\n", "dags.path",
         "DAG folder 'tinyctl.yaml' is the spec file itself; tinyctl needs a folder of DAG files there"),
    Case("dags-dag-file", "  path: dags\n", "  path: dags/staging_orders.py\n", "dags.path",
         "DAG folder 'dags/staging_orders.py' is a file; tinyctl needs a folder of DAG files there"),
    Case("dags-holds-state", "  path: dags\n", "  path: .\n", "dags.path",
         "'.' (the DAG folder) holds the state folder '.tinyctl' (project.state_dir), which tinyctl "
         "owns and rewrites: keep the two apart (move it, or set project.state_dir to another folder)"),
    Case("plugins-seed", "  path: plugins ", "  path: seeds/fx_rates.sql ", "plugins.path",
         "plugins folder 'seeds/fx_rates.sql' is an SQL file of seed 'fx_rates' (seeds[0].sql); "
         "tinyctl needs a folder of Airflow plugins there"),
    Case("include-spec", "  path: include ", "  path: tinyctl.yaml ", "include.path",
         "include folder 'tinyctl.yaml' is the spec file itself; "
         "tinyctl needs a folder of code shared by DAGs and plugins there"),
    Case("data-dag-file", "  path: data ", "  path: dags/staging_orders.py ", "data.path",
         "data folder 'dags/staging_orders.py' is a file in the DAG folder 'dags' (dags.path); "
         "tinyctl needs a folder there (mounted into Airflow at /opt/airflow/data)"),
    Case("data-holds-state", "  path: data ", "  path: . ", "data.path",
         "'.' (the data folder) holds the state folder '.tinyctl' (project.state_dir)"),
    # the files it reads: a folder there, or a file on the way
    Case("seed-sql-folder", "sql: seeds/fx_rates.sql", "sql: dags", "seeds[0].sql",
         "file 'dags' is the DAG folder (dags.path); tinyctl needs an SQL file there"),
    Case("seed-csv-folder", "csv: seeds/customers.csv", "csv: seeds/more.csv", "seeds[1].csv",
         "file 'seeds/more.csv' is a folder in the seeds folder 'seeds' (the folder of "
         "seeds[0].sql); tinyctl needs a CSV file there", _folder_named_csv),
    Case("seed-under-a-file", "csv: seeds/customers.csv", "csv: seeds/fx_rates.sql/x.csv",
         "seeds[1].csv",
         "file 'seeds/fx_rates.sql/x.csv' cannot be made or found: 'seeds/fx_rates.sql' is an SQL "
         "file of seed 'fx_rates' (seeds[0].sql), and tinyctl needs a folder at 'seeds/fx_rates.sql'"),
    Case("fixture-pipe", "from: tests/fixtures/landing/orders_2026-11-01.csv",
         "from: tests/fixtures/pipe.csv", "tests[0].files[0].from",
         "file 'tests/fixtures/pipe.csv' is a named pipe; "
         "tinyctl needs a file or a folder there (copied into the data folder)", _fifo),
    Case("fixture-to-a-file", "to: landing", "to: landing/orders_2026-11-01.csv",
         "tests[0].files[0].to",
         "fixture folder 'data/landing/orders_2026-11-01.csv' is a file in the data folder 'data' "
         "(data.path); tinyctl needs a folder there (inside the data folder, the fixture is copied into it)"),
    Case("requirements-folder", "  # requirements: requirements.txt ", "  requirements: dags ",
         "airflow.requirements", "'dags' is a folder; name a requirements file"),
    Case("ca-bundle-folder", "images:\n", "images:\n  ca_bundle: dags\n", "images.ca_bundle",
         "CA bundle 'dags' is the DAG folder (dags.path); tinyctl needs a file of PEM certificates there"),
    Case("env-file-folder", "runtime: auto", "runtime: auto\nenv_file: dags", "env_file",
         "env file 'dags' is the DAG folder (dags.path); tinyctl needs a dotenv file (KEY=value lines) there"),
    Case("env-file-spec", "runtime: auto", "runtime: auto\nenv_file: tinyctl.yaml", "env_file",
         "env file 'tinyctl.yaml' is the spec itself; tinyctl needs a dotenv file (KEY=value lines) there"),
]  # fmt: skip


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root -> (size, mtime_ns): what "nothing written" compares."""
    return {
        str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def _apply(root: Path, case: Case) -> int:
    """Edit the spec as the case says; the line the problem must name."""
    if case.setup:
        case.setup(root)
    spec = root / SPEC
    text = spec.read_text()
    assert text.count(case.old) == 1, case.old
    edited = text.replace(case.old, case.new)
    spec.write_text(edited)
    marker = case.new.strip().splitlines()[-1]  # the line the edit adds or changes
    return edited.count("\n", 0, edited.index(marker, edited.index(case.new))) + 1


def _flat(output: str) -> str:
    """The panel's text on one line: borders and wrapping removed."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def invoke(root: Path, *args: str):
    old = Path.cwd()
    os.chdir(root)
    try:  # catch_exceptions=False: a traceback fails the test instead of being captured
        return runner.invoke(app, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def assert_refused(output: str, code: int, line: int, case: Case) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    flat = _flat(output)
    assert f"{SPEC}:{line}:" in flat and case.where in flat, output
    assert case.says in flat, output


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_and_render_refuse_it_at_its_line_writing_nothing(
    project: Path, case: Case
) -> None:
    line = _apply(project, case)
    before = _tree(project)
    for command in ("validate", "render"):
        result = invoke(project, command)
        assert_refused(result.output, result.exit_code, line, case)
        assert _tree(project) == before, f"{command} wrote a file"
    assert not (project / ".tinyctl").exists()


UP_CASES = [c for c in CASES if c.id in ("state-spec", "state-data", "dags-holds-state")]


@pytest.mark.parametrize("case", UP_CASES, ids=[c.id for c in UP_CASES])
def test_up_stops_at_the_spec_before_touching_an_engine(project: Path, case: Case) -> None:
    """With no engine reachable, `up` would exit 3: exit 2 proves the spec check came first."""
    line = _apply(project, case)
    before = _tree(project)
    env = {"TINYCTL_RUNTIME": "compose", "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    done = tinyctl("up", cwd=project, env=env, timeout=120)
    assert_refused(done.stdout + done.stderr, done.returncode, line, case)
    assert "Docker" not in done.stdout + done.stderr
    assert _tree(project) == before


def test_the_engine_check_is_what_up_would_meet_otherwise(project: Path) -> None:
    """The control for the test above: the same environment with a valid spec exits 3."""
    env = {"TINYCTL_RUNTIME": "compose", "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    done = tinyctl("up", cwd=project, env=env, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr


def test_an_input_inside_the_rendered_state_folder_is_refused_and_the_state_kept(
    project: Path,
) -> None:
    """After a render, `.tinyctl/dags` exists (the deployed copy): pointing dags.path at it is
    refused at dags.path (the state folder is the default, not written), the state unchanged."""
    assert invoke(project, "render").exit_code == 0
    case = Case("dags-in-state", "  path: dags\n", "  path: .tinyctl/dags\n", "dags.path",
                "'.tinyctl/dags' (the DAG folder) is inside the state folder '.tinyctl' "
                "(project.state_dir), which tinyctl owns and rewrites")  # fmt: skip
    line = _apply(project, case)
    before = _tree(project)
    for command in ("validate", "render"):
        result = invoke(project, command)
        assert_refused(result.output, result.exit_code, line, case)
        assert _tree(project) == before, f"{command} changed a file"


def test_a_written_state_folder_is_blamed_for_holding_an_input(project: Path) -> None:
    """When the spec writes state_dir, its line is the one named, not the input's."""
    (project / "state").mkdir()
    (project / "state" / "orders.csv").write_text("order_id\n1\n")
    spec = project / SPEC
    text = spec.read_text().replace("  name: demo\n", "  name: demo\n  state_dir: state\n")
    spec.write_text(
        text.replace("from: tests/fixtures/landing/orders_2026-11-01.csv", "from: state/orders.csv")
    )
    result = invoke(project, "validate")
    assert result.exit_code == 2
    flat = _flat(result.output)
    assert (
        "tinyctl.yaml:8:14 project.state_dir state folder 'state' holds test 'orders_2026_11_01''s "
        "fixture 'state/orders.csv' (tests[0].files[0].from)" in flat
    ), flat
    assert "tests[0].files[0].from state" not in flat  # one problem, at the state's line


def test_a_broken_symlink_where_the_state_folder_goes(project: Path) -> None:
    (project / "state").symlink_to(project / "nowhere")
    (project / SPEC).write_text(
        (project / SPEC).read_text().replace("  name: demo\n", "  name: demo\n  state_dir: state\n")
    )
    result = invoke(project, "render")
    assert result.exit_code == 2, result.output
    assert "state folder 'state' is a broken symlink" in _flat(result.output)
    assert not (project / "nowhere").exists()


def test_a_folder_of_fixtures_is_still_accepted(project: Path) -> None:
    """`from` takes a file or a folder: a folder is the right kind there."""
    spec = project / SPEC
    spec.write_text(
        spec.read_text().replace(
            "from: tests/fixtures/landing/orders_2026-11-01.csv", "from: tests/fixtures/landing"
        )
    )
    result = invoke(project, "validate")
    assert result.exit_code == 0, result.output


def test_a_seed_written_through_dots_at_the_project_folder_refuses_no_state(project: Path) -> None:
    """`dags/../fx.sql` lies in the project folder itself, which holds every state folder: it
    is no seeds folder, and the spec stays valid."""
    (project / "fx.sql").write_text("SELECT 1;\n")
    spec = project / SPEC
    text = spec.read_text().replace("  name: demo\n", "  name: demo\n  state_dir: state\n")
    spec.write_text(text.replace("sql: seeds/fx_rates.sql", "sql: dags/../fx.sql"))
    result = invoke(project, "validate")
    assert result.exit_code == 0, result.output
