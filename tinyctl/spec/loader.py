"""Read `tinyctl.yaml` into a `Spec`, or raise one `SpecError` listing every problem at once.

Each problem is located as `file:line:col  path.to.key  message`: YAML syntax errors by the
parser's mark, model errors by mapping pydantic's error location back to the YAML node it came
from, and cross-field problems by `tinyctl.spec.checks`.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tinyctl.errors import SpecError, SpecProblem
from tinyctl.spec.checks import cross_check
from tinyctl.spec.loaded import LoadedSpec, format_path, locate
from tinyctl.spec.models import PATTERN_HELP, Spec
from tinyctl.spec.yaml_positions import KEY_MARK, Positions, YamlLoadError, load_with_positions

DEFAULT_SPEC = Path("tinyctl.yaml")


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


def _field_for(path: tuple[Any, ...]) -> Any:
    """The pydantic FieldInfo of the key at `path`, if the models describe it."""
    if not path or isinstance(path[-1], int):
        return None
    model = _model_for(tuple(p for p in path[:-1]))
    if model is None:
        return None
    return next((f for name, f in model.model_fields.items() if path[-1] in (name, f.alias)), None)


def _example(path: tuple[Any, ...], fallback: str) -> str:
    field = _field_for(path)
    if field is not None:
        if field.examples:
            return _yaml_scalar(field.examples[0])
        default = field.default
        if isinstance(default, str | int | float | bool) and default not in ("", None):
            return _yaml_scalar(default)
    return fallback


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _what(value: Any, raw: str | None) -> str:
    """How YAML read a value, in words."""
    shown = raw if raw else repr(value)
    if value is None:
        return f"{shown or 'it'} is empty (null)"
    if isinstance(value, bool):
        return f"YAML reads {shown} as the yes/no value {str(value).lower()}"
    if isinstance(value, int | float):
        return f"YAML reads {shown} as a number"
    if isinstance(value, str):
        return f"{value!r} is text"
    if isinstance(value, list):
        return "it is a list"
    if isinstance(value, dict):
        return "it is a mapping"
    return f"it is {type(value).__name__}"


_TEXT = '"..."'


def _message(error: dict[str, Any], path: tuple[Any, ...], raw: str | None = None) -> str:
    """One pydantic error as a sentence: what the key takes, an example, what it got."""
    kind = error["type"]
    key = next((str(p) for p in reversed(path) if not isinstance(p, int)), "this value")
    if kind == "extra_forbidden":
        return _unknown_key(path)
    if kind == "missing":
        return f"missing required key {path[-1]!r}"
    return (
        _wrong_type(kind, key, path, error.get("input"), raw)
        or _out_of_bounds(kind, key, path, error)
        or _pydantic_words(kind, error)
    )


def _unknown_key(path: tuple[Any, ...]) -> str:
    message = f"unknown key {path[-1]!r}"
    model = _model_for(path[:-1])
    if model is None:
        return message
    names = _key_names(model)
    close = difflib.get_close_matches(str(path[-1]), names, n=1, cutoff=0.6)
    if close:
        return message + f"; did you mean {close[0]!r}?"
    return message + f" (allowed here: {', '.join(names)})"


def _wrong_type(
    kind: str, key: str, path: tuple[Any, ...], value: Any, raw: str | None
) -> str | None:
    """A value of the wrong type: what the key takes, with an example."""
    if not kind.endswith(("_type", "_parsing", "_from_float")):
        return None
    got = _what(value, raw)
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{key} takes a whole number, e.g. {key}: {_example(path, '4')}; {got}"
    if kind in ("float_type", "float_parsing"):
        return f"{key} takes a number, e.g. {key}: {_example(path, '1.5')}; {got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"{key} takes true or false, e.g. {key}: {_example(path, 'true')}; {got}"
    if kind == "string_type":
        if isinstance(value, bool | int | float) and value is not None:
            text = raw or _yaml_scalar(value)
            return f'{key} takes text; {got}, so quote it: {key}: "{text}"'
        return f"{key} takes text, e.g. {key}: {_example(path, _TEXT)}; {got}"
    if kind == "list_type":
        return f"{key} takes a list (one '- item' per line, or [a, b]); {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return f"{key} takes a mapping (indented 'key: value' lines, or {{a: 1}}); {got}"
    return None


_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}


def _out_of_bounds(kind: str, key: str, path: tuple[Any, ...], error: dict[str, Any]) -> str | None:
    """A value of the right type outside what the key allows: choices, lengths, bounds."""
    value, ctx = error.get("input"), error.get("ctx", {})
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        choices = [c.strip(" '") for c in expected.replace(" or ", ", ").split(",")]
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{key} must be one of {expected}; got {value!r}{hint}"
    if kind == "too_short":
        return f"{key} needs at least {ctx['min_length']} item(s)"
    if kind == "too_long":
        return f"{key} takes at most {ctx['max_length']} item(s)"
    if kind == "string_too_short":
        return f"{key} cannot be empty"
    if kind == "string_too_long":
        limit = ctx["max_length"]
        noun = "character" if limit == 1 else "characters"
        return f"{key} takes at most {limit} {noun}; got {len(str(value))}"
    if kind in _BOUNDS:
        words, name = _BOUNDS[kind]
        bound = f"{words} {ctx.get(name)}"
        return f"{key} must be {bound}, e.g. {key}: {_example(path, '1')}; got {value!r}"
    if kind == "string_pattern_mismatch":
        pattern = ctx["pattern"]
        return f"{value!r} is not {PATTERN_HELP.get(pattern, 'of the form ' + pattern)}"
    return None


def _pydantic_words(kind: str, error: dict[str, Any]) -> str:
    """Any other error: pydantic's message (a validator's own words), with the value."""
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if (
        not isinstance(value, dict | list)
        and "(got " not in message
        and kind not in ("value_error", "assertion_error")
    ):
        message += f" (got {value!r})"
    return message


def _raw_at(text: str, line: int, col: int) -> str | None:
    """The plain scalar written at (line, col), as typed (e.g. 3.10, not 3.1)."""
    lines = text.splitlines()
    if not (0 < line <= len(lines)):
        return None
    rest = lines[line - 1][col - 1 :]
    for stop in (" #", ",", "]", "}"):
        cut = rest.find(stop)
        if cut >= 0:
            rest = rest[:cut]
    return rest.strip() or None


def _scalar_union_paths(items: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """Paths where a `text | number | bool` value got something else (one error per branch)."""
    branches: dict[tuple[Any, ...], set[str]] = {}
    for item in items:
        loc = tuple(item["loc"])
        if loc and loc[-1] in ("str", "int", "float", "bool") and item["type"].endswith("_type"):
            branches.setdefault(_clean_loc(loc), set()).add(loc[-1])
    return {path for path, kinds in branches.items() if len(kinds) >= 3}


def _clean_loc(loc: tuple[Any, ...], positions: Positions | None = None) -> tuple[Any, ...]:
    """Drop pydantic's union/validator branch names so the path matches the YAML. A part that
    is a key of the file at that place is the user's key (`'[/x]': 1`), never a branch name."""
    path: tuple[Any, ...] = ()
    for part in loc:
        branch = isinstance(part, str) and (
            "[" in part or part in ("str", "int", "float", "bool", "list[str]")
        )
        if branch and not (positions is not None and (*path, part) in positions):
            continue
        path = (*path, part)
    return path


