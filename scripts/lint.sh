#!/usr/bin/env bash
# `make lint`: cppcheck, then clang-tidy with the house limits (STYLE.md 10):
# functions of at most 80 lines and cognitive complexity 15. Arguments are
# the include flags. Fails on any finding.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
    --suppress=missingIncludeSystem "$@" lib server || status=1
checks='-*,readability-function-cognitive-complexity,readability-function-size'
opts='{CheckOptions: [{key: readability-function-cognitive-complexity.Threshold, value: 15},
      {key: readability-function-size.LineThreshold, value: 80}]}'
srcs=$(find lib server -name '*.c' | sort)
# shellcheck disable=SC2086
out=$(clang-tidy --quiet -checks="$checks" -config="$opts" $srcs -- -std=c11 \
    -D_DEFAULT_SOURCE -D_GNU_SOURCE "$@" 2>&1 | grep -E 'warning:|error:')
if [[ -n $out ]]; then
    printf '%s\n' "$out"
    status=1
fi
[[ $status -eq 0 ]] && echo "lint: ok"
exit $status
