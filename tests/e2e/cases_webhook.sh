# cases_webhook.sh - the webhook transport end to end (sourced by run.sh)
#
# Each case starts tests/e2e/httpd.py on a free loopback port, writes a
# config whose webhook transports point at it, runs the dispatcher and
# checks what the server received (tests/e2e/webhook_check.py rebuilds
# each flavor's documented payload and signature independently) and what
# the store recorded.

WH_NOW=2026-03-01T10:00:00Z
WH_EPOCH=1772359200

# wh_httpd - start the recording server with $T/script.json (created
# empty when missing); sets WH_PORT; the server dies with the case
wh_httpd() {
	[ -f "$T/script.json" ] || echo '[]' >"$T/script.json"
	"$PY" "$ROOT/tests/e2e/httpd.py" --port-file "$T/port" --log "$T/http.log" \
		--script "$T/script.json" >"$T/httpd.out" 2>&1 &
	WH_PID=$!
	trap 'kill $WH_PID 2>/dev/null' EXIT
	i=0
	while [ ! -s "$T/port" ]; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "httpd.py did not start: $(head -c 300 "$T/httpd.out")"
		kill -0 $WH_PID 2>/dev/null || fail "httpd.py died: $(head -c 300 "$T/httpd.out")"
		sleep 0.1
	done
	WH_PORT=$(cat "$T/port")
	WH="http://127.0.0.1:$WH_PORT"
}

