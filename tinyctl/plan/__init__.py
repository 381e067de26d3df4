"""The StackPlan: one pure, neutral model of a project's stack (services and their roles,
Airflow settings with symbolic places and endpoints, secret names, databases, roles and grants,
ports, health checks), rendered into its own files by each target (`tinyctl.targets.*.render`).

No container path, host name or file format lives in it. Leaf-ward: it imports only the spec and
the state modules.

Modules: `model` (the plan's dataclasses), `values` (the symbols it is written in), `build`
(`build_plan`, `plan_for`: the plan from a spec), `settings`, `objects`, `labels`, `serialise`.
This package imports none of them itself: a command that only needs a label or a value (every
command that talks to a running stack) does not pay for building plans (~30 ms).
"""
