"""Rendered files compared with committed golden copies (fixed secrets and host facts).

A change to templates or rendering logic makes these fail until the golden files are
regenerated with TINYCTL_UPDATE_GOLDEN=1 and the diff is reviewed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinyctl.render.context import Host
from tinyctl.render.engine import render_files
from tinyctl.scaffold import planned_files
from tinyctl.spec.loaded import LoadedSpec
from tinyctl.spec.loader import parse_spec
from tinyctl.state.identity import Identity
from tinyctl.state.secrets import Secrets, required_names

GOLDEN = Path(__file__).parent / "golden"
COMPARED = (
    "compose.yaml",
    "airflow.env",
    "postgres.env",
    "postgres/bootstrap.sh",
)
VARIANTS = {
    "local-official": lambda text: text,
    "celery-debian": lambda text: text.replace(
        "executor: LocalExecutor", "executor: CeleryExecutor\n  workers: 2"
    ).replace("source: official", "source: debian"),
    "unexposed-postgres": lambda text: text.replace("port: 5432", "port: null").replace(
        "  config:\n", '  requirements: ["pandas==2.2.3"]\n  bind: 0.0.0.0\n  config:\n'
    ),
}


def _loaded(variant: str, tmp_path: Path) -> LoadedSpec:
    base = planned_files(tmp_path, "golden", "official")[tmp_path / "tinyctl.yaml"].decode()
    text = VARIANTS[variant](base)
    file = tmp_path / "tinyctl.yaml"
    spec, positions = parse_spec(text, file)
    return LoadedSpec(spec=spec, file=file, positions=positions)


def _fixed_secrets(loaded: LoadedSpec) -> Secrets:
    return Secrets(
        values={name: f"<{name}>" for name in required_names(loaded.spec)},
        file=Path("secrets.json"),
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_files_match_golden(variant: str, tmp_path: Path) -> None:
    loaded = _loaded(variant, tmp_path)
    files = render_files(
        loaded,
        _fixed_secrets(loaded),
        Host(
            uid=1000,
            ca_bundle=Path("/etc/ssl/certs/corp-ca.pem"),
            identity=Identity("0123456789abcdef0123456789abcdef", "/projects/golden"),
        ),
        {},
    )
    folder = GOLDEN / variant
    for name in COMPARED:
        golden = folder / name
        actual = files[name].content
        if os.environ.get("TINYCTL_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(actual)
        assert golden.exists(), f"missing golden {golden}; run with TINYCTL_UPDATE_GOLDEN=1"
        assert actual.decode() == golden.read_text(), (
            f"{variant}/{name} differs from its golden copy"
        )


def test_build_contexts_are_rendered_for_local_builds(tmp_path: Path) -> None:
    loaded = _loaded("celery-debian", tmp_path)
    files = render_files(loaded, _fixed_secrets(loaded), Host(uid=0, ca_bundle=None), {})
    for context in (
        "build/airflow/Dockerfile",
        "build/postgres/Dockerfile",
        "build/redis/Dockerfile",
    ):
        assert context in files
    assert "secrets: [cacert]" not in files["compose.yaml"].content.decode(), (
        "no CA bundle, no build secret"
    )


def test_environment_can_switch_to_debian_images(tmp_path: Path) -> None:
    loaded = _loaded("local-official", tmp_path)
    files = render_files(
        loaded,
        _fixed_secrets(loaded),
        Host(uid=0, ca_bundle=None),
        {"TINYCTL_IMAGES_SOURCE": "debian"},
    )
    compose = files["compose.yaml"].content.decode()
    assert '"tinyctl/airflow:3.3.2-debian"' in compose and "apache/airflow" not in compose
