"""The labels that say which tinyctl project a resource belongs to (its identity), on every
resource a target makes: containers, networks, volumes, Kubernetes objects."""

from __future__ import annotations

from tinyctl.spec.models import Spec
from tinyctl.state.identity import Identity

PROJECT_ID_LABEL = "io.tinyctl.project-id"
FOLDER_LABEL = "io.tinyctl.folder"
PORTS_LABEL = "io.tinyctl.ports"  # the host ports the project publishes


def project_labels(spec: Spec, identity: Identity | None) -> dict[str, str]:
    """{label: value} of a project's resources; none before its identity exists."""
    if identity is None:
        return {}
    ports = [spec.airflow.port, *([spec.postgres.port] if spec.postgres.port else [])]
    return {
        PROJECT_ID_LABEL: identity.id,
        FOLDER_LABEL: identity.folder,
        PORTS_LABEL: ",".join(str(p) for p in ports),
    }
