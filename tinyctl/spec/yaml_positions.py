"""Load YAML while remembering where every key and value came from.

`load_with_positions` returns plain Python data plus a map from a path tuple (e.g.
`("airflow", "users", 0, "role")`) to the (line, column) of that value, and of each key under
`path + (KEY_MARK,)`. Duplicate keys, tabs and malformed YAML become `YamlProblem`s with a
location instead of exceptions with a traceback.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[Any, ...]
Positions = dict[Path, tuple[int, int]]
KEY_MARK = "<key>"  # positions[path + (KEY_MARK,)] is where the key of `path` is written


@dataclass(frozen=True)
class YamlProblem:
    line: int
    column: int
    path: Path
    message: str


class YamlLoadError(Exception):
    def __init__(self, problems: list[YamlProblem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


# A real spec has a few hundred values; these bounds stop an alias bomb (a few lines that expand
# to billions of values) or a deeply nested document long before they cost time or memory.
MAX_VALUES = 100_000
# libyaml's parser when PyYAML was built with it (same nodes and marks, several times faster).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 64

TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
# YAML types no tinyctl value can hold (the spec is text, numbers, booleans, lists and mappings).
REFUSED_TAGS = {
    "tag:yaml.org,2002:binary": "binary data (!!binary)",
    "tag:yaml.org,2002:set": "a set (!!set)",
    "tag:yaml.org,2002:omap": "an ordered mapping (!!omap)",
    "tag:yaml.org,2002:pairs": "a list of pairs (!!pairs)",
}


def _measure(root: Node) -> tuple[int, int, YamlProblem | None]:
    """(values the document expands to, nesting depth, a problem) without expanding aliases.

    Each node is measured once (aliases share nodes), so a bomb is measured in linear time.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    in_progress: set[int] = set()
    # Iterative post-order walk: a 10,000-level document must not hit Python's recursion limit.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            sizes[key] = min(MAX_VALUES + 1, 1 + sum(sizes[id(c)] for c in children))
            depths[key] = 1 + max((depths[id(c)] for c in children), default=0)
            in_progress.discard(key)
            continue
        if key in sizes:
            continue
        if key in in_progress:
            line, col = _mark(node)
            return (
                0,
                0,
                YamlProblem(
                    line,
                    col,
                    (),
                    "an alias refers to itself (a value that contains itself); write the value out instead",
                ),
            )
        in_progress.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in in_progress:
                line, col = _mark(child)
                return (
                    0,
                    0,
                    YamlProblem(
                        line,
                        col,
                        (),
                        "an alias refers to a value that contains it (a loop); write the value out instead",
                    ),
                )
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)], depths[id(root)], None


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


