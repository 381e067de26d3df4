"""Rendering: spec + secrets -> the stack's files in the state folder (pure, deterministic).

The engine (and Jinja2) is imported on first use, so layers that only need file names stay light.
"""

from typing import Any

from tinyctl.render.names import COMPOSE_FILE, STAMP

_ENGINE = ("RenderResult", "RenderStatus", "render", "render_files", "render_status")


def __getattr__(name: str) -> Any:
    if name in _ENGINE:
        from tinyctl.render import engine

        return getattr(engine, name)
    raise AttributeError(name)


__all__ = ["COMPOSE_FILE", "STAMP", *_ENGINE]
