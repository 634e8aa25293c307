# tests/e2e/cases_privacy.sh - personal data at rest and on request:
# `encrypt: true`, `keys rotate`, `contacts export`, `contacts forget`,
# `log_pii`.
#
# Sourced by tests/e2e/run.sh; uses cases_smtp.sh's smtp_* (a real SMTP
# server that rejects reject*@ with the address in its words) and
# cases_serve.sh's sv_* (serve on a loopback port). "Not in clear" is
# checked by grepping the bytes of everything outreach wrote: the store
# (SQLite: the database file and its WAL; PostgreSQL: a pg_dump of the
# case's database), its logs (every stderr of the case) and the outbox.

PV_EMAIL=liwei@example.cn
PV_PHONE=8613800138001   # E.164 without its +: found in any spelling that keeps the digits
PV_NAME=李伟
PV_KEY1=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
PV_KEY2=$(printf 'k2-0123456789abcdef0123456789abc' | base64) # base64 of 32 bytes

# pv_cfg [ENCRYPT] - sv_setup's templates and contacts on the smtp server
# $PORT (email) and an sms outbox; encrypt: ENCRYPT (default true)
pv_cfg() {
	mkdir -p "$T/tpl/care"
	printf 'Subject: Your order, {{name}}\n\nCARE-EMAIL {{name}} {{email}} {{phone}}\nUnsubscribe: {{unsubscribe_url}}\n' >"$T/tpl/care/email.txt"
	printf 'CARE-SMS {{name}} {{phone}}\n' >"$T/tpl/care/sms.txt"
	smtp_cfg transactional <<EOF
    tls: none
EOF
	sed -i "s#templates: .*#templates: $T/tpl#; s#template: hello#template: care#" "$T/o.yaml"
	printf 'encrypt: %s\n' "${1:-true}" >>"$T/o.yaml"
	cat >"$T/contacts.csv" <<EOF
id,name,email,phone,timezone,locale
c1,$PV_NAME,$PV_EMAIL,+$PV_PHONE,Asia/Shanghai,zh
c2,Emma Clarke,emma@example.co.uk,+447700900123,Europe/London,en
c3,王强,reject1@example.cn,+8613800000003,Asia/Shanghai,zh
EOF
	printf '%s\n' '{"id":"p1","contact":"c1","type":"purchase","at":"2026-03-01T09:00:00Z"}' \
		'{"id":"p2","contact":"c2","type":"purchase","at":"2026-03-01T09:00:00Z"}' \
		'{"id":"p3","contact":"c3","type":"purchase","at":"2026-03-01T09:00:00Z"}' >"$T/ev.jsonl"
}

# pv_clear_run - a store in clear (pv_cfg false) that has run the purchases
# over SMTP: the starting point of rotate, forget and log_pii
pv_clear_run() {
	smtp_server srv
	pv_cfg false
	ok_o init
	ok_o contacts import "$T/contacts.csv"
	ok_o events import "$T/ev.jsonl"
	o ${1:+"$1"} run --once --now 2026-03-01T10:30:00Z
	[ "$RC" = 0 ] || fail "run: exit $RC: $(head -c 300 "$T/err")"
}

# pv_store_bytes - everything the store holds, as bytes, into $T/store.bytes
pv_store_bytes() {
	if on_pg; then
		sqlite3 "$T/o.db" .dump >"$T/store.bytes" || fail "pg_dump failed"
	else
		cat "$T/o.db" "$T/o.db-wal" >"$T/store.bytes" 2>/dev/null
	fi
	[ -s "$T/store.bytes" ] || fail "the store is empty"
}

# pv_clear WHAT FILE... - fail if the known email, phone or name is in any FILE
pv_clear() {
	what=$1
	shift
	for v in "$PV_EMAIL" "$PV_PHONE" "$PV_NAME" emma@example.co.uk 447700900123 reject1@example.cn; do
		hit=$(grep -laF -- "$v" "$@" 2>/dev/null | head -n 1)
		[ -z "$hit" ] || fail "$what: '$v' in clear in $hit"
	done
}

# pv_has WHAT FILE VALUE - fail unless FILE holds VALUE (the check above can fail)
pv_has() {
	grep -qaF -- "$3" "$2" || fail "$1: '$3' not in $2"
}

