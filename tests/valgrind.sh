#!/bin/sh
# tests/valgrind.sh - build/outreach under valgrind's memcheck: the e2e
# suite's OUTREACH_BIN in `make check-valgrind` (tests/valgrind_e2e.sh).
#
# Errors and definite leaks go to one log file per process in VG_LOGS
# (valgrind's %p), which the driver reads after the suite: cases that
# expect the binary to fail do not look at why, so the exit status (99 on
# an error) is not the only check. Possible and reachable leaks are not
# errors (libraries' caches: ICU, OpenSSL, libcurl keep theirs to exit).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${VG_LOGS:=${TMPDIR:-/tmp}}"
exec valgrind -q --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --error-exitcode=99 --track-fds=no \
	--log-file="$VG_LOGS/vg.%p" "${OUTREACH_VALGRIND_BIN:-$ROOT/build/outreach}" "$@"
