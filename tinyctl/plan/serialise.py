"""A plan as plain JSON-able data (stable: sorted keys, symbols by name): for golden tests,
debugging, and targets that hand the plan to another tool."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from typing import Any

from tinyctl.plan.model import StackPlan


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if type(value).__module__ == "tinyctl.plan.values":  # a symbolic value: say which kind
            return {"kind": type(value).__name__, **fields}
        return fields
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def plan_data(plan: StackPlan) -> dict[str, Any]:
    return _plain(plan)


def plan_json(plan: StackPlan) -> str:
    return json.dumps(plan_data(plan), indent=2, sort_keys=True) + "\n"
