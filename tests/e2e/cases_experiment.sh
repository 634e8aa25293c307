# tests/e2e/cases_experiment.sh - experiments end to end: a seeded A/B
# win-back with a holdout on 3000 synthetic contacts whose report must find
# the effect that was put in, and the experiment settings `check` refuses.
# Sourced by run.sh.
#
# The experiment: 3000 contacts who last bought on 2025-12-01 enter the
# segment lapsed (no purchase for 60 days) on 2026-03-01; win-back
# enrolls them, holds out 10% and splits the rest 50/50 between the
# templates wb-a and wb-b (the dispatcher's stable hash), goal: a purchase
# within 30 days. After the run, purchases are drawn from a fixed seed
# (python random.Random) with known probabilities per arm, read from the
# store: holdout 5%, wb-a 10%, wb-b 20%, on 2026-03-10 (in the window),
# plus purchases after the window that must not count. The report's
# counts must be exactly the drawn ones, each arm's 95% interval must hold
# its observed rate and the true one, and b's lift over the holdout must
# leave out 0 and hold the true lift (+15 points). The intervals are
# recomputed here from the counts (Wilson; Newcombe for a difference).

EXP_NOW=2026-03-01T10:00:00Z

# exp_setup N - templates, config, N contacts with one old purchase each
exp_setup() {
	mkdir -p "$T/tpl/wb-a" "$T/tpl/wb-b"
	printf 'Subject: We miss you, {{name}}\n\nCome back: {{survey_url}}\n' >"$T/tpl/wb-a/email.txt"
	printf 'Subject: 20%% off for you, {{name}}\n\nCome back with 20%% off.\n' >"$T/tpl/wb-b/email.txt"
	cfg "$T/tpl" <<'EOF'
segments:
  lapsed: days_since(last(purchase)) > 60
campaigns:
  win-back:
    trigger: {segment: lapsed}
    goal: {event: purchase, within: 30d}
    holdout: 10%
    steps:
      - {after: 0h, channels: [email], variants: {wb-a: 50%, wb-b: 50%}}
EOF
	"$PY" -c '
import sys
n = int(sys.argv[1])
with open(sys.argv[2] + "/c.csv", "w") as f:
    f.write("id,name,email,timezone,locale\n")
    for i in range(n):
        f.write("x%04d,User %d,u%04d@example.com,Asia/Shanghai,en\n" % (i, i, i))
with open(sys.argv[2] + "/old.jsonl", "w") as f:
    for i in range(n):
        f.write("{\"id\":\"old%04d\",\"contact\":\"x%04d\",\"type\":\"purchase\","
                "\"at\":\"2025-12-01T08:00:00Z\",\"data\":{\"amount\":120}}\n" % (i, i))
' "$1" "$T" || fail "generating contacts"
	ok_o init
	ok_o contacts import "$T/c.csv"
	ok_o events import "$T/old.jsonl"
}

# exp_arms DB - "contact arm" lines of the store's enrollments
exp_arms() {
	sqlite3 "$1" "SELECT contact_id || ' ' || CASE WHEN holdout = 1 THEN 'holdout' ELSE variant END
		FROM enrollments WHERE campaign = 'win-back' ORDER BY contact_id" 2>"$T/sq.err" ||
		fail "sqlite3: $(cat "$T/sq.err")"
}

