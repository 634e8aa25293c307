# outreach - GNU Make build. `make`, `make deps`, `make demo`, `make test`.
.DEFAULT_GOAL := all
.SUFFIXES:

PKGS     := sqlite3 libpq jansson libfyaml icu-uc icu-i18n openssl libcurl libmicrohttpd
DEB_PKGS := build-essential pkg-config libsqlite3-dev sqlite3 libjansson-dev \
            libfyaml-dev libicu-dev libssl-dev libcmocka-dev python3 \
            libcurl4-openssl-dev libesmtp-dev openssl python3-aiosmtpd python3-dkim \
            libpq-dev postgresql \
            postfix nghttp2-server libmicrohttpd-dev chromium fonts-noto-cjk nginx \
            clang libclang-rt-14-dev valgrind

CC       ?= cc
OPT      ?= -O2 -g
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   := $(OPT) -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS   := $(PKG_LIBS) -lesmtp -lm -lpthread

LIB_SRC  := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=build/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=build/obj/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/tests/%)

MUSTACHE_SPEC_DIR ?= $(abspath ../shared/spec/mustache)
export MUSTACHE_SPEC_DIR

.PHONY: all deps demo test test-pg unit e2e clean bench fuzz fuzz-build fuzz-short check-asan \
	check-valgrind crash crash-short

all: build/outreach

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

build/liboutreach.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/outreach: $(CLI_OBJ) build/liboutreach.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) build/liboutreach.a $(LDLIBS)

build/tests/test_%: tests/unit/test_%.c build/liboutreach.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< build/liboutreach.a $(LDLIBS) -lcmocka

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# fuzz - every tests/fuzz/fuzz_*.c built with clang and libFuzzer, ASan and
# UBSan (the library too, in its own objects: build/fuzz-obj/), then each run
# for FUZZ_TIME seconds on a copy of its corpus tests/fuzz/corpus/NAME/
# (tests/fuzz/run.sh; a crash fails and its input is left in build/fuzz/).
FUZZ_CC     ?= clang
FUZZ_TIME   ?= 60
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -g -O1 $(FUZZ_SAN) -std=c11 -Wall -Wextra -D_GNU_SOURCE -Iinclude -Isrc/httpd \
               $(PKG_CFLAGS)
FUZZ_SRC    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN    := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJ    := $(LIB_SRC:%.c=build/fuzz-obj/%.o)

build/fuzz-obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

build/fuzz/liboutreach.a: $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/liboutreach.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/liboutreach.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@FUZZ_TIME=$(FUZZ_TIME) sh tests/fuzz/run.sh $(FUZZ_BIN)

# fuzz-short - what `make test` runs: each target FUZZ_SHORT seconds
FUZZ_SHORT ?= 10
fuzz-short: $(FUZZ_BIN)
	@FUZZ_TIME=$(FUZZ_SHORT) sh tests/fuzz/run.sh $(FUZZ_BIN)

-include $(FUZZ_OBJ:.o=.d)

# tests/unit/test_fuzz_NAME.c replays tests/fuzz/corpus/NAME/ through the
# target's source (tests/unit/fuzz_replay.h), in `make unit` and check-asan
$(filter build/tests/test_fuzz_%,$(UNIT_BIN)): build/tests/test_fuzz_%: tests/fuzz/fuzz_%.c \
	tests/unit/fuzz_replay.h

# check-asan - the unit tests and the e2e suite on a build with
# AddressSanitizer (leak checker on) and UndefinedBehaviorSanitizer, in its
# own tree build/asan/ (tests/sanitize.sh: any report fails, with its log).
# clang by default: gcc 12's UBSan ignores log_path, and the e2e binary's
# reports must go to files. No -Werror here: the gcc build is the warnings
# gate (clang also warns where cmocka's skip() does not return).
ASAN_CC     ?= clang
ASAN_SAN    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_CFLAGS := $(OPT) $(ASAN_SAN) -std=c11 -Wall -Wextra -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS)
ASAN_OBJ    := $(LIB_SRC:%.c=build/asan/obj/%.o)
ASAN_CLI    := $(CLI_SRC:%.c=build/asan/obj/%.o)
ASAN_UNIT   := $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)

