# tests/e2e/cases_http.sh - the http transport (SMS gateways) end to end.
#
# Sourced by tests/e2e/run.sh. Each case starts tests/e2e/httpd.py on a free
# loopback port (the server writes it to $T/httpd/port), drives the real
# binary against it and asserts on what the server really received (its
# JSON-lines log) and on what the store recorded (sends, attempts).
# The server is killed when the case's shell exits (trap), and exits by
# itself if the case's shell dies first.

HTTPD="$ROOT/tests/e2e/httpd.py"

# http_start [SCRIPT] - start the server with SCRIPT (JSON rules, default
# none); sets HP (port) and HPID; every server a case started is killed
# when the case ends
http_start() {
	mkdir -p "$T/httpd"
	printf '%s\n' "${1:-[]}" >"$T/httpd/script.json"
	rm -f "$T/httpd/port"
	"$PY" "$HTTPD" --port-file "$T/httpd/port" --log "$T/httpd/log" \
		--script "$T/httpd/script.json" 2>"$T/httpd/err" &
	HPID=$!
	HPIDS="${HPIDS:-} $HPID"
	trap 'kill $HPIDS 2>/dev/null' EXIT
	i=0
	while [ ! -s "$T/httpd/port" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -s "$T/httpd/port" ] || fail "httpd.py did not start: $(cat "$T/httpd/err")"
	HP=$(cat "$T/httpd/port")
	touch "$T/httpd/log"
}

# http_script SCRIPT - replace the server's rules (read on every request)
http_script() {
	printf '%s\n' "$1" >"$T/httpd/script.json"
}

# hq EXPR - a Python expression over the server's log, L = the requests
# (dicts as httpd.py documents them); prints a string as is, else JSON
hq() {
	"$PY" -c 'import json, sys
L = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
r = eval(sys.argv[2])
sys.stdout.write(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))' \
		"$T/httpd/log" "$1" 2>"$T/hq.err" || fail "hq $1: $(tail -n 1 "$T/hq.err")"
}

# free_port - a loopback port nobody listens on
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# sq SQL - one sqlite3 query on the case's store
sq() {
	sqlite3 "$T/o.db" "$1"
}

# cfg_http OPTIONS [CHANNELS] - $T/o.yaml: transport sms of kind http with
# the given option lines (indented 4), transport email an outbox, and the
# campaign hello on purchase with steps channels CHANNELS (default sms, email)
cfg_http() {
	use_store "$T/o.db"
	cat >"$T/o.yaml" <<EOF
store: $T/o.db
templates: $DATA/templates
timezone: Asia/Shanghai
tracking:
  base_url: http://127.0.0.1:8080
  secret_env: OUTREACH_SECRET
transports:
  email:
    kind: outbox
    channel: email
    dir: $T/outbox
    from: "Acme Care <care@example.com>"
  sms:
    kind: http
$1
campaigns:
  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 1h, channels: [${2:-sms, email}], template: hello}
EOF
}

# http_people - init, and two contacts with phones (zh and en) who buy
http_people() {
	ok_o init
	cat >"$T/people.csv" <<'EOF'
id,name,email,phone,timezone,locale
h1,李伟,liwei@example.cn,+8613800138001,Asia/Shanghai,zh
h2,Emma Clarke,emma@example.co.uk,+447700900123,Europe/London,en
EOF
	cat >"$T/buys.jsonl" <<'EOF'
{"id":"b-1","contact":"h1","type":"purchase","at":"2026-03-01T09:00:00Z","data":{"amount":12800,"order_id":"A-1"}}
{"id":"b-2","contact":"h2","type":"purchase","at":"2026-03-01T09:00:00Z","data":{"amount":980,"order_id":"A-2"}}
EOF
	ok_o contacts import "$T/people.csv"
	ok_o events import "$T/buys.jsonl"
}

