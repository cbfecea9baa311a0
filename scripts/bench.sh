#!/usr/bin/env bash
# make bench: wrk against the relay and against nginx proxy_pass, both in
# front of the same mock upstream. See test/bench/bench.js for the knobs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test --bench
exec node test/bench/bench.js
