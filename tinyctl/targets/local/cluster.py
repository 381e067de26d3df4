"""The PostgreSQL cluster of the local runtime: where it lives, who runs it, how it starts.

The cluster is initialised (`initdb -E UTF8 --locale=C.UTF-8`) in the state folder and runs
the found server binaries, listening on 127.0.0.1 at the spec's port only (or on its unix
socket only when `postgres.port` is null), its socket in a folder of its own. Socket
connections are trusted (the socket folder is mode 0700, reachable only by the server's user
and root, as inside the Postgres container); TCP connections need the roles' passwords.

PostgreSQL refuses to run as root. When tinyctl runs as root the server runs as an
unprivileged user (`postgres` if there is one, else a system user `tinyctl` created for it) that
owns the data folder. If that user cannot reach the state folder (a project in root's home
folder, or under any other 0700 folder), the cluster lives under /var/lib/tinyctl/<key> instead and the
state folder holds a symbolic link to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tinyctl.errors import EnvironmentProblem, WorkFailed
from tinyctl.state.fsutil import write_atomic
from tinyctl.targets.local.binaries import PgInstall
from tinyctl.targets.local.processes import state_letter

SERVICE_USERS = ("postgres", "tinyctl")
SYSTEM_CLUSTERS = Path("/var/lib/tinyctl/clusters")
SOCKET_LIMIT = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


@dataclass(frozen=True)
class ServiceUser:
    """Who runs the server: None fields mean "this process's own user"."""

    name: str
    uid: int | None
    gid: int | None

    @property
    def is_self(self) -> bool:
        return self.uid is None


def service_user(*, create: bool = True) -> ServiceUser:
    """The user the server runs as; as root an unprivileged one (created if none exists)."""
    if os.geteuid() != 0:
        return ServiceUser(pwd.getpwuid(os.geteuid()).pw_name, None, None)
    for name in SERVICE_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return ServiceUser(name, entry.pw_uid, entry.pw_gid)
    if not create:
        raise EnvironmentProblem("no unprivileged user to run PostgreSQL as")
    _create_system_user("tinyctl")
    entry = pwd.getpwnam("tinyctl")
    return ServiceUser("tinyctl", entry.pw_uid, entry.pw_gid)


def _create_system_user(name: str) -> None:
    useradd = shutil.which("useradd") or shutil.which("adduser")
    if sys.platform != "linux" or useradd is None:
        raise EnvironmentProblem(
            "PostgreSQL cannot run as root, and there is no `postgres` user to run it as",
            hint="Create an unprivileged user named postgres or tinyctl, or run tinyctl as a normal user.",
        )
    argv = (
        [
            useradd,
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ]
        if useradd.endswith("useradd")
        else [useradd, "--system", "--no-create-home", "--disabled-login", name]
    )
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise EnvironmentProblem(
            f"could not create the system user {name} to run PostgreSQL: {done.stderr.strip()}",
            hint="Create an unprivileged user named postgres or tinyctl, or run tinyctl as a normal user.",
        )


def _groups(user: ServiceUser) -> set[int]:
    if user.is_self:
        return set(os.getgroups()) | {os.getegid()}
    return set(os.getgrouplist(user.name, user.gid or 0))


def can_reach(user: ServiceUser, path: Path) -> bool:
    """Whether user may traverse every folder down to path (mode bits; ACLs are not read)."""
    if user.is_self:
        return True
    groups = _groups(user)
    for folder in [*reversed(path.absolute().parents), path.absolute()]:
        try:
            st = folder.stat()
        except FileNotFoundError:
            return True  # created later, by us, with modes we choose
        if st.st_uid == user.uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


def _chown(path: Path, user: ServiceUser) -> None:
    if not user.is_self:
        os.chown(path, user.uid or 0, user.gid or 0)


@dataclass(frozen=True)
class Cluster:
    """Paths of one project's cluster."""

    root: Path  # holds data/ and sock/ (may be a symlink target outside the state folder)
    port: int  # TCP port, or the socket's number when listen_tcp is False
    listen_tcp: bool
    install: PgInstall
    user: ServiceUser
    settings: tuple[tuple[str, str], ...] = ()  # the plan's server settings (`-c key=value`)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").is_file()

    def data_version(self) -> int | None:
        try:
            return int((self.data / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    def server_argv(self) -> list[str]:
        argv = [
            str(self.install.bindir / "postgres"),
            "-D",
            str(self.data),
            "-c",
            f"listen_addresses={'127.0.0.1' if self.listen_tcp else ''}",
            "-c",
            f"port={self.port}",
            "-c",
            f"unix_socket_directories={self.socket_dir}",
            "-c",
            "unix_socket_permissions=0700",
        ]
        for key, value in self.settings:
            argv += ["-c", f"{key}={value}"]
        return argv

    def client_env(self) -> dict[str, str]:
        return {"PGHOST": str(self.socket_dir), "PGPORT": str(self.port)}


def _cluster_homes() -> tuple[Path, Path]:
    """Where `locate` makes a cluster outside the state folder: root's system folder, else a
    private folder of the user's in the temp folder."""
    return SYSTEM_CLUSTERS, Path(tempfile.gettempdir()) / f"tinyctl-{os.geteuid()}"


def made_by_locate(target: Path) -> bool:
    """Whether `target` (a resolved link target) is a cluster folder `locate` made: the only
    kind that `down --volumes` deletes through the state folder's link."""
    return any(target.parent == home.resolve() for home in _cluster_homes())


def locate(state_link: Path, key_source: str, user: ServiceUser) -> Path:
    """Where the cluster lives: state_link itself, or (root, unreachable state folder) a folder
    under /var/lib/tinyctl that state_link points to."""
    if state_link.is_symlink():
        return state_link.resolve()
    if state_link.exists():
        return state_link
    socket_path = state_link / "sock" / ".s.PGSQL.65535"
    if can_reach(user, state_link) and len(str(socket_path)) <= SOCKET_LIMIT:
        return state_link
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    system, private = _cluster_homes()
    # root: the system folder; a state folder too deep for a unix socket path: a short private one
    target = (system if os.geteuid() == 0 else private) / key
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    _chown(target, user)
    state_link.parent.mkdir(parents=True, exist_ok=True)
    state_link.symlink_to(target, target_is_directory=True)
    return target


OWNER_FILE = "tinyctl-owner.json"


def owner_of(root: Path) -> dict[str, str]:
    """Who made the cluster in `root`: {"id": project id, "folder": project folder}; {} when
    unknown (none yet, or made by a tinyctl from before identities)."""
    try:
        data = json.loads((root / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: str(data[k]) for k in ("id", "folder") if k in data}


def mark_owner(root: Path, project_id: str, folder: str) -> None:
    """Record (or take over) the cluster for this project; rewritten only when it differs."""
    wanted = {"id": project_id, "folder": folder}
    if owner_of(root) != wanted:
        write_atomic(root / OWNER_FILE, (json.dumps(wanted, indent=2) + "\n").encode())


def prepare(cluster: Cluster, password: str) -> bool:
    """initdb the cluster if it has none; True if it was created now."""
    for folder in (cluster.root, cluster.socket_dir):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        _chown(folder, cluster.user)
    if cluster.initialised:
        version = cluster.data_version()
        if version != cluster.install.major:
            raise EnvironmentProblem(
                f"the local cluster in {cluster.data} was made by PostgreSQL {version}, "
                f"but the binaries found are {cluster.install.describe()}",
                hint=f"Point TINYCTL_PG_BINDIR at PostgreSQL {version}'s bin folder, or delete the "
                "data with `tinyctl down --volumes --yes`.",
            )
        return False
    pwfile = cluster.root / ".initdb-password"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    _chown(pwfile, cluster.user)
    argv = [
        str(cluster.install.bindir / "initdb"),
        "-D",
        str(cluster.data),
        "-E",
        "UTF8",
        "-U",
        "postgres",
        f"--pwfile={pwfile}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--no-instructions",
    ]
    kwargs: dict = {}
    if not cluster.user.is_self:
        kwargs.update(user=cluster.user.uid, group=cluster.user.gid, extra_groups=[])

    def initdb(locale: str) -> subprocess.CompletedProcess[str]:
        shutil.rmtree(cluster.data, ignore_errors=True)
        return subprocess.run(
            [*argv, f"--locale={locale}"],
            capture_output=True,
            text=True,
            check=False,
            cwd=cluster.root,
            env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
            **kwargs,
        )

    try:
        done = initdb("C.UTF-8")
        if done.returncode != 0 and "C.UTF-8" in done.stderr:
            done = initdb("C")  # systems without a C.UTF-8 locale (macOS): still UTF8-encoded
    finally:
        pwfile.unlink(missing_ok=True)
    if done.returncode != 0:
        shutil.rmtree(cluster.data, ignore_errors=True)
        raise WorkFailed(
            "initdb failed",
            details=(done.stderr or done.stdout)[-2000:],
            hint=f"Fix the cause shown above (binaries: {cluster.install.describe()}).",
        )
    return True


def orphaned_backends(cluster: Cluster) -> list[int]:
    """What a dead server left in the cluster's data folder: a postmaster killed on its own (the
    OOM killer, `kill -9`) leaves backends (they call setsid: not in its group) holding its
    shared memory until they notice, and stays a zombie until its parent reaps it; a new server
    refuses to start meanwhile ("lock file postmaster.pid already exists")."""
    try:
        recorded = int((cluster.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []  # no lock file: the server stopped cleanly
    state = state_letter(recorded)
    if state is not None and state not in ("Z", "X"):
        return []  # a server (or whatever took its pid) runs: not a leftover
    data = cluster.data.resolve()
    found = [recorded] if state is not None else []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if Path(entry / "cwd").resolve() == data and state_letter(int(entry.name)) != "Z":
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def end_orphaned_backends(cluster: Cluster, *, wait: float = 10.0) -> None:
    """Let what a killed server left go (idle backends exit at once, its zombie is reaped by
    its parent), then end the backends still there: their server is gone, no client can use
    them any more."""
    deadline = time.monotonic() + wait
    while (left := orphaned_backends(cluster)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        if state_letter(pid) not in (None, "Z", "X"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while orphaned_backends(cluster) and time.monotonic() < deadline:
        time.sleep(0.05)