def validation_problems(
    file: Path, error: ValidationError, positions: Positions, text: str = ""
) -> list[SpecProblem]:
    problems: dict[tuple[Any, ...], SpecProblem] = {}
    items = error.errors(include_url=False)
    scalar_union = _scalar_union_paths(items)
    for item in items:
        path = _clean_loc(tuple(item["loc"]), positions)
        if item["type"] == "extra_forbidden":
            line, col = positions.get((*path, KEY_MARK)) or locate(positions, path)
        elif item["type"] == "missing":
            line, col = locate(positions, path[:-1])
        else:
            line, col = locate(positions, path)
        raw = _raw_at(text, line, col) if path in positions else None
        if path in scalar_union:
            key = next((str(p) for p in reversed(path) if not isinstance(p, int)), "this value")
            message = f"{key} takes one value (text, a number or true/false); {_what(item.get('input'), raw)}"
        else:
            message = _message(item, path, raw)
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
        raise _ModelErrors(
            validation_problems(file, error, positions, text), data, positions, error
        ) from None
    return spec, positions


class _ModelErrors(SpecError):
    """Model problems, plus what a second, cross-field pass needs (the parsed data)."""

    def __init__(
        self,
        problems: list[SpecProblem],
        data: dict[str, Any],
        positions: Positions,
        error: ValidationError,
    ):
        super().__init__(problems)
        self.data, self.positions, self.error = data, positions, error


