"""Names of the files `render` writes into the state folder that other layers read."""

COMPOSE_FILE = "compose.yaml"
STAMP = "render.json"
