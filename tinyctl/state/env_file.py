"""A dotenv file (`.env`, as Docker Compose and the Astro CLI read it): `KEY=value` lines.

`#` starts a comment line; `export KEY=value` is accepted; a value may be quoted with '...'
(taken literally) or "..." (with \\n, \\" and \\\\ escapes); an unquoted value ends at ` #`.
"""

from __future__ import annotations

import re
from pathlib import Path

from tinyctl.errors import BadInput

KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def parse_env_text(text: str, source: str = ".env") -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not KEY.fullmatch(key):
            raise BadInput(
                f"{source}:{number}: {raw.strip()[:60]!r} is not a KEY=value line",
                hint="Write one KEY=value per line (# starts a comment).",
            )
        values[key] = _value(value.strip())
    return values


def _value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        return re.sub(r"\\([n\"\\])", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), inner)
    match = re.search(r"\s#", value)
    return (value[: match.start()] if match else value).strip()


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables of a dotenv file; {} when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"cannot read {path}: {error}") from None
    return parse_env_text(text, str(path))


def quote_env_value(value: str) -> str:
    """A value written so that `parse_env_text` (and Compose) read it back unchanged."""
    if re.fullmatch(r"[A-Za-z0-9_./:@%+,-]*", value):
        return value
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
