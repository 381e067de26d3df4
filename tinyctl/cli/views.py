"""How results look on a terminal: service tables, per-file deploy lines, settings lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from tinyctl.airflow_settings.sync import SyncItem
    from tinyctl.dags.deploy import FileResult
    from tinyctl.targets.base import ServiceStatus

STYLE = {
    "healthy": "green",
    "completed": "green",
    "none": "green",
    "starting": "yellow",
    "running": "yellow",
    "created": "yellow",
    "unhealthy": "red",
    "failed": "red",
    "missing": "dim",
}

ICON = {
    "live": "[green]✓[/green]",
    "unchanged": "[green]=[/green]",
    "module": "[green]✓[/green]",
    "removed": "[yellow]-[/yellow]",
    "pending": "[yellow]…[/yellow]",
    "extra": "[yellow]?[/yellow]",
}


def services_table(services: list[ServiceStatus], *, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column("service", style="bold")
    table.add_column("state")
    table.add_column("health")
    table.add_column("ports", style="dim")
    for s in services:
        table.add_row(
            s.name,
            f"[{STYLE.get(s.state, 'white')}]{s.state}[/]",
            f"[{STYLE.get(s.health, 'white')}]{s.health}[/]",
            ", ".join(s.ports),
        )
    return table


def format_result(result: FileResult) -> str:
    icon = ICON.get(result.status, "[red]✗[/red]")
    shown = f"include/{result.file}" if result.folder == "include" else result.file
    name = f"[bold]{escape(shown)}[/bold]"
    took = (
        f" [dim]{result.seconds:.1f}s[/dim]"
        if result.seconds is not None and result.status == "live"
        else ""
    )
    if result.because and result.status == "live":
        took += f" [dim](re-parsed: {escape(result.because)})[/dim]"
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
    where = f"{escape(shown)}:{result.line}" if result.line else escape(shown)
    kind = {
        "syntax_error": "syntax error",
        "missing_module": "import error",
        "import_error": "import error",
        "timeout": "not parsed",
        "outside_project": "refused",
        "interrupted": "interrupted",
    }.get(result.status, result.status)
    text = f"{icon} {name}: {kind} at [bold]{where}[/bold]: {escape(result.message or '')}"
    if result.traceback and result.status == "import_error":
        frames = result.traceback.splitlines()[:-1]  # the last line is the message shown above
        text += "".join(f"\n    [dim]{escape(line)}[/dim]" for line in frames)
    if result.because:
        text += f"\n    [yellow]after a change to shared code: {escape(result.because)}[/yellow]"
    elif result.folder == "include" and result.previous_live:
        text += "\n    [yellow]the previous copy of include/ is still the one deployed[/yellow]"
    elif result.previous_live:
        live = ", ".join(d.dag_id for d in result.dags)
        text += "\n    [yellow]the previous version of this file is still the one live[/yellow]" + (
            f" ({escape(live)})" if live else ""
        )
    else:  # a timed-out or interrupted new file is withdrawn (tinyctl.dags.deploy rolls back)
        text += "\n    [yellow]not deployed[/yellow]"
    return text


def plugins_note(pending: list[str]) -> str | None:
    """deploy-dags does not restart anything: say when changed plugins wait for a restart."""
    if not pending:
        return None
    shown = ", ".join(pending[:3]) + (", ..." if len(pending) > 3 else "")
    return (
        f"[yellow]![/yellow] plugins: {len(pending)} file(s) changed since the stack loaded them "
        f"({escape(shown)}); run [cyan]tinyctl restart[/cyan] (or [cyan]tinyctl up[/cyan]) to load them"
    )


def sync_line(item: SyncItem) -> str:
    colour = {"created": "green", "updated": "cyan", "unchanged": "dim"}[item.action]
    return f"  [{colour}]{item.action:9}[/] {item.kind} {escape(item.name)}"
