# tests/e2e/cases_smtp.sh - the smtp transport end to end (sourced by run.sh)
#
# Each case starts tests/e2e/smtpd.py (aiosmtpd) on a loopback port the
# kernel picks, with a certificate made here by openssl where TLS is
# needed, runs the real binary (`run --once --now`) with an smtp transport
# pointing at it, and checks what the server received (decoded with
# Python's email package, DKIM verified with python3-dkim) and what the
# store recorded. The server is killed when the case's shell exits.

SMTPD="$ROOT/tests/e2e/smtpd.py"
SMTP_PASS='pw-9f2c-Zq!x'   # the test password: must never show up anywhere
SMTP_PIDS=""

# smtp_server NAME ARGS... - start smtpd.py with ARGS, its messages in
# $T/NAME; sets SRV (that directory) and PORT
smtp_server() {
	SRV="$T/$1"
	shift
	rm -f "$SRV.port"
	SMTPD_PASS=$SMTP_PASS "$PY" "$SMTPD" --dir "$SRV" --port-file "$SRV.port" "$@" \
		>"$SRV.log" 2>&1 &
	SMTP_PIDS="$SMTP_PIDS $!"
	# one trap for the case's servers: a case may start serve too (c_loop_smtp)
	trap 'kill $SMTP_PIDS ${SVPIDS:-} 2>/dev/null' EXIT
	i=0
	while [ ! -s "$SRV.port" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "smtpd.py did not start: $(tail -c 300 "$SRV.log")"
		sleep 0.1
	done
	PORT=$(cat "$SRV.port")
}

# smtp_cert - a self-signed certificate for 127.0.0.1 in $T/cert.pem
smtp_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" \
		-days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
		>/dev/null 2>&1 || fail "openssl could not make a certificate"
}

# smtp_cfg CLASS - $T/o.yaml: the smtp transport "email" with the options
# on stdin (indented 4), an sms outbox, and one campaign `hello` of CLASS
# whose step goes to [email, sms]
smtp_cfg() {
	use_store "$T/o.db"
	{
		cat <<EOF
store: $T/o.db
templates: $DATA/templates
timezone: Asia/Shanghai
tracking:
  base_url: http://127.0.0.1:8080
  secret_env: OUTREACH_SECRET
transports:
  email:
    kind: smtp
    host: 127.0.0.1
    port: $PORT
    from: "Acme 客服 <care@example.com>"
    timeout: 5s
EOF
		cat
		cat <<EOF
  sms:
    kind: outbox
    channel: sms
    dir: $T/outbox
campaigns:
  hello:
    class: $1
    trigger: {event: purchase}
    steps:
      - {after: 1h, channels: [email, sms], template: hello}
EOF
	} >"$T/o.yaml"
}

# smtp_msg ADDR - the file smtpd.py saved for the message to ADDR (one)
smtp_msg() {
	"$PY" - "$SRV" "$1" <<'EOF'
import glob, json, sys
hits = [f[:-5] + ".eml" for f in sorted(glob.glob(sys.argv[1] + "/msg-*.json"))
        if sys.argv[2] in json.load(open(f))["rcpt_tos"]]
print(hits[0] if len(hits) == 1 else "")
EOF
}

# smtp_meta FILE.eml KEY - a key of the envelope recorded beside it
smtp_meta() {
	"$PY" -c 'import json,sys; v=json.load(open(sys.argv[1][:-4]+".json"))[sys.argv[2]]; print(json.dumps(v) if not isinstance(v,str) else v)' "$1" "$2"
}

# smtp_header FILE.eml NAME - one raw header field, unfolded
smtp_header() {
	"$PY" -c 'import email,sys; m=email.message_from_binary_file(open(sys.argv[1],"rb")); v=m.get(sys.argv[2]); print("" if v is None else " ".join(str(v).split()))' "$1" "$2"
}

sql() { sqlite3 "$T/o.db" "$1"; }

smtp_count() {
	find "$SRV" -name 'msg-*.eml' 2>/dev/null | wc -l | tr -d ' '
}

