/* store_ack.c - what a server accepted, kept at once until its record.
 *
 * A worker hands a message to a server, the server accepts it, and the
 * worker records the outcome. A crash between the two used to release the
 * claim and send the message again. The worker therefore writes one small
 * row per accepted message (store_ack_add) and commits it the moment the
 * server answers, before the connection goes on; the full record (the
 * send's row and its indexes, the attempt, the history) follows later,
 * for many sends in one transaction, and drops the row. Whoever releases
 * a dead worker's claims, or takes over an expired lease, first finishes
 * the acknowledged ones as sent (store_acks_recover). So only a message
 * on the wire at the crash, one per connection, can go out twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int store_ack_add(struct store *s, int64_t id, const char *owner, const struct send_update *u,
		  int64_t now, struct err *e)
{
	struct store_stmt *st = prep(s,
		"INSERT INTO acks (send_id, owner, at, channel, transport, address, message_id, "
		"provider_id, segments, reason, code, attempt_reason) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (send_id) DO NOTHING", e);
	if (!st)
		return -1;
	char af[PII_HASH_LEN + 1];
	bint(s, st, 1, id);
	btxt(s, st, 2, owner);
	bint(s, st, 3, now);
	btxt(s, st, 4, u->channel);
	btxt(s, st, 5, u->transport);
	btxt(s, st, 6, addr_form(s, u->address, af));
	btxt(s, st, 7, u->message_id);
	btxt(s, st, 8, u->provider_id);
	bint(s, st, 9, u->segments);
	btxt(s, st, 10, u->reason);
	btxt(s, st, 11, u->attempt_code);
	btxt(s, st, 12, u->attempt_reason);
	return run(s, st, e);
}

struct ack_row {
	int64_t id, at, segments;
	char *owner, *v[8]; /* channel transport address message_id provider_id reason code areason */
};

int store_acks_recover(struct store *s, const char *owner, int64_t now, int *n, struct err *e)
{
	*n = 0;
	struct store_stmt *st = prep(s,
		"SELECT a.send_id, a.owner, a.at, a.channel, a.transport, a.address, a.message_id, "
		"a.provider_id, a.segments, a.reason, a.code, a.attempt_reason FROM acks a "
		"JOIN sends s ON s.id = a.send_id WHERE s.state = 'sending' AND "
		"(s.owner = ? OR (CAST(? AS TEXT) IS NULL AND s.lease_until <= ?)) ORDER BY a.send_id", e);
	if (!st)
		return -1;
	btxt(s, st, 1, owner);
	btxt(s, st, 2, owner);
	bint(s, st, 3, now);
	struct ack_row *r = NULL;
	size_t nr = 0;
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		r = xrealloc(r, (nr + 1) * sizeof(*r));
		r[nr].id = cint(s, st, 0);
		r[nr].owner = cdup(s, st, 1);
		r[nr].at = cint(s, st, 2);
		for (int k = 0; k < 5; k++)
			r[nr].v[k] = cnull(s, st, 3 + k) ? NULL : cdup(s, st, 3 + k);
		r[nr].segments = cnull(s, st, 8) ? 0 : cint(s, st, 8);
		for (int k = 5; k < 8; k++)
			r[nr].v[k] = cnull(s, st, 4 + k) ? NULL : cdup(s, st, 4 + k);
		nr++;
	}
	done(s, st);
	rc = rc < 0 ? -1 : 0;
	for (size_t i = 0; i < nr && rc == 0; i++) {
		char why[1200];
		snprintf(why, sizeof(why), "%s (the server accepted it; worker %s stopped before "
			 "recording it, so it was recorded from its acknowledgment)",
			 r[i].v[5] ? r[i].v[5] : "sent", r[i].owner);
		/* the address is kept in its stored form already */
		struct send_update u = {.state = "sent", .reason = why, .channel = r[i].v[0],
					.transport = r[i].v[1], .message_id = r[i].v[3],
					.provider_id = r[i].v[4], .segments = (int)r[i].segments,
					.attempt_status = "ok", .attempt_code = r[i].v[6],
					.attempt_reason = r[i].v[7]};
		rc = store_send_update(s, r[i].id, NULL, &u, now, e) < 0 ? -1 : 0;
		if (rc == 0 && r[i].v[2]) {
			/* the stored form as it is: a hash stays a hash */
			struct store_stmt *up = prep(s, "UPDATE sends SET address = ?, sent_at = ? "
							"WHERE id = ?", e);
			if (!up)
				rc = -1;
			else {
				btxt(s, up, 1, r[i].v[2]);
				bint(s, up, 2, r[i].at);
				bint(s, up, 3, r[i].id);
				rc = run(s, up, e);
			}
		}
		if (rc == 0)
			(*n)++;
	}
	for (size_t i = 0; i < nr; i++) {
		free(r[i].owner);
		for (int k = 0; k < 8; k++)
			free(r[i].v[k]);
	}
	free(r);
	return rc;
}