# wh_template - templates/hook/chat.md in $T/templates (Chinese markdown)
wh_template() {
	mkdir -p "$T/templates/hook"
	cat >"$T/templates/hook/chat.md" <<'EOF'
# 新品到店
{{name}}您好，感谢您的订单 {{event.order_id}}！**VIP** 专享 `A-1` & <优惠>
详情见 [链接](https://example.com/vip?a=1&b=2)

EOF
}

# what chat.md renders to for c1 (李伟, order A-1), and its Telegram HTML
WH_TEXT='# 新品到店
李伟您好，感谢您的订单 A-1！**VIP** 专享 `A-1` & <优惠>
详情见 [链接](https://example.com/vip?a=1&b=2)'
WH_HTML='<b>新品到店</b>
李伟您好，感谢您的订单 A-1！<b>VIP</b> 专享 <code>A-1</code> &amp; &lt;优惠&gt;
详情见 <a href="https://example.com/vip?a=1&amp;b=2">链接</a>'

# wh_sql QUERY - echo the answer of sqlite3 on the case's store
wh_sql() {
	sqlite3 "$T/o.db" "$1" 2>"$T/sql.err" || fail "sqlite3 $1: $(cat "$T/sql.err")"
}

# wh_check SPEC - webhook_check.py on the request log
wh_check() {
	"$PY" "$ROOT/tests/e2e/webhook_check.py" "$T/http.log" "$1" >"$T/check.out" 2>&1 ||
		fail "webhook_check: $(head -c 600 "$T/check.out")"
}

# wh_spec - a JSON spec for webhook_check from "key=value" lines on stdin:
# one expectation per line, fields separated by tabs; text and html are
# filled from $WH_TEXT / $WH_HTML
wh_spec() {
	WH_TEXT="$WH_TEXT" WH_HTML="$WH_HTML" "$PY" -c '
import json, os, sys
ex = []
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    e = {"text": os.environ["WH_TEXT"]}
    for kv in line.split("\t"):
        k, v = kv.split("=", 1)
        e[k] = int(v) if k in ("count", "step") else v
    if e["flavor"] == "telegram" and e.get("format", "markdown") == "markdown":
        e["html"] = os.environ["WH_HTML"]
    ex.append(e)
json.dump({"now": int(sys.argv[1]), "expect": ex}, open(sys.argv[2], "w"), ensure_ascii=False)
' "$WH_EPOCH" "$1" || fail "wh_spec failed"
}

# 1. every flavor, its service's answer, its payload and signature
c_webhook_flavors() {
	wh_httpd
	wh_template
	cat >"$T/script.json" <<'EOF'
[{"path": "/slack", "body": "ok"},
 {"path": "/teams", "body": "1"},
 {"path": "/discord", "body": "{\"id\":\"12077{n}\",\"type\":0,\"content\":\"x\"}"},
 {"path": "/feishu", "body": "{\"code\":0,\"data\":{},\"msg\":\"success\"}"},
 {"path": "/dingtalk", "body": "{\"errcode\":0,\"errmsg\":\"ok\"}"},
 {"path": "/wecom", "body": "{\"errcode\":0,\"errmsg\":\"ok\"}"},
 {"path": "/bot", "body": "{\"ok\":true,\"result\":{\"message_id\":{n},\"chat\":{\"id\":-1001234567890}}}"}]
EOF
	export WH_DT_TOKEN=dt0123456789abcdef0123456789abcdef WH_DT_SECRET=SECdingtalk0123456789abcdefsecret
	export WH_FS_TOKEN=fs-5e3d587e-d78e-4a07-bd07-265f269f86fd WH_FS_SECRET=feishu-secret-7c1d
	export WH_GEN_SECRET=generic-secret-0f9e WH_TG_TOKEN=123456:ABCdefGhIJKlmNoPQRstuVWxyz
	cfg "$T/templates" <<EOF
  hook-slack:
    kind: webhook
    flavor: slack
    url: $WH/slack/services/T000/B000/XXXXXXXX
  hook-slack-text:
    kind: webhook
    flavor: slack
    format: text
    url: $WH/slack-text
  hook-teams:
    kind: webhook
    flavor: teams
    title: VIP 提醒
    url: $WH/teams/webhookb2/abc
  hook-discord:
    kind: webhook
    flavor: discord
    url: $WH/discord/api/webhooks/1/tok
  hook-feishu:
    kind: webhook
    flavor: feishu
    url: $WH/feishu/open-apis/bot/v2/hook/\${WH_FS_TOKEN}
    secret_env: WH_FS_SECRET
  hook-feishu-text:
    kind: webhook
    flavor: feishu
    format: text
    url: $WH/feishuplain/hook/x
  hook-dingtalk:
    kind: webhook
    flavor: dingtalk
    url: $WH/dingtalk/robot/send?access_token=\${WH_DT_TOKEN}
    secret_env: WH_DT_SECRET
  hook-wecom:
    kind: webhook
    flavor: wecom
    format: text
    url: $WH/wecom/cgi-bin/webhook/send?key=693a91f6-7xxx
  hook-telegram:
    kind: webhook
    flavor: telegram
    url: $WH/bot\${WH_TG_TOKEN}/sendMessage
    chat_id: -1001234567890
  hook-generic:
    kind: webhook
    flavor: generic
    url: $WH/generic/in
    secret_env: WH_GEN_SECRET
campaigns:
  vip-alert:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [hook-slack], template: hook}
      - {after: 0h, channels: [hook-slack-text], template: hook}
      - {after: 0h, channels: [hook-teams], template: hook}
      - {after: 0h, channels: [hook-discord], template: hook}
      - {after: 0h, channels: [hook-feishu], template: hook}
      - {after: 0h, channels: [hook-feishu-text], template: hook}
      - {after: 0h, channels: [hook-dingtalk], template: hook}
      - {after: 0h, channels: [hook-wecom], template: hook}
      - {after: 0h, channels: [hook-telegram], template: hook}
      - {after: 0h, channels: [hook-generic], template: hook}
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o event add --contact c1 --type purchase --at 2026-03-01T09:00:00Z --data '{"order_id":"A-1"}'
	ok_o run --once --now "$WH_NOW"
	n=$(wh_sql "select count(*) from sends where state = 'sent'")
	[ "$n" = 10 ] || fail "$n sends sent, want 10: $(wh_sql "select transport, state, reason from sends" | tr '\n' ' ')"
	[ "$(wc -l <"$T/http.log")" = 10 ] || fail "the server got $(wc -l <"$T/http.log") requests, want 10"
	TAB=$(printf '\t')
	wh_spec "$T/spec.json" <<EOF
path=/slack/services${TAB}flavor=slack
path=/slack-text${TAB}flavor=slack${TAB}format=text
path=/teams${TAB}flavor=teams${TAB}title=VIP 提醒
path=/discord${TAB}flavor=discord
path=/feishu/${TAB}flavor=feishu${TAB}secret=$WH_FS_SECRET
path=/feishuplain${TAB}flavor=feishu${TAB}format=text
path=/dingtalk${TAB}flavor=dingtalk${TAB}secret=$WH_DT_SECRET${TAB}query=access_token=$WH_DT_TOKEN&timestamp=
path=/wecom${TAB}flavor=wecom${TAB}format=text
path=/bot$WH_TG_TOKEN/sendMessage${TAB}flavor=telegram${TAB}chat_id=-1001234567890
path=/generic${TAB}flavor=generic${TAB}secret=$WH_GEN_SECRET${TAB}campaign=vip-alert${TAB}step=10
EOF
	# "query" is a list in the spec
	"$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); [e.__setitem__("query",[e["query"]]) for e in s["expect"] if "query" in e]; json.dump(s,open(sys.argv[1],"w"),ensure_ascii=False)' "$T/spec.json"
	wh_check "$T/spec.json"
	# a checker that cannot fail proves nothing: a wrong secret must not verify
	sed "s/$WH_DT_SECRET/SECwrong/" "$T/spec.json" >"$T/spec-bad.json"
	"$PY" "$ROOT/tests/e2e/webhook_check.py" "$T/http.log" "$T/spec-bad.json" >"$T/check-bad.out" 2>&1 &&
		fail "webhook_check accepted a dingtalk signature under a wrong secret"
	grep -q 'dingtalk sign does not verify' "$T/check-bad.out" || fail "webhook_check with a wrong secret: $(cat "$T/check-bad.out")"
	# provider ids: telegram's message_id, discord's and generic's id
	tg_n=$("$PY" -c 'import json,sys; print([json.loads(l)["n"] for l in open(sys.argv[1]) if json.loads(l)["path"].startswith("/bot")][0])' "$T/http.log")
	pid=$(wh_sql "select provider_id from sends where transport = 'hook-telegram'")
	[ "$pid" = "$tg_n" ] || fail "telegram provider_id '$pid', want the message_id $tg_n"
	pid=$(wh_sql "select provider_id from sends where transport = 'hook-discord'")
	case "$pid" in 12077[0-9]*) ;; *) fail "discord provider_id '$pid', want 12077<n>" ;; esac
	pid=$(wh_sql "select provider_id from sends where transport = 'hook-generic'")
	case "$pid" in m[0-9]*) ;; *) fail "generic provider_id '$pid', want m<n>" ;; esac
	# one request per send: a second run sends nothing more
	ok_o run --once --now 2026-03-01T10:05:00Z
	[ "$(wc -l <"$T/http.log")" = 10 ] || fail "a second run sent again: $(wc -l <"$T/http.log") requests"
}

