"""`tinyctl ci run | init | down`: the CI pipeline in one command, and thin pipeline files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tinyctl.cli import output
from tinyctl.cli.app import (
    DEFAULT_SPEC,
    JsonOption,
    SpecOption,
    VerboseOption,
    app,
    handle_errors,
)
from tinyctl.cli.common import enable_echo
from tinyctl.cli.views import format_result
from tinyctl.errors import BadInput, EnvironmentProblem, ExitCode, WorkFailed

if TYPE_CHECKING:
    from tinyctl.ci.isolation import RunIdentity
    from tinyctl.ci.pipeline import CiRun
    from tinyctl.ci.stages import StageRecord
    from tinyctl.dags.deploy import FileResult
    from tinyctl.data.test_etl.runner import TestResult

ci_app = typer.Typer(
    name="ci",
    help="CI/CD: run the whole pipeline on an isolated stack, or write a Jenkins, GitLab or GitHub pipeline.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(ci_app, name="ci")

MARK = {
    "passed": "[green]✓[/green]",
    "failed": "[red]✗[/red]",
    "crashed": "[red]✗[/red]",
    "interrupted": "[yellow]![/yellow]",
    "skipped": "[dim]-[/dim]",
    "not_run": "[dim]·[/dim]",
    "kept": "[yellow]=[/yellow]",
}
COLOUR = {
    "passed": "green",
    "failed": "red",
    "crashed": "red",
    "interrupted": "yellow",
    "kept": "yellow",
    "skipped": "dim",
    "not_run": "dim",
}


class _Printer:
    """A CI log, one line per event (CI logs are not terminals: no live displays)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def _print(self, text: str) -> None:
        if not self.quiet:
            output.err.print(text)

    def run_planned(self, run: RunIdentity) -> None:
        ports = f"airflow :{run.airflow_port}" + (
            f", postgres :{run.postgres_port}" if run.postgres_port else ""
        )
        ci = f" ({run.ci} job {run.ci_id})" if run.ci else ""
        self._print(
            f"  run [bold]{escape(run.name)}[/bold]{escape(ci)}: {ports}, folder {escape(run.folder)}"
        )

    def stage_started(self, name: str) -> None:
        self._print(f"[bold cyan]▶ {escape(name)}[/bold cyan]")

    def stage_finished(self, record: StageRecord) -> None:
        colour = COLOUR.get(record.status, "white")
        self._print(
            f"{MARK.get(record.status, '?')} [{colour}]{escape(record.name)}[/] "
            f"[dim]{record.seconds:.1f}s[/dim]  {escape(record.summary)}"
        )

    def step(self, message: str) -> None:
        self._print(f"  [cyan]•[/cyan] {escape(message)}")

    def warn(self, message: str) -> None:
        output.warn(message)

    def deploy_result(self, result: FileResult) -> None:
        self._print("  " + format_result(result))

    def test_result(self, result: TestResult) -> None:
        # lazy: another command module (it registers its commands): only when a test result prints
        from tinyctl.cli.data import _print_result

        if not self.quiet:
            _print_result(result, console=output.err)


def stages_table(ci: CiRun) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), title_justify="left")
    table.add_column("stage", style="bold")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_column("", overflow="fold")
    for record in [*ci.stages, ci.teardown]:
        colour = COLOUR.get(record.status, "white")
        status = record.status.replace("_", " ")
        time = (
            f"{record.seconds:.1f}s" if record.status not in ("not_run", "skipped", "kept") else ""
        )
        table.add_row(record.name, f"[{colour}]{status}[/]", time, escape(record.summary))
    return table


@ci_app.command("run")
@handle_errors
def run(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the reports, logs and ci-summary.json.")
    ] = Path("ci-reports"),
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help="Leave the stack up afterwards, for debugging (`tinyctl ci down NAME` removes it).",
        ),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Stack name (default: <project>-ci-<CI job id>-<random>)."),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "-k", help="Run only the ETL tests whose name contains PATTERN (or matches a glob)."
        ),
    ] = None,
    parallel: Annotated[
        int,
        typer.Option("--parallel", min=1, max=16, help="Run up to N independent tests together."),
    ] = 1,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds for the stack to become healthy (default: airflow.start_timeout).",
        ),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option("--skip", help="Skip an optional stage: parse or seed (repeatable)."),
    ] = None,
) -> None:
    """The whole pipeline on a stack of this run's own, always torn down afterwards.

    Stages: validate, parse, build, up, deploy-dags, seed, test-etl, then down --volumes (also
    after a failure, Ctrl-C or SIGTERM). Reports, logs and ci-summary.json go to --out. The exit
    code is the failed stage's (0 ok, 1 failed, 2 bad input, 3 environment, 130 interrupted).
    """
    # lazy: the pipeline loads every stage (psycopg, httpx, the Airflow client); `ci init` needs none
    from tinyctl.ci.pipeline import SKIPPABLE, CiOptions, run_ci

    enable_echo(verbose)
    for stage in skip or []:
        if stage not in SKIPPABLE:
            raise typer.BadParameter(
                f"{stage!r} cannot be skipped (optional stages: {', '.join(SKIPPABLE)})",
                param_hint="--skip",
            )
    options = CiOptions(
        spec_file=spec,
        out=out,
        keep=keep,
        name=name,
        select=select,
        parallel=parallel,
        timeout=timeout,
        skip=frozenset(skip or []),
        show_build_output=not as_json,
    )
    ci = run_ci(options, _Printer(quiet=as_json))
    if as_json:
        output.print_json(ci.as_dict())
        raise typer.Exit(ci.exit_code)
    _print_ci(ci, options.out)
    raise typer.Exit(ci.exit_code)


