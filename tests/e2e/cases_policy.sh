# cases_policy.sh - never over-contact: quiet hours in each contact's zone,
# frequency caps per class, rate limits shared by every worker, per-campaign
# limits, and the config errors check reports. Sourced by run.sh.

# pcfg POLICIES CAMPAIGNS [TRANSPORT_EXTRA] - a config with outbox transports
pcfg() {
	use_store "$T/o.db"
	cat >"$T/o.yaml" <<EOF
store: $T/o.db
templates: $DATA/templates
timezone: Asia/Shanghai
tracking:
  base_url: http://127.0.0.1:8080
  secret_env: OUTREACH_SECRET
policies:
$1
transports:
  email:
    kind: outbox
    channel: email
    dir: $T/outbox
    from: "Acme Care <care@example.com>"
$3
  sms:
    kind: outbox
    channel: sms
    dir: $T/outbox
campaigns:
$2
EOF
}

sq() { sqlite3 "$T/o.db" "$1"; }

# people N ZONE... - contacts p1..pN, cycling through the zones
people() {
	n=$1
	shift
	echo "id,name,email,phone,timezone" >"$T/people.csv"
	i=1
	while [ "$i" -le "$n" ]; do
		for z in "$@"; do
			[ "$i" -le "$n" ] || break
			echo "p$i,P$i,p$i@example.com,+1555000$(printf %04d $i),$z" >>"$T/people.csv"
			i=$((i + 1))
		done
	done
	ok_o init
	ok_o contacts import "$T/people.csv"
}

# buy ID TIME - a purchase event
buy() {
	ok_o event add --contact "$1" --type purchase --at "$2" --data '{"amount": 10}'
}

# 1. quiet hours in each contact's own zone: Shanghai and Auckland contacts
# due at the same instant; each is held until 09:00 local, never dropped,
# and the reason names the zone; a step whose expiry comes first expires
c_policy_quiet() {
	pcfg '  quiet_hours: "21:00-09:00"' '  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello}
  short:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello, expire: 2h}'
	people 2 Asia/Shanghai Pacific/Auckland
	# 14:00Z: 22:00 in Shanghai, 03:00 (NZDT) in Auckland
	buy p1 2026-03-01T13:59:00Z
	buy p2 2026-03-01T13:59:00Z
	ok_o run --once --now 2026-03-01T14:00:00Z
	[ "$(nout)" = 0 ] || fail "quiet hours: $(nout) messages sent at night"
	r=$(sq "select reason from sends where contact_id = 'p1' and campaign = 'hello'")
	[ "$r" = "quiet hours (21:00-09:00, policies) in Asia/Shanghai until 2026-03-02T01:00:00Z" ] ||
		fail "p1 reason: $r"
	r=$(sq "select reason from sends where contact_id = 'p2' and campaign = 'hello'")
	[ "$r" = "quiet hours (21:00-09:00, policies) in Pacific/Auckland until 2026-03-01T20:00:00Z" ] ||
		fail "p2 reason: $r"
	[ "$(sq "select group_concat(state) from (select state from sends where campaign = 'short' order by contact_id) as q")" = "expired,expired" ] ||
		fail "short: $(sq "select state, reason from sends where campaign = 'short'")"
	sq "select reason from sends where campaign = 'short'" | grep -q 'past its expiry' ||
		fail "short expired without saying why"
	[ "$(sq "select sum(attempts) from sends")" = 0 ] || fail "quiet hours counted as attempts"
	# 20:00Z is 09:00 in Auckland: p2 only
	ok_o run --once --now 2026-03-01T20:00:00Z
	[ "$(sq "select contact_id from sends where state = 'sent'")" = p2 ] ||
		fail "at 09:00 Auckland: sent to $(sq "select group_concat(contact_id) from sends where state = 'sent'")"
	ok_o run --once --now 2026-03-02T01:00:00Z
	[ "$(sq "select count(*) from sends where state = 'sent'")" = 2 ] || fail "p1 not sent at 09:00 Shanghai"
	ok_o why "$(sq "select id from sends where contact_id = 'p1' and campaign = 'hello'")"
	grep -q "deferred   quiet hours (21:00-09:00, policies) in Asia/Shanghai" "$T/out" ||
		fail "why does not show the quiet-hours deferral: $(cat "$T/out")"
}

