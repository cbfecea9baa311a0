#!/usr/bin/env bash
# `make run`: create .env with fresh random secrets on first use, then serve.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f .env ]]; then
    umask 077
    {
        echo "# Created by make run on $(date -u +%FT%TZ). Keep it secret; keep it safe."
        echo "JWT_SECRET=$(openssl rand -hex 64)"
        echo "ENCRYPTION_KEY=$(openssl rand -hex 32)"
        echo "HOST=${HOST:-127.0.0.1}"
        echo "PORT=${PORT:-3000}"
    } > .env
    chmod 600 .env
    echo "run: created .env with random JWT_SECRET and ENCRYPTION_KEY (mode 0600)"
fi
exec ./build/relay
