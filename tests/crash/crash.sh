#!/bin/sh
# tests/crash/crash.sh - the crash harness (`make crash`; a short run in
# `make test`): the real worker against real local sinks, killed at random
# points hundreds of times over a campaign of thousands of sends, then
# checked for sends lost or sent twice. docs/CRASH.md says what it shows.
#
#   sh tests/crash/crash.sh [VARIANT...]  default: kill flood term diskfull locked
#
#   kill      SIGKILL to the worker's process group after a random 50-400 ms,
#             CRASH_KILLS times, restarting it each time
#   flood     the same unpaced, a tenth as many kills: whole transport
#             batches in flight at each kill (the widest window)
#   term      SIGTERM instead: each stop must exit 0 within 15 s and leave
#             nothing 'sending'; no duplicate at all
#   diskfull  the store on a small tmpfs that is filled to the last byte for
#             a few seconds, then freed, CRASH_CYCLES times while the worker
#             runs (SQLite only: needs root for mount)
#   locked    another process holds the store's write lock (SQLite: BEGIN
#             EXCLUSIVE; PostgreSQL: LOCK TABLE sends) for 7 s, CRASH_CYCLES
#             times while the worker runs
#
# Environment: CRASH_N contacts (default 3000: 6,000 sends, one email and
# one sms each), CRASH_KILLS (default 200; term does a quarter as many),
# CRASH_CYCLES (default 3), CRASH_WORKERS (`run --workers N`, default 1),
# CRASH_SEED (the random delays), CRASH_STRICT (default 1: fail a kill that
# sent more duplicates than the transports have connections, the issue's
# bound; 0 only counts and reports them), KEEP=1 keeps the temporary directory,
# OUTREACH_TEST_PG (a server URL, as in tests/e2e/run.sh): the store is a
# fresh database on that server (diskfull is skipped there); CRASH_PG=1
# runs the variants once more on a throwaway cluster (tests/pgtmp.sh).
#
# The sinks: Postfix's smtp-sink (-d: one file per mail transaction; the send
# id is in the Message-ID the worker gives each email) behind the smtp
# transport, and tests/e2e/httpd.py (a log line per request, the send id in
# the body and in X-Request-Id) behind the http transport. Both answer at
# once except as configured below, on free loopback ports.
#
# Output: one line per variant, e.g.
#   ok - kill: 200 kills, 6000 sends, 1003 duplicates (max 20 per kill, ...), lost 0
# then the JSON numbers; exit 1 when any variant failed.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
O="${OUTREACH_BIN:-$ROOT/build/outreach}"
PY=/usr/bin/python3
CP="$ROOT/tests/crash/crash.py"
HTTPD="$ROOT/tests/e2e/httpd.py"
N=${CRASH_N:-3000}
KILLS=${CRASH_KILLS:-200}
CYCLES=${CRASH_CYCLES:-3}
WORKERS=${CRASH_WORKERS:-1}
SEED=${CRASH_SEED:-$$}
export OUTREACH_SECRET=crash-test-secret
unset OUTREACH_CONFIG OUTREACH_STORE
# the transports' connections (smtp concurrency 4 + http concurrency 8, as
# configured below, in each worker): the issue's aim for one kill
CRASH_CONNS=$((12 * WORKERS))
CRASH_STRICT=${CRASH_STRICT:-1}
export CRASH_CONNS CRASH_STRICT

[ -x "$O" ] || { echo "not ok - $O is missing: run make"; exit 1; }
command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ] ||
	{ echo "not ok - smtp-sink is missing (postfix; make deps)"; exit 1; }
PATH=$PATH:/usr/sbin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/outreach-crash.XXXXXX") || exit 1
chmod 755 "$WORK" # smtp-sink runs as nobody and writes below it
PIDS=
MNT=

