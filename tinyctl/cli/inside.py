"""Reaching inside the stack: the Airflow CLI, a shell, the UI login, the settings as YAML."""

from __future__ import annotations

import os
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
    app,
    command,
    handle_errors,
)
from tinyctl.cli.common import open_project
from tinyctl.errors import BadInput, EnvironmentProblem

PASSTHROUGH = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "allow_interspersed_args": False,
}


def _require_running(project, service: str) -> None:
    services = project.runtime.services()
    names = sorted({s.service for s in services})
    if service not in names:
        raise BadInput(
            f"no service {service!r} in project {project.name}",
            hint="Services: " + ", ".join(project.runtime.expected_services()),
        )
    if not any(s.service == service and s.state == "running" for s in services):
        raise EnvironmentProblem(
            f"{service} is not running in project {project.name}",
            hint="Start the stack with `tinyctl up`.",
        )


def passthrough_spec() -> tuple[Path, bool]:
    """The spec and --verbose of a command that passes every argument on: given before its
    name (`tinyctl -s other.yaml -v airflow ...`), which the root turns into the environment."""
    return (
        Path(os.environ.get("TINYCTL_SPEC") or DEFAULT_SPEC),
        bool(os.environ.get("TINYCTL_VERBOSE")),
    )


@command("airflow", context_settings=PASSTHROUGH, add_help_option=False)
def airflow_command(ctx: typer.Context) -> None:
    """Run the Airflow CLI in the stack (in the scheduler): [cyan]tinyctl airflow dags list[/cyan]. Every argument goes to Airflow; give -s/-v before `airflow`."""
    args = list(ctx.args)
    project = open_project(*passthrough_spec())
    _require_running(project, "scheduler")
    raise typer.Exit(project.runtime.interactive("scheduler", ["airflow", *args]))


@command("shell")
def shell_command(
    service: Annotated[
        str, typer.Argument(help="Service to open a shell in.", show_default=True)
    ] = "scheduler",
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
) -> None:
    """An interactive shell (bash, else sh) in a service of the stack (default: the scheduler)."""
    project = open_project(spec, verbose)
    _require_running(project, service)
    argv = ["sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash || exec sh"]
    raise typer.Exit(project.runtime.interactive(service, argv))


@command("credentials")
def credentials_command(
    user: Annotated[
        str | None, typer.Argument(help="User (default: the first of airflow.users).")
    ] = None,
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    show_password: Annotated[
        bool,
        typer.Option(
            "--show-password", help="Print the password itself (masked unless asked for)."
        ),
    ] = False,
) -> None:
    """The Airflow UI's URL and the login of a user; the password only with --show-password."""
    project = open_project(spec, verbose)
    users = {u.name: u for u in project.spec.airflow.users}
    name = user or project.spec.airflow.users[0].name
    if name not in users:
        raise BadInput(
            f"no user {name!r} in airflow.users", hint="Users: " + ", ".join(sorted(users))
        )
    password = project.secrets.user_password(name)
    shown = password if show_password else "*" * 8
    url = project.runtime.api_url()
    if as_json:
        output.print_json(
            {
                "url": url,
                "user": name,
                "role": users[name].role,
                "password": password if show_password else None,
            }
        )
        return
    output.out.print(f"URL:      [bold]{escape(url)}[/bold]")
    output.out.print(f"user:     [bold]{escape(name)}[/bold] ({users[name].role})")
    output.out.print(f"password: {escape(shown)}")
    if not show_password:
        output.err.print("[dim]--show-password prints it[/dim]")


settings_app = typer.Typer(
    name="settings",
    help="Airflow connections, variables and pools: export them as the spec's YAML.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(settings_app, name="settings")


def _export(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
    format_: Annotated[
        str,
        typer.Option(
            "--format",
            help="tinyctl: the spec's `airflow:` keys; astro: Astro CLI's airflow_settings.yaml.",
        ),
    ] = "tinyctl",
) -> None:
    """Write the running Airflow's connections, variables and pools as the spec's YAML; passwords become password_env names."""
    # lazy: yaml and tempfile off `tinyctl --help`, which loads every command module
    from tinyctl.airflow_settings.export import export_settings, to_yaml
    from tinyctl.state.fsutil import write_atomic

    if format_ not in ("tinyctl", "astro"):
        raise typer.BadParameter("must be tinyctl or astro", param_hint="--format")
    # lazy: yaml and the Astro format off `tinyctl --help`, only for --format astro
    from tinyctl.interop.astro_settings import to_astro_yaml

    as_text = to_astro_yaml if format_ == "astro" else to_yaml
    project = open_project(spec, verbose)
    with project.airflow() as client:
        client.require_up(("metadatabase",))
        export = export_settings(client, project.spec)
    if as_json:
        output.print_json(export.as_dict())
        return
    text = as_text(export, source=project.runtime.api_url())
    if out is None:
        output.out.print(text, end="", markup=False, highlight=False)
        return
    write_atomic(out, text.encode(), mode=0o600 if format_ == "astro" else 0o644)
    output.err.print(
        f"[green]✓[/green] wrote {escape(str(out))}: {len(export.connections)} connection(s), "
        f"{len(export.variables)} variable(s), {len(export.pools)} pool(s)"
    )


settings_app.command("export")(handle_errors(_export))
