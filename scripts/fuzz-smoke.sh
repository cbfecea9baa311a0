#!/usr/bin/env bash
# Fuzzes every test/fuzz/fuzz_*.c target (seed corpus: test/fuzz/corpus/<target>/).
#   With clang and its libFuzzer runtime (libclang-rt-14-dev): real libFuzzer binaries
#   under ASan+UBSan in build/fuzz/, each run FUZZ_SECONDS (default 5; `make fuzz`: 60).
#   Otherwise (gcc only, or FUZZ_STANDALONE=1): the standalone mutation driver
#   (test/fuzz/standalone.c) under ASan+UBSan, FUZZ_ITERS inputs each (default 200000).
# A crash leaves its input in build/fuzz/crash-* and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/fuzz
mkdir -p "$out"
cflags="-std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -pthread -g -O1 -fno-sanitize-recover=all
        -Ilib $(find server -type d -printf '-I%p ') $(pkg-config --cflags libcjson hiredis libmicrohttpd)"
libs="$(pkg-config --libs libmicrohttpd hiredis libsodium libcjson libcurl openssl) -lpthread -lm"
objs_for() { # server objects (from the sources, not stale files) plus the generated ones
    echo "$(find server -name '*.c' ! -name main.c | sort | sed "s|^\(.*\)\.c$|$1/\1.o|") $1/gen/model_prices.o"
}

have_libfuzzer() {
    [[ ${FUZZ_STANDALONE:-0} != 1 ]] && command -v clang >/dev/null || return 1
    printf 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}\n' \
        >"$out/probe.c"
    clang -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" 2>/dev/null
}

status=0
if have_libfuzzer; then
    secs=${FUZZ_SECONDS:-5}
    ob=build/fuzzobj
    # shellcheck disable=SC2046
    make --no-print-directory CC=clang SANITIZER=fuzzer-no-link,address,undefined BUILD=$ob \
        $ob/librelay.a $(objs_for $ob) >/dev/null
    for src in test/fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        # shellcheck disable=SC2086,SC2046
        clang $cflags -fsanitize=fuzzer,address,undefined "$src" $(objs_for $ob) $ob/librelay.a \
            $libs -o "$out/$name"
        mkdir -p "$out/corpus/$name"
        if "$out/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$out/crash-$name-" "$out/corpus/$name" "test/fuzz/corpus/$name" \
            >"$out/$name.log" 2>&1; then
            runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$out/$name.log")
            echo "fuzz: $name (libFuzzer): ${secs}s, ${runs:-?} runs, no crash"
        else
            echo "fuzz: $name FAILED (libFuzzer), see $out/$name.log"; tail -30 "$out/$name.log"
            status=1
        fi
    done
    exit $status
fi

iters=${FUZZ_ITERS:-200000}
make --no-print-directory SANITIZER=address,undefined build/san/librelay.a \
    build/san/gen/model_prices.o >/dev/null
for src in test/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    # shellcheck disable=SC2086,SC2046
    cc $cflags -fsanitize=address,undefined "$src" test/fuzz/standalone.c $(objs_for build/san) \
        build/san/librelay.a $libs -o "$out/$name"
    if ! "$out/$name" "$iters" 1 >/dev/null; then
        echo "fuzz: $name FAILED"
        status=1
    else
        echo "fuzz: $name: $iters mutated inputs, no crash"
    fi
done
exit $status
