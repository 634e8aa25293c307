#!/bin/sh
# tests/sanitize.sh - the unit tests and the e2e suite on the ASan + UBSan
# build (`make check-asan`, part of `make test`).
#
#   sh tests/sanitize.sh build/asan/tests/test_NAME...
#
# Each unit test runs with the leak checker on and stops at the first
# report (halt_on_error, -fno-sanitize-recover=undefined). Then the e2e
# suite runs with OUTREACH_BIN=build/asan/outreach (SANITIZE_E2E=0 skips
# it; SANITIZE_CASES="c_a c_b" runs only those). The binary is run by
# cases that also expect it to fail, so its exit status says nothing:
# every report goes to a log file (log_path) and any log file at all fails
# the run, printed with the case it came from.
# Exit status non-zero when a unit test failed, a case failed, or there
# was any report.

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/outreach-asan.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$LOGS"' EXIT
SAN_COMMON="print_stacktrace=1:halt_on_error=1"
ASAN_BASE="detect_leaks=1:check_initialization_order=1:detect_stack_use_after_return=1"
fail=0

# ---- unit tests: reports on stderr, a report fails the test
for t in "$@"; do
	echo "== $t"
	ASAN_OPTIONS="$ASAN_BASE:$SAN_COMMON" UBSAN_OPTIONS="$SAN_COMMON" \
		"$t" >"$LOGS/unit.log" 2>&1
	rc=$?
	if [ "$rc" != 0 ] || grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOGS/unit.log"; then
		echo "not ok - $t (exit $rc)"
		grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:|FAILED|ERROR' \
			"$LOGS/unit.log" | head -n 60
		fail=1
	fi
done
[ "$fail" = 0 ] && echo "unit tests under ASan and UBSan: all passed" ||
	echo "unit tests under ASan and UBSan: failures above"

# ---- e2e: reports to files, any file fails
if [ "${SANITIZE_E2E:-1}" != 0 ]; then
	export ASAN_OPTIONS="$ASAN_BASE:$SAN_COMMON:log_path=$LOGS/asan"
	export UBSAN_OPTIONS="$SAN_COMMON:log_path=$LOGS/ubsan"
	# shellcheck disable=SC2086
	OUTREACH_BIN="$ROOT/build/asan/outreach" sh tests/e2e/run.sh ${SANITIZE_CASES:-} ||
		fail=1
	found=0
	for f in "$LOGS"/asan.* "$LOGS"/ubsan.*; do
		[ -f "$f" ] || continue
		found=1
		echo "# sanitizer report $f:"
		head -n 40 "$f" | sed 's/^/# /'
	done
	if [ "$found" = 1 ]; then
		echo "not ok - the e2e suite under ASan and UBSan: reports above"
		fail=1
	else
		echo "e2e suite under ASan and UBSan: no sanitizer report"
	fi
fi
[ "$fail" = 0 ]