# 1. encrypt: true: a run over SMTP (with a hard bounce whose words name
#    the address), an sms outbox, replies and a STOP through serve; then
#    neither the store, nor the logs, nor the outbox holds an address or a
#    name in clear, and everything still works: contacts show, export,
#    the reply found its contact, the bounce suppressed the address, the
#    outbox opens with `outbox show`
c_privacy_sealed() {
	export OUTREACH_KEY=$PV_KEY1
	smtp_server srv
	pv_cfg true
	ok_o init
	cp "$T/err" "$T/log.init"
	ok_o contacts import "$T/contacts.csv"
	ok_o events import "$T/ev.jsonl"
	o -v run --once --now 2026-03-01T10:30:00Z
	[ "$RC" = 0 ] || fail "run: exit $RC: $(head -c 300 "$T/err")"
	cp "$T/err" "$T/log.run"
	pv_has "the -v log" "$T/log.run" "550 5.1.1: RCPT TO: <[address]>: user unknown"
	[ "$(sqlite3 "$T/o.db" "select state || ' ' || transport from sends where contact_id = 'c3'")" = "sent sms" ] ||
		fail "c3 (550 on email) did not fall through to sms: $(sqlite3 "$T/o.db" "select state, transport, reason from sends where contact_id = 'c3'")"
	[ "$(smtp_count)" = 2 ] || fail "the smtp server got $(smtp_count) messages, want 2"
	# the server got the real message
	f=$(smtp_msg "$PV_EMAIL")
	[ -n "$f" ] || fail "no message for $PV_EMAIL at the server"
	pv_has "the delivered mail" "$f" "CARE-EMAIL"
	# the sms outbox is sealed, and opens
	sms=$(ls "$T/outbox" | head -n 1)
	[ -n "$sms" ] || fail "nothing in the sms outbox"
	ok_o outbox show "$T/outbox/$sms"
	pv_has "outbox show" "$T/out" '"text": "CARE-SMS'
	# a hard bounce suppressed the address: the next purchase of c3 does
	# not try email again
	ok_o why "$(sqlite3 "$T/o.db" "select id from sends where contact_id = 'c3'")"
	[ "$(sqlite3 "$T/o.db" "select count(*) from suppressions where address like 'h1:%'")" = 1 ] ||
		fail "the hard bounce left no hashed suppression: $(sqlite3 "$T/o.db" "select * from suppressions")"
	ok_o suppress --list
	# serve: a reply from c1's phone, STOP from c2's
	sv_start --now 2026-03-01T12:00:00Z
	sv_want 200 POST /inbound/sms -H 'Content-Type: application/json' -d "{\"from\":\"+$PV_PHONE\",\"text\":\"收到了 thanks\"}"
	grep -q '"status":"reply"' "$T/resp.body" || fail "c1's reply not matched: $(cat "$T/resp.body")"
	sv_want 200 POST /inbound/sms -d 'from=%2B447700900123&text=STOP'
	grep -q '"status":"stop"' "$T/resp.body" || fail "c2's STOP not matched: $(cat "$T/resp.body")"
	sv_want 200 POST /inbound/email -H 'Content-Type: application/json' \
		-d "{\"from\":\"Li Wei <LIWEI@example.cn>\",\"subject\":\"Re\",\"text\":\"ok\"}"
	sv_is "c1's replies" "$(sqlite3 "$T/o.db" "select count(*) from events where type = 'replied' and contact_id = 'c1'")" 2
	sv_stop
	cp "$T/serve.err" "$T/log.serve"
	# what a user sees is in clear
	ok_o contacts show c1
	pv_has "contacts show" "$T/out" "\"email\": \"$PV_EMAIL\""
	ok_o contacts export
	pv_has "contacts export" "$T/out" "\"phone\":\"+$PV_PHONE\""
	cp "$T/out" "$T/export.jsonl"
	ok_o contacts export c1
	pv_has "contacts export c1" "$T/out" '"text": "收到了 thanks"'
	# what outreach keeps is not
	pv_store_bytes
	pv_has "the store" "$T/store.bytes" "enc1:"
	pv_clear "the store" "$T/store.bytes"
	pv_clear "the outbox" "$T/outbox"/*
	pv_clear "the logs" "$T"/log.*
	# a wrong key is refused in one line, a missing one too; nothing runs
	OUTREACH_KEY=$PV_KEY2 expect_rc 1 run --once --now 2026-03-01T12:00:00Z
	err_has "the store is sealed under key" "a wrong key"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "a wrong key: $(cat "$T/err")"
	( unset OUTREACH_KEY; expect_rc 2 contacts show c1; err_has '$OUTREACH_KEY is not set' "no key" )
	( unset OUTREACH_KEY; expect_rc 2 check; err_has "o.yaml:$(grep -n '^encrypt:' "$T/o.yaml" | cut -d: -f1): encrypt: \$OUTREACH_KEY is not set" "check without the key" )
	sed -i 's/^encrypt: true/encrypt: false/' "$T/o.yaml"
	expect_rc 1 contacts show c1
	err_has "store is encrypted" "encrypt: false on a sealed store"
	unset OUTREACH_KEY
}

# 2. a store in clear is sealed by `keys rotate` (run refuses until then),
#    rotated again to a new key with the old one in OUTREACH_KEY_OLD, and
#    the old key alone no longer opens it
c_privacy_rotate() {
	pv_clear_run
	pv_store_bytes
	pv_has "the clear store" "$T/store.bytes" "$PV_EMAIL"
	ok_o contacts export
	cp "$T/out" "$T/before.jsonl"
	export OUTREACH_KEY=$PV_KEY1
	sed -i 's/^encrypt: false/encrypt: true/' "$T/o.yaml"
	expect_rc 1 run --once --now 2026-03-01T10:30:00Z
	err_has 'run `outreach keys rotate`' "encrypt: true on a store in clear"
	ok_o keys rotate
	grep -q '^sealed [1-9][0-9]* rows under key ' "$T/out" || fail "keys rotate said: $(cat "$T/out")"
	pv_store_bytes
	pv_clear "the store after keys rotate" "$T/store.bytes"
	ok_o contacts export
	cmp -s "$T/out" "$T/before.jsonl" || fail "the export changed across sealing: $(diff "$T/before.jsonl" "$T/out" | head -n 4)"
	# a new key, the old one beside it
	export OUTREACH_KEY=$PV_KEY2 OUTREACH_KEY_OLD=$PV_KEY1
	ok_o contacts show c1
	ok_o keys rotate
	unset OUTREACH_KEY_OLD
	ok_o contacts export
	cmp -s "$T/out" "$T/before.jsonl" || fail "the export changed across rotation"
	export OUTREACH_KEY=$PV_KEY1
	expect_rc 1 contacts show c1
	err_has "the store is sealed under key" "the old key after rotation"
	export OUTREACH_KEY=$PV_KEY2
	ok_o suppress --list
	pv_has "suppress --list" "$T/out" "h1:"
	[ "$(sv_q "select count(*) from suppressions where address not like 'h1:%'")" = 0 ] ||
		fail "a suppression is still in clear"
	[ "$(sv_q "select count(*) from sends where address is not null and address not like 'h1:%'")" = 0 ] ||
		fail "a send's address is still in clear"
	unset OUTREACH_KEY
}

# 3. contacts forget: everything about the person is gone (also from the
#    SQLite file's bytes), their addresses stay only as hashes, and a new
#    contact with the same address is never sent to
c_privacy_forget() {
	pv_clear_run
	n0=$(sqlite3 "$T/o.db" "select count(*) from sends where contact_id = 'c2'")
	[ "$n0" -ge 1 ] || fail "c2 had no sends"
	ok_o contacts forget c1 --now 2026-03-02T00:00:00Z
	for t in contacts:id events:contact_id sends:contact_id enrollments:contact_id subscriptions:contact_id contact_segments:contact_id; do
		n=$(sqlite3 "$T/o.db" "select count(*) from ${t%%:*} where ${t#*:} = 'c1'")
		[ "$n" = 0 ] || fail "after forget: $n rows of ${t%%:*} still name c1"
	done
	[ "$(sqlite3 "$T/o.db" "select count(*) from sends where contact_id = 'c2'")" = "$n0" ] ||
		fail "forgetting c1 touched c2's sends"
	[ "$(sqlite3 "$T/o.db" "select count(*) from suppressions where address like 'h1:%' and reason like 'forgotten%'")" -ge 2 ] ||
		fail "no suppression hashes for c1's email and phone: $(sqlite3 "$T/o.db" "select * from suppressions")"
	expect_rc 2 contacts show c1
	expect_rc 2 contacts forget c1
	err_has 'no contact "c1"' "forget twice"
	pv_store_bytes
	for v in "$PV_EMAIL" "$PV_PHONE" "$PV_NAME"; do
		! grep -qaF -- "$v" "$T/store.bytes" || fail "after forget: '$v' still in the store's bytes"
	done
	pv_has "c2 is kept" "$T/store.bytes" "emma@example.co.uk"
	# the person comes back under another id: never contacted again
	printf 'id,name,email,phone,timezone,locale\nc9,Again,LIWEI@example.cn,+%s,Asia/Shanghai,zh\n' "$PV_PHONE" >"$T/again.csv"
	ok_o contacts import "$T/again.csv"
	ok_o event add --contact c9 --type purchase --at 2026-03-02T09:00:00Z
	ok_o run --once --now 2026-03-02T12:00:00Z
	[ "$(sqlite3 "$T/o.db" "select state from sends where contact_id = 'c9'")" = suppressed ] ||
		fail "the forgotten person was contacted again: $(sqlite3 "$T/o.db" "select state, reason from sends where contact_id = 'c9'")"
	n=$(grep -laF "$PV_EMAIL" "$SRV"/msg-*.json 2>/dev/null | wc -l)
	[ "$n" = 1 ] || fail "the server got $n messages for $PV_EMAIL, want the 1 from before the forget"
}

# 4. contacts export round-trips through contacts import
c_privacy_export() {
	export OUTREACH_KEY=$PV_KEY1
	cfg <<'EOF'
encrypt: true
EOF
	ok_o init
	printf '%s\n' 'id,name,email,phone,timezone,locale,tier,spend_12m,unsubscribed_sms' \
		'e1,Ann,ann@example.com,+12125550101,America/New_York,en,gold,120000,true' \
		'e2,"Bo, Jr",bo@example.com,,Europe/Berlin,de,,5,' >"$T/c.csv"
	ok_o contacts import "$T/c.csv"
	ok_o contacts export
	cp "$T/out" "$T/a.jsonl"
	[ "$(wc -l <"$T/a.jsonl")" = 2 ] || fail "export wrote $(wc -l <"$T/a.jsonl") lines, want 2"
	pv_has "export" "$T/a.jsonl" '"unsubscribed_sms":true'
	pv_has "export" "$T/a.jsonl" '"spend_12m":120000'
	cp "$T/o.yaml" "$T/o1.yaml"
	sed -i "s#$T/o.db#$T/o2.db#" "$T/o.yaml"
	use_store "$T/o2.db"
	ok_o init
	ok_o contacts import "$T/a.jsonl"
	ok_o contacts export
	cmp -s "$T/out" "$T/a.jsonl" || fail "export, import, export differs: $(diff "$T/a.jsonl" "$T/out" | head -n 4)"
	use_store "$T/o.db"
	cp "$T/o1.yaml" "$T/o.yaml"
	expect_rc 2 contacts export nobody
	err_has 'no contact "nobody"' "export of an unknown id"
	unset OUTREACH_KEY
}

# 5. log_pii: without it a -v log masks the address the server named;
#    with it (and encryption off) the log keeps the server's words
c_privacy_log_pii() {
	pv_clear_run -v
	pv_has "-v log without log_pii" "$T/err" "<[address]>: user unknown"
	! grep -qF "reject1@example.cn" "$T/err" || fail "the -v log names the address without log_pii"
	printf 'log_pii: true\n' >>"$T/o.yaml"
	printf '{"id":"p4","contact":"c3","type":"purchase","at":"2026-03-01T11:00:00Z"}\n' >"$T/ev2.jsonl"
	ok_o suppress --remove reject1@example.cn
	ok_o events import "$T/ev2.jsonl"
	o -v run --once --now 2026-03-02T12:00:00Z
	pv_has "-v log with log_pii" "$T/err" "<reject1@example.cn>: user unknown"
	sed -i 's/^log_pii: true/log_pii: maybe/' "$T/o.yaml"
	expect_rc 2 check
	err_has "log_pii must be true or false" "a bad log_pii"
}

ALL="$ALL c_privacy_sealed c_privacy_rotate c_privacy_forget c_privacy_export c_privacy_log_pii"