# 1. an sms over the http transport: the gateway gets exactly the rendered
# request, headers from templates and the environment, the provider id lands
# in the store
c_http_sms() {
	http_start '[{"path": "/v1/send", "body": "{\"data\": {\"msgid\": \"gw-{n}\"}, \"code\": 0}"}]'
	export SMS_TOKEN=tok-e2e-9f8e7d6c5b4a
	cfg_http "    url: http://127.0.0.1:$HP/v1/send?lang={{encoding}}&to={{phone}}
    headers:
      Authorization: \"Bearer \${SMS_TOKEN}\"
      X-Request-Id: \"outreach-{{send_id}}\"
      Content-Type: application/json
    body: '{\"mobile\": {{json phone}}, \"content\": {{json text}}, \"ref\": \"{{campaign}}/{{step}}\", \"parts\": {{segments}}}'
    id_pointer: /data/msgid
    ok_pointer: /code
    ok_value: 0
    concurrency: 2"
	http_people
	ok_o run --once --now 2026-03-01T10:30:00Z
	n=$(hq 'len(L)')
	[ "$n" = 2 ] || fail "the gateway got $n requests, want 2: $(head -c 600 "$T/httpd/log")"
	id1=$(sq "SELECT id FROM sends WHERE contact_id = 'h1'")
	id2=$(sq "SELECT id FROM sends WHERE contact_id = 'h2'")
	# h1: Chinese text, UCS-2, raw UTF-8 JSON exactly as the template renders it
	got=$(hq '[r["body"] for r in L if "8613800138001" in r["query"]][0]')
	want='{"mobile": "+8613800138001", "content": "【Acme】ZH 李伟，感谢您的订单 A-1！\n", "ref": "hello/1", "parts": 1}'
	[ "$got" = "$want" ] || fail "h1's request body: got '$got', want '$want'"
	q=$(hq '[r["query"] for r in L if r["body"].find("8613800138001") > 0][0]')
	[ "$q" = "lang=ucs2&to=%2B8613800138001" ] || fail "h1's query: '$q' (url values must be percent-encoded)"
	got=$(hq '[r["body"] for r in L if "447700900123" in r["query"]][0]')
	want='{"mobile": "+447700900123", "content": "EN-PLAIN sms Emma Clarke\n", "ref": "hello/1", "parts": 1}'
	[ "$got" = "$want" ] || fail "h2's request body: got '$got', want '$want'"
	q=$(hq '[r["query"] for r in L if r["body"].find("447700900123") > 0][0]')
	[ "$q" = "lang=gsm7&to=%2B447700900123" ] || fail "h2's query: '$q'"
	a=$(hq 'sorted(set(r["headers"].get("authorization", "") for r in L))')
	[ "$a" = '["Bearer tok-e2e-9f8e7d6c5b4a"]' ] || fail "Authorization headers: $a"
	x=$(hq 'sorted(r["headers"]["x-request-id"] for r in L)')
	want=$(printf '["outreach-%s", "outreach-%s"]' $(printf '%s\n%s\n' "$id1" "$id2" | sort))
	[ "$x" = "$want" ] || fail "X-Request-Id headers: $x, want $want"
	m=$(hq 'sorted(set(r["method"] + " " + r["path"] + " " + r["headers"]["content-type"] for r in L))')
	[ "$m" = '["POST /v1/send application/json"]' ] || fail "methods, paths, types: $m"
	# the store: sent, the gateway's id, one ok attempt each
	st=$(sq "SELECT state || '|' || transport || '|' || provider_id FROM sends WHERE id = $id1")
	pid=$(hq '[r["n"] for r in L if "8613800138001" in r["query"]][0]')
	[ "$st" = "sent|sms|gw-$pid" ] || fail "h1's send: '$st', want sent|sms|gw-$pid"
	st=$(sq "SELECT state || '|' || provider_id FROM sends WHERE id = $id2")
	case "$st" in "sent|gw-"[0-9]*) ;; *) fail "h2's send: '$st'" ;; esac
	at=$(sq "SELECT transport || '|' || status || '|' || code FROM attempts WHERE send_id = $id1")
	[ "$at" = "sms|ok|http 200" ] || fail "h1's attempts: '$at'"
	r=$(sq "SELECT reason FROM attempts WHERE send_id = $id1")
	case "$r" in *"1 segment, ucs2"*) ;; *) fail "h1's attempt does not record its segments: '$r'" ;; esac
	r=$(sq "SELECT reason FROM attempts WHERE send_id = $id2")
	case "$r" in *"1 segment, gsm7"*) ;; *) fail "h2's attempt does not record its segments: '$r'" ;; esac
	s=$(sq "SELECT segments FROM sends WHERE id = $id1")
	[ "$s" = 1 ] || fail "sends.segments for h1 is '$s', want 1"
	s=$(sq "SELECT segments FROM sends WHERE id = $id2")
	[ "$s" = 1 ] || fail "sends.segments for h2 is '$s', want 1"
	[ "$(nout)" = 0 ] || fail "the outbox got $(nout) messages: everything went by sms"
	# a second run sends nothing again
	ok_o run --once --now 2026-03-01T11:30:00Z
	[ "$(hq 'len(L)')" = 2 ] || fail "a second run sent again: $(hq 'len(L)') requests"

	# max_segments: a text over the limit is refused before anything is sent
	T=$T/long
	mkdir -p "$T"
	http_start
	cfg_http "    url: http://127.0.0.1:$HP/v1/send
    max_segments: 1