# a contact file for failure injection: local parts steer smtpd.py
smtp_contacts() {
	cat >"$T/fail.csv" <<'EOF'
id,name,email,phone,timezone,locale
f1,张伟,ok1@example.cn,,Asia/Shanghai,zh
f2,李娜,defer1@example.cn,,Asia/Shanghai,zh
f3,王强,reject1@example.cn,+8613800000003,Asia/Shanghai,zh
f4,赵敏,reject2@example.cn,,Asia/Shanghai,zh
f5,刘洋,drop1@example.cn,,Asia/Shanghai,zh
EOF
	: >"$T/fail.jsonl"
	for c in f1 f2 f3 f4 f5; do
		printf '{"id":"o-%s","contact":"%s","type":"purchase","at":"2026-03-01T09:00:00Z","data":{"order_id":"A-%s"}}\n' \
			"$c" "$c" "$c" >>"$T/fail.jsonl"
	done
}

# 1. STARTTLS on the test's certificate, AUTH; Chinese decodes exactly;
#    the Message-ID received is the one the store keeps
c_smtp_starttls_auth() {
	smtp_cert
	smtp_server srv --starttls --cert "$T/cert.pem" --key "$T/key.pem" \
		--auth-user mailer --auth-pass-env SMTPD_PASS
	export SMTP_USER=mailer SMTP_PASSWORD="$SMTP_PASS"
	# track: false - the HTML is compared byte for byte as the template
	# wrote it (tracking has its own cases: cases_links.sh)
	smtp_cfg transactional <<EOF
    tls: starttls
    ca_file: $T/cert.pem
    username_env: SMTP_USER
    password_env: SMTP_PASSWORD
    track: false
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T10:30:00Z
	[ "$(smtp_count)" = 3 ] || fail "server received $(smtp_count) messages, want 3 (c1, c2, c3)"
	e=$(smtp_msg wangfang@example.cn)
	[ -n "$e" ] || fail "no message for wangfang@example.cn"
	[ "$(smtp_meta "$e" tls)" = true ] || fail "the message did not come over TLS"
	[ "$(smtp_meta "$e" auth)" = true ] || fail "the session did not authenticate"
	py eml "$e" crlf
	same_as ok "$e line endings"
	py eml "$e" subject
	same_as "$ZH_SUBJECT_C2" "c2 subject as received"
	py eml "$e" to
	same_as '王芳 <wangfang@example.cn>' "c2 To as received"
	py eml "$e" type
	same_as 'multipart/alternative' "c2 Content-Type (email.zh.html beside email.zh.txt)"
	py eml "$e" plain
	same_as "$ZH_BODY_C2" "c2 text/plain part as received"
	py eml "$e" html
	same_as '<p>王芳，您好：</p>
<p>感谢您选择 Acme。订单 <b>A-2</b> 已收到。</p>
' "c2 text/html part as received"
	[ "$(grep -c '^Message-ID:' "$e")" = 1 ] || fail "not exactly one Message-ID in $e"
	[ "$(grep -c '^Date:' "$e")" = 1 ] || fail "not exactly one Date in $e"
	mid=$(smtp_header "$e" Message-ID)
	[ "$mid" = "$(sql "select message_id from sends where address = 'wangfang@example.cn'")" ] ||
		fail "Message-ID $mid is not sends.message_id $(sql "select message_id from sends where address = 'wangfang@example.cn'")"
	st=$(sql "select state || ' ' || coalesce(provider_id, '') from sends where address = 'wangfang@example.cn'")
	case "$st" in "sent Q"*) ;; *) fail "c2's send is '$st', want sent with the queue id" ;; esac
	a=$(sql "select code from attempts where transport = 'email' and status = 'ok' limit 1")
	[ "$a" = 250 ] || fail "attempt code '$a', want 250"
}

