"""Load YAML while remembering where every key and value came from.

`load_with_positions` returns plain Python data plus a map from a path tuple (e.g.
`("airflow", "users", 0, "role")`) to the (line, column) of that value, and of each key under
`path + (KEY_MARK,)`. Duplicate keys, tabs and malformed YAML become `YamlProblem`s with a
location instead of exceptions with a traceback.
"""

from __future__ import annotations

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


class _Builder:
    def __init__(self) -> None:
        self.constructor = SafeConstructor()
        self.positions: Positions = {}
        self.problems: list[YamlProblem] = []

    def build(self, node: Node, path: Path) -> Any:
        self.positions[path] = _mark(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, ScalarNode):
            return self.constructor.construct_object(node, deep=True)
        raise TypeError(
            f"unexpected YAML node {node!r}"
        )  # pragma: no cover - composer never yields others

    def _mapping(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        self.constructor.flatten_mapping(node)  # resolve `<<: *anchor` merges
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
            key = self.constructor.construct_object(key_node, deep=True)
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


def _friendly(error: yaml.MarkedYAMLError) -> YamlProblem:
    mark = error.problem_mark or error.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    problem = error.problem or str(error)
    if "'\\t'" in problem or "\\t" in problem:
        message = "a tab character; YAML indents with spaces only (replace the tab with spaces)"
    else:
        message = f"malformed YAML: {problem}"
        if error.context:
            message += f" ({error.context}"
            if (
                error.context_mark
                and error.problem_mark
                and error.context_mark.line != error.problem_mark.line
            ):
                message += f" on line {error.context_mark.line + 1}"
            message += ")"
    return YamlProblem(line, col, (), message)


def load_with_positions(text: str) -> tuple[Any, Positions]:
    """Parse one YAML document. Raises `YamlLoadError` with every problem it can locate."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        raise YamlLoadError([_friendly(error)]) from None
    except yaml.YAMLError as error:  # e.g. a second document, a reader error on odd bytes
        raise YamlLoadError([YamlProblem(0, 0, (), f"malformed YAML: {error}")]) from None
    if node is None:
        return None, {}
    builder = _Builder()
    try:
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as error:  # a value the constructor rejects, e.g. a bad timestamp
        raise YamlLoadError([_friendly(error)]) from None
    if builder.problems:
        raise YamlLoadError(builder.problems)
    return data, builder.positions