" sms
	http_people
	# h1's zh text is one UCS-2 segment; give h2 a 2-segment English text
	mkdir -p "$T/tpl"
	cp -R "$DATA/templates/." "$T/tpl/"
	awk 'BEGIN { for (i = 0; i < 170; i++) printf "x"; printf "\n" }' >"$T/tpl/hello/sms.txt"
	sed -i "s|^templates: .*|templates: $T/tpl|" "$T/o.yaml"
	ok_o run --once --now 2026-03-01T10:30:00Z
	n=$(hq 'len(L)')
	[ "$n" = 1 ] || fail "max_segments 1: the gateway got $n requests, want 1 (h1 only)"
	st=$(sq "SELECT state FROM sends WHERE contact_id = 'h2'")
	[ "$st" = failed ] || fail "h2's 2-segment text with max_segments 1 is '$st', want failed"
	r=$(sq "SELECT code || '|' || reason FROM attempts WHERE send_id = (SELECT id FROM sends WHERE contact_id = 'h2')")
	[ "$r" = "too long|2 segments (gsm7), max_segments is 1" ] || fail "h2's attempt: '$r'"
}

# 2. 429 with Retry-After and 500 are deferred, each attempt recorded; the
# send goes out once the gateway recovers
c_http_retry() {
	http_start '[{"path": "/v1/send", "status": 429, "body": "rate limited, slow down", "headers": {"Retry-After": "120"}}]'
	cfg_http "    url: http://127.0.0.1:$HP/v1/send
    id_pointer: /id" sms
	http_people
	now=2026-03-01T10:30:00Z
	ok_o run --once --now $now
	[ "$(hq 'len(L)')" = 2 ] || fail "first run: $(hq 'len(L)') requests, want 2"
	t0=$(epoch $now)
	for c in h1 h2; do
		row=$(sq "SELECT state || '|' || due_at FROM sends WHERE contact_id = '$c'")
		st=${row%%|*}
		due=${row#*|}
		[ "$st" = deferred ] || fail "$c after a 429: '$st', want deferred"
		[ "$due" -ge $((t0 + 120)) ] || fail "$c is due $((due - t0)) s after a 429 with Retry-After: 120"
		[ "$due" -le $((t0 + 600)) ] || fail "$c is due $((due - t0)) s after a 429 with Retry-After: 120 (too late)"
	done
	r=$(sq "SELECT reason FROM sends WHERE contact_id = 'h1'")
	case "$r" in *"http 429"*"rate limited"*) ;; *) fail "h1's reason after the 429: '$r'" ;; esac
	# not before Retry-After: 100 s later nothing is sent
	ok_o run --once --now 2026-03-01T10:31:40Z
	[ "$(hq 'len(L)')" = 2 ] || fail "a run 100 s after Retry-After: 120 sent again"
	# then a 500
	http_script '[{"path": "/v1/send", "status": 500, "body": "<h1>Internal Server Error</h1>"}]'
	ok_o run --once --now 2026-03-01T10:40:00Z
	[ "$(hq 'len(L)')" = 4 ] || fail "after the 500 run: $(hq 'len(L)') requests, want 4"
	for c in h1 h2; do
		st=$(sq "SELECT state FROM sends WHERE contact_id = '$c'")
		[ "$st" = deferred ] || fail "$c after a 500: '$st', want deferred"
	done
	# the gateway recovers
	http_script '[]'
	ok_o run --once --now 2026-03-01T12:00:00Z
	[ "$(hq 'len(L)')" = 6 ] || fail "after recovery: $(hq 'len(L)') requests, want 6"
	for c in h1 h2; do
		row=$(sq "SELECT state || '|' || provider_id FROM sends WHERE contact_id = '$c'")
		case "$row" in "sent|m"[0-9]*) ;; *) fail "$c after recovery: '$row', want sent with an id" ;; esac
		id=$(sq "SELECT id FROM sends WHERE contact_id = '$c'")
		a=$(sq "SELECT group_concat(status || ' ' || code, ', ') FROM (SELECT status, code FROM attempts WHERE send_id = $id ORDER BY id) AS q")
		[ "$a" = "defer http 429, defer http 500, ok http 200" ] || fail "$c's attempts: '$a'"
		n=$(sq "SELECT COUNT(DISTINCT at) FROM attempts WHERE send_id = $id")
		[ "$n" = 3 ] || fail "$c's attempts do not carry their own times: $n distinct"
	done
	r=$(sq "SELECT reason FROM attempts WHERE code = 'http 500' LIMIT 1")
	[ "$r" = "HTTP 500: <h1>Internal Server Error</h1>" ] || fail "a 500 attempt's reason: '$r'"
	ok_o run --once --now 2026-03-02T12:00:00Z
	[ "$(hq 'len(L)')" = 6 ] || fail "sent sends went out again"
}

