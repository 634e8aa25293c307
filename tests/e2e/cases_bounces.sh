# tests/e2e/cases_bounces.sh - `outreach bounces import`: reports built
# here from what the outbox really sent (Message-IDs, send ids, bounce
# tokens signed in python), imported from an mbox and from a folder; the
# sends' states, the events, the suppression list, and what the next run
# does with them (a complaint: churn_risk at once, the follow-up cancelled).
# Sourced by run.sh.

# bounces_cfg - news: a hello now and a follow-up a week later unless a
# complaint; care: for whoever enters churn_risk
bounces_cfg() {
	cfg <<'EOF'
segments:
  churn_risk: count(complaint, 30d) > 0
campaigns:
  news:
    class: marketing
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello}
      - {after: 7d, channels: [email], template: followup, unless: [complaint]}
  care:
    class: marketing
    trigger: {segment: churn_risk}
    steps:
      - {after: 0h, channels: [email], template: followup}
EOF
}

# bounces_py - write $T/mk.py: reports about the sends of the outbox
bounces_py() {
	cat >"$T/mk.py" <<'EOF'
import email, email.policy, hashlib, hmac, os, storedb, sys

secret, db, outbox, out = sys.argv[1].encode(), sys.argv[2], sys.argv[3], sys.argv[4]
con = storedb.connect(db)

def send(contact):
    return con.execute("select id, message_id from sends where contact_id = ? and campaign = 'news' "
                       "and step = 0", (contact,)).fetchone()

def token(sid, good=True):
    mac = hmac.new(secret if good else b"not the secret", ("b.%d.0" % sid).encode(),
                   hashlib.sha256).hexdigest()[:20]
    return "b%d.0.%s" % (sid, mac)

def sent_headers(sid):
    # the original's header as the outbox wrote it
    raw = open(os.path.join(outbox, "%d.eml" % sid), "rb").read()
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii").replace("\r\n", "\n")

def dsn(to, date, rcpt, action, status, diag, original=None, mid="<r%d@mx.example.org>"):
    dsn.n += 1
    parts = ["From: MAILER-DAEMON@mx.example.org (Mail Delivery System)",
             "To: " + to, "Date: " + date, "Message-ID: " + (mid % dsn.n),
             "Subject: Undelivered Mail Returned to Sender", "MIME-Version: 1.0",
             'Content-Type: multipart/report; report-type=delivery-status; boundary="BB"', "",
             "--BB", "Content-Type: text/plain; charset=utf-8", "", "退信 / returned mail", "",
             "--BB", "Content-Type: message/delivery-status", "",
             "Reporting-MTA: dns; mx.example.org", "",
             "Final-Recipient: rfc822; " + rcpt, "Action: " + action, "Status: " + status,
             "Diagnostic-Code: smtp; " + diag, ""]
    if original:
        parts += ["--BB", "Content-Type: text/rfc822-headers", "", original, ""]
    parts += ["--BB--", ""]
    return "\n".join(parts)
dsn.n = 0

def arf(date, rcpt):
    return "\n".join([
        "From: fbl@fbl.example.net", "To: fbl@example.com", "Date: " + date,
        "Message-ID: <arf1@fbl.example.net>", "Subject: complaint", "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=feedback-report; boundary="FF"', "",
        "--FF", "Content-Type: text/plain", "", "An abuse report.", "",
        "--FF", "Content-Type: message/feedback-report", "",
        "Feedback-Type: abuse", "User-Agent: FBL/1.0", "Version: 1",
        "Original-Rcpt-To: <%s>" % rcpt, "Arrival-Date: " + date, "",
        "--FF--", ""])

c1, c2, c3 = send("c1"), send("c2"), send("c3")
msgs = [
    # c1: only the VERP address names it (no original part; the recipient
    # is where liwei@example.cn forwards to)
    dsn("bounces+%s@example.com" % token(c1[0]), "Mon, 2 Mar 2026 09:00:00 +0000",
        "li.wei@forward.example.net", "failed", "5.1.1",
        "550 5.1.1 <liwei@example.cn>: User unknown"),
    # c3: a soft failure found by the original's Message-ID
    dsn("care@example.com", "Mon, 2 Mar 2026 09:30:00 +0000", "someone-else@example.co.uk",
        "failed", "4.4.7", "retry timeout exceeded", original=sent_headers(c3[0])),
    # c2: a complaint found by the recipient's address (in another case)
    arf("Mon, 2 Mar 2026 08:00:00 +0000", "WangFang@Example.CN"),
    # nobody we sent to
    dsn("care@example.com", "Mon, 2 Mar 2026 10:00:00 +0000", "unknown@example.org",
        "failed", "5.1.1", "550 no such user"),
    # a forged token naming c3's send: must find nothing
    dsn("bounces+%s@example.com" % token(c3[0], good=False), "Mon, 2 Mar 2026 10:30:00 +0000",
        "forged@example.org", "failed", "5.1.1", "550 forged"),
]
os.makedirs(out, exist_ok=True)
with open(out + ".mbox", "w", encoding="utf-8") as f:
    for i, m in enumerate(msgs):
        f.write("From MAILER-DAEMON Mon Mar  2 09:00:00 2026\n")
        # a body line that mboxrd escapes
        f.write(m.replace("退信 / returned mail", "退信 / returned mail\n>From here on, nothing"))
        f.write("\n")
for i, m in enumerate(msgs):
    open(os.path.join(out, "%02d.eml" % i), "w", encoding="utf-8").write(m.replace("\n", "\r\n"))
# a file with one good report and one that is not a report
with open(out + "-bad.mbox", "w", encoding="utf-8") as f:
    f.write("From a Mon Mar  2 09:00:00 2026\n" + msgs[0] + "\n")
    f.write("From b Mon Mar  2 09:00:00 2026\nFrom: wangfang@example.cn\nSubject: 我在度假\n\n"
            "Out of office.\n")
print("%d %d %d" % (c1[0], c2[0], c3[0]))
EOF
}

