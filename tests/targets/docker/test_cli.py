"""The python-on-whales-free Docker CLI calls: argv, parsing, error translation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tinyctl.errors import EnvironmentProblem
from tinyctl.targets.docker import cli as docker_cli


def test_listing_args_print_the_name_then_each_label() -> None:
    args = docker_cli.listing_args("volume", "a=b", ("x.id", "x.folder"))
    assert args == [
        "volume",
        "ls",
        "--filter",
        "label=a=b",
        "--format",
        '{{.Name}}\t{{.Label "x.id"}}\t{{.Label "x.folder"}}',
    ]
    assert docker_cli.listing_args("container", "a=b", ())[:2] == ["ps", "--all"]
    assert docker_cli.listing_args("container", "a=b", ())[-1] == "{{.Names}}"


def test_parse_listing_keeps_empty_label_values() -> None:
    assert docker_cli.parse_listing("v1\tid\t\n\nv2\t\t/f\n") == [
        ["v1", "id", ""],
        ["v2", "", "/f"],
    ]


def test_down_and_its_ownership_check_do_not_import_python_on_whales() -> None:
    code = (
        "import sys, tinyctl.targets.docker.cli, tinyctl.targets.compose.runtime;"
        "print('python_on_whales' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_missing_docker_cli_is_an_environment_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(EnvironmentProblem):
        docker_cli.run(["ps"], "docker ps")


def test_the_compose_version_must_be_v2() -> None:
    assert docker_cli.parse_compose_version("Docker Compose version v2.40.3\n") == "2.40.3"
    with pytest.raises(EnvironmentProblem, match="Compose v2 is required"):
        docker_cli.parse_compose_version("docker-compose version 1.29.2, build 5becea4c")


def test_a_background_command_and_its_failure(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`start` + `finish` as `up` uses them, with a stand-in `docker` on PATH (a real process)."""
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/sh\necho "ran $*"\n[ "$1" = fail ] && exit 3\nexit 0\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert docker_cli.finish(docker_cli.start(["compose", "up"], "x"), "x") == "ran compose up\n"
    from tinyctl.errors import TinyctlError

    with pytest.raises(TinyctlError) as caught:
        docker_cli.finish(docker_cli.start(["fail"], "docker fail"), "docker fail")
    assert "docker fail" in caught.value.message