# 3. a 400 is permanent for sms: the step falls through to email
c_http_fallback() {
	http_start '[{"path": "/v1/send", "status": 400, "body": "{\"error\": \"invalid number\"}"}]'
	cfg_http "    url: http://127.0.0.1:$HP/v1/send"
	http_people
	ok_o run --once --now 2026-03-01T10:30:00Z
	[ "$(hq 'len(L)')" = 2 ] || fail "the gateway got $(hq 'len(L)') requests, want 2"
	[ "$(nout)" = 2 ] || fail "the outbox has $(nout) messages, want 2 (both fell through to email)"
	py find "$T/outbox" liwei@example.cn count
	[ "$(cat "$T/py")" = 1 ] || fail "h1 got no email after the sms was refused"
	for c in h1 h2; do
		row=$(sq "SELECT state || '|' || transport FROM sends WHERE contact_id = '$c'")
		[ "$row" = "sent|email" ] || fail "$c: '$row', want sent|email"
		id=$(sq "SELECT id FROM sends WHERE contact_id = '$c'")
		a=$(sq "SELECT group_concat(transport || ' ' || status || ' ' || code, ', ') FROM (SELECT * FROM attempts WHERE send_id = $id ORDER BY id) AS q")
		[ "$a" = "sms fail http 400, email ok ok" ] || fail "$c's attempts: '$a'"
	done
	r=$(sq "SELECT reason FROM attempts WHERE code = 'http 400' LIMIT 1")
	[ "$r" = 'HTTP 400: {"error": "invalid number"}' ] || fail "the 400 attempt's reason: '$r'"

	# only sms in the step: a 400 fails the send
	T=$T/only
	mkdir -p "$T"
	http_start '[{"path": "/v1/send", "status": 400, "body": "invalid number"}]'
	cfg_http "    url: http://127.0.0.1:$HP/v1/send" sms
	http_people
	ok_o run --once --now 2026-03-01T10:30:00Z
	st=$(sq "SELECT group_concat(state) FROM sends")
	[ "$st" = "failed,failed" ] || fail "a 400 with no other channel: '$st', want failed"
	ok_o run --once --now 2026-03-02T10:30:00Z
	[ "$(hq 'len(L)')" = 2 ] || fail "failed sends were retried"
}

