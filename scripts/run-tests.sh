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
node --test --test-concurrency=1 --test-reporter=spec test/integration/ 2>&1 | tee build/integration.log
[[ ${PIPESTATUS[0]} -eq 0 ]] || fail=1

ipass=$(grep -E '^ℹ pass [0-9]+' build/integration.log | awk '{print $3}' | tail -1)
ifail=$(grep -E '^ℹ fail [0-9]+' build/integration.log | awk '{print $3}' | tail -1)
echo "make test took $(( $(date +%s) - start )) s"
upass=$(sed -nE 's/^unit total: ([0-9]+) passed.*/\1/p' build/unit.log)
ufail=$(sed -nE 's/^unit total: [0-9]+ passed, ([0-9]+) failed/\1/p' build/unit.log)
echo "integration: ${ipass:-0} passed, ${ifail:-0} failed; unit: ${upass:-0} passed, ${ufail:-0} failed"
echo "$(( ${ipass:-0} + ${upass:-0} )) passed, $(( ${ifail:-0} + ${ufail:-0} )) failed"
exit $fail
