"""Error panels wrap, never cut; data is shown as text, never read as Rich markup."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tinyctl.cli import output
from tinyctl.errors import SpecError, SpecProblem


def _render(error: SpecError, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False)
    old = output.err
    output.err = console
    try:
        output.show_error(error)
    finally:
        output.err = old
    return console.export_text()


def test_a_long_problem_is_wrapped_whole_at_80_columns() -> None:
    message = 'YAML reads the key null as an empty value (null), not as a name; quote it: "null":'
    error = SpecError(
        [SpecProblem(Path("/a/long/folder/name/tinyctl.yaml"), 34, 5, "seeds[1].null", message)]
    )
    text = _render(error, 80)
    assert "…" not in text
    flat = " ".join(line.strip("│ ").strip() for line in text.splitlines())
    assert "tinyctl.yaml:34:5" in flat and "seeds[1].null" in flat
    for word in message.split():
        assert word in flat


def test_markup_in_a_message_is_shown_as_text() -> None:
    error = SpecError([SpecProblem(Path("t.yaml"), 1, 1, "tests[0].name", "'[/x]' [bold]x")])
    assert "'[/x]' [bold]x" in _render(error, 120)


def test_data_text_neutralises_terminal_escapes() -> None:
    assert output.data_text("a\x1b[2Jb").plain == "a?[2Jb"
