"""Hostile YAML: bounded in time and memory, and explained instead of crashing."""

from __future__ import annotations

import time

import pytest

from tinyctl.spec.yaml_positions import YamlLoadError, load_with_positions

BOMB = "\n".join(
    f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}" if i else "x"] * 9) + "]"
    for i in range(9)
)


def _problems(text: str) -> list[str]:
    with pytest.raises(YamlLoadError) as caught:
        load_with_positions(text)
    return [p.message for p in caught.value.problems]


def test_an_alias_bomb_is_refused_quickly() -> None:
    started = time.monotonic()
    [message] = _problems(BOMB)
    assert "expands to more than" in message
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("text", ["a: &a [1, *a]\n", "a: &a {b: *a}\n"])
def test_an_alias_loop_is_refused(text: str) -> None:
    assert "loop" in _problems(text)[0]


@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting_is_refused_without_a_recursion_error(depth: int) -> None:
    assert "nested" in _problems("a: " + "[" * depth + "]" * depth + "\n")[0]


def test_shared_aliases_are_built_once() -> None:
    data, _ = load_with_positions("a: &a {x: 1}\nb: *a\nc: *a\n")
    assert data["b"] is data["c"] == {"x": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("day: 2026-11-31\n", 'quote it: "2026-11-31"'),
        ("day: 2026-11-01\n", 'quote it: "2026-11-01"'),
        ("null: x\n", 'quote it: "null":'),
        ("on: x\n", "the boolean true"),
        ("a: !!set {x}\n", "a set"),
        ("a: .nan\n", "not finite"),
        ("a: !custom x\n", "unknown YAML tag"),
        ("a:\n  b: 1\n c: 2\n", "indentation"),
    ],
)
def test_what_yaml_did_is_said_in_plain_words(text: str, expected: str) -> None:
    assert any(expected in m for m in _problems(text)), _problems(text)
