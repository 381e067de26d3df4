"""Hostile and careless specs for the fuzz suite: the scaffold's spec, mutated by hypothesis.

A case is YAML text plus environment overrides of secrets. `check_case` runs `validate` and,
when it passes, `render` through the real CLI (in-process) and asserts the invariants every
input must keep. Shared by the fast suite (tests/spec/test_loader_fuzz.py) and `make fuzz`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st
from typer.testing import CliRunner

from tinyctl.cli import app, load_commands
from tinyctl.scaffold import init_project
from tinyctl.spec import load_spec
from tinyctl.spec.loaded import format_path

load_commands()  # the whole app, as `tinyctl --help` sees it

SECRET_MARK = "S3cr3tMark"  # every fuzzed secret contains it: it must never be printed

HOSTILE_TEXT = [
    "",
    " ",
    "user",
    "select",
    "order",
    "all",
    "end",
    "current_user",
    "pg_x",
    "public",
    "none",
    "a'b",
    'a"b',
    "a\nb",
    "a\rb",
    "a\tb",
    "a\x00b",
    "a\u2028b",
    "$(touch pwned)",
    "`touch pwned`",
    "; rm -rf / #",
    "${HOME}",
    "$$",
    "../../../etc",
    "/",
    "/etc/passwd",
    "data:rw",
    "x" * 300,
    "[/x]",
    "[bold]x",
    "😀",
    "é",
    "DROP TABLE x; --",
    "int); DROP TABLE x; --",
    "1; SELECT 1",
    "2026-11-31",
    "yes",
    "null",
    "~",
    "3.3",
    "-e .",
    "pandas==2.2.3\r--index-url http://x/simple",
    "my project name",
    "127.0.0.1",
    "0.0.0.0",
    "10m",
    "99999999999999999999d",
    "-5s",
    "core.auth_manager\n",
]
HOSTILE_SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    -5,
    1,
    65536,
    2**63,
    10**30,
    1.5,
    float("inf"),
    [],
    {},
    ["x"],
    {"a": 1},
]
# Raw YAML snippets a careless or hostile hand writes (replace one value's text).
RAW_VALUES = [
    "2026-11-01",
    "2026-11-31",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!foo x",
    "&a [1, *a]",
    "*undefined",
    ".nan",
    ".inf",
    "3.3",
    "0o17",
    "0x1F",
    "[" * 70 + "]" * 70,
    "{a: 1, a: 2}",
    "'unclosed",
    '"bad \\q escape"',
    "@at",
    "`tick`",
    "yes",
    "~",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def _delete(data: Any, path: tuple[Any, ...]) -> None:
    for part in path[:-1]:
        data = data[part]
    del data[path[-1]]


@dataclass
class Case:
    text: str
    secrets: dict[str, str] = field(default_factory=dict)
    description: str = ""


@st.composite
def cases(draw: st.DrawFn, base: dict[str, Any]) -> Case:
    data = json.loads(json.dumps(base))
    notes = []
    raw: tuple[tuple[Any, ...], str] | None = None
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(
            st.sampled_from(["replace", "replace", "text", "delete", "add_key", "raw", "numbers"])
        )
        try:
            if action == "delete":
                _delete(data, path)
            elif action == "replace":
                _set(data, path, draw(st.sampled_from(HOSTILE_SCALARS + HOSTILE_TEXT)))
            elif action == "text":
                _set(data, path, draw(st.text(max_size=40)))
            elif action == "numbers":
                _set(data, path, draw(st.integers(-(2**70), 2**70)))
            elif action == "add_key":
                parent = path[:-1]
                target = data
                for part in parent:
                    target = target[part]
                if isinstance(target, dict):
                    target[draw(st.sampled_from([*HOSTILE_TEXT, "null_text", "extra"]))] = draw(
                        st.sampled_from(HOSTILE_SCALARS + HOSTILE_TEXT)
                    )
            elif action == "raw":
                marker = "RAWVALUE"
                _set(data, path, marker)
                raw = (path, draw(st.sampled_from(RAW_VALUES)))
        except (KeyError, IndexError, TypeError):
            continue
        notes.append(f"{action} {path}")
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    if raw is not None:
        text = text.replace("RAWVALUE", raw[1], 1).replace("'RAWVALUE'", raw[1], 1)
    secrets = {}
    if draw(st.booleans()):
        name = draw(
            st.sampled_from(
                [
                    "POSTGRES_PASSWORD",
                    "ROLE_ETL_PASSWORD",
                    "FERNET_KEY",
                    "JWT_SECRET",
                    "API_SECRET_KEY",
                ]
            )
        )
        tail = draw(st.sampled_from(["", "'", "\r", "\n", '"', "$x", " ", "\\", "é", "=="]))
        noise = draw(st.text(max_size=8)).replace("\x00", "")  # no environment holds a NUL
        secrets[f"TINYCTL_SECRET_{name}"] = f"{SECRET_MARK}{tail}{noise}"
    return Case(text, secrets, "; ".join(notes))


def scaffold(root: Path) -> tuple[Path, dict[str, Any]]:
    init_project(root, name="fuzz", images_source="official")
    spec = root / "tinyctl.yaml"
    return spec, yaml.safe_load(spec.read_text())


def check_state_apart(spec: Path) -> Path:
    """The state folder of an accepted spec lies apart from the project's inputs: it and each
    folder the spec names (DAGs, plugins, include, data, the seeds' folders) are neither the
    same nor one inside the other, and it holds no file the spec names (itself, seeds,
    fixtures)."""
    loaded = load_spec(spec)
    s, state, root = loaded.spec, loaded.state_dir, loaded.root.resolve()
    seeds = [
        loaded.path(f) for seed in s.seeds for f in [*filter(None, [seed.csv]), *seed.sql_files]
    ]
    folders = [loaded.path(f) for f in (s.dags.path, s.plugins.path, s.include.path, s.data.path)]
    for place in folders + [f.parent for f in seeds if f.parent != root]:
        overlap = place == state or state in place.parents or place in state.parents
        assert not overlap, f"the state folder {state} and the folder {place} overlap"
    fixtures = [loaded.path(f.source) for test in s.tests for f in test.files]
    held = [f for f in [loaded.file, *seeds, *fixtures] if f == state or state in f.parents]
    assert not held, f"the state folder {state} holds the project's {held[0]}"
    return state


@dataclass
class Stats:
    examples: int = 0
    exit_codes: Counter = field(default_factory=Counter)
    slowest: float = 0.0
    slowest_case: str = ""
    accepted: int = 0

    def record(self, code: int, seconds: float, case: Case) -> None:
        self.examples += 1
        self.exit_codes[code] += 1
        if seconds > self.slowest:
            self.slowest, self.slowest_case = seconds, case.description or case.text[:80]

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "exit_codes": dict(sorted(self.exit_codes.items())),
            "accepted_and_rendered": self.accepted,
            "slowest_seconds": round(self.slowest, 3),
            "slowest_case": self.slowest_case,
        }


def _tree(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file under root (except under `skip`) -> (size, mtime_ns)."""
    found = {}
    for path in root.rglob("*"):
        if skip is not None and (skip in path.parents or path == skip):
            continue
        if path.is_file() or path.is_symlink():
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
    return found


# Compose's env-file parser reads a single-quoted value literally, except that \' escapes.
ENV_LINE = re.compile(r"[A-Z_][A-Z0-9_]*='[^'\r\n\x00]*(?<!\\)'")
MAX_SECONDS = 10.0

runner = CliRunner()


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, float]:
    old_env = {k: os.environ.get(k) for k in env}
    old_cwd = Path.cwd()
    os.environ.update(env)
    os.chdir(cwd)
    started = time.monotonic()
    try:
        result = runner.invoke(app, args, catch_exceptions=True)
    finally:
        seconds = time.monotonic() - started
        os.chdir(old_cwd)
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        raise AssertionError(
            f"`tinyctl {' '.join(args)}` crashed:\n"
            + "".join(traceback.format_exception(result.exception))
        )
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    return result.exit_code, output, seconds


