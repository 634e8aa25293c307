#!/bin/sh
# tests/fuzz/run.sh - run libFuzzer targets (`make fuzz`, `make test`).
#
#   FUZZ_TIME=60 sh tests/fuzz/run.sh build/fuzz/fuzz_NAME...
#
# Each target runs FUZZ_TIME seconds (default 60) on a fresh copy of its
# committed corpus tests/fuzz/corpus/NAME/, so that the committed corpus
# never grows by itself: every committed input (the seeds and the crashes
# kept as regressions) is replayed first. FUZZ_MERGE=1 afterwards merges the
# inputs that added coverage back into the committed corpus (-merge=1 keeps
# only those): do it deliberately and look at what it added.
#
# A crash, a sanitizer finding, a leak, a timeout (over FUZZ_TIMEOUT s,
# default 10, on one input) or an out-of-memory fails the target: its
# input is left as build/fuzz/NAME-crash-... (or -leak-, -timeout-, -oom-),
# named in the output with the tail of the fuzzer's log. The exit status is
# non-zero when any target failed.
#
# Reproduce one: build/fuzz/fuzz_NAME build/fuzz/NAME-crash-...
# Keep it as a regression: copy it into tests/fuzz/corpus/NAME/ and add a
# unit test that feeds it (tests/unit/test_fuzz_regress.c).

cd "$(dirname "$0")/../.." || exit 2
T=${FUZZ_TIME:-60}
TO=${FUZZ_TIMEOUT:-10}
failed=0
passed=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/outreach-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT
for bin in "$@"; do
	name=${bin##*/fuzz_}
	seeds=tests/fuzz/corpus/$name
	if [ ! -d "$seeds" ]; then
		echo "not ok - fuzz_$name: no corpus $seeds"
		failed=$((failed + 1))
		continue
	fi
	c=$WORK/$name
	mkdir -p "$c"
	cp "$seeds"/* "$c"/ 2>/dev/null
	log=$WORK/$name.log
	# -close_fd_mask=1: targets' stdout is noise; stderr keeps the reports
	"$bin" -max_total_time="$T" -timeout="$TO" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
		-close_fd_mask=1 -print_final_stats=1 -artifact_prefix="build/fuzz/$name-" \
		"$c" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	if [ "$rc" = 0 ]; then
		echo "ok - fuzz_$name: ${runs:-?} runs in ${T}s, $cov, corpus $(ls "$c" | wc -l)"
		passed=$((passed + 1))
		if [ -n "${FUZZ_MERGE:-}" ]; then
			"$bin" -merge=1 -close_fd_mask=1 "$seeds" "$c" >"$log.merge" 2>&1 ||
				echo "# merge into $seeds failed: $(tail -n 1 "$log.merge")"
			echo "# merged: $seeds now has $(ls "$seeds" | wc -l) inputs"
		fi
	else
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		echo "not ok - fuzz_$name: exit $rc, input ${art:-(none written)}"
		grep -E 'ERROR|SUMMARY|runtime error|^    #[0-9] ' "$log" | head -n 25 | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
