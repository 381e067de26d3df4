"""`tinyctl upgrade-test`: what changes when the project moves to another Airflow version."""
