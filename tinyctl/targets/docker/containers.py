"""One container of a compose project as tinyctl sees it, from `docker compose ps` or from the
engine API's container list (no python-on-whales here: the light paths import this alone)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# The engine's status text: "Up 2 minutes (healthy)", "Up 3 seconds (health: starting)",
# "Exited (137) 5 seconds ago".
_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_EXIT = re.compile(r"^Exited \((-?\d+)\)")


@dataclass(frozen=True)
class ContainerState:
    """One container of a compose project, as `docker compose ps -a --format json` reports it."""

    name: str
    service: str
    state: str  # running, exited, created, restarting, paused, dead
    health: str  # healthy, unhealthy, starting, "" (no healthcheck)
    exit_code: int
    ports: tuple[str, ...] = ()
    published: tuple[int, ...] = field(default=())
    labels: str = ""  # "key=value,key=value" as Compose reports them
    id: str = ""  # the container's id (the engine API's full one, Compose's short one)

    def label(self, key: str) -> str | None:
        """A label whose value has no comma (ids, numbers); None when absent."""
        match = re.search(rf"(?:^|,){re.escape(key)}=([^,]*)", self.labels)
        return match.group(1) if match else None

    @classmethod
    def from_ps(cls, row: dict[str, Any]) -> ContainerState:
        publishers = row.get("Publishers") or []
        ports = tuple(
            sorted(
                {
                    f"{p.get('URL') or '0.0.0.0'}:{p['PublishedPort']}->{p['TargetPort']}"
                    for p in publishers
                    if p.get("PublishedPort")
                }
            )
        )
        published = tuple(
            sorted({int(p["PublishedPort"]) for p in publishers if p.get("PublishedPort")})
        )
        return cls(
            name=row.get("Name", ""),
            service=row.get("Service", ""),
            state=row.get("State", ""),
            health=row.get("Health", "") or "",
            exit_code=int(row.get("ExitCode") or 0),
            ports=ports,
            published=published,
            labels=str(row.get("Labels") or ""),
            id=str(row.get("ID") or ""),
        )

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> ContainerState:
        """From one entry of the engine API's `GET /containers/json`, as `from_ps` would read
        the same container from `docker compose ps`."""
        labels = row.get("Labels") or {}
        ports_rows = [p for p in row.get("Ports") or [] if p.get("PublicPort")]
        ports = tuple(
            sorted(
                {
                    f"{p.get('IP') or '0.0.0.0'}:{p['PublicPort']}->{p['PrivatePort']}"
                    for p in ports_rows
                }
            )
        )
        status = str(row.get("Status") or "")
        health = (
            ((row.get("Health") or {}).get("Status") or "")
            if isinstance(row.get("Health"), dict)
            else ""
        )
        if not health and (match := _HEALTH.search(status)):
            health = "starting" if match.group(1) == "health: starting" else match.group(1)
        exited = _EXIT.match(status)
        names = row.get("Names") or [""]
        return cls(
            name=str(names[0]).lstrip("/"),
            service=str(labels.get("com.docker.compose.service", "")),
            state=str(row.get("State") or ""),
            health=health if health != "none" else "",
            exit_code=int(exited.group(1)) if exited else 0,
            ports=ports,
            published=tuple(sorted({int(p["PublicPort"]) for p in ports_rows})),
            labels=",".join(f"{k}={v}" for k, v in labels.items()),
            id=str(row.get("Id") or ""),
        )
