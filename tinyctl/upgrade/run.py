"""`tinyctl upgrade-test --to VERSION`, as Astro's `astro dev upgrade-test` and more.

The target version runs beside the current one: a derived project (the spec with only
`airflow.version` replaced, in memory, with its own state folder under the project's) whose
one-off containers use the target's image, built like the stack's own (or, on the local
runtime, its venv). On both sides: the installed packages, and a parse of every DAG file with
each DAG's shape from its serialised form (tinyctl.dags.parse). Then ruff's Airflow 3 rules on
the DAG, plugin and include code. Nothing of the running stack is touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tinyctl.dags.parse import ParseReport, parse_dags
from tinyctl.errors import WorkFailed
from tinyctl.project import Project
from tinyctl.spec.override import SpecOverride
from tinyctl.upgrade.compare import DagChange, PackageDiff, compare_parses, diff_packages
from tinyctl.upgrade.migration import Finding, check_migration

MARKER = "TINYCTL-FREEZE "
FREEZE = (
    "import importlib.metadata as m, json\n"
    "print('" + MARKER + "' + json.dumps({d.metadata['Name']: d.version "
    "for d in m.distributions() if d.metadata['Name']}))\n"
)


@dataclass
class UpgradeReport:
    current: str
    target: str
    packages: PackageDiff
    dags: list[DagChange]
    findings: list[Finding]
    parses: dict[str, ParseReport] = field(default_factory=dict)
    fixed: bool = False

    @property
    def breaking(self) -> list[DagChange]:
        return [c for c in self.dags if c.breaking]

    @property
    def ok(self) -> bool:
        return not self.breaking

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "current": self.current,
            "target": self.target,
            "packages": self.packages.as_dict(),
            "dags": [c.as_dict() for c in self.dags],
            "migration": [f.as_dict() for f in self.findings],
            "fixed": self.fixed,
            "parse": {side: report.as_dict() for side, report in self.parses.items()},
        }


def target_project(project: Project, version: str) -> Project:
    state = f"{project.spec.project.state_dir.rstrip('/')}/upgrade/{version}"
    return project.derive(SpecOverride(airflow_version=version, state_dir=state))


def freeze(project: Project, on_step: Callable[[str], None] | None = None) -> dict[str, str]:
    result = project.runtime.run_oneoff(["python", "-c", FREEZE], on_step=on_step)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    raise WorkFailed(
        f"could not list the packages of Airflow {project.spec.airflow.version}",
        details=(result.stderr or result.stdout)[-2000:],
    )


def upgrade_test(
    project: Project,
    version: str,
    *,
    fix: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> UpgradeReport:
    target = target_project(project, version)
    current_version = project.spec.airflow.version
    step = on_step or (lambda _message: None)
    step(f"Airflow {current_version}: packages and DAG parse")
    before_packages = freeze(project, on_step)
    before = parse_dags(project, shapes=True, on_step=on_step)
    step(f"Airflow {version}: building it beside the current one, then packages and DAG parse")
    after_packages = freeze(target, on_step)
    after = parse_dags(target, shapes=True, on_step=on_step)
    spec = project.spec
    folders = [project.path(p) for p in (spec.dags.path, spec.plugins.path, spec.include.path)]
    step("ruff's Airflow 3 migration rules (AIR3xx)" + (" with --fix" if fix else ""))
    findings = check_migration(project.root, folders, fix=fix)
    return UpgradeReport(
        current=current_version,
        target=version,
        packages=diff_packages(before_packages, after_packages),
        dags=compare_parses(before, after),
        findings=findings,
        parses={"current": before, "target": after},
        fixed=fix,
    )
