"""What a render is made with besides the spec: facts of this machine and the project's place
on it (`Host`), gathered once per command."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tinyctl.spec.loaded import LoadedSpec
from tinyctl.state.identity import Identity
from tinyctl.state.secrets import Secrets
from tinyctl.targets.base import RenderInputs
from tinyctl.targets.docker.images import ca_bundle


@dataclass(frozen=True)
class Host:
    """Facts about the machine (and the project's place on it) that shape the render."""

    uid: int
    ca_bundle: Path | None
    identity: Identity | None = None

    @classmethod
    def detect(
        cls, loaded: LoadedSpec, environ: Mapping[str, str], identity: Identity | None = None
    ) -> Host:
        return cls(
            uid=os.getuid(),
            ca_bundle=ca_bundle(loaded.spec, environ, loaded.root),
            identity=identity,
        )

    def inputs(
        self, loaded: LoadedSpec, secrets: Secrets, environ: Mapping[str, str]
    ) -> RenderInputs:
        return RenderInputs(loaded, secrets, environ, self.uid, self.ca_bundle)
