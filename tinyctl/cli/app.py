"""The Typer application, shared options, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from tinyctl import __version__
from tinyctl.cli import output
from tinyctl.cli.argv import TinyctlGroup
from tinyctl.cli.locks import OPENED, release_locks
from tinyctl.errors import FULL_ERRNOS, DiskFull, ExitCode, TinyctlError

if TYPE_CHECKING:
    from tinyctl.spec import LoadedSpec

DEFAULT_SPEC = Path("tinyctl.yaml")

app = typer.Typer(
    name="tinyctl",
    cls=TinyctlGroup,
    help="A tiny analytics platform on one machine: Airflow 3 + PostgreSQL, brought up, fed and tested.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
)

SpecOption = Annotated[
    Path,
    typer.Option(
        "--spec",
        "-s",
        envvar="TINYCTL_SPEC",
        help="Project spec file (or give it as the first argument).",
        show_default=True,
    ),
]
VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", envvar="TINYCTL_VERBOSE", help="Echo every external command run."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(function: F) -> F:
    """Turn tinyctl's typed errors into a panel and their exit code; bugs keep their traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except TinyctlError as error:
            _tell_full_disks(error)
            output.show_error(error)
            raise typer.Exit(int(error.exit_code)) from None
        except KeyboardInterrupt:
            output.err.print("[yellow]Interrupted.[/yellow]")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except OSError as error:  # a full disk under a write that is not tinyctl's own
            if error.errno not in FULL_ERRNOS:
                raise
            # lazy: tempfile and hashlib off `tinyctl --help` (only on a full disk)
            from tinyctl.state.fsutil import disk_full

            full = disk_full(Path(error.filename or "."), error.filename or "a file (unnamed)")
            output.show_error(full)
            raise typer.Exit(int(full.exit_code)) from None
        finally:
            release_locks()

    return wrapper  # type: ignore[return-value]


def _tell_full_disks(error: TinyctlError) -> None:
    """Whatever failed (a service that stopped, Airflow not healthy, a DAG run), a full file
    system under the project is said with it: it is often why, and the error may not know."""
    if isinstance(error, DiskFull) or "is full" in f"{error.message} {error.details or ''}":
        return
    # lazy: tempfile and hashlib off `tinyctl --help` (only once a command failed)
    from tinyctl.state.fsutil import full_file_systems

    try:
        full = full_file_systems(
            [
                p
                for project in OPENED
                for p in (project.state.root, project.path(project.spec.data.path))
            ]
        )
    except (OSError, TinyctlError):
        return
    if full:
        error.details = "\n".join(
            [*([error.details] if error.details else []), *(f"{f}." for f in full)]
        )


def command(name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """`@app.command` with tinyctl's error handling."""

    def decorator(function: F) -> F:
        app.command(name, **kwargs)(handle_errors(function))
        return function

    return decorator


def open_spec(spec: Path) -> LoadedSpec:
    """Load and validate the spec; warnings go to stderr."""
    # lazy: the spec (pydantic) only for commands that read it, not --help or --version
    from tinyctl.spec import load_spec

    loaded = load_spec(spec)
    for warning in loaded.warnings:
        output.warn(str(warning))
    return loaded


def set_verbose(verbose: bool) -> None:
    if verbose:
        os.environ["TINYCTL_VERBOSE"] = "1"


def version_callback(value: bool) -> None:
    if value:
        output.out.print(f"tinyctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    spec: Annotated[
        Path | None,
        typer.Option("--spec", "-s", help="Project spec file (also accepted after the command)."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Echo every external command run.")
    ] = False,
) -> None:
    """tinyctl: [bold]up[/bold], [bold]deploy-dags[/bold], [bold]seed[/bold], [bold]test-etl[/bold], [bold]status[/bold].

    Exit codes: 0 ok; 1 the work failed (a test, an unhealthy stack); 2 bad input (spec,
    arguments); 3 environment problem (no Docker, a port taken).
    """
    # Given before the command, they become the defaults of the command's own options.
    if spec is not None:
        os.environ["TINYCTL_SPEC"] = str(spec)
    if verbose:
        os.environ["TINYCTL_VERBOSE"] = "1"


# --help lists the commands most used first, in three panels.
HELP_ORDER = {
    "Everyday": [
        "up",
        "status",
        "deploy-dags",
        "run",
        "parse",
        "test-etl",
        "seed",
        "logs",
        "down",
    ],
    "Inside the stack": [
        "airflow",
        "shell",
        "psql",
        "credentials",
        "sync-settings",
        "settings",
        "restart",
    ],
    "Project": ["init", "validate", "pytest", "ci", "render", "build", "schema", "doctor"],
}


def order_help() -> None:
    """Put the registered commands in help order, each in its panel (idempotent)."""
    rank = {name: i for i, name in enumerate(n for names in HELP_ORDER.values() for n in names)}
    panel = {name: title for title, names in HELP_ORDER.items() for name in names}

    def name_of(info) -> str:
        return info.name or info.callback.__name__.replace("_", "-")

    for info in app.registered_commands:
        info.rich_help_panel = panel.get(name_of(info), "Project")
    for info in app.registered_groups:
        info.rich_help_panel = panel.get(info.name or "", "Project")
    app.registered_commands.sort(key=lambda info: rank.get(name_of(info), len(rank)))


__all__ = [
    "DEFAULT_SPEC",
    "JsonOption",
    "SpecOption",
    "VerboseOption",
    "app",
    "command",
    "open_spec",
    "order_help",
]
