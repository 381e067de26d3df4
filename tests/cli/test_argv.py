"""Command-line habits (tinyctl/cli/argv.py): the spec as an argument, -s, and the old -f."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from tinyctl.cli import app, load_commands
from tinyctl.cli.argv import is_spec_file, rewrite

load_commands()  # the whole app, as `tinyctl --help` sees it


@pytest.fixture(scope="module")
def group():
    return typer.main.get_command(app)


@pytest.fixture
def spec(tmp_path: Path) -> str:
    path = tmp_path / "other.yaml"
    path.write_text("# a spec\nproject:\n  name: x\n")
    return str(path)


def test_only_a_yaml_file_with_a_project_key_is_a_spec(tmp_path: Path, spec: str) -> None:
    dag_config = tmp_path / "config.yaml"
    dag_config.write_text("tables: [a, b]\n")
    assert is_spec_file(spec)
    assert not is_spec_file(str(dag_config))
    assert not is_spec_file(str(tmp_path / "missing.yaml"))
    assert not is_spec_file("dags/a.py")


def test_the_spec_as_the_first_argument_of_any_command(group, spec: str) -> None:
    assert rewrite(["validate", spec], group)[0] == ["validate", "--spec", spec]
    assert rewrite(["status", spec, "--json"], group)[0] == ["status", "--spec", spec, "--json"]
    # after the command's own arguments and option values, too
    assert rewrite(["logs", "scheduler", spec, "--tail", "5"], group)[0] == [
        "logs",
        "scheduler",
        "--spec",
        spec,
        "--tail",
        "5",
    ]
    assert rewrite(["run", "my_dag", "--conf", "{}", spec], group)[0][-2:] == ["--spec", spec]
    # an explicit --spec wins: the YAML file stays an argument
    assert rewrite(["deploy-dags", "-s", spec, spec], group)[0] == ["deploy-dags", "-s", spec, spec]


def test_passthrough_commands_keep_their_arguments(group, spec: str) -> None:
    assert rewrite(["airflow", "dags", "list", spec, "-f"], group) == (
        ["airflow", "dags", "list", spec, "-f"],
        [],
    )
    assert rewrite(["pytest", "-f", spec], group)[0] == ["pytest", "-f", spec]


def test_f_is_follow_in_logs_and_a_deprecated_spec_elsewhere(group, spec: str) -> None:
    assert rewrite(["logs", "-f"], group) == (["logs", "-f"], [])
    args, warnings = rewrite(["validate", "-f", spec], group)
    assert args == ["validate", "-s", spec]
    assert warnings and "use -s" in warnings[0]
    args, warnings = rewrite(["-f", spec, "logs", "-f"], group)
    assert args == ["-s", spec, "logs", "-f"] and warnings


def test_s_is_used_by_no_command_for_anything_else(group) -> None:
    def commands(g, prefix=""):
        for name, command in g.commands.items():
            if hasattr(command, "commands"):
                yield from commands(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", command

    for name, command in commands(group):
        for param in command.params:
            opts = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
            if "-s" in opts:
                assert "--spec" in opts, f"{name}: -s is {opts}"


def test_help_lists_the_everyday_commands_first(group) -> None:
    names = list(group.list_commands(None))
    assert names[:4] == ["up", "status", "deploy-dags", "run"]
    assert names.index("init") > names.index("credentials")


def test_completion_is_on() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in result.output
