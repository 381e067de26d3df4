"""The Jinja environment every target renders its templates with (`templates/`), and the
quoting filters of the formats they write: Compose YAML, env files, SQL, shell.

Targets only: the plan is rendered here, never decided (a template holds no decision of its own).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from tinyctl.errors import BadInput
from tinyctl.plan.model import Bootstrap
from tinyctl.resources import templates_dir

if TYPE_CHECKING:
    import jinja2


def compose_str(value: Any) -> str:
    """A YAML double-quoted scalar that Compose will not interpolate (`$` -> `$$`)."""
    return json.dumps(str(value)).replace("$", "$$")


_ENV_UNSAFE = {"'", "\x7f", "\x85", "\u2028", "\u2029"}


def env_value(value: Any, key: str = "a value") -> str:
    """A single-quoted env_file value: Compose takes it literally (no interpolation).

    Only non-secret settings are written to env files (secrets are files of their own), and the
    spec refuses what cannot be written; a value that still cannot be is refused by name.
    """
    text = str(value)
    if any(c in _ENV_UNSAFE or ord(c) < 32 for c in text) or text.endswith("\\"):
        raise BadInput(
            f"{key} cannot be written to an env file: it contains a single quote or a control character, or ends with a backslash",
            hint="Remove the quote or line break from the value in tinyctl.yaml.",
        )
    return f"'{text}'"


def env_file(title: str, values: Mapping[str, str]) -> bytes:
    lines = [f"# {title}", "# Written by `tinyctl render`; edits are overwritten. Do not commit."]
    lines += [f"{key}={env_value(value, key)}" for key, value in values.items()]
    return ("\n".join(lines) + "\n").encode()


def sql_ident(name: Any) -> str:
    """A quoted SQL identifier: reserved words (user, order, select) stay names."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


@cache
def environment() -> jinja2.Environment:
    import jinja2  # lazy: ~20 ms that only commands which render pay (the runtime imports this module)

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = compose_str
    env.filters["envq"] = env_value
    env.filters["ident"] = sql_ident
    env.filters["lit"] = sql_literal
    env.filters["sh"] = shlex.quote
    env.filters["json"] = lambda value: json.dumps(value, sort_keys=True)
    env.filters["rstrip"] = lambda value: str(value).rstrip()
    return env


def render_template(name: str, context: Mapping[str, Any]) -> bytes:
    import jinja2  # lazy: as in environment()

    try:
        return environment().get_template(name).render(context).encode()
    except jinja2.UndefinedError as error:  # a template bug, not user input: keep the traceback
        raise RuntimeError(f"template {name} uses an undefined value: {error}") from error


def bootstrap_script(bootstrap: Bootstrap, *, secrets_dir: str, host: str, port: int) -> bytes:
    """The database bootstrap (shared by every target that runs it as a script): the plan's
    databases, roles and grants; `secrets_dir` is where this target's processes read the
    database's secret files; `host`/`port` the server it reaches by default."""
    return render_template(
        "postgres/bootstrap.sh.j2",
        {"bootstrap": bootstrap, "secrets_dir": secrets_dir, "host": host, "port": port},
    )


def database_env(bootstrap: Bootstrap, secrets_dir: str) -> dict[str, str]:
    """The environment the database's processes and the bootstrap read (the postgres image's
    convention): the superuser, and where its password file is. No secret in it."""
    return {
        "POSTGRES_USER": bootstrap.superuser,
        "POSTGRES_DB": bootstrap.superuser,
        "POSTGRES_PASSWORD_FILE": f"{secrets_dir}/{bootstrap.superuser_secret}",
    }


def helper_script(name: str) -> bytes:
    """One of tinyctl's scripts the stack's processes run (`templates/<name>`), as shipped."""
    return (templates_dir() / name).read_bytes()
