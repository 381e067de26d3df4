"""Commands that talk to a running Airflow: deploy-dags, sync-settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from tinyctl.cli import output
from tinyctl.cli.app import DEFAULT_SPEC, JsonOption, SpecOption, VerboseOption, command
from tinyctl.cli.common import open_project
from tinyctl.cli.views import format_result, plugins_note, sync_line

if TYPE_CHECKING:
    from tinyctl.dags.deploy import FileResult


@command("deploy-dags")
def deploy_dags_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="DAG files or folders (default: the spec's dags folder)."),
    ] = None,
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Remove files from the stack that are not in the source folder."
        ),
    ] = False,
    unpause: Annotated[bool, typer.Option("--unpause", help="Unpause the deployed DAGs.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for Airflow to parse each file.")
    ] = 60.0,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            "-w",
            help="After deploying, redeploy each file when it is saved (Ctrl-C stops: exit 0, "
            "or 130 when it interrupts a deploy in flight).",
        ),
    ] = False,
) -> None:
    """Deploy DAG files atomically, have Airflow parse them now, and report each file's DAGs or error."""
    # lazy: the DAG deploy modules and httpx only for deploy-dags (not --help, not sync-settings)
    from tinyctl.dags.deploy import deploy_dags

    project = open_project(spec, verbose, lock="deploy-dags", needs=True)

    def on_result(result: FileResult) -> None:
        if not as_json:
            output.out.print(format_result(result))

    with project.airflow() as client:
        client.require_up()
        report = deploy_dags(
            project,
            client,
            paths=paths,
            prune=prune,
            unpause=unpause,
            timeout=timeout,
            on_result=on_result,
        )
        if watch:
            if as_json:  # one JSON document per line: the first deploy, then each change
                output.print_json_line(report.as_dict())
            else:
                _print_summary(report, as_json=False, exit_on_failure=False)
            _watch(project, client, timeout=timeout, as_json=as_json, on_result=on_result)
            return
    if not as_json:
        _triggerer_note(project)
    _print_summary(report, as_json=as_json)


def _triggerer_note(project) -> None:
    """`airflow.triggerer: auto` chose off at `up`, and a deployed file now defers work."""
    # lazy: the stack's status module only after a deploy
    from tinyctl.stack.status import triggerer_wanted

    why = triggerer_wanted(project)
    if why is not None:
        output.err.print(
            f"[yellow]![/yellow] no triggerer runs, but {escape(why.removeprefix('auto: '))}: "
            "its deferred tasks wait until `tinyctl up` starts one (airflow.triggerer: auto)"
        )


def _watch(project, client, *, timeout: float, as_json: bool, on_result) -> None:
    """Redeploy on save until Ctrl-C: 0 when it stops between deploys, 130 during one."""
    # lazy: with the DAG deploy modules, only for deploy-dags --watch
    from tinyctl.dags.watch import Watcher

    watcher = Watcher(project, client, timeout=timeout)
    if not as_json:
        output.err.print(
            f"[cyan]•[/cyan] watching {escape(str(watcher.root))} for changes; Ctrl-C stops"
        )

    def on_batch(batch) -> None:
        if as_json:
            output.print_json_line(
                {
                    "changed": batch.changed,
                    "removed": batch.removed,
                    "ok": not batch.failed,
                    "files": [r.as_dict() for r in batch.results],
                }
            )
        elif batch.failed:
            output.err.print(f"[red]✗[/red] {len(batch.failed)} failed; watching")
        else:
            output.err.print("[dim]watching[/dim]")

    try:
        watcher.run(on_result, on_batch)
    except KeyboardInterrupt:
        if watcher.busy:
            raise  # work in flight was cut short: the usual 130
        if not as_json:
            output.err.print(
                f"[green]✓[/green] stopped watching ({watcher.batches} change(s) deployed)"
            )
        raise typer.Exit(0) from None


def _print_summary(report, *, as_json: bool, exit_on_failure: bool = True) -> None:
    if as_json:
        output.print_json(report.as_dict())
        if report.failed and exit_on_failure:
            raise typer.Exit(1)
        return
    if note := plugins_note(report.plugins_pending):
        output.out.print(note)
    ok = len(report.results) - len(report.failed)
    summary = f"{ok} ok, {len(report.failed)} failed in {report.seconds:.1f}s"
    if report.failed:
        output.err.print(f"[red]✗[/red] {summary}")
        if exit_on_failure:
            raise typer.Exit(1)
        return
    output.out.print(f"[green]✓[/green] {summary}")


@command("sync-settings")
def sync_settings_command(
    spec: SpecOption = DEFAULT_SPEC, verbose: VerboseOption = False, as_json: JsonOption = False
) -> None:
    """Apply the spec's connections, variables and pools through Airflow's API."""
    # lazy: httpx and the Airflow client off `tinyctl --help`, which loads every command module
    from tinyctl.airflow_settings.sync import sync_settings

    project = open_project(spec, verbose, lock="sync-settings", needs=True)
    with project.airflow() as client:
        client.require_up()
        items = sync_settings(project, client)
    if as_json:
        output.print_json([i.as_dict() for i in items])
        return
    for item in items:
        output.out.print(sync_line(item))
    counts = {
        a: sum(1 for i in items if i.action == a) for a in ("created", "updated", "unchanged")
    }
    output.out.print(
        f"[green]✓[/green] settings: {counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged"
    )
