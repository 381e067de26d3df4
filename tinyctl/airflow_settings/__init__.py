"""Airflow's connections, variables and pools: applied from the spec (`sync-settings`) and
exported back to it (`settings export`)."""
