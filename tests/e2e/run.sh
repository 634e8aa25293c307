#!/bin/sh
# tests/e2e/run.sh - end-to-end tests of build/outreach (`make e2e`).
#
# Every case runs in its own temporary directory with its own config (SQLite
# store TMP/o.db, outbox transports writing to TMP/outbox), drives the real
# binary and asserts on what it really produced: outbox files, exit statuses,
# stderr lines, `report --format json`, `why`, `contacts show`.
#
#   sh tests/e2e/run.sh            run every case
#   sh tests/e2e/run.sh NAME...    run only the named cases (e.g. c_unless)
#   KEEP=1 sh tests/e2e/run.sh     keep the temporary directories
#   E2E_CASE_TIMEOUT=120 ...       seconds a case may take (40; more under valgrind)
#
# Output: one "ok - name" / "not ok - name: why" line per case, then
# "N passed, M failed"; the exit status is non-zero when any case failed.
# Needs: /usr/bin/python3 (email, json), sqlite3, timeout, GNU date.

cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
O="${OUTREACH_BIN:-$ROOT/build/outreach}" # OUTREACH_BIN: to try the suite on another build
PY=/usr/bin/python3
H="$ROOT/tests/e2e/helper.py"
DATA="$ROOT/tests/e2e/data"
NOW=2026-03-01T10:00:00Z
export OUTREACH_SECRET=e2e-test-secret
# serve keeps root in the cases (their stores are in root's temporary
# folders); cases_serve_guard.sh unsets it to test the drop to a user
export OUTREACH_SERVE_ALLOW_ROOT=1
export PYTHONPATH="$ROOT/tests/e2e" # storedb.py, for the cases' Python checks
unset OUTREACH_CONFIG

# ---------------------------------------------------------------- helpers

# PostgreSQL: with OUTREACH_TEST_PG (a server URL; `make test` starts a
# throwaway cluster, tests/pgtmp.sh) every store path a case uses ($T/o.db,
# $T/sub/o.db) is a database of its own on that server, named through
# OUTREACH_STORE, which overrides the configs' store: lines (use_store; cfg
# calls it, and so does the driver for $T/o.db). `sqlite3 PATH SQL` and
# `sqlite3 PATH .dump` then ask PATH's database, so that the cases are the
# same on both backends. The test databases also have SQLite's
# group_concat and json_extract, for the cases' own queries.
on_pg() { [ -n "${OUTREACH_TEST_PG:-}" ]; }
PG_COMPAT="
CREATE FUNCTION gc_step(acc text, v anyelement, sep text) RETURNS text LANGUAGE sql IMMUTABLE AS
  'SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v::text ELSE acc || sep || v::text END';
CREATE FUNCTION gc_step1(acc text, v anyelement) RETURNS text LANGUAGE sql IMMUTABLE AS
  'SELECT gc_step(acc, v, '','')';
