# tests/e2e/cases_suppress.sh - `outreach suppress`: add, list, remove,
# import (all or nothing, --skip-bad), and what the worker does with a
# suppressed address. Sourced by run.sh.

# sup_count - the number of suppressed addresses (from --list --format json)
sup_count() {
	ok_o suppress --list --format json
	"$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/out"
}

# sup_get ADDRESS - echo CHANNEL|REASON of ADDRESS on the list, or nothing
sup_get() {
	ok_o suppress --list --format json
	"$PY" -c 'import json,sys
rows = [r for r in json.load(open(sys.argv[1])) if r["address"] == sys.argv[2]]
print("%s|%s" % (rows[0]["channel"], rows[0]["reason"]) if rows else "")' "$T/out" "$1"
}

c_suppress() {
	cfg_hello # hello: sms first, then email
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"

	# add, with a reason and without
	ok_o suppress emma@example.co.uk --reason "asked us by phone"
	grep -q '^suppressed 1 address$' "$T/out" || fail "suppress one: $(cat "$T/out")"
	ok_o suppress wangfang@example.cn +8613800138001
	grep -q '^suppressed 2 addresses$' "$T/out" || fail "suppress two: $(cat "$T/out")"
	ok_o suppress emma@example.co.uk
	grep -q 'already on the list' "$T/out" || fail "suppress again does not say already: $(cat "$T/out")"
	[ "$(sup_get emma@example.co.uk)" = "email|asked us by phone" ] || fail "emma: $(sup_get emma@example.co.uk)"
	[ "$(sup_get +8613800138001)" = "sms|suppressed by hand" ] || fail "c1's phone: $(sup_get +8613800138001)"
	[ "$(sup_count)" = 3 ] || fail "list has $(sup_count) addresses, want 3"
	ok_o suppress --list
	head -n 1 "$T/out" | grep -q '^address  *channel  *since  *reason' || fail "list table header: $(head -n 1 "$T/out")"
	grep -q '^emma@example.co.uk  *email  .*asked us by phone$' "$T/out" || fail "list table: $(cat "$T/out")"

	# remove
	ok_o suppress --remove wangfang@example.cn nobody@example.com
	grep -q '^removed 1 address' "$T/out" || fail "remove: $(cat "$T/out")"
	err_has 'nobody@example.com' "remove of an address not on the list"
	[ "$(sup_get wangfang@example.cn)" = "" ] || fail "wangfang still on the list"
	[ "$(sup_count)" = 2 ] || fail "list has $(sup_count) addresses after remove, want 2"

	# what run does: c1's phone suppressed -> email; c2 removed -> sent;
	# c3 (email only) suppressed -> nothing, the reason names the suppression
	ok_o run --once --now 2026-03-01T10:30:00Z
	[ "$(nout)" = 2 ] || fail "run sent $(nout) messages, want 2 (c1 by email, c2)"
	py find "$T/outbox" +8613800138001 count
	[ "$(cat "$T/py")" = 0 ] || fail "the suppressed phone got $(cat "$T/py") messages"
	py find "$T/outbox" liwei@example.cn count
	[ "$(cat "$T/py")" = 1 ] || fail "c1 did not fall through to email"
	py find "$T/outbox" emma@example.co.uk count
	[ "$(cat "$T/py")" = 0 ] || fail "the suppressed email got $(cat "$T/py") messages"
	r=$(sqlite3 "$T/o.db" "select state || '|' || reason from sends where contact_id = 'c3'")
	case "$r" in
	suppressed*'address suppressed (asked us by phone)'*) ;;
	*) fail "c3's send: '$r', want suppressed naming the suppression" ;;
	esac

	# bad addresses: nothing added, each named
	expect_rc 2 suppress good@example.com bob@ 13800138000 foo
	err_has 'invalid email "bob@"' "bad email"
	err_has 'invalid phone "13800138000"' "phone without +"
	err_has 'cannot tell the channel of "foo"' "no channel"
	[ "$(sup_get good@example.com)" = "" ] || fail "good@example.com added from a bad command line"
	expect_rc 2 suppress --channel sms x@example.com
	err_has 'invalid phone' "--channel sms with an email"
	expect_rc 2 suppress --channel fax x@example.com
	err_has '--channel' "--channel fax"
	expect_rc 2 suppress x@example.com --reason "$(printf 'two\nlines')"
	err_has '--reason' "a reason with a line break"
	expect_rc 2 suppress --list --format xml
	expect_rc 2 suppress --list x@example.com
	expect_rc 2 suppress
	ok_o suppress --channel chat ops-room
	[ "$(sup_get ops-room)" = "chat|suppressed by hand" ] || fail "chat address: $(sup_get ops-room)"
	[ "$(sup_count)" = 3 ] || fail "list has $(sup_count) addresses, want 3"
}

