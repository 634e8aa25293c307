#!/bin/sh
# tests/bench/bench.sh - `make bench`: outreach beside the bare load
# generators, on local sinks, in one run (issue 7).
#
# What it does: starts Postfix's smtp-sink and a private nginx on loopback
# (free ports, own config and pid files in a temp folder, killed by PID at
# the end; a system nginx is never used or touched), generates BENCH_N
# contacts with one purchase event each, imports them and schedules one
# send each (a campaign step due one hour after the event), then from
# copies of that store measures side by side:
#   smtp     outreach `run --once` over SESSIONS sessions vs smtp-source -s SESSIONS
#   http     outreach kind http (an SMS gateway) vs build/bench/curlblast, HTTP_CONC in flight
#   webhook  outreach kind webhook, flavor generic vs curlblast, the same
#   store    outreach's worker with the stand-in transport (build/bench/storerate)
#            vs build/bench/claimloop (the same claim and record SQL, bare)
#   rss      peak RSS of contacts import, events import, scheduling and each run
#   pg       the smtp run again on a PostgreSQL store, 1 worker and --workers 4
#   scale    time per send for a slice of SLICE sends due now, in a store
#            holding SLICE scheduled sends vs one holding BIG (default 1M),
#            the slice contiguous in the table or spread over it
# Each comparison prints "name: outreach X unit, baseline Y unit, ratio R";
# a markdown table of the results goes to $BENCH_REPORT when set.
#
#   make bench                      BENCH_N=20000 (N= is the old name)
#   BENCH_N=1000000 make bench      the large run
#
# Store access is only through bench_store (the URL of a run's store),
# bench_clone (a copy of one) and bq (one SQL statement): switching them
# is all a PostgreSQL run needs here.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
O="$ROOT/build/outreach"
B="$ROOT/build/bench"
PY=/usr/bin/python3
BENCH_N=${BENCH_N:-${N:-20000}}
SESSIONS=${SESSIONS:-8}
HTTP_CONC=${HTTP_CONC:-32}
BATCH=${BATCH:-100}
SLICE=${SLICE:-10000}
BIG=${BIG:-1000000}
W=$(mktemp -d "${TMPDIR:-/tmp}/outreach-bench.XXXXXX")
PIDS=
PGSTOP=
REPORT=$W/report.md
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	[ -z "$PGSTOP" ] || sh "$ROOT/tests/pgtmp.sh" stop "$PGSTOP"
	if [ -n "${BENCH_KEEP:-}" ]; then echo "bench: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export OUTREACH_SECRET=bench
T_EVENT=2026-03-01T09:00:00Z   # the events; scheduling runs at this time
T_DUE=2026-03-01T10:00:00Z     # the step is due one hour later
T_DUE_EPOCH=$(date -u -d "$T_DUE" +%s)

for f in "$O" "$B/curlblast" "$B/claimloop" "$B/storerate"; do
	[ -x "$f" ] || { echo "bench: $f missing (make bench builds it)" >&2; exit 2; }
done

# ---- the store: the only functions that know it is SQLite
bench_store() { echo "$1/o.db"; }
bench_clone() { mkdir -p "$2" && sqlite3 "$(bench_store "$1")" "VACUUM INTO '$(bench_store "$2")'"; }
bq() { sqlite3 "$(bench_store "$1")" "$2"; }

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# measure OUT CMD... - run CMD, write "SECONDS MAXRSS_KIB" to OUT (wait4)
measure() {
	out=$1
	shift
	"$PY" -c '
import os, sys, time
t = time.monotonic()
p = os.fork()
if p == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, st, ru = os.wait4(p, 0)
open(sys.argv[1], "w").write("%.6f %d\n" % (time.monotonic() - t, ru.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(st))' "$out" "$@"
}
secs() { cut -d' ' -f1 "$1"; }
rss_mib() { awk '{ printf "%.1f", $2 / 1024 }' "$1"; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

row() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" >>"$REPORT"; }
# side NAME OUTREACH BASELINE UNIT [NOTE] - one side-by-side line
side() {
	r=$(ratio "$2" "$3")
	echo "$1: outreach $2 $4, baseline $3 $4, ratio $r${5:+ ($5)}"
	row "$1" "$2 $4" "$3 $4" "$r"
}

printf '| measure | outreach | baseline | ratio |\n|---|---|---|---|\n' >"$REPORT"
echo "bench: BENCH_N=$BENCH_N, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"

# ---- data: BENCH_N contacts, one purchase each, streamed to files
gen_data() { # DIR N PREFIX
	"$PY" - "$@" <<'PYEOF'
import sys, json
w, n, pre = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(w + "/contacts.csv", "w") as f:
    f.write("id,name,email,phone,timezone\n")
    for i in range(n):
        f.write(f"{pre}{i},客户{i},{pre}{i}@example.com,+8613{i:09d},Asia/Shanghai\n")
with open(w + "/events.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"id": f"e{pre}{i}", "contact": f"{pre}{i}", "type": "purchase",
                            "at": "2026-03-01T09:00:00Z", "data": {"amount": 100}}) + "\n")
PYEOF
}
mkdir -p "$W/tpl/thanks"
printf 'Subject: 感谢您的订单，{{name}}\n\n{{name}}，您好：感谢您的订单。\n' >"$W/tpl/thanks/email.txt"
printf '{{name}}，感谢您的订单。\n' >"$W/tpl/thanks/sms.txt"
printf '**{{name}}** 下了一单，金额 {{event.amount}}。\n' >"$W/tpl/thanks/chat.md"

