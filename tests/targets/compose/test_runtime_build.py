"""Image builds on the real engine: cached rebuilds, and the CA bundle kept out of every layer."""

from __future__ import annotations

import json
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest
from conftest import new_stack, ok

from tinyctl.targets.docker.images import BASE_IMAGE

pytestmark = pytest.mark.engine


def _image_files(tag: str, path: str) -> bytes:
    return subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "cat", tag, path], capture_output=True, check=True
    ).stdout


def test_build_is_cached_and_never_stores_the_ca_bundle(engine: None, tmp_path: Path) -> None:
    stack = new_stack(
        tmp_path,
        "build",
        edit=lambda t: t.replace("executor: LocalExecutor", "executor: CeleryExecutor"),
    )
    first = json.loads(ok(stack.run("build", "--json")).stdout)
    images = {o["image"] for o in first}
    assert images == {
        "tinyctl/airflow:3.3.2-debian",
        "tinyctl/postgres:15-debian",
        "tinyctl/redis:7-debian",
    }
    again = json.loads(ok(stack.run("build", "--json")).stdout)
    assert all(not o["built"] and o["reason"] == "up to date" for o in again), (
        "unchanged inputs build nothing"
    )

    # Lines of the host's CA bundle that Debian's own bundle does not have: the custom CAs.
    host_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    base_bundle = _image_files(BASE_IMAGE, "/etc/ssl/certs/ca-certificates.crt")
    unique = [
        line
        for line in set(host_bundle.read_bytes().splitlines()) - set(base_bundle.splitlines())
        if len(line) > 40 and not line.startswith(b"#")
    ]
    if not unique:
        # No custom CA on this host: hand the builds a bundle with a marker line of our own
        # (text between PEM blocks is ignored by TLS libraries) and rebuild with it.
        marker = f"tinyctl-ca-marker-{uuid.uuid4().hex}".encode()
        bundle = tmp_path / "bundle.pem"
        bundle.write_bytes(host_bundle.read_bytes() + b"\n" + marker + b"\n")
        spec = stack.root / "tinyctl.yaml"
        spec.write_text(
            spec.read_text().replace("images:\n", f"images:\n  ca_bundle: {bundle}\n", 1)
        )
        ok(stack.run("build", "--force"))
        unique = [marker]
    for image in images:
        archive = tmp_path / "image.tar"
        subprocess.run(["docker", "image", "save", "-o", str(archive), image], check=True)
        with tarfile.open(archive) as outer:
            for member in outer.getmembers():
                if not member.isfile():
                    continue
                data = outer.extractfile(member).read()  # type: ignore[union-attr]
                for line in unique[:20]:
                    assert line not in data, (
                        f"a line of the host CA bundle is stored in {image} ({member.name})"
                    )
        archive.unlink()
