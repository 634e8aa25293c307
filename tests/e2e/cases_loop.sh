# cases_loop.sh - the whole loop on real parts: mail through a real SMTP
# server, the tracked pixel and link followed over HTTP against `serve`, a
# reply by email matched to its Message-ID, a DSN imported, and what that
# changes: the follow-ups, the suppression list and the report. Sourced by
# run.sh (uses the helpers of cases_smtp.sh and cases_serve.sh).

c_loop_smtp() {
	smtp_server srv
	mkdir -p "$T/tpl/offer" "$T/tpl/again"
	printf 'Subject: 给{{name}}的优惠\n\n{{name}}，您好：本周优惠 https://shop.example.com/sale?c=1 。\n' >"$T/tpl/offer/email.txt"
	printf '<p>{{name}}，您好：<a href="https://shop.example.com/sale?c=1">本周优惠</a></p>\n' >"$T/tpl/offer/email.html"
	printf 'Subject: 还在考虑吗，{{name}}？\n\nAGAIN {{name}}\n' >"$T/tpl/again/email.txt"
	use_store "$T/o.db"
	cat >"$T/o.yaml" <<EOF
store: $T/o.db
templates: $T/tpl
timezone: Asia/Shanghai
tracking:
  base_url: http://127.0.0.1:8080
  secret_env: OUTREACH_SECRET
transports:
  email:
    kind: smtp
    host: 127.0.0.1
    port: $PORT
    tls: none
    from: "Acme 客服 <care@example.com>"
    timeout: 5s
campaigns:
  loop:
    trigger: {event: purchase}
    steps:
      - {after: 1h, channels: [email], template: offer}
      - {after: 3d, channels: [email], template: again, unless: [replied]}
EOF
	cat >"$T/c.csv" <<'EOF'
id,name,email,timezone,locale
c1,李伟,liwei@example.cn,Asia/Shanghai,zh
c2,Emma,emma@example.co.uk,Europe/London,en
EOF
	ok_o init
	ok_o contacts import "$T/c.csv"
	ok_o event add --contact c1 --type purchase --at 2026-03-01T01:00:00Z --data '{"amount": 300}'
	ok_o event add --contact c2 --type purchase --at 2026-03-01T01:00:00Z --data '{"amount": 300}'
	ok_o run --once --now 2026-03-01T02:00:00Z
	[ "$(smtp_count)" = 2 ] || fail "the SMTP server received $(smtp_count) messages, want 2"
	m1=$(smtp_msg liwei@example.cn)
	m2=$(smtp_msg emma@example.co.uk)
	[ -n "$m1" ] && [ -n "$m2" ] || fail "no message for c1 or c2"
	# the tracked pixel and link, as the mail client sees them
	"$PY" - "$m1" >"$T/urls" <<'PYEOF' 2>"$T/py.err" || fail "c1's mail: $(tail -n 1 "$T/py.err")"
import email, email.policy, re, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
html = m.get_body(("html",)).get_content()
text = m.get_body(("plain",)).get_content()
assert "shop.example.com" not in html + text, "an untracked link went out"
pix = re.findall(r'<img src="http://127\.0\.0\.1:8080(/o/[^"]+)"', html)
clicks = re.findall(r'href="http://127\.0\.0\.1:8080(/c/[^"]+)"', html)
assert len(pix) == 1 and len(clicks) == 1, (pix, clicks)
print(pix[0]); print(clicks[0]); print(m["Message-ID"])
PYEOF
	pix=$(sed -n 1p "$T/urls")
	click=$(sed -n 2p "$T/urls")
	mid1=$(sed -n 3p "$T/urls")
	[ "$mid1" = "$(sql "select message_id from sends where contact_id = 'c1' and step = 0")" ] ||
		fail "the Message-ID received ($mid1) is not the one stored"
	sv_start --now 2026-03-01T03:00:00Z
	sv_want 200 GET "$pix"
	sv_want 302 GET "$click"
	sv_is "redirect" "$(sed -n 's/^location: //p' "$T/resp.head")" 'https://shop.example.com/sale?c=1'
	# c1 replies to the offer
	body=$("$PY" -c 'import json,sys; print(json.dumps({"from": "LiWei@Example.cn", "subject": "Re: 优惠", "text": "好的，谢谢", "in_reply_to": sys.argv[1]}))' "$mid1")
	code=$(sv_http POST /inbound/email -H 'Content-Type: application/json' -d "$body")
	case "$code" in 20?) ;; *) fail "/inbound/email: $code $(head -c 200 "$T/resp.body")" ;; esac
	sv_stop
	# c2's mail bounces: an RFC 3464 report naming its Message-ID
	mid2=$(sql "select message_id from sends where contact_id = 'c2' and step = 0")
	"$PY" - "$mid2" >"$T/dsn.eml" <<'PYEOF'
import sys
mid = sys.argv[1]
print("""From: MAILER-DAEMON@mx.example.co.uk
To: care@example.com
Subject: Undelivered Mail Returned to Sender
Date: Sun, 01 Mar 2026 04:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

The mail could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.co.uk

Final-Recipient: rfc822; emma@example.co.uk
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--b1
Content-Type: text/rfc822-headers

Message-ID: %s
To: emma@example.co.uk
Subject: offer

--b1--""".replace("\n", "\r\n") % mid)
PYEOF
	ok_o bounces import "$T/dsn.eml" --now 2026-03-01T05:00:00Z
	sv_is "c2's send" "$(sql "select state from sends where contact_id = 'c2' and step = 0")" bounced
	sv_is "suppressed" "$(sql "select count(*) from suppressions where address = 'emma@example.co.uk'")" 1
	# three days later: c1 replied (follow-up cancelled), c2 bounced
	# (follow-up has no reachable address): nothing more is sent
	ok_o run --once --now 2026-03-04T03:00:00Z
	[ "$(smtp_count)" = 2 ] || fail "follow-ups went out: $(smtp_count) messages"
	sv_is "c1's follow-up" "$(sql "select state from sends where contact_id = 'c1' and step = 1")" cancelled
	sv_is "c2's follow-up" "$(sql "select state from sends where contact_id = 'c2' and step = 1")" suppressed
	ok_o report --format json
	cp "$T/out" "$T/report.json"
	"$PY" - "$T/report.json" <<'PYEOF' 2>"$T/py.err" || fail "report: $(tail -n 1 "$T/py.err")"
import json, sys
r = json.load(open(sys.argv[1]))
rows = [x for x in r["rows"] if x["campaign"] == "loop" and x["step"] == 1]
tot = lambda k: sum(x.get(k, 0) or 0 for x in rows)
assert tot("sent") == 2, rows
assert tot("opened") == 1 and tot("clicked") == 1 and tot("replied") == 1, rows
assert tot("bounced") == 1, rows
PYEOF
}

ALL="$ALL c_loop_smtp"