# 2. VERP return path with the send's token, DKIM that python3-dkim
#    accepts, List-Unsubscribe on marketing mail
c_smtp_verp_dkim() {
	smtp_server srv
	if ! openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/dkim.pem" 2>/dev/null ||
		! openssl pkey -in "$T/dkim.pem" -pubout -out "$T/dkim.pub"; then
		fail "openssl could not make a DKIM key"
	fi
	smtp_cfg marketing <<EOF
    tls: none
    return_path: "bounces+{token}@example.com"
    dkim: {key_file: $T/dkim.pem, domain: example.com, selector: s2026}
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T10:30:00Z
	[ "$(smtp_count)" = 3 ] || fail "server received $(smtp_count) messages, want 3"
	e=$(smtp_msg wangfang@example.cn)
	[ -n "$e" ] || fail "no message for wangfang@example.cn"
	id=$(sql "select id from sends where address = 'wangfang@example.cn'")
	from=$(smtp_meta "$e" mail_from)
	case "$from" in
	"bounces+b$id."*"@example.com") ;;
	*) fail "envelope sender '$from', want bounces+<the bounce token of send $id>@example.com" ;;
	esac
	"$PY" "$ROOT/tests/e2e/dkim_verify.py" "$T/dkim.pub" "$e" s2026._domainkey.example.com \
		>"$T/dkim.out" 2>&1 || fail "DKIM does not verify: $(cat "$T/dkim.out")"
	lu=$(smtp_header "$e" List-Unsubscribe)
	case "$lu" in "<http://127.0.0.1:8080/u/"*">") ;; *) fail "List-Unsubscribe is '$lu'" ;; esac
	[ "$(smtp_header "$e" List-Unsubscribe-Post)" = List-Unsubscribe=One-Click ] ||
		fail "no List-Unsubscribe-Post: List-Unsubscribe=One-Click"
	py eml "$e" type
	same_as 'multipart/alternative' "marketing c2 Content-Type"
	py eml "$e" subject
	same_as "$ZH_SUBJECT_C2" "the signed message's subject"
	# the verifier can say no: one changed byte in the body
	"$PY" -c 'import sys; p=sys.argv[1]; b=open(p,"rb").read(); i=b.index(b"\r\n\r\n")+6; open(p+".bad","wb").write(b[:i]+bytes([b[i]^1])+b[i+1:])' "$e"
	"$PY" "$ROOT/tests/e2e/dkim_verify.py" "$T/dkim.pub" "$e.bad" >/dev/null 2>&1 &&
		fail "DKIM still verifies with an altered body"
	:
}

# 3. implicit TLS (port 465 style) through libcurl's smtps://
c_smtp_implicit() {
	smtp_cert
	smtp_server srv --implicit --cert "$T/cert.pem" --key "$T/key.pem" \
		--auth-user mailer --auth-pass-env SMTPD_PASS
	export SMTP_USER=mailer SMTP_PASSWORD="$SMTP_PASS"
	smtp_cfg transactional <<EOF
    tls: implicit
    ca_file: $T/cert.pem
    username_env: SMTP_USER
    password_env: SMTP_PASSWORD
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T10:30:00Z
	[ "$(smtp_count)" = 3 ] || fail "server received $(smtp_count) messages, want 3"
	e=$(smtp_msg wangfang@example.cn)
	[ "$(smtp_meta "$e" tls)" = true ] || fail "not over TLS"
	[ "$(smtp_meta "$e" auth)" = true ] || fail "not authenticated"
	py eml "$e" subject
	same_as "$ZH_SUBJECT_C2" "c2 subject over smtps"
	py eml "$e" plain
	same_as "$ZH_BODY_C2" "c2 text/plain over smtps"
	mid=$(smtp_header "$e" Message-ID)
	[ "$mid" = "$(sql "select message_id from sends where address = 'wangfang@example.cn'")" ] ||
		fail "Message-ID $mid is not the stored one"
	[ "$(sql "select count(*) from sends where state = 'sent'")" = 3 ] ||
		fail "sends: $(sql "select state, reason from sends" | tr '\n' ' ')"
}

