#!/usr/bin/env bash
# Runs unit-test binaries and prints one total "N passed, N failed" line.
set -uo pipefail
passed=0; failed=0; status=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
    if [[ $rc -ne 0 || -z $line ]]; then
        printf '%s\n' "$out" | tail -40
        echo "unit: $(basename "$t") FAILED (exit $rc)"
        status=1
    else
        echo "unit: $(basename "$t"): $line"
    fi
    if [[ -n $line ]]; then
        passed=$((passed + ${line%% passed*}))
        f=${line#*passed, }; failed=$((failed + ${f%% failed*}))
    else
        failed=$((failed + 1))
    fi
done
echo "unit total: $passed passed, $failed failed"
exit $status