# 2. the most specific quiet hours win (transport over campaign over
# policies), and quiet_days hold a whole local day
c_policy_quiet_levels() {
	pcfg '  quiet_hours: "21:00-09:00"
  quiet_days: [sun]' '  hello:
    class: transactional
    quiet_hours: "12:00-13:00"
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello}' '    quiet_hours: ["00:00-08:00", "22:00-23:59"]'
	people 1 Asia/Shanghai
	# Sunday 2026-03-01 12:30 in Shanghai: the transport's own windows
	# allow it (neither the campaign's noon window nor Sunday applies)
	buy p1 2026-03-01T04:00:00Z
	ok_o run --once --now 2026-03-01T04:30:00Z
	[ "$(nout)" = 1 ] || fail "the transport's quiet hours did not win: $(sq "select reason from sends")"
}

# 3. frequency caps from the store: marketing at most 2 per 7 days, at
# least 12h between any two messages; transactional mail does not count
# against marketing; stepping the clock through 10 days
c_policy_caps() {
	pcfg '  caps:
    marketing: {max: 2, per: 7d}
    all: {min_gap: 12h}' '  news:
    trigger: {event: visit}
    steps:
      - {after: 0h, channels: [email], template: mkt}
  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello}'
	people 1 Asia/Shanghai
	# four marketing triggers on four days, and a purchase on day 1
	for d in 01 02 03 04; do
		ok_o event add --contact p1 --type visit --at "2026-03-${d}T02:00:00Z" --data "{\"d\": \"$d\"}"
	done
	buy p1 2026-03-01T02:00:00Z
	t=2026-03-01T02:00:00Z
	for h in $(seq 0 6 240); do
		t=$(date -u -d "2026-03-01T02:00:00Z + $h hours" +%Y-%m-%dT%H:%M:%SZ)
		ok_o run --once --now "$t"
	done
	sent=$(sq "select count(*) from sends where state = 'sent'")
	mk=$(sq "select count(*) from sends where state = 'sent' and campaign = 'news'")
	# days 1 and 2, then the two held ones when the first two leave the
	# 7-day window: days 8 and 9
	[ "$mk" = 4 ] || fail "$mk marketing messages in 10 days, want 4"
	# no 7-day window holds more than 2 marketing messages
	sq "select sent_at from sends where state = 'sent' and campaign = 'news' order by sent_at" >"$T/mk"
	"$PY" - "$T/mk" <<'PYEOF' || fail "marketing cap broken: $(tr '\n' ' ' <"$T/mk")"
import sys
t = [int(x) for x in open(sys.argv[1]).read().split()]
assert all(t[i + 2] - t[i] >= 7 * 86400 for i in range(len(t) - 2)), t
PYEOF
	# no two messages closer than 12 hours
	sq "select sent_at from sends where state = 'sent' order by sent_at" >"$T/all"
	"$PY" - "$T/all" <<'PYEOF' || fail "min_gap broken: $(tr '\n' ' ' <"$T/all")"
import sys
t = [int(x) for x in open(sys.argv[1]).read().split()]
assert all(b - a >= 12 * 3600 for a, b in zip(t, t[1:])), t
PYEOF
	[ "$(sq "select state from sends where campaign = 'hello'")" = sent ] ||
		fail "the transactional message was not sent"
	sq "select reason from send_log where reason like 'capped by%'" | grep -q 'capped by marketing (max 2 per 7d) until' ||
		fail "no deferral names the marketing cap: $(sq "select reason from send_log")"
	[ "$(sq "select sum(attempts) from sends")" = "$(sq "select count(*) from sends where state = 'sent'")" ] ||
		fail "caps counted as attempts: $(sq "select id, state, attempts from sends")"
	[ "$sent" = $((mk + 1)) ] || fail "sent $sent, want $mk marketing + 1"
}

