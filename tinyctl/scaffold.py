"""`tinyctl init`: scaffold a working project from the shipped sample."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from tinyctl.errors import BadInput
from tinyctl.resources import sample_dags_dir, templates_dir
from tinyctl.stack.preflight import port_free
from tinyctl.state.fsutil import write_atomic
from tinyctl.targets.choice import ports_of_other_projects

SPEC_TEMPLATE = "init/tinyctl.yaml.j2"
GITIGNORE = """\
# tinyctl: rendered files, generated secrets (mode 0600), task logs
.tinyctl/
# processed landing files
data/archive/
__pycache__/
"""


DEFAULT_PORTS = (8080, 5432)  # Airflow, PostgreSQL


@dataclass(frozen=True)
class ScaffoldResult:
    root: Path
    files: list[Path]
    ports: tuple[int, int] = DEFAULT_PORTS
    notes: tuple[str, ...] = ()


def choose_ports(
    wanted: tuple[int, int] = DEFAULT_PORTS, taken_by_projects: set[int] | None = None
) -> tuple[tuple[int, int], list[str]]:
    """The usual ports when they are free on this machine and no other tinyctl project uses
    them (running or stopped), else the next free ones; with a note for each change."""
    if taken_by_projects is None:
        taken_by_projects = ports_of_other_projects()
    chosen: list[int] = []
    notes: list[str] = []
    for label, port in zip(("airflow.port", "postgres.port"), wanted, strict=True):
        candidate = port
        while (
            candidate in taken_by_projects
            or candidate in chosen
            or not port_free("127.0.0.1", candidate)
        ):
            candidate += 1
        if candidate != port:
            why = (
                "used by another tinyctl project"
                if port in taken_by_projects
                else "already taken on this machine"
            )
            notes.append(f"{label}: {candidate} ({port} is {why})")
        chosen.append(candidate)
    return (chosen[0], chosen[1]), notes


def project_name(folder: Path) -> str:
    """A valid Compose project name derived from a folder name."""
    name = re.sub(r"[^a-z0-9_-]+", "-", folder.name.lower()).strip("-_")
    return name[:63] or "tinyctl"


def planned_files(
    root: Path, name: str, images_source: str, ports: tuple[int, int] = DEFAULT_PORTS
) -> dict[Path, bytes]:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    files: dict[Path, bytes] = {
        root / "tinyctl.yaml": env.get_template(SPEC_TEMPLATE)
        .render(
            name=name, images_source=images_source, airflow_port=ports[0], postgres_port=ports[1]
        )
        .encode(),
        root / ".gitignore": GITIGNORE.encode(),
    }
    for dag in sorted(sample_dags_dir().glob("*.py")):
        files[root / "dags" / dag.name] = dag.read_bytes()
    scaffold = templates_dir() / "init"
    for path in sorted(scaffold.rglob("*")):
        if path.is_file() and not path.name.endswith(".j2"):
            files[root / path.relative_to(scaffold)] = path.read_bytes()
    return files


def init_project(
    root: Path,
    *,
    force: bool = False,
    name: str | None = None,
    images_source: str = "official",
    pick_ports: bool = False,
) -> ScaffoldResult:
    """Write the sample project into `root`. Refuses to overwrite anything unless `force`.
    `pick_ports`: choose free ports not used by other projects (else the usual 8080 and 5432)."""
    root = root.absolute()
    if root.exists() and not root.is_dir():
        raise BadInput(f"{root} exists and is not a folder")
    name = name or project_name(root)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", name):
        raise BadInput(
            f"{name!r} is not a valid project name",
            hint="Use lowercase letters, digits, '-' and '_', starting with a letter or digit (--name NAME).",
        )
    ports, notes = choose_ports() if pick_ports else (DEFAULT_PORTS, [])
    files = planned_files(root, name, images_source, ports)
    existing = [path for path in files if path.exists()]
    if existing and not force:
        shown = "\n".join(f"  {p.relative_to(root)}" for p in existing[:10])
        more = f"\n  ... and {len(existing) - 10} more" if len(existing) > 10 else ""
        raise BadInput(
            f"{len(existing)} file(s) already exist in {root}; nothing was written",
            details=shown + more,
            hint="Pick an empty folder, or pass --force to overwrite these files.",
        )
    for path, content in files.items():
        write_atomic(path, content)
    (root / "data" / "archive").mkdir(parents=True, exist_ok=True)
    return ScaffoldResult(root=root, files=sorted(files), ports=ports, notes=tuple(notes))