cleanup() {
	# shellcheck disable=SC2086
	[ -z "$PIDS" ] || kill -KILL $PIDS 2>/dev/null
	[ -z "$MNT" ] || umount "$MNT" 2>/dev/null
	[ -z "${PGDIR:-}" ] || sh "$ROOT/tests/pgtmp.sh" stop "$PGDIR"
	if [ -n "${KEEP:-}" ]; then echo "# kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---------------------------------------------------------------- helpers

on_pg() { [ -n "${OUTREACH_TEST_PG:-}" ]; }

# fail WHY - end the variant (a subshell) as failed
fail() {
	printf '%s\n' "$*" >"$T/why"
	exit 1
}

# q SQL - one query on the store, rows as a|b|c
q() {
	if on_pg; then
		psql -X -q -At -v ON_ERROR_STOP=1 "$OUTREACH_STORE" -c "$1"
	else
		sqlite3 "$DB" "$1"
	fi
}

# rand LO HI - a pseudo-random integer in [LO, HI] (an LCG seeded by SEED)
rand() {
	SEED=$(((SEED * 1103515245 + 12345) % 2147483648))
	R=$(($1 + (SEED / 65536) % ($2 - $1 + 1)))
}

# ms N - sleep N milliseconds
ms() {
	sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"
}

# track PID - remember a sink's PID, to be killed when the variant ends
track() {
	PIDS="$PIDS $1"
}

# sinks HANG - start the email and the sms sink; HANG: the sms sink's
# delay before each answer (s)
sinks() {
	mkdir -p "$T/mail" "$T/http"
	chmod 777 "$T/mail"
	SMTP_PORT=$("$PY" "$CP" port)
	# %H%M%S. plus smtp-sink's random suffix: one file per transaction
	smtp-sink -u nobody -d "$T/mail/%H%M%S." "127.0.0.1:$SMTP_PORT" 256 2>"$T/smtp-sink.err" &
	track $!
	printf '[{"path": "/v1/send", "hang": %s}]\n' "$1" >"$T/http/script.json"
	"$PY" "$HTTPD" --port-file "$T/http/port" --log "$T/http/log" \
		--script "$T/http/script.json" 2>"$T/http/err" &
	track $!
	i=0
	while [ ! -s "$T/http/port" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -s "$T/http/port" ] || fail "httpd.py did not start: $(cat "$T/http/err")"
	HTTP_PORT=$(cat "$T/http/port")
	touch "$T/http/log"
	i=0
	until "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$SMTP_PORT" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 50 ] || fail "smtp-sink did not start: $(cat "$T/smtp-sink.err")"
		sleep 0.1
	done
}

# setup RATE - the config (two campaigns on one signup event: `mail` by
# email over smtp, `text` by sms over http; each transport paced at RATE/s
# so that the campaign spans the kills), the store, N contacts and their
# signups a minute ago (the wall clock acts on them)
setup() {
	if on_pg; then
		OUTREACH_STORE="${OUTREACH_TEST_PG%/*}/crash_$(basename "$T" | tr -c 'a-z0-9\n' _)_$$"
		export OUTREACH_STORE
		psql -X -q "${OUTREACH_TEST_PG%/*}/postgres" -c "DROP DATABASE IF EXISTS ${OUTREACH_STORE##*/}" \
			-c "CREATE DATABASE ${OUTREACH_STORE##*/}" >/dev/null 2>"$T/createdb.err" ||
			fail "cannot create the database: $(cat "$T/createdb.err")"
	fi
	burst=$(($1 / 5 + 1))
	cat >"$T/o.yaml" <<EOF
store: $DB
templates: $ROOT/tests/crash/templates
timezone: UTC
tracking:
  base_url: http://127.0.0.1:8080
  secret_env: OUTREACH_SECRET
transports:
  email:
    kind: smtp
    host: 127.0.0.1
    port: $SMTP_PORT
    tls: none
    from: "Crash Test <crash@example.com>"
    timeout: 5s
    concurrency: 4
    per_session: 100
    rate: $1/s
    burst: $burst
  sms:
    kind: http
    url: http://127.0.0.1:$HTTP_PORT/v1/send
    headers: {X-Request-Id: "{{send_id}}"}
    body: '{"to": {{json to}}, "send": {{send_id}}}'
    timeout: 5s
    concurrency: 8
    rate: $1/s
    burst: $burst
campaigns:
  mail:
    class: transactional
    trigger: {event: signup}
    steps:
      - {after: 0h, channels: [email], template: crash}
  text:
    class: transactional
    trigger: {event: signup}
    steps:
      - {after: 0h, channels: [sms], template: crash}
EOF
	at=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)
	"$PY" "$CP" people "$N" "$at" "$T/people.csv" "$T/signups.jsonl" || fail "cannot write the contacts"
	for c in init "contacts import $T/people.csv" "events import $T/signups.jsonl"; do
		# shellcheck disable=SC2086
		"$O" -c "$T/o.yaml" $c >"$T/setup.out" 2>&1 || fail "outreach $c: $(tail -n 2 "$T/setup.out" | tr '\n' ' ')"
	done
	: >"$T/kills"
	: >"$T/starts"
	: >"$T/seen"
}

