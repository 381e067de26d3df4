"""tinyctl's command line: the only layer that prints or exits."""

from tinyctl.cli import (  # noqa: F401  (register the commands)
    authoring,
    ci,
    dags,
    data,
    inside,
    project,
    stack,
)
from tinyctl.cli.app import app

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


def _order_help() -> None:
    rank = {name: i for i, name in enumerate(n for names in HELP_ORDER.values() for n in names)}
    panel = {name: title for title, names in HELP_ORDER.items() for name in names}

    def name_of(info) -> str:
        return info.name or info.callback.__name__.replace("_", "-")

    for info in app.registered_commands:
        info.rich_help_panel = panel.get(name_of(info), "Project")
    for info in app.registered_groups:
        info.rich_help_panel = panel.get(info.name or "", "Project")
    app.registered_commands.sort(key=lambda info: rank.get(name_of(info), len(rank)))


_order_help()


def main() -> None:
    app(prog_name="tinyctl")


__all__ = ["app", "main"]
