"""The local runtime: the stack as supervised local processes, for machines without Docker."""

from tinyctl.runtime.local.runtime import LocalRuntime

__all__ = ["LocalRuntime"]