# sq SQL - one value from the store
sq() {
	sqlite3 "$T/o.db" "$1"
}

c_bounces() {
	bounces_cfg
	bounces_py
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	ok_o run --once --now 2026-03-01T10:00:00Z
	[ "$(nout)" = 3 ] || fail "the first run sent $(nout) emails, want 3"
	"$PY" "$T/mk.py" "$OUTREACH_SECRET" "$T/o.db" "$T/outbox" "$T/reports" >"$T/ids" 2>"$T/mk.err" ||
		fail "mk.py: $(cat "$T/mk.err")"
	read -r s1 s2 s3 <"$T/ids"
	events0=$(sq "select count(*) from events")

	# one message that is not a report: nothing imported, FILE:LINE named
	expect_rc 2 bounces import "$T/reports-bad.mbox" --now 2026-03-02T12:00:00Z
	line=$(grep -n '^From b ' "$T/reports-bad.mbox" | cut -d: -f1)
	err_has "reports-bad.mbox:$line: message 2: not a delivery status notification or complaint report" "a non-report"
	err_has "nothing imported" "a non-report"
	[ "$(sq "select count(*) from events")" = "$events0" ] || fail "a refused import recorded events"
	[ "$(sq "select state from sends where id = $s1")" = sent ] || fail "a refused import changed send $s1"
	[ "$(sq "select count(*) from suppressions")" = 0 ] || fail "a refused import suppressed addresses"

	# the mbox
	ok_o bounces import "$T/reports.mbox" --now 2026-03-02T12:00:00Z
	grep -qx '5 reports: 1 hard, 1 soft, 1 complaint, 2 unmatched' "$T/out" || fail "counts: $(cat "$T/out")"
	err_has "reports.mbox:" "the unmatched reports are named"
	err_has 'recipient "unknown@example.org"' "an unmatched report names its recipient"
	err_has 'recipient "forged@example.org"' "the forged token finds nothing"
	# c1: hard, by its bounce token
	r=$(sq "select state || '|' || reason from sends where id = $s1")
	[ "$r" = 'bounced|hard bounce: 5.1.1 smtp; 550 5.1.1 <liwei@example.cn>: User unknown' ] ||
		fail "send $s1 (c1): '$r'"
	r=$(sq "select state || '|' || at from send_log where send_id = $s1 order by id desc limit 1")
	[ "$r" = "bounced|$(epoch 2026-03-02T09:00:00Z)" ] || fail "send $s1's history: '$r'"
	r=$(sq "select contact_id || '|' || data || '|' || at from events where type = 'bounced' and send_id = $s1")
	[ "$r" = "c1|{\"diagnostic\":\"smtp; 550 5.1.1 <liwei@example.cn>: User unknown\",\"hard\":true,\"status\":\"5.1.1\"}|$(epoch 2026-03-02T09:00:00Z)" ] ||
		fail "c1's bounced event: '$r'"
	r=$(sq "select channel || '|' || reason from suppressions where address = 'liwei@example.cn'")
	[ "$r" = "email|hard bounce on send $s1: 5.1.1 smtp; 550 5.1.1 <liwei@example.cn>: User unknown" ] ||
		fail "c1's suppression: '$r'"
	# c3: soft, by Message-ID; bounced, not suppressed; the forged token did nothing
	[ "$(sq "select state from sends where id = $s3")" = bounced ] || fail "send $s3 (c3) is not bounced"
	r=$(sq "select data from events where type = 'bounced' and send_id = $s3")
	[ "$r" = '{"diagnostic":"smtp; retry timeout exceeded","hard":false,"status":"4.4.7"}' ] ||
		fail "c3's events: '$r'"
	[ "$(sq "select count(*) from suppressions where address = 'emma@example.co.uk'")" = 0 ] ||
		fail "a soft bounce (or the forged token) suppressed c3"
	# c2: a complaint, by address: the event, the suppression, the send stays sent
	r=$(sq "select contact_id || '|' || send_id || '|' || data from events where type = 'complaint'")
	[ "$r" = "c2|$s2|{\"feedback_type\":\"abuse\"}" ] || fail "the complaint event: '$r'"
	[ "$(sq "select state from sends where id = $s2")" = sent ] || fail "a complaint changed send $s2's state"
	r=$(sq "select reason from suppressions where address = 'wangfang@example.cn'")
	[ "$r" = "complaint on send $s2 (abuse)" ] || fail "c2's suppression: '$r'"
	ok_o why "$s1"
	grep -q 'bounced' "$T/out" || fail "why $s1 does not show bounced: $(cat "$T/out")"

	# the same reports again, from a folder of .eml: nothing new
	n=$(sq "select count(*) from events")
	ok_o bounces import "$T/reports" --now 2026-03-03T12:00:00Z
	grep -qx '5 reports: 0 hard, 0 soft, 0 complaints, 2 unmatched; 3 already recorded' "$T/out" ||
		fail "folder import: $(cat "$T/out")"
	[ "$(sq "select count(*) from events")" = "$n" ] || fail "a second import added events"
	[ "$(sq "select count(*) from send_log where state = 'bounced'")" = 2 ] || fail "a second import added history"

	# a week later: c2's complaint cancels its follow-up and puts it in
	# churn_risk (care enrolls it; its address is suppressed); c1's address
	# is suppressed; c3's soft bounce does not stop its follow-up
	ok_o run --once --now 2026-03-08T12:00:00Z
	r=$(sq "select state || '|' || reason from sends where contact_id = 'c2' and campaign = 'news' and step = 1")
	case "$r" in "cancelled|complaint at 2026-03-02T08:00:00Z"*) ;; *) fail "c2's follow-up: '$r'" ;; esac
	ok_o contacts show c2
	cp "$T/out" "$T/show.json"
	py segments "$T/show.json"
	grep -qx churn_risk "$T/py" || fail "c2 is not in churn_risk after its complaint: $(cat "$T/py")"
	r=$(sq "select state || '|' || reason from sends where contact_id = 'c2' and campaign = 'care'")
	case "$r" in "suppressed|"*"address suppressed (complaint on send $s2 (abuse))"*) ;;
	*) fail "c2's care send: '$r'" ;; esac
	[ "$(sq "select count(*) from sends where campaign = 'care'")" = 1 ] || fail "care enrolled others than c2"
	r=$(sq "select state from sends where contact_id = 'c1' and campaign = 'news' and step = 1")
	[ "$r" = suppressed ] || fail "c1's follow-up after a hard bounce: '$r'"
	r=$(sq "select state from sends where contact_id = 'c3' and campaign = 'news' and step = 1")
	[ "$r" = sent ] || fail "c3's follow-up after a soft bounce: '$r'"
}

