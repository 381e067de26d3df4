"""Commands that talk to a running Airflow: deploy-dags, sync-settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from tinyctl.cli import output
from tinyctl.cli.app import DEFAULT_SPEC, JsonOption, SpecOption, VerboseOption, command, open_spec
from tinyctl.cli.stack import enable_echo

if TYPE_CHECKING:
    from tinyctl.deploy import FileResult
    from tinyctl.settings_sync import SyncItem

ICON = {
    "live": "[green]✓[/green]",
    "unchanged": "[green]=[/green]",
    "module": "[green]✓[/green]",
    "removed": "[yellow]-[/yellow]",
    "pending": "[yellow]…[/yellow]",
    "extra": "[yellow]?[/yellow]",
}


def format_result(result: FileResult) -> str:
    icon = ICON.get(result.status, "[red]✗[/red]")
    name = f"[bold]{escape(result.file)}[/bold]"
    took = (
        f" [dim]{result.seconds:.1f}s[/dim]"
        if result.seconds is not None and result.status == "live"
        else ""
    )
    if result.status in ("live", "unchanged"):
        if not result.dags:
            return f"{icon} {name}: parsed, defines no active DAG{took}"
        dags = ", ".join(
            f"{escape(d.dag_id)} ({'paused' if d.paused else 'active'})" for d in result.dags
        )
        word = "live" if result.status == "live" else "unchanged"
        return f"{icon} {name}: {word}: {dags}{took}"
    if result.status in ("module", "removed", "extra", "pending"):
        return f"{icon} {name}: {escape(result.message or result.status)}"
    where = f"{escape(result.file)}:{result.line}" if result.line else escape(result.file)
    kind = {
        "syntax_error": "syntax error",
        "missing_module": "import error",
        "import_error": "import error",
        "timeout": "not parsed",
    }.get(result.status, result.status)
    text = f"{icon} {name}: {kind} at [bold]{where}[/bold]: {escape(result.message or '')}"
    if result.traceback and result.status == "import_error":
        frames = result.traceback.splitlines()[:-1]  # the last line is the message shown above
        text += "".join(f"\n    [dim]{escape(line)}[/dim]" for line in frames)
    if result.previous_live:
        live = ", ".join(d.dag_id for d in result.dags)
        text += "\n    [yellow]the previous version of this file is still the one live[/yellow]" + (
            f" ({escape(live)})" if live else ""
        )
    elif result.status != "timeout":
        text += "\n    [yellow]not deployed[/yellow]"
    return text


def _sync_line(item: SyncItem) -> str:
    colour = {"created": "green", "updated": "cyan", "unchanged": "dim"}[item.action]
    return f"  [{colour}]{item.action:9}[/] {item.kind} {escape(item.name)}"


def after_up(loaded, runtime, *, as_json: bool, quiet_if_unchanged: bool) -> dict[str, Any]:
    """What `up` does once the stack is healthy: sync settings, deploy the DAG folder."""
    from tinyctl.deploy import deploy_dags, require_deployable
    from tinyctl.settings_sync import sync_settings
    from tinyctl.stack import airflow_client

    with airflow_client(loaded, runtime) as client:
        items = sync_settings(loaded, client, warehouse_address=runtime.airflow_postgres_address())
        report = deploy_dags(loaded, runtime, client)
    if not as_json:
        changed = [i for i in items if i.action != "unchanged"]
        for item in changed:
            output.out.print(_sync_line(item))
        for result in report.results:
            if not (quiet_if_unchanged and result.status == "unchanged"):
                output.out.print(format_result(result))
    require_deployable(report)
    return {"settings": [i.as_dict() for i in items], **report.as_dict()}


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
) -> None:
    """Deploy DAG files atomically, have Airflow parse them now, and report each file's DAGs or error."""
    from tinyctl.deploy import deploy_dags
    from tinyctl.runtime import make_runtime
    from tinyctl.stack import airflow_client

    enable_echo(verbose)
    loaded = open_spec(spec)
    runtime = make_runtime(loaded)

    def on_result(result: FileResult) -> None:
        if not as_json:
            output.out.print(format_result(result))

    with airflow_client(loaded, runtime) as client:
        client.require_up()
        report = deploy_dags(
            loaded,
            runtime,
            client,
            paths=paths,
            prune=prune,
            unpause=unpause,
            timeout=timeout,
            on_result=on_result,
        )
    if as_json:
        output.print_json(report.as_dict())
        if report.failed:
            raise typer.Exit(1)
        return
    ok = len(report.results) - len(report.failed)
    summary = f"{ok} ok, {len(report.failed)} failed in {report.seconds:.1f}s"
    if report.failed:
        output.err.print(f"[red]✗[/red] {summary}")
        raise typer.Exit(1)
    output.out.print(f"[green]✓[/green] {summary}")


@command("sync-settings")
def sync_settings_command(
    spec: SpecOption = DEFAULT_SPEC, verbose: VerboseOption = False, as_json: JsonOption = False
) -> None:
    """Apply the spec's connections, variables and pools through Airflow's API."""
    from tinyctl.runtime import make_runtime
    from tinyctl.settings_sync import sync_settings
    from tinyctl.stack import airflow_client

    enable_echo(verbose)
    loaded = open_spec(spec)
    runtime = make_runtime(loaded)
    with airflow_client(loaded, runtime) as client:
        client.require_up()
        items = sync_settings(loaded, client, warehouse_address=runtime.airflow_postgres_address())
    if as_json:
        output.print_json([i.as_dict() for i in items])
        return
    for item in items:
        output.out.print(_sync_line(item))
    counts = {
        a: sum(1 for i in items if i.action == a) for a in ("created", "updated", "unchanged")
    }
    output.out.print(
        f"[green]✓[/green] settings: {counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged"
    )