c_suppress_import() {
	cfg_hello
	ok_o init
	# CSV: a bad row imports nothing and is named FILE:LINE
	cat >"$T/sup.csv" <<'EOF'
Address,reason,channel
a1@example.com,"hard bounce, 550 5.1.1",
bob@,complaint,

+12125550001,,sms
EOF
	expect_rc 2 suppress --import "$T/sup.csv"
	err_has "sup.csv:3: invalid email \"bob@\"" "bad row"
	err_has 'nothing imported' "bad row"
	[ "$(sup_count)" = 0 ] || fail "a file with a bad row imported $(sup_count) addresses"
	ok_o suppress --import "$T/sup.csv" --skip-bad
	err_has "sup.csv:3:" "--skip-bad reports the skipped row"
	grep -q 'suppressed 2 addresses from .*sup.csv (skipped 1 bad row)' "$T/out" || fail "--skip-bad: $(cat "$T/out")"
	[ "$(sup_get a1@example.com)" = "email|hard bounce, 550 5.1.1" ] || fail "a1: $(sup_get a1@example.com)"
	[ "$(sup_get +12125550001)" = "sms|suppressed by hand" ] || fail "+12125550001: $(sup_get +12125550001)"

	# more rows than the header, a bad channel, a header without address
	printf 'address,channel\nx@example.com,email,extra\ny@example.com,fax\n' >"$T/cols.csv"
	expect_rc 2 suppress --import "$T/cols.csv"
	err_has 'cols.csv:2: 3 fields where the header has 2' "extra field"
	err_has 'cols.csv:3: invalid channel "fax"' "bad channel"
	printf 'email,reason\nx@example.com,r\n' >"$T/nohead.csv"
	expect_rc 2 suppress --import "$T/nohead.csv"
	err_has 'nohead.csv:1: no address column' "no address column"
	expect_rc 2 suppress --import "$T/nohead.csv" --skip-bad
	expect_rc 2 suppress --import "$T/missing.txt"
	err_has 'missing.txt' "a missing file"

	# a plain list, one per line, with --reason for all
	printf '# from the old system\nl1@example.com\n\n  +447700900001  \n' >"$T/list.txt"
	ok_o suppress --import "$T/list.txt" --reason "old system"
	grep -q 'suppressed 2 addresses' "$T/out" || fail "plain list: $(cat "$T/out")"
	[ "$(sup_get +447700900001)" = "sms|old system" ] || fail "+447700900001: $(sup_get +447700900001)"

	# a person's webhook URL holds a token: never shown, kept as its digest
	printf 'https://hooks.example.com/p/x?token=S3CRETTOKEN\n' >"$T/hook.txt"
	expect_rc 2 suppress --import "$T/hook.txt"
	err_has 'hook.txt:1: cannot tell the channel' "a URL without --channel"
	grep -q S3CRETTOKEN "$T/err" && fail "the URL's token is in the error: $(cat "$T/err")"
	ok_o suppress --import "$T/hook.txt" --channel chat
	ok_o suppress --list --format json
	grep -q S3CRETTOKEN "$T/out" && fail "the URL's token is in the list"
	grep -q '"url-sha256:' "$T/out" || fail "the URL is not kept as its digest: $(cat "$T/out")"
	sqlite3 "$T/o.db" "select address from suppressions" | grep -q S3CRETTOKEN && fail "the URL's token is in the store"
	[ "$(sup_count)" = 5 ] || fail "list has $(sup_count) addresses, want 5"
}

ALL="$ALL c_suppress c_suppress_import"

# an email suppressed in one case keeps a contact whose email has another
c_suppress_case() {
	cfg_hello
	ok_o init
	printf 'id,name,email,timezone\nu1,U1,Bob.Smith@Example.COM,Asia/Shanghai\n' >"$T/u.csv"
	ok_o contacts import "$T/u.csv"
	ok_o suppress bob.smith@example.com --reason "asked us"
	ok_o event add --contact u1 --type purchase --at 2026-03-01T09:00:00Z --data '{"amount": 1}'
	ok_o run --once --now 2026-03-01T10:00:00Z
	[ "$(nout)" = 0 ] || fail "a suppressed address in another case got a message"
	r=$(sqlite3 "$T/o.db" "select reason from sends")
	case "$r" in *"address suppressed (asked us)"*) ;; *) fail "reason: $r" ;; esac
}

ALL="$ALL c_suppress_case"
