# tests/e2e/cases_plan.sh - `outreach plan`: the next N days simulated on a
# copy of the store; nothing sent, the store unchanged. Sourced by run.sh.

# setup_plan - a thank-you after 1h and a follow-up after 7d unless a
# reply, and four purchases (NOW is 2026-03-01T10:00:00Z, the config's
# zone Asia/Shanghai, UTC+8):
#   c1 bought at 09:00Z: hello 10:00Z (03-01 local), follow-up 03-08
#   c2 bought at 09:00Z and replied at 09:30Z: hello 03-01, follow-up cancelled
#   c3 bought at 17:00Z: hello 18:00Z = 02:00 on 03-02 local, follow-up 03-09
#   c4 has no address: both steps suppressed (03-01, 03-08)
setup_plan() {
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
	cat >"$T/ev.jsonl" <<'EOF'
{"id":"p1","contact":"c1","type":"purchase","at":"2026-03-01T09:00:00Z","data":{"amount":100,"order_id":"A-1"}}
{"id":"p2","contact":"c2","type":"purchase","at":"2026-03-01T09:00:00Z","data":{"amount":100,"order_id":"A-2"}}
{"id":"r2","contact":"c2","type":"replied","at":"2026-03-01T09:30:00Z","data":{}}
{"id":"p3","contact":"c3","type":"purchase","at":"2026-03-01T17:00:00Z","data":{"amount":100,"order_id":"A-3"}}
{"id":"p4","contact":"c4","type":"purchase","at":"2026-03-01T09:00:00Z","data":{"amount":100,"order_id":"A-4"}}
EOF
	ok_o events import "$T/ev.jsonl"
}

# plan_check FILE CODE - run python asserts over the plan json in FILE (as p;
# day maps (date, campaign) to its row)
plan_check() {
	f=$1
	shift
	"$PY" -c "import json,sys
p = json.load(open(sys.argv[1]))
day = {(d['date'], d['campaign']): d for d in p['days']}
$*" "$f" 2>"$T/py.err" || fail "plan json: $(tail -n 1 "$T/py.err" | head -c 400)"
}

c_plan_basic() {
	setup_plan
	sqlite3 "$T/o.db" .dump >"$T/before.sql" || fail "sqlite3 .dump failed"
	mkdir -p "$T/tmp"
	export TMPDIR="$T/tmp"
	ok_o plan --now "$NOW" --days 10 --format json
	cp "$T/out" "$T/plan.json"
	[ -s "$T/err" ] && fail "plan wrote to stderr: $(head -c 300 "$T/err")"
	plan_check "$T/plan.json" '
assert p["from"] == "2026-03-01T10:00:00Z", p["from"]
assert p["to"] == "2026-03-11T10:00:00Z", p["to"]
want = {
  ("2026-03-01", "care"): dict(sent=2, suppressed=1, cancelled=1),
  ("2026-03-02", "care"): dict(sent=1),
  ("2026-03-08", "care"): dict(sent=1, suppressed=1),
  ("2026-03-09", "care"): dict(sent=1),
}
assert set(day) == set(want), sorted(day)
for k, w in want.items():
    for f in ("sent", "deferred", "deferred_sends", "suppressed", "expired", "cancelled", "failed"):
        assert day[k][f] == w.get(f, 0), (k, f, day[k][f], w.get(f, 0))
t = p["totals"]
assert (t["sent"], t["suppressed"], t["cancelled"], t["deferred"], t["failed"], t["expired"]) == (5, 2, 1, 0, 0, 0), t
assert t["contacts"] == 3, t
top = [(x["contact"], x["messages"], x["channels"]) for x in p["top_contacts"]]
assert top == [("c1", 2, ["email"]), ("c3", 2, ["email"]), ("c2", 1, ["email"])], top
'
	# nothing sent, nothing changed, nothing left behind
	[ "$(nout)" = 0 ] || fail "plan wrote $(nout) messages to the outbox"
	sqlite3 "$T/o.db" .dump >"$T/after.sql"
	cmp -s "$T/before.sql" "$T/after.sql" || fail "plan changed the store: $(diff "$T/before.sql" "$T/after.sql" | head -5 | tr '\n' ' ')"
	left=$(ls -A "$T/tmp")
	[ -z "$left" ] || fail "plan left files in TMPDIR: $left"

	# a shorter horizon stops before the follow-ups
	ok_o plan --now "$NOW" --days 5 --format json
	cp "$T/out" "$T/plan5.json"
	plan_check "$T/plan5.json" '
assert p["totals"]["sent"] == 3, p["totals"]
assert all(d["date"] <= "2026-03-06" for d in p["days"]), p["days"]'

	# the plan runs again from the same store with the same answer
	ok_o plan --now "$NOW" --days 10 --format json
	cmp -s "$T/out" "$T/plan.json" || fail "a second plan differs from the first"

	# and the real run does what the plan said for its first instant
	ok_o run --once --now "$NOW"
	[ "$(nout)" = 2 ] || fail "run after plan sent $(nout) messages, want 2 (c1, c2)"
	# a plan at the same instant counts only what is still to come, not
	# what that run already did
	ok_o plan --now "$NOW" --days 10 --format json
	cp "$T/out" "$T/plan2.json"
	plan_check "$T/plan2.json" '
assert p["totals"]["sent"] == 3, p["totals"]
assert p["totals"]["suppressed"] == 1 and p["totals"]["cancelled"] == 0, p["totals"]
assert ("2026-03-01", "care") not in day, p["days"]'
}

