"""tinyctl: a tiny analytics platform (Airflow 3 + PostgreSQL) on one machine."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tinyctl")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
