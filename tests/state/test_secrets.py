from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from tinyctl.errors import BadInput
from tinyctl.spec import load_spec
from tinyctl.state.secrets import INTERNAL_USER, env_name, load_secrets, required_names


def test_generated_once_private_and_strong(project: Path) -> None:
    spec = load_spec(project / "tinyctl.yaml").spec
    state = project / ".tinyctl"
    secrets = load_secrets(state / "secrets.json", spec, environ={})
    assert set(secrets.generated) == set(required_names(spec))
    assert f"user_{INTERNAL_USER}_password" in secrets.values
    assert stat.S_IMODE(secrets.file.stat().st_mode) == 0o600
    assert len(base64.urlsafe_b64decode(secrets["fernet_key"])) == 32
    assert len(secrets["jwt_secret"]) >= 64
    again = load_secrets(state / "secrets.json", spec, environ={})
    assert again.generated == () and dict(again.values) == dict(secrets.values)


def test_environment_overrides_without_storing(project: Path) -> None:
    spec = load_spec(project / "tinyctl.yaml").spec
    state = project / ".tinyctl"
    load_secrets(state / "secrets.json", spec, environ={})
    secrets = load_secrets(
        state / "secrets.json", spec, environ={env_name("role_etl_password"): "from-env"}
    )
    assert env_name("role_etl_password") == "TINYCTL_SECRET_ROLE_ETL_PASSWORD"
    assert secrets.role_password("etl") == "from-env"
    assert "from-env" not in (state / "secrets.json").read_text()


def test_loose_permissions_are_tightened(project: Path) -> None:
    spec = load_spec(project / "tinyctl.yaml").spec
    state = project / ".tinyctl"
    file = load_secrets(state / "secrets.json", spec, environ={}).file
    file.chmod(0o644)
    load_secrets(state / "secrets.json", spec, environ={})
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_corrupt_or_missing_secrets_are_reported(project: Path) -> None:
    spec = load_spec(project / "tinyctl.yaml").spec
    state = project / ".tinyctl"
    with pytest.raises(BadInput, match="not been generated"):
        load_secrets(state / "secrets.json", spec, environ={}, create=False)
    state.mkdir()
    (state / "secrets.json").write_text("{not json")
    with pytest.raises(BadInput, match="not readable JSON"):
        load_secrets(state / "secrets.json", spec, environ={})
    (state / "secrets.json").write_text(json.dumps({"fernet_key": 1}))
    with pytest.raises(BadInput, match="map secret names to strings"):
        load_secrets(state / "secrets.json", spec, environ={})
