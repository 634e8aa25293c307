# tests/e2e/cases_serve.sh - `outreach serve` end to end.
#
# Sourced by tests/e2e/run.sh. Each case sends real messages with
# `run --once` through the outbox transports, starts `serve` on a free
# loopback port (--listen 127.0.0.1:0: the server prints the port it got),
# and talks to it with a small raw-socket HTTP client (sv_http, Python: no
# redirects followed, answers read even when the server answers before the
# whole body was sent). Tokens come from the messages (List-Unsubscribe)
# or are built with the recipe of src/render/track.c (HMAC-SHA256 over
# "KIND.SEND.LINK", first 20 hex digits). Assertions are on HTTP answers
# and on the store (sqlite3), and on what the next `run --once` does. The
# server is killed when the case's shell exits (trap).

SV_UA='Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'

# sv_client - write the HTTP client to $T/http.py
sv_client() {
	cat >"$T/http.py" <<'EOF'
"""http.py METHOD URL [-H 'Name: value']... [-d BODY] [--zeros N] [--chunked]
Prints the status code; the answer's headers go to RESP.head (lower-case
names), its body to RESP.body (RESP from $RESP, default ./resp)."""
import os, select, socket, sys
from urllib.parse import urlsplit

args = sys.argv[1:]
method, url = args[0], args[1]
headers, body, chunked, i = [], None, False, 2
while i < len(args):
    if args[i] == "-H":
        headers.append(args[i + 1]); i += 2
    elif args[i] == "-d":
        body = args[i + 1].encode("utf-8"); i += 2
    elif args[i] == "--zeros":
        body = b"0" * int(args[i + 1]); i += 2
    elif args[i] == "--chunked":
        chunked = True; i += 1
    else:
        sys.exit("http.py: bad argument " + args[i])
u = urlsplit(url)
path = u.path + ("?" + u.query if u.query else "")
s = socket.create_connection((u.hostname, u.port), timeout=10)
head = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (method, path, u.netloc)
for h in headers:
    head += h + "\r\n"
data = b""
if body is not None:
    if chunked:
        head += "Transfer-Encoding: chunked\r\n"
        for k in range(0, len(body), 65536):
            part = body[k:k + 65536]
            data += b"%x\r\n" % len(part) + part + b"\r\n"
        data += b"0\r\n\r\n"
    else:
        head += "Content-Length: %d\r\n" % len(body)
        data = body
s.sendall((head + "\r\n").encode("utf-8"))
off = 0
while off < len(data):
    r, w, _ = select.select([s], [s], [], 10)
    if r:
        break  # the server answered before reading it all (413)
    if w:
        try:
            off += s.send(data[off:off + 65536])
        except (BrokenPipeError, ConnectionResetError):
            break
resp = b""
while True:
    try:
        chunk = s.recv(65536)
    except (ConnectionResetError, socket.timeout):
        break
    if not chunk:
        break
    resp += chunk
hdr, _, content = resp.partition(b"\r\n\r\n")
lines = hdr.decode("latin-1").split("\r\n")
status = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "000"
out = os.environ.get("RESP", "resp")
with open(out + ".head", "w") as f:
    for l in lines[1:]:
        n, _, v = l.partition(":")
        f.write(n.strip().lower() + ": " + v.strip() + "\n")
open(out + ".body", "wb").write(content)
print(status)
EOF
}

# sv_start [ARGS] - start serve (ARGS after serve) on a free loopback port;
# sets SV (base URL) and SVPID; killed when the case ends
sv_start() {
	[ -f "$T/http.py" ] || sv_client
	rm -f "$T/serve.out"
	"$O" -c "$T/o.yaml" serve --listen 127.0.0.1:0 "$@" >"$T/serve.out" 2>"$T/serve.err" &
	SVPID=$!
	SVPIDS="${SVPIDS:-} $SVPID"
	trap 'kill $SVPIDS ${SMTP_PIDS:-} 2>/dev/null' EXIT
	i=0
	while ! grep -q 'listening on' "$T/serve.out" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	SV=$(sed -n 's/^serve: listening on //p' "$T/serve.out")
	[ -n "$SV" ] || fail "serve did not start: $(cat "$T/serve.err")"
}

