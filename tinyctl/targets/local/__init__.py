"""The local target: the stack as supervised local processes, for machines without Docker."""
