#!/usr/bin/env bash
# Installs what claude-relay needs on Debian/Ubuntu when it is missing.
#   scripts/install-deps.sh          build + run dependencies (node + npm build the admin UI)
#   scripts/install-deps.sh --test   also the test clients (npm packages in test/) and chromium
#                                    (Debian's; the admin UI test drives it with playwright-core;
#                                    a CJK font for its Chinese screenshots)
#   scripts/install-deps.sh --bench  also wrk and nginx for `make bench`
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(gcc make pkg-config libmicrohttpd-dev libhiredis-dev libsodium-dev libcjson-dev
      libcurl4-openssl-dev libssl-dev redis-server redis-tools openssl ca-certificates nodejs npm)
for arg in "$@"; do
    case "$arg" in
        --test) pkgs+=(clang libclang-rt-14-dev clang-tidy cppcheck chromium fonts-wqy-microhei) ;;
        --bench) pkgs+=(wrk nginx-light) ;;
    esac
done

missing=()
for p in "${pkgs[@]}"; do
    # nodejs/npm may come from elsewhere (nvm, the image): a working binary is enough.
    if [[ $p == nodejs ]] && command -v node >/dev/null; then continue; fi
    if [[ $p == npm ]] && command -v npm >/dev/null; then continue; fi
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ " $* " == *" --test "* ]] && [[ ! -x test/node_modules/.bin/claude || ! -d test/node_modules/@anthropic-ai/sdk ||
      ! -x test/node_modules/.bin/codex || ! -d test/node_modules/openai ]]; then
    echo "install-deps: installing test clients (npm ci in test/)"
    (cd test && npm ci --no-audit --no-fund --loglevel=error)
    # Claude Code's postinstall puts the native binary in place; npm 11 may skip
    # install scripts it was not told to trust, so run it explicitly.
    (cd test/node_modules/@anthropic-ai/claude-code && node install.cjs >/dev/null 2>&1 || true)
fi
exit 0
