"""The Debian base image for registry-less builds: debootstrap a root filesystem, `docker import` it.

debootstrap needs root; the import goes through the Docker module like every other Docker call.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from tinyctl.errors import EnvironmentProblem, WorkFailed
from tinyctl.targets.docker.gateway import Docker
from tinyctl.targets.docker.images import INPUTS_LABEL, BaseImage

log = logging.getLogger("tinyctl.commands")


def _run(argv: list[str], action: str) -> None:
    log.debug("Running command: %s", shlex.join(argv))
    completed = subprocess.run(argv, capture_output=True, text=True)
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-15:])
        raise WorkFailed(
            f"{action} failed (exit code {completed.returncode})",
            details=tail,
            hint="Check that the Debian mirror is reachable (images.debian_mirror).",
        )


def base_image_current(docker: Docker, base: BaseImage) -> bool:
    return docker.image_label(base.tag, INPUTS_LABEL) == base.digest


def build_base_image(docker: Docker, base: BaseImage) -> None:
    """Create `base.tag` from a fresh minimal Debian root filesystem (about 30 s)."""
    debootstrap = shutil.which("debootstrap") or next(
        (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if Path(p).exists()), None
    )
    if debootstrap is None:
        raise EnvironmentProblem(
            "debootstrap is not installed (images.source: debian builds its base image with it)",
            hint="Install it: `sudo apt-get install debootstrap`.",
        )
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise EnvironmentProblem(
                "debootstrap must run as root", hint="Run `tinyctl build` as root once."
            )
        prefix = ["sudo", "-n"]
    workdir = Path(tempfile.mkdtemp(prefix="tinyctl-base-"))
    rootfs, tarball = workdir / "rootfs", workdir / "rootfs.tar"
    try:
        _run(
            [
                *prefix,
                debootstrap,
                "--variant=minbase",
                "--include=ca-certificates",
                base.suite,
                str(rootfs),
                base.mirror,
            ],
            "debootstrap",
        )
        # Keep the image small and reproducible: no package caches, no apt lists.
        _run(
            [
                *prefix,
                "sh",
                "-c",
                f"rm -rf {rootfs}/var/cache/apt/archives/*.deb {rootfs}/var/lib/apt/lists/*",
            ],
            "cleaning the root filesystem",
        )
        _run(
            [*prefix, "tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."],
            "packing the root filesystem",
        )
        docker.import_rootfs(
            tarball,
            base.tag,
            labels={
                INPUTS_LABEL: base.digest,
                "org.opencontainers.image.title": "tinyctl Debian base",
            },
            env={
                "LANG": "C.UTF-8",
                "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            },
        )
    finally:
        subprocess.run([*prefix, "rm", "-rf", str(workdir)], check=False)
