"""ruff's Airflow 3 rules (tinyctl/upgrade/migration.py) on Airflow 2 style code: the real ruff."""

from __future__ import annotations

from pathlib import Path

from tinyctl.upgrade.migration import check_migration, ruff_binary

AIRFLOW2_DAG = """\
from datetime import datetime

from airflow import DAG
from airflow.operators.python import PythonOperator


def hello():
    print("hi")


with DAG("legacy_etl", start_date=datetime(2024, 1, 1), schedule_interval="@daily", catchup=False):
    PythonOperator(task_id="hello", python_callable=hello)
"""


def test_ruff_is_found():
    assert Path(ruff_binary()).is_file()


def test_airflow2_dag_findings_name_the_rule_and_the_fix(tmp_path: Path):
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "legacy.py").write_text(AIRFLOW2_DAG)
    findings = {
        f.code: f for f in check_migration(tmp_path, [tmp_path / "dags", tmp_path / "none"])
    }
    assert findings["AIR301"].message.startswith("`schedule_interval` is removed")
    assert findings["AIR301"].fix == "Use `schedule` instead" and findings["AIR301"].fixable
    assert "airflow.providers.standard.operators.python" in findings["AIR312"].fix
    assert findings["AIR312"].file == "dags/legacy.py" and findings["AIR312"].line == 12


def test_fix_applies_the_safe_fixes_only(tmp_path: Path):
    (tmp_path / "dags").mkdir()
    dag = tmp_path / "dags" / "legacy.py"
    dag.write_text(AIRFLOW2_DAG)
    left = {f.code for f in check_migration(tmp_path, [tmp_path / "dags"], fix=True)}
    assert "schedule=" in dag.read_text() and "schedule_interval" not in dag.read_text()
    assert "AIR301" not in left and "AIR312" in left  # the import move is an unsafe fix
