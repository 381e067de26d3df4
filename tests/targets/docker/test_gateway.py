"""The Docker gateway (tinyctl/targets/docker/gateway.py): argv and parsing of the questions it
asks through the chokepoint."""

from __future__ import annotations

import pytest

from tinyctl.errors import EnvironmentProblem
from tinyctl.targets.docker.gateway import (
    Docker,
    ServerInfo,
    listing_args,
    parse_compose_version,
    parse_listing,
    parse_ps,
)


def test_listing_args_print_the_name_then_each_label() -> None:
    args = listing_args("volume", "a=b", ("x.id", "x.folder"))
    assert args == [
        "volume",
        "ls",
        "--filter",
        "label=a=b",
        "--format",
        '{{.Name}}\t{{.Label "x.id"}}\t{{.Label "x.folder"}}',
    ]
    assert listing_args("container", "a=b", ())[:2] == ["ps", "--all"]
    assert listing_args("container", "a=b", ())[-1] == "{{.Names}}"


def test_parse_listing_keeps_empty_label_values() -> None:
    assert parse_listing("v1\tid\t\n\nv2\t\t/f\n") == [["v1", "id", ""], ["v2", "", "/f"]]


def test_the_compose_version_must_be_v2() -> None:
    assert parse_compose_version("Docker Compose version v2.40.3\n") == "2.40.3"
    with pytest.raises(EnvironmentProblem, match="Compose v2 is required"):
        parse_compose_version("docker-compose version 1.29.2, build 5becea4c")


def test_compose_args_name_the_file_project_and_folder(tmp_path) -> None:
    compose = tmp_path / "compose.yaml"
    assert Docker(compose, "demo").compose_args() == [
        "compose",
        "--file",
        str(compose),
        "--project-name",
        "demo",
        "--project-directory",
        str(tmp_path),
    ]
    assert Docker().compose_args() == ["compose"]


def test_server_info_reads_the_cli_and_the_engine_api_alike() -> None:
    info = ServerInfo.from_info({"ServerVersion": "28.2", "MemTotal": 8 * 1024**3, "NCPU": 2})
    assert info == ServerInfo("28.2", 8 * 1024**3, 2)
    assert ServerInfo.from_info({}) == ServerInfo("?", 0, 0)


def test_ps_rows_are_parsed_as_one_array_or_one_object_per_line() -> None:
    row = (
        '{"Name": "p-worker-2", "Service": "worker", "State": "running", "Health": "healthy",'
        ' "ExitCode": 0, "Publishers": [{"URL": "127.0.0.1", "TargetPort": 8080,'
        ' "PublishedPort": 18080, "Protocol": "tcp"}, {"URL": "", "TargetPort": 8793,'
        ' "PublishedPort": 0, "Protocol": "tcp"}]}'
    )
    (state,) = parse_ps(row + "\n")
    assert state.ports == ("127.0.0.1:18080->8080",) and state.published == (18080,)
    assert parse_ps(f"[{row}]") == [state]
    assert parse_ps("  \n") == []