# 4. a rate limit waits and does not fail or count as an attempt
c_policy_rate() {
	pcfg '  {}' '  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello}' '    rate: 2/s
    burst: 2'
	people 5 Asia/Shanghai
	for i in 1 2 3 4 5; do buy p$i 2026-03-01T02:00:00Z; done
	ok_o run --once --now 2026-03-01T02:00:00Z
	[ "$(nout)" = 2 ] || fail "rate 2/s burst 2 sent $(nout) at once"
	[ "$(sq "select count(*) from sends where state = 'deferred' and reason = 'rate limited: email at 2/s'")" = 3 ] ||
		fail "deferrals: $(sq "select state, reason from sends")"
	[ "$(sq "select sum(attempts) from sends")" = 2 ] || fail "rate limiting counted as attempts"
	ok_o run --once --now 2026-03-01T02:00:01Z
	[ "$(nout)" = 4 ] || fail "one second later: $(nout) sent, want 4"
	ok_o run --once --now 2026-03-01T02:00:02Z
	[ "$(nout)" = 5 ] || fail "two seconds later: $(nout) sent, want 5"
}

# 5. several run processes on one store: the caps and the aggregate rate
# hold across them
c_policy_workers() {
	pcfg '  caps:
    all: {min_gap: 1d}' '  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello}
  thanks2:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello}' '    rate: 20/s
    burst: 20'
	people 60 Asia/Shanghai
	"$PY" -c '
import json
for i in range(1, 61):
    print(json.dumps({"contact": "p%d" % i, "type": "purchase", "at": "2026-03-01T02:00:00Z", "data": {"n": i}}))
' >"$T/buys.jsonl"
	ok_o events import "$T/buys.jsonl"
	for k in 1 2 3 4; do
		"$O" -c "$T/o.yaml" run --once --now 2026-03-01T02:00:00Z --batch 7 >"$T/run$k.out" 2>"$T/run$k.err" &
	done
	wait
	# 120 sends for 60 contacts: the rate lets 20 through at this instant,
	# the cap one per contact
	[ "$(nout)" = 20 ] || fail "4 workers at one instant sent $(nout), want the burst of 20"
	[ "$(sq "select count(*) from (select contact_id from sends where state in ('sent', 'sending') group by contact_id having count(*) > 1) as q")" = 0 ] ||
		fail "a contact got two messages within a day"
	for s in 1 2 3 4 5 6; do
		for k in 1 2 3; do
			"$O" -c "$T/o.yaml" run --once --now "2026-03-01T02:00:0${s}Z" --batch 5 >/dev/null 2>"$T/run$k.err" &
		done
		wait
	done
	[ "$(nout)" = 60 ] || fail "after 6 more seconds: $(nout) sent, want 60 (one per contact)"
	[ "$(sq "select count(*) from (select contact_id from sends where state = 'sent' group by contact_id having count(*) > 1) as q")" = 0 ] ||
		fail "a contact got two messages within a day"
	[ "$(sq "select count(*) from sends where state = 'deferred' and reason like 'capped by all (min_gap 1d)%'")" = 60 ] ||
		fail "the second message of each contact is not held by the cap: $(sq "select state, count(*) from sends group by state")"
}

