"""Names tinyctl keeps for itself in every stack: a spec may not take them for its own users or
roles (the checks refuse them), and the secrets are generated for them."""

# The admin user tinyctl itself uses for Airflow's API (deploys, settings, test runs).
INTERNAL_USER = "tinyctl"
# The warehouse role tinyctl's own checks (test-etl expectations) run as: it may only read.
READER_ROLE = "tinyctl_reader"
