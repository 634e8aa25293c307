#!/bin/sh
# tests/bench/bench_transports.sh - messages per second through the real
# transports against local sinks (`make bench`).
#
# For each transport: N contacts, one purchase event each, a campaign that
# thanks them at once; `run --once` is timed end to end (scheduling,
# rendering, delivery, recording), then the same is done with delivery
# only (the sends already scheduled). The baseline for SMTP is Postfix's
# own smtp-source against the same smtp-sink, over the same number of
# sessions. Numbers are printed as "name: value unit (ratio)" lines.
#
#   N=5000 sh tests/bench/bench_transports.sh
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
O="$ROOT/build/outreach"
PY=/usr/bin/python3
N=${N:-5000}
SESSIONS=${SESSIONS:-8}
W=$(mktemp -d "${TMPDIR:-/tmp}/outreach-bench.XXXXXX")
PIDS=
trap 'kill $PIDS 2>/dev/null; rm -rf "$W"' EXIT
export OUTREACH_SECRET=bench

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

now_s() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

# contacts and events for N people
"$PY" - "$W" "$N" <<'PYEOF'
import sys, json
w, n = sys.argv[1], int(sys.argv[2])
with open(w + "/contacts.csv", "w") as f:
    f.write("id,name,email,phone,timezone\n")
    for i in range(n):
        f.write(f"c{i},客户{i},c{i}@example.com,+8613{i:09d},Asia/Shanghai\n")
with open(w + "/events.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"id": f"e{i}", "contact": f"c{i}", "type": "purchase",
                            "at": "2026-03-01T09:00:00Z", "data": {"amount": 100}}) + "\n")
PYEOF
mkdir -p "$W/tpl/thanks"
printf 'Subject: 感谢您的订单，{{name}}\n\n{{name}}，您好：感谢您的订单。\n' >"$W/tpl/thanks/email.txt"
printf '{{name}}，感谢您的订单。\n' >"$W/tpl/thanks/sms.txt"

# bench_run NAME TRANSPORT_YAML [POLICIES_YAML] - time a whole run and a
# delivery-only run
bench_run() {
	name=$1
	d="$W/$name"
	mkdir -p "$d"
	cat >"$d/o.yaml" <<EOF
store: $d/o.db
templates: $W/tpl
${3:-}
transports:
$2
campaigns:
  thanks:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [t], template: thanks}
EOF
	"$O" -q -c "$d/o.yaml" init >/dev/null || exit 1
	"$O" -q -c "$d/o.yaml" contacts import "$W/contacts.csv" >/dev/null || exit 1
	"$O" -q -c "$d/o.yaml" events import "$W/events.jsonl" >/dev/null || exit 1
	a=$(now_s)
	"$O" -q -c "$d/o.yaml" run --once --now 2026-03-01T10:00:00Z --batch 1000 || exit 1
	b=$(now_s)
	sent=$(sqlite3 "$d/o.db" "select count(*) from sends where state = 'sent'")
	echo "$name: $(rate "$sent" "$a" "$b") msg/s end to end ($sent of $N sent)"
	# delivery only: put the sends back and run again
	sqlite3 "$d/o.db" "update sends set state = 'scheduled', attempts = 0, sent_at = NULL"
	a=$(now_s)
	"$O" -q -c "$d/o.yaml" run --once --now 2026-03-01T10:00:00Z --batch 1000 || exit 1
	b=$(now_s)
	sent=$(sqlite3 "$d/o.db" "select count(*) from sends where state = 'sent'")
	r=$(rate "$sent" "$a" "$b")
	echo "$name: $r msg/s claim+render+deliver+record ($sent of $N sent)"
	LAST=$r
}

# ---- SMTP against smtp-sink, baseline smtp-source
if [ -x /usr/sbin/smtp-sink ]; then
	port=$(free_port)
	/usr/sbin/smtp-sink -u nobody 127.0.0.1:$port 1024 &
	PIDS="$PIDS $!"
	sleep 0.3
	a=$(now_s)
	/usr/sbin/smtp-source -s "$SESSIONS" -m "$N" -f a@example.com -t b@example.com \
		127.0.0.1:$port >/dev/null
	b=$(now_s)
	base=$(rate "$N" "$a" "$b")
	echo "smtp-source baseline: $base msg/s over $SESSIONS sessions"
	bench_run smtp "  t:
    kind: smtp
    host: 127.0.0.1
    port: $port
    tls: none
    from: \"Acme Care <care@example.com>\"
    concurrency: $SESSIONS
    per_session: 100"
	awk -v a="$LAST" -v b="$base" 'BEGIN { printf "smtp: %.2f of smtp-source\n", a / b }'
	nopol=$LAST
	# the same with every policy on (quiet hours that allow 18:00 in
	# Shanghai, caps that every contact passes, a rate that never binds):
	# the cost of checking them
	bench_run smtp-policies "  t:
    kind: smtp
    host: 127.0.0.1
    port: $port
    tls: none
    from: \"Acme Care <care@example.com>\"
    concurrency: $SESSIONS
    per_session: 100
    rate: 1000000/s
    domain_rate: 1000000/s" "timezone: Asia/Shanghai
policies:
  quiet_hours: \"21:00-09:00\"
  caps:
    all: {min_gap: 1h}
    transactional: {max: 3, per: 1d}"
	awk -v a="$LAST" -v b="$nopol" 'BEGIN { printf "smtp-policies: %.2f of smtp without policies\n", a / b }'
	# one session: the TCP_NODELAY figure
	bench_run smtp1 "  t:
    kind: smtp
    host: 127.0.0.1
    port: $port
    tls: none
    from: \"Acme Care <care@example.com>\"
    concurrency: 1
    per_session: 1000"
else
	echo "smtp: skipped (no /usr/sbin/smtp-sink: make deps)"
fi

# ---- HTTP SMS gateway against a local server
port_file="$W/http.port"
"$PY" "$ROOT/tests/e2e/httpd.py" --port-file "$port_file" --log /dev/null &
PIDS="$PIDS $!"
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
hport=$(cat "$port_file")
bench_run http "  t:
    kind: http
    url: http://127.0.0.1:$hport/sms
    concurrency: 16"

# ---- outbox (files, fsync'd): the floor of the pipeline without a network
bench_run outbox "  t:
    kind: outbox
    channel: email
    dir: $W/outbox
    from: \"Acme Care <care@example.com>\""