c_experiment_lift() {
	exp_setup 3000
	ok_o run --once --now "$EXP_NOW"
	exp_arms "$T/o.db" >"$T/arms"
	[ "$(wc -l <"$T/arms")" = 3000 ] || fail "$(wc -l <"$T/arms") enrollments, want 3000"
	sent=$(sqlite3 "$T/o.db" "SELECT COUNT(*) FROM sends WHERE state = 'sent'")
	held=$(grep -c ' holdout$' "$T/arms")
	[ "$sent" = $((3000 - held)) ] || fail "$sent sent with $held held out of 3000"

	# the same assignment on another store, by two workers, and on a rerun
	cp "$T/o.yaml" "$T/o.yaml.keep"
	sed -i "s|$T/o.db|$T/o2.db|; s|$T/outbox|$T/outbox2|" "$T/o.yaml"
	use_store "$T/o2.db"
	ok_o init
	ok_o contacts import "$T/c.csv"
	ok_o events import "$T/old.jsonl"
	ok_o run --once --workers 2 --now "$EXP_NOW"
	mv "$T/o.yaml.keep" "$T/o.yaml"
	use_store "$T/o.db"
	exp_arms "$T/o2.db" >"$T/arms2"
	cmp -s "$T/arms" "$T/arms2" || fail "another store with 2 workers assigned differently: $(diff "$T/arms" "$T/arms2" | head -3 | tr '\n' ' ')"
	ok_o run --once --now 2026-03-02T10:00:00Z
	exp_arms "$T/o.db" >"$T/arms3"
	cmp -s "$T/arms" "$T/arms3" || fail "a second run changed the assignment"

	# the goal purchases, drawn per arm from a fixed seed
	"$PY" -c '
import json, random, sys
p = {"holdout": 0.05, "wb-a": 0.10, "wb-b": 0.20}
rng = random.Random(20260301)
want = {k: [0, 0] for k in p}
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        c, arm = line.split()
        want[arm][0] += 1
        if rng.random() < p[arm]:
            want[arm][1] += 1
            out.write(json.dumps({"id": "g-" + c, "contact": c, "type": "purchase",
                                  "at": "2026-03-10T08:00:00Z", "data": {"amount": 80}}) + "\n")
        if rng.random() < 0.05:  # after the 30 days: never a conversion
            out.write(json.dumps({"id": "late-" + c, "contact": c, "type": "purchase",
                                  "at": "2026-04-15T08:00:00Z", "data": {"amount": 80}}) + "\n")
json.dump(want, open(sys.argv[3], "w"))
' "$T/arms" "$T/goal.jsonl" "$T/want.json" || fail "drawing the purchases"
	ok_o events import "$T/goal.jsonl"
	ok_o report --format json --campaign win-back
	cp "$T/out" "$T/r.json"
	"$PY" -c '
import json, math, sys
r = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))
true = {"holdout": 0.05, "wb-a": 0.10, "wb-b": 0.20}
Z = 1.959963984540054

def wilson(x, n):
    p = x / n
    d = 1 + Z * Z / n
    c = (p + Z * Z / (2 * n)) / d
    h = Z / d * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return [0.0 if x == 0 else c - h, 1.0 if x == n else c + h]

def newcombe(x1, n1, x2, n2):
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1)
    l2, u2 = wilson(x2, n2)
    d = p1 - p2
    return [d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)]

def close(a, b, what):
    assert a is not None and all(abs(x - y) < 1e-5 for x, y in zip(a, b)), (what, a, b)

def inside(v, ci, what):
    assert ci[0] <= v <= ci[1], (what, v, ci)

assert r["intervals"] == {"level": 0.95, "rate": "wilson", "difference": "newcombe"}, r["intervals"]
[c] = r["campaigns"]
assert c["campaign"] == "win-back" and c["goal"] == {"event": "purchase", "within": "30d"}, c
h = c["holdout"]
nH, xH = want["holdout"]
assert (h["enrollments"], h["converted"]) == (nH, xH), (h, want)
# about 10% held out, the rest about half and half
assert 240 <= nH <= 360, nH
na, nb = want["wb-a"][0], want["wb-b"][0]
assert abs(na - nb) < 150 and na + nb + nH == 3000, want
arms = {"holdout": (h["goal_rate"], h["goal_ci"], nH, xH)}
v = {x["variant"]: x for x in c["variants"]}
assert set(v) == {"wb-a", "wb-b"}, list(v)
for name in ("wb-a", "wb-b"):
    n, x = want[name]
    assert (v[name]["treated"], v[name]["converted"]) == (n, x), (name, v[name], want[name])
    arms[name] = (v[name]["goal_rate"], v[name]["goal_ci"], n, x)
for name, (rate, ci, n, x) in arms.items():
    assert abs(rate - x / n) < 1e-5, (name, rate, x, n)
    close(ci, wilson(x, n), name + " goal_ci")
    inside(rate, ci, name + ": observed rate in its interval")
    inside(true[name], ci, name + ": true rate in its interval")
# the lift of each variant over the holdout
for name in ("wb-a", "wb-b"):
    n, x = want[name]
    lift = v[name]["lift"]
    assert abs(lift - (x / n - xH / nH)) < 1e-5, (name, lift)
    assert abs(v[name]["lift_points"] - lift * 100) < 1e-4, v[name]
    close(v[name]["lift_ci"], newcombe(x, n, xH, nH), name + " lift_ci")
    inside(lift, v[name]["lift_ci"], name + ": lift in its interval")
    inside(true[name] - true["holdout"], v[name]["lift_ci"], name + ": true lift in its interval")
