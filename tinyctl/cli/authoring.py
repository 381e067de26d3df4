"""The DAG author's loop: parse (no stack), run one DAG, pytest in the stack's image."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from tinyctl.cli import output
from tinyctl.cli.app import DEFAULT_SPEC, JsonOption, SpecOption, VerboseOption, command

if TYPE_CHECKING:
    from tinyctl.parse import ParsedFile
    from tinyctl.project import Project


def open_project(spec: Path, verbose: bool) -> Project:
    """The project of the spec, with --verbose echoing every external command."""
    from tinyctl.cli.app import open_spec
    from tinyctl.cli.stack import enable_echo
    from tinyctl.project import Project

    enable_echo(verbose)
    return Project(open_spec(spec))


def _step(message: str) -> None:
    output.err.print(f"[cyan]•[/cyan] {escape(message)}")


def format_parsed(item: ParsedFile) -> str:
    name = f"[bold]{escape(item.file)}[/bold]"
    if item.status == "ok":
        return f"[green]✓[/green] {name}: {escape(', '.join(item.dags))}"
    if item.status in ("no_dag", "skipped"):
        why = "parsed, defines none" if item.status == "no_dag" else "skipped by safe mode"
        return f"[dim]·[/dim] {name}: module with no DAG [dim]({why})[/dim]"
    where = f"{escape(item.file)}:{item.line}" if item.line else escape(item.file)
    text = f"[red]✗[/red] {name}: import error at [bold]{where}[/bold]: {escape(item.error or '')}"
    frames = [
        line
        for line in (item.traceback or "").strip().splitlines()[:-1]
        if line.strip() and "<frozen" not in line and "_call_with_frames_removed" not in line
    ]
    text += "".join(f"\n    [dim]{escape(line)}[/dim]" for line in frames[-4:])
    return text


@command("parse")
def parse_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="DAG files or folders inside dags.path (default: the whole folder)."),
    ] = None,
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
) -> None:
    """Import every DAG file with the stack's Airflow and requirements, [bold]no stack needed[/bold]; exit 1 on any error."""
    from tinyctl.parse import parse_dags

    project = open_project(spec, verbose)
    report = parse_dags(project, paths, on_step=None if as_json else _step)
    if as_json:
        output.print_json(report.as_dict())
        raise typer.Exit(1 if report.failed else 0)
    for item in report.files:
        output.out.print(format_parsed(item))
    with_dags = [f for f in report.files if f.dags]
    modules = [f for f in report.files if f.status in ("no_dag", "skipped")]
    summary = (
        f"{len(report.files)} file(s): {len(with_dags)} with {sum(len(f.dags) for f in with_dags)} "
        f"DAG(s), {len(modules)} module(s) with no DAG, {len(report.failed)} error(s) "
        f"in {report.seconds:.1f}s (Airflow {report.airflow_version})"
    )
    if report.failed:
        output.err.print(f"[red]✗[/red] {summary}")
        raise typer.Exit(1)
    output.out.print(f"[green]✓[/green] {summary}")
