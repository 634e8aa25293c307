# cases_transport.sh - what every transport kind shares: send-test, the
# options `check` validates, SMS max_segments at check time. Sourced by run.sh.

# send-test delivers one message through a named transport, prints the
# outcome and exits 0; usage errors exit 2 and deliver nothing
c_send_test() {
	cfg_hello
	ok_o send-test --transport email --to li.lei@example.com --subject "测试 subject" --text "你好"
	grep -q '^ok: ' "$T/out" || fail "send-test printed no ok line: $(cat "$T/out")"
	grep -q '^message-id: <outreach.test.[0-9a-f]*@example.com>' "$T/out" ||
		fail "send-test printed no message-id: $(cat "$T/out")"
	[ "$(nout)" = 1 ] || fail "send-test left $(nout) messages, want 1"
	f=$(find "$T/outbox" -name '*.eml')
	"$PY" - "$f" <<'PYEOF' 2>"$T/py.err" || fail "send-test message: $(tail -n 1 "$T/py.err")"
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
assert m["Subject"] == "测试 subject", m["Subject"]
assert m["To"] == "li.lei@example.com", m["To"]
assert m.get_content().rstrip("\n") == "你好", repr(m.get_content())
PYEOF
	expect_rc 2 send-test --transport email
	err_has 'give --to ADDRESS' "send-test without --to"
	expect_rc 2 send-test --transport nope --to x@example.com
	err_has 'no transport "nope"' "send-test on an unknown transport"
	expect_rc 2 send-test --to x@example.com
	[ "$(nout)" = 1 ] || fail "failed send-test calls delivered something"
}

# check creates every transport in check mode: a bad option is named by
# file and line; an SMS template whose fixed text is longer than
# max_segments is refused, naming the file
c_check_transports() {
	mkdir -p "$T/tpl/long"
	printf 'Subject: hi\n\nhello\n' >"$T/tpl/long/email.txt"
	# 80 Chinese characters: two UCS-2 segments before any data
	"$PY" -c 'print("您好" * 40 + "{{name}}")' >"$T/tpl/long/sms.txt"
	use_store "$T/o.db"
	cat >"$T/o.yaml" <<EOF
store: $T/o.db
templates: $T/tpl
transports:
  sms:
    kind: outbox
    channel: sms
    dir: $T/outbox
    max_segments: 1
  email:
    kind: outbox
    channel: email
    dir: 42
campaigns:
  c:
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [sms, email], template: long}
EOF
	expect_rc 2 check
	err_has "o.yaml:12: transport \"email\": dir must be a non-empty string" "bad dir"
	err_has "long/sms.txt: at least 2 SMS segments (UCS-2)" "max_segments"
	[ ! -e "$T/outbox" ] || fail "check created the outbox directory"
	sed -i 's/max_segments: 1/max_segments: 2/; s/dir: 42/dir: out2/' "$T/o.yaml"
	ok_o check
	# a misspelt option is refused by name, not ignored
	sed -i 's/    dir: out2/    dir: out2\n    concurency: 4/' "$T/o.yaml"
	expect_rc 2 check
	err_has 'o.yaml:13: transport "email": unknown option "concurency" for kind outbox (it takes dir, from, max_segments)' "typo"
}

ALL="$ALL c_send_test c_check_transports"

# run refuses to start without the key that signs links
c_run_needs_secret() {
	cfg_hello
	ok_o init
	OUTREACH_SECRET= expect_rc 2 run --once --now 2026-03-01T10:00:00Z
	err_has "OUTREACH_SECRET is not set" "run without a secret"
	(unset OUTREACH_SECRET; "$O" -c "$T/o.yaml" run --once --now 2026-03-01T10:00:00Z 2>"$T/err2"; echo $? >"$T/rc2")
	[ "$(cat "$T/rc2")" = 2 ] || fail "run with OUTREACH_SECRET unset exited $(cat "$T/rc2")"
}

ALL="$ALL c_run_needs_secret"
