# tests/e2e/cases_serve_guard.sh - `outreach serve` hardening end to end:
# the uid drop (read from /proc/PID/status), the per-address connection
# limit, 429 past the request rate with Retry-After and recovery after,
# and that no request makes the server connect anywhere or open a file
# it names.
#
# Sourced by tests/e2e/run.sh; uses cases_serve.sh's helpers (sv_setup,
# sv_start, sv_http, sv_want, sv_stop, sv_tok, sv_q), sourced before this
# file. Clients bind other loopback addresses (127.0.0.2, ...: all of
# 127/8 is the loopback interface on Linux) to stand for other clients.

# The suite runs as root on stores in root's temporary folders, where a
# serve that became nobody could not write: run.sh lets the other serve
# cases keep root ($OUTREACH_SERVE_ALLOW_ROOT=1, only honoured when no
# serve.user or --user is named); the cases below unset it to test the
# real default.

# sg_client - write $T/guard.py, the cases' raw-socket client and probes
sg_client() {
	cat >"$T/guard.py" <<'EOF'
"""guard.py COMMAND ...: raw HTTP/1.1 clients that choose their source
address, and the probes that record what the server must never do."""
import os, socket, stat, sys, threading, time


def request(port, method, path, headers=(), body=b"", src="127.0.0.1", timeout=5):
    """(status, {header: value}, body); status 0 when the connection was
    closed or reset without an answer, -1 when nothing came in time"""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (method, path, port)
    for h in headers:
        head += h + "\r\n"
    if body:
        head += "Content-Length: %d\r\n" % len(body)
    try:
        s.sendall(head.encode("utf-8") + b"\r\n" + body)
    except OSError:
        return 0, {}, b""
    return answer(s)


def answer(s):
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        if not data:
            return -1, {}, b""
    except OSError:
        pass
    s.close()
    if not data:
        return 0, {}, b""
    hdr, _, content = data.partition(b"\r\n\r\n")
    lines = hdr.decode("latin-1").split("\r\n")
    hs = {}
    for l in lines[1:]:
        n, _, v = l.partition(":")
        hs[n.strip().lower()] = v.strip()
    return int(lines[0].split(" ")[1]), hs, content


def idle(port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "burst":
    # burst PORT N PATH [SRC] [HEADER]: N requests at once; the statuses
    # and, for the last 429, its Retry-After
    port, n, path = int(args[0]), int(args[1]), args[2]
    src = args[3] if len(args) > 3 else "127.0.0.1"
    hdrs = [args[4]] if len(args) > 4 else []
    out, ra = [], "-"
    for _ in range(n):
        st, hs, body = request(port, "GET", path, hdrs, src=src)
        out.append(str(st))
        if st == 429:
            ra = hs.get("retry-after", "none")
    print(" ".join(out), ra)
elif cmd == "post":
    # post PORT PATH BODY [SRC] [HEADER]...: one POST; the status
    port, path, body = int(args[0]), args[1], args[2].encode("utf-8")
    src = args[3] if len(args) > 3 else "127.0.0.1"
    st, hs, b = request(port, "POST", path, args[4:], body, src=src)
    print(st)
elif cmd == "get":
    # get PORT PATH SRC FILE: one GET; the status, the body into FILE
    st, hs, body = request(int(args[0]), "GET", args[1], src=args[2])
    open(args[3], "wb").write(body)
    print(st)
elif cmd == "conns":
    # conns PORT LIMIT: LIMIT idle connections from 127.0.0.1, then one
    # request more from there (must get no answer), one from 127.0.0.2
    # (must be served), then one of the idle ones closes and 127.0.0.1
    # is served again
    port, limit = int(args[0]), int(args[1])
    held = [idle(port, "127.0.0.1") for _ in range(limit)]
    time.sleep(0.3)  # the server has accepted them
    over, _, _ = request(port, "GET", "/healthz", timeout=2)
    other, _, _ = request(port, "GET", "/healthz", src="127.0.0.2")
    held.pop().close()
    time.sleep(0.3)
    again, _, _ = request(port, "GET", "/healthz")
    for s in held:
        s.close()
    print(over, other, again)
elif cmd == "recorder":
    # recorder PORTFILE LOG: accept on a free loopback port forever; one
    # line in LOG per connection (what a server that fetched would make)
    portfile, log = args
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    open(log, "w").close()
    with open(portfile + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    while True:
        c, a = ls.accept()
        with open(log, "a") as f:
            f.write("connection from %s:%d\n" % a)
        c.close()
elif cmd == "fifowatch":
    # fifowatch FIFO LOG: a line in LOG whenever somebody has FIFO open
    # for reading (a writer may then open it without blocking)
    fifo, log = args
    os.mkfifo(fifo, 0o666)
    open(log, "w").close()
    open(log + ".ready", "w").close()
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            time.sleep(0.005)
            continue
        with open(log, "a") as f:
            f.write("opened for reading\n")
        os.close(fd)
        time.sleep(0.05)
else:
    sys.exit("guard.py: unknown command " + cmd)
EOF
}

# sg_port - the port of $SV
sg_port() {
	echo "${SV##*:}"
}

# sg_status PID - the Uid:, Gid: and Groups: lines of /proc/PID/status
sg_status() {
	grep -E '^(Uid|Gid|Groups):' "/proc/$1/status" | tr -s ' \t' ' '
}

# a started-as-root serve becomes nobody (no user named), or serve.user
# (here nobody too, through the config); the store then belongs to it and
# it writes there; a missing user, uid 0 or an unwritable store is refused
c_serve_guard_uid() {
	unset OUTREACH_SERVE_ALLOW_ROOT
	export OUTREACH_API_TOKEN=e2e-api-token
	[ "$(id -u)" = 0 ] || fail "this case needs root (the suite runs as root here)"
	id nobody >/dev/null 2>&1 || fail "no user nobody on this machine"
	sv_setup <<'EOF'
campaigns:
  care:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [sms], template: care}
EOF
	# a folder only nobody may enter, with the store in it
	D=$(mktemp -d "${TMPDIR:-/tmp}/outreach-uid.XXXXXX") || fail "mktemp"
	trap 'kill $SVPIDS 2>/dev/null; rm -rf "$D"' EXIT
	SVPIDS=""
	on_pg || cp "$T/o.db" "$D/o.db"
	chown -R nobody "$D"
	chmod 700 "$D"
	sed "s|^store: .*|store: $D/o.db|" "$T/o.yaml" >"$T/o2.yaml" && mv "$T/o2.yaml" "$T/o.yaml"
	sv_start
	st=$(sg_status "$SVPID")
	nob=$(id -u nobody)
	nog=$(id -g nobody)
	echo "$st" | grep -qx "Uid: $nob $nob $nob $nob" || fail "serve runs as: $st (want uid $nob everywhere)"
	echo "$st" | grep -qx "Gid: $nog $nog $nog $nog" || fail "serve's groups: $st (want gid $nog everywhere)"
	echo "$st" | grep -q '^Groups: .*\b0\b' && fail "serve kept group root: $st"
	grep -q 'running as user nobody' "$T/serve.err" || fail "no log line about the user: $(cat "$T/serve.err")"
	# it writes: an unmatched inbound sms is kept
	sv_want 202 POST /inbound/sms -H 'Content-Type: application/json' -d '{"from":"+15550001111","text":"hello"}'
	# and the API (its body is staged in a memfd read back through /proc/self/fd)
	sv_want 200 POST /api/events -H "Authorization: Bearer $OUTREACH_API_TOKEN" -H 'Content-Type: application/json' \
		-d '{"id":"u1","contact":"c1","type":"purchase","at":"2026-03-01T11:00:00Z"}'
	grep -q '"added":1' "$T/resp.body" || fail "events API as nobody: $(cat "$T/resp.body")"
	if ! on_pg; then
		n=$(sqlite3 "$D/o.db" 'select count(*) from inbound')
		sv_is "inbound rows written by nobody" "$n" 1
		[ ! -e "$D/o.db-wal" ] || [ "$(stat -c %U "$D/o.db-wal")" = nobody ] ||
			fail "the -wal file belongs to $(stat -c %U "$D/o.db-wal"), want nobody"
	fi
	sv_stop
	# the same through serve.user
	printf 'serve:\n  user: nobody\n' >>"$T/o.yaml"
	sv_start
	sg_status "$SVPID" | grep -qx "Uid: $nob $nob $nob $nob" || fail "serve.user nobody: $(sg_status "$SVPID")"
	sv_stop
	# refused: a missing user (config or --user), uid 0: exit 2, one line
	"$O" -c "$T/o.yaml" serve --listen 127.0.0.1:0 --user no-such-user-x >"$T/out" 2>"$T/err"
	sv_is "serve --user no-such-user-x" "$?" 2
	sv_is "its stderr lines" "$(wc -l <"$T/err" | tr -d ' ')" 1
	err_has 'user "no-such-user-x" does not exist: refusing to run as root' "--user no-such-user-x"
	sed 's|^  user: nobody|  user: ghost-user-y|' "$T/o.yaml" >"$T/o3.yaml"
	"$O" -c "$T/o3.yaml" serve --listen 127.0.0.1:0 >"$T/out" 2>"$T/err"
	sv_is "serve.user ghost-user-y" "$?" 2
	err_has 'user "ghost-user-y" does not exist' "serve.user ghost-user-y"
	"$O" -c "$T/o.yaml" serve --listen 127.0.0.1:0 --user root >"$T/out" 2>"$T/err"
	sv_is "serve --user root" "$?" 2
	err_has 'has uid 0: refusing to run as root' "--user root"
	# a store nobody may not write: exit 1, the reason named (SQLite)
	if ! on_pg; then
		sed "s|^store: .*|store: $T/o.db|" "$T/o.yaml" >"$T/o4.yaml"
		"$O" -c "$T/o4.yaml" serve --listen 127.0.0.1:0 >"$T/out" 2>"$T/err"
		sv_is "serve on root's store as nobody" "$?" 1
		err_has "is not writable by user nobody" "root's store"
		err_has "must be writable by the serve user" "root's store"
		chmod 755 "$D"
		chown root "$D/o.db"
		"$O" -c "$T/o.yaml" serve --listen 127.0.0.1:0 >"$T/out" 2>"$T/err"
		sv_is "serve with a store file of root's" "$?" 1
		err_has "store file $D/o.db is not writable by user nobody" "root's store file"
	fi
	# bad serve: values are the config's errors, FILE:LINE
	on_pg && cp "$T/o.yaml" "$T/o4.yaml" # (on SQLite o4.yaml is the config above)
	cat >>"$T/o4.yaml" <<'EOF'
  rate: fast
  burst: 0
  max_connections_per_ip: many
  timeout: 2d
  trusted_proxies: [10.0.0.1, not-an-address, 10.0.0.0/33]
EOF
	expect_rc 2 -c "$T/o4.yaml" check
	l=$(grep -n 'rate: fast' "$T/o4.yaml" | cut -d: -f1)
	for want in "o4.yaml:$l: serve: bad rate \"fast\"" "o4.yaml:$((l + 1)): serve: burst must be" \
		"o4.yaml:$((l + 2)): serve: max_connections_per_ip must be" "o4.yaml:$((l + 3)): serve: timeout must be" \
		"serve: trusted_proxies: \"not-an-address\" is not an IP address" \
		"serve: trusted_proxies: \"10.0.0.0/33\" is not"; do
		grep -qF "$want" "$T/err" || fail "check lacks '$want': $(cat "$T/err")"
	done
}

# connections per client address: past serve.max_connections_per_ip the
# server takes no request from that address, another address is served,
# and a freed connection lets the first in again
c_serve_guard_conns() {
	sv_setup </dev/null
	printf 'serve:\n  max_connections_per_ip: 3\n  rate: off\n' >>"$T/o.yaml"
	sg_client
	sv_start
	"$PY" "$T/guard.py" conns "$(sg_port)" 3 >"$T/py" 2>"$T/py.err" || fail "guard.py conns: $(cat "$T/py.err")"
	set -- $(cat "$T/py")
	[ "$1" = 0 ] || [ "$1" = -1 ] || fail "a 4th connection from 127.0.0.1 was answered $1 (limit 3)"
	sv_is "a request from 127.0.0.2 meanwhile" "$2" 200
	sv_is "127.0.0.1 after one of its connections closed" "$3" 200
	sv_stop
}

# the request rate per client address: past the burst 429 with
# Retry-After (the API too, recording nothing); other addresses are not
# slowed; X-Forwarded-For counts only from a trusted proxy; a second later
# the client is served again
c_serve_guard_rate() {
	sv_setup </dev/null
	printf 'serve:\n  rate: 60/m\n  burst: 5\n  trusted_proxies: [127.0.0.4]\n' >>"$T/o.yaml"
	export OUTREACH_API_TOKEN=e2e-api-token
	sg_client
	sv_start
	p=$(sg_port)
	g() { "$PY" "$T/guard.py" "$@" 2>"$T/py.err" || fail "guard.py $1: $(cat "$T/py.err")"; }
	sv_is "8 requests at once from 127.0.0.1" "$(g burst "$p" 8 /healthz)" "200 200 200 200 200 429 429 429 1"
	ev='{"id":"r1","contact":"c1","type":"purchase","at":"2026-03-01T11:00:00Z"}'
	sv_is "the API past the rate" "$(g post "$p" /api/events "$ev" 127.0.0.1 "Authorization: Bearer $OUTREACH_API_TOKEN" 'Content-Type: application/json')" 429
	sv_is "events stored by a 429" "$(sv_q "select count(*) from events where dedup = 'id:r1'")" 0
	# a forged X-Forwarded-For from an untrusted peer changes nothing
	sv_is "spoofed X-Forwarded-For" "$(g burst "$p" 1 /healthz 127.0.0.1 'X-Forwarded-For: 203.0.113.9')" "429 1"
	sv_is "another address" "$(g burst "$p" 5 /healthz 127.0.0.2)" "200 200 200 200 200 -"
	# behind the trusted proxy 127.0.0.4 each forwarded client has its own bucket
	sv_is "client A through the proxy" "$(g burst "$p" 6 /healthz 127.0.0.4 'X-Forwarded-For: 198.51.100.7')" "200 200 200 200 200 429 1"
	sv_is "client B through the proxy" "$(g burst "$p" 2 /healthz 127.0.0.4 'X-Forwarded-For: 198.51.100.7, 198.51.100.8')" "200 200 -"
	sleep 1.2
	sv_is "127.0.0.1 a second later" "$(g burst "$p" 2 /healthz)" "200 429 1"
	sv_is "the API a second later" "$(g post "$p" /api/events "$ev" 127.0.0.3 "Authorization: Bearer $OUTREACH_API_TOKEN" 'Content-Type: application/json')" 200
	sv_is "/metrics from 127.0.0.6" "$(g get "$p" /metrics 127.0.0.6 "$T/metrics")" 200
	grep -q 'outreach_http_requests_total{endpoint="healthz",code="429"}' "$T/metrics" ||
		fail "/metrics does not count the 429s: $(grep requests_total "$T/metrics")"
	sv_stop
}

# no request makes the server fetch or open what it names: a URL of a
# local listener that logs every connection and the path of a FIFO that
# logs every open for reading go into every field a request has (path,
# query, headers, form and JSON fields of every endpoint, event data,
# contact attributes); neither probe may see anything, and each is shown
# to work at the end. serve stays root here ($OUTREACH_SERVE_ALLOW_ROOT):
# as nobody it could not open files in the case's folder anyway.
c_serve_guard_nofetch() {
	sv_setup <<'EOF'
campaigns:
  promo:
    class: marketing
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: promo}
EOF
	printf '%s\n' '{"id":"p1","contact":"c1","type":"purchase","at":"2026-03-01T09:00:00Z"}' >"$T/ev.jsonl"
	ok_o events import "$T/ev.jsonl"
	ok_o run --once --now 2026-03-01T09:30:00Z
	s1=$(sv_send_id c1 promo 0)
	[ -n "$s1" ] || fail "no promo send: $(sv_q 'select id, contact_id, state from sends')"
	sg_client
	"$PY" "$T/guard.py" recorder "$T/rport" "$T/rec.log" 2>"$T/rec.err" &
	SVPIDS="${SVPIDS:-} $!"
	"$PY" "$T/guard.py" fifowatch "$T/trap.fifo" "$T/fifo.log" 2>"$T/fifo.err" &
	SVPIDS="$SVPIDS $!"
	trap 'kill $SVPIDS 2>/dev/null' EXIT
	i=0
	while { [ ! -s "$T/rport" ] || [ ! -e "$T/fifo.log.ready" ]; } && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -s "$T/rport" ] && [ -e "$T/fifo.log.ready" ] || fail "the probes did not start: $(cat "$T/rec.err" "$T/fifo.err")"
	export OUTREACH_API_TOKEN=e2e-api-token
	sv_start --now 2026-03-01T12:00:00Z
	RP=$(cat "$T/rport")
	U="http://127.0.0.1:$RP/fetch-me"
	F="$T/trap.fifo"
	UE=$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$U")
	FE=$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$F")
	Q="url=$UE&redirect=$UE&next=$UE&return_to=$UE&callback=$UE&file=$FE&path=$FE&template=$FE&src=file%3A%2F%2F$FE"
	# r CODE METHOD PATH [ARGS]: every request also names the URL and the
	# path in every header a server might follow
	r() {
		want=$1
		shift
		got=$(sv_http "$@" -H "Referer: $U" -H "Origin: $U" -H "X-Forwarded-Host: 127.0.0.1:$RP" \
			-H "Forwarded: for=127.0.0.1;host=127.0.0.1:$RP" -H "Link: <$U>; rel=preload" \
			-H "Content-Location: $U" -H "Location: $U" -H "Callback: <$U>" -H "X-Original-URL: $F" \
			-H "X-Rewrite-URL: $F" -H "X-Include: $F" -H "Accept-Language: ../../../$F")
		[ "$got" = "$want" ] || fail "$1 $2: $got, want $want: $(head -c 300 "$T/resp.body")"
		grep -qF "$RP" "$T/resp.head" && fail "$1 $2: the answer's headers name the URL: $(cat "$T/resp.head")"
		return 0
	}
	A="Authorization: Bearer $OUTREACH_API_TOKEN"
	J='Content-Type: application/json'
	r 404 GET "/c/$UE"
	r 404 GET "/$FE"
	r 404 GET "/o/..%2F..%2F..$FE"
	r 404 GET "/c/$(sv_tok c 99999 1)?$Q"
	r 302 GET "/c/$(sv_tok c "$s1" 1)?$Q"
	sv_is "the click's Location" "$(sed -n 's/^location: //p' "$T/resp.head")" "https://shop.example.com/sale?utm_source=mail"
	r 200 GET "/o/$(sv_tok o "$s1")?$Q"
	r 200 GET "/u/$(sv_tok u "$s1")?$Q"
	r 400 POST "/u/$(sv_tok u "$s1")?$Q" -d "List-Unsubscribe=$UE"
	r 200 GET "/s/$(sv_tok s "$s1")?$Q"
	r 200 POST "/s/$(sv_tok s "$s1")?$Q" -d "score=9&comment=$UE+file%3A%2F%2F$FE&template=$FE&redirect=$UE"
	r 202 POST "/inbound/sms?$Q" -H "$J" -d "{\"from\":\"$U\",\"text\":\"see $U or file://$F\",\"media_url\":\"$U\"}"
	r 202 POST "/inbound/email?$Q" -H "$J" \
		-d "{\"from\":\"x@127.0.0.1\",\"subject\":\"$U\",\"text\":\"<img src='$U'> file://$F\",\"in_reply_to\":\"<$U>\",\"attachment\":\"$F\"}"
	r 400 POST "/dlr/sms?$Q" -H "$J" -d "{\"message_id\":\"$U\",\"status\":\"$F\",\"callback_url\":\"$U\"}"
	r 404 POST "/dlr/$FE?$Q" -H "$J" -d "{\"message_id\":\"$F\",\"status\":\"delivered\"}"
	r 200 POST "/api/events?$Q" -H "$A" -H "$J" \
		-d "{\"id\":\"nf1\",\"contact\":\"c1\",\"type\":\"clicked\",\"at\":\"2026-03-01T11:00:00Z\",\"data\":{\"url\":\"$U\",\"callback\":\"$U\",\"template\":\"$F\",\"file\":\"file://$F\"}}"
	r 200 POST "/api/contacts?$Q" -H "$A" -H "$J" \
		-d "{\"id\":\"c7\",\"email\":\"c7@example.com\",\"avatar\":\"$U\",\"webhook\":\"$U\",\"template\":\"$F\",\"photo\":\"file://$F\"}"
	r 200 GET "/healthz?$Q"
	r 200 GET "/metrics?$Q"
	sleep 0.3
	[ -s "$T/rec.log" ] && fail "serve connected to a URL named in a request: $(cat "$T/rec.log")"
	[ -s "$T/fifo.log" ] && fail "serve opened a file named in a request: $(cat "$T/fifo.log")"
	# the probes see what they are there to see
	"$PY" "$T/guard.py" get "$RP" /probe 127.0.0.1 "$T/probe.body" >/dev/null 2>&1
	"$PY" -c 'import os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK); time.sleep(0.3); os.close(fd)' "$F"
	sleep 0.1
	grep -q 'connection from' "$T/rec.log" || fail "the listener probe does not record a connection"
	grep -q 'opened for reading' "$T/fifo.log" || fail "the FIFO probe does not record an open"
	sv_stop
}

ALL="$ALL c_serve_guard_uid c_serve_guard_conns c_serve_guard_rate c_serve_guard_nofetch"
