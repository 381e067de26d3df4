"""`tinyctl upgrade-test --to VERSION`: what breaks when the project moves to that Airflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tinyctl.cli import output
from tinyctl.cli.app import DEFAULT_SPEC, JsonOption, SpecOption, VerboseOption, command
from tinyctl.cli.common import open_project


def _step(message: str) -> None:
    output.err.print(f"[cyan]•[/cyan] {escape(message)}")


@command("upgrade-test")
def upgrade_test_command(
    to: Annotated[str, typer.Option("--to", help="The Airflow version to test, e.g. 3.3.2.")],
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    fix: Annotated[
        bool, typer.Option("--fix", help="Apply ruff's safe fixes for the AIR3xx findings.")
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the report as an HTML page.")
    ] = None,
) -> None:
    """Build the target Airflow beside the current one and compare: packages, every DAG's import
    and shape, and ruff's Airflow 3 migration rules. Exit 1 when a DAG stops importing or changes shape."""
    # lazy: the upgrade test (pydantic, tempfile) off `tinyctl --help`, which loads every command module
    from tinyctl.state.fsutil import write_atomic
    from tinyctl.upgrade.html import to_html
    from tinyctl.upgrade.run import upgrade_test

    project = open_project(spec, verbose)
    report = upgrade_test(project, to, fix=fix, on_step=None if as_json else _step)
    if html is not None:
        write_atomic(html, to_html(report).encode())
    if as_json:
        output.print_json(report.as_dict())
    else:
        _show(report)
        if html is not None:
            output.err.print(f"[green]✓[/green] wrote {escape(str(html))}")
    raise typer.Exit(0 if report.ok else 1)


def _show(report) -> None:
    out = output.out
    out.print(f"[bold]Airflow {report.current} → {report.target}[/bold]")
    pk = report.packages
    out.print(
        f"Packages: {len(pk.added)} added, {len(pk.removed)} removed, {len(pk.changed)} changed"
    )
    for name, (old, new) in list(pk.changed.items())[:40]:
        out.print(f"  {escape(name)} {escape(old)} → {escape(new)}", highlight=False)
    if len(pk.changed) > 40:
        out.print(f"  ... and {len(pk.changed) - 40} more (--json lists them all)")
    if report.dags:
        table = Table("file", "DAG", "change", "detail", title="DAGs")
        for c in report.dags:
            style = "red" if c.breaking else "green"
            detail = c.detail + (f"\n{c.error}" if c.error else "")
            table.add_row(
                escape(c.file),
                escape(c.dag_id or ""),
                f"[{style}]{c.kind}[/{style}]",
                escape(detail),
            )
        out.print(table)
    else:
        out.print("DAGs: every file parses the same on both versions")
    if report.findings:
        table = Table("where", "rule", "finding", "fix", title="Airflow 3 migration (ruff)")
        for f in report.findings:
            fix = (f.fix or "") + (" [green](--fix)[/green]" if f.fixable else "")
            table.add_row(f"{escape(f.file)}:{f.line}", f.code, escape(f.message), fix)
        out.print(table)
    else:
        out.print(
            "Airflow 3 migration: no AIR3xx finding" + (" left after --fix" if report.fixed else "")
        )
    verdict = (
        "[green]✓ upgrade-test passed[/green]"
        if report.ok
        else (f"[red]✗ {len(report.breaking)} DAG change(s) break the upgrade[/red]")
    )
    out.print(verdict)
