"""tinyctl: a tiny analytics platform (Airflow 3 + PostgreSQL) on one machine."""

# The one place the version is written (pyproject.toml reads it from here): reading it back
# from the installed metadata costs ~80 ms on every start.
__version__ = "0.1.0"