def bootstrap_sql(script: str) -> list[str]:
    """The SQL of each psql heredoc in the bootstrap script, with psql's own syntax removed."""
    blocks = re.findall(r"<<'SQL'\n(.*?)\nSQL\n", script, flags=re.S)
    out = []
    for block in blocks:
        lines = []
        for line in block.splitlines():
            if line.startswith("\\"):  # \set, \if, \endif: psql meta-commands
                continue
            line = re.sub(r"\s*\\g(exec|set)\s*$", ";", line)
            line = re.sub(r":'[A-Za-z0-9_]+'", "'x'", line)
            lines.append(line)
        out.append("\n".join(lines))
    return out


def check_rendered(state: Path) -> None:
    """Files an accepted spec renders must parse: env files, the shell script, its SQL."""
    import pglast

    for name in ("airflow.env", "postgres.env"):
        for line in (state / name).read_text().splitlines():
            if line and not line.startswith("#"):
                assert ENV_LINE.fullmatch(line), f"{name}: unparseable line {line!r}"
    script = state / "postgres" / "bootstrap.sh"
    checked = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    for sql in bootstrap_sql(script.read_text()):
        pglast.parse_sql(sql)  # raises on anything PostgreSQL's own parser refuses
    compose = yaml.safe_load((state / "compose.yaml").read_text())
    assert isinstance(compose, dict) and "services" in compose