# 6. per campaign: max_per_contact and reentry
c_policy_campaign_limits() {
	pcfg '  {}' '  hello:
    class: transactional
    max_per_contact: 2
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello}
  winback:
    trigger: {event: complaint}
    reentry: 30d
    steps:
      - {after: 0h, channels: [email], template: winback}'
	people 1 Asia/Shanghai
	for d in 01 02 03 04; do buy p1 "2026-03-${d}T02:00:00Z"; done
	for d in 01 10 20; do
		ok_o event add --contact p1 --type complaint --at "2026-03-${d}T02:00:00Z" --data "{\"d\": \"$d\"}"
		ok_o run --once --now "2026-03-${d}T03:00:00Z"
	done
	ok_o event add --contact p1 --type complaint --at 2026-04-05T02:00:00Z --data '{"d": "late"}'
	ok_o run --once --now 2026-04-05T03:00:00Z
	[ "$(sq "select count(*) from enrollments where campaign = 'hello'")" = 2 ] ||
		fail "max_per_contact 2: $(sq "select count(*) from enrollments where campaign = 'hello'") enrollments"
	[ "$(sq "select count(*) from enrollments where campaign = 'winback'")" = 2 ] ||
		fail "reentry 30d: $(sq "select group_concat(trigger_at) from enrollments where campaign = 'winback'")"
}

# 7. bad policies are refused by check with the line, and by run
c_policy_bad_config() {
	pcfg '  quiet_hours: "21:00-9:00"
  caps:
    marketing: {max: 0, per: 7d}
    weekly: {max: 1, per: 7d}
    all: {min_gap: soon}' '  hello:
    trigger: {event: purchase}
    quiet_days: [caturday]
    steps:
      - {after: 0h, channels: [email], template: hello}' '    rate: 0/s
    domain_rate: {qq.com: 5/fortnight}'
	expect_rc 2 check
	err_has 'o.yaml:8: policies: bad quiet hours "21:00-9:00" (want HH:MM-HH:MM)' "bad window"
	err_has 'o.yaml:10: cap marketing: max must be a whole number of at least 1' "max 0"
	err_has 'o.yaml:11: unknown cap "weekly" (use marketing, transactional or all)' "unknown cap"
	err_has 'o.yaml:12: cap all: bad duration for min_gap (use 12h, 7d, 30d)' "bad min_gap"
	err_has 'transport "email": rate "0/s" must be more than 0' "zero rate"
	err_has 'transport "email": domain_rate qq.com: bad rate "5/fortnight"' "bad unit"
	err_has 'campaign "hello": quiet_days[0]: "caturday" is neither a weekday nor YYYY-MM-DD' "bad day"
	expect_rc 2 run --once --now 2026-03-01T00:00:00Z
	pcfg '  quiet_hours: ["21:00-09:00", "08:00-10:00"]' '  hello:
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello}'
	expect_rc 2 check
	err_has 'o.yaml:8: policies: quiet hours "08:00-10:00" overlap an earlier window' "overlap"
}

ALL="$ALL c_policy_quiet c_policy_quiet_levels c_policy_caps c_policy_rate c_policy_workers
c_policy_campaign_limits c_policy_bad_config"

# 8. plan simulates the coming days under the policies: a purchase at
# night is held by quiet hours and planned for the next morning
c_policy_plan() {
	pcfg '  quiet_hours: "21:00-09:00"' '  hello:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello}'
	people 2 Asia/Shanghai America/New_York
	buy p1 2026-03-01T14:00:00Z
	buy p2 2026-03-01T14:00:00Z
	ok_o plan --now 2026-03-01T14:00:00Z --days 2 --format json
	cp "$T/out" "$T/plan.json"
	"$PY" - "$T/plan.json" <<'PYEOF' 2>"$T/py.err" || fail "plan: $(tail -n 1 "$T/py.err")"
import json, sys
p = json.load(open(sys.argv[1]))
days = {(d["date"], d["campaign"]): d for d in p["days"]}
# 22:00 in Shanghai: held to 09:00 there (03-02); 09:00 in New York: sent
# (days are the config's zone, Shanghai)
d1 = days[("2026-03-01", "hello")]
assert d1["deferred"] == 1 and d1["sent"] == 1, d1
d2 = days[("2026-03-02", "hello")]
assert d2["sent"] == 1 and d2["deferred"] == 0, d2
assert p["totals"]["sent"] == 2, p["totals"]
PYEOF
	[ "$(nout)" = 0 ] || fail "plan sent something"
	[ "$(sq "select count(*) from sends")" = 0 ] || fail "plan changed the store"
}

ALL="$ALL c_policy_plan"