CREATE AGGREGATE group_concat(anyelement, text) (SFUNC = gc_step, STYPE = text);
CREATE AGGREGATE group_concat(anyelement) (SFUNC = gc_step1, STYPE = text);
CREATE FUNCTION json_extract(t text, p text) RETURNS text LANGUAGE sql IMMUTABLE AS
  'SELECT CASE r WHEN ''true'' THEN ''1'' WHEN ''false'' THEN ''0'' ELSE r END
   FROM (SELECT (t::jsonb) #>> string_to_array(substr(p, 3), ''.'') AS r) AS x';
"
# pg_url PATH - the database URL standing for the store at PATH
pg_url() {
	echo "${OUTREACH_TEST_PG%/*}/e2e_$(printf %s "$1" | md5sum | cut -c1-20)"
}
# use_store PATH - on PostgreSQL, point OUTREACH_STORE at PATH's database,
# made (empty) the first time; nothing on SQLite
use_store() {
	on_pg || return 0
	OUTREACH_STORE=$(pg_url "$1")
	export OUTREACH_STORE
	db=${OUTREACH_STORE##*/}
	if [ -z "$(psql -X -At "${OUTREACH_TEST_PG%/*}/postgres" -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
		psql -X -q "${OUTREACH_TEST_PG%/*}/postgres" -c "CREATE DATABASE $db" >/dev/null &&
			psql -X -q "$OUTREACH_STORE" -c "$PG_COMPAT" >/dev/null ||
			fail "cannot create the database for $1"
	fi
}
if on_pg; then
	sqlite3() {
		url=$(pg_url "$1")
		shift
		if [ $# = 0 ]; then
			psql -X -q -At -v ON_ERROR_STOP=1 "$url"
		elif [ "$1" = .dump ]; then
			# without the random \restrict key newer pg_dumps print
			pg_dump --data-only --inserts --no-owner "$url" | grep -v '^\\\(un\)\{0,1\}restrict '
		else
			psql -X -q -At -v ON_ERROR_STOP=1 "$url" -c "$1"
		fi
	}
fi

# term_stop PID SECONDS WHAT - SIGTERM to PID (a child of the case's
# shell), which must exit 0 within SECONDS; its stderr is $T/d.err
term_stop() {
	kill -TERM "$1"
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -KILL "$1" 2>/dev/null
		fail "$3 was still running $2 s after SIGTERM"
	fi
	wait "$1"
	rc=$?
	[ "$rc" = 0 ] || fail "$3 exited $rc after SIGTERM, want 0: $(tail -n 3 "$T/d.err" 2>/dev/null | tr '\n' ' ')"
}

# fail WHY - end the current case (a subshell) as failed
fail() {
	# the first failure wins: a fail inside $(...) only ends that subshell
	[ -s "$WHY" ] || printf '%s\n' "$*" >"$WHY"
	exit 1
}

# o ARGS - run outreach on this case's config; stdout in $T/out, stderr in
# $T/err, exit status in $RC
o() {
	"$O" -c "$T/o.yaml" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

# ok_o ARGS - as o, and fail unless it exits 0
ok_o() {
	o "$@"
	[ "$RC" = 0 ] || fail "outreach $*: exit $RC: $(head -c 400 "$T/err" | tr '\n' ' ')"
}

# expect_rc N ARGS - as o, and fail unless it exits N
expect_rc() {
	want=$1
	shift
	o "$@"
	[ "$RC" = "$want" ] || fail "outreach $*: exit $RC, want $want: $(head -c 400 "$T/err" | tr '\n' ' ')"
}

# err_has STRING WHAT - fail unless stderr has STRING (fixed string)
err_has() {
	grep -qF -- "$1" "$T/err" || fail "$2: stderr lacks '$1': $(head -c 400 "$T/err" | tr '\n' ' ')"
}

# cfg [TEMPLATES] - write $T/o.yaml: the common header, then stdin
# (segments and campaigns)
cfg() {
	use_store "$T/o.db"
	cat >"$T/o.yaml" <<EOF
store: $T/o.db
templates: ${1:-$DATA/templates}
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
    kind: outbox
    channel: sms
    dir: $T/outbox
EOF
	cat >>"$T/o.yaml"
}

# the usual campaign: a transactional thank-you, sms first then email
cfg_hello() {
	cfg "$@" <<'EOF'
segments:
  vip: spend_12m >= 100000
campaigns:
  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 1h, channels: [sms, email], template: hello}
EOF
}

# nout - number of messages in the outbox
nout() {
	find "$T/outbox" -type f \( -name '*.eml' -o -name '*.json' \) 2>/dev/null | wc -l | tr -d ' '
}

# py ARGS - the helper, output in $T/py (raw bytes)
py() {
	"$PY" "$H" "$@" >"$T/py" 2>"$T/py.err" || fail "helper.py $*: $(cat "$T/py.err")"
}

# same_as STRING WHAT - fail unless $T/py holds exactly STRING
same_as() {
	printf '%s' "$1" >"$T/want"
	cmp -s "$T/py" "$T/want" ||
		fail "$2: got '$(head -c 300 "$T/py" | tr '\n' '|')', want '$(printf '%s' "$1" | tr '\n' '|')'"
}

# report_sum FIELD [CAMPAIGN [STEP]] - echo the sum of FIELD in report json
report_sum() {
	ok_o report --format json
	cp "$T/out" "$T/report.json"
	py sum "$T/report.json" "$@"
	cat "$T/py"
}

# send_of CONTACT CAMPAIGN STEP [KEY] - echo KEY (default id) of that send
send_of() {
	ok_o contacts show "$1"
	cp "$T/out" "$T/show.json"
	py send "$T/show.json" "$2" "$3" "${4:-id}"
	cat "$T/py"
}

epoch() { date -u -d "$1" +%s; }

# one sms per signup
cfg_bulk() {
	cfg <<'EOF'
campaigns:
  bulk:
    class: transactional
    trigger: {event: signup}
    steps:
      - {after: 0h, channels: [sms], template: mkt}
EOF
}

# many_contacts N - import N contacts p001... and a signup event for each
many_contacts() {
	{
		echo 'id,name,email,phone,timezone,locale'
		i=1
		while [ $i -le "$1" ]; do
			printf 'p%03d,User %03d,u%03d@example.com,+1212555%04d,America/New_York,en\n' $i $i $i $i
			i=$((i + 1))
		done
	} >"$T/many.csv"
	{
		i=1
		while [ $i -le "$1" ]; do
			printf '{"id":"s%03d","contact":"p%03d","type":"signup","at":"2026-03-01T09:00:00Z"}\n' $i $i
			i=$((i + 1))
		done
	} >"$T/many.jsonl"
	ok_o contacts import "$T/many.csv"
	ok_o events import "$T/many.jsonl"
}

# a standard store: init, the flow contacts and their purchases
setup_flow() {
	cfg_hello
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
}

# ---------------------------------------------------------------- cases

# what tests/e2e/data/templates/hello/email.zh.txt renders to for c2
ZH_SUBJECT_C2='王芳，感谢您的订单 A-2：我们已经收到 Your order is confirmed，会尽快为您安排发货 please wait 请留意短信通知'
ZH_BODY_C2='王芳，您好：
感谢您选择 Acme。您的订单 A-2 我们已经收到，会尽快为您安排。
如有任何问题，直接回复这封邮件即可。——「客户关怀团队」
行尾有三个空格   
. 以点开头的一行
From 开头的一行
这是一行很长的中文，用来检查长行的编码和折行是否正确：一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十结束。
'

# 1. init is idempotent; commands before init fail with 1 and a clear line
c_init() {
	cfg_hello
	for cmd in "contacts import $DATA/flow_contacts.csv" "run --once --now $NOW" "report" \
		"event add --contact c1 --type purchase --at $NOW"; do
		# shellcheck disable=SC2086
		expect_rc 1 $cmd
		grep -qi 'init' "$T/err" || fail "$cmd before init: stderr does not say to run init: $(cat "$T/err")"
		[ "$(wc -l <"$T/err")" -ge 1 ] || fail "$cmd before init: nothing on stderr"
	done
	ok_o init
	on_pg || [ -f "$T/o.db" ] || fail "init did not create $T/o.db"
	ok_o init
	cat "$T/out" "$T/err" | grep -qi 'up to date' || fail "second init does not say up to date: $(cat "$T/out" "$T/err")"
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o init
	ok_o contacts show c1
	grep -q 'liwei@example.cn' "$T/out" || fail "a contact did not survive a third init"
}

# 2. import, run, the right messages; Chinese text decodes byte-exact
c_flow() {
	setup_flow
	ok_o run --once --now 2026-03-01T10:30:00Z
	n=$(nout)
	[ "$n" = 3 ] || fail "outbox has $n messages, want 3 (c1 sms, c2 email, c3 email): $(ls "$T/outbox" 2>&1 | tr '\n' ' ')"
	# c1: sms, raw UTF-8 json
	py find "$T/outbox" +8613800138001 file
	f="$T/outbox/$(cat "$T/py")"
	case "$f" in *.json) ;; *) fail "c1's message is not a .json sms: $f" ;; esac
	grep -qF '【Acme】ZH 李伟，感谢您的订单 A-1！' "$f" || fail "$f does not hold the Chinese text as raw UTF-8: $(cat "$f")"
	grep -q '\\u' "$f" && fail "$f escapes non-ASCII as \\u: $(cat "$f")"
	py json "$f" text
	same_as '【Acme】ZH 李伟，感谢您的订单 A-1！
' "c1 sms text"
	py json "$f" to_name
	same_as '李伟' "c1 sms to_name"
	py json "$f" channel
	same_as 'sms' "c1 sms channel"
	py json "$f" campaign
	same_as 'hello' "c1 sms campaign"
	py json "$f" step
	same_as '1' "c1 sms step"
	py json "$f" send_id
	[ "$(cat "$T/py").json" = "$(basename "$f")" ] || fail "send_id $(cat "$T/py") does not match file name $(basename "$f")"
	# c2: email, zh template, quoted-printable or base64 UTF-8
	py find "$T/outbox" wangfang@example.cn file
	e="$T/outbox/$(cat "$T/py")"
	case "$e" in *.eml) ;; *) fail "c2's message is not an .eml: $e" ;; esac
	py eml "$e" crlf
	same_as ok "$e line endings"
	py eml "$e" subject
	same_as "$ZH_SUBJECT_C2" "c2 subject (long, folded, mixed Chinese and ASCII)"
	py eml "$e" to
	same_as '王芳 <wangfang@example.cn>' "c2 To"
	py eml "$e" type
	same_as 'multipart/alternative' "c2 Content-Type (email.zh.html beside email.zh.txt)"
	py eml "$e" plain
	same_as "$ZH_BODY_C2" "c2 text/plain part"
	py eml "$e" html
	# email is tracked by default: the HTML ends with the signed open pixel
	sid=$(basename "$e" .eml)
	pix=$("$PY" -c 'import hmac, hashlib, sys
m = hmac.new(b"e2e-test-secret", ("o.%s.0" % sys.argv[1]).encode(), hashlib.sha256).hexdigest()[:20]
print("<img src=\"http://127.0.0.1:8080/o/o%s.0.%s\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">" % (sys.argv[1], m), end="")' "$sid")
	same_as "<p>王芳，您好：</p>
<p>感谢您选择 Acme。订单 <b>A-2</b> 已收到。</p>
$pix" "c2 text/html part (with the open pixel)"
	awk 'length($0) > 999' "$e" | grep -q . && fail "$e has a line over 998 octets"
	grep -q '^Subject: =?UTF-8?' "$e" || grep -q '^Subject: =?utf-8?' "$e" ||
		fail "c2 Subject is not RFC 2047 encoded: $(grep '^Subject' "$e")"
	LC_ALL=C grep -q '[^[:print:][:space:]]' "$e" && fail "$e has raw 8-bit bytes"
	# c3: en plain template
	py find "$T/outbox" emma@example.co.uk subject
	same_as 'Hello Emma Clarke, order A-3' "c3 subject"
	py find "$T/outbox" emma@example.co.uk plain
	same_as 'Hi Emma Clarke,
EN-PLAIN email for order A-3.
' "c3 body"
	# c4 has no address: nothing sent to anyone else
	s=$(report_sum sent hello)
	[ "$s" = 3 ] || fail "report sent=$s, want 3"
}

# 3. same events twice, run twice at the same now: one message each
c_idempotent() {
	setup_flow
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T10:30:00Z
	n1=$(nout)
	[ "$n1" = 3 ] || fail "first run: $n1 messages, want 3"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T10:30:00Z
	ok_o run --once --now 2026-03-01T10:30:00Z
	ok_o run --once --now 2026-03-01T12:00:00Z
	n2=$(nout)
	[ "$n2" = 3 ] || fail "after re-import and re-runs: $n2 messages, want 3"
	s=$(report_sum sent)
	[ "$s" = 3 ] || fail "report sent=$s after re-runs, want 3"
	sc=$(report_sum scheduled)
	[ "$sc" = 0 ] || fail "report scheduled=$sc, want 0"
	ok_o contacts show c1
	cp "$T/out" "$T/show.json"
	c=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["events"]))' "$T/show.json")
	[ "$c" = 1 ] || fail "c1 has $c events after importing the file 3 times, want 1"

	# events without ids, the second file the same events written differently
	# (keys in another order, times in another offset)
	T=$T/noid
	mkdir -p "$T"
	cfg_hello
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events_noid.jsonl"
	ok_o events import "$DATA/flow_events_noid.jsonl"
	ok_o events import "$DATA/flow_events_noid_same.jsonl"
	ok_o run --once --now 2026-03-01T10:30:00Z
	ok_o run --once --now 2026-03-01T10:30:00Z
	n=$(nout)
	[ "$n" = 3 ] || fail "events without ids imported 3 times: $n messages, want 3"
	s=$(report_sum sent)
	[ "$s" = 3 ] || fail "events without ids imported 3 times: report sent=$s, want 3"
}

# 4. unless: a reply before the follow-up is due cancels it
c_unless() {
	cfg <<'EOF'
campaigns:
  care:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 1h, channels: [email], template: hello}
      - {after: 7d, channels: [email], template: followup, unless: [replied, survey_response]}
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T11:00:00Z
	ok_o event add --contact c2 --type replied --at 2026-03-04T10:00:00Z --data '{"text":"谢谢，已经解决了"}'
	ok_o run --once --now 2026-03-09T12:00:00Z
	py find "$T/outbox" emma@example.co.uk count
	[ "$(cat "$T/py")" = 2 ] || fail "c3 (no reply) got $(cat "$T/py") messages, want hello + follow-up"
	py find "$T/outbox" wangfang@example.cn count
	[ "$(cat "$T/py")" = 1 ] || fail "c2 (replied) got $(cat "$T/py") messages, want only the first step"
	py find "$T/outbox" wangfang@example.cn subject
	same_as "$ZH_SUBJECT_C2" "c2's only message"
	id=$(send_of c2 care 2)
	[ -n "$id" ] || fail "contacts show c2 lists no send for care step 2"
	st=$(send_of c2 care 2 state)
	[ "$st" = cancelled ] || fail "c2's follow-up is '$st', want cancelled"
	ok_o why "$id"
	grep -q 'cancelled' "$T/out" || fail "why $id does not show cancelled: $(cat "$T/out")"
	grep -q 'replied' "$T/out" || fail "why $id does not name the replied event: $(cat "$T/out")"
	c=$(report_sum cancelled care 2)
	[ "$c" = 1 ] || fail "report cancelled=$c for care step 2, want 1"
}

# 5. a segment entered by time alone
c_segment_time() {
	cfg <<'EOF'
segments:
  churn_risk: days_since(last(purchase)) > 60
campaigns:
  winback:
    class: marketing
    trigger: {segment: churn_risk}
    steps:
      - {after: 0h, channels: [email], template: winback}
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	# c3's last purchase is 50 days before NOW
	ok_o event add --contact c3 --type purchase --at 2026-01-10T10:00:00Z --data '{"amount":100}'
	ok_o run --once --now "$NOW"
	[ "$(nout)" = 0 ] || fail "50 days after the purchase: $(nout) messages, want 0"
	ok_o contacts show c3
	grep -q churn_risk "$T/out" && fail "50 days after the purchase c3 is already in churn_risk"
	ok_o run --once --now 2026-03-10T10:00:00Z
	[ "$(nout)" = 0 ] || fail "59 days after the purchase: $(nout) messages, want 0"
	ok_o run --once --now 2026-03-12T10:00:00Z
	py find "$T/outbox" emma@example.co.uk subject
	same_as 'We miss you, Emma Clarke' "the win-back at 61 days, without any new event"
	[ "$(nout)" = 1 ] || fail "61 days: $(nout) messages, want 1 (only c3 bought)"
	ok_o contacts show c3
	cp "$T/out" "$T/show.json"
	py segments "$T/show.json"
	grep -qx churn_risk "$T/py" || fail "contacts show c3 does not list churn_risk at 61 days"
	ok_o run --once --now 2026-03-13T10:00:00Z
	[ "$(nout)" = 1 ] || fail "staying in the segment enrolled again: $(nout) messages"
}

# 6. templates by segment and locale
c_template_lookup() {
	cfg <<'EOF'
segments:
  vip: spend_12m >= 100000
campaigns:
  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [sms, email], template: hello}
EOF
	ok_o init
	ok_o contacts import "$DATA/locale_contacts.csv"
	ok_o events import "$DATA/locale_events.jsonl"
	ok_o run --once --now "$NOW"
	py find "$T/outbox" +8613800000001 text
	same_as '【Acme】ZH 李伟，感谢您的订单 A-z1！
' "zh contact: sms.zh.txt"
	py find "$T/outbox" +8613800000002 text
	same_as '【Acme】ZH 张敏，感谢您的订单 A-z2！
' "zh-CN contact: falls back to sms.zh.txt"
	py find "$T/outbox" +8613800000003 text
	same_as '【Acme】VIP-ZH 尊敬的王总，专属客户经理会联系您。
' "VIP zh contact: sms.vip.zh.txt"
	py find "$T/outbox" +447700900001 text
	same_as 'EN-PLAIN sms Emma "Em" \ O'"'"'Neil
' "en contact: sms.txt (a name with quotes and a backslash, JSON-escaped)"
	py find "$T/outbox" +447700900001 to_name
	same_as 'Emma "Em" \ O'"'"'Neil' "to_name with quotes and a backslash"
	py find "$T/outbox" +12125550002 text
	same_as 'EN-PLAIN sms Bob VIP
' "VIP en contact (no sms.vip.txt): sms.txt"
	py find "$T/outbox" wangfang@example.cn plain
	grep -q '^王芳，您好：' "$T/py" || fail "zh-CN contact without a phone did not get email.zh.txt: $(head -c 200 "$T/py")"
	py find "$T/outbox" nophone@example.com subject
	same_as 'Hello Nora, Jr., order A-e3' "en contact without a phone: email.txt"
	py find "$T/outbox" nophone@example.com toname
	same_as 'Nora, Jr.' "To display name with a comma (must be quoted)"
	[ "$(nout)" = 7 ] || fail "outbox has $(nout) messages, want 7"
}

# 7. bad input is rejected whole, or skipped with --skip-bad
c_bad_input() {
	cfg_hello
	ok_o init
	expect_rc 2 contacts import "$DATA/bad_email.csv"
	err_has 'bad_email.csv:3: invalid email "bob@"' "bad email"
	o contacts show g1
	[ "$RC" != 0 ] || fail "good row g1 was imported from a file with a bad row: $(cat "$T/out")"
	grep -q 'good1@example.com' "$T/out" && fail "contacts show g1 shows it after a rejected import"
	expect_rc 0 contacts import "$DATA/bad_email.csv" --skip-bad
	grep -F 'bad_email.csv:3:' "$T/err" "$T/out" >/dev/null || fail "--skip-bad does not report the skipped line 3: $(cat "$T/out" "$T/err")"
	ok_o contacts show g1
	grep -q 'good1@example.com' "$T/out" || fail "--skip-bad did not import g1"
	ok_o contacts show g2
	grep -q 'good2@example.com' "$T/out" || fail "--skip-bad did not import g2"
	o contacts show b1
	[ "$RC" != 0 ] || fail "--skip-bad imported the bad row b1"

	# events with a bad time
	expect_rc 2 events import "$DATA/bad_time.jsonl"
	err_has 'bad_time.jsonl:2:' "event with a bad time"
	ok_o contacts show g1
	cp "$T/out" "$T/show.json"
	c=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["events"]))' "$T/show.json")
	[ "$c" = 0 ] || fail "a rejected events file imported $c events"
	expect_rc 0 events import "$DATA/bad_time.jsonl" --skip-bad
	ok_o contacts show g1
	cp "$T/out" "$T/show.json"
	c=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["events"]))' "$T/show.json")
	[ "$c" = 1 ] || fail "--skip-bad imported $c events, want 1"

	# unknown time zone
	expect_rc 2 contacts import "$DATA/bad_tz.csv"
	err_has 'bad_tz.csv:3:' "unknown time zone"
	err_has 'Mars/Base' "unknown time zone"
	o contacts show t1
	[ "$RC" != 0 ] || fail "t1 was imported from a file with an unknown time zone"

	# duplicate id
	expect_rc 2 contacts import "$DATA/dup_id.csv"
	err_has 'dup_id.csv:4:' "duplicate id"
	grep -qi 'dup' "$T/err" || fail "duplicate id: stderr does not say duplicate: $(cat "$T/err")"
	o contacts show d1
	[ "$RC" != 0 ] || fail "d1 was imported from a file with a duplicate id"
}

# 8a. a segment with a syntax error
c_bad_segment() {
	cfg <<'EOF'
segments:
  vip: spend_12m >= 100000
  broken: count(purchase, 30d) > and (spend_12m
campaigns:
  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 1h, channels: [sms, email], template: hello}
EOF
	line=$(grep -n '^  broken:' "$T/o.yaml" | cut -d: -f1)
	expect_rc 2 check
	grep -q "^$T/o.yaml:$line:" "$T/err" || fail "check does not name $T/o.yaml:$line: $(cat "$T/err")"
	grep "^$T/o.yaml:$line:" "$T/err" | grep -q broken || fail "the error line does not name segment broken: $(cat "$T/err")"
	expect_rc 2 init
	expect_rc 2 run --once --now "$NOW"
	grep -q "o.yaml:$line:" "$T/err" || fail "run's refusal does not name the line: $(cat "$T/err")"
}

# 8b. a template with an unclosed section
c_bad_template() {
	mkdir -p "$T/tpl"
	cp -R "$DATA/templates/." "$T/tpl/"
	printf 'Order for {{name}}\n{{#event.order_id}}order {{event.order_id}}\nend\n' >"$T/tpl/hello/sms.txt"
	cfg_hello "$T/tpl"
	expect_rc 2 check
	grep -q "hello/sms.txt:[0-9]*:" "$T/err" || fail "check does not name hello/sms.txt:LINE: $(cat "$T/err")"
	grep -q "hello/sms.txt:2:" "$T/err" || fail "check does not name line 2, where the section opens: $(cat "$T/err")"
}

# 8c. a campaign naming a template that does not exist
c_missing_template() {
	cfg <<'EOF'
campaigns:
  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 1h, channels: [sms, email], template: no-such-template}
EOF
	line=$(grep -n 'no-such-template' "$T/o.yaml" | cut -d: -f1)
	expect_rc 2 check
	grep -q "o.yaml:$line:.*no-such-template" "$T/err" || fail "check does not name o.yaml:$line and the template: $(cat "$T/err")"
}

# 9. a step whose due time + expire has passed is expired, never sent
c_expiry() {
	cfg <<'EOF'
campaigns:
  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 1h, channels: [sms, email], template: hello, expire: 2h}
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T13:00:00Z
	[ "$(nout)" = 0 ] || fail "expired sends were sent: $(ls "$T/outbox" | tr '\n' ' ')"
	st=$(send_of c1 hello 1 state)
	[ "$st" = expired ] || fail "c1's send is '$st', want expired"
	id=$(send_of c1 hello 1)
	ok_o why "$id"
	grep -q expired "$T/out" || fail "why $id does not show expired: $(cat "$T/out")"
	x=$(report_sum expired hello)
	[ "$x" = 3 ] || fail "report expired=$x, want 3"
	ok_o run --once --now 2026-03-01T13:00:00Z
	[ "$(nout)" = 0 ] || fail "a second run sent expired sends"
}

# 10. consent: unsubscribed from sms marketing, do_not_contact
c_consent() {
	cfg <<'EOF'
campaigns:
  news:
    class: marketing
    trigger: {event: signup}
    steps:
      - {after: 0h, channels: [sms, email], template: mkt}
  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [sms, email], template: hello}
EOF
	ok_o init
	ok_o contacts import "$DATA/consent_contacts.csv"
	ok_o events import "$DATA/consent_events.jsonl"
	ok_o run --once --now "$NOW"
	py find "$T/outbox" +12125550101 text
	same_as 'MKT-SMS Kim Ok reply STOP to opt out
' "subscribed contact: marketing by sms"
	py find "$T/outbox" +12125550102 count
	sms=$(cat "$T/py")
	py find "$T/outbox" lee@example.com subject
	same_as 'News for Lee Unsub' "unsubscribed_sms contact: marketing via email"
	[ "$sms" = 1 ] || fail "unsubscribed_sms contact got $sms sms, want 1 (the transactional one only)"
	py find "$T/outbox" +12125550102 text
	same_as 'EN-PLAIN sms Lee Unsub
' "unsubscribed_sms contact: transactional still by sms"
	py find "$T/outbox" +12125550103 count
	[ "$(cat "$T/py")" = 0 ] || fail "do_not_contact contact got an sms"
	py find "$T/outbox" dan@example.com count
	[ "$(cat "$T/py")" = 0 ] || fail "do_not_contact contact got an email"
	for camp in news hello; do
		st=$(send_of k3 $camp 1 state)
		[ "$st" = suppressed ] || fail "do_not_contact contact's $camp send is '$st', want suppressed"
		id=$(send_of k3 $camp 1)
		ok_o why "$id"
		grep -q suppressed "$T/out" || fail "why $id does not show suppressed: $(cat "$T/out")"
		grep -qi 'do.not.contact' "$T/out" || fail "why $id does not give do_not_contact as the reason: $(cat "$T/out")"
	done
	# the unsubscribed / subscribed events do what the column does
	ok_o event add --contact k1 --type unsubscribed --at 2026-03-02T08:00:00Z --data '{"channel":"sms","class":"marketing"}'
	ok_o event add --contact k1 --type signup --at 2026-03-02T09:00:00Z
	ok_o run --once --now 2026-03-02T10:00:00Z
	py find "$T/outbox" kim@example.com subject
	same_as 'News for Kim Ok' "after an unsubscribed sms event: marketing via email"
	py find "$T/outbox" +12125550101 count
	[ "$(cat "$T/py")" = 1 ] || fail "after an unsubscribed sms event the contact got another sms"
	ok_o event add --contact k1 --type subscribed --at 2026-03-03T08:00:00Z --data '{"channel":"sms","class":"marketing"}'
	ok_o event add --contact k1 --type signup --at 2026-03-03T09:00:00Z
	ok_o run --once --now 2026-03-03T10:00:00Z
	py find "$T/outbox" +12125550101 count
	[ "$(cat "$T/py")" = 2 ] || fail "after a subscribed sms event marketing did not go by sms again"
}

# 11. four concurrent `run --once` on one store: every send exactly once
c_concurrent() {
	cfg_bulk
	ok_o init
	many_contacts 200
	for k in 1 2 3 4; do
		("$O" -c "$T/o.yaml" run --once --now "$NOW" >"$T/run$k.out" 2>"$T/run$k.err"; echo $? >"$T/run$k.rc") &
	done
	wait
	total=0
	for k in 1 2 3 4; do
		rc=$(cat "$T/run$k.rc")
		[ "$rc" = 0 ] || fail "concurrent run $k exited $rc: $(tail -n 3 "$T/run$k.err" | tr '\n' ' ')"
		s=$(sed -n 's/.*done: \([0-9]*\) sent.*/\1/p' "$T/run$k.err")
		[ -n "$s" ] || fail "run $k has no 'done: N sent' line: $(tail -n 3 "$T/run$k.err" | tr '\n' ' ')"
		total=$((total + s))
	done
	n=$(nout)
	[ "$n" = 200 ] || fail "outbox has $n messages, want 200"
	to=$(cat "$T"/outbox/*.json | grep '"to"' | sort -u | wc -l)
	[ "$to" = 200 ] || fail "$to distinct recipients, want 200"
	[ "$total" = 200 ] || fail "the four runs report $total sent in all, want 200 (a send went out twice?)"
	s=$(report_sum sent bulk)
	[ "$s" = 200 ] || fail "report sent=$s, want 200"
	sg=$(report_sum sending bulk)
	[ "$sg" = 0 ] || fail "report sending=$sg after all runs ended"
	d=$(sqlite3 "$T/o.db" "SELECT COUNT(*) FROM (SELECT send_id FROM attempts GROUP BY send_id HAVING COUNT(*) > 1) AS q")
	[ "$d" = 0 ] || fail "$d sends have more than one delivery attempt"
}

# 12. the claims of a dead worker are released; an expired lease taken over
c_dead_worker() {
	cfg_hello
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T09:30:00Z # schedules; due at 10:00
	[ "$(nout)" = 0 ] || fail "sends went out before they were due"
	a=$(send_of c1 hello 1)
	b=$(send_of c2 hello 1)
	c=$(send_of c3 hello 1)
	if [ -z "$a" ] || [ -z "$b" ] || [ -z "$c" ]; then fail "the sends were not scheduled at 09:30"; fi
	host=$(hostname)
	sh -c 'exit 0' &
	dead=$!
	wait $dead
	kill -0 "$dead" 2>/dev/null && fail "pid $dead is still alive"
	far=$(epoch 2030-01-01T00:00:00Z)
	past=$(epoch 2026-03-01T10:30:00Z)
	future=$(epoch 2026-03-01T12:00:00Z)
	started=$(epoch 2026-03-01T09:59:00Z)
	sqlite3 "$T/o.db" "
	  INSERT INTO workers (id, host, pid, started_at, seen_at, stopped)
	    VALUES ('$host:$dead', '$host', $dead, $started, $started, 0);
	  UPDATE sends SET state = 'sending', owner = '$host:$dead', lease_until = $far WHERE id = $a;
	  UPDATE sends SET state = 'sending', owner = 'otherhost:1', lease_until = $past WHERE id = $b;
	  UPDATE sends SET state = 'sending', owner = 'otherhost:2', lease_until = $future WHERE id = $c;
	" || fail "sqlite3 could not set up the claims"
	ok_o run --once --now 2026-03-01T11:05:00Z
	st=$(send_of c1 hello 1 state)
	[ "$st" = sent ] || fail "the dead local worker's send is '$st', want sent"
	ok_o why "$a"
	grep -q "died" "$T/out" || fail "why $a does not give the release reason (worker died): $(cat "$T/out")"
	st=$(send_of c2 hello 1 state)
	[ "$st" = sent ] || fail "the send with an expired lease is '$st', want sent"
	ok_o why "$b"
	grep -q "lease expired" "$T/out" || fail "why $b does not say the lease expired: $(cat "$T/out")"
	st=$(send_of c3 hello 1 state)
	[ "$st" = sending ] || fail "a live lease of another host was taken over: '$st'"
	[ "$(nout)" = 2 ] || fail "outbox has $(nout) messages, want 2"
	ok_o run --once --now 2026-03-01T12:00:01Z
	st=$(send_of c3 hello 1 state)
	[ "$st" = sent ] || fail "once its lease expired the send is '$st', want sent"
	[ "$(nout)" = 3 ] || fail "outbox has $(nout) messages, want 3"
}

# 13. SIGTERM: the daemon stops cleanly, exit 0, a final log line
c_sigterm() {
	setup_flow
	"$O" -c "$T/o.yaml" run --now 2026-03-01T10:30:00Z >"$T/d.out" 2>"$T/d.err" &
	pid=$!
	i=0
	while [ "$(nout)" -lt 3 ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ "$(nout)" -lt 3 ]; then
		kill -KILL "$pid" 2>/dev/null
		fail "the daemon did not send the 3 due messages within 10 s: $(tail -n 3 "$T/d.err" | tr '\n' ' ')"
	fi
	sleep 0.3
	kill -0 "$pid" 2>/dev/null || fail "the daemon exited by itself without --once: $(tail -n 3 "$T/d.err")"
	term_stop "$pid" 5 "the daemon"
	last=$(tail -n 1 "$T/d.err")
	case "$last" in *done*) ;; *) fail "no final log line after SIGTERM, last: '$last'" ;; esac
	case "$last" in *3\ sent*) ;; *) fail "the final line does not count 3 sent: '$last'" ;; esac
	w=$(sqlite3 "$T/o.db" "SELECT COUNT(*) FROM workers WHERE stopped = 0")
	[ "$w" = 0 ] || fail "$w workers still registered as running after a clean stop"

	# SIGTERM in the middle of a batch: what was claimed and not handled is
	# given back (nothing left 'sending'), and the next run sends the rest once
	T=$T/busy
	mkdir -p "$T"
	cfg_bulk
	ok_o init
	many_contacts 200
	"$O" -c "$T/o.yaml" run --now "$NOW" >"$T/d.out" 2>"$T/d.err" &
	pid=$!
	sleep 0.05
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		fail "the busy daemon was still running 5 s after SIGTERM"
	fi
	wait "$pid"
	rc=$?
	[ "$rc" = 0 ] || fail "the busy daemon exited $rc after SIGTERM: $(tail -n 2 "$T/d.err" | tr '\n' ' ')"
	sg=$(sqlite3 "$T/o.db" "SELECT COUNT(*) FROM sends WHERE state = 'sending'")
	[ "$sg" = 0 ] || fail "$sg sends left 'sending' after SIGTERM, not given back"
	first=$(nout)
	ok_o run --once --now "$NOW"
	n=$(nout)
	[ "$n" = 200 ] || fail "after SIGTERM ($first sent) and another run: $n messages, want 200"
	s=$(report_sum sent bulk)
	[ "$s" = 200 ] || fail "after SIGTERM and another run: report sent=$s, want 200"
	d=$(sqlite3 "$T/o.db" "SELECT COUNT(*) FROM attempts")
	[ "$d" = 200 ] || fail "$d delivery attempts for 200 sends"
}

# 14. preview writes nothing; report json; why on an unknown id
c_preview_report_why() {
	setup_flow
	ok_o run --once --now 2026-03-01T09:30:00Z
	q='SELECT (SELECT COUNT(*) FROM sends)||","||(SELECT COUNT(*) FROM send_log)||","||(SELECT COUNT(*) FROM events)||","||(SELECT COUNT(*) FROM enrollments)||","||(SELECT COUNT(*) FROM attempts)'
	before=$(sqlite3 "$T/o.db" "$q")
	ok_o preview --contact c2 --campaign hello --channel email
	grep -qF '王芳' "$T/out" || fail "preview does not show the recipient's name: $(head -c 400 "$T/out")"
	grep -q '感谢您选择 Acme' "$T/out" ||
		{ "$PY" -c 'import email,email.policy,sys; m=email.message_from_bytes(sys.stdin.buffer.read(),policy=email.policy.default); b=m.get_body(preferencelist=("plain",)); sys.exit(0 if b and "感谢您选择 Acme" in b.get_content() else 1)' <"$T/out" ||
			fail "preview does not show the rendered zh body: $(head -c 400 "$T/out")"; }
	ok_o preview --contact c1 --campaign hello
	grep -q 'ZH 李伟' "$T/out" || fail "preview of c1 does not show the zh sms: $(head -c 400 "$T/out")"
	after=$(sqlite3 "$T/o.db" "$q")
	[ "$before" = "$after" ] || fail "preview changed the store: $before -> $after"
	[ "$(nout)" = 0 ] || fail "preview wrote to the outbox"
	ok_o run --once --now 2026-03-01T10:30:00Z
	ok_o report --format json
	"$PY" -c 'import json,sys
r = json.load(open(sys.argv[1]))
rows = [x for x in r["rows"] if x["campaign"] == "hello" and x["step"] == 1]
assert rows, "no hello rows"
assert sum(x["sent"] for x in rows) == 3, rows
assert {x["channel"] for x in rows if x["sent"]} == {"sms", "email"}, rows' "$T/out" 2>"$T/py.err" ||
		fail "report --format json: $(tail -n 1 "$T/py.err")"
	expect_rc 2 why 999999
	[ -s "$T/err" ] || fail "why on an unknown id says nothing on stderr"
	grep -q 999999 "$T/err" || fail "why on an unknown id does not name it: $(cat "$T/err")"
	expect_rc 2 preview --contact nobody --campaign hello
	expect_rc 2 preview --contact c1 --campaign no-such-campaign
}

ALL="c_init c_flow c_idempotent c_unless c_segment_time c_template_lookup c_bad_input
c_bad_segment c_bad_template c_missing_template c_expiry c_consent c_concurrent
c_dead_worker c_sigterm c_preview_report_why"

# more cases, one file per area (each appends its names to ALL)
for f in "$ROOT"/tests/e2e/cases_*.sh; do
	[ -f "$f" ] && . "$f"
done

# ---------------------------------------------------------------- driver

if [ "${1:-}" = --case ]; then
	T=$2
	WHY=$T/.why
	use_store "$T/o.db"
	$3
	exit 0
fi

[ -x "$O" ] || { echo "not ok - build/outreach is missing: run make build/outreach"; echo "0 passed, 1 failed"; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/outreach-e2e.XXXXXX") || exit 1
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0
# shellcheck disable=SC2086
[ $# -gt 0 ] || set -- $ALL
for name in "$@"; do
	T="$WORK/$name"
	mkdir -p "$T"
	timeout "${E2E_CASE_TIMEOUT:-40}" sh "$ROOT/tests/e2e/run.sh" --case "$T" "$name" >"$T/.log" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$T/.why" ]; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		if [ -s "$T/.why" ]; then
			why=$(cat "$T/.why")
		elif [ "$rc" = 124 ]; then
			why="timed out after ${E2E_CASE_TIMEOUT:-40} s"
		else
			why="exit $rc: $(tail -n 2 "$T/.log" | tr '\n' ' ')"
		fi
		echo "not ok - $name: $why"
		failed=$((failed + 1))
	fi
done
[ -n "${KEEP:-}" ] && echo "# kept $WORK" >&2
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
