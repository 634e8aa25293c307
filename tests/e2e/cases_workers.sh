# tests/e2e/cases_workers.sh - `run --workers N` and several `run` processes on
# one store: every send delivered exactly once, the aggregate rate limit
# holds across the workers, a killed worker is restarted and its claims are
# taken over, SIGTERM drains every child, bad N is refused.
#
# Sourced by tests/e2e/run.sh. The sink is tests/e2e/httpd.py (a real HTTP
# server on a free loopback port) behind the http transport: it logs every
# request it receives, so a send delivered twice shows as two requests for
# one phone. Each phone +1212555NNNN is contact pNNNN. The store is queried
# only as `sqlite3 "$T/o.db" "SQL"` with portable SQL, so that the same
# cases can run on PostgreSQL by replacing that command.

# wk_cleanup - kill what a case started (sink, supervisor, workers)
wk_cleanup() {
	# shellcheck disable=SC2086
	[ -z "${WK_PIDS:-}" ] || kill -KILL $WK_PIDS 2>/dev/null
}

# wk_bg PID - remember PID to be killed when the case ends
wk_bg() {
	WK_PIDS="${WK_PIDS:-} $1"
	trap wk_cleanup EXIT
}

# wk_sink [SCRIPT] - start httpd.py with SCRIPT (its JSON rules, default
# none: 200 at once) through cases_http.sh's http_start (files in
# $T/httpd); sets WK_PORT
wk_sink() {
	http_start "${1:-[]}"
	wk_bg "$HPID"
	WK_PORT=$HP
}

# wk_cfg [RATE_LINES] - $T/o.yaml: transport sms of kind http to the sink,
# campaign bulk: one sms per signup
wk_cfg() {
	cat >"$T/o.yaml" <<EOF
store: $T/o.db
templates: $DATA/templates
timezone: Asia/Shanghai
tracking:
  base_url: http://127.0.0.1:8080
  secret_env: OUTREACH_SECRET
transports:
  sms:
    kind: http
    url: http://127.0.0.1:$WK_PORT/v1/send
    body: '{"to": {{json to}}, "send": {{send_id}}}'
${1:-}
policies:
  caps:
    all: {min_gap: 1h}
campaigns:
  bulk:
    class: transactional
    trigger: {event: signup}
    steps:
      - {after: 0h, channels: [sms], template: mkt}
EOF
}

# wk_people N AT - init, contacts p0001..pN and a signup for each at AT
wk_people() {
	ok_o init
	"$PY" -c '
import json, sys
n, at = int(sys.argv[1]), sys.argv[2]
with open(sys.argv[3], "w") as c, open(sys.argv[4], "w") as e:
    c.write("id,name,email,phone,timezone,locale\n")
    for i in range(1, n + 1):
        c.write("p%04d,User %04d,u%04d@example.com,+1212555%04d,America/New_York,en\n" % (i, i, i, i))
        e.write(json.dumps({"id": "s%04d" % i, "contact": "p%04d" % i, "type": "signup", "at": at}) + "\n")
' "$1" "$2" "$T/people.csv" "$T/signups.jsonl" || fail "could not write the contacts"
	ok_o contacts import "$T/people.csv"
	ok_o events import "$T/signups.jsonl"
}

# wk_q SQL - one query on the store
wk_q() {
	sqlite3 "$T/o.db" "$1"
}

# wk_sink_check N [ALLOWED_DUP_SENDS] - the sink got one request for each of
# p0001..pN and nothing else; a send id in ALLOWED_DUP_SENDS (space
# separated) may have come twice (at-least-once across a kill -9)
wk_sink_check() {
	"$PY" -c '
import collections, json, sys
n = int(sys.argv[2])
allowed = set(int(x) for x in sys.argv[3].split())
L = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
bodies = [json.loads(r["body"]) for r in L]
by_to = collections.Counter(b["to"] for b in bodies)
want = set("+1212555%04d" % i for i in range(1, n + 1))
lost = sorted(want - set(by_to))
extra = sorted(set(by_to) - want)
assert not lost, "%d contacts never reached the sink, e.g. %s" % (len(lost), lost[:3])
assert not extra, "unknown recipients at the sink: %s" % extra[:3]
twice = {to: c for to, c in by_to.items() if c > 1}
sends = collections.defaultdict(set)
for b in bodies:
    sends[b["to"]].add(b["send"])
assert all(len(s) == 1 for s in sends.values()), "a contact got two different sends"
bad = [to for to in twice if not (sends[to] & allowed)]
assert not bad, "%d contacts got the message more than once, e.g. %s x%d" % (len(bad), bad[0], twice[bad[0]])
print(len(L) - n)
' "$T/httpd/log" "$1" "${2:-}" >"$T/httpd/check" 2>"$T/httpd/check.err" ||
		fail "sink: $(tail -n 1 "$T/httpd/check.err")"
}