# usage and files that cannot be read
c_bounces_bad() {
	bounces_cfg
	ok_o init
	expect_rc 2 bounces
	expect_rc 2 bounces import
	expect_rc 2 bounces import "$T/none.mbox"
	err_has "none.mbox: cannot open" "a missing file"
	mkdir -p "$T/empty"
	expect_rc 2 bounces import "$T/empty"
	err_has "no .eml files" "an empty folder"
	: >"$T/empty.eml"
	expect_rc 2 bounces import "$T/empty.eml"
	err_has "empty.eml: empty file" "an empty file"
	printf 'Subject: hi\n\nnot a report\n' >"$T/a.eml"
	cp "$ROOT/tests/data/dsn/postfix.eml" "$T/b.eml"
	expect_rc 2 bounces import "$T/a.eml" "$T/b.eml"
	err_has "a.eml: not a delivery status notification or complaint report" "a non-report .eml"
	# --skip-bad: the good one is read (it matches no send here)
	ok_o bounces import "$T/a.eml" "$T/b.eml" --skip-bad
	grep -qx '1 report: 0 hard, 0 soft, 0 complaints, 1 unmatched; skipped 1 bad message' "$T/out" ||
		fail "--skip-bad: $(cat "$T/out")"
	expect_rc 2 bounces import "$T/b.eml" --now yesterday
}

ALL="$ALL c_bounces c_bounces_bad"
