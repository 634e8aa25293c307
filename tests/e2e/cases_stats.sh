# cases_stats.sh - computed attributes (stats.NAME) and lifecycle segments
# on generated purchase histories: a customer whose purchases slow down
# enters churn_risk by time alone and gets the win-back and its follow-up;
# one who buys again leaves the segment and the follow-up is cancelled
# (unless: [purchase]); a steady buyer never enters. `contacts show`
# explains each segment, `segments` counts them, `preview` renders
# {{stats.*}}, `check` warns about what the segments read that nothing has,
# and the sample config's lifecycle segments sort a generated population.
# Sourced by run.sh.

D=2026-03-01T10:00:00Z # the day the slowdown shows

# at OFFSET_DAYS - D moved by whole days (negative: before), RFC 3339
at() {
	date -u -d "@$(($(epoch "$D") + $1 * 86400))" +%Y-%m-%dT%H:%M:%SZ
}

# gen_history FILE SEED CONTACT:FIRST:LAST:EVERY... - purchases of each
# contact every EVERY days from FIRST to LAST (days relative to D), with
# seeded random amounts and a few hours of jitter, as events JSON Lines
gen_history() {
	out=$1 seed=$2
	shift 2
	"$PY" - "$D" "$seed" "$@" >"$out" <<'PYEOF' || fail "gen_history: $*"
import datetime, json, random, sys
d = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ")
rnd = random.Random(int(sys.argv[2]))
for spec in sys.argv[3:]:
    who, first, last, every = spec.split(":")
    day = int(first)
    while day <= int(last):
        at = d + datetime.timedelta(days=day, hours=-rnd.randint(0, 6))
        print(json.dumps({"contact": who, "type": "purchase",
                          "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "data": {"amount": rnd.randint(20, 50) * 100,
                                   "order_id": "%s-%d" % (who, -day)}}))
        day += int(every)
PYEOF
}

