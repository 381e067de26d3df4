"""The DAG author's loop: parse (no stack), run one DAG, pytest in the stack's image."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tinyctl.cli import output
from tinyctl.cli.app import DEFAULT_SPEC, JsonOption, SpecOption, VerboseOption, command
from tinyctl.cli.common import open_project

if TYPE_CHECKING:
    from tinyctl.dags.parse import ParsedFile


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
    # lazy: the spec (pydantic) and the plan off `tinyctl --help`, which loads every command module
    from tinyctl.dags.parse import parse_dags

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


STATE_STYLE = {
    "success": "green",
    "failed": "red",
    "upstream_failed": "red",
    "up_for_retry": "yellow",
    "running": "cyan",
    "queued": "dim",
    "scheduled": "dim",
    "skipped": "magenta",
}


def _tasks_table(tasks, state: str, elapsed: float):
    table = Table(
        title=f"run {state}  [dim]{elapsed:.0f}s[/dim]",
        title_justify="left",
        box=None,
        pad_edge=False,
        padding=(0, 2, 0, 0),
    )
    table.add_column("task", style="bold")
    table.add_column("state")
    table.add_column("try", justify="right", style="dim")
    for task in tasks:
        style = STATE_STYLE.get(task.state or "", "white")
        table.add_row(
            escape(task.label), f"[{style}]{task.state or 'none'}[/]", str(task.try_number)
        )
    return table


@command("run")
def run_command(
    dag_id: Annotated[str, typer.Argument(help="The DAG to run.", show_default=False)],
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    conf: Annotated[
        str | None,
        typer.Option("--conf", "-c", help="Run configuration: a JSON object, or @FILE."),
    ] = None,
    logical_date: Annotated[
        str | None,
        typer.Option(
            "--logical-date", "-d", help="Logical date (YYYY-MM-DD or ISO 8601); default: none."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the run to end.")
    ] = 600.0,
) -> None:
    """Trigger one run through the scheduler, show each task's state live, stream a failing task's log; exit 0 on success, 1 on failure."""
    # lazy: httpx and the Airflow client only for `run`
    from tinyctl.dags.run import parse_conf, parse_logical_date, run_dag
    from tinyctl.dags.watchdog import StackWatch

    run_conf = parse_conf(conf)
    date = parse_logical_date(logical_date)
    project = open_project(spec, verbose)
    view = _RunView(quiet=as_json)
    with project.airflow() as client:
        client.require_up()
        with view:
            result = run_dag(
                client,
                dag_id,
                conf=run_conf,
                logical_date=date,
                timeout=timeout,
                on_tasks=view.on_tasks,
                on_failed_log=view.on_failed_log,
                watch=StackWatch(project),
            )
    if as_json:
        output.print_json(result.as_dict())
        raise typer.Exit(0 if result.ok else 1)
    _print_run_result(dag_id, result)


class _RunView:
    """`tinyctl run`'s progress: a live task table on a terminal, a line per change in a log,
    nothing with --json; a failed task's log between two rules."""

    def __init__(self, *, quiet: bool):
        # lazy: rich.live only for `run`'s live table
        from rich.live import Live

        self.quiet, self.started = quiet, time.monotonic()
        self.seen: dict[str, str | None] = {}
        self.live = (
            None
            if quiet or not output.err.is_terminal
            else Live(console=output.err, refresh_per_second=4, transient=False)
        )

    def __enter__(self) -> _RunView:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    def on_tasks(self, tasks, state: str) -> None:
        elapsed = time.monotonic() - self.started
        if self.quiet:
            return
        if self.live is not None:
            self.live.update(_tasks_table(tasks, state, elapsed))
            return
        for task in tasks:  # a log, not a terminal: one line per change of state
            if self.seen.get(task.label, "") != task.state:
                self.seen[task.label] = task.state
                style = STATE_STYLE.get(task.state or "", "white")
                output.err.print(
                    f"  {escape(task.label)}: [{style}]{task.state or 'none'}[/] "
                    f"[dim]{elapsed:.1f}s[/dim]"
                )

    def on_failed_log(self, task, text: str) -> None:
        if self.quiet:
            return
        target = self.live.console if self.live is not None else output.err
        target.print(
            f"[red]── log of {escape(task.label)} (try {max(task.try_number, 1)}, "
            f"{escape(task.state or '')}) ──[/red]"
        )
        target.print(escape(text.rstrip()) or "[dim](empty)[/dim]", highlight=False)
        target.print("[red]──[/red]")


def _print_run_result(dag_id: str, result) -> None:
    """The run's one-line verdict; exit 1 naming the failed tasks when it failed."""
    summary = (
        f"{escape(dag_id)} run {escape(result.run_id)} {result.state} in {result.seconds:.1f}s"
    )
    if not result.ok:
        failed = [t.label for t in result.tasks if t.state in ("failed", "upstream_failed")]
        output.err.print(
            f"[red]✗[/red] {summary}"
            + (f" (failed: {escape(', '.join(failed))})" if failed else "")
        )
        raise typer.Exit(1)
    output.out.print(f"[green]✓[/green] {summary}")


@command(
    "pytest",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
    },
    add_help_option=False,
)
def pytest_command(ctx: typer.Context) -> None:
    """Run the project's own tests/ with pytest in the stack's image (no stack needed); every argument goes to pytest; give -s/-v before `pytest`."""
    # lazy: another command module (it registers its commands) and the spec, only for `pytest`
    from tinyctl.cli.inside import passthrough_spec
    from tinyctl.dags.pytest_in_image import run_pytest

    project = open_project(*passthrough_spec())
    code = run_pytest(project, list(ctx.args), on_step=_step)
    raise typer.Exit(code)