build/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_CFLAGS) -MMD -MP -c $< -o $@

build/asan/liboutreach.a: $(ASAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/asan/outreach: $(ASAN_CLI) build/asan/liboutreach.a
	$(ASAN_CC) $(ASAN_CFLAGS) -o $@ $(ASAN_CLI) build/asan/liboutreach.a $(LDLIBS)

build/asan/tests/test_%: tests/unit/test_%.c build/asan/liboutreach.a
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_CFLAGS) -Itests/unit -o $@ $< build/asan/liboutreach.a $(LDLIBS) -lcmocka

$(filter build/asan/tests/test_fuzz_%,$(ASAN_UNIT)): build/asan/tests/test_fuzz_%: \
	tests/fuzz/fuzz_%.c tests/unit/fuzz_replay.h

-include $(ASAN_OBJ:.o=.d) $(ASAN_CLI:.o=.d)

check-asan: build/asan/outreach $(ASAN_UNIT)
	@sh tests/sanitize.sh $(ASAN_UNIT)

# check-valgrind - the e2e suite with build/outreach under valgrind memcheck,
# no errors and no definite leaks (tests/valgrind_e2e.sh). About 20 s a
# case: VALGRIND_CASES="c_a c_b" runs only those, VALGRIND_SKIP (see the
# script) leaves some out.
VALGRIND_CASES ?=
check-valgrind: build/outreach
	@sh tests/valgrind_e2e.sh $(VALGRIND_CASES)

# deps - install the Debian packages the build and tests need, only missing ones.
# Services that packages would start on install (postfix, nginx) are held off
# by a policy-rc.d for the install's duration: the tests start their own.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  echo "postfix postfix/main_mailer_type select No configuration" | \
	    $$SUDO debconf-set-selections; \
	  pol=; if [ ! -e /usr/sbin/policy-rc.d ]; then pol=1; \
	    printf '#!/bin/sh\nexit 101\n' | $$SUDO tee /usr/sbin/policy-rc.d >/dev/null; \
	    $$SUDO chmod 755 /usr/sbin/policy-rc.d; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; rc=$$?; \
	  [ -z "$$pol" ] || $$SUDO rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	else echo "deps: all installed"; fi

# bench - outreach against the bare load generators on local sinks, side by
# side (not a test); BENCH_N=1000000 for the large run. Writes nothing but
# its report: tests/bench/bench.sh --doc rewrites docs/performance.md.
BENCH_BIN := build/bench/curlblast build/bench/claimloop build/bench/storerate

build/bench/curlblast: tests/bench/curlblast.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(shell pkg-config --libs libcurl)

build/bench/claimloop: tests/bench/claimloop.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(shell pkg-config --libs sqlite3)

build/bench/storerate: tests/bench/storerate.c build/liboutreach.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< build/liboutreach.a $(LDLIBS)

bench: build/outreach $(BENCH_BIN)
	sh tests/bench/bench.sh

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do \
	  echo "== $$t"; $$t || fail=1; done; \
	[ $$fail = 0 ] || { echo "unit tests failed"; exit 1; }

e2e: build/outreach
	@sh tests/e2e/run.sh

# test-pg - the store's unit tests and every e2e case again on PostgreSQL
# (a throwaway cluster on a loopback port: tests/pgtmp.sh)
test-pg: all $(UNIT_BIN)
	@sh tests/pg_test.sh

# crash - the crash harness (tests/crash/crash.sh, docs/CRASH.md): the
# worker against smtp-sink and an HTTP sink, SIGKILLed 200 times over 6,000
# sends, SIGTERMed, its store's disk filled and its store locked; then the
# same on a throwaway PostgreSQL cluster. A few minutes. crash-short is the
# quick run `make test` does (30 kills over 600 sends, SQLite).
crash: all
	@CRASH_PG=1 sh tests/crash/crash.sh

crash-short: all
	@CRASH_N=300 CRASH_KILLS=30 CRASH_CYCLES=1 sh tests/crash/crash.sh

test: all unit e2e test-pg check-asan fuzz-short crash-short

# demo - the main job on the embedded default: SQLite store in var/, outbox transport
demo: deps
	@$(MAKE) --no-print-directory all
	@sh tests/demo.sh

clean:
	rm -rf build
