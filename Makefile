# claude-relay - plain Makefile.
#   make            build build/relay and the admin UI (admin-ui/dist, needs node + npm)
#   make ui         the admin UI only (npm ci when the lockfile changed, then admin-ui/build.mjs)
#   make run        install missing packages, create .env, build, serve
#   make test       install missing packages, build (plain + ASan/UBSan), run the whole suite
#   make SANITIZER=address,undefined   sanitized build in build/san/
#   make clang            the same build with clang in build/clang/
#   make SANITIZER=thread              ThreadSanitizer build in build/tsan/
#   make lint fmt-check check-layering config-example bench
#   make fuzz             every libFuzzer target for FUZZ_SECONDS (default 60) each
#   make soak             a few minutes of mixed traffic with aborts (release build); RSS/fd bounds

CC       ?= cc
PKGS     := libmicrohttpd hiredis libsodium libcjson libcurl openssl
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wcast-qual -Wformat=2 -Wvla -fno-common
SERVER_DIRS := server server/http server/relay server/formats server/store server/admin \
               server/providers
INCS     := -Ilib $(SERVER_DIRS:%=-I%)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -pthread $(WARN) -MMD -MP \
            $(INCS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

ifdef SANITIZER
# One build directory per sanitizer: TSan cannot be linked with ASan objects.
ifeq ($(SANITIZER),thread)
BUILD    ?= build/tsan
else
BUILD    ?= build/san
endif
CFLAGS   += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all -O1
LDFLAGS  += -fsanitize=$(SANITIZER)
else
BUILD    ?= build
endif

LIB_SRC    := $(wildcard lib/*.c)
SERVER_SRC := $(filter-out server/main.c,$(wildcard $(SERVER_DIRS:%=%/*.c)))
UNIT_SRC   := $(wildcard test/unit/test_*.c)
FUZZ_SRC   := $(wildcard test/fuzz/fuzz_*.c)

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
# The default price table, built into the binary (server/store/pricing_builtin.h).
GEN_OBJ    := $(BUILD)/gen/model_prices.o
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o) $(GEN_OBJ)
UNIT_BIN   := $(UNIT_SRC:test/unit/%.c=$(BUILD)/%)

.SECONDARY:

.PHONY: all ui deps run test unit integration lint fmt-check check-layering config-example \
        bench clean sanitized clang tsan fuzz soak

# The sanitizer and clang sub-makes pass UI= : one UI build, not three racing.
UI      ?= ui
all: $(BUILD)/relay $(UI)

# The admin UI: no bundler, node only (admin-ui/build.mjs). Skipped with a
# note when node or npm is missing, so the C build never depends on them.
UI_SRC := $(wildcard admin-ui/src/*) admin-ui/build.mjs admin-ui/package-lock.json
ui: admin-ui/dist/index.html

admin-ui/node_modules/.package-lock.json: admin-ui/package-lock.json
	@if command -v npm >/dev/null; then cd admin-ui && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "ui: npm is missing (scripts/install-deps.sh installs it); /web is not built"; fi

admin-ui/dist/index.html: $(UI_SRC) admin-ui/node_modules/.package-lock.json
	@if command -v node >/dev/null && [ -d admin-ui/node_modules/preact ]; then node admin-ui/build.mjs; \
	else echo "ui: node or admin-ui/node_modules is missing; /web is not built"; fi

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/model_prices.c: server/store/model_prices.json scripts/embed-file.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-file.sh pricing_builtin_json $< pricing_builtin.h > $@.tmp
	@mv $@.tmp $@

$(BUILD)/gen/model_prices.o: $(BUILD)/gen/model_prices.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/librelay.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/relay: $(BUILD)/server/main.o $(SERVER_OBJ) $(BUILD)/librelay.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_%: $(BUILD)/test/unit/test_%.o $(BUILD)/test/unit/harness.o $(SERVER_OBJ) $(BUILD)/librelay.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@bash scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/run.sh

sanitized:
	@$(MAKE) --no-print-directory SANITIZER=address,undefined UI= all $(UNIT_SRC:test/unit/%.c=build/san/%)

tsan:
	@$(MAKE) --no-print-directory SANITIZER=thread UI= all build/tsan/test_tpool

unit: $(UNIT_BIN)
	@bash scripts/run-unit.sh $(UNIT_BIN)

test:
	@bash scripts/install-deps.sh --test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory sanitized
	@$(MAKE) --no-print-directory clang
	@$(MAKE) --no-print-directory tsan
	@$(MAKE) --no-print-directory check-layering
	@$(MAKE) --no-print-directory lint
	@bash scripts/run-tests.sh

config-example: $(BUILD)/relay
	$(BUILD)/relay --print-config-example > config.example.env

check-layering:
	@if grep -nE '#include "(server/|providers/)' lib/*.c lib/*.h; then \
	    echo "lib/ must not include server/ headers"; exit 1; fi
	@for h in $$(ls $(SERVER_DIRS:%=%/*.h) 2>/dev/null | xargs -n1 basename); do \
	    if grep -n "#include \"$$h\"" lib/*.c lib/*.h; then \
	        echo "lib/ includes server header $$h"; exit 1; fi; done
	@echo "check-layering: ok"

# The same sources and flags with clang (it warns where gcc does not).
clang:
	@$(MAKE) --no-print-directory CC=clang BUILD=build/clang UI= all

# cppcheck, and clang-tidy's size and cognitive-complexity limits (STYLE.md 10).
lint:
	@bash scripts/lint.sh $(INCS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

fmt-check:
	@clang-format --dry-run --Werror lib/*.c lib/*.h $(wildcard $(SERVER_DIRS:%=%/*.[ch]))

# Load tools for make bench (test/bench/): not part of the relay, not in make test.
BENCH_BIN := build/bench/mock_upstream build/bench/stream_load

build/bench/%: test/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE $(WARN) -o $@ $<

bench: all $(BENCH_BIN)
	@bash scripts/bench.sh

fuzz:
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-60} bash scripts/fuzz-smoke.sh

soak: all
	@bash scripts/install-deps.sh --test
	@RELAY_BIN=build/relay node test/soak/soak.js

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