# sv_stop - SIGTERM; fail unless serve exits 0 within 5 s
sv_stop() {
	kill -TERM "$SVPID"
	i=0
	while kill -0 "$SVPID" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -0 "$SVPID" 2>/dev/null && fail "serve did not stop within 5 s of SIGTERM"
	wait "$SVPID"
	rc=$?
	[ "$rc" = 0 ] || fail "serve exited $rc after SIGTERM, want 0: $(cat "$T/serve.err")"
}

# sv_http METHOD PATH [ARGS] - a request to the server; echoes the status,
# the answer in $T/resp.head and $T/resp.body
sv_http() {
	m=$1
	p=$2
	shift 2
	RESP="$T/resp" "$PY" "$T/http.py" "$m" "$SV$p" -H "User-Agent: $SV_UA" "$@" 2>"$T/http.err" ||
		fail "http.py $m $p: $(tail -n 1 "$T/http.err")"
}

# sv_want CODE METHOD PATH [ARGS] - fail unless the request answers CODE
sv_want() {
	want=$1
	shift
	got=$(sv_http "$@")
	[ "$got" = "$want" ] || fail "$1 $2: $got, want $want: $(head -c 300 "$T/resp.body")"
}

# sv_tok KIND SEND [LINK] - a token signed as track.c signs it
sv_tok() {
	"$PY" -c 'import hashlib, hmac, sys
k, s, l, key = sys.argv[1:5]
m = hmac.new(key.encode(), ("%s.%s.%s" % (k, s, l)).encode(), hashlib.sha256).hexdigest()[:20]
sys.stdout.write("%s%s.%s.%s" % (k, s, l, m))' "$1" "$2" "${3:-0}" "$OUTREACH_SECRET"
}

# sv_q SQL - one sqlite3 query on the case's store
sv_q() {
	sqlite3 "$T/o.db" "$1"
}

# sv_is WHAT GOT WANT
sv_is() {
	[ "$2" = "$3" ] || fail "$1: '$2', want '$3'"
}

# sv_setup CAMPAIGNS - templates in $T/tpl, config with CAMPAIGNS (stdin),
# init, two contacts (c1 zh, c2 en)
sv_setup() {
	mkdir -p "$T/tpl/promo" "$T/tpl/followup" "$T/tpl/care" "$T/tpl/care2"
	printf 'Subject: Offer for {{name}}\n\nHi {{name}}\nShop: https://shop.example.com/sale?utm_source=mail\nUnsubscribe: {{unsubscribe_url}}\nSurvey: {{survey_url}}\n' >"$T/tpl/promo/email.txt"
	printf 'PROMO-SMS {{name}}\n' >"$T/tpl/promo/sms.txt"
	printf 'Subject: Still thinking, {{name}}?\n\nFOLLOWUP-EMAIL {{name}}\n' >"$T/tpl/followup/email.txt"
	printf 'FOLLOWUP-SMS {{name}}\n' >"$T/tpl/followup/sms.txt"
	printf 'Subject: Your order\n\nCARE-EMAIL {{name}}\n' >"$T/tpl/care/email.txt"
	printf 'CARE-SMS {{name}}\n' >"$T/tpl/care/sms.txt"
	printf 'CARE2-SMS {{name}}\n' >"$T/tpl/care2/sms.txt"
	cfg "$T/tpl"
	cat >"$T/contacts.csv" <<'EOF'
id,name,email,phone,timezone,locale
c1,李伟,liwei@example.cn,+8613800138001,Asia/Shanghai,zh
c2,Emma Clarke,emma@example.co.uk,+447700900123,Europe/London,en
EOF
	ok_o init
	ok_o contacts import "$T/contacts.csv"
}

