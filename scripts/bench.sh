#!/usr/bin/env bash
# make bench: the relay and an nginx proxy_pass baseline in front of the same C mock upstream,
# driven by wrk and build/bench/stream_load. See test/bench/bench.js for the scenarios and the
# knobs (BENCH_ONLY, BENCH_DURATION, BENCH_IDLE_SECONDS, RELAY_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --bench
# 5,000 concurrent streams: the relay and nginx hold two sockets per stream, the mock and
# stream_load one each. Raise the soft limit as far as the hard one allows.
want=40000
hard=$(ulimit -Hn)
if [[ $hard != unlimited ]] && ((hard < want)); then want=$hard; fi
ulimit -n "$want"
if ((want < 12000)); then
    echo "bench: ulimit -n is $want; the 5,000-stream runs need about 12,000 and may fail" >&2
fi
exec node test/bench/bench.js
