"""Small, frozen views of Airflow 3.3 REST API v2 objects.

Each `from_json` reads only the fields tinyctl uses and ignores the rest, so a newer Airflow
that adds fields does not break tinyctl.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HEALTH_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 string from the API ("2026-11-25T17:46:49.322005Z") as an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class Health:
    """GET /api/v2/monitor/health: each component's status ("healthy", "unhealthy" or None)."""

    components: dict[str, str | None]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Health:
        components: dict[str, str | None] = {}
        for name, info in data.items():
            components[name] = info.get("status") if isinstance(info, dict) else None
        for name in HEALTH_COMPONENTS:
            components.setdefault(name, None)
        return cls(components=components)

    def all_healthy(self, required: tuple[str, ...] = HEALTH_COMPONENTS) -> bool:
        return all(self.components.get(name) == "healthy" for name in required)

    def unhealthy(self, required: tuple[str, ...] = HEALTH_COMPONENTS) -> list[str]:
        """The required components that are not healthy (unhealthy, or not reported at all)."""
        return [name for name in required if self.components.get(name) != "healthy"]


@dataclass(frozen=True)
class Dag:
    dag_id: str
    is_paused: bool
    is_stale: bool
    fileloc: str
    relative_fileloc: str | None
    bundle_name: str | None
    file_token: str
    last_parsed_time: datetime | None
    tags: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Dag:
        return cls(
            dag_id=data["dag_id"],
            is_paused=bool(data.get("is_paused")),
            is_stale=bool(data.get("is_stale")),
            fileloc=data.get("fileloc") or "",
            relative_fileloc=data.get("relative_fileloc"),
            bundle_name=data.get("bundle_name"),
            file_token=data.get("file_token") or "",
            last_parsed_time=parse_datetime(data.get("last_parsed_time")),
            tags=sorted(
                tag["name"] if isinstance(tag, dict) else str(tag) for tag in data.get("tags") or []
            ),
        )


@dataclass(frozen=True)
class ImportErrorInfo:
    """GET /api/v2/importErrors. Airflow 3.3.2 returns `filename` relative to the bundle root
    (e.g. "broken_dag.py"), so `relative_fileloc` is the same value; there is no absolute path.
    `stack_trace` is Python's traceback text, with the absolute path and the failing line:
    `File "/opt/airflow/dags/broken_dag.py", line 6, in <module>`."""

    import_error_id: int
    filename: str
    relative_fileloc: str
    bundle_name: str | None
    stack_trace: str
    timestamp: datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportErrorInfo:
        filename = data.get("filename") or ""
        return cls(
            import_error_id=int(data["import_error_id"]),
            filename=filename,
            relative_fileloc=data.get("relative_fileloc") or filename,
            bundle_name=data.get("bundle_name"),
            stack_trace=data.get("stack_trace") or "",
            timestamp=parse_datetime(data.get("timestamp")),
        )


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    run_id: str
    state: str
    start_date: datetime | None
    end_date: datetime | None
    conf: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DagRun:
        return cls(
            dag_id=data["dag_id"],
            run_id=data.get("dag_run_id") or data.get("run_id") or "",
            state=data.get("state") or "",
            start_date=parse_datetime(data.get("start_date")),
            end_date=parse_datetime(data.get("end_date")),
            conf=data.get("conf") or {},
        )

    @property
    def finished(self) -> bool:
        return self.state in ("success", "failed")


@dataclass(frozen=True)
class TaskInstance:
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskInstance:
        return cls(
            task_id=data["task_id"],
            map_index=int(data.get("map_index", -1)),
            state=data.get("state"),
            try_number=int(data.get("try_number") or 0),
            start_date=parse_datetime(data.get("start_date")),
            end_date=parse_datetime(data.get("end_date")),
            duration=data.get("duration"),
        )


@dataclass(frozen=True)
class Variable:
    """A variable. Airflow masks the value as "***" when the key looks secret (password, token...)."""

    key: str
    value: str | None
    description: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Variable:
        return cls(key=data["key"], value=data.get("value"), description=data.get("description"))


@dataclass(frozen=True)
class Pool:
    name: str
    slots: int
    description: str | None
    include_deferred: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pool:
        return cls(
            name=data["name"],
            slots=int(data["slots"]),
            description=data.get("description"),
            include_deferred=bool(data.get("include_deferred")),
        )
