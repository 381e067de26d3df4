#!/usr/bin/env bash
# Podman for the `podman` tests (`make test-podman`): Debian's podman (4.3 on bookworm: the
# engine, buildah, netavark + aardvark-dns, conmon, runc), next to the Docker engine, which it
# never touches: the tests start `podman system service` on a socket of their own, with its
# own storage (tests/podman_service.py). The same Compose v2 plugin drives both engines.
# Idempotent; installs only as root on Debian/Ubuntu, otherwise says what to do.
set -euo pipefail
log() { printf '\033[36m[provision]\033[0m %s\n' "$*" >&2; }

if ! command -v podman >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing podman (Debian package)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends \
            podman buildah netavark aardvark-dns conmon runc fuse-overlayfs slirp4netns >/dev/null
    else
        log "podman is missing: install it (e.g. sudo apt-get install podman), then run this again"
        exit 3
    fi
fi
log "$(podman --version) is installed"
if ! docker compose version >/dev/null 2>&1; then
    log "the Compose v2 plugin is missing: run \`make engine\` first"; exit 3
fi