# config DIR TRANSPORT_YAML - a run's config: one campaign, one step
config() {
	cat >"$1/o.yaml" <<EOF
store: $(bench_store "$1")
templates: $W/tpl
transports:
$2
campaigns:
  thanks:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 1h, channels: [t], template: thanks}
EOF
}
OUTBOX="  t:
    kind: outbox
    channel: email
    dir: $W/outbox
    from: \"Acme Care <care@example.com>\""

# prepare DIR N PREFIX - a store with N sends scheduled for T_DUE, as
# outreach writes it: import contacts, import events, run at T_EVENT
prepare() {
	d=$1
	mkdir -p "$d"
	gen_data "$d" "$2" "$3"
	config "$d" "$OUTBOX"
	"$O" -q -c "$d/o.yaml" init >/dev/null || exit 1
	measure "$d/m.contacts" "$O" -q -c "$d/o.yaml" contacts import "$d/contacts.csv" >/dev/null || exit 1
	measure "$d/m.events" "$O" -q -c "$d/o.yaml" events import "$d/events.jsonl" >/dev/null || exit 1
	measure "$d/m.schedule" "$O" -q -c "$d/o.yaml" run --once --now "$T_EVENT" || exit 1
	got=$(bq "$d" "select count(*) from sends where state = 'scheduled'")
	[ "$got" = "$2" ] || { echo "bench: $got of $2 sends scheduled" >&2; exit 1; }
}

prepare "$W/base" "$BENCH_N" c
N=$BENCH_N
for step in contacts events schedule; do
	f="$W/base/m.$step"
	echo "$step ($N): $(rate "$N" "$(secs "$f")") rows/s, peak RSS $(rss_mib "$f") MiB"
	row "$step import/run, $N rows" "$(rate "$N" "$(secs "$f")") rows/s, $(rss_mib "$f") MiB peak RSS" "" ""
done

# deliver NAME TRANSPORT_YAML [RUN_ARGS] - outreach run --once at T_DUE on a copy of
# the base store; sets OUT_RATE (sends recorded sent per second), OUT_RSS
deliver() {
	d="$W/$1"
	bench_clone "$W/base" "$d" || exit 1
	config "$d" "$2"
	shift 2
	measure "$d/m.run" "$O" -q -c "$d/o.yaml" run --once --now "$T_DUE" --batch "$BATCH" "$@" || exit 1
	sent=$(bq "$d" "select count(*) from sends where state = 'sent'")
	[ "$sent" = "$N" ] || echo "$1: only $sent of $N sent: $(bq "$d" "select state, reason from sends where state != 'sent' limit 1")"
	OUT_RATE=$(rate "$sent" "$(secs "$d/m.run")")
	OUT_RSS=$(rss_mib "$d/m.run")
}

# ---- the store: outreach's worker with a stand-in transport vs claimloop
bench_clone "$W/base" "$W/claim" || exit 1
cl=$("$B/claimloop" -d "$(bench_store "$W/claim")" -t "$T_DUE_EPOCH" -b "$BATCH") || exit 1
bench_clone "$W/base" "$W/srate" || exit 1
config "$W/srate" "$OUTBOX"
sr=$("$B/storerate" -c "$W/srate/o.yaml" -t "$T_DUE_EPOCH" -b "$BATCH") || exit 1
side "store claim+record" "$(echo "$sr" | sed 's/.*: \([0-9]*\) sends\/s.*/\1/')" \
	"$(echo "$cl" | sed 's/.*: \([0-9]*\) sends\/s.*/\1/')" "sends/s" "batch $BATCH; outreach also renders"

