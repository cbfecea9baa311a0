#!/usr/bin/env bash
# Builds every test/fuzz/fuzz_*.c with the standalone mutation driver under
# ASan+UBSan and runs each for FUZZ_ITERS inputs (default 200000). With clang,
# `FUZZ_LIBFUZZER=1` builds real libFuzzer binaries into build/fuzz/ instead.
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${FUZZ_ITERS:-200000}
out=build/fuzz
mkdir -p "$out"
make --no-print-directory SANITIZER=address,undefined build/san/librelay.a \
    build/san/gen/model_prices.o >/dev/null
# server objects (from the sources, not stale files) plus the generated ones
objs="$(find server -name '*.c' ! -name main.c | sed 's|^\(.*\)\.c$|build/san/\1.o|') build/san/gen/model_prices.o"
flags="-std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -pthread -g -O1 -fsanitize=address,undefined
       -fno-sanitize-recover=all -Ilib $(find server -type d -printf '-I%p ') $(pkg-config --cflags libcjson hiredis)"
libs="$(pkg-config --libs libmicrohttpd hiredis libsodium libcjson libcurl openssl) -lpthread -lm"
status=0
for src in test/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    # shellcheck disable=SC2086
    cc $flags "$src" test/fuzz/standalone.c $objs build/san/librelay.a $libs -o "$out/$name"
    if ! "$out/$name" "$iters" 1 >/dev/null; then
        echo "fuzz: $name FAILED"
        status=1
    else
        echo "fuzz: $name: $iters mutated inputs, no crash"
    fi
done
exit $status
