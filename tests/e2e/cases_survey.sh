# tests/e2e/cases_survey.sh - surveys end to end: the survey page asks on
# the send's scale (`survey: nps` 0 to 10, `survey: csat` 1 to 5) in the
# contact's language, answers come in through `serve` (POST /s/TOKEN),
# once per send (a second answer is 409 and changes nothing), a low score
# triggers a care-call alert to the account managers' chat group (a
# generic webhook: tests/e2e/httpd.py records it), and `report` shows the
# response rate, NPS and CSAT per campaign and segment in json, table and
# html. Uses the helpers of cases_serve.sh (sv_start, sv_tok, sv_want...)
# and cases_webhook.sh (wh_httpd). Sourced by run.sh.
#
#   contact  segment  campaign (scale)  answer
#   s1 zh    vip      checkin (nps)     10, then tries 0: 409
#   s2 en    vip      checkin (nps)     9, then tries 42: 409
#   s3 zh    -        checkin (nps)     3 "送货太慢了": care call
#   s4 en    -        checkin (nps)     none
#   s5 zh    -        service (csat)    6 refused (400), then 5
#   s6 en    vip      service (csat)    2 "rude": care call

sy_setup() {
	mkdir -p "$T/tpl/checkin" "$T/tpl/service" "$T/tpl/care-call"
	printf 'Subject: How did we do, {{name}}?\n\nPlease rate us: {{survey_url}}\n' >"$T/tpl/checkin/email.txt"
	printf 'Subject: Your ticket is closed\n\nHow satisfied are you? {{survey_url}}\n' >"$T/tpl/service/email.txt"
	printf '**Care call**: {{name}} ({{id}}, {{phone}}) answered {{event.score}}{{#event.scale}} ({{event.scale}}){{/event.scale}}: %s\n' \
		'"{{event.comment}}"' >"$T/tpl/care-call/chat.md"
	wh_httpd
	cfg "$T/tpl" <<EOF
  am-group:
    kind: webhook
    flavor: generic
    url: $WH/am/hook
segments:
  vip: spend >= 1000
campaigns:
  checkin:
    class: transactional
    trigger: {event: purchase}
    survey: nps
    steps:
      - {after: 0h, channels: [email], template: checkin}
  service:
    class: transactional
    trigger: {event: ticket_closed}
    steps:
      - {after: 0h, channels: [email], template: service, survey: csat}
  care-call:
    class: transactional
    trigger:
      event: survey_response
      where: {score: {lte: 6}, scale: {ne: csat}}
    steps:
      - {after: 0h, channels: [am-group], template: care-call}
  care-call-csat:
    class: transactional
    trigger:
      event: survey_response
      where: {scale: csat, score: {lte: 2}}
    steps:
      - {after: 0h, channels: [am-group], template: care-call}
EOF
	cat >"$T/contacts.csv" <<'EOF'
id,name,email,phone,timezone,locale,spend
s1,李伟,liwei@example.cn,+8613800138001,Asia/Shanghai,zh,5000
s2,Emma Clarke,emma@example.co.uk,+447700900123,Europe/London,en,5000
s3,王芳,wangfang@example.cn,+8613800138003,Asia/Shanghai,zh,10
s4,Tom Baker,tom@example.com,+447700900124,Europe/London,en,10
s5,陈静,chenjing@example.cn,+8613800138005,Asia/Shanghai,zh,10
s6,Ana Ruiz,ana@example.com,+34600000006,Europe/Madrid,en,5000
EOF
	ok_o init
	ok_o contacts import "$T/contacts.csv"
	for c in s1 s2 s3 s4; do
		printf '{"id":"p-%s","contact":"%s","type":"purchase","at":"2026-03-01T09:00:00Z"}\n' $c $c
	done >"$T/ev.jsonl"
	for c in s5 s6; do
		printf '{"id":"t-%s","contact":"%s","type":"ticket_closed","at":"2026-03-01T09:00:00Z"}\n' $c $c
	done >>"$T/ev.jsonl"
	ok_o events import "$T/ev.jsonl"
	ok_o check
	ok_o run --once --now 2026-03-01T09:30:00Z
	[ "$(sv_q "select count(*) from sends where state = 'sent'")" = 6 ] ||
		fail "survey sends: $(sv_q 'select contact_id, campaign, state, reason from sends' | tr '\n' ' ')"
}

# sy_tok CONTACT - the survey token of the contact's send
sy_tok() {
	sv_tok s "$(sv_q "select id from sends where contact_id = '$1' and campaign in ('checkin', 'service')")"
}

# sy_has STRING WHAT - fail unless the last answer's body has STRING
sy_has() {
	grep -qF -- "$1" "$T/resp.body" || fail "$2: the page lacks '$1': $(head -c 600 "$T/resp.body")"
}

