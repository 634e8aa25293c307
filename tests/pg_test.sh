#!/bin/sh
# tests/pg_test.sh - the store's unit tests and the end-to-end suite again,
# on PostgreSQL (`make test-pg`, part of `make test`): a throwaway cluster
# on a loopback port (tests/pgtmp.sh), a schema per unit test and a
# database per end-to-end case.
#
#   sh tests/pg_test.sh [E2E_CASE...]
set -u
cd "$(dirname "$0")/.." || exit 2
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/outreach-pg.XXXXXX") || exit 1
trap 'sh tests/pgtmp.sh stop "$PGDIR"' EXIT INT TERM
url=$(sh tests/pgtmp.sh start "$PGDIR") || exit 1
psql -X -q "${url}postgres" -c "CREATE DATABASE unit" || exit 1
export OUTREACH_TEST_PG="${url}unit"
export OUTREACH_TEST_PGDIR="$PGDIR" # for the cases that take the server away
fail=0
if [ $# = 0 ]; then
	# the suites that open a store (the others do not depend on it)
	for t in build/tests/test_store build/tests/test_schedule build/tests/test_stats \
		build/tests/test_sendtime build/tests/test_bounce; do
		echo "== $t (postgresql)"
		$t || fail=1
	done
fi
echo "== end to end (postgresql)"
sh tests/e2e/run.sh "$@" || fail=1
[ $fail = 0 ] || { echo "tests on postgresql failed"; exit 1; }