# sv_send_id CONTACT CAMPAIGN STEP(0-based) [CHANNEL] - a send's id
sv_send_id() {
	sv_q "select id from sends where contact_id = '$1' and campaign = '$2' and step = $3 ${4:+and channel = '$4'}"
}

# ---------------------------------------------------------------- cases

# tracked links: forged tokens, the open pixel, a click, the unsubscribe
# page and one-click POST (the follow-up falls through to sms), a survey
c_serve_track() {
	sv_setup <<'EOF'
campaigns:
  promo:
    class: marketing
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: promo}
      - {after: 1d, channels: [email, sms], template: followup}
EOF
	printf '%s\n' '{"id":"p1","contact":"c1","type":"purchase","at":"2026-03-01T09:00:00Z"}' \
		'{"id":"p2","contact":"c2","type":"purchase","at":"2026-03-01T09:00:00Z"}' >"$T/ev.jsonl"
	ok_o events import "$T/ev.jsonl"
	ok_o run --once --now 2026-03-01T09:30:00Z
	s1=$(sv_send_id c1 promo 0)
	s2=$(sv_send_id c2 promo 0)
	[ -n "$s1" ] && [ -n "$s2" ] || fail "no promo sends: $(sv_q 'select id, contact_id, state from sends')"
	# the token in the message is the one the recipe makes
	py find "$T/outbox" liwei@example.cn List-Unsubscribe
	sv_is "c1's List-Unsubscribe" "$(cat "$T/py")" "<http://127.0.0.1:8080/u/$(sv_tok u "$s1")>"
	py find "$T/outbox" liwei@example.cn plain
	grep -qF "/s/$(sv_tok s "$s1")" "$T/py" || fail "c1's message has no survey link: $(cat "$T/py")"
	sv_start --now 2026-03-01T12:00:00Z

	# forged, altered, truncated: 404 and nothing recorded
	good=$(sv_tok o "$s1")
	sv_want 404 GET "/o/o$s1.0.00000000000000000000"
	sv_want 404 GET "/o/$(sv_tok o "$s1" | sed 's/.$/x/')"
	sv_want 404 GET "/o/$(printf '%s' "$good" | cut -c1-12)"
	sv_want 404 GET "/o/$(sv_tok c "$s1")" # a click token on the pixel
	sv_want 404 GET "/o/$(sv_tok o 99999)" # no such send
	sv_want 404 GET "/c/$(sv_tok c "$s1" 1 | sed 's/\.1\./.2./')"
	sv_want 404 POST "/u/$(sv_tok u "$s1" | sed 's/^u/u1/')" -d 'List-Unsubscribe=One-Click'
	sv_is "events after forged tokens" "$(sv_q "select count(*) from events where type <> 'purchase'")" 0
	sv_is "subscriptions after forged tokens" "$(sv_q 'select count(*) from subscriptions')" 0

	# the pixel: a GIF, the first open recorded once
	sv_want 200 GET "/o/$good"
	grep -qi '^content-type: image/gif' "$T/resp.head" || fail "pixel: $(cat "$T/resp.head")"
	grep -qi '^cache-control: no-store' "$T/resp.head" || fail "pixel is cacheable: $(cat "$T/resp.head")"
	head -c 6 "$T/resp.body" | grep -q GIF89a || fail "pixel body is not a GIF"
	sv_is "pixel size" "$(wc -c <"$T/resp.body" | tr -d ' ')" 43
	sv_want 200 GET "/o/$good"
	sv_is "opened events of $s1" "$(sv_q "select count(*) from events where type = 'opened' and send_id = $s1")" 1
	sv_is "opened by a person" "$(sv_q "select json_extract(data, '\$.machine') from events where type = 'opened'")" 0

	# a click: 302 to exactly the stored link, whatever the request says
	# the worker recorded the message's link when it rewrote it
	sv_is "link 1 of $s1" "$(sv_q "select url from links where send_id = $s1 and idx = 1")" 'https://shop.example.com/sale?utm_source=mail'
	sv_want 302 GET "/c/$(sv_tok c "$s1" 1)?url=https://evil.example/"
	sv_is "Location" "$(sed -n 's/^location: //p' "$T/resp.head")" 'https://shop.example.com/sale?utm_source=mail'
	sv_want 302 GET "/c/$(sv_tok c "$s1" 1)"
	sv_want 404 GET "/c/$(sv_tok c "$s1" 2)" # the message had no link 2
	sv_want 404 GET "/c/$(sv_tok c "$s2" 9)" # nor a link 9 of c2's
	sv_is "clicked events" "$(sv_q "select count(*) from events where type = 'clicked' and send_id = $s1")" 2

	# the unsubscribe page in each contact's language
	sv_want 200 GET "/u/$(sv_tok u "$s1")"
	grep -qF '确定退订营销邮件吗' "$T/resp.body" || fail "c1's page is not Chinese: $(head -c 400 "$T/resp.body")"
	grep -qF 'name="List-Unsubscribe" value="One-Click"' "$T/resp.body" || fail "c1's page has no one-click form"
	sv_want 200 GET "/u/$(sv_tok u "$s2")"
	grep -qF 'Unsubscribe from marketing email?' "$T/resp.body" || fail "c2's page is not English: $(head -c 400 "$T/resp.body")"
	sv_is "subscriptions after GET" "$(sv_q 'select count(*) from subscriptions')" 0
	# one-click, twice: unsubscribed once
	sv_want 400 POST "/u/$(sv_tok u "$s1")" -H 'Content-Type: application/x-www-form-urlencoded' -d 'List-Unsubscribe=Later'
	for i in 1 2; do
		sv_want 200 POST "/u/$(sv_tok u "$s1")" -H 'Content-Type: application/x-www-form-urlencoded' -d 'List-Unsubscribe=One-Click'
	done
	grep -qF '您已成功退订' "$T/resp.body" || fail "c1's confirmation: $(head -c 400 "$T/resp.body")"
	sv_is "c1 email marketing" "$(sv_q "select subscribed from subscriptions where contact_id = 'c1' and channel = 'email' and class = 'marketing'")" 0
	sv_is "unsubscribed events" "$(sv_q "select count(*) || ' ' || max(send_id) from events where type = 'unsubscribed'")" "1 $s1"

	# the survey
	sv_want 200 GET "/s/$(sv_tok s "$s2")"
	grep -qF 'name="score"' "$T/resp.body" || fail "survey page has no score"
	sv_want 400 POST "/s/$(sv_tok s "$s2")" -d 'score=42'
	sv_want 200 POST "/s/$(sv_tok s "$s2")" -H 'Content-Type: application/x-www-form-urlencoded' -d 'score=9&comment=Great+service%21'
	sv_is "survey_response" "$(sv_q "select data from events where type = 'survey_response' and send_id = $s2")" '{"comment":"Great service!","score":9}'

	# the follow-up: c1 left marketing email, so it falls through to sms
	ok_o run --once --now 2026-03-02T10:00:00Z
	py find "$T/outbox" liwei@example.cn count
	sv_is "emails to c1" "$(cat "$T/py")" 1
	py find "$T/outbox" +8613800138001 text
	sv_is "c1's follow-up" "$(cat "$T/py")" 'FOLLOWUP-SMS 李伟'
	py find "$T/outbox" emma@example.co.uk count
	sv_is "emails to c2" "$(cat "$T/py")" 2
	sv_is "c1's follow-up channel" "$(sv_q "select state || ' ' || channel from sends where id = $(sv_send_id c1 promo 1)")" 'sent sms'
}

