"""Secret values from the environment or secrets.json: accepted or refused cleanly, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyctl.errors import BadInput
from tinyctl.spec import load_spec
from tinyctl.state.secrets import load_secrets

MARK = "Zq9-secret-value"


@pytest.mark.parametrize("tail", ["'b", '"b', "$x", "\\", "é", "==", "a b"])
def test_any_printable_password_is_accepted(project: Path, tail: str) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    value = MARK + tail
    secrets = load_secrets(
        loaded.state_dir / "secrets.json",
        loaded.spec,
        environ={"TINYCTL_SECRET_POSTGRES_PASSWORD": value},
    )
    assert secrets["postgres_password"] == value


@pytest.mark.parametrize("tail", ["\r", "\n", "\x1b[2J", "\u2028", " "])
def test_control_characters_are_refused_without_showing_the_value(project: Path, tail: str) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    with pytest.raises(BadInput) as caught:
        load_secrets(
            loaded.state_dir / "secrets.json",
            loaded.spec,
            environ={"TINYCTL_SECRET_POSTGRES_PASSWORD": MARK + tail},
        )
    shown = f"{caught.value.message} {caught.value.hint}"
    assert "TINYCTL_SECRET_POSTGRES_PASSWORD" in shown
    assert MARK not in shown


def test_a_fernet_key_that_is_not_one_is_refused(project: Path) -> None:
    loaded = load_spec(project / "tinyctl.yaml")
    with pytest.raises(BadInput, match="not a Fernet key"):
        load_secrets(
            loaded.state_dir / "secrets.json",
            loaded.spec,
            environ={"TINYCTL_SECRET_FERNET_KEY": MARK},
        )
