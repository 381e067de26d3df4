"""The StackPlan: one pure, neutral model of a project's stack (services and their roles,
Airflow settings with symbolic places and endpoints, secret names, databases, roles and grants,
ports, health checks), rendered into its own files by each target (`tinyctl.targets.*.render`).

No container path, host name or file format lives in it. Leaf-ward: it imports only the spec and
the state modules.
"""

from tinyctl.plan.build import build_plan, plan_for
from tinyctl.plan.model import StackPlan

__all__ = ["StackPlan", "build_plan", "plan_for"]