# 4. a gateway that does not answer in time: deferred quickly, the reason
# names the timeout, the request arrived once
c_http_timeout() {
	http_start '[{"path": "/v1/send", "hang": 8}]'
	cfg_http "    url: http://127.0.0.1:$HP/v1/send
    timeout: 1s
    concurrency: 2" sms
	http_people
	s0=$(date +%s)
	ok_o run --once --now 2026-03-01T10:30:00Z
	dt=$(($(date +%s) - s0))
	[ "$dt" -le 5 ] || fail "two requests with timeout: 1s took ${dt} s"
	[ "$(hq 'len(L)')" = 2 ] || fail "the gateway got $(hq 'len(L)') requests, want 2 (once each)"
	for c in h1 h2; do
		row=$(sq "SELECT state FROM sends WHERE contact_id = '$c'")
		[ "$row" = deferred ] || fail "$c after a timeout: '$row', want deferred"
	done
	r=$(sq "SELECT code || '|' || reason FROM attempts LIMIT 1")
	case "$r" in timeout\|*"timed out"*) ;; *) fail "the attempt does not name the timeout: '$r'" ;; esac
	r=$(sq "SELECT reason FROM sends WHERE contact_id = 'h1'")
	case "$r" in *timeout*) ;; *) fail "the send's reason does not name the timeout: '$r'" ;; esac
}

# 5. nothing listening, or a server that closes without answering: deferred,
# never sent twice in one attempt, never lost
c_http_down() {
	port=$(free_port)
	cfg_http "    url: http://127.0.0.1:$port/v1/send
    connect_timeout: 2s" sms
	http_people
	ok_o run --once --now 2026-03-01T10:30:00Z
	for c in h1 h2; do
		row=$(sq "SELECT state FROM sends WHERE contact_id = '$c'")
		[ "$row" = deferred ] || fail "$c with the gateway down: '$row', want deferred"
	done
	r=$(sq "SELECT code || '|' || reason FROM attempts LIMIT 1")
	case "$r" in connect\|*) ;; *) fail "the attempt with the gateway down: '$r', want code connect" ;; esac

	# the server reads each request and closes the connection
	T=$T/close
	mkdir -p "$T"
	http_start '[{"path": "/v1/send", "close": true}]'
	cfg_http "    url: http://127.0.0.1:$HP/v1/send
    concurrency: 1" sms
	http_people
	ok_o run --once --now 2026-03-01T10:30:00Z
	[ "$(hq 'len(L)')" = 2 ] || fail "closing server: $(hq 'len(L)') requests, want 2 (each once)"
	for c in h1 h2; do
		row=$(sq "SELECT state FROM sends WHERE contact_id = '$c'")
		[ "$row" = deferred ] || fail "$c with a server that closes: '$row', want deferred"
	done
	# the server answers again: each send goes out, once
	http_script '[{"path": "/v1/send", "status": 200, "body": "ok"}]'
	ok_o run --once --now 2026-03-01T12:00:00Z
	[ "$(sq "SELECT group_concat(state) FROM sends")" = "sent,sent" ] || fail "not sent once the server answers: $(sq "SELECT group_concat(state) FROM sends")"
	[ "$(hq 'len(L)')" = 4 ] || fail "after recovery the server got $(hq 'len(L)') requests, want 4"
}

