"""ETL smoke tests: run DAGs through the real scheduler and assert on the warehouse."""
