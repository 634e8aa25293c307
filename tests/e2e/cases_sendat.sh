# cases_sendat.sh - send-time choice: `send_at: best` puts each contact's
# send in the local hour they opened and clicked in before (a person's
# opens only), `send_hour` for contacts without history, `send_at: "HH:MM"`
# at a fixed local time, quiet hours still deferring a best hour at night,
# and check's errors. Sourced by run.sh.

sa_sq() { sqlite3 "$T/o.db" "$1"; }

# sa_cfg POLICIES CAMPAIGNS - a config with an outbox email transport
sa_cfg() {
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
campaigns:
$2
EOF
}

# sa_opens CONTACT TYPE DATA TIME... - one event of TYPE per TIME
sa_opens() {
	c=$1
	ty=$2
	data=$3
	shift 3
	for t in "$@"; do
		ok_o event add --contact "$c" --type "$ty" --at "$t" --data "$data"
	done
}

# sa_due CONTACT - due_at of the contact's one send, RFC 3339 UTC
sa_due() {
	s=$(sa_sq "select due_at from sends where contact_id = '$1'")
	[ -n "$s" ] || fail "no send for $1"
	date -u -d "@$s" +%Y-%m-%dT%H:%M:%SZ
}

# sa_sent - the contacts whose send went out, sorted, space separated
sa_sent() {
	sa_sq "select contact_id from sends where state = 'sent' order by contact_id" | tr '\n' ' '
}

