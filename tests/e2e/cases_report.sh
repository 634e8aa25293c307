# tests/e2e/cases_report.sh - `outreach report`: the funnel per campaign,
# step, channel, variant and segment, its rates, the holdout and the lift,
# as json, csv and one self-contained HTML page that headless Chromium
# renders. Sourced by run.sh.
#
# The store is built for real (import, events, `run`); the feedback that
# serve and the receipts would record is added with `event add` and tied to
# its send with sqlite3 (events.send_id), delivery states are set with
# sqlite3. Which contacts are held out and which variant each gets is the
# dispatcher's stable hash: the cases read it from the store and build the
# feedback on it, so every expected number is known by construction:
#
#   promo: trigger purchase (2026-03-01T08:00Z), goal purchase within 7d,
#   holdout 20%, step 1 email after 1h with variants va/vb, step 2 sms
#   after 2d unless purchase. A = treated contacts with va, B with vb,
#   H held out, each sorted.
#     A0 delivered, opened, clicked, replied (03-01 12:00Z), bought 03-02
#     A1 delivered, opened twice (once by a machine), bought 03-02
#     A2 delivered (a delivered event), opened by a machine only, unsubscribed
#     B0 delivered, opened, clicked, bought 03-02
#     B1 bounced
#     B2 replied to its sms (03-03 10:00Z), bought 03-20 (after the window)
#     H0 bought 03-02 (holdout converted); H1 never bought again
#   step 2 goes out at 03-03T09:00Z except to A0, A1, B0 (cancelled).
#   Contacts r01..r06 are in segments vip and warm (counted under vip, the
#   first in the config), r07..r10 in warm, the others in none.
#   A second campaign with a name full of markup and commas sends one
#   email to r01 and r02 (no goal).

REPORT_ODD='春季回访, <b>"x"</b> & co'