# wk_store_check N - every one of the N sends is sent, with one attempt
wk_store_check() {
	s=$(wk_q "SELECT COUNT(*) FROM sends WHERE state = 'sent'")
	[ "$s" = "$1" ] || fail "$s sends sent, want $1: $(wk_q "SELECT state, COUNT(*) FROM sends GROUP BY state" | tr '\n' ' ')"
	a=$(wk_q "SELECT COUNT(*) FROM attempts")
	[ "$a" = "$1" ] || fail "$a delivery attempts recorded for $1 sends"
	d=$(wk_q "SELECT COUNT(*) FROM (SELECT send_id FROM attempts GROUP BY send_id HAVING COUNT(*) > 1) x")
	[ "$d" = 0 ] || fail "$d sends have more than one recorded attempt"
}

# wk_rate_check RATE BURST - the aggregate token bucket (RATE/s, BURST,
# shared by every worker) held:
# - the whole run at the sink lasts at least (N - BURST)/RATE;
# - in the store, the sends that passed the policies (passed_at, set when a
#   send takes its token; it needs a cap in the config) in any one second
#   are at most RATE + BURST (+2 for a token taken a few ms after the second
#   its `now` was read in);
# - at the sink, k requests within d seconds are at most
#   BURST + RATE*(d + 1): a token is taken when the worker hands the send to
#   the transport's queue, and the request may reach the wire up to a second
#   later (queue, batch, connection), so arrivals bunch by that much
wk_rate_check() {
	"$PY" -c '
import json, sys
rate, burst = float(sys.argv[2]), float(sys.argv[3])
t = sorted(json.loads(l)["t"] for l in open(sys.argv[1], encoding="utf-8") if l.strip())
n = len(t)
need = (n - burst) / rate
took = t[-1] - t[0]
assert took >= need - 0.1, "%d sends in %.2f s: the rate %g/s burst %g allows no less than %.2f s" % (n, took, rate, burst, need)
for j in range(n):
    for i in range(j):
        if j - i + 1 > burst + rate * (t[j] - t[i] + 1.0):
            raise AssertionError("%d requests within %.3f s: more than burst %g + %g/s allows" % (j - i + 1, t[j] - t[i], burst, rate))
print("%.2f" % took)
' "$T/httpd/log" "$1" "$2" >"$T/httpd/rate" 2>"$T/httpd/rate.err" || fail "rate: $(tail -n 1 "$T/httpd/rate.err")"
	p=$(wk_q "SELECT COUNT(*) FROM sends WHERE passed_at IS NULL")
	[ "$p" = 0 ] || fail "$p sends have no passed_at (the config needs a cap)"
	m=$(wk_q "SELECT MAX(c) FROM (SELECT passed_at, COUNT(*) AS c FROM sends GROUP BY passed_at) x")
	[ "$m" -le $(($1 + $2 + 2)) ] || fail "$m sends passed the rate limit in one second, more than rate $1 + burst $2"
}

# wk_wait_sent N SECONDS - wait until N sends are sent; fail after SECONDS
wk_wait_sent() {
	i=0
	while [ "$(wk_q "SELECT COUNT(*) FROM sends WHERE state = 'sent'")" -lt "$1" ] && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	s=$(wk_q "SELECT COUNT(*) FROM sends WHERE state = 'sent'")
	[ "$s" -ge "$1" ] || fail "after $2 s only $s of $1 sends are sent: $(tail -n 2 "$T/d.err" 2>/dev/null | tr '\n' ' ')"
}

# wk_stop PID WHAT - SIGTERM to PID, which must exit 0 within 10 s
wk_stop() {
	term_stop "$1" 10 "$2"
}

# wk_recent - an RFC 3339 instant a minute ago (events the wall clock acts on)
wk_recent() {
	date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ
}