stats_setup() {
	mkdir -p "$T/tpl/winback"
	cat >"$T/tpl/winback/email.txt" <<'EOF'
Subject: We miss you, {{name}}

Hello {{name}}, it has been a while.{{#stats}} You spent {{stats.spend_12m}} with us this year ({{stats.purchases_12m}} orders, RFM {{stats.rfm}}).{{/stats}}
EOF
	cfg "$T/tpl" <<'EOF'
segments:
  churn_risk: stats.frequency_change <= -0.5 or stats.complaints_30d > 0
campaigns:
  win-back:
    class: marketing
    trigger: {segment: churn_risk}
    steps:
      - {after: 0h, channels: [email], template: winback}
      - {after: 7d, channels: [email], template: winback, unless: [purchase]}
EOF
	cat >"$T/c.csv" <<'EOF'
id,name,email
slow,Sam Slow,slow@example.com
back,Bea Back,back@example.com
steady,Stu Steady,steady@example.com
EOF
	# slow: every 10 days until 100 days before D, then nothing;
	# back: every 60 days, the last 120 days before D;
	# steady: every 20 days up to 20 days before D
	gen_history "$T/ev.jsonl" 42 slow:-200:-100:10 back:-300:-180:60 back:-120:-120:1 \
		steady:-300:-5:20
	ok_o init
	ok_o contacts import "$T/c.csv"
	ok_o events import "$T/ev.jsonl"
}

# 1. slowing down: into churn_risk by time alone, the win-back and its
#    follow-up; buying again: out of it, the follow-up cancelled
c_stats_churn() {
	stats_setup
	# 60 days before D the last quarter is as busy as the one before
	ok_o run --once --now "$(at -60)"
	[ "$(nout)" = 0 ] || fail "60 days before: $(nout) messages, want none"
	ok_o contacts show slow --now "$(at -60)"
	cp "$T/out" "$T/s0.json"
	"$PY" -c 'import json, sys
s = json.load(open(sys.argv[1]))
assert s["segments"] == [], s["segments"]
assert s["stats"]["frequency_change"] > -0.5, s["stats"]' "$T/s0.json" 2>"$T/py.err" ||
		fail "slow, 60 days before: $(tail -n 1 "$T/py.err")"

	# at D, with no new event: slow and back are in churn_risk, steady not
	ok_o run --once --now "$D"
	py find "$T/outbox" slow@example.com subject
	same_as 'We miss you, Sam Slow' "slow's win-back at D"
	# the worker renders {{stats.*}} as preview does
	py find "$T/outbox" slow@example.com file
	grep -q 'You spent [0-9][0-9]* with us this year ([0-9]* orders, RFM [1-5][1-5][1-5])' "$T/outbox/$(cat "$T/py")" ||
		fail "slow's win-back has no stats: $(grep -a 'spent' "$T/outbox/$(cat "$T/py")" | head -c 300)"
	py find "$T/outbox" back@example.com subject
	same_as 'We miss you, Bea Back' "back's win-back at D"
	py find "$T/outbox" steady@example.com count
	same_as 0 "the steady buyer got a win-back"
	ok_o segments
	grep -Eq '^churn_risk +2$' "$T/out" || fail "segments: $(cat "$T/out")"

	# contacts show: the segment and why
	ok_o contacts show slow --now "$D"
	cp "$T/out" "$T/s1.json"
	"$PY" -c 'import json, sys
s = json.load(open(sys.argv[1]))
assert s["segments"] == ["churn_risk"], s["segments"]
w = s["why"]["churn_risk"]
assert w["holds"] is True, w
assert w["expression"] == "stats.frequency_change <= -0.5 or stats.complaints_30d > 0", w
assert w["because"] == "stats.frequency_change <= -0.5 (-1)", w
st = s["stats"]
assert st["purchases_12m"] == 11 and st["frequency_90d"] == 0, st
assert st["frequency_change"] == -1 and st["days_since_purchase"] == 100, st
assert st["rfm_r"] == 3 and st["rfm_f"] == 4, st' "$T/s1.json" 2>"$T/py.err" ||
		fail "contacts show slow: $(tail -n 1 "$T/py.err")"

	# back buys again two days later: it leaves churn_risk, its follow-up
	# is cancelled; slow gets its follow-up a week after the first
	ok_o event add --contact back --type purchase --at "$(at 2)" --data '{"amount": 3000}'
	ok_o run --once --now "$(at 2)"
	ok_o contacts show back --now "$(at 2)"
	cp "$T/out" "$T/b2.json"
	"$PY" -c 'import json, sys
s = json.load(open(sys.argv[1]))
assert s["segments"] == [], s["segments"]
assert s["why"] == {}, s["why"]
assert s["stats"]["frequency_change"] == 0, s["stats"]' "$T/b2.json" 2>"$T/py.err" ||
		fail "contacts show back after buying again: $(tail -n 1 "$T/py.err")"
	ok_o run --once --now "$(at 7)"
	py find "$T/outbox" slow@example.com count
	same_as 2 "slow: the win-back and its follow-up"
	py find "$T/outbox" back@example.com count
	same_as 1 "back: only the first win-back"
	st=$(sqlite3 "$T/o.db" "SELECT state || ' ' || reason FROM sends WHERE contact_id = 'back' AND step = 1")
	case "$st" in
	"cancelled purchase at "*) ;;
	*) fail "back's follow-up: '$st', want cancelled by the purchase" ;;
	esac
	ok_o segments
	grep -Eq '^churn_risk +1$' "$T/out" || fail "segments after back left: $(cat "$T/out")"
}

