# tests/e2e/cases_acks.sh - a message a server accepted is never sent
# again after its worker dies before recording it (store_ack.c).
#
# Sourced by tests/e2e/run.sh. The state a crash leaves is made by hand in
# the store: a send `sending` under a worker that is gone, with the ack row
# its worker committed when the server answered. The next `run` must
# finish it as `sent` from the ack (with the ack's message id and an "ok"
# attempt), send nothing for it, and release the claim of the send that
# has no ack, which does go out. Both ways a claim is released: a dead
# worker on this host (its pid is gone), and an expired lease of a worker
# elsewhere. (tests/crash/ kills real workers; this checks the recovery
# itself, exactly.)

# ack_state OWNER LEASE_UNTIL - c1's and c2's sends made `sending` under
# OWNER until LEASE_UNTIL, c1's with an ack; echoes nothing
ack_state() {
	s1=$(sqlite3 "$T/o.db" "select id from sends where contact_id = 'c1'")
	s2=$(sqlite3 "$T/o.db" "select id from sends where contact_id = 'c2'")
	[ -n "$s1" ] && [ -n "$s2" ] || fail "no sends scheduled for c1 and c2"
	sqlite3 "$T/o.db" "update sends set state = 'sending', owner = '$1', lease_until = $2 where id in ($s1, $s2)"
	sqlite3 "$T/o.db" "insert into acks (send_id, owner, at, channel, transport, address, message_id, provider_id, segments, reason, code, attempt_reason) values ($s1, '$1', $(epoch 2026-03-01T10:00:05Z), 'sms', 'sms', '+8613800138001', NULL, '$s1.json', 1, '+8613800138001 via sms: written', 'ok', 'written')"
}

# ack_check - c1 finished from its ack and not sent; c2 released and sent
ack_check() {
	st=$(sqlite3 "$T/o.db" "select state || '|' || coalesce(provider_id, '') || '|' || attempts from sends where id = $s1")
	[ "$st" = "sent|$s1.json|1" ] || fail "the acked send is '$st', want sent|$s1.json|1 (from its ack)"
	sqlite3 "$T/o.db" "select reason from send_log where send_id = $s1 and state = 'sent'" | grep -q "recorded from its acknowledgment" ||
		fail "no history line says it was recorded from its ack: $(sqlite3 "$T/o.db" "select state, reason from send_log where send_id = $s1")"
	[ "$(sqlite3 "$T/o.db" "select count(*) from attempts where send_id = $s1 and status = 'ok'")" = 1 ] ||
		fail "the acked send has no ok attempt"
	[ ! -e "$T/outbox/$s1.json" ] || fail "the acked send went out again"
	[ "$(sqlite3 "$T/o.db" "select state from sends where id = $s2")" = sent ] ||
		fail "the send without an ack was not released and sent: $(sqlite3 "$T/o.db" "select state, reason from sends where id = $s2")"
	[ -e "$T/outbox/$s2.eml" ] || fail "the released send is not in the outbox"
	[ "$(sqlite3 "$T/o.db" "select count(*) from acks")" = 0 ] || fail "acks left behind"
}

c_acks_dead_worker() {
	setup_flow
	ok_o run --once --now 2026-03-01T09:00:00Z # schedules, nothing due yet
	# a worker on this host whose pid is gone (a shell that has exited)
	sh -c 'exit 0' &
	dead=$!
	wait $dead
	host=$(hostname)
	sqlite3 "$T/o.db" "insert into workers (id, host, pid, started_at, seen_at) values ('$host:$dead', '$host', $dead, 0, 0)"
	ack_state "$host:$dead" "$(epoch 2026-03-01T12:00:00Z)"
	ok_o run --once --now 2026-03-01T10:30:00Z
	ack_check
}

c_acks_lease() {
	setup_flow
	ok_o run --once --now 2026-03-01T09:00:00Z
	ack_state "elsewhere:4242" "$(epoch 2026-03-01T10:00:00Z)" # expired by 10:30
	ok_o run --once --now 2026-03-01T10:30:00Z
	ack_check
}

ALL="$ALL c_acks_dead_worker c_acks_lease"
