"""The Airflow configuration of the local runtime: the rendered env files (the same ones the
compose stack reads), with the addresses and paths that differ outside containers replaced.

Nothing is decided twice: every Airflow setting comes from `tinyctl render`; this module only
swaps container facts (host names `api-server` and `postgres`, /opt/airflow paths, fixed
in-container ports) for local ones, and gives each project its own free ports for the
components' internal servers so that two local stacks on one machine do not clash.

Secrets stay files, as on compose: the rendered `*_CMD` settings (`cat <container secrets
folder>/<name>`) are pointed at the state folder's `secrets/airflow/<name>`. The two that hold
the metadata database URL name `postgres:5432`; they are copied, with the local address, into
`.tinyctl/local/secrets/` (0600) and the settings point there. No secret is ever put in an
environment variable (which `ps e` and /proc/<pid>/environ show).
"""

from __future__ import annotations

import json
import re
import shlex
import socket
from collections.abc import Callable, Mapping
from pathlib import Path

from tinyctl.errors import BadInput
from tinyctl.render.context import AIRFLOW_SECRETS_DIR
from tinyctl.state.fsutil import write_atomic

INTERNAL_PORTS = ("scheduler_health", "worker_log", "trigger_log")
_METADATA_HOST = "@postgres:5432/"
# Secret files holding a database URL with the compose host in it.
URL_SECRETS = ("sql_alchemy_conn", "result_backend")
_SECRET_CMD_PREFIX = f"cat {AIRFLOW_SECRETS_DIR}/"


def read_env_file(path: Path) -> dict[str, str]:
    """An env file as `tinyctl render` writes it: KEY='value' lines, # comments."""
    if not path.is_file():
        raise BadInput(f"{path} does not exist", hint="Run `tinyctl render` (or `tinyctl up`).")
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def internal_ports(path: Path, *, in_use_by_us: bool) -> dict[str, int]:
    """Ports for the scheduler's health server and the log servers: chosen once, kept while
    free (or while our own stack holds them), re-chosen when something else took one."""
    try:
        ports = {k: int(v) for k, v in json.loads(path.read_text()).items() if k in INTERNAL_PORTS}
    except (OSError, ValueError):
        ports = {}
    changed = False
    for name in INTERNAL_PORTS:
        if name not in ports or not (in_use_by_us or _port_free(ports[name])):
            ports[name] = _free_port()
            changed = True
    if changed:
        write_atomic(path, (json.dumps(ports, indent=2, sort_keys=True) + "\n").encode())
    return ports


def local_metadata_url(url: str, host: str, port: int) -> str:
    """The rendered metadata URL (`...@postgres:5432/airflow`) with the local address: TCP
    127.0.0.1:<port>, or the unix socket folder when Postgres listens on no TCP port."""
    if _METADATA_HOST not in url:
        raise RuntimeError("the rendered metadata URL does not name the host postgres:5432")
    credentials, rest = url.rsplit(_METADATA_HOST, 1)
    if host.startswith("/"):  # unix socket folder (postgres.port: null)
        return f"{credentials}@/{rest}?host={host}&port={port}"
    return f"{credentials}@{host}:{port}/{rest}"


def secret_names(rendered: Mapping[str, str]) -> dict[str, str]:
    """{setting `*_CMD`: secret file name} for the rendered settings read from secret files."""
    names: dict[str, str] = {}
    for key, value in rendered.items():
        if key.endswith("_CMD") and value.startswith(_SECRET_CMD_PREFIX):
            names[key] = value[len(_SECRET_CMD_PREFIX) :]
    return names


def local_secret_files(
    rendered: Mapping[str, str],
    *,
    airflow_secrets: Path,
    local_secrets: Path,
    metadata_host: str,
    metadata_port: int,
) -> dict[str, Path]:
    """{secret name: the file the local processes read it from}. The state folder's own files,
    except the database URLs, copied (0600, rewritten only when they differ) with the local
    address into `local_secrets`."""
    files: dict[str, Path] = {}
    for name in secret_names(rendered).values():
        source = airflow_secrets / name
        if name not in URL_SECRETS:
            files[name] = source
            continue
        try:
            url = source.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise BadInput(
                f"{source} cannot be read: {error.strerror}",
                hint="Run `tinyctl render` (or `tinyctl up`) to write it again.",
            ) from None
        data = local_metadata_url(url, metadata_host, metadata_port).encode()
        target = local_secrets / name
        local_secrets.mkdir(parents=True, exist_ok=True)
        local_secrets.chmod(0o700)
        try:
            same = target.read_bytes() == data
        except OSError:
            same = False
        if not same:
            write_atomic(target, data, mode=0o600)
        files[name] = target
    return files


def airflow_env(
    *,
    rendered: Mapping[str, str],
    base: Mapping[str, str],
    venv_bin: Path,
    airflow_home: Path,
    dags_dir: Path,
    logs_dir: Path,
    passwords_file: Path,
    plugins_dir: Path,
    lib_dir: Path,
    data_dir: Path,
    api_host: str,
    api_port: int,
    secret_files: Mapping[str, Path],
    ports: Mapping[str, int],
) -> dict[str, str]:
    """Environment of every Airflow process of the local stack (no secret in it: the `*_CMD`
    settings name the files in `secret_files`, {name: path}, see `local_secret_files`)."""
    env = {
        k: v
        for k, v in base.items()
        if not k.startswith(("AIRFLOW_", "AIRFLOW__", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH"))
    }
    env.update(rendered)
    api_base = f"http://{'127.0.0.1' if api_host in ('0.0.0.0', '::') else api_host}:{api_port}"
    for key, name in secret_names(rendered).items():
        # Airflow splits a `_CMD` with shlex and runs it without a shell.
        env[key] = f"cat {shlex.quote(str(secret_files[name]))}"
    env.update(
        {
            "PATH": f"{venv_bin}:{base.get('PATH', '/usr/bin:/bin')}",
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_dir),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs_dir),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_dir),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_base}/execution/",
            "AIRFLOW__API__HOST": api_host,
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(
                ports["scheduler_health"]
            ),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker_log"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_log"]),
            "TINYCTL_DATA_DIR": str(data_dir),
            # the deployed include/ copy is importable as the package `include`, as on compose
            "PYTHONPATH": str(lib_dir),
            "LANG": base.get("LANG") or "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def local_paths(mounts: Mapping[str, Path]) -> Callable[[str], str]:
    """For one-offs without a container: a function replacing each mount's target path (a
    container path, as a whole path component) in a string with its host folder."""
    if not mounts:
        return lambda text: text
    targets = {t.rstrip("/"): str(source) for t, source in mounts.items()}
    pattern = re.compile(
        "|".join(re.escape(t) for t in sorted(targets, key=len, reverse=True)) + r"(?=/|:|\s|$)"
    )
    return lambda text: pattern.sub(lambda m: targets[m.group(0)], text)