# 1. run --workers 4 --once on 1,000 sends: every contact gets its message
# exactly once, four distinct worker processes did it, the supervisor
# exits 0 with the sum of the children's totals
c_workers_once() {
	wk_sink
	wk_cfg
	wk_people 1000 2026-03-01T09:00:00Z
	"$O" -c "$T/o.yaml" run --workers 4 --once --now "$NOW" >"$T/out" 2>"$T/err" &
	sup=$!
	wk_bg $sup
	wait $sup
	rc=$?
	[ "$rc" = 0 ] || fail "run --workers 4 --once exited $rc: $(tail -n 3 "$T/err" | tr '\n' ' ')"
	wk_sink_check 1000
	wk_store_check 1000
	w=$(wk_q "SELECT COUNT(DISTINCT pid) FROM workers")
	[ "$w" = 4 ] || fail "$w worker processes registered, want 4: $(wk_q "SELECT id FROM workers" | tr '\n' ' ')"
	[ "$(wk_q "SELECT COUNT(DISTINCT id) FROM workers")" = 4 ] || fail "the workers do not have distinct ids"
	[ "$(wk_q "SELECT COUNT(*) FROM workers WHERE pid = $sup")" = 0 ] || fail "the supervisor ran as a worker"
	[ "$(wk_q "SELECT COUNT(*) FROM workers WHERE stopped = 0")" = 0 ] || fail "workers still registered as running"
	total=0
	n=0
	for s in $(sed -n 's/.*done: \([0-9]*\) sent.*held by policies$/\1/p' "$T/err"); do
		total=$((total + s))
		n=$((n + 1))
	done
	[ "$n" = 4 ] || fail "$n child 'done:' lines, want 4: $(grep done "$T/err" | tr '\n' ' ')"
	[ "$total" = 1000 ] || fail "the children report $total sent in all, want 1000"
	last=$(tail -n 1 "$T/err")
	case "$last" in *"done: 1000 sent"*"(4 workers)"*) ;; *) fail "the supervisor's last line does not sum the children: '$last'" ;; esac
	# a second run finds nothing to do
	ok_o run --workers 4 --once --now "$NOW"
	[ "$(wc -l <"$T/httpd/log")" = 1000 ] || fail "a second run --workers 4 --once sent again"
}

# 2. the aggregate rate limit holds over run --workers 4 (wall clock): 1,000
# sends at 200/s with a burst of 200 take at least 4 s, each exactly once;
# SIGTERM then stops the supervisor and every child with exit 0
c_workers_rate() {
	wk_sink
	wk_cfg '    rate: 200/s
    burst: 200'
	wk_people 1000 "$(wk_recent)"
	"$O" -c "$T/o.yaml" run --workers 4 >"$T/d.out" 2>"$T/d.err" &
	sup=$!
	wk_bg $sup
	wk_wait_sent 1000 15
	sleep 0.3
	kill -0 $sup 2>/dev/null || fail "the supervisor exited by itself without --once: $(tail -n 2 "$T/d.err" | tr '\n' ' ')"
	wk_stop $sup "run --workers 4"
	wk_sink_check 1000
	wk_store_check 1000
	wk_rate_check 200 200
	[ "$(wk_q "SELECT COUNT(DISTINCT pid) FROM workers")" = 4 ] || fail "not 4 worker processes: $(wk_q "SELECT id FROM workers" | tr '\n' ' ')"
	[ "$(wk_q "SELECT COUNT(*) FROM workers WHERE stopped = 0")" = 0 ] || fail "workers still registered as running after SIGTERM"
	[ "$(grep -c 'done:.*stopped by signal' "$T/d.err")" = 5 ] || fail "not every child and the supervisor logged a stop: $(grep done "$T/d.err" | tr '\n' ' ')"
	for p in $(wk_q "SELECT pid FROM workers"); do
		kill -0 "$p" 2>/dev/null && fail "worker pid $p still alive after the supervisor exited"
	done
	:
}

# 3. the same with four independent `run` processes on one store
c_workers_separate() {
	wk_sink
	wk_cfg '    rate: 200/s
    burst: 200'
	wk_people 1000 "$(wk_recent)"
	pids=
	for k in 1 2 3 4; do
		"$O" -c "$T/o.yaml" run >"$T/d$k.out" 2>"$T/d$k.err" &
		wk_bg $!
		pids="$pids $!"
	done
	wk_wait_sent 1000 15
	for p in $pids; do
		wk_stop "$p" "run process $p"
	done
	wk_sink_check 1000
	wk_store_check 1000
	wk_rate_check 200 200
	[ "$(wk_q "SELECT COUNT(DISTINCT pid) FROM workers")" = 4 ] || fail "not 4 worker processes"
}