# 1. opens clustered at 20:00 (Shanghai) and 08:00 (New York): after 1d,
# each send is due in its contact's hour; a contact without history at
# send_hour; machine opens do not count; run --once sends each at its time
c_sendat_best() {
	sa_cfg '  quiet_hours: "23:00-06:00"' '  care:
    class: marketing
    trigger: {event: purchase}
    send_hour: "11:00"
    steps:
      - {after: 1d, channels: [email], template: hello, send_at: best}'
	cat >"$T/people.csv" <<'EOF'
id,name,email,timezone
night,Night Owl,night@example.com,Asia/Shanghai
early,Early Bird,early@example.com,America/New_York
fresh,New Comer,fresh@example.com,
EOF
	ok_o init
	ok_o contacts import "$T/people.csv"
	# night: opens and a click at 20:xx Shanghai (12:xxZ), one at 09:00
	sa_opens night opened '{}' 2026-02-10T12:05:00Z 2026-02-14T12:40:00Z 2026-02-25T01:00:00Z
	sa_opens night clicked '{}' 2026-02-20T12:30:00Z
	# early: 08:xx in New York, in EDT (2025-10) and EST (2026-02)
	sa_opens early opened '{}' 2025-10-15T12:10:00Z 2026-02-11T13:20:00Z 2026-02-18T13:45:00Z
	# early: a privacy proxy fetching at 02:00 New York, more often: ignored
	sa_opens early opened '{"machine": true}' 2026-02-11T07:00:00Z 2026-02-12T07:00:00Z \
		2026-02-13T07:00:00Z 2026-02-14T07:00:00Z
	# fresh: one open only, at 15:00 Shanghai: too little to go by
	sa_opens fresh opened '{}' 2026-02-20T07:00:00Z
	for c in night early fresh; do
		ok_o event add --contact $c --type purchase --at 2026-03-01T10:00:00Z --data '{"order_id": "A-1"}'
	done
	# 10:00Z: 18:00 in Shanghai, 05:00 in New York; after 1d is 2026-03-02T10:00Z
	ok_o run --once --now 2026-03-01T10:00:00Z
	[ "$(nout)" = 0 ] || fail "sent $(nout) before anything was due"
	[ "$(sa_due night)" = 2026-03-02T12:00:00Z ] || fail "night due $(sa_due night), want 20:00 Shanghai"
	[ "$(sa_due early)" = 2026-03-02T13:00:00Z ] || fail "early due $(sa_due early), want 08:00 New York"
	[ "$(sa_due fresh)" = 2026-03-03T03:00:00Z ] || fail "fresh due $(sa_due fresh), want send_hour 11:00 Shanghai"
	# nothing at the plain trigger + after
	ok_o run --once --now 2026-03-02T10:00:00Z
	[ "$(nout)" = 0 ] || fail "sent $(nout) at trigger + after"
	ok_o run --once --now 2026-03-02T11:59:00Z
	[ "$(nout)" = 0 ] || fail "sent $(nout) before 20:00 Shanghai"
	ok_o run --once --now 2026-03-02T12:00:00Z
	[ "$(sa_sent)" = "night " ] || fail "at 20:00 Shanghai sent: '$(sa_sent)'"
	ok_o run --once --now 2026-03-02T13:00:00Z
	[ "$(sa_sent)" = "early night " ] || fail "at 08:00 New York sent: '$(sa_sent)'"
	ok_o run --once --now 2026-03-03T02:59:00Z
	[ "$(nout)" = 2 ] || fail "fresh sent before 11:00: $(nout) messages"
	ok_o run --once --now 2026-03-03T03:00:00Z
	[ "$(sa_sent)" = "early fresh night " ] || fail "at 11:00 Shanghai sent: '$(sa_sent)'"
	[ "$(nout)" = 3 ] || fail "$(nout) messages, want 3"
	grep -l 'To: .*night@example.com' "$T"/outbox/*.eml >/dev/null || fail "no message to night"
}

# 2. a best hour of 22:00 inside quiet hours 21:00-09:00: due at 22:00,
# deferred by the quiet hours to 09:00 and sent then; a fixed send_at
# "HH:MM" step beside it
c_sendat_quiet() {
	sa_cfg '  quiet_hours: "21:00-09:00"' '  care:
    class: marketing
    trigger: {event: purchase}
    steps:
      - {after: 1d, channels: [email], template: hello, send_at: best}
  fixed:
    class: transactional
    trigger: {event: purchase}
    steps:
      - {after: 0h, channels: [email], template: hello, send_at: "19:30"}'
	printf 'id,name,email,timezone\nlate,Late Reader,late@example.com,Asia/Shanghai\n' >"$T/people.csv"
	ok_o init
	ok_o contacts import "$T/people.csv"
	# 22:xx Shanghai is 14:xxZ
	sa_opens late opened '{}' 2026-02-10T14:05:00Z 2026-02-11T14:30:00Z 2026-02-12T14:50:00Z
	ok_o event add --contact late --type purchase --at 2026-03-01T02:00:00Z
	ok_o run --once --now 2026-03-01T02:00:00Z
	d=$(sa_sq "select due_at from sends where campaign = 'care'")
	[ "$d" = "$(epoch 2026-03-02T14:00:00Z)" ] || fail "care due $d, want 22:00 Shanghai on 03-02"
	d=$(sa_sq "select due_at from sends where campaign = 'fixed'")
	[ "$d" = "$(epoch 2026-03-01T11:30:00Z)" ] || fail "fixed due $d, want 19:30 Shanghai on 03-01"
	ok_o run --once --now 2026-03-01T11:30:00Z
	[ "$(sa_sq "select state from sends where campaign = 'fixed'")" = sent ] ||
		fail "fixed not sent at 19:30: $(sa_sq "select state, reason from sends where campaign = 'fixed'")"
	ok_o run --once --now 2026-03-02T14:00:00Z
	r=$(sa_sq "select state || ' ' || reason from sends where campaign = 'care'")
	[ "$r" = "deferred quiet hours (21:00-09:00, policies) in Asia/Shanghai until 2026-03-03T01:00:00Z" ] ||
		fail "at 22:00: $r"
	d=$(sa_sq "select due_at from sends where campaign = 'care'")
	[ "$d" = "$(epoch 2026-03-03T01:00:00Z)" ] || fail "deferred to $d, want 09:00"
	[ "$(nout)" = 1 ] || fail "$(nout) messages at 22:00, want only the fixed one"
	ok_o run --once --now 2026-03-03T01:00:00Z
	[ "$(sa_sq "select state from sends where campaign = 'care'")" = sent ] ||
		fail "not sent at 09:00: $(sa_sq "select state, reason from sends where campaign = 'care'")"
	[ "$(nout)" = 2 ] || fail "$(nout) messages, want 2"
}

# 3. check names each bad send_at and send_hour by line, and run refuses
c_sendat_check() {
	sa_cfg '  quiet_hours: "21:00-09:00"' '  care:
    trigger: {event: purchase}
    send_hour: "9am"
    steps:
      - {after: 1d, channels: [email], template: hello, send_at: sometime}
      - {after: 2d, channels: [email], template: hello, send_at: "24:00"}
      - {after: 3d, channels: [email], template: hello, send_at: best}'
	expect_rc 2 check
	err_has 'o.yaml:18: campaign "care": bad send_hour "9am" (use a local time like "10:00")' "send_hour"
	err_has 'o.yaml:20: campaign "care" step 1: bad send_at "sometime" (use best or a local time like "20:00")' "send_at word"
	err_has 'o.yaml:21: campaign "care" step 2: bad send_at "24:00" (use best or a local time like "20:00")' "send_at 24:00"
	expect_rc 2 init
	expect_rc 2 run --once --now 2026-03-01T00:00:00Z
	sa_cfg '  quiet_hours: "21:00-09:00"' '  care:
    trigger: {event: purchase}
    send_hour: "09:15"
    steps:
      - {after: 1d, channels: [email], template: hello, send_at: best}
      - {after: 2d, channels: [email], template: hello, send_at: "20:00"}'
	ok_o check
}

ALL="$ALL c_sendat_best c_sendat_quiet c_sendat_check"
