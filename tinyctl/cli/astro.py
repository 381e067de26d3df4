"""`tinyctl init --from-astro`: the report of an Astro CLI project's import."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from tinyctl.cli import output
from tinyctl.interop.astro import plan_import, write_import
from tinyctl.scaffold import choose_ports


def init_from_astro(
    directory: Path, *, force: bool, name: str | None, airflow_version: str | None
) -> None:
    ports, port_notes = choose_ports()
    plan = plan_import(directory, airflow_version=airflow_version, name=name, ports=ports)
    written = write_import(plan, force=force)
    root = plan.root
    for path in written:
        output.out.print(f"  [green]wrote[/green] {escape(str(path.relative_to(root)))}")
    if plan.runtime is not None:
        output.out.print(
            f"  Astro Runtime {escape(plan.runtime.release)} -> Airflow {plan.airflow_version}"
        )
    output.out.print(f"  Ports: Airflow {ports[0]}, PostgreSQL {ports[1]}")
    for note in port_notes:
        output.out.print(f"  [yellow]port changed[/yellow] {escape(note)}")
    if plan.secrets:
        output.out.print(
            f"  {len(plan.secrets)} secret(s) from airflow_settings.yaml written to .env "
            "(git-ignored), named in tinyctl.yaml: " + escape(", ".join(sorted(plan.secrets)))
        )
    for line in plan.not_carried:
        output.warn(f"not carried over (tinyctl builds its own image): {line}")
    for note in plan.notes:
        output.out.print(f"  [yellow]note[/yellow] {escape(note)}")
    where = "" if root == Path.cwd() else f"cd {directory} && "
    output.out.print(
        f"\n[bold]tinyctl project ready in {escape(str(root))}[/bold] (no Astro file changed). "
        f"Next: [cyan]{escape(where)}tinyctl up && tinyctl parse && tinyctl pytest[/cyan]"
    )
