"""tinyctl's command line: the only layer that prints or exits."""

from tinyctl.cli import ci, dags, data, project, stack  # noqa: F401  (register the commands)
from tinyctl.cli.app import app


def main() -> None:
    app(prog_name="tinyctl")


__all__ = ["app", "main"]
