#!/usr/bin/env bash
# `make test`: unit tests (sanitized), config drift, fuzz smoke, then the
# integration suite (real redis-server, mock upstream, relay binary, real
# clients). Prints a final "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
start=$(date +%s)
fail=0

bash scripts/run-unit.sh build/san/test_* | tee build/unit.log
[[ ${PIPESTATUS[0]} -eq 0 ]] || fail=1

if ./build/relay --print-config-example | diff -u config.example.env - >/dev/null; then
    echo "config: config.example.env matches the table"
else
    ./build/relay --print-config-example | diff -u config.example.env - | head -20
    echo "config: config.example.env has drifted from server/config.c (run make config-example)"
    fail=1
fi

for v in $(./build/relay --print-config-example | sed -nE 's/^#? ?([A-Z_]+)=.*/\1/p'); do
    grep -q "\`$v\`" docs/configuration.md || { echo "config: $v is not documented in docs/configuration.md"; fail=1; }
done

if [[ -x scripts/fuzz-smoke.sh ]]; then
    bash scripts/fuzz-smoke.sh || fail=1
fi

bash scripts/install-deps.sh --test
export RELAY_BIN=${RELAY_BIN:-build/san/relay}
export RELAY_BIN_RELEASE=${RELAY_BIN_RELEASE:-build/relay}
# --test-force-exit: a file whose tests are done never hangs the suite on a leftover handle.
node --test --test-concurrency=1 --test-force-exit --test-timeout=300000 --test-reporter=spec test/integration/ 2>&1 | tee build/integration.log
[[ ${PIPESTATUS[0]} -eq 0 ]] || fail=1

# ThreadSanitizer: the pool unit test and the concurrency-heavy integration
# files on the TSan build (build/tsan, `make tsan`). A TSan report on the
# relay's stderr fails the file (test/lib/env.js). 300 streams keep it short.
echo "tsan: test_tpool, concurrency.test.js and streaming.test.js on build/tsan/relay"
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
    bash scripts/run-unit.sh build/tsan/test_tpool | tee build/tsan-unit.log
[[ ${PIPESTATUS[0]} -eq 0 ]] || fail=1
TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1} RELAY_BIN=build/tsan/relay \
    RELAY_BIN_RELEASE=build/tsan/relay CONCURRENCY_STREAMS=300 CONCURRENCY_RSS_LIMIT_MB=2048 \
    node --test --test-concurrency=1 --test-force-exit --test-reporter=spec test/integration/concurrency.test.js \
    test/integration/streaming.test.js 2>&1 | tee build/tsan.log
[[ ${PIPESTATUS[0]} -eq 0 ]] || fail=1

sum_field() { # sum of "ℹ <field> N" over the given node logs (last line of each)
    local t=0 f n
    for f in "${@:2}"; do
        n=$(grep -E "^ℹ $1 [0-9]+" "$f" | awk '{print $3}' | tail -1)
        t=$((t + ${n:-0}))
    done
    echo $t
}
ipass=$(sum_field pass build/integration.log build/tsan.log)
ifail=$(sum_field fail build/integration.log build/tsan.log)
echo "make test took $(( $(date +%s) - start )) s"
upass=$(cat build/unit.log build/tsan-unit.log | sed -nE 's/^unit total: ([0-9]+) passed.*/\1/p' | awk '{s += $1} END {print s + 0}')
ufail=$(cat build/unit.log build/tsan-unit.log | sed -nE 's/^unit total: [0-9]+ passed, ([0-9]+) failed/\1/p' | awk '{s += $1} END {print s + 0}')
echo "integration: ${ipass:-0} passed, ${ifail:-0} failed; unit: ${upass:-0} passed, ${ufail:-0} failed"
echo "$(( ${ipass:-0} + ${upass:-0} )) passed, $(( ${ifail:-0} + ${ufail:-0} )) failed"
exit $fail