# 2. error answers: permanent, transient with the server's wait, fall-through
c_webhook_errors() {
	wh_httpd
	wh_template
	cat >"$T/script.json" <<'EOF'
[{"path": "/ding-sign", "body": "{\"errcode\":310000,\"errmsg\":\"sign not match\"}"},
 {"path": "/ding-fast", "body": "{\"errcode\":130101,\"errmsg\":\"send too fast, exceed 20 times per minute\"}"},
 {"path": "/busy", "status": 429, "body": "slow down", "headers": {"Retry-After": "900"}},
 {"path": "/bad", "status": 400, "body": "invalid_payload"},
 {"path": "/down", "status": 503, "body": "<html>unavailable</html>"},
 {"path": "/hang", "hang": 4, "body": "ok"},
 {"path": "/close", "close": true},
 {"path": "/garbage", "body": "<html>captive portal</html>"},
 {"path": "/bot", "status": 429, "body": "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 1200\",\"parameters\":{\"retry_after\":1200}}"}]
EOF
	export WH_DT_SECRET=SECerrors0123456789
	# a port nothing listens on: bind one, then free it
	dead=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cfg "$T/templates" <<EOF
  ding-sign:
    kind: webhook
    flavor: dingtalk
    url: $WH/ding-sign?access_token=t
    secret_env: WH_DT_SECRET
  ding-fast:
    kind: webhook
    flavor: dingtalk
    url: $WH/ding-fast?access_token=t
  busy:
    kind: webhook
    flavor: generic
    url: $WH/busy
  bad:
    kind: webhook
    flavor: slack
    url: $WH/bad
  down:
    kind: webhook
    flavor: teams
    url: $WH/down
  hang:
    kind: webhook
    flavor: slack
    url: $WH/hang
    timeout: 1s
  close:
    kind: webhook
    flavor: wecom
    url: $WH/close
  garbage:
    kind: webhook
    flavor: slack
    url: $WH/garbage
  refused:
    kind: webhook
    flavor: discord
    url: http://127.0.0.1:$dead/api/webhooks/1/tok
  tg:
    kind: webhook
    flavor: telegram
    url: $WH/bot123:x/sendMessage
    chat_id: "@acme_vip"
campaigns:
  errs:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [ding-sign], template: hook}
      - {after: 0h, channels: [ding-fast], template: hook}
      - {after: 0h, channels: [busy], template: hook}
      - {after: 0h, channels: [bad, sms], template: hook}
      - {after: 0h, channels: [down], template: hook}
      - {after: 0h, channels: [hang], template: hook}
      - {after: 0h, channels: [close], template: hook}
      - {after: 0h, channels: [garbage], template: hook}
      - {after: 0h, channels: [refused], template: hook}
      - {after: 0h, channels: [tg], template: hook}
