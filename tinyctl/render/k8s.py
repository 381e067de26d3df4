"""`tinyctl k8s render`: the Kubernetes target's files, written and stamped like `tinyctl render`
writes the stack's (atomically, each only when it changed, with a stamp, `k8s/render.json`, of
what was written), and `--check`: whether they are stale or were edited by hand.

The plan of the stack as the cluster runs it, and what the cluster alone decides, are rendered by
`tinyctl.targets.k8s.render`; this module only gathers, writes and compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinyctl.errors import BadInput
from tinyctl.plan.model import StackPlan
from tinyctl.project import Project
from tinyctl.render.engine import RenderStatus, check_state_folder, stamp_status, write_stamped
from tinyctl.targets.base import RenderedFile, RenderedFolder
from tinyctl.targets.k8s.inputs import cluster_plan, gather
from tinyctl.targets.k8s.names import FOLDER, STAMP
from tinyctl.targets.k8s.release import K8sInputs
from tinyctl.targets.k8s.render import render_files

FOLDERS = {FOLDER: RenderedFolder(mode=0o700)}  # secrets.yaml lives there


@dataclass
class K8sRender:
    folder: Path
    plan: StackPlan
    inputs: K8sInputs
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def check_k8s(project: Project) -> K8sInputs:
    """The cluster's inputs, checked, before anything long (an image build): SpecError (exit 2)
    on bad input. Generates the missing secrets, as render does first."""
    project.generate_secrets()
    return _inputs(project)


def _inputs(project: Project) -> K8sInputs:
    """The cluster's inputs, checked: SpecError (exit 2) on bad input."""
    plan = cluster_plan(project.loaded)  # what the checks read does not depend on the identity
    return gather(project.loaded, plan, project.secrets, project.environ, project.state.root)


def _rendered(project: Project, inputs: K8sInputs) -> tuple[StackPlan, dict[str, RenderedFile]]:
    plan = cluster_plan(project.loaded, project.identity)  # its id annotates the objects
    return plan, render_files(plan, inputs)


def render_k8s(project: Project) -> K8sRender:
    """Render values.yaml, secrets.yaml and jobs.yaml into `<state>/k8s/`, and stamp them.
    Bad input is refused before anything of `k8s/` is written."""
    state = project.state
    check_state_folder(state)
    inputs = check_k8s(project)
    project.ensure_identity()
    plan, files = _rendered(project, inputs)
    written, unchanged, removed = write_stamped(state, files, state.file(STAMP), FOLDERS)
    return K8sRender(state.file(FOLDER), plan, inputs, written, unchanged, removed)


def k8s_status(project: Project) -> RenderStatus:
    """Whether `<state>/k8s/` holds what `render_k8s` would write now. Writes nothing."""
    state = project.state
    if not state.file(STAMP).is_file():
        return RenderStatus(False, ("not rendered yet (run tinyctl k8s render)",))
    try:
        project.secrets  # noqa: B018 (read once: missing secrets are a reason, not an error)
    except BadInput:
        return RenderStatus(False, ("the spec needs secrets that are not generated yet",))
    return stamp_status(state, _rendered(project, _inputs(project))[1], state.file(STAMP))
