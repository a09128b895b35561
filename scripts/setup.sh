#!/usr/bin/env bash
# Install everything the portal needs on a fresh Debian machine: system
# packages, a virtual environment with the portal in it, and Node.js tools.
# Safe to run again: each step skips what is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${PORTAL_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

log() { printf 'setup: %s\n' "$*" >&2; }

install_apt_packages() {
    local wanted=() missing=()
    mapfile -t wanted < <(cat scripts/apt-packages.txt scripts/apt-packages.d/*.txt 2>/dev/null \
        | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    if ((${#missing[@]} == 0)); then
        return
    fi
    if ! command -v apt-get >/dev/null; then
        log "apt-get not found; install these yourself: ${missing[*]}"
        return
    fi
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    log "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

install_python() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating virtual environment $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed"
    if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
        log "installing the portal into $VENV"
        "$VENV/bin/python" -m pip install -q --upgrade pip
        "$VENV/bin/python" -m pip install -q -e ".[dev]"
        touch "$stamp"
    fi
}

install_node_tools() {
    if ! command -v npm >/dev/null; then
        log "npm not found; Node.js tools (docs renderer, npm registry) are unavailable"
        return
    fi
    local stamp="node/node_modules/.installed"
    if [[ ! -f "$stamp" || node/package.json -nt "$stamp" || node/package-lock.json -nt "$stamp" ]]; then
        log "installing Node.js tools into node/node_modules"
        (cd node && npm ci --no-audit --no-fund --loglevel=error)
        mkdir -p node/node_modules
        touch "$stamp"
    fi
}

install_apt_packages
install_python
install_node_tools
log "ready"
