"""Everything tinyctl prints goes through here: results on stdout, errors and progress on stderr."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tinyctl.errors import SpecError, TinyctlError

_width = int(os.environ["TINYCTL_WIDTH"]) if os.environ.get("TINYCTL_WIDTH") else None
out = Console(highlight=False, soft_wrap=False, width=_width)
err = Console(stderr=True, highlight=False, width=_width)


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def print_json_line(data: Any) -> None:
    """One JSON document on one line (a stream of events, e.g. `deploy-dags --watch --json`)."""
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def spec_problems_table(error: SpecError) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column("where", style="bold", no_wrap=True)
    table.add_column("key", style="cyan", no_wrap=True)
    table.add_column("problem", overflow="fold")
    for problem in error.problems:
        table.add_row(problem.location(), problem.path or "(file)", problem.message)
    return table


def show_error(error: TinyctlError) -> None:
    """A one-screen panel: what failed, the details, and what to do."""
    parts: list[Any] = [Text(error.message, style="bold")]
    if isinstance(error, SpecError):
        parts = [spec_problems_table(error)]
    if error.details:
        parts.append(Text(error.details.rstrip()))
    if error.hint:
        parts.append(Text.from_markup(f"[green]Fix:[/green] {escape(error.hint)}"))
    from rich.console import Group

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