# ---- SMTP: smtp-sink, smtp-source vs outreach over the same sessions
port=$(free_port)
/usr/sbin/smtp-sink -u nobody 127.0.0.1:$port 1024 &
PIDS="$PIDS $!"
sleep 0.3
measure "$W/m.smtp-source" /usr/sbin/smtp-source -s "$SESSIONS" -m "$N" -f a@example.com \
	-t b@example.com 127.0.0.1:$port >/dev/null || exit 1
base=$(rate "$N" "$(secs "$W/m.smtp-source")")
deliver smtp "  t:
    kind: smtp
    host: 127.0.0.1
    port: $port
    tls: none
    from: \"Acme Care <care@example.com>\"
    concurrency: $SESSIONS
    per_session: 100"
side "smtp ($SESSIONS sessions)" "$OUT_RATE" "$base" "msg/s"
SMTP_RSS=$OUT_RSS
SMTP_RATE=$OUT_RATE
deliver smtp4 "  t:
    kind: smtp
    host: 127.0.0.1
    port: $port
    tls: none
    from: \"Acme Care <care@example.com>\"
    concurrency: $SESSIONS
    per_session: 100" --workers 4
side "smtp, --workers 4 x $SESSIONS sessions" "$OUT_RATE" "$base" "msg/s" "SQLite: one writer at a time"

# ---- HTTP: a private nginx answering 200 to everything
hport=$(free_port)
mkdir -p "$W/nginx/tmp"
cat >"$W/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $W/nginx/tmp/body;
    proxy_temp_path $W/nginx/tmp/proxy;
    fastcgi_temp_path $W/nginx/tmp/fastcgi;
    uwsgi_temp_path $W/nginx/tmp/uwsgi;
    scgi_temp_path $W/nginx/tmp/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$hport;
        location / { default_type application/json; return 200 '{"ok":true}'; }
    }
}
EOF
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -c "$W/nginx/nginx.conf" -p "$W/nginx" -g 'daemon off;' 2>"$W/nginx/stderr" &
PIDS="$PIDS $!"
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$hport/" 2>/dev/null && break
	sleep 0.1
done
# the body outreach sends for contact 0, so that curlblast posts as much
blen=$("$PY" -c 'import json; print(len(("{\"to\": %s, \"text\": %s}" % (json.dumps("+8613000000000"), json.dumps("客户0，感谢您的订单。\n"))).encode()))')
cb=$("$B/curlblast" -u "http://127.0.0.1:$hport/sms" -c "$HTTP_CONC" -n "$N" -b "$blen") || exit 1
cbr=$(echo "$cb" | sed 's/.*: \([0-9]*\) requests\/s.*/\1/')
deliver http "  t:
    kind: http
    url: http://127.0.0.1:$hport/sms
    concurrency: $HTTP_CONC"
side "http sms gateway ($HTTP_CONC in flight)" "$OUT_RATE" "$cbr" "req/s" "curlblast body $blen bytes"
HTTP_RSS=$OUT_RSS
cb=$("$B/curlblast" -u "http://127.0.0.1:$hport/hook" -c "$HTTP_CONC" -n "$N" -b 200) || exit 1
cbr=$(echo "$cb" | sed 's/.*: \([0-9]*\) requests\/s.*/\1/')
deliver webhook "  t:
    kind: webhook
    flavor: generic
    url: http://127.0.0.1:$hport/hook
    concurrency: $HTTP_CONC"
side "webhook generic ($HTTP_CONC in flight)" "$OUT_RATE" "$cbr" "req/s" "curlblast body 200 bytes"
HOOK_RSS=$OUT_RSS

