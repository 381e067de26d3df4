"""What the Kubernetes target renders the plan with besides the plan: what the cluster alone
decides (the release, the namespace, the image, the database server, git-sync, the eks profile,
resources) and the secrets' values. Gathered and checked by `inputs.gather`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from tinyctl.targets.k8s.chart import Addresses, addresses
from tinyctl.targets.k8s.names import secret_name


@dataclass(frozen=True)
class ServerAddress:
    """The PostgreSQL server as the cluster's pods reach it."""

    host: str
    port: int
    admin_user: str
    admin_password: str
    sslmode: str | None = None  # None: the server's and libpq's default
    bundled: bool = False  # the chart's own PostgreSQL (a dev cluster)


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str
    digest: str | None = None  # sha256:...; set once the image was pushed

    @property
    def reference(self) -> str:
        return (
            f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"
        )

    @property
    def pinned_tag(self) -> str:
        """The tag, pinned to the digest once pushed (where only repository:tag is taken)."""
        return f"{self.tag}@{self.digest}" if self.digest else self.tag


@dataclass(frozen=True)
class GitSync:
    repo: str
    branch: str
    subpath: str
    period: str
    ssh_key_secret: str | None = None
    credentials_secret: str | None = None


@dataclass(frozen=True)
class EksProfile:
    role_arn: str
    region: str
    log_folder: str  # s3://bucket/prefix


@dataclass(frozen=True)
class K8sInputs:
    """What the cluster decides besides the plan, and the secrets' values."""

    spec_name: str
    release: str
    namespace: str
    secrets: Mapping[str, str]  # the stored secrets by name (the plan names them)
    env_secrets: Mapping[str, str]  # the caller's variables the plan's `EnvSecret`s name
    server: ServerAddress
    image: ImageRef
    bootstrap_image: str
    pull_secret: str | None = None
    git: GitSync | None = None
    eks: EksProfile | None = None
    api_service_type: str = "ClusterIP"
    api_replicas: int = 1
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def where(self) -> Addresses:
        return addresses(self.release, (self.server.host, self.server.port))

    def secret(self, suffix: str) -> str:
        return secret_name(self.release, suffix)


def literal(value: str) -> str:
    """A config value the chart passes through `tpl`: `{{` must stay text."""
    return value.replace("{{", '{{ "{{" }}')


def dump(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100)
