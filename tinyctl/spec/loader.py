"""Read `tinyctl.yaml` into a `Spec`, or raise one `SpecError` listing every problem at once.

Each problem is located as `file:line:col  path.to.key  message`: YAML syntax errors by the
parser's mark, model errors by mapping pydantic's error location back to the YAML node it came
from, and cross-field problems by `tinyctl.spec.checks`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tinyctl.errors import SpecError, SpecProblem
from tinyctl.spec.models import PATTERN_HELP, Spec
from tinyctl.spec.yaml_positions import KEY_MARK, Positions, YamlLoadError, load_with_positions

DEFAULT_SPEC = Path("tinyctl.yaml")


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec together with where it came from; relative paths resolve against `root`."""

    spec: Spec
    file: Path
    positions: Positions
    warnings: tuple[SpecProblem, ...] = ()

    @property
    def root(self) -> Path:
        return self.file.parent

    def path(self, relative: str) -> Path:
        """A path written in the spec, resolved against the spec's folder."""
        return (self.root / relative).resolve()

    @property
    def state_dir(self) -> Path:
        return self.path(self.spec.project.state_dir)

    def locate(self, *path: Any) -> tuple[int, int]:
        return locate(self.positions, path)


def format_path(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def locate(positions: Positions, path: tuple[Any, ...]) -> tuple[int, int]:
    """The position of the deepest node of `path` that exists in the YAML."""
    path = tuple(path)
    while path:
        if path in positions:
            return positions[path]
        path = path[:-1]
    return positions.get((), (1, 1))


def read_spec_text(file: Path) -> str:
    if not file.exists():
        raise SpecError(
            [SpecProblem(file, 0, 0, "", "no such file")],
            hint="Run `tinyctl init` to create a project here, or point at one with --spec PATH.",
        )
    if file.is_dir():
        raise SpecError(
            [SpecProblem(file, 0, 0, "", "is a folder, not a spec file")],
            hint=f"Use --spec {file / DEFAULT_SPEC}.",
        )
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise SpecError(
            [SpecProblem(file, 0, 0, "", f"cannot be read: {error.strerror}")]
        ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SpecError(
            [SpecProblem(file, line, 0, "", "is not UTF-8 text; save it as UTF-8")]
        ) from None


def _model_for(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that describes the mapping found at `path`, to suggest key names."""
    model: Any = Spec
    for part in path:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields:
            return None
        field = next((f for name, f in fields.items() if part in (name, f.alias)), None)
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _key_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _message(error: dict[str, Any], path: tuple[Any, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = path[-1]
        model = _model_for(path[:-1])
        message = f"unknown key {key!r}"
        if model is not None:
            names = _key_names(model)
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
            else:
                message += f" (allowed here: {', '.join(names)})"
        return message
    if kind == "missing":
        return f"missing required key {path[-1]!r}"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind == "string_pattern_mismatch":
        pattern = error["ctx"]["pattern"]
        message = f"{error['input']!r} is not {PATTERN_HELP.get(pattern, 'of the form ' + pattern)}"
    value = error.get("input")
    if (
        kind != "string_pattern_mismatch"
        and not isinstance(value, dict | list)
        and "(got " not in message
        and kind not in ("value_error", "assertion_error")
    ):
        message += f" (got {value!r})"
    return message


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union/validator branch names so the path matches the YAML."""
    return tuple(
        part
        for part in loc
        if not (
            isinstance(part, str)
            and ("[" in part or part in ("str", "int", "float", "bool", "list[str]"))
        )
    )


def validation_problems(
    file: Path, error: ValidationError, positions: Positions
) -> list[SpecProblem]:
    problems: dict[tuple[Any, ...], SpecProblem] = {}
    for item in error.errors(include_url=False):
        path = _clean_loc(tuple(item["loc"]))
        if item["type"] == "extra_forbidden":
            line, col = positions.get((*path, KEY_MARK)) or locate(positions, path)
        elif item["type"] == "missing":
            line, col = locate(positions, path[:-1])
        else:
            line, col = locate(positions, path)
        message = _message(item, path)
        key = (path, message)
        problems.setdefault(key, SpecProblem(file, line, col, format_path(path), message))
    # A union (e.g. `sql: str | list[str]`) reports one error per branch: keep the first per path.
    seen: set[tuple[Any, ...]] = set()
    result = []
    for (path, _message_text), problem in problems.items():
        if path in seen:
            continue
        seen.add(path)
        result.append(problem)
    return result


def parse_spec(text: str, file: Path) -> tuple[Spec, Positions]:
    """YAML text -> a validated `Spec`, without the cross-field checks that touch the disk."""
    try:
        data, positions = load_with_positions(text)
    except YamlLoadError as error:
        raise SpecError(
            [
                SpecProblem(file, p.line, p.column, format_path(p.path), p.message)
                for p in error.problems
            ]
        ) from None
    if data is None:
        raise SpecError(
            [SpecProblem(file, 0, 0, "", "the spec is empty")],
            hint="Run `tinyctl init` for a working example, or `tinyctl schema` for every key.",
        )
    if not isinstance(data, dict):
        line, col = positions.get((), (1, 1))
        raise SpecError(
            [
                SpecProblem(
                    file,
                    line,
                    col,
                    "",
                    f"the spec must be a mapping of keys (project:, postgres:, ...), not a {type(data).__name__}",
                )
            ]
        )
    try:
        spec = Spec.model_validate(data)
    except ValidationError as error:
        raise SpecError(validation_problems(file, error, positions)) from None
    return spec, positions


def load_spec(file: Path = DEFAULT_SPEC, *, check_files: bool = True) -> LoadedSpec:
    """Load, validate and cross-check a spec file. Raises `SpecError`; never writes anything."""
    from tinyctl.spec.checks import cross_check  # checks import the loader's helpers

    file = Path(file).absolute()
    text = read_spec_text(file)
    spec, positions = parse_spec(text, file)
    loaded = LoadedSpec(spec=spec, file=file, positions=positions)
    problems = cross_check(loaded, check_files=check_files)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SpecError(errors)
    return LoadedSpec(spec=spec, file=file, positions=positions, warnings=tuple(problems))
