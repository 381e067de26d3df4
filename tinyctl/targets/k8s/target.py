"""Write the Kubernetes target's files into the state folder: all rendered first, then written
atomically, secrets.yaml with mode 0600. Nothing is written when the input is bad."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tinyctl.errors import BadInput
from tinyctl.spec.loader import LoadedSpec
from tinyctl.state.fsutil import write_atomic
from tinyctl.state.secrets import Secrets
from tinyctl.targets.k8s.inputs import gather
from tinyctl.targets.k8s.names import FOLDER
from tinyctl.targets.k8s.render import K8sFile, K8sInputs, render_files


@dataclass
class K8sRender:
    folder: Path
    inputs: K8sInputs
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def write_files(state_root: Path, files: Mapping[str, K8sFile]) -> tuple[list[str], list[str]]:
    if state_root.exists() and not state_root.is_dir():
        raise BadInput(f"{state_root} is a file, but project.state_dir must be a folder")
    folder = state_root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # secrets.yaml lives here
    written, unchanged = [], []
    for name, rendered in files.items():
        target = state_root / name
        if target.is_file() and target.read_bytes() == rendered.content:
            target.chmod(rendered.mode)
            unchanged.append(name)
            continue
        write_atomic(target, rendered.content, mode=rendered.mode)
        written.append(name)
    return written, unchanged


def render_k8s(
    loaded: LoadedSpec,
    secrets: Secrets,
    environ: Mapping[str, str],
    state_root: Path,
) -> K8sRender:
    """Render values.yaml, secrets.yaml and jobs.yaml into `<state>/k8s/`."""
    inputs = gather(loaded, secrets, environ, state_root)
    files = render_files(inputs)  # everything in memory before the first write
    written, unchanged = write_files(state_root, files)
    return K8sRender(state_root / FOLDER, inputs, written, unchanged)
