"""Command-line habits applied before Typer parses: the spec as an argument, and `-f`.

- `--spec` has one short flag, `-s`, that no command uses for anything else. `-f` was `--spec`
  before and collided with `logs -f/--follow`: outside `logs` (and the commands that pass their
  arguments on: `airflow`, `pytest`) an `-f` is still read as `-s`, with a warning.
- Every command that takes `--spec` also takes the spec as an argument: the first argument that
  is a YAML file with a top-level `project:` key (what every tinyctl spec has) is the spec,
  wherever it stands after the command. A DAG folder's own YAML (dynamic-DAG configs) never has
  that key, so `deploy-dags dags/config.yaml` keeps meaning the file. Commands that pass their
  arguments on (`airflow`, `pytest`) take the spec only as `-s` before their name.
"""

from __future__ import annotations

import re
from pathlib import Path

from typer.core import TyperGroup

from tinyctl.cli import output

PASSTHROUGH = {"airflow", "pytest"}
ROOT_VALUE_OPTIONS = {"--spec", "-s", "-f"}
SPEC_KEY = re.compile(rb"^project\s*:", re.MULTILINE)


def is_spec_file(arg: str) -> bool:
    if not arg.endswith((".yaml", ".yml")):
        return False
    path = Path(arg)
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError:
        return False
    return bool(SPEC_KEY.search(head))


def _value_options(command) -> tuple[set[str], bool]:
    """Option names of `command` that take a value, and whether it has a --spec option."""
    names: set[str] = set()
    has_spec = False
    for param in getattr(command, "params", []):
        opts = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
        if not any(o.startswith("-") for o in opts):
            continue
        if "--spec" in opts:
            has_spec = True
        if not getattr(param, "is_flag", False) and not getattr(param, "count", False):
            names.update(o for o in opts if o.startswith("-"))
    return names, has_spec


def rewrite(args: list[str], group) -> tuple[list[str], list[str]]:
    """(argv for Typer, warnings to show)."""
    warnings: list[str] = []
    out: list[str] = []
    i = 0
    # Root options, before the command.
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        if arg == "-f":
            warnings.append("-f for --spec is deprecated (it is `logs --follow`); use -s")
            arg = "-s"
        out.append(arg)
        if arg in ROOT_VALUE_OPTIONS and i + 1 < len(args):
            out.append(args[i + 1])
            i += 1
        i += 1
    if i >= len(args):
        return out, warnings
    name = args[i]
    out.append(name)
    rest = args[i + 1 :]
    command = group.commands.get(name) if hasattr(group, "commands") else None
    if command is None or name in PASSTHROUGH:
        return out + rest, warnings
    value_options, has_spec = _value_options(command)
    if not has_spec:
        return out + rest, warnings
    given_spec = any(a in ("--spec", "-s", "-f") or a.startswith("--spec=") for a in rest)
    j = 0
    while j < len(rest):
        arg = rest[j]
        if arg == "--":
            out += rest[j:]
            break
        if arg == "-f" and name != "logs":
            warnings.append("-f for --spec is deprecated (it is `logs --follow`); use -s")
            arg = "-s"
        if arg.startswith("-"):
            out.append(arg)
            if arg in value_options and "=" not in arg and j + 1 < len(rest):
                out.append(rest[j + 1])
                j += 1
        elif not given_spec and is_spec_file(arg):
            out += ["--spec", arg]
            given_spec = True
        else:
            out.append(arg)
        j += 1
    return out, warnings


class TinyctlGroup(TyperGroup):
    """The root group: applies `rewrite` to its arguments before parsing them."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:  # not while completing
            args, warnings = rewrite(list(args), self)
            if warnings:
                for warning in dict.fromkeys(warnings):
                    output.warn(warning)
        return super().parse_args(ctx, args)
