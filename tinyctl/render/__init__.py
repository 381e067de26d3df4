"""Rendering: spec + secrets -> the stack's files in the state folder (pure, deterministic)."""

from tinyctl.render.engine import (
    COMPOSE_FILE,
    RenderResult,
    RenderStatus,
    render,
    render_files,
    render_status,
)

__all__ = [
    "COMPOSE_FILE",
    "RenderResult",
    "RenderStatus",
    "render",
    "render_files",
    "render_status",
]
