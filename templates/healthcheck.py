"""Container healthchecks for tinyctl stacks: cheap probes that never import Airflow.

    healthcheck.py http URL [URL...] every URL answers 2xx
    healthcheck.py tcp PORT          something listens on 127.0.0.1:PORT
    healthcheck.py job JOB_TYPE      this container's Airflow job (DagProcessorJob,
                                     TriggererJob) heartbeated in the last 30 seconds
Exit code 0 means healthy. Mounted read-only at /opt/tinyctl/bin by `tinyctl render`.
"""

import os
import shlex
import socket
import subprocess
import sys
import urllib.request
from urllib.parse import unquote, urlsplit


def http(*urls: str) -> int:
    for url in urls:
        with urllib.request.urlopen(url, timeout=8) as response:
            if not 200 <= response.status < 300:
                return 1
    return 0


def tcp(port: str) -> int:
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5):
        return 0


def _metadata_url() -> str:
    """The metadata DB URL, given directly or (as tinyctl renders it) through Airflow's `_CMD`."""
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if url:
        return url
    argv = shlex.split(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"])
    if len(argv) == 2 and argv[0] == "cat":  # a secret file: read it, no process needed
        with open(argv[1]) as file:
            return file.read().strip()
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def job(job_type: str) -> int:
    import psycopg2  # installed with apache-airflow[postgres]

    url = urlsplit(_metadata_url())
    connection = psycopg2.connect(
        host=url.hostname,
        port=url.port or 5432,
        user=unquote(url.username or ""),
        password=unquote(url.password or ""),
        dbname=url.path.lstrip("/"),
        connect_timeout=5,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM job WHERE job_type = %s AND state = 'running'"
                " AND hostname = ANY(%s) AND latest_heartbeat > now() - interval '30 seconds' LIMIT 1",
                (job_type, [socket.gethostname(), socket.getfqdn()]),
            )
            return 0 if cursor.fetchone() else 1
    finally:
        connection.close()


if __name__ == "__main__":
    kind, arguments = sys.argv[1], sys.argv[2:]
    try:
        sys.exit({"http": http, "tcp": tcp, "job": job}[kind](*arguments))
    except Exception as error:  # any failure is "unhealthy", with the reason in `docker inspect`
        print(f"unhealthy: {error}", file=sys.stderr)
        sys.exit(1)
