"""Astro CLI projects written by hand for the tests.

`write_astro_init` lays out what `astro dev init` generates for an Airflow 3 project (its
template files in astronomer/astro-cli, airflow/include/airflow3/): the Dockerfile FROM an Astro
Runtime image, empty requirements.txt / packages.txt / .env, the settings template with its
empty entries, Astro's .gitignore and .dockerignore, an example TaskFlow DAG (tags, retries 3,
dynamic task mapping, an asset outlet), a DAG test in tests/dags, include/ and plugins/.
Kept in Python rather than as files: Astro's .gitignore would hide .env and
airflow_settings.yaml from this repository, and pytest would collect the project's own test.

`EVERY_FIELD_SETTINGS` is an airflow_settings.yaml using every connection field Astro reads.
"""

from __future__ import annotations

from pathlib import Path

RUNTIME_IMAGE = "astrocrpublic.azurecr.io/runtime:3.3-7"  # Airflow 3.3.1

SETTINGS_TEMPLATE = """\
# Connections, pools and variables for local development only.
# NOTE: json dicts can be added to the conn_extra field as yaml key value pairs.
airflow:
  connections:
    - conn_id:
      conn_type:
      conn_host:
      conn_schema:
      conn_login:
      conn_password:
      conn_port:
      conn_extra:
        example_extra_field: example-value
  pools:
    - pool_name:
      pool_slot:
      pool_description:
  variables:
    - variable_name:
      variable_value:
"""

EXAMPLE_DAG = '''\
"""Astronauts currently in space: fetch the list, then greet each one (dynamic task mapping)."""

from airflow.sdk import Asset, dag, task
from pendulum import datetime


@dag(
    start_date=datetime(2024, 1, 1),
    schedule="@daily",
    catchup=False,
    doc_md=__doc__,
    default_args={"owner": "Astro", "retries": 3},
    tags=["example"],
)
def example_astronauts():
    @task(outlets=[Asset("current_astronauts")])
    def get_astronauts() -> list[dict]:
        # the real template asks an HTTP API; the tests have no network
        return [{"craft": "ISS", "name": "A. Astronaut"}, {"craft": "Tiangong", "name": "B. Taikonaut"}]

    @task
    def print_astronaut_craft(greeting: str, person_in_space: dict) -> None:
        print(f"{person_in_space['name']} is in space on the {person_in_space['craft']}! {greeting}")

    print_astronaut_craft.partial(greeting="Hello! :)").expand(person_in_space=get_astronauts())


example_astronauts()
'''

# Astro's example test builds DagBag(include_examples=False), an argument Airflow 3.3 no longer
# takes (TypeError): the one line an Astro project's tests need changed for Airflow 3.3.
DAG_TEST = '''\
"""Every DAG imports, has tags and retries >= 2 (as Astro's example test)."""

import os

import pytest
from airflow.models import DagBag


def _bag():
    return DagBag()


def test_no_import_errors():
    bag = _bag()
    assert bag.dag_ids and not bag.import_errors


@pytest.mark.parametrize("dag_id", sorted(_bag().dag_ids))
def test_dag_tags_and_retries(dag_id):
    dag = _bag().dags[dag_id]
    assert dag.tags, f"{dag_id} has no tags"
    assert dag.default_args.get("retries", 0) >= 2, f"{dag_id} must retry at least twice"
    assert os.path.exists(dag.fileloc)
'''

GITIGNORE = """\
.git
.env
.DS_Store
airflow_settings.yaml
__pycache__/
astro
.venv
airflow.cfg
airflow.db
.astro/*.local.yml
.astro/*.local.yaml
"""

EVERY_FIELD_SETTINGS = """\
airflow:
  connections:
    - conn_id: warehouse_pg
      conn_type: postgres
      conn_description: The team warehouse
      conn_host: db.example.com
      conn_schema: analytics
      conn_login: loader
      conn_password: "s3cr3t:with@odd/chars"
      conn_port: 5433
      conn_extra:
        sslmode: require
        api_token: tok-123
    - conn_id: http_api
      conn_uri: "http://svc:p%40ss@api.example.com:8443/v1?timeout=30"
    - conn_id: json_extra
      conn_type: generic
      conn_extra: '{"region": "eu-west-1", "secret_key": "abc"}'
  pools:
    - pool_name: io_pool
      pool_slot: 4
      pool_description: Pool for IO-bound tasks
  variables:
    - variable_name: environment
      variable_value: dev
    - variable_name: threshold
      variable_value: "42"
"""


def write_astro_init(root: Path, *, runtime_image: str = RUNTIME_IMAGE) -> Path:
    """The project `astro dev init` makes, in `root`."""
    files = {
        "Dockerfile": f"FROM {runtime_image}\n",
        "requirements.txt": "# Astro Runtime includes the following pre-installed providers packages\n",
        "packages.txt": "",
        ".env": "",
        "airflow_settings.yaml": SETTINGS_TEMPLATE,
        ".gitignore": GITIGNORE,
        ".dockerignore": "astro\n.git\n.env\nairflow_settings.yaml\nlogs/\n.venv\n",
        ".astro/config.yaml": f"project:\n  name: {root.name}\n",
        ".astro/dag_integrity_exceptions.txt": "",
        "dags/.airflowignore": "",
        "dags/exampledag.py": EXAMPLE_DAG,
        "include/.gitkeep": "",
        "plugins/.gitkeep": "",
        "tests/dags/test_dag_example.py": DAG_TEST,
        "README.md": "Overview\n========\n\nGenerated by 'astro dev init'.\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a project (relative path -> bytes), to prove none was changed."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".tinyctl" not in p.parts
    }
