#!/usr/bin/env bash
# load-pricing.sh [-u USER] [-p PASSWORD] [-r RELAY_URL] FILE
# Replace the model price table of a running relay with FILE (LiteLLM format, e.g. LiteLLM's
# model_prices_and_context_window.json or server/store/model_prices.json to go back to the
# built-in table) through the admin API: log in, PUT /admin/models/pricing, log out.
# Every relay instance on the same Redis picks the new table up within PRICING_RELOAD_INTERVAL.
# Credentials default to $ADMIN_USERNAME / $ADMIN_PASSWORD (prefer the environment: arguments
# show in `ps`); the relay URL to $RELAY_URL, else http://127.0.0.1:${PORT:-3000}.
set -euo pipefail

user=${ADMIN_USERNAME:-} pass=${ADMIN_PASSWORD:-} url=${RELAY_URL:-http://127.0.0.1:${PORT:-3000}}
while getopts "u:p:r:h" opt; do
    case $opt in
    u) user=$OPTARG ;;
    p) pass=$OPTARG ;;
    r) url=$OPTARG ;;
    *) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
file=${1:-}
[[ -n $file && -r $file ]] || { echo "load-pricing: FILE is missing or unreadable" >&2; exit 2; }
[[ -n $user && -n $pass ]] || { echo "load-pricing: set ADMIN_USERNAME and ADMIN_PASSWORD (or -u/-p)" >&2; exit 2; }
url=${url%/}

# JSON string escaping for the login body (backslash and double quote).
esc() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
code=$(curl -sS -o "$tmp" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @- "$url/web/auth/login" <<<"{\"username\":\"$(esc "$user")\",\"password\":\"$(esc "$pass")\"}")
token=$(sed -nE 's/.*"token"[[:space:]]*:[[:space:]]*"([0-9a-f]+)".*/\1/p' "$tmp")
if [[ $code != 200 || -z $token ]]; then
    echo "load-pricing: login failed (HTTP $code): $(cat "$tmp")" >&2
    exit 1
fi

code=$(curl -sS -o "$tmp" -w '%{http_code}' -X PUT -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' --data-binary @"$file" "$url/admin/models/pricing")
curl -sS -o /dev/null -X POST -H "Authorization: Bearer $token" "$url/web/auth/logout" || true
if [[ $code != 200 ]]; then
    echo "load-pricing: the relay refused $file (HTTP $code): $(cat "$tmp")" >&2
    exit 1
fi
echo "load-pricing: $(cat "$tmp")"
