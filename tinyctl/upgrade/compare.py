"""The two sides of an upgrade compared: installed packages, and every DAG file's parse.

Pure functions over what `tinyctl.upgrade.run` gathered (pip freeze of each version, a
`ParseReport` with shapes of each): no Airflow, no runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tinyctl.dags.parse import ParseReport


@dataclass
class PackageDiff:
    added: dict[str, str] = field(default_factory=dict)  # name -> target version
    removed: dict[str, str] = field(default_factory=dict)  # name -> current version
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (current, target)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": {k: {"from": a, "to": b} for k, (a, b) in self.changed.items()},
        }


def diff_packages(current: dict[str, str], target: dict[str, str]) -> PackageDiff:
    norm_current = {_norm(k): (k, v) for k, v in current.items()}
    norm_target = {_norm(k): (k, v) for k, v in target.items()}
    diff = PackageDiff()
    for key in sorted(set(norm_current) | set(norm_target)):
        if key not in norm_current:
            diff.added[norm_target[key][0]] = norm_target[key][1]
        elif key not in norm_target:
            diff.removed[norm_current[key][0]] = norm_current[key][1]
        elif norm_current[key][1] != norm_target[key][1]:
            diff.changed[norm_target[key][0]] = (norm_current[key][1], norm_target[key][1])
    return diff


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@dataclass
class DagChange:
    file: str
    kind: str  # stops_importing | starts_importing | changes_shape | disappears | appears
    dag_id: str | None
    detail: str
    error: str | None = None  # the import error on the side where it fails

    @property
    def breaking(self) -> bool:
        return self.kind in ("stops_importing", "changes_shape", "disappears")

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "dag_id": self.dag_id,
            "detail": self.detail,
            "error": self.error,
            "breaking": self.breaking,
        }


def compare_parses(current: ParseReport, target: ParseReport) -> list[DagChange]:
    """What changes per DAG file between the two versions' parses."""
    changes: list[DagChange] = []
    before, after = current.by_file(), target.by_file()
    for rel in sorted(set(before) | set(after)):
        old, new = before.get(rel), after.get(rel)
        if old is None or new is None:
            continue  # both sides parse the same folder; a file seen once was being edited
        if not old.failed and new.failed:
            detail = f"imports on {current.airflow_version}, fails on {target.airflow_version}"
            changes.append(DagChange(rel, "stops_importing", None, detail, new.error))
            continue
        if old.failed and not new.failed:
            detail = f"fails on {current.airflow_version}, imports on {target.airflow_version}"
            changes.append(DagChange(rel, "starts_importing", None, detail, old.error))
            continue
        if old.failed:
            continue  # fails on both: `tinyctl parse` reports it; nothing changed by the upgrade
        changes += _compare_dags(rel, old.shapes, new.shapes)
    return changes


def _compare_dags(rel: str, old: dict[str, Any], new: dict[str, Any]) -> list[DagChange]:
    changes = []
    for dag_id in sorted(set(old) - set(new)):
        changes.append(DagChange(rel, "disappears", dag_id, "defined on the current version only"))
    for dag_id in sorted(set(new) - set(old)):
        changes.append(DagChange(rel, "appears", dag_id, "defined on the target version only"))
    for dag_id in sorted(set(old) & set(new)):
        differences = shape_differences(old[dag_id], new[dag_id])
        if differences:
            changes.append(DagChange(rel, "changes_shape", dag_id, "; ".join(differences)))
    return changes


def shape_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Task ids, dependencies and schedule that differ, in words."""
    out = []
    old_tasks, new_tasks = old.get("tasks") or {}, new.get("tasks") or {}
    if gone := sorted(set(old_tasks) - set(new_tasks)):
        out.append("tasks removed: " + ", ".join(gone))
    if added := sorted(set(new_tasks) - set(old_tasks)):
        out.append("tasks added: " + ", ".join(added))
    edges_old = {(t, d) for t, ds in old_tasks.items() for d in ds}
    edges_new = {(t, d) for t, ds in new_tasks.items() for d in ds}
    if lost := sorted(edges_old - edges_new):
        out.append("dependencies removed: " + ", ".join(f"{a} >> {b}" for a, b in lost))
    if gained := sorted(edges_new - edges_old):
        out.append("dependencies added: " + ", ".join(f"{a} >> {b}" for a, b in gained))
    if old.get("schedule") != new.get("schedule"):
        out.append(f"schedule {_schedule(old)} -> {_schedule(new)}")
    return out


def _schedule(shape: dict[str, Any]) -> str:
    schedule = shape.get("schedule") or {}
    kind = str(schedule.get("type") or "none").rsplit(".", 1)[-1]
    value = schedule.get("value")
    return f"{kind}({value})" if value else kind
