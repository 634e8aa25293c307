#!/bin/sh
# tests/valgrind_e2e.sh - the e2e suite with build/outreach under valgrind
# memcheck (`make check-valgrind`).
#
#   sh tests/valgrind_e2e.sh [CASE...]
#
# Every case of tests/e2e/run.sh (or the named ones) runs with
# OUTREACH_BIN=tests/valgrind.sh, which runs the binary under memcheck
# with --leak-check=full --errors-for-leak-kinds=definite
# --error-exitcode=99 and one log per process. A case fails as it would
# without valgrind, and the run fails when any log holds an error or a
# definite leak (printed with the case it came from): cases that expect
# the binary to fail do not look at why, so the exit status is not enough.
#
# VALGRIND_SKIP: cases left out (listed in the output). The default: the
# two whose checks are about timing (c_workers_rate: 1000 sends in 15 s;
# c_sigterm: the signal lands before the slowed daemon has its handler).
# Every other case passes under memcheck within E2E_CASE_TIMEOUT (120 s
# here); the slowest, c_report_* and c_experiment_lift, take about a
# minute. A whole run takes about 30 minutes on one core.
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
# a case under valgrind takes several times its usual 40 s
export E2E_CASE_TIMEOUT="${E2E_CASE_TIMEOUT:-120}"
SKIP=${VALGRIND_SKIP-"c_workers_rate c_sigterm"}
# shellcheck disable=SC2086
SKIP=$(echo $SKIP) # one line, single spaces: matched as " $SKIP " below
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/outreach-vg.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$LOGS"' EXIT
export VG_LOGS="$LOGS/vg"
mkdir -p "$VG_LOGS"
if [ $# = 0 ]; then
	# every case run.sh knows: run.sh's own --case mode evaluates its
	# third argument, here to print $ALL (run.sh has no list option)
	# shellcheck disable=SC2016
	set -- $(sh tests/e2e/run.sh --case "$LOGS/list" 'eval echo $ALL')
	[ $# -gt 0 ] || { echo "not ok - no e2e cases found"; exit 1; }
fi
passed=0
failed=0
skipped=0
for name in "$@"; do
	case " $SKIP " in
	*" $name "*)
		echo "skip - $name (VALGRIND_SKIP)"
		skipped=$((skipped + 1))
		continue
		;;
	esac
	rm -f "$VG_LOGS"/vg.*
	OUTREACH_BIN="$ROOT/tests/valgrind.sh" sh tests/e2e/run.sh "$name" >"$LOGS/case.out" 2>&1
	rc=$?
	bad=0
	[ "$rc" = 0 ] || bad=1
	for f in "$VG_LOGS"/vg.*; do
		[ -s "$f" ] || continue
		[ "$bad" = 2 ] || echo "not ok - $name: valgrind: $(grep -m 1 -E '^==[0-9]+== +[^ ]' "$f" | sed 's/^==[0-9]*== *//' | cut -c1-160)"
		bad=2
		head -n 40 "$f" | sed 's/^/# /'
	done
	if [ "$bad" = 0 ]; then
		passed=$((passed + 1))
		grep '^ok - ' "$LOGS/case.out"
	else
		failed=$((failed + 1))
		grep -v ' passed, ' "$LOGS/case.out"
	fi
done
echo "$passed passed, $failed failed, $skipped skipped (under valgrind)"
[ "$failed" = 0 ]
