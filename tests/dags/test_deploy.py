"""`tinyctl deploy-dags` (tinyctl/dags/deploy/) and the local DAG checks (tinyctl/dags/checks.py).

The stack tests run the real CLI against the shared `live_stack` and check the result through
Airflow's API and the stack's DAG folder (`.tinyctl/dags/`). Every file they add is named
`tt_deploy_*` and removed again (with a final `deploy-dags --prune`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import Stack, plain

from tinyctl.dags.checks import check_source
from tinyctl.dags.deploy import collect_sources, error_location, traceback_tail
from tinyctl.errors import BadInput
from tinyctl.project import Project
from tinyctl.spec import load_spec

stack = pytest.mark.stack
PREFIX = "tt_deploy_"


# --------------------------------------------------------------------------- helpers


def dag_source(dag_id: str, *, extra_lines: tuple[str, ...] = (), tail: str = "") -> str:
    """A small Airflow 3 DAG file (task SDK); `extra_lines` go right after the imports."""
    lines = [
        "from __future__ import annotations",
        "",
        "from datetime import datetime",
        "",
        "from airflow.sdk import dag, task",
        *extra_lines,
        "",
        "",
        f'@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["tinyctl-test"])',
        f"def {dag_id}():",
        "    @task",
        "    def hello():",
        "        return 1",
        "",
        "    hello()",
        "",
        "",
        f"{dag_id}()",
        tail,
    ]
    return "\n".join(lines) + "\n"


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def deploy(s: Stack, *args: str) -> tuple[int, dict]:
    result = s.run("deploy-dags", *args, "--json")
    try:
        data = json.loads(result.stdout)
    except ValueError:
        pytest.fail(
            f"deploy-dags --json printed no JSON (exit {result.returncode})\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result.returncode, data


def by_file(data: dict) -> dict[str, dict]:
    return {f["file"]: f for f in data["files"]}


def dag_ids(entry: dict) -> list[str]:
    return [d["dag_id"] for d in entry["dags"]]


def active_dags(s: Stack) -> dict[str, bool]:
    """{dag_id: is_paused} of every DAG Airflow serves (not stale)."""
    with s.client() as client:
        return {d.dag_id: d.is_paused for d in client.dags() if not d.is_stale}


@pytest.fixture(scope="module")
def deploy_stack(live_stack: Stack):
    """The shared stack; afterwards every tt_deploy_* file is removed from dags/ and the stack."""
    yield live_stack
    dags = live_stack.root / "dags"
    for path in dags.glob(f"{PREFIX}*"):
        path.unlink()
    result = live_stack.run("deploy-dags", "--prune", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list((live_stack.root / ".tinyctl" / "dags").glob(f"{PREFIX}*"))


# --------------------------------------------------------------------------- on the live stack


@stack
def test_sample_dag_is_live_after_up(deploy_stack: Stack) -> None:
    code, data = deploy(deploy_stack)
    assert code == 0, data
    entry = by_file(data)["staging_orders.py"]
    assert entry["ok"] is True
    assert entry["status"] in ("unchanged", "live")
    assert dag_ids(entry) == ["staging_orders"]
    assert entry["dags"][0]["stale"] is False
    assert (deploy_stack.root / ".tinyctl" / "dags" / "staging_orders.py").read_bytes() == (
        deploy_stack.root / "dags" / "staging_orders.py"
    ).read_bytes()


@stack
def test_a_new_dag_file_goes_live_within_seconds(deploy_stack: Stack) -> None:
    dag_id = f"{PREFIX}new"
    source = deploy_stack.root / "dags" / f"{dag_id}.py"
    source.write_text(dag_source(dag_id))
    code, data = deploy(deploy_stack)
    assert code == 0, data
    assert data["ok"] is True
    entry = by_file(data)[source.name]
    assert entry["status"] == "live", entry
    assert entry["ok"] is True and entry["error"] is None
    assert dag_ids(entry) == [dag_id]
    assert entry["dags"][0]["stale"] is False
    assert isinstance(entry["seconds"], float | int)
    print(
        f"\n[observed] new DAG live after {entry['seconds']} s (whole deploy-dags run {data['seconds']} s)"
    )
    with deploy_stack.client() as client:
        dag = client.dag(dag_id)
    assert dag is not None and not dag.is_stale
    assert dag.relative_fileloc == source.name
    assert (
        deploy_stack.root / ".tinyctl" / "dags" / source.name
    ).read_bytes() == source.read_bytes()
    # Nothing changed since: a second run reports it unchanged.
    code, data = deploy(deploy_stack)
    assert code == 0 and by_file(data)[source.name]["status"] == "unchanged"


@stack
def test_syntax_and_missing_module_errors_are_located_and_not_deployed(deploy_stack: Stack) -> None:
    dags = deploy_stack.root / "dags"
    target = deploy_stack.root / ".tinyctl" / "dags"
    syntax = dags / f"{PREFIX}syntax.py"
    syntax_text = "from airflow.sdk import dag\n\n\ndef broken(:\n    pass\n"
    missing = dags / f"{PREFIX}missing.py"
    missing_text = (
        "from __future__ import annotations\n\nimport os\n\nimport tinyctl_no_such_module_xyz\n"
        "from airflow.sdk import dag\n"
    )
    before = active_dags(deploy_stack)
    assert "staging_orders" in before
    syntax.write_text(syntax_text)
    missing.write_text(missing_text)
    try:
        code, data = deploy(deploy_stack)
        assert code == 1, data
        assert data["ok"] is False
        files = by_file(data)
        bad = files[syntax.name]
        assert bad["status"] == "syntax_error" and bad["ok"] is False
        assert bad["line"] == line_of(syntax_text, "def broken(") == 4
        assert "def broken(:" in bad["error"]
        assert bad["previous_version_live"] is False
        gone = files[missing.name]
        assert gone["status"] == "missing_module" and gone["ok"] is False
        assert gone["line"] == line_of(missing_text, "tinyctl_no_such_module_xyz") == 5
        assert "tinyctl_no_such_module_xyz" in gone["error"]
        # The good files are still reported fine.
        assert files["staging_orders.py"]["ok"] is True
        # Neither broken file reached the stack's DAG folder.
        assert not (target / syntax.name).exists()
        assert not (target / missing.name).exists()

        # The console output says the same, as file:line.
        result = deploy_stack.run("deploy-dags")
        assert result.returncode == 1
        out = plain(result.stdout + result.stderr)
        assert f"{syntax.name}: syntax error at {syntax.name}:4" in out
        assert f"{missing.name}: import error at {missing.name}:5" in out
        assert "not deployed" in out
        assert "2 failed" in out

        # What was live before is still live, in the same paused state.
        after = active_dags(deploy_stack)
        for dag_id, paused in before.items():
            assert dag_id in after, f"{dag_id} went stale after a failed deploy"
            assert after[dag_id] == paused, f"{dag_id} changed its paused state"
    finally:
        syntax.unlink(missing_ok=True)
        missing.unlink(missing_ok=True)


@stack
def test_an_airflow_import_error_keeps_the_previous_version_live(deploy_stack: Stack) -> None:
    dag_id = f"{PREFIX}edit"
    source = deploy_stack.root / "dags" / f"{dag_id}.py"
    stacked = deploy_stack.root / ".tinyctl" / "dags" / source.name
    good = dag_source(dag_id)
    source.write_text(good)
    code, data = deploy(deploy_stack)
    assert code == 0 and by_file(data)[source.name]["status"] == "live", data

    # `not_a_thing` does not exist in airflow.sdk: only Airflow's own import can tell.
    broken = dag_source(dag_id, extra_lines=("from airflow.sdk import not_a_thing",))
    assert check_source(broken.encode(), source.name, None).problem is None
    source.write_text(broken)
    code, data = deploy(deploy_stack)
    assert code == 1, data
    entry = by_file(data)[source.name]
    assert entry["status"] == "import_error", entry
    assert entry["ok"] is False
    assert entry["line"] == line_of(broken, "not_a_thing") == 6
    assert "not_a_thing" in entry["error"]
    assert "not_a_thing" in entry["traceback"] and "<frozen" not in entry["traceback"]
    assert entry["previous_version_live"] is True
    assert dag_ids(entry) == [dag_id]
    assert stacked.read_text() == good, "the stack keeps the previous good bytes"
    with deploy_stack.client() as client:
        dag = client.dag(dag_id)
        errors = [e for e in client.import_errors() if e.filename.endswith(source.name)]
    assert dag is not None and not dag.is_stale, "the previous version is still active"
    assert errors == [], (
        "once the good version is re-parsed, Airflow no longer lists an import error"
    )

    # Fixed (and changed): deployed and live again.
    fixed = dag_source(dag_id, tail="# fixed")
    source.write_text(fixed)
    code, data = deploy(deploy_stack)
    assert code == 0, data
    entry = by_file(data)[source.name]
    assert entry["status"] == "live" and dag_ids(entry) == [dag_id]
    assert stacked.read_text() == fixed


@stack
def test_a_removed_file_is_extra_until_pruned_then_its_dag_goes_stale(deploy_stack: Stack) -> None:
    dag_id = f"{PREFIX}prune"
    source = deploy_stack.root / "dags" / f"{dag_id}.py"
    stacked = deploy_stack.root / ".tinyctl" / "dags" / source.name
    source.write_text(dag_source(dag_id))
    code, data = deploy(deploy_stack)
    assert code == 0 and by_file(data)[source.name]["status"] == "live", data

    source.unlink()
    code, data = deploy(deploy_stack)
    assert code == 0, data
    entry = by_file(data)[source.name]
    assert entry["status"] == "extra" and entry["ok"] is True
    assert "--prune" in entry["error"]
    assert stacked.is_file(), "without --prune the file stays in the stack"
    with deploy_stack.client() as client:
        dag = client.dag(dag_id)
        assert dag is not None and not dag.is_stale

    code, data = deploy(deploy_stack, "--prune")
    assert code == 0, data
    assert by_file(data)[source.name]["status"] == "removed"
    assert not stacked.exists()
    with deploy_stack.client() as client:
        deadline = time.monotonic() + 30
        while True:
            dag = client.dag(dag_id)
            if dag is None or dag.is_stale or time.monotonic() > deadline:
                break
            time.sleep(1)
    assert dag is None or dag.is_stale, "a pruned file's DAG goes stale in Airflow"


@stack
def test_unpause_unpauses_only_the_deployed_files_dags(deploy_stack: Stack) -> None:
    dag_id = f"{PREFIX}unpause"
    source = deploy_stack.root / "dags" / f"{dag_id}.py"
    source.write_text(dag_source(dag_id))
    paused_before = active_dags(deploy_stack)
    code, data = deploy(deploy_stack, f"dags/{source.name}", "--unpause")
    assert code == 0, data
    assert [f["file"] for f in data["files"]] == [source.name], "a path deploys only that file"
    entry = data["files"][0]
    assert entry["status"] == "live"
    assert entry["dags"] == [{"dag_id": dag_id, "paused": False, "stale": False}]
    with deploy_stack.client() as client:
        dag = client.dag(dag_id)
        assert dag is not None and dag.is_paused is False
        others = {d.dag_id: d.is_paused for d in client.dags() if not d.is_stale}
    for other, paused in paused_before.items():
        assert others.get(other) == paused, (
            f"{other}: --unpause with a path touched another file's DAG"
        )


@stack
def test_a_renamed_dag_id_is_reported_under_its_new_id_only(deploy_stack: Stack) -> None:
    source = deploy_stack.root / "dags" / f"{PREFIX}rename.py"
    source.write_text(dag_source(f"{PREFIX}rename_a"))
    code, data = deploy(deploy_stack)
    assert code == 0 and dag_ids(by_file(data)[source.name]) == [f"{PREFIX}rename_a"], data
    source.write_text(dag_source(f"{PREFIX}rename_b"))
    code, data = deploy(deploy_stack)
    assert code == 0, data
    entry = by_file(data)[source.name]
    assert entry["status"] == "live"
    # The new version of the file defines only rename_b; rename_a was not in this parse.
    assert dag_ids(entry) == [f"{PREFIX}rename_b"], entry


# --------------------------------------------------------------------------- unit: tracebacks

IMPORT_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "<frozen importlib._bootstrap>", line 241, in _call_with_frames_removed\n'
    '  File "/opt/airflow/dags/broken_dag.py", line 6, in <module>\n'
    "    import not_a_module  # noqa: F401\n"
    "    ^^^^^^^^^^^^^^^^^^^\n"
    "ModuleNotFoundError: No module named 'not_a_module'\n"
)

SYNTAX_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "<frozen importlib._bootstrap_external>", line 1004, in source_to_code\n'
    '  File "<frozen importlib._bootstrap>", line 241, in _call_with_frames_removed\n'
    '  File "/opt/airflow/dags/broken_dag.py", line 6\n'
    "    x = 1 +\n"
    "           ^\n"
    "SyntaxError: invalid syntax\n"
)

NESTED_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "<frozen importlib._bootstrap>", line 241, in _call_with_frames_removed\n'
    '  File "/opt/airflow/dags/orders.py", line 3, in <module>\n'
    "    from common import helpers\n"
    '  File "<frozen importlib._bootstrap>", line 1176, in _find_and_load\n'
    '  File "/opt/airflow/dags/common/helpers.py", line 10, in <module>\n'
    "    raise RuntimeError('no config')\n"
    "RuntimeError: no config\n"
)


def test_error_location_is_the_line_of_the_deployed_file() -> None:
    assert error_location(IMPORT_TRACE, "broken_dag.py") == 6
    assert (
        error_location(SYNTAX_TRACE, "broken_dag.py") == 6
    )  # a SyntaxError frame has no ", in ..."
    assert (
        error_location(NESTED_TRACE, "orders.py") == 3
    )  # where the file imports the failing module
    assert error_location(NESTED_TRACE, "common/helpers.py") == 10
    assert error_location("", "x.py") is None
    assert error_location("ValueError: no line here", "x.py") is None


def test_error_location_takes_the_last_frame_in_the_file() -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/opt/airflow/dags/dyn.py", line 20, in <module>\n'
        "    build()\n"
        '  File "/opt/airflow/dags/dyn.py", line 12, in build\n'
        "    raise KeyError('x')\n"
        "KeyError: 'x'\n"
    )
    assert error_location(trace, "dyn.py") == 12


def test_traceback_tail_drops_import_machinery_frames() -> None:
    tail = traceback_tail(IMPORT_TRACE)
    assert "<frozen" not in tail
    assert tail.splitlines() == [
        '  File "/opt/airflow/dags/broken_dag.py", line 6, in <module>',
        "    import not_a_module  # noqa: F401",
        "    ^^^^^^^^^^^^^^^^^^^",
        "ModuleNotFoundError: No module named 'not_a_module'",
    ]
    assert traceback_tail(IMPORT_TRACE, 1) == "ModuleNotFoundError: No module named 'not_a_module'"
    syntax = traceback_tail(SYNTAX_TRACE, 10)
    assert "<frozen" not in syntax and "source_to_code" not in syntax
    assert syntax.splitlines()[0] == "Traceback (most recent call last):"
    assert syntax.splitlines()[-1] == "SyntaxError: invalid syntax"
    nested = traceback_tail(NESTED_TRACE, 20)
    assert "_find_and_load" not in nested and "from common import helpers" in nested
    assert traceback_tail("") == ""


# --------------------------------------------------------------------------- unit: sources


def test_collect_sources_skips_caches_compiled_and_hidden_files(project: Path) -> None:
    dags = project / "dags"
    files = {
        "__pycache__/staging_orders.cpython-311.pyc": b"\0",
        "helper.pyc": b"\0",
        "old.pyo": b"\0",
        ".hidden_dag.py": b"from airflow.sdk import dag\n",
        ".airflowignore": b"scratch/\n",
        "notes.py~": b"",
        ".notes.py.swp": b"",
        "notes.swp": b"",
        "common/__init__.py": b"",
        "common/__pycache__/x.cpython-311.pyc": b"\0",
        "common/util.py": b"X = 1\n",
        "sql/report.sql": b"select 1;\n",
    }
    for rel, content in files.items():
        (dags / rel).parent.mkdir(parents=True, exist_ok=True)
        (dags / rel).write_bytes(content)
    loaded = load_spec(project / "tinyctl.yaml")
    sources = collect_sources(Project(loaded), None)
    assert sorted(sources) == [
        ".airflowignore",
        "common/__init__.py",
        "common/util.py",
        "sql/report.sql",
        "staging_orders.py",
    ]
    assert sources["common/util.py"] == dags / "common" / "util.py"


def test_collect_sources_skips_files_in_hidden_folders(project: Path) -> None:
    dags = project / "dags"
    for rel in (
        ".git/config",
        ".venv/lib/site.py",
        ".mypy_cache/3.11/x.json",
        ".ipynb_checkpoints/a-checkpoint.py",
    ):
        (dags / rel).parent.mkdir(parents=True, exist_ok=True)
        (dags / rel).write_text("from airflow import DAG\n")
    sources = collect_sources(Project(load_spec(project / "tinyctl.yaml")), None)
    assert sorted(sources) == ["staging_orders.py"], (
        "hidden folders (tool caches, virtualenvs) are not DAG sources"
    )


def test_collect_sources_with_explicit_paths(project: Path, tmp_path: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    (project / "dags" / "sub").mkdir()
    (project / "dags" / "sub" / "one.py").write_text("X = 1\n")
    inside = collect_sources(Project(loaded), [project / "dags" / "sub" / "one.py"])
    assert list(inside) == ["sub/one.py"], "a file inside the DAG folder keeps its relative path"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "two.py").write_text("X = 2\n")
    assert list(collect_sources(Project(loaded), [outside / "two.py"])) == ["two.py"]
    assert list(collect_sources(Project(loaded), [outside])) == ["two.py"]
    with pytest.raises(BadInput, match="does not exist"):
        collect_sources(Project(loaded), [outside / "nope.py"])


def test_collect_sources_without_a_dag_folder(project: Path) -> None:
    import shutil

    shutil.rmtree(project / "dags")
    # The spec's cross-checks may or may not require the folder; load without them.
    loaded = load_spec(project / "tinyctl.yaml", check_files=False)
    with pytest.raises(BadInput, match="does not exist"):
        collect_sources(Project(loaded), None)


# --------------------------------------------------------------------------- unit: local checks

KNOWN = {"airflow", "os", "sys", "datetime", "typing", "json", "pendulum"}


def test_check_source_reports_the_syntax_error_line() -> None:
    source = b"from airflow.sdk import dag\n\nx = 1\ndef broken(:\n    pass\n"
    check = check_source(source, "broken.py", KNOWN)
    assert check.problem is not None
    assert check.problem.kind == "syntax_error"
    assert check.problem.line == 4
    assert "def broken(:" in check.problem.message


def test_check_source_reports_null_bytes_as_a_syntax_error() -> None:
    check = check_source(b"from airflow.sdk import dag\n\0\n", "nul.py", KNOWN)
    assert check.problem is not None and check.problem.kind == "syntax_error"


def test_check_source_reports_the_line_of_a_missing_module() -> None:
    source = b"import os\nfrom datetime import datetime\n\nfrom not_there.sub import thing\nimport also_missing\n"
    check = check_source(source, "x.py", KNOWN)
    assert check.problem is not None
    assert check.problem.kind == "missing_module"
    assert check.problem.line == 4
    assert "not_there" in check.problem.message
    # Without the image's module list there is nothing to check imports against.
    assert check_source(source, "x.py", None).problem is None


def test_check_source_accepts_known_relative_and_future_imports() -> None:
    source = b"from __future__ import annotations\nimport os.path\nfrom . import sibling\nfrom airflow.sdk import dag\n"
    assert check_source(source, "x.py", KNOWN).problem is None


def test_check_source_does_not_flag_guarded_imports() -> None:
    source = (
        b"from __future__ import annotations\n"
        b"from typing import TYPE_CHECKING\n"
        b"import typing\n"
        b"try:\n    import fancy_optional\nexcept ImportError:\n    fancy_optional = None\n"
        b"if TYPE_CHECKING:\n    from only_for_types import Thing\n"
        b"if typing.TYPE_CHECKING:\n    import other_types\n"
        b"def later():\n    import inside_a_function\n"
    )
    assert check_source(source, "x.py", KNOWN).problem is None


def test_check_source_leaves_conditional_imports_to_their_author() -> None:
    # `if sys.version_info < (3, 11): import tomli` is not an obvious failure: only
    # unconditional imports are checked locally; Airflow's own parse catches the rest.
    source = b"import sys\nif sys.version_info < (3, 11):\n    import not_there\n"
    assert check_source(source, "x.py", KNOWN).problem is None


def test_check_source_safe_mode_detection_and_dag_ids() -> None:
    dag_file = b"from airflow.sdk import DAG\nwith DAG('by_position') as d:\n    pass\nwith DAG(dag_id='by_keyword'):\n    pass\n"
    check = check_source(dag_file, "x.py", KNOWN)
    assert check.may_define_dags is True
    assert check.dag_ids == ("by_position", "by_keyword")
    decorated = b"from airflow.sdk import dag\n@dag(schedule=None)\ndef my_pipeline():\n    pass\nmy_pipeline()\n"
    assert check_source(decorated, "x.py", KNOWN).dag_ids == ("my_pipeline",)
    # Airflow's safe mode parses only files mentioning both words (case-insensitive).
    assert (
        check_source(b"# AIRFLOW helpers for my Dag files\nX = 1\n", "x.py", KNOWN).may_define_dags
        is True
    )
    assert check_source(b"import os\nX = 1\n", "helpers.py", KNOWN).may_define_dags is False
    assert check_source(b"# airflow only\nX = 1\n", "helpers.py", KNOWN).may_define_dags is False


def test_refresh_interval_comes_from_the_spec(project: Path) -> None:
    from tinyctl.dags.deploy import refresh_interval
    from tinyctl.spec import load_spec

    assert refresh_interval(load_spec(project / "tinyctl.yaml").spec) == 1.0
    spec = project / "tinyctl.yaml"
    spec.write_text(
        spec.read_text().replace(
            "core.parallelism: 4", "core.parallelism: 4\n    dag_processor.refresh_interval: 300"
        )
    )
    loaded = load_spec(spec)
    assert refresh_interval(loaded.spec) == 300.0
    assert any("up to 300 s" in w.message for w in loaded.warnings)


def test_symlinks_are_followed_only_inside_the_project(project: Path, tmp_path: Path) -> None:
    dags = project / "dags"
    (project / "lib").mkdir()
    (project / "lib" / "shared.py").write_text("X = 1\n")
    (dags / "shared.py").symlink_to(project / "lib" / "shared.py")  # inside: deployed
    (dags / "hostname.py").symlink_to("/etc/hostname")  # outside: refused, no crash
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "a.py").write_text("A = 1\n")
    (dags / "linked").symlink_to(outside, target_is_directory=True)
    refused: dict[str, str] = {}
    sources = collect_sources(Project(load_spec(project / "tinyctl.yaml")), None, refused)
    assert "shared.py" in sources and "staging_orders.py" in sources
    assert "hostname.py" not in sources
    assert "outside the project folder" in refused["hostname.py"]
    assert all(not rel.startswith("linked/") for rel in sources)
    # a file named on the command line through a symlink out of the project is refused too
    refused = {}
    sources = collect_sources(
        Project(load_spec(project / "tinyctl.yaml")), [dags / "hostname.py"], refused
    )
    assert sources == {} and list(refused) == ["hostname.py"]