setup_report() {
	mkdir -p "$T/tpl/va" "$T/tpl/vb" "$T/tpl/nudge"
	printf 'Subject: A for {{name}}\n\nHello {{name}}, version A.\n' >"$T/tpl/va/email.txt"
	printf 'Subject: B for {{name}}\n\nHello {{name}}, version B.\n' >"$T/tpl/vb/email.txt"
	printf 'Still thinking about it, {{name}}?\n' >"$T/tpl/nudge/sms.txt"
	cfg "$T/tpl" <<'EOF'
segments:
  vip: spend >= 1000
  warm: spend >= 100
campaigns:
  promo:
    trigger: {event: purchase}
    goal: {event: purchase, within: 7d}
    holdout: 20%
    max_per_contact: 1
    steps:
      - {after: 1h, channels: [email], variants: {va: 50%, vb: 50%}}
      - {after: 2d, channels: [sms], template: nudge, unless: [purchase]}
  "春季回访, <b>\"x\"</b> & co":
    trigger: {event: signup}
    steps:
      - {after: 0h, channels: [email], template: va}
EOF
	{
		echo 'id,name,email,phone,timezone,locale,spend'
		i=1
		while [ $i -le 20 ]; do
			spend=10
			[ $i -le 10 ] && spend=500
			[ $i -le 6 ] && spend=5000
			printf 'r%02d,User %02d,u%02d@example.com,+1212555%04d,Asia/Shanghai,en,%s\n' \
				$i $i $i $i $spend
			i=$((i + 1))
		done
	} >"$T/c.csv"
	{
		i=1
		while [ $i -le 20 ]; do
			printf '{"id":"p%02d","contact":"r%02d","type":"purchase","at":"2026-03-01T08:00:00Z"}\n' $i $i
			i=$((i + 1))
		done
		echo '{"id":"s1","contact":"r01","type":"signup","at":"2026-03-01T08:00:00Z"}'
		echo '{"id":"s2","contact":"r02","type":"signup","at":"2026-03-01T08:00:00Z"}'
	} >"$T/ev.jsonl"
	ok_o init
	ok_o contacts import "$T/c.csv"
	ok_o events import "$T/ev.jsonl"
	ok_o run --once --now 2026-03-01T09:30:00Z
	A=$(sq_r "SELECT contact_id FROM enrollments WHERE campaign = 'promo' AND holdout = 0 AND variant = 'va' ORDER BY contact_id")
	B=$(sq_r "SELECT contact_id FROM enrollments WHERE campaign = 'promo' AND holdout = 0 AND variant = 'vb' ORDER BY contact_id")
	H=$(sq_r "SELECT contact_id FROM enrollments WHERE campaign = 'promo' AND holdout = 1 ORDER BY contact_id")
	set -- $A
	[ $# -ge 3 ] || fail "the setup needs 3 contacts with va, got: $A"
	A0=$1 A1=$2 A2=$3
	set -- $B
	[ $# -ge 3 ] || fail "the setup needs 3 contacts with vb, got: $B"
	B0=$1 B1=$2 B2=$3
	set -- $H
	[ $# -ge 2 ] || fail "the setup needs 2 contacts held out, got: $H"
	H0=$1
	sent1=$(sq_r "SELECT COUNT(*) FROM sends WHERE campaign = 'promo' AND step = 0 AND state = 'sent'")
	[ "$sent1" = $(($(nwords $A) + $(nwords $B))) ] || fail "step 1 sent $sent1 emails"
	fb "$A0" 0 opened 2026-03-01T10:00:00Z '{}'
	fb "$A0" 0 clicked 2026-03-01T10:01:00Z '{"link":0}'
	fb "$A0" 0 replied 2026-03-01T12:00:00Z '{"text":"thanks"}'
	fb "$A1" 0 opened 2026-03-01T09:30:05Z '{"machine":true}'
	fb "$A1" 0 opened 2026-03-01T11:00:00Z '{}'
	fb "$A2" 0 opened 2026-03-01T09:30:02Z '{"machine":true}'
	fb "$A2" 0 delivered 2026-03-01T09:30:10Z '{}'
	fb "$A2" 0 unsubscribed 2026-03-01T13:00:00Z '{"channel":"email","class":"marketing"}'
	fb "$B0" 0 opened 2026-03-01T10:00:00Z '{}'
	fb "$B0" 0 clicked 2026-03-01T10:02:00Z '{"link":0}'
	fb "$B0" 0 clicked 2026-03-01T10:03:00Z '{"link":1}'
	for c in "$A0" "$A1" "$B0" "$H0"; do
		ok_o event add --contact "$c" --type purchase --at 2026-03-02T08:00:00Z --data '{"amount":50}'
	done
	sq_r "UPDATE sends SET state = 'delivered' WHERE campaign = 'promo' AND step = 0 AND contact_id IN ('$A0', '$A1', '$B0')" >/dev/null
	sq_r "UPDATE sends SET state = 'bounced' WHERE campaign = 'promo' AND step = 0 AND contact_id = '$B1'" >/dev/null
	ok_o run --once --now 2026-03-03T09:00:00Z
	fb "$B2" 1 replied 2026-03-03T10:00:00Z '{"text":"maybe"}'
	ok_o event add --contact "$B2" --type purchase --at 2026-03-20T08:00:00Z --data '{"amount":50}'
	echo "A="$A >"$T/groups"
	echo "B="$B >>"$T/groups"
	echo "H="$H >>"$T/groups"
}

# sq_r SQL - sqlite3 on the case's store, fail on error
sq_r() {
	sqlite3 "$T/o.db" "$1" 2>"$T/sq.err" || fail "sqlite3: $(cat "$T/sq.err")"
}

nwords() { echo $#; }

# fb CONTACT STEP TYPE AT DATA - an event answering the contact's promo send of STEP (0-based)
fb() {
	sid=$(sq_r "SELECT id FROM sends WHERE campaign = 'promo' AND contact_id = '$1' AND step = $2")
	[ -n "$sid" ] || fail "no promo step $2 send for $1"
	ok_o event add --contact "$1" --type "$3" --at "$4" --data "$5"
	sq_r "UPDATE events SET send_id = $sid WHERE id = (SELECT MAX(id) FROM events)" >/dev/null
}

# report_py FILE CODE - python asserts over `report --format json` in FILE
# (r: the document; A, B, H: the groups; near(x, y): floats equal)
report_py() {
	f=$1
	shift
	"$PY" -c "import json,sys
r = json.load(open(sys.argv[1], encoding='utf-8'))
g = dict(l.split('=', 1) for l in open(sys.argv[2]).read().splitlines())
A, B, H = g['A'].split(), g['B'].split(), g['H'].split()
def near(x, y):
    if y is None or x is None:
        return x is y
    return abs(x - y) < 1e-5
$*" "$f" "$T/groups" 2>"$T/py.err" || fail "report json: $(tail -n 3 "$T/py.err" | tr '\n' ' ' | head -c 600)"
}

# 1. the funnel in json: counts, rates, holdout and lift, exactly
c_report_funnel() {
	setup_report
	ok_o report --format json
	cp "$T/out" "$T/r.json"
	[ -s "$T/err" ] && fail "report wrote to stderr: $(head -c 300 "$T/err")"
	report_py "$T/r.json" '
nA, nB, nH = len(A), len(B), len(H)
rows = [x for x in r["rows"] if x["campaign"] == "promo"]
keys = ["campaign", "step", "channel", "template", "variant", "segment", "scheduled", "deferred",
        "sending", "sent", "delivered", "failed", "bounced", "suppressed", "expired", "cancelled",
        "total", "opened", "clicked", "replied", "unsubscribed", "converted", "delivery_rate",
        "open_rate", "click_rate", "reply_rate", "unsubscribe_rate", "conversion_rate"]
for x in r["rows"]:
    assert list(x) == keys, list(x)
# rows partition the sends: each send once
assert sum(x["total"] for x in rows) == 2 * (nA + nB), rows
def grp(step, variant, channel):
    sel = [x for x in rows if x["step"] == step and x["variant"] == variant and x["channel"] == channel]
    assert sel, (step, variant, channel)
    out = {}
    for x in sel:
        for k in keys[6:22]:
            out[k] = out.get(k, 0) + x[k]
    return out, sel
def rates(sel):
    assert len(sel) >= 1
    return sel
want = {
 (1, "va", "email"): dict(total=nA, sent=nA, delivered=3, bounced=0, opened=2, clicked=1, replied=1, unsubscribed=1, converted=2, cancelled=0),
 (1, "vb", "email"): dict(total=nB, sent=nB, delivered=1, bounced=1, opened=1, clicked=1, replied=0, unsubscribed=0, converted=1, cancelled=0),
 (2, "va", "sms"): dict(total=nA - 2, sent=nA - 2, delivered=0, opened=0, clicked=0, replied=0, converted=0),
 (2, "vb", "sms"): dict(total=nB - 1, sent=nB - 1, delivered=0, opened=0, replied=1, converted=0),
 (2, "va", ""): dict(total=2, sent=0, cancelled=2, converted=2),
 (2, "vb", ""): dict(total=1, sent=0, cancelled=1, converted=1),
}
for k, w in want.items():
    got, sel = grp(*k)
    for f, v in w.items():
        assert got[f] == v, (k, f, got[f], v)
    tmpl = {1: k[1], 2: "nudge"}[k[0]]
    assert all(x["template"] == tmpl for x in sel), sel
assert set((x["step"], x["variant"], x["channel"]) for x in rows) == set(want), rows
# segments: the first configured one the contact is in, "" for none
seg = lambda c: "vip" if c <= "r06" else "warm" if c <= "r10" else ""
for name in ("vip", "warm", ""):
    n = sum(x["total"] for x in rows if x["step"] == 1 and x["segment"] == name)
    assert n == len([c for c in A + B if seg(c) == name]), (name, n, A, B)
# rates of one row, exactly: the va email rows of the segment without one
for x in rows:
    sent = x["sent"]
    if x["channel"] == "":
        assert x["delivery_rate"] is None and x["open_rate"] is None and x["click_rate"] is None, x
        assert near(x["conversion_rate"], x["converted"] / x["total"]), x
        continue
    assert near(x["click_rate"], x["clicked"] / sent), x
    assert near(x["reply_rate"], x["replied"] / sent), x
    assert near(x["unsubscribe_rate"], x["unsubscribed"] / sent), x
    assert near(x["conversion_rate"], x["converted"] / x["total"]), x
    if x["channel"] == "email":
        assert near(x["open_rate"], x["opened"] / sent), x
    else:
        assert x["open_rate"] is None, x
# delivery: email has receipts (a send without one is not delivered yet);
# sms has none at all: unknown
for x in rows:
    if x["channel"] == "email":
        assert near(x["delivery_rate"], x["delivered"] / x["sent"]), x
    else:
        assert x["delivery_rate"] is None, x
c = {x["campaign"]: x for x in r["campaigns"]}
assert set(c) == {"promo", "春季回访, <b>\"x\"</b> & co"}, list(c)
p = c["promo"]
T = nA + nB
assert p["goal"] == {"event": "purchase", "within": "7d"}, p["goal"]
assert near(p["holdout_share"], 0.2), p
exp = dict(total=2 * T, sent=T + (nA - 2) + (nB - 1), delivered=4, bounced=1, cancelled=3, opened=3,
           clicked=2, replied=2, unsubscribed=1, converted=3, treated=T)
for f, v in exp.items():
    assert p[f] == v, (f, p[f], v)
assert near(p["delivery_rate"], 4 / T), p  # email only: sms has no receipts
assert near(p["open_rate"], 3 / T), p
assert near(p["click_rate"], 2 / p["sent"]), p
assert near(p["reply_rate"], 2 / p["sent"]), p
assert near(p["unsubscribe_rate"], 1 / p["sent"]), p
assert near(p["conversion_rate"], 3 / T), p
assert p["holdout"]["enrollments"] == nH and p["holdout"]["converted"] == 1, p["holdout"]
assert near(p["holdout"]["conversion_rate"], 1 / nH), p["holdout"]
assert near(p["lift_points"], (3 / T - 1 / nH) * 100), p
assert near(p["lift_relative"], (3 / T - 1 / nH) / (1 / nH)), p
v = {x["variant"]: x for x in p["variants"]}
assert set(v) == {"va", "vb"}, v
assert v["va"]["treated"] == nA and v["va"]["converted"] == 2, v["va"]
assert near(v["va"]["conversion_rate"], 2 / nA) and near(v["vb"]["conversion_rate"], 1 / nB), v
assert near(v["va"]["lift_points"], (2 / nA - 1 / nH) * 100), v["va"]
assert v["va"]["sent"] == nA + nA - 2 and v["va"]["opened"] == 2 and v["vb"]["replied"] == 1, v
o = c["春季回访, <b>\"x\"</b> & co"]
assert o["goal"] is None and o["conversion_rate"] is None and o["holdout"] is None, o
assert o["lift_points"] is None and o["sent"] == 2 and o["treated"] == 2, o
# the enrollments map as before
assert r["enrollments"]["promo"] == {"treated": T, "holdout": nH}, r["enrollments"]
# days in Asia/Shanghai: 09:30Z is 03-01, 09:00Z on 03-03 is 03-03
assert r["daily"] == [
    {"date": "2026-03-01", "sent": T + 2, "replied": 1},
    {"date": "2026-03-02", "sent": 0, "replied": 0},
    {"date": "2026-03-03", "sent": (nA - 2) + (nB - 1), "replied": 1}], r["daily"]
assert r["timezone"] == "Asia/Shanghai" and r["since"] is None and r["machine_opens"] is False
'
	# machine opens counted on request: A1 stays 1, A2 becomes opened
	ok_o report --format json --include-machine-opens
	cp "$T/out" "$T/rm.json"
	report_py "$T/rm.json" '
p = [x for x in r["campaigns"] if x["campaign"] == "promo"][0]
assert p["opened"] == 4, p["opened"]
assert r["machine_opens"] is True
assert sum(x["opened"] for x in r["rows"] if x["variant"] == "va") == 3
'
	# the default table: aligned, with the rates and the lift
	ok_o report
	grep -q 'delivery' "$T/out" || fail "the table has no rates: $(head -c 300 "$T/out")"
	grep -q 'pts' "$T/out" || fail "the table has no lift: $(head -c 600 "$T/out")"
	"$PY" -c 'import sys,unicodedata
blocks = open(sys.argv[1], encoding="utf-8").read().rstrip("\n").split("\n\n")
assert len(blocks) == 3, len(blocks)
def width(s):
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)
# the counts and the rates end in a right-aligned column: every line as wide
for b in blocks[:2]:
    lines = b.split("\n")
    assert len(lines) >= 2 and len({width(l) for l in lines}) == 1, lines
assert "春季回访, <b>\"x\"</b> & co" in blocks[0]
' "$T/out" 2>"$T/py.err" || fail "table: $(tail -n 1 "$T/py.err" | head -c 400)"
}

# 2. csv: RFC 4180, the same rows as json; filters
c_report_csv() {
	setup_report
	ok_o report --format json
	cp "$T/out" "$T/r.json"
	ok_o report --format csv
	cp "$T/out" "$T/r.csv"
	"$PY" -c 'import csv,json,sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")))
j = json.load(open(sys.argv[2], encoding="utf-8"))["rows"]
head = open(sys.argv[1], encoding="utf-8").readline().strip().split(",")
assert head[:4] == ["campaign", "step", "channel", "template"], head
assert head[4:14] == ["scheduled", "deferred", "sending", "sent", "delivered", "failed", "bounced", "suppressed", "expired", "cancelled"], head
assert "variant" in head and "segment" in head and "conversion_rate" in head and "lift_points" not in head, head
assert len(rows) == len(j), (len(rows), len(j))
for c, x in zip(rows, j):
    for k, v in x.items():
        if v is None:
            assert c[k] == "", (k, c[k])
        elif isinstance(v, float):
            assert abs(float(c[k]) - v) < 1e-5, (k, c[k], v)
        else:
            assert c[k] == str(v), (k, c[k], v)
odd = [c for c in rows if c["campaign"] != "promo"]
assert odd and odd[0]["campaign"] == "春季回访, <b>\"x\"</b> & co", odd
' "$T/r.csv" "$T/r.json" 2>"$T/py.err" || fail "csv: $(tail -n 1 "$T/py.err" | head -c 400)"
	grep -qF '"春季回访, <b>""x""</b> & co"' "$T/r.csv" || fail "the odd name is not quoted per RFC 4180: $(grep -F 春季 "$T/r.csv" | head -c 200)"
	# --campaign and --since
	ok_o report --format json --campaign "$REPORT_ODD"
	cp "$T/out" "$T/odd.json"
	report_py "$T/odd.json" '
assert {x["campaign"] for x in r["rows"]} == {"春季回访, <b>\"x\"</b> & co"}, r["rows"]
assert [x["campaign"] for x in r["campaigns"]] == ["春季回访, <b>\"x\"</b> & co"]
assert list(r["enrollments"]) == ["春季回访, <b>\"x\"</b> & co"], r["enrollments"]
assert r["daily"] == [{"date": "2026-03-01", "sent": 2, "replied": 0}], r["daily"]
'
	ok_o report --format json --since 2026-03-02T00:00:00Z
	cp "$T/out" "$T/since.json"
	report_py "$T/since.json" '
assert r["rows"] == [] and r["campaigns"] == [] and r["daily"] == [], r
assert r["enrollments"]["promo"] == {"treated": 0, "holdout": 0}, r["enrollments"]
assert r["since"] == "2026-03-02T00:00:00Z"
'
	expect_rc 2 report --format xml
	err_has "html" "report --format xml"
	expect_rc 2 report --campaign nope
	expect_rc 2 report --since yesterday
}

# 3. html: one self-contained page; headless Chromium renders its charts
c_report_html() {
	setup_report
	ok_o report --format json
	cp "$T/out" "$T/r.json"
	ok_o report --format html --output "$T/report.html"
	[ -s "$T/out" ] && fail "--output still wrote to stdout"
	ok_o report --format html
	cmp -s "$T/out" "$T/report.html" || fail "report --format html differs from --output's file"
	"$PY" "$ROOT/tests/e2e/report_check.py" "$T/report.html" "$T/r.json" "$T" \
		>"$T/check.out" 2>"$T/check.err" ||
		fail "report_check.py: $(tail -n 3 "$T/check.err" | tr '\n' ' ' | head -c 600)"
	grep '^# skipped' "$T/check.out" >&2
	true
}

ALL="$ALL c_report_funnel c_report_csv c_report_html"
