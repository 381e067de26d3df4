"""Podman detection and the `podman build` command made from a compose build section (pure)."""

from __future__ import annotations

import itertools

import pytest

from tinyctl.errors import BadInput
from tinyctl.targets.docker.podman import build_argv, product_of, secret_files, services_built

# `GET /version` of Podman 4.3.1's service and of Docker Engine 20.10 (trimmed).
PODMAN_VERSION = {
    "Platform": {"Name": "linux/amd64/debian-12"},
    "Components": [
        {"Name": "Podman Engine", "Version": "4.3.1", "Details": {"APIVersion": "4.3.1"}},
        {"Name": "Conmon", "Version": "conmon version 2.1.6"},
    ],
    "Version": "4.3.1",
    "ApiVersion": "1.41",
}
DOCKER_VERSION = {
    "Platform": {"Name": "Docker Engine - Community"},
    "Components": [{"Name": "Engine", "Version": "20.10.24+dfsg1"}],
    "Version": "20.10.24+dfsg1",
}
CONFIG = {
    "services": {
        "airflow-init": {
            "image": "tinyctl/airflow:3.3.2-debian",
            "build": {
                "context": "/p/.tinyctl/build/airflow",
                "dockerfile": "Dockerfile",
                "args": {"AIRFLOW_VERSION": "3.3.2", "PIP_INDEX_URL": ""},
                "labels": {"org.tinyctl.inputs": "abc"},
                "network": "host",
                "secrets": [{"source": "cacert"}],
            },
        },
        "scheduler": {"image": "tinyctl/airflow:3.3.2-debian"},
    },
    "secrets": {"cacert": {"name": "p_cacert", "file": "/etc/ssl/ca.pem"}},
}


def test_podman_is_told_from_its_engine_component() -> None:
    podman = product_of(PODMAN_VERSION)
    assert podman.is_podman and (podman.name, podman.version) == ("Podman", "4.3.1")
    docker = product_of(DOCKER_VERSION)
    assert not docker.is_podman and docker.version == "20.10.24+dfsg1"


def test_build_argv_carries_every_key_of_the_build_section() -> None:
    [(image, build)] = services_built(CONFIG, ["airflow-init", "scheduler"])
    argv = build_argv("unix:///run/p.sock", image, build, secret_files(CONFIG), no_cache=True)
    assert argv[:4] == ["--remote", "--url", "unix:///run/p.sock", "build"]
    assert argv[-1] == "/p/.tinyctl/build/airflow"
    pairs = list(itertools.pairwise(argv))
    for pair in [
        ("--tag", "tinyctl/airflow:3.3.2-debian"),
        ("--file", "/p/.tinyctl/build/airflow/Dockerfile"),
        ("--network", "host"),
        ("--build-arg", "AIRFLOW_VERSION=3.3.2"),
        ("--build-arg", "PIP_INDEX_URL="),
        ("--label", "org.tinyctl.inputs=abc"),
        ("--secret", "id=cacert,src=/etc/ssl/ca.pem"),
    ]:
        assert pair in pairs
    assert "--no-cache" in argv


def test_a_build_key_podman_build_is_not_given_is_refused_not_dropped() -> None:
    build = {**CONFIG["services"]["airflow-init"]["build"], "ssh": ["default"]}
    with pytest.raises(BadInput, match="ssh"):
        build_argv("unix:///s", "x:1", build, secret_files(CONFIG))