EOF
	mkdir -p "$T/templates/hook"
	printf '【Acme】{{name}}，订单 {{event.order_id}} 已收到\n' >"$T/templates/hook/sms.txt"
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o event add --contact c1 --type purchase --at 2026-03-01T09:00:00Z --data '{"order_id":"A-1"}'
	ok_o run --once --now "$WH_NOW"
	st() { wh_sql "select state || '|' || coalesce(transport,'') || '|' || coalesce(reason,'') from sends where step = $1"; }
	s=$(st 0)
	case "$s" in failed*"dingtalk 310000"*"sign not match"*) ;; *) fail "dingtalk 310000: '$s', want failed with 'sign not match'" ;; esac
	s=$(st 1)
	case "$s" in deferred*"130101"*"send too fast"*) ;; *) fail "dingtalk 130101: '$s', want deferred" ;; esac
	s=$(st 2)
	case "$s" in deferred*"http 429"*) ;; *) fail "429: '$s', want deferred" ;; esac
	due=$(wh_sql "select due_at from sends where step = 2")
	[ "$due" -ge $((WH_EPOCH + 900)) ] || fail "429 with Retry-After 900: due at $due, want >= $((WH_EPOCH + 900))"
	s=$(st 3)
	case "$s" in sent\|sms\|*) ;; *) fail "400 on bad: '$s', want sent via the next channel (sms)" ;; esac
	a=$(wh_sql "select status || ' ' || code || ' ' || reason from attempts where transport = 'bad'")
	case "$a" in "fail http 400 "*invalid_payload*) ;; *) fail "the 400 attempt: '$a'" ;; esac
	s=$(st 4)
	case "$s" in deferred*"http 503"*) ;; *) fail "503: '$s', want deferred" ;; esac
	s=$(st 5)
	case "$s" in deferred*timeout*) ;; *) fail "a server that hangs: '$s', want deferred (timeout)" ;; esac
	s=$(st 6)
	case "$s" in deferred*) ;; *) fail "a server that closes the connection: '$s', want deferred" ;; esac
	s=$(st 7)
	case "$s" in failed*"unexpected answer 200"*"captive portal"*) ;; *) fail "slack 200 not ok: '$s', want failed" ;; esac
	s=$(st 8)
	case "$s" in deferred*connect*) ;; *) fail "connection refused: '$s', want deferred (connect)" ;; esac
	s=$(st 9)
	case "$s" in deferred*"telegram 429"*) ;; *) fail "telegram 429: '$s', want deferred" ;; esac
	due=$(wh_sql "select due_at from sends where step = 9")
	[ "$due" -ge $((WH_EPOCH + 1200)) ] || fail "telegram retry_after 1200: due at $due, want >= $((WH_EPOCH + 1200))"
	n=$(wh_sql "select count(*) from sends")
	[ "$n" = 10 ] || fail "$n sends, want 10"
}

# 3. chats to a person: telegram chat ids and personal webhook urls
c_webhook_personal() {
	wh_httpd
	wh_template
	printf '【Acme】{{name}}，订单 {{event.order_id}} 已收到\n' >"$T/templates/hook/sms.txt"
	cat >"$T/script.json" <<'EOF'
[{"path": "/bot", "body": "{\"ok\":true,\"result\":{\"message_id\":{n}}}"},
 {"path": "/me/", "body": "ok"}]
EOF
	export WH_TG_TOKEN=987654:personalTokenXYZ
	cfg "$T/templates" <<EOF
  tg:
    kind: webhook
    flavor: telegram
    to: telegram_chat_id
    format: text
    url: $WH/bot\${WH_TG_TOKEN}/sendMessage
  own:
    kind: webhook
    flavor: slack
    to: slack_url
campaigns:
  personal:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [tg, sms], template: hook}
  own-hook:
    class: transactional
    trigger: {event: signup}
    steps:
      - {after: 0h, channels: [own], template: hook}
EOF
	cat >"$T/contacts.csv" <<EOF
