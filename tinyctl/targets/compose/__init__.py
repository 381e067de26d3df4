"""The Compose target: the stack plan rendered as compose.yaml, run on a Docker engine."""
