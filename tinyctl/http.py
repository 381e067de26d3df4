"""httpx, as tinyctl imports it: without httpx's own command-line tool.

httpx's package imports its CLI module whenever click is installed (Typer's environments have
it), and that module imports click, pygments and rich.progress: ~40 ms of every command that
talks to Airflow's API, for a tool tinyctl never runs. A `None` in `sys.modules` makes that one
import fail the way httpx expects when click is missing (it then defines a stub `main`).
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402  (after the line above, by design)

__all__ = ["httpx"]
