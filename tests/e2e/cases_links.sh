# tests/e2e/cases_links.sh - link and open tracking at render time: what
# the outbox holds after `run --once` (tracked links, the pixel, our own
# unsubscribe link left alone), what the links table holds, sms and the
# `track` switch, tokens checked with an HMAC computed here in python.
# Sourced by run.sh.

LINKS_BASE=http://127.0.0.1:8080

# links_setup - templates with links in text, HTML and sms, a config with
# tracked and untracked campaigns, the flow contacts and their purchases
links_setup() {
	mkdir -p "$T/tpl/promo"
	cat >"$T/tpl/promo/email.txt" <<'EOF'
Subject: 新品 {{name}}

{{name}}，您好！
新品上市：https://shop.example.com/new?utm=1&id={{id}}。
查看订单（https://shop.example.com/o/{{event.order_id}}）谢谢
Docs: https://docs.example.com/a_(b).
退订：{{unsubscribe_url}}
EOF
	cat >"$T/tpl/promo/email.html" <<'EOF'
<html><body>
<p>{{name}}，<a href="https://shop.example.com/new?utm=1&amp;id={{id}}">新品上市</a>。</p>
<p><A HREF='https://shop.example.com/o/{{event.order_id}}'>订单</A> <a class="x" href=https://help.example.com/faq>帮助</a></p>
<img src="https://cdn.example.com/logo.png" alt="logo">
<a href="mailto:care@example.com">邮件</a> <a href="tel:+864000000000">电话</a>
<script>var u = "<a href='https://js.example.com/x'>";</script>
<a href="{{unsubscribe_url}}">退订</a>
</body></html>
EOF
	printf '【Acme】{{name}} 新品 https://shop.example.com/s?id={{id}} 限时优惠，先到先得！回复TD退订\n' >"$T/tpl/promo/sms.txt"
	use_store "$T/o.db"
	cat >"$T/o.yaml" <<EOF
store: $T/o.db
templates: $T/tpl
timezone: Asia/Shanghai
tracking:
  base_url: $LINKS_BASE/
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
campaigns:
  promo:
    class: marketing
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: promo}
  promo-sms:
    class: marketing
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [sms], template: promo}
  promo-sms-tracked:
    class: marketing
    track: true
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [sms], template: promo}
  promo-untracked:
    class: marketing
    track: false
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: promo}
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
}

# links_py - write $T/lk.py: checks of one message against the links table
links_py() {
	cat >"$T/lk.py" <<'EOF'
import email, email.policy, hashlib, hmac, json, re, storedb, sys

SECRET = sys.argv[1].encode()
BASE = sys.argv[2]
db = storedb.connect(sys.argv[3])
cmd, path, send = sys.argv[4], sys.argv[5], int(sys.argv[6])

def tok(kind, link):
    msg = ("%s.%d.%d" % (kind, send, link)).encode()
    return "%s%d.%d.%s" % (kind, send, link, hmac.new(SECRET, msg, hashlib.sha256).hexdigest()[:20])

def url(kind, link):
    return "%s/%s/%s" % (BASE, kind, tok(kind, link))

def expand(s):
    s = re.sub(r"\{(\d)\}", lambda m: url("c", int(m.group(1))), s)
    s = s.replace("{u}", url("u", 0))
    return s.replace("{o}", '<img src="%s" width="1" height="1" alt="" style="display:none">' % url("o", 0))

def links():
    return [u for (u,) in db.execute("select url from links where send_id = ? order by idx", (send,))]

def fail(why):
    sys.stderr.write(why + "\n")
    sys.exit(1)

def same(what, got, want):
    if got != want:
        fail("%s:\n got: %r\nwant: %r" % (what, got, want))

def tokens_verify(text):
    # every token of ours in the text was signed with the secret for this send,
    # and every click token names a link the table holds
    n = 0
    for kind, sid, link, mac in re.findall(re.escape(BASE) + r"/[cou]/([cou])(\d+)\.(\d+)\.([0-9a-f]+)", text):
        want = hmac.new(SECRET, ("%s.%s.%s" % (kind, sid, link)).encode(), hashlib.sha256).hexdigest()[:20]
        if mac != want or int(sid) != send:
            fail("token %s%s.%s.%s does not verify for send %d" % (kind, sid, link, mac, send))
        if kind == "c" and not (1 <= int(link) <= len(links())):
            fail("click token for link %s, the table has %d" % (link, len(links())))
        n += 1
    return n

if cmd == "eml":
    m = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
    plain = m.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = m.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")
    want_plain, want_html, want_links = json.loads(sys.argv[7])
    same("text/plain", plain, expand(want_plain))
    same("text/html", html, expand(want_html))
    same("links table", links(), want_links)
    n = tokens_verify(plain) + tokens_verify(html)
    print(n)
elif cmd == "sms":
    text = json.load(open(path, encoding="utf-8"))["text"]
    want_text, want_links = json.loads(sys.argv[7])
    same("sms text", text, expand(want_text))
    same("links table", links(), want_links)
    print(tokens_verify(text))
EOF
}

# lk CMD FILE SEND WANT_JSON - run the check, fail with its words
lk() {
	"$PY" "$T/lk.py" "$OUTREACH_SECRET" "$LINKS_BASE" "$T/o.db" "$@" >"$T/lk.out" 2>"$T/lk.err" ||
		fail "$1 $(basename "$2"): $(cat "$T/lk.err")"
}

# sid CONTACT CAMPAIGN - the send id
sid() {
	sqlite3 "$T/o.db" "select id from sends where contact_id = '$1' and campaign = '$2'"
}