b = v["wb-b"]["lift_ci"]
assert b[0] > 0, ("b lift interval does not leave out 0", b)
assert v["wb-b"]["lift_significant"] is True, v["wb-b"]
# treated as a whole against the holdout
nT, xT = na + nb, want["wb-a"][1] + want["wb-b"][1]
assert (c["treated"], c["converted"]) == (nT, xT), c
assert abs(c["goal_rate"] - xT / nT) < 1e-5, c["goal_rate"]
close(c["goal_ci"], wilson(xT, nT), "treated goal_ci")
close(c["lift_ci"], newcombe(xT, nT, xH, nH), "treated lift_ci")
true_treated = (na * true["wb-a"] + nb * true["wb-b"]) / nT
inside(true_treated, c["goal_ci"], "treated: true rate in its interval")
inside(true_treated - true["holdout"], c["lift_ci"], "treated: true lift in its interval")
print("holdout %d/%d, a %d/%d, b %d/%d, b lift %.3f [%.3f, %.3f]" % (
    xH, nH, want["wb-a"][1], na, want["wb-b"][1], nb, v["wb-b"]["lift"], b[0], b[1]))
' "$T/r.json" "$T/want.json" >"$T/py.out" 2>"$T/py.err" ||
		fail "report: $(tail -n 2 "$T/py.err" | tr '\n' ' ' | head -c 600)"

	# the table and the page show the intervals
	ok_o report --campaign win-back
	grep -q '95% ci' "$T/out" || fail "the table has no intervals: $(head -c 300 "$T/out")"
	grep -q 'wb-b .*\] pts \*$' "$T/out" || fail "the table does not mark b's lift: $(grep wb-b "$T/out")"
	ok_o report --format html --campaign win-back
	grep -q 'class="ci"' "$T/out" || fail "the goal chart has no interval whiskers"
	grep -q 'Newcombe' "$T/out" || fail "the page does not say how the intervals are made"
}

# check refuses a split that is not 100%, a holdout over 50% and a bad
# where operator, each with its line; run refuses them too and changes
# nothing; fixed, the same store runs
c_experiment_check() {
	mkdir -p "$T/tpl/a" "$T/tpl/b" "$T/tpl/t"
	for t in a b t; do printf 'Subject: hi\n\nHello {{name}}\n' >"$T/tpl/$t/email.txt"; done
	cfg "$T/tpl" <<'EOF'
campaigns:
  ab:
    trigger: {event: purchase}
    holdout: 50%
    steps:
      - after: 1h
        channels: [email]
        variants: {a: 60%, b: 40%}
  care:
    trigger:
      event: survey_response
      where:
        score: {lte: 6}
    steps:
      - {after: 0h, channels: [email], template: t}
EOF
	ok_o init
	printf 'id,name,email\nk1,Kim,kim@example.com\n' >"$T/c.csv"
	ok_o contacts import "$T/c.csv"
	ok_o event add --contact k1 --type purchase --at 2026-03-01T09:00:00Z
	ok_o check
	cp "$T/o.yaml" "$T/good.yaml"
	sed -i 's/holdout: 50%/holdout: 60%/; s/b: 40%/b: 30%/; s/{lte: 6}/{le: 6}/' "$T/o.yaml"
	expect_rc 2 check
	err_has "o.yaml:20: campaign \"ab\": holdout \"60%\" is over 50%" "check"
	err_has "o.yaml:24: campaign \"ab\" step 1: variant shares add up to 90%, not 100%" "check"
	err_has "o.yaml:29: campaign \"care\": trigger where \"score\": unknown operator \"le\" (use eq, ne, lt, lte, gt, gte, in" "check"
	[ "$(grep -c "o.yaml:[0-9]" "$T/err")" = 3 ] || fail "check: want 3 problems: $(cat "$T/err")"
	expect_rc 2 run --once --now 2026-03-01T12:00:00Z
	err_has "holdout \"60%\" is over 50%" "run"
	[ "$(sqlite3 "$T/o.db" 'SELECT COUNT(*) FROM enrollments')" = 0 ] || fail "run enrolled with a bad config"
	[ "$(sqlite3 "$T/o.db" 'SELECT COUNT(*) FROM events WHERE processed = 1')" = 0 ] || fail "run took the event with a bad config"
	[ "$(nout)" = 0 ] || fail "run sent with a bad config"
	# fixed, the same store runs
	cp "$T/good.yaml" "$T/o.yaml"
	ok_o run --once --now 2026-03-01T12:00:00Z
	[ "$(sqlite3 "$T/o.db" 'SELECT COUNT(*) FROM enrollments')" = 1 ] || fail "the fixed config did not enroll"
}

ALL="$ALL c_experiment_lift c_experiment_check"
