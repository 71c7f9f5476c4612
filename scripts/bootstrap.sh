#!/usr/bin/env bash
# Make this checkout ready: provision the host when it lacks an engine or compose v2 (Debian,
# as root), then install the toolkit's locked environment into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! docker info >/dev/null 2>&1 || ! docker compose version >/dev/null 2>&1 || ! command -v uv >/dev/null; then
    if [ -f /etc/debian_version ] && [ "$(id -u)" = 0 ]; then
        bash scripts/provision-debian.sh
    else
        echo "bootstrap: no reachable Docker engine with compose v2 (or no uv)." >&2
        echo "  Debian/Ubuntu: sudo bash scripts/provision-debian.sh; elsewhere: start Docker Desktop, install uv." >&2
        exit 1
    fi
fi
if ! command -v wrk >/dev/null; then  # optional: the benchmark's native load generator
    if [ -f /etc/debian_version ] && [ "$(id -u)" = 0 ]; then
        bash scripts/provision-debian.sh
    else
        echo "bootstrap: note: no wrk (the benchmark's native HTTP load generator): sudo apt-get install wrk, or brew install wrk; until then its figures are left out" >&2
    fi
fi
uv sync --frozen --quiet
echo "bootstrap: toolkit ready in .venv ($(.venv/bin/inv --version))"