# 2. preview renders {{stats.*}}; check warns (exit 0) about an attribute
#    no contact has, an unknown function and an unknown event type
c_stats_check_preview() {
	stats_setup
	ok_o preview --contact slow --campaign win-back --step 1 --now "$D"
	grep -q 'You spent [0-9][0-9]* with us this year (11 orders, RFM 34[1-5])\.' "$T/out" ||
		fail "preview does not render stats: $(cat "$T/out")"
	spend=$("$PY" -c 'import json, sys
print(sum(json.loads(l)["data"]["amount"] for l in open(sys.argv[1]) if "\"slow\"" in l))' "$T/ev.jsonl")
	grep -q "You spent $spend with" "$T/out" || fail "preview: spend is not $spend: $(cat "$T/out")"
	ok_o check
	[ ! -s "$T/err" ] || fail "check warns about a clean config: $(cat "$T/err")"
	"$PY" - "$T/o.yaml" <<'PYEOF' || fail "editing the config"
import sys
p = sys.argv[1]
s = open(p).read().replace("segments:\n", "segments:\n"
    "  big: lifetime_value > 100 and stats.spend_12m > 0\n"
    "  typo: cnt(purchase, 30d) > 0\n"
    "  visitors: count(visit, 7d) > 0\n", 1)
open(p, "w").write(s)
PYEOF
	ok_o check
	line=$(grep -n '^  big:' "$T/o.yaml" | cut -d: -f1)
	err_has "o.yaml:$line: warning: segment \"big\": no contact has attribute \"lifetime_value\"" "check: unknown attribute"
	err_has "warning: segment \"typo\": unknown function \"cnt\"" "check: unknown function"
	err_has "warning: segment \"visitors\": unknown event type \"visit\"" "check: unknown event type"
	grep -q 'ok (.*with warnings)' "$T/out" || fail "check's summary: $(cat "$T/out")"
	# the dispatcher runs with them: nobody is in those segments
	ok_o run --once --now "$D"
	ok_o segments
	grep -Eq '^big +0$' "$T/out" && grep -Eq '^typo +0$' "$T/out" &&
		grep -Eq '^churn_risk +2$' "$T/out" || fail "segments: $(cat "$T/out")"
	# an attribute named stats is refused at import
	printf 'id,name,stats\nx1,X,5\n' >"$T/bad.csv"
	expect_rc 2 contacts import "$T/bad.csv"
	err_has 'bad.csv:1: column "stats" is reserved for the computed attributes (stats.NAME)' "import: stats column"
}

# 3. the sample config's lifecycle and value segments on a generated
#    population (the sample's own segments, our store and outbox)
c_stats_sample_segments() {
	"$PY" - "$ROOT" "$T" <<'PYEOF' || fail "copying the sample config"
import sys
root, t = sys.argv[1], sys.argv[2]
s = open(root + "/config/outreach.yaml", encoding="utf-8").read()
for old, new in (("store: var/outreach.db", "store: %s/o.db" % t),
                 ("templates: templates", "templates: %s/templates" % root),
                 ("dir: var/outbox", "dir: %s/outbox" % t)):
    assert old in s, old
    s = s.replace(old, new)
open(t + "/o.yaml", "w", encoding="utf-8").write(s)
PYEOF
	cat >"$T/c.csv" <<'EOF'
id,name,email
vip,V,vip@example.com
newbie,N,newbie@example.com
regular,R,regular@example.com
quiet,Q,quiet@example.com
gone,G,gone@example.com
angry,A,angry@example.com
EOF
	# vip: 6 big orders in the last months; newbie: a first order 10 days
	# ago; regular: every 30 days for two years; quiet: last order 150 days
	# ago; gone: last order 400 days ago; angry: steady, then a complaint
	"$PY" - "$D" >"$T/ev.jsonl" <<'PYEOF' || fail "generating the population"
import datetime, json, sys
d = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ")
def ev(who, days, amount=None, type="purchase"):
    at = (d + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(json.dumps({"contact": who, "type": type, "at": at,
                      "data": {"amount": amount} if amount is not None else {}}))
for k in range(6): ev("vip", -20 - 25 * k, 30000)
ev("newbie", -10, 800)
for k in range(24): ev("regular", -5 - 30 * k, 2000)
for k in range(3): ev("quiet", -150 - 40 * k, 3000)
ev("gone", -400, 9000)
for k in range(8): ev("angry", -3 - 30 * k, 1500)
ev("angry", -2, type="complaint")
PYEOF
	ok_o init
	ok_o contacts import "$T/c.csv"
	ok_o events import "$T/ev.jsonl"
	ok_o run --once --now "$D"
	for c in vip newbie regular quiet gone angry; do
		ok_o contacts show "$c" --now "$D"
		cp "$T/out" "$T/show-$c.json"
	done
	"$PY" - "$T" <<'PYEOF' 2>"$T/py.err" || fail "sample segments: $(tail -n 3 "$T/py.err" | tr '\n' ' ')"
import json, sys
t = sys.argv[1]
want = {
    "vip": {"vip", "active"},
    "newbie": {"base", "new"},
    "regular": {"mid", "active"},
    "quiet": {"base", "silent", "churn_risk"},
    "gone": {"lost"},
    "angry": {"mid", "active", "churn_risk"},
}
for c, segs in want.items():
    s = json.load(open("%s/show-%s.json" % (t, c), encoding="utf-8"))
    got = set(s["segments"])
    assert got == segs, (c, sorted(got), sorted(segs))
    for seg in got:
        w = s["why"][seg]
        assert w["holds"] is True and w["because"], (c, seg, w)
a = json.load(open(t + "/show-angry.json"))
assert a["why"]["churn_risk"]["because"] == "stats.complaints_30d > 0 (1)", a["why"]["churn_risk"]
PYEOF
}

ALL="$ALL c_stats_churn c_stats_check_preview c_stats_sample_segments"
