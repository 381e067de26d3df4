#!/usr/bin/env bash
# Tools the tests run besides the engine: chromium (the HTML report's browser test) and gitlab-ci-local (executes the .gitlab-ci.yml that
# `tinyctl ci init gitlab` writes). Idempotent. 4.73.0 is the newest release that still runs on
# Node 20 (later ones use Node 22's Set methods).
set -euo pipefail
GITLAB_CI_LOCAL_VERSION="${GITLAB_CI_LOCAL_VERSION:-4.73.0}"
log() { printf '\033[36m[provision]\033[0m %s\n' "$*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing nodejs and npm (Debian packages)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    else
        log "npm is missing: install Node.js 18+ and npm, then run this again"; exit 3
    fi
fi
# gitlab-ci-local copies the checkout with rsync and reads it with git.
need_apt=()
for tool in rsync git; do command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool"); done
if [ "${#need_apt[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing ${need_apt[*]} (Debian packages)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        log "missing ${need_apt[*]}: install them (e.g. sudo apt-get install ${need_apt[*]})"; exit 3
    fi
fi
if [ "$(gitlab-ci-local --version 2>/dev/null | tail -1)" != "$GITLAB_CI_LOCAL_VERSION" ]; then
    log "installing gitlab-ci-local $GITLAB_CI_LOCAL_VERSION (npm)"
    npm install --global --silent "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" >/dev/null
fi
log "gitlab-ci-local $(gitlab-ci-local --version | tail -1)"
# Debian's chromium for the HTML report's browser test (Playwright drives it by path; it never
# downloads a browser of its own).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing chromium and chromium-driver (Debian packages)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
    else
        log "chromium is missing: install it (e.g. sudo apt-get install chromium chromium-driver)"; exit 3
    fi
fi
log "$(chromium --version 2>/dev/null | head -1)"