_DROP = object()
# Placeholders for required values, so the cross-field pass can run when they are wrong.
_REQUIRED_STANDINS: dict[tuple[Any, ...], Any] = {("project",): {"name": "placeholder"}}


def _bad_paths(error: ValidationError, positions: Positions) -> set[tuple[Any, ...]]:
    """The values to leave out so the rest of the spec validates."""
    bad = set()
    for item in error.errors(include_url=False):
        path = _clean_loc(tuple(item["loc"]), positions)
        if item["type"] == "missing":  # drop the item that lacks a key
            path = path[:-1]
        bad.add(path)
    return bad


def _prune(
    value: Any,
    old: tuple[Any, ...],
    new: tuple[Any, ...],
    bad: set[tuple[Any, ...]],
    mapping: dict[tuple[Any, ...], tuple[Any, ...]],
) -> Any:
    if old in bad:
        return _REQUIRED_STANDINS.get(old, _DROP)
    mapping[new] = old
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            kept = _prune(item, (*old, key), (*new, key), bad, mapping)
            if kept is not _DROP:
                out[key] = kept
        return out
    if isinstance(value, list):
        out_list: list[Any] = []
        for index, item in enumerate(value):
            kept = _prune(item, (*old, index), (*new, len(out_list)), bad, mapping)
            if kept is not _DROP:
                out_list.append(kept)
        return out_list
    return value


def _partial_spec(
    data: dict[str, Any], positions: Positions, error: ValidationError
) -> tuple[Spec, Positions, dict[str, str]] | None:
    """The spec without its invalid values (for the cross-field pass), or None if none is left.

    Returns the spec, positions keyed by its own paths, and its path names -> the file's.
    """
    mapping: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    current: Any = data
    for _round in range(4):
        mapping_round: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        current = _prune(current, (), (), _bad_paths(error, positions), mapping_round)
        if current is _DROP or not isinstance(current, dict):
            return None
        mapping = {new: mapping.get(old, old) for new, old in mapping_round.items()}
        try:
            spec = Spec.model_validate(current)
        except ValidationError as again:
            error = again
            continue
        new_positions: Positions = {}
        for new, old in mapping.items():
            if old in positions:
                new_positions[new] = positions[old]
            if (*old, KEY_MARK) in positions:
                new_positions[(*new, KEY_MARK)] = positions[(*old, KEY_MARK)]
        names = {format_path(new): format_path(old) for new, old in mapping.items()}
        return spec, new_positions, names
    return None


def load_spec(file: Path = DEFAULT_SPEC, *, check_files: bool = True) -> LoadedSpec:
    """Load, validate and cross-check a spec file. Raises `SpecError`; never writes anything."""
    file = Path(file).absolute()
    text = read_spec_text(file)
    try:
        spec, positions = parse_spec(text, file)
    except _ModelErrors as error:
        # Report the cross-field problems of the valid part in the same pass.
        partial = _partial_spec(error.data, error.positions, error.error)
        if partial is None:
            raise SpecError(error.problems) from None
        spec, positions, names = partial
        loaded = LoadedSpec(spec=spec, file=file, positions=positions)
        flagged = {p.path for p in error.problems}
        extra = []
        for problem in cross_check(loaded, check_files=check_files):
            path = names.get(problem.path, problem.path)
            if problem.severity != "error" or any(
                path == f or path.startswith((f + ".", f + "[")) for f in flagged if f
            ):
                continue
            extra.append(dataclasses.replace(problem, path=path))
        raise SpecError([*error.problems, *extra]) from None
    loaded = LoadedSpec(spec=spec, file=file, positions=positions)
    problems = cross_check(loaded, check_files=check_files)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SpecError(errors)
    return LoadedSpec(spec=spec, file=file, positions=positions, warnings=tuple(problems))