id,name,email,phone,timezone,locale,telegram_chat_id,slack_url
c1,李伟,liwei@example.cn,+8613800138001,Asia/Shanghai,zh,5550001,$WH/me/T1/B1/personal-token-1
c2,王芳,wangfang@example.cn,+8613800138002,Asia/Shanghai,zh,,notaurl-secretish
c3,Emma Clarke,emma@example.co.uk,,Europe/London,en,,
c4,Bad Id,bad@example.com,+447700900004,Europe/London,en,not-a-chat,
EOF
	ok_o init
	ok_o contacts import "$T/contacts.csv"
	for c in c1 c2 c3 c4; do
		ok_o event add --contact $c --type purchase --at 2026-03-01T09:00:00Z --data "{\"order_id\":\"A-$c\"}"
	done
	for c in c1 c2; do
		ok_o event add --contact $c --type signup --at 2026-03-01T09:00:00Z --data "{\"order_id\":\"S-$c\"}"
	done
	ok_o run --once --now "$WH_NOW"
	st() { wh_sql "select state || '|' || coalesce(transport,'') || '|' || coalesce(reason,'') from sends where contact_id = '$1' and campaign = '$2'"; }
	# c1: its own chat id
	s=$(st c1 personal)
	case "$s" in sent\|tg\|*) ;; *) fail "c1 personal: '$s', want sent via tg" ;; esac
	"$PY" -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
tg = [r for r in rs if r["path"].startswith("/bot")]
assert len(tg) == 1, "%d telegram requests, want 1 (c1 only)" % len(tg)
b = json.loads(tg[0]["body"])
assert b == {"chat_id": 5550001, "text": "# 新品到店\n李伟您好，感谢您的订单 A-c1！**VIP** 专享 `A-1` & <优惠>\n详情见 [链接](https://example.com/vip?a=1&b=2)"}, b
me = [r for r in rs if r["path"].startswith("/me/")]
assert len(me) == 1 and me[0]["path"] == "/me/T1/B1/personal-token-1", me
assert json.loads(me[0]["body"])["text"].startswith("# 新品到店\n李伟您好，感谢您的订单 S-c1"), me[0]["body"]
' "$T/http.log" 2>"$T/py.err" || fail "personal requests: $(tail -n 1 "$T/py.err")"
	pid=$(wh_sql "select provider_id from sends where contact_id = 'c1' and transport = 'tg'")
	[ -n "$pid" ] || fail "c1's telegram message_id was not stored"
	# c2: no chat id -> the next channel
	s=$(st c2 personal)
	case "$s" in sent\|sms\|*) ;; *) fail "c2 personal: '$s', want sent via sms" ;; esac
	# c3: neither -> suppressed, saying why
	s=$(st c3 personal)
	case "$s" in suppressed*"no telegram_chat_id"*"no phone"*) ;; *) fail "c3 personal: '$s', want suppressed (no telegram_chat_id, no phone)" ;; esac
	# c4: a chat id that is none -> failed on tg, sent by sms
	s=$(st c4 personal)
	case "$s" in sent\|sms\|*) ;; *) fail "c4 personal: '$s', want sent via sms after tg failed" ;; esac
	a=$(wh_sql "select a.status || ' ' || a.reason from attempts a join sends s on s.id = a.send_id where s.contact_id = 'c4' and a.transport = 'tg'")
	[ "$a" = "fail invalid telegram chat id" ] || fail "c4's tg attempt: '$a'"
	# c2's own webhook url is not one: failed, and never quoted
	s=$(st c2 own-hook)
	case "$s" in failed*"invalid webhook url"*) ;; *) fail "c2 own-hook: '$s', want failed (invalid webhook url)" ;; esac
	case "$s" in *notaurl*) fail "the reason quotes the contact's url: $s" ;; esac
	wh_sql "select reason from attempts" | grep -q notaurl && fail "an attempt quotes the contact's url"
	grep -q 'personal-token-1\|personalTokenXYZ' "$T/err" && fail "stderr names a url token: $(cat "$T/err")"
	:
}

