"""Commands that feed and test the warehouse: seed, test-etl."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from tinyctl.cli import output
from tinyctl.cli.app import DEFAULT_SPEC, JsonOption, SpecOption, VerboseOption, command
from tinyctl.cli.common import open_project

if TYPE_CHECKING:
    from tinyctl.data.test_etl.runner import Progress as TestProgress
    from tinyctl.data.test_etl.runner import TestResult

TASK_COLOURS = {
    "success": "green",
    "failed": "red",
    "upstream_failed": "red",
    "running": "yellow",
    "queued": "cyan",
    "scheduled": "cyan",
    "skipped": "dim",
    None: "dim",
}


def _seed_bar():
    """The progress bar of a seed on a terminal (rich.progress is imported only then)."""
    # lazy: rich.progress only for a seed's bar on a terminal
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.fields[seed]}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=output.err,
        transient=True,
    )


def _live():
    # lazy: rich.live only for test-etl's board on a terminal
    from rich.live import Live

    return Live(console=output.err, refresh_per_second=4, transient=True)


@command("seed")
def seed(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Load only this seed (repeatable).")
    ] = None,
) -> None:
    """Load the spec's seeds into Postgres as the ETL role: SQL files, then CSV files with COPY."""
    # lazy: psycopg and the plan (pydantic) off `tinyctl --help`, which loads every command module
    from tinyctl.data.seed import run_seeds
    from tinyctl.targets.base import POSTGRES

    project = open_project(spec, verbose, lock="seed", needs=(POSTGRES,))
    bar = None if as_json or not output.err.is_terminal else _seed_bar()
    tasks: dict[str, int] = {}
    started: dict[str, float] = {}

    def on_progress(name: str, done: int, total: int, rows: int) -> None:
        if bar is None:
            return
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total or None, seed=name, rate="")
            started[name] = time.monotonic()
        elapsed = max(time.monotonic() - started[name], 1e-6)
        rate = f"{rows / elapsed:,.0f} rows/s" if rows else ""
        bar.update(tasks[name], completed=done, total=total or None, rate=rate)

    if bar is not None:
        bar.start()
    try:
        outcomes = run_seeds(project, only=only, on_progress=on_progress)
    finally:
        if bar is not None:
            bar.stop()
    if as_json:
        output.print_json([o.as_dict() for o in outcomes])
        return
    if not outcomes:
        output.out.print("No seeds in the spec.")
    for o in outcomes:
        if o.kind == "csv":
            big = o.seconds > 0 and (o.rows or 0) >= 10_000  # a rate of a tiny file says nothing
            rate = f", {o.rows / o.seconds:,.0f} rows/s" if big else ""
            output.out.print(
                f"[green]✓[/green] {escape(o.name)}: {o.rows:,} rows into {escape(o.target)} in {o.seconds:.2f}s{rate}"
            )
        else:
            output.out.print(
                f"[green]✓[/green] {escape(o.name)}: ran {escape(o.target)} in {o.seconds:.2f}s"
            )


def _test_view(states: dict[str, TestProgress]) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column("test", style="bold")
    table.add_column("phase")
    table.add_column("tasks")
    for name, progress in states.items():
        tasks = " ".join(
            f"[{TASK_COLOURS.get(t.state, 'white')}]{escape(t.label)}[/]" for t in progress.tasks
        )
        phase = progress.phase if progress.result is None else progress.result.status
        table.add_row(output.data_text(name), phase, tasks)
    return table


def _print_result(result: TestResult, console=None) -> None:
    """One test's verdict, its failed task's log tail and its expectations (stdout by default)."""
    print = (console or output.out).print
    mark = {
        "passed": "[green]✓ PASS[/green]",
        "failed": "[red]✗ FAIL[/red]",
        "error": "[magenta]! ERROR[/magenta]",
    }[result.status]
    run = f" run {result.run_seconds:.1f}s," if result.run_seconds is not None else ""
    print(
        f"{mark} [bold]{escape(result.name)}[/bold] (DAG {escape(result.dag)},{run} {result.seconds:.1f}s): {output.data_markup(result.message)}"
    )
    if result.failed_task:
        print(f"    failed task: [bold]{escape(result.failed_task)}[/bold]; last lines of its log:")
        for line in (result.log_tail or "").splitlines():
            print(f"      [dim]{output.data_markup(line)}[/dim]")
    for e in result.expectations:
        stored = f" [dim](all rows in {escape(e.stored_in)})[/dim]" if e.stored_in else ""
        if e.status == "pass":
            print(f"    [green]✓[/green] {output.data_markup(e.name)}")
            continue
        name, message = output.data_markup(e.name), output.data_markup(e.message)
        if e.warned:
            print(f"    [yellow]! WARN[/yellow] {name}: {message}{stored}")
        else:
            print(f"    [red]✗[/red] {name}: {message}{stored}")
        if e.rows:
            table = Table(box=None, padding=(0, 2, 0, 0), header_style="dim")
            for column in e.columns:
                table.add_column(output.data_text(column))
            for row in e.rows:
                table.add_row(*(output.data_text(v) for v in row))
            print(Padding(table, (0, 0, 0, 6)))