# ---- the same smtp run on a PostgreSQL store (a throwaway cluster on a
# loopback port, fsync off as in any test cluster): one worker, then
# `--workers 4`, each on a fresh copy (CREATE DATABASE ... TEMPLATE) of
# a store outreach filled itself; the baseline is the SQLite run above.
# BENCH_PG=0 skips it.
if [ "${BENCH_PG:-1}" != 0 ]; then
	PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/outreach-benchpg.XXXXXX") # not in $W: postgres owns it
	if pgurl=$(sh "$ROOT/tests/pgtmp.sh" start "$PGDIR"); then
		PGSTOP="$PGDIR"
		pq() { psql -X -q -At "$1" -c "$2"; }
		pq "${pgurl}postgres" "CREATE DATABASE pgbase" || exit 1
		d="$W/pgbase"
		mkdir -p "$d"
		config "$d" "$OUTBOX"
		export OUTREACH_STORE="${pgurl}pgbase"
		"$O" -q -c "$d/o.yaml" init >/dev/null || exit 1
		measure "$d/m.contacts" "$O" -q -c "$d/o.yaml" contacts import "$W/base/contacts.csv" >/dev/null || exit 1
		measure "$d/m.events" "$O" -q -c "$d/o.yaml" events import "$W/base/events.jsonl" >/dev/null || exit 1
		measure "$d/m.schedule" "$O" -q -c "$d/o.yaml" run --once --now "$T_EVENT" || exit 1
		for step in contacts events schedule; do
			echo "postgresql $step ($N): $(rate "$N" "$(secs "$d/m.$step")") rows/s, peak RSS $(rss_mib "$d/m.$step") MiB"
		done
		pq "${pgurl}postgres" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'pgbase'" >/dev/null
		for wk in 1 4; do
			db="pgsmtp$wk"
			pq "${pgurl}postgres" "CREATE DATABASE $db TEMPLATE pgbase" || exit 1
			d="$W/$db"
			mkdir -p "$d"
			config "$d" "  t:
    kind: smtp
    host: 127.0.0.1
    port: $port
    tls: none
    from: \"Acme Care <care@example.com>\"
    concurrency: $SESSIONS
    per_session: 100"
			export OUTREACH_STORE="${pgurl}$db"
			measure "$d/m.run" "$O" -q -c "$d/o.yaml" run --once --now "$T_DUE" --batch "$BATCH" \
				--workers "$wk" || exit 1
			sent=$(pq "$OUTREACH_STORE" "select count(*) from sends where state = 'sent'")
			twice=$(pq "$OUTREACH_STORE" "select count(*) from (select send_id from attempts group by send_id having count(*) > 1) as q")
			[ "$sent" = "$N" ] && [ "$twice" = 0 ] || echo "postgresql smtp, $wk workers: $sent of $N sent, $twice with more than one attempt"
			side "smtp on postgresql, $wk worker(s) x $SESSIONS sessions" "$(rate "$sent" "$(secs "$d/m.run")")" \
				"$SMTP_RATE" "msg/s" "baseline: the same on SQLite, 1 worker; peak RSS $(rss_mib "$d/m.run") MiB"
		done
		unset OUTREACH_STORE
	else
		echo "bench: no PostgreSQL cluster (make deps installs it); skipped"
	fi
fi

# ---- peak RSS
for x in "contacts import:$(rss_mib "$W/base/m.contacts")" "events import:$(rss_mib "$W/base/m.events")" \
	"run (scheduling):$(rss_mib "$W/base/m.schedule")" "run smtp:$SMTP_RSS" "run http:$HTTP_RSS" \
	"run webhook:$HOOK_RSS"; do
	echo "peak RSS $N, ${x%%:*}: ${x#*:} MiB (target <= 64)"
done

# ---- scale: time per send with SLICE due among SLICE vs BIG scheduled.
# The small store is outreach's own (import, schedule). The big one is a
# copy of it with BIG more contacts, events, enrollments and sends written
# by SQL as outreach writes them. Two slices of SLICE are due in it:
#   contiguous  the last SLICE ids, due now: due order follows insert order
#               (a campaign's batch that comes due together)
#   spread      the small store's own SLICE sends, renumbered to every
#               (BIG/SLICE)th id and due a second later: the claims and
#               updates touch pages all over the table and its indexes
# and the rest is due over the next 30 days in an order unrelated to ids.
prepare "$W/small" "$SLICE" s
bench_clone "$W/small" "$W/big" || exit 1
a=$(date +%s.%N)
step=$((BIG / SLICE))
bq "$W/big" "
BEGIN;
UPDATE sends SET id = id * $step + 1000000000, due_at = due_at + 1;
UPDATE sends SET id = id - 1000000000;
UPDATE send_log SET send_id = send_id * $step;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $BIG + $SLICE)
INSERT INTO contacts (id, name, email, phone, timezone, locale, attrs, do_not_contact,
    created_at, updated_at, seg_eval_at)
  SELECT 'f' || i, name, 'f' || i || '@example.com', '+8615' || (100000000 + i), timezone, locale,
    attrs, do_not_contact, created_at, updated_at, seg_eval_at
  FROM k, (SELECT * FROM contacts WHERE id = 's0') c WHERE i % $step != 0 OR i > $BIG;
INSERT INTO events (contact_id, type, at, data, dedup, recorded_at, send_id, processed)
  SELECT c.id, e.type, e.at, e.data, 'f:' || c.id, e.recorded_at, NULL, 1
  FROM contacts c, (SELECT * FROM events LIMIT 1) e WHERE c.id LIKE 'f%';