# inbound SMS (reply, STOP, unknown number), an email reply by
# In-Reply-To, receipts; then the run that follows honours them
c_serve_inbound() {
	sv_setup <<'EOF'
campaigns:
  care:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [sms], template: care}
      - {after: 7d, channels: [sms], template: care2, unless: [replied]}
  mail:
    class: transactional
    trigger: {event: signup}
    steps:
      - {after: 0h, channels: [email], template: care}
  promo:
    class: marketing
    trigger: {event: purchase}
    steps:
      - {after: 2d, channels: [sms], template: promo}
EOF
	printf '%s\n' '{"id":"p1","contact":"c1","type":"purchase","at":"2026-03-01T09:00:00Z"}' \
		'{"id":"p2","contact":"c2","type":"purchase","at":"2026-03-01T09:00:00Z"}' \
		'{"id":"s2","contact":"c2","type":"signup","at":"2026-03-01T09:00:00Z"}' >"$T/ev.jsonl"
	ok_o events import "$T/ev.jsonl"
	ok_o run --once --now 2026-03-01T09:30:00Z
	sms1=$(sv_send_id c1 care 0)
	sms2=$(sv_send_id c2 care 0)
	mail2=$(sv_send_id c2 mail 0)
	sv_is "care and mail sent" "$(sv_q "select count(*) from sends where state = 'sent'")" 3
	sv_start --now 2026-03-01T12:00:00Z

	# a reply from c1, the number written with spaces
	sv_want 200 POST /inbound/sms -H 'Content-Type: application/json' -d '{"from":"+86 138 0013 8001","text":"什么时候发货？"}'
	grep -q '"status":"reply"' "$T/resp.body" || fail "reply: $(cat "$T/resp.body")"
	sv_is "c1's reply" "$(sv_q "select send_id || ' ' || json_extract(data, '\$.text') from events where type = 'replied' and contact_id = 'c1'")" "$sms1 什么时候发货？"
	# STOP from c2, as a form, with spaces around
	sv_want 200 POST /inbound/sms -H 'Content-Type: application/x-www-form-urlencoded' -d 'from=%2B447700900123&text=+stop+'
	grep -q '"status":"stop"' "$T/resp.body" || fail "STOP: $(cat "$T/resp.body")"
	sv_is "c2 sms marketing" "$(sv_q "select subscribed from subscriptions where contact_id = 'c2' and channel = 'sms' and class = 'marketing'")" 0
	# an unknown number: accepted and kept, not an event
	sv_want 202 POST /inbound/sms -d '{"from":"+15550001111","text":"who is this?"}'
	sv_is "unmatched" "$(sv_q "select sender || ' ' || text from inbound where kind = 'unmatched'")" '+15550001111 who is this?'
	sv_is "inbound rows" "$(sv_q "select group_concat(kind, ',') from inbound")" 'reply,stop,unmatched'
	sv_want 400 POST /inbound/sms -d '{"from":"+15550001111",'
	sv_want 400 POST /inbound/sms -H 'Content-Type: application/json' -d '{"text":"no sender"}'
	sv_want 415 POST /inbound/sms -H 'Content-Type: text/csv' -d 'a,b'
	sv_want 405 GET /inbound/sms

	# an email reply: matched by In-Reply-To to the stored Message-ID
	mid=$(sv_q "select message_id from sends where id = $mail2")
	case "$mid" in '<'*'>') ;; *) fail "c2's mail has no Message-ID: '$mid'" ;; esac
	py find "$T/outbox" emma@example.co.uk Message-ID
	sv_is "Message-ID in the mail" "$(cat "$T/py")" "$mid"
	sv_want 200 POST /inbound/email -H 'Content-Type: application/json' \
		-d "{\"from\":\"Someone Else <other@example.net>\",\"subject\":\"Re: Your order\",\"text\":\"Thanks!\",\"in_reply_to\":\"$mid\"}"
	sv_is "c2's email reply" "$(sv_q "select contact_id || ' ' || send_id || ' ' || json_extract(data, '\$.channel') from events where type = 'replied' and json_extract(data, '\$.text') = 'Thanks!'")" "c2 $mail2 email"

	# receipts
	pid1=$(sv_q "select provider_id from sends where id = $sms1")
	pid2=$(sv_q "select provider_id from sends where id = $sms2")
	[ -n "$pid1" ] || fail "c1's sms has no provider id"
	sv_want 200 POST /dlr/sms -H 'Content-Type: application/json' -d "{\"message_id\":\"$pid1\",\"status\":\"DELIVRD\"}"
	sv_is "c1's sms" "$(sv_q "select state from sends where id = $sms1")" delivered
	sv_is "c1's history" "$(sv_q "select state from send_log where send_id = $sms1 order by id desc limit 1")" delivered
	sv_want 200 POST /dlr/sms -d "message_id=$pid2&status=EXPIRED"
	sv_is "c2's sms" "$(sv_q "select state from sends where id = $sms2")" bounced
	sv_is "c2's bounce" "$(sv_q "select data from events where type = 'bounced'")" '{"hard":false,"status":"EXPIRED"}'
	sv_want 404 POST /dlr/sms -d '{"message_id":"no-such-id","status":"DELIVRD"}'
	sv_want 404 POST /dlr/nosuch -d "{\"message_id\":\"$pid1\",\"status\":\"DELIVRD\"}"
	sv_want 400 POST /dlr/sms -d "{\"message_id\":\"$pid1\",\"status\":\"MAYBE\"}"
	sv_is "delivered events" "$(sv_q "select count(*) from events where type = 'delivered'")" 1

	# the next run: both replied (by sms, by email): the follow-ups with
	# unless: [replied] are cancelled; c2 said STOP: no marketing sms
	ok_o run --once --now 2026-03-09T10:00:00Z
	st=$(sv_q "select state || ': ' || reason from sends where contact_id = 'c1' and campaign = 'care' and step = 1")
	case "$st" in 'cancelled: replied at 2026-03-01T12:0'*) ;; *) fail "c1's care follow-up: '$st'" ;; esac
	sv_is "c2's care follow-up" "$(sv_q "select state from sends where contact_id = 'c2' and campaign = 'care' and step = 1")" cancelled
	sv_is "c1's promo" "$(sv_q "select state from sends where contact_id = 'c1' and campaign = 'promo'")" sent
	sv_is "c2's promo" "$(sv_q "select state from sends where contact_id = 'c2' and campaign = 'promo'")" suppressed
}

