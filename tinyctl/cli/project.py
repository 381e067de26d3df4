"""Commands that need no running stack: init, validate, schema, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tinyctl.cli import output
from tinyctl.cli.app import (
    DEFAULT_SPEC,
    JsonOption,
    SpecOption,
    VerboseOption,
    command,
    open_spec,
    set_verbose,
)
from tinyctl.cli.locks import lock_project
from tinyctl.errors import SpecError
from tinyctl.project import Project


@command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files that already exist.")
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="Project name (default: the folder's name).")
    ] = None,
    images: Annotated[
        str, typer.Option("--images", help="Image source written to the spec: official or debian.")
    ] = "official",
    from_astro: Annotated[
        bool,
        typer.Option(
            "--from-astro",
            help="Turn the Astro CLI project in DIRECTORY into a tinyctl project in place (its files unchanged).",
        ),
    ] = False,
    airflow_version: Annotated[
        str | None,
        typer.Option(
            "--airflow-version",
            help="With --from-astro: the Airflow version, instead of the one the Dockerfile's runtime ships.",
        ),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Scaffold a working project: spec, sample DAG, landing data, seeds and smoke tests."""
    # lazy: Jinja (the scaffold) only for `init`
    from tinyctl.scaffold import init_project

    if from_astro:
        # lazy: the Astro import (the spec, pydantic) only for `init --from-astro`
        from tinyctl.cli.astro import init_from_astro

        init_from_astro(directory, force=force, name=name, airflow_version=airflow_version)
        return
    if airflow_version is not None:
        raise typer.BadParameter("only with --from-astro", param_hint="--airflow-version")
    if images not in ("official", "debian"):
        raise typer.BadParameter("must be official or debian", param_hint="--images")
    result = init_project(directory, force=force, name=name, images_source=images, pick_ports=True)
    for path in result.files:
        output.out.print(f"  [green]created[/green] {escape(str(path.relative_to(result.root)))}")
    airflow_port, postgres_port = result.ports
    output.out.print(f"  Ports: Airflow {airflow_port}, PostgreSQL {postgres_port}")
    for note in result.notes:
        output.out.print(f"  [yellow]port changed[/yellow] {escape(note)}")
    where = "" if result.root == Path.cwd() else f"cd {directory} && "
    output.out.print(
        f"\n[bold]Project ready in {escape(str(result.root))}.[/bold] Next: "
        f"[cyan]{escape(where)}tinyctl up && tinyctl seed && tinyctl test-etl[/cyan]"
    )


@command("validate")
def validate(
    spec: SpecOption = DEFAULT_SPEC, verbose: VerboseOption = False, as_json: JsonOption = False
) -> None:
    """Check the spec and report every problem at once as file:line:col. Writes nothing."""
    # lazy: the spec (pydantic) off `tinyctl --help` and `init`
    from tinyctl.spec import load_spec

    try:
        loaded = load_spec(spec)
    except SpecError as error:
        if as_json:
            output.print_json({"valid": False, "problems": [_problem(p) for p in error.problems]})
            raise typer.Exit(int(error.exit_code)) from None
        raise
    if as_json:
        output.print_json({"valid": True, "problems": [_problem(p) for p in loaded.warnings]})
        return
    for warning in loaded.warnings:
        output.warn(str(warning))
    output.out.print(
        f"[green]✓[/green] {escape(str(loaded.file))} is valid (project {loaded.spec.project.name})."
    )


def _problem(problem) -> dict:
    return {
        "file": str(problem.file),
        "line": problem.line,
        "column": problem.column,
        "path": problem.path,
        "message": problem.message,
        "severity": problem.severity,
    }


@command("schema")
def schema(verbose: VerboseOption = False) -> None:
    """Print the spec's JSON Schema (for editor completion and validation)."""
    # lazy: the spec (pydantic) off `tinyctl --help` and `init`
    from tinyctl.spec import json_schema

    output.print_json(json_schema())


@command("render")
def render_command(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Only report whether the rendered files are stale; exit 1 if so."
        ),
    ] = False,
) -> None:
    """Write the compose file, env/secrets files and Airflow config into the state folder."""
    # lazy: the render engine (Jinja) only for `render`
    from tinyctl.render import render, render_status

    set_verbose(verbose)
    project = Project(open_spec(spec))
    if not check:
        lock_project(project, "render")
    if check:
        status = render_status(project)
        output.exit_with_freshness(
            status.fresh, status.reasons, as_json=as_json, files="rendered files"
        )
    result = render(project)
    if as_json:
        output.print_json(
            {
                "state_dir": str(result.state_dir),
                "written": result.written,
                "unchanged": result.unchanged,
                "removed": result.removed,
            }
        )
        return
    for name in result.written:
        output.out.print(f"  [green]wrote[/green]     {escape(name)}")
    for name in result.removed:
        output.out.print(f"  [yellow]removed[/yellow]   {escape(name)}")
    if result.generated_secrets:
        output.out.print(
            f"  [green]generated[/green] {len(result.generated_secrets)} secret(s) into "
            f"{escape(str(project.state.secrets_file))} (mode 0600)"
        )
    summary = f"{len(result.written)} written, {len(result.unchanged)} unchanged"
    output.out.print(f"[green]✓[/green] rendered into {escape(str(result.state_dir))} ({summary})")