INSERT INTO enrollments (campaign, contact_id, trigger_ref, trigger_at, event_id, holdout,
    variant, created_at)
  SELECT en.campaign, ev.contact_id, 'event:' || ev.id, en.trigger_at, ev.id, 0, NULL,
    en.created_at
  FROM events ev, (SELECT * FROM enrollments LIMIT 1) en WHERE ev.dedup LIKE 'f:%';
INSERT INTO sends (id, enrollment_id, campaign, step, contact_id, priority, state, due_at,
    expire_at, trigger_at, template, created_at, updated_at)
  SELECT k.i, en.id, s.campaign, s.step, en.contact_id, s.priority, 'scheduled',
    CASE WHEN k.i > $BIG THEN s.due_at - 1 ELSE s.due_at + 60 + (k.i * 7919) % 2592000 END,
    s.expire_at, s.trigger_at, s.template, s.created_at, s.updated_at
  FROM (SELECT id, contact_id, CAST(substr(contact_id, 2) AS INTEGER) AS i FROM enrollments
        WHERE contact_id LIKE 'f%') k
  JOIN enrollments en ON en.id = k.id, (SELECT * FROM sends LIMIT 1) s;
INSERT INTO send_log (send_id, at, state, reason)
  SELECT s.id, l.at, l.state, l.reason FROM sends s, (SELECT * FROM send_log LIMIT 1) l
  WHERE s.contact_id LIKE 'f%';
COMMIT;
ANALYZE;" || exit 1
b=$(date +%s.%N)
echo "scale: filled a store with $(bq "$W/big" "select count(*) from sends where state = 'scheduled'") scheduled sends in $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", b - a }') s"
plan=$(bq "$W/big" "EXPLAIN QUERY PLAN SELECT id FROM sends WHERE state IN ('scheduled', 'deferred') AND priority = 0 AND due_at <= $T_DUE_EPOCH ORDER BY due_at, id LIMIT 100")
echo "scale: claim plan: $(echo "$plan" | tr '\n' ' ')"
echo "$plan" | grep -q 'USING INDEX sends_due' || echo "scale: WARNING: the claim does not use sends_due"
config "$W/small" "$OUTBOX"
config "$W/big" "$OUTBOX"
# slice NAME DIR AT - storerate on DIR at epoch AT; sets US (per send)
slice() {
	measure "$2/m.$1" "$B/storerate" -c "$2/o.yaml" -t "$3" -b "$BATCH" >"$2/$1.out" || exit 1
	done_n=$(sed 's/storerate: \([0-9]*\) sends.*/\1/' "$2/$1.out")
	[ "$done_n" = "$SLICE" ] || echo "scale: $1: $done_n of $SLICE sent"
	US=$(awk -v s="$(secs "$2/m.$1")" -v n="$SLICE" 'BEGIN { printf "%.1f", s * 1e6 / n }')
}
slice small "$W/small" "$T_DUE_EPOCH"
us_small=$US
slice contiguous "$W/big" "$T_DUE_EPOCH"
us_cont=$US
slice spread "$W/big" "$((T_DUE_EPOCH + 1))"
us_spread=$US
for x in "contiguous:$us_cont" "spread:$us_spread"; do
	r=$(ratio "${x#*:}" "$us_small")
	echo "per-send time, ${x%%:*}: outreach ${x#*:} us at $BIG scheduled, ${us_small} us at $SLICE scheduled, ratio $r (target <= 1.20)"
	row "per-send time, $SLICE due (${x%%:*}) of $BIG vs of $SLICE scheduled" "${x#*:} us" "${us_small} us" "$r"
done
echo "peak RSS of the worker at $BIG scheduled: $(rss_mib "$W/big/m.spread") MiB (at $SLICE: $(rss_mib "$W/small/m.small") MiB)"
row "peak RSS: contacts import / events import / scheduling, $N rows" \
	"$(rss_mib "$W/base/m.contacts") / $(rss_mib "$W/base/m.events") / $(rss_mib "$W/base/m.schedule") MiB" "64 MiB" ""
row "peak RSS: run smtp / http / webhook, $N sends" "$SMTP_RSS / $HTTP_RSS / $HOOK_RSS MiB" "64 MiB" ""
row "peak RSS: worker, $SLICE due of $BIG scheduled" "$(rss_mib "$W/big/m.spread") MiB" "64 MiB" ""

if [ -n "${BENCH_REPORT:-}" ]; then
	cp "$REPORT" "$BENCH_REPORT"
fi
echo
cat "$REPORT"