# 4. 451 defers, 550 5.1.1 fails over to sms and suppresses the address,
#    a cut connection defers without the message arriving
c_smtp_failures() {
	smtp_server srv
	smtp_cfg transactional <<EOF
    tls: none
EOF
	smtp_contacts
	ok_o init
	ok_o contacts import "$T/fail.csv"
	ok_o events import "$T/fail.jsonl"
	ok_o run --once --now 2026-03-01T10:30:00Z
	st() { sql "select state from sends where contact_id = '$1'"; }
	[ "$(st f1)" = sent ] || fail "f1 is $(st f1), want sent"
	[ "$(st f2)" = deferred ] || fail "f2 (451) is $(st f2), want deferred"
	a=$(sql "select a.code || ' | ' || a.reason from attempts a join sends s on s.id = a.send_id where s.contact_id = 'f2'")
	case "$a" in "451 4.3.0 | RCPT TO: <defer1@example.cn>: mailbox busy"*) ;;
	*) fail "f2's attempt is '$a', want the server's 451 4.3.0 line" ;; esac
	# reject1 has a phone: the step falls through to sms
	[ "$(st f3)" = sent ] || fail "f3 (550, has a phone) is $(st f3), want sent by sms"
	[ "$(sql "select transport from sends where contact_id = 'f3'")" = sms ] ||
		fail "f3 went by $(sql "select transport from sends where contact_id = 'f3'"), want sms"
	a=$(sql "select a.code from attempts a join sends s on s.id = a.send_id where s.contact_id = 'f3' and a.transport = 'email'")
	[ "$a" = "550 5.1.1" ] || fail "f3's email attempt code is '$a', want 550 5.1.1"
	[ "$(st f4)" = failed ] || fail "f4 (550, no phone) is $(st f4), want failed"
	for addr in reject1@example.cn reject2@example.cn; do
		[ "$(sql "select count(*) from suppressions where address = '$addr'")" = 1 ] ||
			fail "$addr (550 5.1.1) is not in suppressions"
	done
	[ "$(sql "select count(*) from suppressions where address = 'defer1@example.cn'")" = 0 ] ||
		fail "a 451 suppressed the address"
	[ "$(st f5)" = deferred ] || fail "f5 (connection cut mid-message) is $(st f5), want deferred"
	[ -z "$(smtp_msg drop1@example.cn)" ] || fail "the cut message arrived anyway"
	[ "$(smtp_count)" = 1 ] || fail "server holds $(smtp_count) messages, want only f1's"
}

# 5. nothing listening: deferred with the connection error, not lost
c_smtp_down() {
	PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	smtp_cfg transactional <<EOF
    tls: none
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T10:30:00Z
	[ "$(sql "select count(*) from sends where state = 'deferred'")" = 3 ] ||
		fail "sends: $(sql "select state, reason from sends" | tr '\n' ' ')"
	r=$(sql "select reason from attempts limit 1")
	case "$r" in *"Connection refused"*) ;; *) fail "attempt reason '$r' does not say connection refused" ;; esac
	[ "$(sql "select code from attempts limit 1")" = connect ] || fail "attempt code is not connect"
}

# 6. a self-signed certificate without ca_file: refused, nothing delivered
c_smtp_bad_cert() {
	smtp_cert
	smtp_server srv --starttls --cert "$T/cert.pem" --key "$T/key.pem"
	smtp_cfg transactional <<EOF
    tls: starttls
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T10:30:00Z
	[ "$(smtp_count)" = 0 ] || fail "a message was delivered over an unverified TLS session"
	[ "$(sql "select count(*) from sends where state = 'deferred'")" = 3 ] ||
		fail "sends: $(sql "select state, reason from sends" | tr '\n' ' ')"
	r=$(sql "select reason from attempts limit 1")
	case "$r" in *"certificate verify failed"*) ;; *) fail "attempt reason '$r' does not say why TLS failed" ;; esac
}