# sy_lacks STRING WHAT
sy_lacks() {
	grep -qF -- "$1" "$T/resp.body" && fail "$2: the page has '$1'"
	true
}

c_survey_serve() {
	sy_setup
	sv_start --now 2026-03-01T12:00:00Z
	trap 'kill $WH_PID $SVPIDS 2>/dev/null' EXIT
	form='Content-Type: application/x-www-form-urlencoded'

	# the question on each send's scale, in each contact's language
	sv_want 200 GET "/s/$(sy_tok s1)"
	sy_has '您有多大可能向朋友推荐我们' "s1 (zh, nps)"
	sy_has 'data-scale="nps"' "s1"
	sy_has 'value="0"' "s1"
	sy_has 'value="10"' "s1"
	sv_want 200 GET "/s/$(sy_tok s2)"
	sy_has 'How likely are you to recommend us to a friend?' "s2 (en, nps)"
	sy_has '0 = not at all likely, 10 = extremely likely' "s2"
	sv_want 200 GET "/s/$(sy_tok s5)"
	sy_has '您对我们的服务满意吗' "s5 (zh, csat)"
	sy_has '1 = 非常不满意，5 = 非常满意' "s5"
	sy_has 'data-scale="csat"' "s5"
	for v in 1 2 3 4 5; do sy_has "value=\"$v\"" "s5"; done
	sy_lacks 'value="0"' "s5 (csat)"
	sy_lacks 'value="6"' "s5 (csat)"
	sv_want 200 GET "/s/$(sy_tok s6)"
	sy_has 'How satisfied are you with our service?' "s6 (en, csat)"
	sy_has '1 = very dissatisfied, 5 = very satisfied' "s6"
	sv_is "events after GETs" "$(sv_q "select count(*) from events where type = 'survey_response'")" 0

	# the answers: a form, JSON, and a score off the 1-5 scale refused
	sv_want 200 POST "/s/$(sy_tok s1)" -H "$form" -d 'score=10'
	sy_has '感谢您的反馈' "s1's thanks"
	sv_want 200 POST "/s/$(sy_tok s2)" -H "$form" -d 'score=9&comment=Lovely'
	sv_want 200 POST "/s/$(sy_tok s3)" -H 'Content-Type: application/json' -d '{"score": 3, "comment": "送货太慢了"}'
	sv_want 400 POST "/s/$(sy_tok s5)" -H "$form" -d 'score=6'
	sy_has '请选择 1 到 5 分' "s5's refusal"
	sv_is "s5 after a 6" "$(sv_q "select count(*) from events where type = 'survey_response' and contact_id = 's5'")" 0
	sv_want 200 POST "/s/$(sy_tok s5)" -H "$form" -d 'score=5'
	sv_want 200 POST "/s/$(sy_tok s6)" -H "$form" -d 'score=2&comment=rude'

	# once per send: a second answer is refused and changes nothing
	before=$(sv_q "select group_concat(id || ':' || data, ' ') from (select id, data from events order by id) as q")
	sv_want 409 POST "/s/$(sy_tok s1)" -H "$form" -d 'score=0&comment=changed+my+mind'
	sy_has '您已经回答过这份问卷' "s1's second answer"
	sy_lacks 'name="score"' "s1's second answer"
	sv_want 409 POST "/s/$(sy_tok s2)" -H "$form" -d 'score=42'
	sy_has 'You have already answered this survey' "s2's second answer"
	sv_want 409 POST "/s/$(sy_tok s6)" -H "$form" -d 'score=5'
	sv_is "events after second answers" "$(sv_q "select group_concat(id || ':' || data, ' ') from (select id, data from events order by id) as q")" "$before"
	# and the page says so instead of asking again
	sv_want 200 GET "/s/$(sy_tok s1)"
	sy_has '您已经回答过这份问卷' "s1's page after answering"
	sy_lacks 'name="score"' "s1's page after answering"
	sv_want 200 GET "/s/$(sy_tok s4)"
	sy_has 'name="score"' "s4's page (not answered)"
	sv_is "s1's answer" "$(sv_q "select data from events where type = 'survey_response' and contact_id = 's1'")" '{"comment":"","score":10}'
	sv_is "s3's answer" "$(sv_q "select data from events where type = 'survey_response' and contact_id = 's3'")" '{"comment":"送货太慢了","score":3}'
	sv_is "s6's answer" "$(sv_q "select data from events where type = 'survey_response' and contact_id = 's6'")" '{"comment":"rude","scale":"csat","score":2}'
	sv_is "answers" "$(sv_q "select count(*) from events where type = 'survey_response'")" 5
	sv_stop

	# the low scores call for care: one alert each to the group, no more
	ok_o run --once --now 2026-03-01T13:00:00Z
	sv_is "care calls" "$(sv_q "select group_concat(contact_id || ' ' || campaign || ' ' || state, ', ') from (select * from sends where campaign like 'care-call%' order by contact_id) as q")" \
		's3 care-call sent, s6 care-call-csat sent'
	"$PY" -c '
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
assert len(reqs) == 2, reqs
got = {}
for q in reqs:
    assert q["method"] == "POST" and q["path"] == "/am/hook", q
    b = json.loads(q["body"])
    got[b["campaign"]] = b["text"]
assert set(got) == {"care-call", "care-call-csat"}, got
assert got["care-call"] == "**Care call**: 王芳 (s3, +8613800138003) answered 3: \"送货太慢了\"", got
assert got["care-call-csat"] == "**Care call**: Ana Ruiz (s6, +34600000006) answered 2 (csat): \"rude\"", got
' "$T/http.log" 2>"$T/py.err" || fail "care calls: $(tail -n 1 "$T/py.err" | head -c 600)"
	ok_o run --once --now 2026-03-02T13:00:00Z
	[ "$(wc -l <"$T/http.log")" = 2 ] || fail "a second run called again"

	# the report: per campaign and segment
	ok_o report --format json
	cp "$T/out" "$T/r.json"
	"$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
c = {x["campaign"]: x for x in r["campaigns"]}
def near(a, b):
    return a is not None and abs(a - b) < 1e-4
def check(s, sent, resp, nps, prom, pas, det, csat, mean, ncsat, what):
    assert s["surveys_sent"] == sent and s["responses"] == resp, (what, s)
    assert near(s["response_rate"], resp / sent), (what, s)
    assert (s["promoters"], s["passives"], s["detractors"]) == (prom, pas, det), (what, s)
    assert s["nps_responses"] == prom + pas + det, (what, s)
    assert (s["nps"] is None) if nps is None else near(s["nps"], nps), (what, s["nps"], nps)
    assert (s["csat"] is None) if csat is None else near(s["csat"], csat), (what, s)
    assert (s["csat_mean"] is None) if mean is None else near(s["csat_mean"], mean), (what, s)
    assert s["csat_responses"] == ncsat, (what, s)
segs = lambda s: {x["segment"]: x for x in s["segments"]}
ck = c["checkin"]["survey"]
check(ck, 4, 3, 100 / 3, 2, 0, 1, None, None, 0, "checkin")
assert set(segs(ck)) == {"vip", ""}, ck["segments"]
check(segs(ck)["vip"], 2, 2, 100, 2, 0, 0, None, None, 0, "checkin vip")
check(segs(ck)[""], 2, 1, -100, 0, 0, 1, None, None, 0, "checkin none")
sv = c["service"]["survey"]
check(sv, 2, 2, None, 0, 0, 0, 0.5, 3.5, 2, "service")
check(segs(sv)["vip"], 1, 1, None, 0, 0, 0, 0.0, 2, 1, "service vip")
check(segs(sv)[""], 1, 1, None, 0, 0, 0, 1.0, 5, 1, "service none")
assert c["care-call"]["survey"] is None and c["care-call-csat"]["survey"] is None, c["care-call"]
t = r["surveys"]
check(t, 6, 5, 100 / 3, 2, 0, 1, 0.5, 3.5, 2, "all")
check(segs(t)["vip"], 3, 3, 100, 2, 0, 0, 0.0, 2, 1, "all vip")
check(segs(t)[""], 3, 2, -100, 0, 0, 1, 1.0, 5, 1, "all none")
assert [x["segment"] for x in t["segments"]] == ["vip", ""], t["segments"]
' "$T/r.json" 2>"$T/py.err" || fail "report json: $(tail -n 2 "$T/py.err" | tr '\n' ' ' | head -c 600)"
	ok_o report
	grep -q '^campaign  *segment  *surveys  *responses  *rate  *nps' "$T/out" || fail "the table has no survey block: $(tail -n 12 "$T/out")"
	grep -q '^checkin  *all  *4  *3  *75.0%  *+33 ' "$T/out" || fail "the table's checkin survey: $(grep '^checkin' "$T/out" | tail -n 3)"
	grep -q '^service  *all  *2  *2  *100.0%  *-  .* 50.0%  *3.50$' "$T/out" || fail "the table's service survey: $(grep '^service' "$T/out" | tail -n 3)"
	ok_o report --format html
	grep -qF '<table class="survey">' "$T/out" || fail "the page has no survey table"
	grep -qF '<td data-nps="33.3333">+33</td>' "$T/out" || fail "the page lacks checkin's NPS"
	grep -qF 'Surveys by segment, every campaign' "$T/out" || fail "the page lacks the survey summary"
}

ALL="$ALL c_survey_serve"