# 6. the token from the environment never shows: not in stderr with -v, not
# in the store, not in the reasons, even when the gateway echoes it back
c_http_secret() {
	tok=sEcReT-e2e-token-0123456789abcdef
	export SMS_TOKEN=$tok
	http_start "[{\"path\": \"/bot\", \"status\": 401, \"times\": 1, \"body\": \"invalid key $tok in /bot$tok/send?key=$tok\"},
	  {\"path\": \"/bot\", \"status\": 503, \"body\": \"overloaded (Bearer $tok)\", \"headers\": {\"Retry-After\": \"30\"}}]"
	cfg_http "    url: http://127.0.0.1:$HP/bot\${SMS_TOKEN}/send?key=\${SMS_TOKEN}
    headers:
      Authorization: Bearer \${SMS_TOKEN}
    timeout: 2s"
	http_people
	"$O" -v -c "$T/o.yaml" run --once --now 2026-03-01T10:30:00Z >"$T/out1" 2>"$T/err1" ||
		fail "run -v: $(tail -n 2 "$T/err1")"
	[ "$(hq 'len(L)')" = 2 ] || fail "the gateway got $(hq 'len(L)') requests"
	got=$(hq 'sorted(set(r["headers"]["authorization"] for r in L))')
	[ "$got" = "[\"Bearer $tok\"]" ] || fail "the gateway did not get the token: $got"
	grep -q "http 401" "$T/err1" || fail "run -v does not trace the 401: $(head -c 400 "$T/err1")"
	# the gateway down: curl's words
	kill $HPID 2>/dev/null
	wait $HPID 2>/dev/null
	"$O" -v -c "$T/o.yaml" run --once --now 2026-03-01T12:00:00Z >"$T/out2" 2>"$T/err2" ||
		fail "run -v: $(tail -n 2 "$T/err2")"
	grep -q "connect" "$T/err2" || fail "run -v does not trace the connection error: $(head -c 400 "$T/err2")"
	sqlite3 "$T/o.db" .dump >"$T/dump.sql"
	for id in $(sq "SELECT id FROM sends"); do
		"$O" -c "$T/o.yaml" why "$id" >>"$T/why" 2>&1
	done
	"$O" -c "$T/o.yaml" report --format json >"$T/report" 2>&1
	for f in err1 out1 err2 out2 dump.sql why report; do
		if grep -qF -- "$tok" "$T/$f"; then
			fail "the token is in $f: $(grep -F -- "$tok" "$T/$f" | head -n 1 | head -c 300)"
		fi
		grep -qF -- "sEcReT" "$T/$f" && fail "part of the token is in $f: $(grep -F sEcReT "$T/$f" | head -n 1 | head -c 300)"
	done
	grep -q "http 503" "$T/dump.sql" || fail "the store has no 503 attempt: the test did not test"
	grep -q "overloaded" "$T/dump.sql" || fail "the 503's words are not recorded"
	grep -q "invalid key" "$T/dump.sql" || fail "the 401's words are not recorded"
}

# 7. bad templates and options: refused, naming the line
c_http_bad_config() {
	port=$(free_port)
	cfg_http "    url: http://127.0.0.1:$port/v1/send
    body: '{\"to\": {{json to}}, \"text\": {{#text}}}'"
	line=$(grep -n '^    body:' "$T/o.yaml" | cut -d: -f1)
	http_bad_config "$line" "body" "bad template"

	cfg_http "    url: http://127.0.0.1:$port/v1/send
    method: FETCH"
	line=$(grep -n '^    method:' "$T/o.yaml" | cut -d: -f1)
	http_bad_config "$line" "FETCH" "bad method"

	cfg_http "    url: http://127.0.0.1:$port/v1/send
    headers:
      X-Ref: '{{nosuchvar}}'"
	line=$(grep -n '^      X-Ref:' "$T/o.yaml" | cut -d: -f1)
	http_bad_config "$line" "nosuchvar" "unknown variable"

	cfg_http "    url: http://127.0.0.1:$port/v1/send
    id_pointer: data.id"
	line=$(grep -n '^    id_pointer:' "$T/o.yaml" | cut -d: -f1)
	http_bad_config "$line" "id_pointer" "bad id_pointer"

	cfg_http "    method: POST"
	line=$(grep -n '^  sms:' "$T/o.yaml" | cut -d: -f1)
	http_bad_config "$line" "url" "missing url"
}

# http_bad_config LINE WORD WHAT - `check` refuses the config (exit 2),
# naming o.yaml:LINE and WORD
http_bad_config() {
	o check
	[ "$RC" = 2 ] || fail "$3: check exited $RC, want 2: $(head -c 300 "$T/err")"
	grep -q "o.yaml:$1:.*$2" "$T/err" || fail "$3: stderr does not name o.yaml:$1 and $2: $(head -c 400 "$T/err")"
}

ALL="$ALL c_http_sms c_http_retry c_http_fallback c_http_timeout c_http_down c_http_secret
c_http_bad_config"
