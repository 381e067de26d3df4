"""tinyctl's command line: the only layer that prints or exits."""

from tinyctl.cli import project  # noqa: F401  (registers the commands)
from tinyctl.cli.app import app


def main() -> None:
    app(prog_name="tinyctl")


__all__ = ["app", "main"]