# 7. the password never shows: not in stderr (debug level), the store or
#    the reasons, whether AUTH succeeds or fails
c_smtp_secret_not_logged() {
	smtp_cert
	smtp_server srv --starttls --cert "$T/cert.pem" --key "$T/key.pem" \
		--auth-user mailer --auth-pass-env SMTPD_PASS
	export SMTP_USER=mailer SMTP_PASSWORD="$SMTP_PASS"
	smtp_cfg transactional <<EOF
    tls: starttls
    ca_file: $T/cert.pem
    username_env: SMTP_USER
    password_env: SMTP_PASSWORD
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o -v run --once --now 2026-03-01T10:30:00Z
	cp "$T/err" "$T/err.1"
	[ "$(smtp_count)" = 3 ] || fail "with the right password: $(smtp_count) messages, want 3"
	# the wrong password: every send defers and says auth failed
	export SMTP_PASSWORD="wrong-$SMTP_PASS"
	ok_o -v event add --contact c3 --type purchase --at 2026-03-02T09:00:00Z --data '{"order_id":"A-9"}'
	ok_o -v run --once --now 2026-03-02T10:30:00Z
	cat "$T/err" >>"$T/err.1"
	[ "$(smtp_count)" = 3 ] || fail "with a wrong password a message arrived"
	r=$(sql "select reason from attempts where status = 'defer' limit 1")
	case "$r" in *"auth failed"*) ;; *) fail "the deferral does not say auth failed: '$r'" ;; esac
	# the same over implicit TLS (libcurl), right then wrong password
	smtp_server srv2 --implicit --cert "$T/cert.pem" --key "$T/key.pem" \
		--auth-user mailer --auth-pass-env SMTPD_PASS
	sed -i "s/^    port: .*/    port: $PORT/; s/^    tls: starttls/    tls: implicit/" "$T/o.yaml"
	export SMTP_PASSWORD="$SMTP_PASS"
	ok_o -v event add --contact c3 --type purchase --at 2026-03-03T09:00:00Z --data '{"order_id":"A-10"}'
	ok_o -v run --once --now 2026-03-03T10:30:00Z
	cat "$T/err" >>"$T/err.1"
	[ "$(smtp_count)" = 2 ] || fail "over implicit TLS: $(smtp_count) messages, want 2 (the retry and A-10)"
	export SMTP_PASSWORD="wrong-$SMTP_PASS"
	ok_o -v event add --contact c3 --type purchase --at 2026-03-04T09:00:00Z --data '{"order_id":"A-11"}'
	ok_o -v run --once --now 2026-03-04T10:30:00Z
	cat "$T/err" >>"$T/err.1"
	[ "$(smtp_count)" = 2 ] || fail "over implicit TLS with a wrong password a message arrived"
	r=$(sql "select reason from attempts where status = 'defer' order by id desc limit 1")
	case "$r" in *"auth failed"*) ;; *) fail "the implicit deferral does not say auth failed: '$r'" ;; esac
	sqlite3 "$T/o.db" .dump >"$T/dump.sql"
	for f in "$T/err.1" "$T/dump.sql" "$T/out"; do
		grep -qF "$SMTP_PASS" "$f" && fail "the password is in $(basename "$f")"
		grep -qF "$(printf '%s' "$SMTP_PASS" | base64)" "$f" && fail "the base64 password is in $(basename "$f")"
		grep -qF "$(printf '\0mailer\0%s' "$SMTP_PASS" | base64)" "$f" &&
			fail "the AUTH PLAIN response is in $(basename "$f")"
	done
	:
}

# 8. bad smtp options are config errors naming FILE:LINE
c_smtp_bad_config() {
	PORT=2525
	smtp_cfg transactional <<EOF
    tls: ssl
EOF
	expect_rc 2 check
	line=$(grep -n 'tls: ssl' "$T/o.yaml" | cut -d: -f1)
	err_has "o.yaml:$line: transport \"email\": tls must be none, starttls or implicit" "bad tls"
	sed -i '/^    host:/d' "$T/o.yaml"
	sed -i 's/tls: ssl/tls: none/' "$T/o.yaml"
	expect_rc 2 check
	line=$(grep -n '^  email:' "$T/o.yaml" | cut -d: -f1)
	err_has "o.yaml:$line: transport \"email\": host is required" "missing host"
	smtp_cfg transactional <<EOF
    tls: starttls
    username_env: SMTP_USER
EOF
	expect_rc 2 check
	line=$(grep -n 'username_env' "$T/o.yaml" | cut -d: -f1)
	err_has "o.yaml:$line: transport \"email\": username_env and password_env go together" "half AUTH"
}

ALL="$ALL c_smtp_starttls_auth c_smtp_verp_dkim c_smtp_implicit c_smtp_failures c_smtp_down
c_smtp_bad_cert c_smtp_secret_not_logged c_smtp_bad_config"