def _print_ci(ci, out: Path) -> None:
    """The stages table, the failed stage's problem, where the reports are, and the verdict."""
    output.out.print(stages_table(ci))
    failed = ci.failed_stage
    if failed is not None and failed.exception is not None:
        failed.exception.title = f"Stage {failed.name} failed: {failed.exception.title}"
        output.show_error(failed.exception)
    reports = ", ".join(escape(v) for v in ci.reports.values())
    output.out.print(f"  Reports in {escape(str(out))}: {reports}")
    if ci.diagnostics:
        output.out.print(f"  Saved before teardown: {', '.join(escape(d) for d in ci.diagnostics)}")
    total = f"{ci.seconds:.1f}s"
    if ci.ok:
        output.out.print(f"[green]✓ ci run passed[/green] in {total} (exit 0)")
    else:
        output.out.print(f"[red]✗ ci run failed[/red] in {total} (exit {ci.exit_code})")


@ci_app.command("init")
@handle_errors
def init(
    system: Annotated[
        str, typer.Argument(help="jenkins, gitlab or github.", metavar="jenkins|gitlab|github")
    ],
    spec: SpecOption = DEFAULT_SPEC,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing pipeline file.")
    ] = False,
    package: Annotated[
        str | None,
        typer.Option(
            "--package",
            help="What the pipeline pip-installs (default: this tinyctl version from PyPI).",
        ),
    ] = None,
    deploy: Annotated[
        str | None,
        typer.Option(
            "--deploy",
            metavar="k8s",
            help="Add a deploy stage after `tinyctl ci run` passed, on main only: push the image "
            "and `helm upgrade --install`, with the registry and kube context from the CI's secrets.",
        ),
    ] = None,
) -> None:
    """Write a thin pipeline that runs `tinyctl ci run` and publishes its JUnit report."""
    # lazy: tempfile and hashlib off `tinyctl --help`, which loads every command module
    from tinyctl.ci.pipelines import DEFAULT_PACKAGE, init_pipeline

    result = init_pipeline(
        system,
        spec,
        package=DEFAULT_PACKAGE if package is None else package,
        force=force,
        deploy=deploy,
    )
    verb = "replaced" if result.overwritten else "created"
    here = Path.cwd()
    shown = result.path.relative_to(here) if result.path.is_relative_to(here) else result.path
    output.out.print(f"  [green]{verb}[/green] {escape(str(shown))}")
    if result.gitignore is not None:
        output.out.print(
            f"  [green]updated[/green] {escape(result.gitignore.name)} (the pipeline's venv and reports)"
        )
    output.out.print(
        f"[bold]{result.provider.product} pipeline ready.[/bold] Commit it: "
        f"[cyan]git add {escape(str(shown))} && git commit -m 'CI: tinyctl ci run'[/cyan]"
    )


@ci_app.command("down")
@handle_errors
def down(
    run_name: Annotated[
        str | None,
        typer.Argument(help="The run's stack name, as `ci run --keep` printed it.", metavar="NAME"),
    ] = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every run folder of this project: kept runs and runs killed before teardown. "
            "A run still going is left alone.",
        ),
    ] = False,
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
) -> None:
    """Remove a stack kept by `tinyctl ci run --keep`: containers, volumes and its run folder."""
    # lazy: the pipeline loads every stage (psycopg, httpx, the Airflow client); `ci init` needs none
    from tinyctl.ci.pipeline import tear_down_all_kept, tear_down_kept

    if (run_name is None) == (not every):
        raise BadInput(
            "name one run, or give --all" if run_name is None else "give a NAME or --all, not both",
            hint="`tinyctl ci down NAME` removes one run; `tinyctl ci down --all` every run of "
            "this project.",
        )
    enable_echo(verbose)
    if run_name is not None:
        run = tear_down_kept(spec, run_name)
        output.out.print(
            f"[green]✓[/green] {escape(run.name)} is down (containers, volumes and run folder removed)."
        )
        return
    outcomes = tear_down_all_kept(spec)
    if not outcomes:
        output.out.print("No CI run folders in this project.")
    failures = []
    for name, error in outcomes:
        if error is None:
            output.out.print(f"[green]✓[/green] {escape(name)} is down (run folder removed).")
        else:
            failures.append(error)
            output.out.print(f"[red]✗[/red] {escape(name)}: {escape(error.message)}")
    if failures:
        worst = max(failures, key=lambda e: int(e.exit_code))
        kind = {ExitCode.BAD_INPUT: BadInput, ExitCode.ENVIRONMENT: EnvironmentProblem}.get(
            worst.exit_code, WorkFailed
        )
        raise kind(
            f"{len(failures)} of {len(outcomes)} CI run(s) were not removed",
            hint="A run still going keeps its lock until it ends; each line above says why.",
        )
