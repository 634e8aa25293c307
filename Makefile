# outreach - GNU Make build. `make`, `make deps`, `make demo`, `make test`.
.DEFAULT_GOAL := all
.SUFFIXES:

PKGS     := sqlite3 libpq jansson libfyaml icu-uc icu-i18n openssl libcurl libmicrohttpd
DEB_PKGS := build-essential pkg-config libsqlite3-dev sqlite3 libjansson-dev \
            libfyaml-dev libicu-dev libssl-dev libcmocka-dev python3 \
            libcurl4-openssl-dev libesmtp-dev openssl python3-aiosmtpd python3-dkim \
            libpq-dev postgresql \
            postfix nghttp2-server libmicrohttpd-dev chromium fonts-noto-cjk nginx

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

.PHONY: all deps demo test test-pg unit e2e clean bench crash crash-short

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

test: all unit e2e test-pg crash-short

# demo - the main job on the embedded default: SQLite store in var/, outbox transport
demo: deps
	@$(MAKE) --no-print-directory all
	@sh tests/demo.sh

clean:
	rm -rf build