@command("test-etl")
def test_etl(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    keyword: Annotated[
        list[str] | None,
        typer.Option(
            "--keyword", "-k", help="Run tests whose name contains PATTERN (or matches a glob)."
        ),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            help="Run tests with a tag (tag:NAME) or a name (glob); repeat for more (dbt-style).",
        ),
    ] = None,
    store_failures: Annotated[
        bool,
        typer.Option(
            "--store-failures",
            help="Write the offending rows of each failed or warned expectation to a table in "
            "store_failures.schema (named in the report).",
        ),
    ] = False,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write a JUnit XML report (Jenkins, GitLab).")
    ] = None,
    html_path: Annotated[
        Path | None, typer.Option("--html", help="Write a one-page HTML report.")
    ] = None,
    parallel: Annotated[
        int,
        typer.Option("--parallel", min=1, max=16, help="Run up to N independent tests together."),
    ] = 1,
    no_run: Annotated[
        bool,
        typer.Option(
            "--no-run",
            help="Check the warehouse as it is: no fixture files, no DAG run (as `dbt test`).",
        ),
    ] = False,
    seed_first: Annotated[
        bool, typer.Option("--seed", help="With --no-run: load the tests' seeds first.")
    ] = False,
    update_expected: Annotated[
        bool,
        typer.Option(
            "--update-expected",
            help="After a passing DAG run, rewrite the tests' `expected:` CSV files from the "
            "current output (sorted, deterministic), then check them.",
        ),
    ] = False,
) -> None:
    """Run the spec's ETL tests through the real scheduler and check the warehouse. Exit 0 only if all pass."""
    # lazy: httpx, the Airflow client and the DAG deploy modules only for test-etl
    from tinyctl.data.test_etl import reports
    from tinyctl.data.test_etl.suite import run_suite
    from tinyctl.targets.base import POSTGRES

    needs = (POSTGRES,) if no_run else True
    project = open_project(spec, verbose, lock="test-etl", needs=needs)
    board = _Board(as_json)
    with board:
        results = run_suite(
            project,
            keywords=keyword,
            selectors=select,
            parallel=parallel,
            store_failures=store_failures,
            junit=junit,
            html=html_path,
            on_progress=board.show,
            no_run=no_run,
            seed=seed_first,
            update_expected=update_expected,
        )
    if as_json:
        output.print_json({**reports.as_json(project.name, results), "dag_runs": not no_run})
    else:
        _print_suite(results, board, no_run=no_run)
        _print_summary(reports.summary(results), junit, html_path)
    if not all(r.passed for r in results):
        raise typer.Exit(1)


class _Board:
    """test-etl's progress: a live table of every test on a terminal, else each result as it
    ends (nothing with --json). The core calls `show` one progress at a time."""

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.live = None if as_json or not output.err.is_terminal else _live()
        self.states: dict[str, TestProgress] = {}

    def __enter__(self) -> _Board:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    def show(self, progress: TestProgress) -> None:
        self.states[progress.test] = progress
        if self.live is not None:
            self.live.update(_test_view(self.states))
        elif progress.result is not None and not self.as_json:
            _print_result(progress.result)


def _print_suite(results: list, board: _Board, *, no_run: bool) -> None:
    """What the live view showed, once it is gone; that no DAG ran; the files rewritten."""
    if board.live is not None:
        for result in results:
            _print_result(result)
    if no_run:
        output.out.print(
            "[dim]No DAG ran (--no-run): the checks read the warehouse as it is.[/dim]"
        )
    for result in results:
        for file in result.updated:
            output.out.print(f"  rewrote {escape(file)} from {escape(result.name)}'s output")


def _print_summary(counts: dict[str, Any], junit: Path | None, html_path: Path | None) -> None:
    """The counts, and the reports written."""
    colour = "green" if counts["passed"] == counts["total"] else "red"
    output.out.print(
        f"[{colour}]{counts['passed']} passed, {counts['failed']} failed, {counts['errors']} errors[/] "
        f"in {counts['seconds']:.1f}s"
    )
    for path, kind in ((junit, "JUnit XML"), (html_path, "HTML report")):
        if path:
            output.out.print(f"  {kind}: {escape(str(path))}")


@command("history")
def history(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Runs shown.")] = 20,
) -> None:
    """List recent test-etl runs from the run history (the state folder's history.sqlite)."""
    from tinyctl.data.test_etl.history import History  # lazy: sqlite3 only for this command

    project = open_project(spec, verbose)
    records = History(project.state.history_file).as_json(limit)
    if as_json:
        output.print_json(records)
        return
    if not records:
        output.out.print("No test-etl run recorded yet.")
        return
    table = Table(box=None, padding=(0, 2, 0, 0), header_style="dim")
    for column in ("run", "started", "mode", "passed", "failed", "errors", "seconds", "tests"):
        table.add_column(column)
    for run in records:
        tests = " ".join(
            f"[{'green' if t['status'] == 'passed' else 'red'}]{escape(t['test'])}[/]"
            for t in run["tests"]
        )
        table.add_row(
            run["run_id"],
            run["started_at"],
            run["mode"],
            str(run["passed"]),
            str(run["failed"]),
            str(run["errors"]),
            f"{run['seconds']:.1f}",
            tests,
        )
    output.out.print(table)


@command("report")
def report(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    out: Annotated[Path, typer.Option("--output", "-o", help="Where to write the page.")] = Path(
        "report.html"
    ),
) -> None:
    """Write the one-page HTML report of the run history: latest result per test, diffs, trends."""
    # lazy: sqlite3 and the page's renderer only for `report`, not for seed or test-etl's start
    from tinyctl.data.test_etl import page, reports
    from tinyctl.data.test_etl.history import History

    project = open_project(spec, verbose)
    reports.write_report(out, page.render(project.name, History(project.state.history_file)))
    output.out.print(f"HTML report: {escape(str(out))}")