# the API (bearer token, all or nothing, wakes the campaigns), limits,
# health, metrics, start-up refusals and a clean SIGTERM
c_serve_api() {
	sv_setup <<'EOF'
campaigns:
  thanks:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: care}
EOF
	# no secret: refused with one line, exit 2
	OUTREACH_SECRET='' "$O" -c "$T/o.yaml" serve --listen 127.0.0.1:0 >"$T/out" 2>"$T/err"
	sv_is "serve without a secret" "$?" 2
	sv_is "its stderr lines" "$(wc -l <"$T/err" | tr -d ' ')" 1
	err_has OUTREACH_SECRET "serve without a secret"
	expect_rc 2 serve --listen nonsense
	# no API token: the API is disabled
	(
		unset OUTREACH_API_TOKEN
		sv_start
		sv_want 503 POST /api/events -H 'Authorization: Bearer x' -d '{}'
		grep -q 'API disabled' "$T/resp.body" || fail "503 without a reason: $(cat "$T/resp.body")"
		sv_stop
	) || exit 1
	export OUTREACH_API_TOKEN=e2e-api-token
	sv_start --now 2026-03-01T11:00:00Z
	ev='[{"id":"api-1","contact":"c1","type":"purchase","at":"2026-03-01T11:00:00Z","data":{"amount":100}}]'
	sv_want 401 POST /api/events -H 'Content-Type: application/json' -d "$ev"
	grep -qi '^www-authenticate: bearer' "$T/resp.head" || fail "401 without a challenge"
	sv_want 401 POST /api/events -H 'Authorization: Bearer wrong' -H 'Content-Type: application/json' -d "$ev"
	sv_is "events after 401" "$(sv_q 'select count(*) from events')" 0
	A="Authorization: Bearer $OUTREACH_API_TOKEN"
	sv_want 400 POST /api/events -H "$A" -H 'Content-Type: application/json' -d '{"contact":'
	grep -q 'invalid JSON' "$T/resp.body" || fail "bad JSON: $(cat "$T/resp.body")"
	sv_want 400 POST /api/events -H "$A" -H 'Content-Type: application/json' \
		-d '[{"contact":"c1","type":"purchase"},{"contact":"c2","type":"Not A Type"}]'
	grep -q 'record 2: invalid type' "$T/resp.body" || fail "bad record: $(cat "$T/resp.body")"
	sv_want 400 POST /api/events -H "$A" -d '[{"contact":"c1","type":"purchase"},{"contact":"ghost","type":"purchase"}]'
	grep -q 'record 2: unknown contact' "$T/resp.body" || fail "unknown contact: $(cat "$T/resp.body")"
	sv_is "events after 400s" "$(sv_q 'select count(*) from events')" 0
	sv_want 200 POST /api/events -H "$A" -H 'Content-Type: application/json' -d "$ev"
	grep -q '"added":1' "$T/resp.body" || fail "events API: $(cat "$T/resp.body")"
	sv_want 200 POST /api/events -H "$A" -H 'Content-Type: application/json' -d "$ev"
	grep -q '"duplicates":1' "$T/resp.body" || fail "events API again: $(cat "$T/resp.body")"
	sv_is "the event" "$(sv_q "select contact_id || ' ' || type || ' ' || json_extract(data, '\$.amount') from events")" 'c1 purchase 100'
	sv_want 200 POST /api/contacts -H "$A" -d '{"id":"c9","name":"New Person","email":"new@example.com","tier":"gold"}'
	sv_want 400 POST /api/contacts -H "$A" -d '[{"id":"c10","email":"bob@"}]'
	grep -q 'record 1: invalid email' "$T/resp.body" || fail "bad contact: $(cat "$T/resp.body")"
	ok_o contacts show c9
	grep -q 'new@example.com' "$T/out" || fail "c9 not stored: $(cat "$T/out")"
	# limits: a body over 1 MiB, declared or chunked
	sv_want 413 POST /api/events -H "$A" --zeros 1100000
	sv_want 413 POST /inbound/sms --zeros 1100000 --chunked
	sv_want 404 GET /nothing
	# the purchase pushed through the API starts the campaign
	ok_o run --once --now 2026-03-01T11:30:00Z
	py find "$T/outbox" liwei@example.cn plain
	sv_is "thanks to c1" "$(cat "$T/py")" 'CARE-EMAIL 李伟'
	sv_want 200 GET /healthz
	sv_is "healthz" "$(cat "$T/resp.body")" ok
	sv_want 200 GET /metrics
	for want in '# TYPE outreach_sends gauge' 'outreach_sends{state="sent",transport="email"} 1' \
		'outreach_attempts_total{status="ok",transport="email"} 1' \
		'outreach_events_total{type="purchase"} 1' 'outreach_queue_depth 0' \
		'# TYPE outreach_send_lag_seconds histogram' 'outreach_send_lag_seconds_count 1' \
		'outreach_http_requests_total{endpoint="api_events",code="401"} 2' \
		'outreach_http_requests_total{endpoint="api_events",code="413"} 1' \
		'outreach_http_requests_total{endpoint="inbound_sms",code="413"} 1' \
		'# TYPE outreach_http_request_duration_seconds histogram'; do
		grep -qF "$want" "$T/resp.body" || fail "/metrics lacks '$want'"
	done
	grep -qi '^content-type: text/plain; version=0.0.4' "$T/resp.head" || fail "/metrics content type: $(cat "$T/resp.head")"
	grep -q "$OUTREACH_API_TOKEN\|$OUTREACH_SECRET" "$T/serve.err" && fail "a secret in serve's log"
	sv_stop
}

ALL="$ALL c_serve_track c_serve_inbound c_serve_api"
