"""The plan of the scaffolded spec and of a CeleryExecutor spec, compared with committed golden
JSON. A change to the plan fails here until the golden files are regenerated with
TINYCTL_UPDATE_GOLDEN=1 and the diff is reviewed (it is what every target renders)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tinyctl.plan.build import build_plan
from tinyctl.plan.serialise import plan_data, plan_json
from tinyctl.plan.values import EndpointUrl, Place, PlaceRef, SecretRef
from tinyctl.project import Project
from tinyctl.scaffold import planned_files
from tinyctl.spec.loader import parse_spec
from tinyctl.spec.models import Spec
from tinyctl.state.identity import Identity

GOLDEN = Path(__file__).parent / "golden"
IDENTITY = Identity("0123456789abcdef0123456789abcdef", "/projects/golden")
VARIANTS = {
    "scaffold": lambda text: text,
    "celery": lambda text: text.replace(
        "executor: LocalExecutor", "executor: CeleryExecutor\n  workers: 2"
    ).replace("port: 5432", "port: null"),
}


def _spec(variant: str, tmp_path: Path) -> Spec:
    base = planned_files(tmp_path, "golden", "official")[tmp_path / "tinyctl.yaml"].decode()
    spec, _ = parse_spec(VARIANTS[variant](base), tmp_path / "tinyctl.yaml")
    return spec


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_plan_matches_its_golden_copy(variant: str, tmp_path: Path) -> None:
    actual = plan_json(build_plan(_spec(variant, tmp_path), IDENTITY))
    golden = GOLDEN / f"{variant}.json"
    if os.environ.get("TINYCTL_UPDATE_GOLDEN"):
        golden.write_text(actual)
    assert golden.exists(), f"missing golden {golden}; run with TINYCTL_UPDATE_GOLDEN=1"
    assert actual == golden.read_text(), f"the plan of {variant} differs from {golden.name}"


def test_golden_files_are_all_still_produced() -> None:
    """A golden file no variant writes any more is stale: delete it or add its variant."""
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_plan_names_no_container_path_host_or_port_number(variant: str, tmp_path: Path) -> None:
    spec = _spec(variant, tmp_path)
    text = json.dumps(plan_data(build_plan(spec, IDENTITY)))
    for fact in ("/opt/", "/run/", "@postgres", "api-server:", "redis:6379", "50000", "8974"):
        assert fact not in text, f"{fact!r} is a target's fact, not the plan's"
    numbers = {int(n) for n in re.findall(r"\b\d{4,5}\b", text)}
    published = {spec.airflow.port, *([spec.postgres.port] if spec.postgres.port else [])}
    assert numbers <= published, "the only port numbers are the spec's published ports"


def test_secrets_are_named_never_valued(tmp_path: Path) -> None:
    plan = build_plan(_spec("celery", tmp_path))
    names = {s.name for s in plan.secrets}
    assert {"sql_alchemy_conn", "result_backend", "fernet_key", "postgres_password"} <= names
    secret_settings = {
        s.env_name: s.value.secret for s in plan.settings if isinstance(s.value, SecretRef)
    }
    assert secret_settings["AIRFLOW__CELERY__RESULT_BACKEND"] == "result_backend"
    assert set(secret_settings.values()) <= names


def test_places_and_endpoints_are_symbols(tmp_path: Path) -> None:
    plan = build_plan(_spec("celery", tmp_path))
    values = {s.env_name: s.value for s in plan.settings}
    assert values["PYTHONPATH"] == PlaceRef(Place.LIB)
    assert values["TINYCTL_DATA_DIR"] == PlaceRef(Place.DATA)
    assert isinstance(values["AIRFLOW__CELERY__BROKER_URL"], EndpointUrl)
    assert plan.service("worker").replicas == 2
    assert [s.name for s in plan.services if s.one_shot] == ["db-setup", "airflow-init"]


def test_the_spec_config_wins_and_keeps_the_settings_order(tmp_path: Path) -> None:
    spec = _spec("scaffold", tmp_path)
    spec.airflow.config["core.parallelism"] = 16
    spec.airflow.config["api.port"] = 9999
    settings = build_plan(spec).settings
    names = [s.env_name for s in settings]
    assert len(names) == len(set(names))
    values = {s.env_name: s.value for s in settings}
    assert values["AIRFLOW__CORE__PARALLELISM"] == "16"
    assert values["AIRFLOW__API__PORT"] == "9999" and names.index("AIRFLOW__API__PORT") == 5


def test_the_project_builds_its_plan_once_with_its_identity(project: Path) -> None:
    opened = Project.open(project / "tinyctl.yaml")
    assert opened.plan is opened.plan and opened.plan.labels == ()
    identity = opened.ensure_identity()
    assert dict(opened.plan.labels)["io.tinyctl.project-id"] == identity.id