c_plan_table() {
	setup_plan
	ok_o plan --now "$NOW" --days 10
	head -n 1 "$T/out" >"$T/head"
	for col in date campaign sent deferred suppressed expired cancelled failed; do
		grep -qw "$col" "$T/head" || fail "table header lacks $col: $(cat "$T/head")"
	done
	n=$(grep -c '^2026-' "$T/out")
	[ "$n" = 4 ] || fail "table has $n day lines, want 4: $(cat "$T/out")"
	# date campaign sent deferred deferred_sends suppressed expired cancelled failed
	got=$(awk '/^2026-/ {print $1, $2, $3, $6}' "$T/out" | tr '\n' '|')
	case "$got" in
	"2026-03-01 care 2 1|2026-03-02 care 1 0|2026-03-08 care 1 1|2026-03-09 care 1 0|") ;;
	*) fail "table rows (date campaign sent suppressed): $got" ;;
	esac
	grep -q '^total  *5 ' "$T/out" || fail "table has no total line with 5 sent: $(cat "$T/out")"
	grep -q '^c1  *2  *email$' "$T/out" || fail "table lacks the top contact c1: $(cat "$T/out")"
	grep -q 'nothing was sent' "$T/out" || fail "table does not say nothing was sent"
	[ "$(nout)" = 0 ] || fail "plan wrote $(nout) messages to the outbox"
}

c_plan_bad() {
	setup_plan
	for bad in "--days 0" "--days 1000" "--days 7x" "--days="; do
		# shellcheck disable=SC2086
		expect_rc 2 plan $bad
		err_has '--days' "plan $bad"
		[ "$(wc -l <"$T/err")" = 1 ] || fail "plan $bad: not one line: $(cat "$T/err")"
	done
	expect_rc 2 plan --format xml
	err_has '--format' "plan --format xml"
	err_has 'xml' "plan --format xml"
	expect_rc 2 plan --now yesterday
	err_has '--now' "plan --now yesterday"
	expect_rc 2 plan --bogus
	err_has 'bogus' "plan --bogus"
	ok_o plan --now "$NOW" --days 90
	ok_o plan --now "$NOW" --days 1 --format table
	# a PostgreSQL server that is not there: one line, exit 1, and the URL's
	# password is not shown
	sed 's|^store: .*|store: postgresql://u:s3cr3tpw@127.0.0.1:1/outreach|' "$T/o.yaml" >"$T/pg.yaml"
	env -u OUTREACH_STORE "$O" -c "$T/pg.yaml" plan --now "$NOW" >"$T/out" 2>"$T/err"
	[ $? = 1 ] || fail "plan on an unreachable postgresql store: exit not 1"
	err_has 'cannot connect' "plan on an unreachable postgresql store"
	grep -q s3cr3tpw "$T/err" && fail "plan shows the store URL's password: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "plan on postgresql: not one line: $(cat "$T/err")"
}

# a contact that enters a segment by time alone, with no new event: plan
# finds the day (the segment re-evaluation the store holds)
c_plan_segment() {
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
	# 50 days before NOW: 61 days after is 2026-03-12T10:00Z, 18:00 local
	ok_o event add --contact c3 --type purchase --at 2026-01-10T10:00:00Z --data '{"amount":100}'
	ok_o plan --now "$NOW" --days 20 --format json
	cp "$T/out" "$T/plan.json"
	plan_check "$T/plan.json" '
assert [(d["date"], d["campaign"], d["sent"]) for d in p["days"]] == [("2026-03-12", "winback", 1)], p["days"]
assert [x["contact"] for x in p["top_contacts"]] == ["c3"], p["top_contacts"]'
	ok_o plan --now "$NOW" --days 10 --format json
	cp "$T/out" "$T/plan10.json"
	plan_check "$T/plan10.json" 'assert p["days"] == [] and p["totals"]["sent"] == 0, p'
	[ "$(nout)" = 0 ] || fail "plan wrote $(nout) messages to the outbox"
}

ALL="$ALL c_plan_basic c_plan_table c_plan_bad c_plan_segment"
