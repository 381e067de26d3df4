"""A real PostgreSQL cluster from the machine's binaries: initdb as the unprivileged service
user, 127.0.0.1 only, trusted socket, passwords over TCP, and the fallback location when the
service user cannot reach the state folder."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinyctl.targets.local import cluster as clusters
from tinyctl.targets.local import processes
from tinyctl.targets.local.binaries import find_postgres


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[clusters.Cluster]:
    base = tmp_path / "project"
    base.mkdir()
    os.chmod(tmp_path, 0o755)  # reachable, so the cluster stays in the state folder
    user = clusters.service_user()
    root = clusters.locate(base / ".tinyctl" / "local" / "postgres", str(base), user)
    cluster = clusters.Cluster(root, _free_port(), True, find_postgres(), user)
    assert clusters.prepare(cluster, "s3cret pass") is True
    assert clusters.prepare(cluster, "s3cret pass") is False, "initialised once"
    record = processes.spawn(
        "postgres",
        cluster.server_argv(),
        env={"PATH": os.environ["PATH"]},
        cwd=cluster.root,
        log_file=tmp_path / "pg.log",
        pid_file=tmp_path / "pg.pid",
        user=user.uid,
        group=user.gid,
    )
    try:
        deadline = time.monotonic() + 30
        while not (cluster.socket_dir / f".s.PGSQL.{cluster.port}").exists():
            assert time.monotonic() < deadline, (tmp_path / "pg.log").read_text()
            time.sleep(0.05)
        time.sleep(0.2)
        yield cluster
    finally:
        processes.stop(record, timeout=10)


def _psql(cluster: clusters.Cluster, sql: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cluster.install.tool("psql"), "-X", "-At", "-U", "postgres", "-d", "postgres", "-c", sql],
        env={**os.environ, **cluster.client_env(), **env},
        capture_output=True,
        text=True,
    )


def test_the_cluster_is_utf8_owned_by_the_service_user_and_trusts_its_socket(running) -> None:
    result = _psql(running, "SHOW server_encoding")
    assert result.returncode == 0 and result.stdout.strip() == "UTF8", result.stderr
    assert _psql(running, "SHOW listen_addresses").stdout.strip() == "127.0.0.1"
    owner = running.data.stat().st_uid
    assert owner == (running.user.uid if running.user.uid is not None else os.getuid())
    if os.geteuid() == 0:
        assert owner != 0, "the server never runs as root"
    assert oct(running.socket_dir.stat().st_mode & 0o777) == "0o700"


def test_tcp_needs_the_password(running) -> None:
    tcp = {"PGHOST": "127.0.0.1"}
    assert _psql(running, "SELECT 1", **tcp, PGPASSWORD="wrong").returncode != 0
    assert _psql(running, "SELECT 1", **tcp, PGPASSWORD="s3cret pass").stdout.strip() == "1"


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback location is for root only")
def test_an_unreachable_state_folder_gets_a_linked_cluster_elsewhere(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    user = clusters.service_user()
    link = private / ".tinyctl" / "local" / "postgres"
    assert not clusters.can_reach(user, link)
    root = clusters.locate(link, f"test {tmp_path}", user)
    try:
        assert link.is_symlink() and link.resolve() == root
        assert root.is_relative_to(clusters.SYSTEM_CLUSTERS)
        assert root.stat().st_uid == user.uid
        assert clusters.locate(link, "anything", user) == root, "found again through the link"
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