# 4. kill -9 one child of a running supervisor while it has requests on the
# wire (the sink answers after 0.4 s, so every worker has a full window in
# flight): it is restarted (a new pid registers), the claims it held are
# released at once (its pid is gone), every contact is reached, and only a
# send the killed child had already put on the wire may reach the sink a
# second time (it died before recording it: at-least-once); the store
# records every send once
c_workers_kill() {
	wk_sink '[{"path": "/v1/send", "hang": 0.4}]'
	wk_cfg
	wk_people 400 "$(wk_recent)"
	"$O" -c "$T/o.yaml" run --workers 4 >"$T/d.out" 2>"$T/d.err" &
	sup=$!
	wk_bg $sup
	wk_wait_sent 60 10
	# the worker holding the most claims
	victim=$(wk_q "SELECT w.pid FROM workers w JOIN sends s ON s.owner = w.id WHERE s.state = 'sending' AND w.stopped = 0 GROUP BY w.pid ORDER BY COUNT(*) DESC LIMIT 1")
	[ -n "$victim" ] || fail "no running worker holds a claim: nothing to take over"
	[ "$victim" != "$sup" ] || fail "the supervisor is registered as a worker"
	kill -KILL "$victim" || fail "could not kill worker pid $victim"
	i=0
	while [ "$(wk_q "SELECT COUNT(*) FROM workers")" -lt 5 ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(wk_q "SELECT COUNT(*) FROM workers")" = 5 ] ||
		fail "no new worker registered within 5 s of killing pid $victim: $(tail -n 2 "$T/d.err" | tr '\n' ' ')"
	grep -q "worker pid $victim killed by signal 9 (Killed); restarting in 1 s" "$T/d.err" ||
		fail "the supervisor did not log the death of pid $victim: $(grep -v batch "$T/d.err" | tail -n 3 | tr '\n' ' ')"
	wk_wait_sent 400 15
	wk_stop $sup "run --workers 4 after a kill"
	released=$(wk_q "SELECT DISTINCT send_id FROM send_log WHERE reason LIKE '%(pid $victim) died; claim released%'" | tr '\n' ' ')
	[ -n "$released" ] || fail "no claim of the killed pid $victim was released (send_log)"
	wk_sink_check 400 "$released"
	wk_store_check 400
	[ "$(wk_q "SELECT COUNT(*) FROM sends WHERE state = 'sending'")" = 0 ] || fail "sends left 'sending'"
	kill -0 "$victim" 2>/dev/null && fail "pid $victim is alive"
	:
}

# 5. SIGTERM in the middle of a busy run: the supervisor forwards it, every
# child drains, exit 0, nothing left 'sending'; the next run sends the rest
# and every contact gets exactly one message
c_workers_sigterm() {
	wk_sink
	wk_cfg '    rate: 200/s
    burst: 200'
	wk_people 1000 "$(wk_recent)"
	"$O" -c "$T/o.yaml" run --workers 4 >"$T/d.out" 2>"$T/d.err" &
	sup=$!
	wk_bg $sup
	wk_wait_sent 200 10
	wk_stop $sup "run --workers 4 (busy)"
	grep -q "supervisor: SIGTERM: stopping 4 workers" "$T/d.err" || fail "the supervisor did not log the stop"
	for p in $(wk_q "SELECT pid FROM workers"); do
		kill -0 "$p" 2>/dev/null && fail "worker pid $p still alive after the supervisor exited"
	done
	sg=$(wk_q "SELECT COUNT(*) FROM sends WHERE state = 'sending'")
	[ "$sg" = 0 ] || fail "$sg sends left 'sending' after SIGTERM"
	[ "$(wk_q "SELECT COUNT(*) FROM workers WHERE stopped = 0")" = 0 ] || fail "workers still registered as running"
	first=$(wk_q "SELECT COUNT(*) FROM sends WHERE state = 'sent'")
	[ "$first" -lt 1000 ] || fail "all 1000 were sent before SIGTERM: the stop came too late to test"
	"$O" -c "$T/o.yaml" run --workers 4 >"$T/d.out" 2>"$T/d.err" &
	sup=$!
	wk_bg $sup
	wk_wait_sent 1000 15
	wk_stop $sup "the second run --workers 4"
	wk_sink_check 1000
	wk_store_check 1000
}

# 6. bad --workers values are one-line usage errors (exit 2); --workers 1
# is the plain in-process run; a child that cannot start at all makes the
# supervisor give up
c_workers_bad() {
	wk_sink
	wk_cfg
	for v in 0 -1 x 257 '' 4x 1.5 99999999999999999999; do
		expect_rc 2 run --once --now "$NOW" --workers "$v"
		[ "$(wc -l <"$T/err")" = 1 ] || fail "--workers '$v': not one line: $(cat "$T/err")"
		grep -q -- '--workers' "$T/err" || fail "--workers '$v': the error does not name the option: $(cat "$T/err")"
	done
	expect_rc 2 run --once --workers
	# before init: the supervisor's store check refuses, as a plain run does
	expect_rc 1 run --once --now "$NOW" --workers 4
	grep -qi init "$T/err" || fail "run --workers 4 before init does not say to run init: $(cat "$T/err")"
	grep -q supervisor "$T/err" && fail "the supervisor started before the store check: $(cat "$T/err")"
	wk_people 20 2026-03-01T09:00:00Z
	ok_o run --once --now "$NOW" --workers 1
	grep -q supervisor "$T/err" && fail "--workers 1 started a supervisor: $(cat "$T/err")"
	[ "$(wk_q "SELECT COUNT(*) FROM workers")" = 1 ] || fail "--workers 1 did not run one worker"
	wk_sink_check 20

	# a worker that cannot start (its outbox directory is under a file):
	# with --once each child reports its failure once
	: >"$T/afile"
	cat >"$T/o.yaml" <<EOF
store: $T/o.db
templates: $DATA/templates
timezone: Asia/Shanghai
tracking:
  base_url: http://127.0.0.1:8080
  secret_env: OUTREACH_SECRET
transports:
  sms:
    kind: outbox
    channel: sms
    dir: $T/afile/outbox
campaigns:
  bulk:
    class: transactional
    trigger: {event: signup}
    steps:
      - {after: 0h, channels: [sms], template: mkt}
EOF
	expect_rc 1 run --once --now "$NOW" --workers 2
	[ "$(grep -c 'cannot create directory' "$T/err")" = 2 ] || fail "each of 2 children should report the bad dir once: $(cat "$T/err")"
	grep -q restarting "$T/err" && fail "a --once child that failed was restarted: $(cat "$T/err")"
	# without --once it is restarted with backoff (1, 2, 4, 8 s), then the
	# supervisor gives up: five deaths within 1 s of the start
	start=$(date +%s)
	expect_rc 1 run --workers 2
	took=$(($(date +%s) - start))
	grep -q "giving up" "$T/err" || fail "no giving-up line: $(tail -n 3 "$T/err" | tr '\n' ' ')"
	grep -q "exited with status 1; restarting in 1 s" "$T/err" || fail "no restart line for the first death"
	grep -q "restarting in 8 s" "$T/err" || fail "the backoff did not double to 8 s: $(grep restarting "$T/err" | tr '\n' ' ')"
	[ "$took" -ge 14 ] || fail "gave up after $took s, before the backoff (1+2+4+8 s) ran out"
}

ALL="$ALL c_workers_once c_workers_rate c_workers_separate c_workers_kill c_workers_sigterm c_workers_store_lost
c_workers_bad"

# 7. the store goes away mid-run (SQLite: another process holds the write
# lock for 8 s, longer than the 5 s busy timeout; PostgreSQL: the server is
# stopped for 6 s): the workers keep the outcomes that come back from the
# wire and try again; once the store is back every contact is reached
# exactly once and the store records each send once (the issue: "none
# lost, none sent twice"), and no worker had to be restarted.
c_workers_store_lost() {
	if on_pg && [ -z "${OUTREACH_TEST_PGDIR:-}" ]; then
		return 0 # the server is not ours to stop (tests/pg_test.sh sets it)
	fi
	wk_sink '[{"path": "/v1/send", "hang": 0.5}]'
	wk_cfg
	wk_people 400 "$(wk_recent)"
	"$O" -c "$T/o.yaml" run --workers 4 >"$T/d.out" 2>"$T/d.err" &
	sup=$!
	wk_bg $sup
	wk_wait_sent 40 10
	if on_pg; then
		# the server goes away for 6 s: every session is cut
		sh "$ROOT/tests/pgtmp.sh" pause "$OUTREACH_TEST_PGDIR" 6 2>"$T/lock.err" ||
			fail "could not restart the server: $(cat "$T/lock.err")"
	else
		# another process holds the store's lock for 8 s
		"$PY" -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
time.sleep(8)
c.execute("ROLLBACK")
' "$T/o.db" 2>"$T/lock.err" || fail "could not hold the store's lock: $(cat "$T/lock.err")"
	fi
	# the workers noticed, kept what came back from the wire, and carried on
	# when the store was back: none exited, nothing is sent twice
	grep -q "trying again\|outcomes kept" "$T/d.err" ||
		fail "no worker noticed the store was away: $(grep -v batch "$T/d.err" | tail -n 3 | tr '\n' ' ')"
	kill -0 $sup 2>/dev/null || fail "the supervisor stopped while the store was away: $(tail -n 2 "$T/d.err" | tr '\n' ' ')"
	wk_wait_sent 400 40
	grep -q "restarting" "$T/d.err" && fail "a worker exited while the store was away: $(grep restarting "$T/d.err" | head -n 1)"
	wk_stop $sup "run --workers 4 after the store came back"
	wk_sink_check 400
	wk_store_check 400
}