# 4. secrets and url tokens never reach stderr (-v), reasons or the store
c_webhook_secret() {
	wh_httpd
	wh_template
	export WH_DT_TOKEN=DTTOKEN5f1e2d3c4b5a69788796a5b4c3d2e1f0 WH_DT_SECRET=SECDTSECRET8c7b6a5f4e3d2c1b0a
	export WH_FS_TOKEN=FSTOKEN-2b1f7a9e-0c3d-4e5f-8a9b-c0d1e2f3a4b5 WH_FS_SECRET=FSSECRETq1w2e3r4t5y6
	export WH_GEN_SECRET=GENSECRETz9x8c7v6b5n4 WH_TG_TOKEN=4242:TGTOKENabcdefghijklmnop
	# servers that echo the request back into their error answers
	cat >"$T/script.json" <<EOF
[{"path": "/dingtalk", "status": 400, "body": "bad request for /dingtalk/robot/send?access_token=$WH_DT_TOKEN sign $WH_DT_SECRET"},
 {"path": "/feishu", "body": "{\"code\":19021,\"msg\":\"sign match fail for hook $WH_FS_TOKEN\"}"},
 {"path": "/generic", "status": 500, "body": "cannot verify with $WH_GEN_SECRET"},
 {"path": "/bot", "status": 401, "body": "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized bot$WH_TG_TOKEN\"}"}]
EOF
	cfg "$T/templates" <<EOF
  dt:
    kind: webhook
    flavor: dingtalk
    url: $WH/dingtalk/robot/send?access_token=\${WH_DT_TOKEN}
    secret_env: WH_DT_SECRET
  fs:
    kind: webhook
    flavor: feishu
    url: $WH/feishu/open-apis/bot/v2/hook/\${WH_FS_TOKEN}
    secret_env: WH_FS_SECRET
  gen:
    kind: webhook
    flavor: generic
    url: $WH/generic/in
    secret_env: WH_GEN_SECRET
  tg:
    kind: webhook
    flavor: telegram
    url: $WH/bot\${WH_TG_TOKEN}/sendMessage
    chat_id: -42
campaigns:
  s:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [dt], template: hook}
      - {after: 0h, channels: [fs], template: hook}
      - {after: 0h, channels: [gen], template: hook}
      - {after: 0h, channels: [tg], template: hook}
EOF
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o event add --contact c1 --type purchase --at 2026-03-01T09:00:00Z --data '{"order_id":"A-1"}'
	ok_o -v run --once --now "$WH_NOW"
	cp "$T/err" "$T/run.err"
	[ "$(wc -l <"$T/http.log")" = 4 ] || fail "the server got $(wc -l <"$T/http.log") requests, want 4"
	# the secrets really went out (so their absence below means something)
	grep -q "$WH_DT_TOKEN" "$T/http.log" || fail "the dingtalk token never reached the server"
	grep -q "$WH_FS_TOKEN" "$T/http.log" || fail "the feishu token never reached the server"
	# the answers did come back as failures and deferrals, with words
	n=$(wh_sql "select count(*) from sends where state in ('failed', 'deferred') and reason <> ''")
	[ "$n" = 4 ] || fail "$n of 4 sends failed or deferred with a reason: $(wh_sql "select state, reason from sends" | tr '\n' ' ')"
	grep -q 'sign match fail' "$T/run.err" || wh_sql "select reason from sends" | grep -q 'sign match fail' ||
		fail "feishu's words are lost"
	sqlite3 "$T/o.db" .dump >"$T/dump.sql" 2>&1 || fail "sqlite3 .dump failed"
	ok_o why "$(wh_sql "select id from sends where step = 0")"
	cat "$T/out" >>"$T/dump.sql"
	# whole or cut short (a reason holds the start of an answer): the first
	# 10 characters of each are enough to betray it
	for s in "$WH_DT_TOKEN" "$WH_DT_SECRET" "$WH_FS_TOKEN" "$WH_FS_SECRET" "$WH_GEN_SECRET" "$WH_TG_TOKEN"; do
		p=$(printf '%s' "$s" | cut -c1-10)
		grep -qF -- "$p" "$T/run.err" && fail "stderr (-v) holds a secret: $(grep -F -- "$p" "$T/run.err" | head -c 300)"
		grep -qF -- "$p" "$T/dump.sql" && fail "the store holds a secret: $(grep -F -- "$p" "$T/dump.sql" | head -c 300)"
	done
	# a config problem names the option, never the value
	sed "s|url: $WH/generic/in|url: ftp://127.0.0.1/generic?key=\${WH_GEN_SECRET}|" "$T/o.yaml" >"$T/bad.yaml"
	"$O" -c "$T/bad.yaml" run --once --now "$WH_NOW" >"$T/out" 2>"$T/err"
	[ $? != 0 ] || fail "a bad url did not stop the run"
	err_has "url must start with https:// or http://" "bad url"
	grep -qF -- "$WH_GEN_SECRET" "$T/err" && fail "the bad url's error quotes it: $(cat "$T/err")"
	:
}

ALL="$ALL c_webhook_flavors c_webhook_errors c_webhook_personal c_webhook_secret"
