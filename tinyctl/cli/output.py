"""Everything tinyctl prints goes through here: results on stdout, errors and progress on stderr."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tinyctl.errors import SpecError, TinyctlError

_width = int(os.environ["TINYCTL_WIDTH"]) if os.environ.get("TINYCTL_WIDTH") else None
out = Console(highlight=False, soft_wrap=False, width=_width)
err = Console(stderr=True, highlight=False, width=_width)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def data_text(value: Any, style: str = "") -> Text:
    """Text from data (a column name, a value, a log line): never read as Rich markup, and
    control characters (terminal escape sequences) shown as '?' instead of sent to the terminal."""
    return Text(_CONTROL.sub("?", str(value)), style=style)


def data_markup(value: Any) -> str:
    """Data for a markup string: escaped, control characters replaced."""
    return escape(_CONTROL.sub("?", str(value)))


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def print_json_line(data: Any) -> None:
    """One JSON document on one line (a stream of events, e.g. `deploy-dags --watch --json`)."""
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def exit_with_freshness(fresh: bool, reasons: Any, *, as_json: bool, files: str) -> None:
    """`render --check` and `k8s render --check`: whether `files` are up to date; exit 1 if not."""
    if as_json:
        print_json({"fresh": fresh, "reasons": list(reasons)})
    elif fresh:
        out.print(f"[green]✓[/green] {files} are up to date")
    else:
        out.print("[yellow]stale:[/yellow] " + escape("; ".join(reasons)))
    raise typer.Exit(0 if fresh else 1)


def spec_problems_table(error: SpecError, width: int | None = None) -> Table | Group:
    """Every problem as `file:line:col  key  message`. The message wraps; nothing is ever cut.

    When the location and key leave too little room for the message (a narrow terminal, a long
    path), each problem takes two lines instead: location and key, then the message indented.
    """
    width = width or err.width
    where = max((len(p.location()) for p in error.problems), default=0)
    key = max((len(p.path or "(file)") for p in error.problems), default=0)
    if width - 6 - where - key - 4 >= 40:
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
        table.add_column("where", style="bold", no_wrap=True, min_width=where)
        table.add_column("key", style="cyan", no_wrap=True, min_width=key)
        table.add_column("problem", overflow="fold", ratio=1)
        for problem in error.problems:
            table.add_row(  # Text, never markup: messages quote the user's values
                data_text(problem.location()),
                data_text(problem.path or "(file)"),
                data_text(problem.message),
            )
        return table
    rows: list[Any] = []
    for problem in error.problems:
        head = data_text(problem.location(), style="bold")
        head.append("  ")
        head.append_text(data_text(problem.path or "(file)", style="cyan"))
        rows.append(head)
        rows.append(Padding(data_text(problem.message), (0, 0, 0, 2)))
    return Group(*rows)


def show_error(error: TinyctlError) -> None:
    """A one-screen panel: what failed, the details, and what to do."""
    parts: list[Any] = [data_text(error.message, style="bold")]
    if isinstance(error, SpecError):
        parts = [spec_problems_table(error)]
    if error.details:
        parts.append(data_text(error.details.rstrip()))
    if error.hint:
        parts.append(Text.from_markup(f"[green]Fix:[/green] {data_markup(error.hint)}"))
    err.print(
        Panel(
            Group(*_spaced(parts)),
            title=f"[bold red]{escape(error.title)}[/bold red]",
            subtitle=f"exit code {int(error.exit_code)}",
            title_align="left",
            subtitle_align="right",
            border_style="red",
            expand=False,
        )
    )


def _spaced(parts: list[Any]) -> list[Any]:
    spaced: list[Any] = []
    for part in parts:
        if spaced:
            spaced.append(Text(""))
        spaced.append(part)
    return spaced


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {escape(message)}")


def note(message: str) -> None:
    err.print(f"[dim]{escape(message)}[/dim]")
