"""Rendering: spec + secrets -> the stack's files in the state folder (pure, deterministic).

The engine (and Jinja2) is imported on first use, so layers that only need the API stay light.
File names inside the state folder belong to `tinyctl.project.StateLayout`.
"""

from typing import Any

_ENGINE = ("RenderResult", "RenderStatus", "render", "render_files", "render_status")


def __getattr__(name: str) -> Any:
    if name in _ENGINE:
        # lazy: the engine (Jinja) only when a render function is asked for
        from tinyctl.render import engine

        return getattr(engine, name)
    raise AttributeError(name)


__all__ = [*_ENGINE]