c_links() {
	links_setup
	links_py
	ok_o run --once --now 2026-03-01T10:30:00Z
	# c2: email with text and HTML, Chinese text and punctuation around links
	id=$(sid c2 promo)
	[ -f "$T/outbox/$id.eml" ] || fail "no $id.eml for c2's promo: $(ls "$T/outbox" | tr '\n' ' ')"
	lk eml "$T/outbox/$id.eml" "$id" '["王芳，您好！\n新品上市：{1}。\n查看订单（{2}）谢谢\nDocs: {3}.\n退订：{u}\n",
"<html><body>\n<p>王芳，<a href=\"{1}\">新品上市</a>。</p>\n<p><A HREF='"'"'{2}'"'"'>订单</A> <a class=\"x\" href=\"{4}\">帮助</a></p>\n<img src=\"https://cdn.example.com/logo.png\" alt=\"logo\">\n<a href=\"mailto:care@example.com\">邮件</a> <a href=\"tel:+864000000000\">电话</a>\n<script>var u = \"<a href='"'"'https://js.example.com/x'"'"'>\";</script>\n<a href=\"{u}\">退订</a>\n{o}</body></html>\n",
["https://shop.example.com/new?utm=1&id=c2", "https://shop.example.com/o/A-2", "https://docs.example.com/a_(b)", "https://help.example.com/faq"]]'
	[ "$(cat "$T/lk.out")" = 9 ] || fail "c2's email has $(cat "$T/lk.out") tokens of ours, want 9 (4 in the text, 5 in the html)"
	# the List-Unsubscribe header keeps its own link
	grep -q "^List-Unsubscribe: <$LINKS_BASE/u/u$id\.0\." "$T/outbox/$id.eml" ||
		fail "List-Unsubscribe: $(grep '^List-Unsubscribe:' "$T/outbox/$id.eml")"
	# c3 (en, same template): its own links, its own tokens
	id3=$(sid c3 promo)
	sqlite3 "$T/o.db" "select idx || ' ' || url from links where send_id = $id3 order by idx" >"$T/l3"
	printf '1 https://shop.example.com/new?utm=1&id=c3\n2 https://shop.example.com/o/A-3\n3 https://docs.example.com/a_(b)\n4 https://help.example.com/faq\n' >"$T/l3.want"
	cmp -s "$T/l3" "$T/l3.want" || fail "c3's links: $(cat "$T/l3")"
	grep -q "$LINKS_BASE/c/c$id\." "$T/outbox/$id3.eml" && fail "c3's email holds a token of c2's send"

	# sms: not tracked by default, the link as written
	ids=$(sid c1 promo-sms)
	lk sms "$T/outbox/$ids.json" "$ids" '["【Acme】李伟 新品 https://shop.example.com/s?id=c1 限时优惠，先到先得！回复TD退订\n", []]'
	# track: true on the campaign: tracked, Chinese around it; the SMS
	# segments are counted on the text as sent
	idt=$(sid c1 promo-sms-tracked)
	lk sms "$T/outbox/$idt.json" "$idt" '["【Acme】李伟 新品 {1} 限时优惠，先到先得！回复TD退订\n", ["https://shop.example.com/s?id=c1"]]'
	[ "$(cat "$T/lk.out")" = 1 ] || fail "the tracked sms has $(cat "$T/lk.out") tokens, want 1"
	seg=$(sqlite3 "$T/o.db" "select segments from sends where id = $ids")
	segt=$(sqlite3 "$T/o.db" "select segments from sends where id = $idt")
	[ "$seg" = 1 ] && [ "$segt" = 2 ] || fail "sms segments: $seg untracked, $segt tracked; want 1 and 2 (the tracked link is longer)"

	# track: false on the campaign: the email as written, no pixel, no links
	idu=$(sid c2 promo-untracked)
	py eml "$T/outbox/$idu.eml" plain
	grep -q '^新品上市：https://shop.example.com/new?utm=1&id=c2。$' "$T/py" || fail "untracked text: $(cat "$T/py")"
	py eml "$T/outbox/$idu.eml" html
	grep -q "$LINKS_BASE/[co]/" "$T/py" && fail "untracked html has a tracked link or the pixel: $(cat "$T/py")"
	[ "$(sqlite3 "$T/o.db" "select count(*) from links where send_id in ($idu, $ids)")" = 0 ] ||
		fail "untracked sends have rows in links"
	n=$(sqlite3 "$T/o.db" "select count(*) from links")
	[ "$n" = 13 ] || fail "links has $n rows, want 13 (4 for each email to c1, c2, c3; 1 for the tracked sms)"
	# a second run sends nothing more and records no more links
	ok_o run --once --now 2026-03-01T11:00:00Z
	[ "$(sqlite3 "$T/o.db" "select count(*) from links")" = 13 ] || fail "a second run changed links"
}

# a track that is not a boolean: check and run refuse it (exit 2), naming
# the line
c_links_bad_track() {
	links_setup
	sed -i 's/^    track: true$/    track: sometimes/' "$T/o.yaml"
	line=$(grep -n 'track: sometimes' "$T/o.yaml" | cut -d: -f1)
	expect_rc 2 check
	err_has "o.yaml:$line: campaign \"promo-sms-tracked\": track must be true or false" "check: bad track"
	expect_rc 2 run --once --now 2026-03-01T10:30:00Z
	err_has "o.yaml:$line: campaign \"promo-sms-tracked\": track must be true or false" "bad track"
	[ "$(nout)" = 0 ] || fail "run sent $(nout) messages with a bad config"
}

ALL="$ALL c_links c_links_bad_track"
