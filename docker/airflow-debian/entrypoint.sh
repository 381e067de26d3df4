#!/usr/bin/env bash
# /entrypoint of tinyctl's Debian-built Airflow image: the dispatch contract of the
# official apache/airflow image's entrypoint.
#   <airflow subcommand> ARGS   -> airflow <subcommand> ARGS  (scheduler, celery worker, ...)
#   airflow ARGS                -> airflow ARGS
#   -x ... / --help             -> airflow -x ... / airflow --help
#   <program on PATH> ARGS      -> that program (bash, python, sh, ...)
#   anything else               -> airflow ARGS (airflow prints the usage error)
# Not reproduced from the official entrypoint: the DB/broker wait loops,
# _AIRFLOW_DB_MIGRATE, _AIRFLOW_WWW_USER_CREATE, _PIP_ADDITIONAL_REQUIREMENTS.
set -euo pipefail

# Files written by Airflow stay group(0)-writable, so containers running as different
# uids (all with gid 0) can share the logs volume.
umask 0002

# An arbitrary uid without a passwd entry: register it (like the official image), since
# Airflow refuses to run as a user without a name.
if ! whoami >/dev/null 2>&1; then
    if [[ -w /etc/passwd ]]; then
        echo "${USER_NAME:-default}:x:$(id -u):0:${USER_NAME:-default} user:${AIRFLOW_USER_HOME_DIR:-/home/airflow}:/sbin/nologin" \
            >> /etc/passwd
    fi
    export HOME="${AIRFLOW_USER_HOME_DIR:-/home/airflow}"
    export USER="${USER_NAME:-default}" LOGNAME="${USER_NAME:-default}"
fi

if [[ $# -eq 0 ]]; then
    set -- --help
fi

# Top-level airflow commands and groups (3.3; extra provider groups included). Checked
# before PATH because some collide with programs there: `celery` (the celery CLI in the
# venv), `users` (coreutils), `info`.
AIRFLOW_COMMANDS=" api-server assets backfill celery cheat-sheet config connections
 dag-processor dags db db-manager edge fab-db info jobs kerberos partitions permissions
 plugins pools providers roles rotate-fernet-key scheduler standalone state-store sync-perm
 tasks teams triggerer users variables version "
AIRFLOW_COMMANDS="${AIRFLOW_COMMANDS//$'\n'/ }"

cmd="$1"
case "$cmd" in
    airflow)
        shift
        exec airflow "$@"
        ;;
    -*)
        exec airflow "$@"
        ;;
esac

if [[ "$AIRFLOW_COMMANDS" == *" $cmd "* ]]; then
    exec airflow "$@"
fi

if [[ "$cmd" == */* && -x "$cmd" ]] || type -P -- "$cmd" >/dev/null 2>&1; then
    exec "$@"
fi

exec airflow "$@"