class _Builder:
    def __init__(self) -> None:
        self.constructor = SafeConstructor()
        self.positions: Positions = {}
        self.problems: list[YamlProblem] = []
        self.built: dict[int, Any] = {}  # an aliased node is built once and shared

    def build(self, node: Node, path: Path) -> Any:
        self.positions.setdefault(path, _mark(node))
        key = id(node)
        if key in self.built:
            return self.built[key]
        if node.tag in REFUSED_TAGS:
            line, col = _mark(node)
            self.problems.append(
                YamlProblem(
                    line,
                    col,
                    path,
                    f"YAML reads this as {REFUSED_TAGS[node.tag]}, which no tinyctl setting takes; write plain text, a list or a mapping",
                )
            )
            value: Any = None
        elif isinstance(node, MappingNode):
            value = self._mapping(node, path)
        elif isinstance(node, SequenceNode):
            value = [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        elif isinstance(node, ScalarNode):
            value = self._scalar(node, path)
        else:  # pragma: no cover - the composer never yields others
            raise TypeError(f"unexpected YAML node {node!r}")
        self.built[key] = value
        return value

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        if node.tag == TIMESTAMP_TAG:
            line, col = _mark(node)
            self.problems.append(
                YamlProblem(
                    line,
                    col,
                    path,
                    f'YAML reads {node.value} as a date, which tinyctl cannot pass on as text; quote it: "{node.value}"',
                )
            )
            return node.value
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, float) and not math.isfinite(value):
            line, col = _mark(node)
            self.problems.append(
                YamlProblem(
                    line,
                    col,
                    path,
                    f'YAML reads {node.value} as a number that is not finite; quote it if you mean the text "{node.value}"',
                )
            )
        return value

    def _key(self, key_node: ScalarNode, path: Path) -> Any:
        """A mapping key. Every key in a spec is a name, so YAML's null/true/number keys are refused."""
        if key_node.tag == TIMESTAMP_TAG:
            return key_node.value
        key = self.constructor.construct_object(key_node, deep=True)
        if isinstance(key, str):
            return key
        text = key_node.value or "~"
        line, col = _mark(key_node)
        what = {type(None): "an empty value (null)", bool: f"the boolean {str(key).lower()}"}.get(
            type(key), "a number"
        )
        message = f'YAML reads the key {text} as {what}, not as a name; quote it: "{text}":'
        if key is None and len(path) == 2 and path[0] == "seeds":
            message += " (or write null_text:, the same option under a name YAML leaves alone)"
        self.problems.append(YamlProblem(line, col, (*path, text), message))
        return None

    def _mapping(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        try:
            self.constructor.flatten_mapping(node)  # resolve `<<: *anchor` merges
        except yaml.MarkedYAMLError as error:
            self.problems.append(_friendly(error))
            return {}
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                line, col = _mark(key_node)
                self.problems.append(
                    YamlProblem(
                        line, col, path, "a key must be a plain value, not a list or mapping"
                    )
                )
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in result:
                line, col = _mark(key_node)
                first_line = self.positions[(*path, key, KEY_MARK)][0]
                self.problems.append(
                    YamlProblem(
                        line,
                        col,
                        (*path, key),
                        f"duplicate key {key!r} (first written on line {first_line})",
                    )
                )
                continue
            self.positions[(*path, key, KEY_MARK)] = _mark(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result


# PyYAML's wording -> what it means for a person editing the file. First match wins.
_PLAIN = [
    (
        "<block end>",
        "the indentation does not line up: this line is indented differently from the keys "
        "around it (indent each key of a mapping by the same number of spaces)",
    ),
    (
        "mapping values are not allowed here",
        "a ':' where YAML does not expect one: quote a value that contains ': ', "
        "or check the indentation of this line",
    ),
    (
        "could not find expected ':'",
        "a line without 'key: value' inside a mapping (a missing ':' or a value that should be quoted)",
    ),
    ("did not find expected key", "the indentation does not line up with the keys above it"),
    (
        "did not find expected '-' indicator",
        "a list item that does not line up with the items above it",
    ),
    (
        "expected a single document",
        "the file holds more than one YAML document ('---'); keep a single one",
    ),
    ("found undefined alias", "an alias (*name) used before its anchor (&name) is defined"),
    (
        "could not determine a constructor for the tag",
        "an unknown YAML tag (!something); remove it, or quote the value",
    ),
    (
        "found unknown escape character",
        "an unknown escape (backslash) in a double-quoted value; use single quotes, or write \\\\ for a backslash",
    ),
    (
        "found unexpected end of stream",
        "the file ends inside a quoted value or a [ ] / { } block: a quote or bracket is not closed",
    ),
    (
        "'<stream end>'",
        "the file ends too early: a [ or { is not closed, or a value is missing at the end",
    ),
    (
        "expected ',' or ']'",
        "a [ ... ] list is not closed, or its items are not separated by ','",
    ),
    (
        "expected ',' or '}'",
        "a { ... } mapping is not closed, or its entries are not separated by ','",
    ),
    ("expected alphabetic or numeric character", "a value starting with '*' or '&' must be quoted"),
    (
        "that cannot start any token",
        "a value that starts with a character YAML reserves (@, `, %, ...); quote the value",
    ),
    (
        "special characters are not allowed",
        "a control character, which YAML does not allow; remove it",
    ),
]


def _plain_yaml_error(problem: str) -> str:
    for needle, plain in _PLAIN:
        if needle in problem:
            found = re.search(r"#x[0-9a-f]{4}", problem)
            return plain + (f" ({found.group(0)})" if found and "control" in plain else "")
    return f"this is not valid YAML ({problem})"


def _friendly(error: yaml.MarkedYAMLError) -> YamlProblem:
    mark = error.problem_mark or error.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    problem = error.problem or str(error)
    if "'\\t'" in problem or "\\t" in problem:
        message = "a tab character; YAML indents with spaces only (replace the tab with spaces)"
    else:
        message = _plain_yaml_error(f"{error.context or ''} {problem}")
        if (
            "line up" in message
            and error.context_mark
            and error.problem_mark
            and error.context_mark.line != error.problem_mark.line
        ):
            message += f" (the block starts on line {error.context_mark.line + 1})"
    return YamlProblem(line, col, (), message)


def _check_depth(text: str) -> None:
    """Refuse a deeply nested document from the event stream, before the (recursive) composer."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line, col = event.start_mark.line + 1, event.start_mark.column + 1
                    raise YamlLoadError(
                        [
                            YamlProblem(
                                line,
                                col,
                                (),
                                f"the YAML is nested more than {MAX_DEPTH} levels deep; a spec needs far fewer",
                            )
                        ]
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # a syntax error: the parse that follows reports it


def load_with_positions(text: str) -> tuple[Any, Positions]:
    """Parse one YAML document. Raises `YamlLoadError` with every problem it can locate."""
    try:
        _check_depth(text)
        try:
            node = yaml.compose(text, Loader=_LOADER)
        except yaml.YAMLError:  # report it with the pure-Python parser's marks and wording
            node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        raise YamlLoadError([_friendly(error)]) from None
    except yaml.YAMLError as error:  # e.g. a reader error on odd bytes
        raise YamlLoadError([YamlProblem(0, 0, (), _plain_yaml_error(str(error)))]) from None
    except RecursionError:  # the composer recurses once per nesting level
        raise YamlLoadError(
            [YamlProblem(0, 0, (), f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)")]
        ) from None
    if node is None:
        return None, {}
    size, depth, problem = _measure(node)
    if problem is not None:
        raise YamlLoadError([problem])
    if depth > MAX_DEPTH:
        raise YamlLoadError(
            [
                YamlProblem(
                    1,
                    1,
                    (),
                    f"the YAML is nested {depth} levels deep; a spec needs far fewer (at most {MAX_DEPTH})",
                )
            ]
        )
    if size > MAX_VALUES:
        raise YamlLoadError(
            [
                YamlProblem(
                    1,
                    1,
                    (),
                    f"the YAML expands to more than {MAX_VALUES:,} values (aliases repeated inside aliases?); write the values out",
                )
            ]
        )
    builder = _Builder()
    try:
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as error:  # a value the constructor rejects, e.g. a bad timestamp
        raise YamlLoadError([_friendly(error)]) from None
    if builder.problems:
        raise YamlLoadError(builder.problems)
    return data, builder.positions