# start - a `run` in a process group of its own (RUN: its pid), so that a
# kill takes the supervisor and every child at once, as a crash would
start() {
	if [ "$WORKERS" = 1 ]; then
		setsid "$O" -c "$T/o.yaml" run >>"$T/run.log" 2>&1 &
	else
		setsid "$O" -c "$T/o.yaml" run --workers "$WORKERS" >>"$T/run.log" 2>&1 &
	fi
	RUN=$!
}

# dead K - after kill K: each worker pid the run registered, with the sends
# it held 'sending' when it died, appended to $T/kills as K|PID|CLAIMS
dead() {
	q "SELECT w.pid, COUNT(s.id) FROM workers w LEFT JOIN sends s ON s.owner = w.id AND s.state = 'sending' GROUP BY w.pid" >"$T/w.now" ||
		fail "cannot read the workers after kill $1"
	while IFS='|' read -r pid n; do
		grep -qx "$pid" "$T/seen" && continue
		echo "$pid" >>"$T/seen"
		echo "$1|$pid|$n" >>"$T/kills"
	done <"$T/w.now"
}

# stop_clean WHAT - SIGTERM to the run, which must exit 0 within 15 s
stop_clean() {
	t0=$(date +%s%3N)
	kill -TERM "$RUN" 2>/dev/null
	i=0
	while kill -0 "$RUN" 2>/dev/null && [ $i -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$RUN" 2>/dev/null; then
		kill -KILL "-$RUN" 2>/dev/null
		fail "$1: the worker was still running 15 s after SIGTERM: $(tail -n 2 "$T/run.log" | tr '\n' ' ')"
	fi
	wait "$RUN"
	rc=$?
	RUN=
	echo $(($(date +%s%3N) - t0)) >>"$T/stop_ms"
	[ "$rc" = 0 ] || fail "$1: the worker exited $rc after SIGTERM, want 0: $(tail -n 2 "$T/run.log" | tr '\n' ' ')"
	# a clean stop gives back every claim: nothing waits for a lease
	sg=$(q "SELECT COUNT(*) FROM sends WHERE state = 'sending'")
	[ "$sg" = 0 ] || fail "$1: $sg sends left 'sending' after a clean stop (owners: $(q "SELECT DISTINCT owner FROM sends WHERE state = 'sending'" | tr '\n' ' '))"
}

FINAL="'sent', 'failed', 'suppressed', 'expired', 'cancelled'"

# finish SECONDS - run until every send is final, then SIGTERM (exit 0);
# the pacing is lifted for this last run: it only completes the campaign
finish() {
	sed -i 's|^    rate: .*|    rate: 100000/s|; s|^    burst: .*|    burst: 100000|' "$T/o.yaml"
	start
	i=0
	while [ "$(q "SELECT COUNT(*) FROM sends WHERE state IN ($FINAL)")" != $((2 * N)) ] && [ $i -lt $(($1 * 5)) ]; do
		sleep 0.2
		i=$((i + 1))
	done
	stop_clean "the final run"
	left=$(q "SELECT state, COUNT(*) FROM sends WHERE state NOT IN ($FINAL) GROUP BY state" | tr '\n' ' ')
	[ -z "$left" ] || fail "after the final run ($1 s): $left"
	sg=$(q "SELECT COUNT(*) FROM sends WHERE state = 'sending'")
	[ "$sg" = 0 ] || fail "$sg sends left 'sending' after a clean stop"
}

# verdict VARIANT MODE WHAT - check, print the line (WHAT: what was done)
verdict() {
	sleep 0.3 # the last sink writes land
	q "SELECT id, contact_id, campaign, state FROM sends" >"$T/sends" || fail "cannot read the sends"
	q "SELECT send_id, reason FROM send_log WHERE reason LIKE '%died; claim released%'" |
		sed 's/^\([0-9]*\)|.*(pid \([0-9]*\)).*/\1|\2/' >"$T/releases" || fail "cannot read send_log"
	"$PY" "$CP" check "$N" "$T/sends" "$T/releases" "$T/kills" "$T/starts" "$T/http/log" "$T/mail" "$2" \
		>"$T/result" 2>"$T/check.err" || fail "$(tail -n 1 "$T/check.err")"
	"$PY" - "$1" "$3" "$T/result" >"$T/line" <<'EOF' || fail "cannot read the result"
import json, sys
r = json.load(open(sys.argv[3]))
if r["kills_seen"]:
    print("%s: %s, %d sends, %d duplicates (max %d per kill, %d kills with any, "
          "%d over the %d connections; claims at a kill: max %d, mean %s), lost %d"
          % (sys.argv[1], sys.argv[2], r["sends"], r["duplicates"], r["dup_max_per_kill"],
             r["kills_with_dups"], r["kills_over_connections"], r["connections"],
             r["claims_max_at_kill"], r["claims_mean_at_kill"], r["lost"]))
else:
    print("%s: %s, %d sends, %d duplicates, nothing left 'sending', lost %d"
          % (sys.argv[1], sys.argv[2], r["sends"], r["duplicates"], r["lost"]))
EOF
}

# ---------------------------------------------------------------- variants

# kill: SIGKILL at random points, hundreds of times; the campaign is paced
# to last about as long as the kills (mean delay 225 ms + a restart)
v_kill() {
	sinks 0.02
	setup $((N * 10 / (KILLS * 3) + 1))
	kill_loop "$KILLS"
	verdict kill kill "$KILLS kills"
}

# flood: the same with nothing paced (the sms sink answers after 50 ms):
# every kill lands with whole transport batches in flight, the worst case
# of the window; a tenth as many kills, the campaign is over in seconds
v_flood() {
	sinks 0.05
	setup 100000
	kill_loop $((KILLS / 10 + 1))
	verdict flood kill "$((KILLS / 10 + 1)) kills"
}

# kill_loop K - start the worker and SIGKILL its process group after
# 50-400 ms, K times; then run it to the end
kill_loop() {
	k=0
	while [ $k -lt "$1" ]; do
		k=$((k + 1))
		echo "$k|$(date +%s%3N)" >>"$T/starts"
		start
		rand 50 400
		ms "$R"
		kill -KILL "-$RUN" 2>/dev/null
		wait "$RUN" 2>/dev/null
		RUN=
		dead $k
	done
	finish 120
	dead final
	sed -i '/^final|/d' "$T/kills"
}

# term: SIGTERM at random points; every stop is clean
v_term() {
	stops=$((KILLS / 4 + 1))
	rate=$((N * 10 / (stops * 5) + 1))
	sinks 0.05
	setup "$rate"
	k=0
	while [ $k -lt $stops ]; do
		k=$((k + 1))
		start
		rand 50 400
		ms "$R"
		stop_clean "SIGTERM $k"
	done
	finish 120
	verdict term clean "$stops SIGTERMs (slowest exit $(sort -n "$T/stop_ms" | tail -n 1) ms)"
}

# disk_fill - fill the store's file system to the last byte
disk_fill() {
	dd if=/dev/zero of="$MNT/fill" bs=65536 2>/dev/null
	dd if=/dev/zero of="$MNT/fill2" bs=512 2>/dev/null
	:
}

# diskfull: the store's tmpfs is filled until the worker meets it (a store
# call fails "full"), kept full 2 s more, then freed: the worker must
# resume recording within 10 s; CRASH_CYCLES times, no kill
v_diskfull() {
	on_pg && { echo "skip" >"$T/skip"; return 0; }
	MNT="$T/disk"
	mkdir -p "$MNT"
	mount -t tmpfs -o size=64m tmpfs "$MNT" 2>"$T/mount.err" ||
		fail "cannot mount a tmpfs for the store (root needed): $(cat "$T/mount.err")"
	echo "$MNT" >"$T/mnt"
	DB="$MNT/o.db"
	rate=$((N / (CYCLES * 8 + 3) + 1))
	sinks 0.02
	setup "$rate"
	start
	sleep 1
	c=0
	while [ $c -lt "$CYCLES" ]; do
		c=$((c + 1))
		before=$(grep -c ' full: ' "$T/run.log")
		disk_fill
		# full until the worker has met it (its WAL may have room left
		# for a while), and 2 s more
		i=0
		while [ "$(grep -c ' full: ' "$T/run.log")" = "$before" ] && [ $i -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		[ "$(grep -c ' full: ' "$T/run.log")" != "$before" ] ||
			fail "cycle $c: the worker did not meet the full disk within 30 s: $(tail -n 1 "$T/run.log")"
		sleep 2
		rm -f "$MNT/fill" "$MNT/fill2"
		kill -0 "$RUN" 2>/dev/null || fail "the worker died while the disk was full: $(tail -n 2 "$T/run.log" | tr '\n' ' ')"
		# it resumes once there is room: a send is recorded sent
		s0=$(q "SELECT COUNT(*) FROM sends WHERE state = 'sent'")
		i=0
		while [ "$(q "SELECT COUNT(*) FROM sends WHERE state = 'sent'")" = "$s0" ] && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		[ $i -lt 100 ] || fail "cycle $c: nothing recorded sent within 10 s of freeing the disk"
		sleep 1
	done
	stop_clean "SIGTERM after the disk-full cycles"
	finish 120
	verdict diskfull clean "$CYCLES disk-full cycles"
	sqlite3 "$DB" "PRAGMA integrity_check" >"$T/integrity" 2>&1
	[ "$(cat "$T/integrity")" = ok ] || fail "the store is corrupt: $(head -n 3 "$T/integrity" | tr '\n' ' ')"
}

# locked: another process holds the store's write lock for 7 s (longer
# than SQLite's 5 s busy timeout), then lets go for 2 s, over and over
v_locked() {
	rate=$((N / (CYCLES * 9 + 3) + 1))
	sinks 0.02
	setup "$rate"
	start
	sleep 1
	c=0
	while [ $c -lt "$CYCLES" ]; do
		c=$((c + 1))
		if on_pg; then
			psql -X -q "$OUTREACH_STORE" -c "BEGIN; LOCK TABLE sends IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(7); COMMIT" \
				>/dev/null 2>"$T/lock.err" || fail "cannot lock the store: $(cat "$T/lock.err")"
		else
			"$PY" -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
time.sleep(7)
c.execute("ROLLBACK")
' "$DB" 2>"$T/lock.err" || fail "cannot hold the store's lock: $(cat "$T/lock.err")"
		fi
		kill -0 "$RUN" 2>/dev/null || fail "the worker died while the store was locked: $(tail -n 2 "$T/run.log" | tr '\n' ' ')"
		sleep 2
	done
	on_pg || grep -q "trying again\|outcomes kept" "$T/run.log" ||
		fail "the worker never noticed the lock: $(tail -n 2 "$T/run.log" | tr '\n' ' ')"
	stop_clean "SIGTERM after the locked cycles"
	finish 120
	verdict locked clean "$CYCLES lock cycles"
}

# ---------------------------------------------------------------- driver

# variants VARIANT... - run each on the store at hand, one line each
variants() {
	store=sqlite
	on_pg && store=postgresql
	for v in "$@"; do
		T="$WORK/$store-$v"
		mkdir -p "$T"
		DB="$T/o.db"
		start_s=$(date +%s)
		(
			PIDS= # the sinks
			RUN=  # the worker's process group while it runs
			trap '[ -z "$PIDS" ] || kill -KILL $PIDS 2>/dev/null; [ -z "$RUN" ] || kill -KILL "-$RUN" 2>/dev/null; [ ! -s "$T/mnt" ] || umount "$(cat "$T/mnt")" 2>/dev/null' EXIT
			"v_$v"
		) >"$T/log" 2>&1
		rc=$?
		took=$(($(date +%s) - start_s))
		if [ -s "$T/skip" ]; then
			echo "skip - $v ($store): not on this store"
		elif [ $rc = 0 ] && [ -s "$T/line" ]; then
			echo "ok - $(cat "$T/line") [$store, ${took}s]"
			echo "# $(cat "$T/result")"
		else
			why=$(cat "$T/why" 2>/dev/null)
			[ -n "$why" ] || why="exit $rc: $(tail -n 2 "$T/log" | tr '\n' ' ')"
			echo "not ok - $v ($store): $why [${took}s]"
			failed=1
		fi
	done
}

[ $# -gt 0 ] || set -- kill flood term diskfull locked
failed=0
variants "$@"
# CRASH_PG=1: the same again on a throwaway PostgreSQL cluster
if [ -n "${CRASH_PG:-}" ] && ! on_pg; then
	PGDIR="$WORK/pg"
	if url=$(sh "$ROOT/tests/pgtmp.sh" start "$PGDIR" 2>"$WORK/pg.err"); then
		OUTREACH_TEST_PG="${url}postgres"
		export OUTREACH_TEST_PG
		variants "$@"
	else
		echo "not ok - postgresql: $(cat "$WORK/pg.err")"
		failed=1
	fi
fi
exit $failed
