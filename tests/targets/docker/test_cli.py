"""The Docker chokepoint (tinyctl/targets/docker/cli.py): every docker process starts in one
place, is echoed with --verbose, and fails as a tinyctl error that says what to do. The
engine-down case is real: the CLI is pointed at a socket where no engine listens."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import tinyctl

from tinyctl.errors import EnvironmentProblem, TinyctlError, WorkFailed
from tinyctl.scaffold import init_project
from tinyctl.targets.docker import cli
from tinyctl.targets.docker.gateway import Docker


def fake_docker(folder: Path, script: str) -> None:
    """A stand-in `docker` on PATH (a real process) for what a real engine will not do on purpose."""
    fake = folder / "docker"
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(0o755)


def test_an_unreachable_engine_says_how_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("docker") is None:
        pytest.skip("needs the docker CLI (no engine)")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(EnvironmentProblem) as caught:
        Docker().engine()
    assert "not reachable" in caught.value.message
    assert "dockerd" in (caught.value.hint or "")
    assert "no-engine.sock" in (caught.value.details or "")


def test_a_missing_docker_cli_is_an_environment_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EnvironmentProblem, match="`docker` command is not installed"):
        Docker().engine()
    with pytest.raises(EnvironmentProblem, match="not installed"):
        cli.call(["ps"])


@pytest.mark.parametrize(
    ("stderr", "kind", "text"),
    [
        (
            "Error response from daemon: pull access denied for x",
            EnvironmentProblem,
            "could not be pulled",
        ),
        (
            "Bind for 127.0.0.1:8080 failed: port is already allocated",
            EnvironmentProblem,
            "port is already in use",
        ),
        (
            "docker: 'compose' is not a docker command.",
            EnvironmentProblem,
            "Compose v2 is not installed",
        ),
        (
            "permission denied while trying to connect to the Docker daemon socket at "
            "unix:///var/run/docker.sock",
            EnvironmentProblem,
            "permission denied on the Docker socket",
        ),
        (
            "dial tcp: lookup registry-1.docker.io: i/o timeout",
            EnvironmentProblem,
            "could not be pulled",
        ),
        ("something else broke", WorkFailed, "docker compose up failed (exit code 1)"),
    ],
)
def test_the_stderr_map(stderr: str, kind: type, text: str) -> None:
    failure = cli.Completed(["docker", "compose", "up"], 1, "", stderr)
    error = cli.translate(failure, "docker compose up")
    assert type(error) is kind and text in error.message
    if kind is WorkFailed:
        assert (error.details or "").startswith("$ docker compose up\n")


def test_run_returns_stdout_and_translates_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_docker(
        tmp_path, 'echo "ran $*"\n[ "$1" = fail ] && { echo "it broke" >&2; exit 3; }\nexit 0\n'
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.run(["compose", "ps"], "x") == "ran compose ps\n"
    with pytest.raises(WorkFailed) as caught:
        cli.run(["fail"], "docker fail")
    assert caught.value.message == "docker fail failed (exit code 3)"
    assert "it broke" in (caught.value.details or "")
    done = cli.output(["fail"])  # unchecked: the caller reads the exit code
    assert (done.return_code, done.stderr) == (3, "it broke\n")


def test_a_background_command_and_its_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`start` + `finish` as `up` uses them."""
    fake_docker(tmp_path, 'echo "ran $*"\n[ "$1" = fail ] && exit 3\nexit 0\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.finish(cli.start(["compose", "up"]), "x") == "ran compose up\n"
    with pytest.raises(TinyctlError) as caught:
        cli.finish(cli.start(["fail"]), "docker fail")
    assert "docker fail" in caught.value.message


def test_verbose_echoes_each_docker_command_and_the_failure_is_exit_3(tmp_path: Path) -> None:
    """`tinyctl -v status` with the engine not answering: the `docker` commands are shown as
    they run, and the panel says how to start the engine."""
    if shutil.which("docker") is None:
        pytest.skip("needs the docker CLI (no engine)")
    root = tmp_path / "p"
    init_project(root, name="verbose-echo", images_source="debian")
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock", "TINYCTL_RUNTIME": "compose"}
    result = tinyctl("-v", "status", cwd=root, env=env)
    assert result.returncode == 3, result.stderr
    assert "$ " in result.stderr and "docker system info --format" in result.stderr
    assert "not reachable" in result.stderr


def test_no_other_module_starts_a_docker_process() -> None:
    """The chokepoint holds: outside `cli.py`, only modules that run other programs (the local
    runtime's processes, debootstrap for the Debian base image, git for the Astro import, helm
    and kubectl for the k8s target, ruff for upgrade-test) use `subprocess` to start one."""
    import ast

    import tinyctl

    root = Path(tinyctl.__file__).parent
    allowed = {
        "targets/docker/cli.py",
        "targets/docker/base_image.py",
        "interop/astro.py",
        "targets/k8s/helm.py",
        "upgrade/migration.py",
    }
    starters = {"run", "Popen", "call", "check_call", "check_output", "getoutput"}
    offenders = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in allowed or rel.startswith("targets/local/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            func = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(func, ast.Attribute)
                and func.attr in starters
                and isinstance(func.value, ast.Name)
                and func.value.id == "subprocess"
            ):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []
