"""A plan value as one target's processes see it: the one place that reads the plan's neutral
values (`tinyctl.plan.values`); each target says only where its places, ports and endpoints
are, and how a process reads a secret there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tinyctl.plan.values import (
    Endpoint,
    EndpointUrl,
    PathList,
    Place,
    PlaceRef,
    Port,
    PortRef,
    SecretRef,
    Value,
)


@dataclass(frozen=True)
class Resolver:
    """Call it with a plan value; it gives the string a target writes into its files."""

    place: Callable[[Place], str]
    port: Callable[[Port], int]
    address: Callable[[Endpoint], tuple[str, int]]
    # the command that prints a secret (Airflow's `_CMD` settings); None: secrets are not
    # plain values in this target (Kubernetes passes them as Secrets, by name)
    read_secret: Callable[[str], str] | None = None

    def __call__(self, value: Value) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, PlaceRef):
            return self.place(value.place)
        if isinstance(value, PathList):
            return ":".join(self.place(place) for place in value.places)
        if isinstance(value, PortRef):
            return str(self.port(value.port))
        if isinstance(value, EndpointUrl):
            host, port = self.address(value.endpoint)
            return f"{value.scheme}://{host}:{port}{value.path}"
        if isinstance(value, SecretRef) and self.read_secret is not None:
            return self.read_secret(value.secret)
        raise TypeError(f"not a plan value this target resolves: {value!r}")