def check_case(case: Case, root: Path, spec: Path, stats: Stats) -> Path | None:
    """Validate (and render when valid) one case; assert every invariant. The state folder of
    an accepted case is returned for engine checks."""
    spec.write_text(case.text, encoding="utf-8")
    before = _tree(root.parent)
    env = {"TINYCTL_WIDTH": "100", **case.secrets}
    code, output, seconds = run_cli(["validate", "-f", str(spec)], root, env)
    stats.record(code, seconds, case)
    assert code in (0, 2), f"validate exited {code}:\n{output}"
    assert seconds < MAX_SECONDS, f"validate took {seconds:.1f} s"
    assert "Traceback" not in output
    assert SECRET_MARK not in output
    assert _tree(root.parent) == before, "validate wrote a file"
    if code != 0:
        return None
    state = check_state_apart(spec)  # the case's own: project.state_dir may be fuzzed
    before = _tree(root.parent, state)
    code, output, seconds = run_cli(["render", "-f", str(spec)], root, env)
    stats.record(code, seconds, case)
    assert code in (0, 2), f"render exited {code}:\n{output}"
    assert seconds < MAX_SECONDS, f"render took {seconds:.1f} s"
    assert "Traceback" not in output and SECRET_MARK not in output
    stored = (
        json.loads((state / "secrets.json").read_text())
        if (state / "secrets.json").exists()
        else {}
    )
    for value in stored.values():
        assert value not in output, "a stored secret was printed"
    assert _tree(root.parent, state) == before, "render wrote outside the state folder"
    if code != 0:
        return None
    stats.accepted += 1
    check_rendered(state)
    return state


RESERVED = ["user", "select", "order", "all", "end", "current_user", "table", "group", "end_"]
ODD_TEXT = [
    "$(touch pwned)",
    "`id`",
    "a'b",
    'a"b',
    "${HOME}",
    "$$",
    "[/x]",
    "é😀",
    "; rm -rf /",
    "\\",
]


@st.composite
def tame_cases(draw: st.DrawFn, base: dict[str, Any]) -> Case:
    """Hostile values in places that accept them: such specs must be accepted and render files
    that every engine parses (reserved words as SQL names, shell and markup characters as text)."""
    data = json.loads(json.dumps(base))
    pg = data["postgres"]
    names = draw(st.lists(st.sampled_from(RESERVED), min_size=3, max_size=3, unique=True))
    pg["databases"][0]["name"] = names[0]
    pg["databases"][0]["schemas"] = draw(
        st.lists(st.sampled_from(RESERVED), min_size=1, max_size=3, unique=True)
    )
    pg["roles"][0]["name"] = names[1]
    pg["roles"][1]["name"] = names[2]
    for test in data.get("tests", []):
        test.pop("database", None)
    af = data["airflow"]
    af["variables"] = {"odd": draw(st.sampled_from(ODD_TEXT)), "n": draw(st.integers(-5, 5))}
    af["config"]["webserver.instance_name"] = draw(st.sampled_from(ODD_TEXT)).replace("'", "")
    af["pools"][0]["description"] = draw(st.text(max_size=30))
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    return Case(text, {}, f"tame {names}")


# Every path field of the spec (tests/spec/test_loader_fuzz.py proves none is missing) and what
# the scaffold already holds, of each kind, for them to name (issue 25): the spec itself, its
# folders and their files, the state folder and its files once rendered, a path through a file.
PATH_FIELDS: list[tuple[Any, ...]] = [
    ("project", "state_dir"),
    ("env_file",),
    ("images", "ca_bundle"),
    ("airflow", "requirements"),
    ("airflow", "system_packages"),
    ("dags", "path"),
    ("plugins", "path"),
    ("include", "path"),
    ("data", "path"),
    ("seeds", 0, "sql"),
    ("seeds", 1, "csv"),
    ("tests", 0, "files", 0, "from"),
    ("tests", 0, "files", 0, "to"),
    ("tests", 0, "expect", 6, "expected", "file"),
]
SCAFFOLD_PLACES = [
    ".",
    "tinyctl.yaml",
    ".gitignore",
    "dags",
    "dags/staging_orders.py",
    "seeds",
    "seeds/customers.csv",
    "seeds/fx_rates.sql",
    "data",
    "data/landing",
    "data/archive",
    "data/landing/orders_2026-11-01.csv",
    "landing",
    "landing/orders_2026-11-01.csv",
    "include",
    "include/README.md",
    "plugins",
    "plugins/README.md",
    "tests",
    "tests/fixtures",
    "tests/fixtures/landing",
    "tests/fixtures/landing/orders_2026-11-01.csv",
    "tests/test_dag_integrity.py",
    "tests/expected",
    "tests/expected/daily_revenue_2026-11-01.csv",
    ".tinyctl",
    ".tinyctl/dags",
    ".tinyctl/secrets.json",
    ".tinyctl/compose.yaml",
    "tinyctl.yaml/state",
    "dags/staging_orders.py/x.csv",
    "seeds/customers.csv/landing",
    "dags/../seeds",
    ".tinyctl/../tinyctl.yaml",
]


@st.composite
def path_cases(draw: st.DrawFn, base: dict[str, Any]) -> Case:
    """One to three path fields pointed at what already exists in the scaffold: a file where a
    folder is wanted and back, the spec itself, the state folder and what it holds."""
    data = json.loads(json.dumps(base))
    fields = draw(st.lists(st.sampled_from(PATH_FIELDS), min_size=1, max_size=3, unique=True))
    notes = []
    for path in fields:
        value = draw(st.sampled_from(SCAFFOLD_PLACES))
        _set(data, path, value)
        notes.append(f"{format_path(path)}={value}")
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    return Case(text, {}, "paths " + " ".join(notes))
