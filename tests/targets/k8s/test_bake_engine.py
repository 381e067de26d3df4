"""`tinyctl k8s image --push` against a real registry (Debian's docker-registry on 127.0.0.1,
started here with its own config and storage), and the baked image's DAGs parsed inside it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml
from conftest import free_port, ok, tinyctl
from k8s_helpers import make_project

from tinyctl.dags.parse import read_report, script_source
from tinyctl.targets.docker.gateway import Docker
from tinyctl.targets.k8s.names import IMAGE_RECORD, VALUES

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed: run `make tools` (Debian's docker-registry)")
    folder = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(folder / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    log = (folder / "registry.log").open("w")
    process = subprocess.Popen(
        [binary, "serve", str(folder / "config.yml")], stdout=log, stderr=log
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"docker-registry did not answer: {(folder / 'registry.log').read_text()}")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_push_by_digest_pull_back_and_parse_inside(engine, registry, tmp_path):
    spec_file = make_project(tmp_path / "demo", lambda d: d["images"].update(source="debian"))
    root = spec_file.parent
    pushed = json.loads(ok(tinyctl("k8s", "image", "--push", registry, "--json", cwd=root)).stdout)
    repository, digest = pushed["pushed"].split("@")
    assert repository == f"{registry}/demo-airflow" and digest.startswith("sha256:")
    record = json.loads((root / ".tinyctl" / IMAGE_RECORD).read_text())
    assert record["digest"] == digest
    values = yaml.safe_load((root / ".tinyctl" / VALUES).read_text())
    assert values["images"]["airflow"] == {
        "repository": repository,
        "tag": record["tag"],
        "pullPolicy": "IfNotPresent",
        "digest": digest,
    }

    docker = Docker()
    built = docker.image_id(f"{repository}:{record['tag']}")
    subprocess.run(
        ["docker", "rmi", f"{repository}:{record['tag']}"], check=True, capture_output=True
    )
    ok_pull = subprocess.run(
        ["docker", "pull", f"{repository}@{digest}"], capture_output=True, text=True
    )
    assert ok_pull.returncode == 0, ok_pull.stderr
    assert docker.image_id(f"{repository}@{digest}") == built

    inside = docker.run_container(
        f"{repository}@{digest}",
        ["python", "-", "/opt/airflow/dags"],
        input=script_source(),
        env={
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "TINYCTL_PARSE_SYS_PATH": "/opt/airflow/plugins",
        },
    )
    baked = read_report(inside.stdout, seconds=0.0)
    local = json.loads(ok(tinyctl("parse", "--json", cwd=root)).stdout)
    baked_ids = sorted(d for f in baked.files for d in f.dags)
    local_ids = sorted(d for f in local["files"] for d in f["dags"])
    assert baked_ids and baked_ids == local_ids
    assert not [f for f in baked.files if f.failed]

    again = json.loads(ok(tinyctl("k8s", "image", "--push", registry, "--json", cwd=root)).stdout)
    assert again["built"] is False and again["pushed"] == pushed["pushed"]
