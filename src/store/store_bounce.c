/* store_bounce.c - bounces and complaints in the store (store_bounce.h).
 *
 * Finding a send tries the strongest key first: the send id of a verified
 * bounce token, then the Message-ID the send went out with (indexed), then
 * the latest send to the address (index on sends(address, sent_at)).
 * Recording is one event per (report, send), deduplicated by the event's
 * key "dsn:REPORT:SEND", so a file imported twice records nothing new; the
 * state change and the suppression happen only with a new event, and the
 * suppression keeps an address a person took off the list by hand off it.
 * Diagnostics are the remote server's words (one line, cut by dsn.c): they
 * go into the event, the history and the suppression reason, never a URL
 * of ours.
 */
#include "store_bounce.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_feedback.h"
#include "store_internal.h"

int store_bounce_find(struct store *s, int64_t verp_send, const char *message_id,
		      const char *address, int64_t *send_id, enum bounce_by *by, struct err *e)
{
	struct store_stmt *st;
	int64_t id = 0;
	*send_id = 0;
	if (verp_send > 0) {
		if (!(st = prep(s, "SELECT id FROM sends WHERE id = ?", e)))
			return -1;
		bint(s, st, 1, verp_send);
		if (one_id(s, st, &id, e) < 0)
			return -1;
		*by = BOUNCE_BY_TOKEN;
	}
	if (!id && message_id && *message_id) {
		if (!(st = prep(s, "SELECT id FROM sends WHERE message_id = ? ORDER BY id DESC LIMIT 1",
				e)))
			return -1;
		btxt(s, st, 1, message_id);
		if (one_id(s, st, &id, e) < 0)
			return -1;
		*by = BOUNCE_BY_MESSAGE_ID;
	}
	if (!id && address && *address) {
		if (!(st = prep(s, "SELECT id FROM sends WHERE address = ? AND sent_at IS NOT NULL "
				   "ORDER BY sent_at DESC, id DESC LIMIT 1",
				e)))
			return -1;
		char f[PII_HASH_LEN + 1];
		btxt(s, st, 1, addr_form(s, address, f));
		if (one_id(s, st, &id, e) < 0)
			return -1;
		*by = BOUNCE_BY_ADDRESS;
	}
	*send_id = id;
	return id ? 0 : 1;
}

int store_bounce_record(struct store *s, const struct bounce *b, int64_t now, int *recorded,
			struct err *e)
{
	struct send_row row;
	*recorded = 0;
	int rc = store_send_get(s, b->send_id, &row, e);
	if (rc != 0)
		return rc < 0 ? -1 : err_set(e, "send %lld not found", (long long)b->send_id);
	int64_t at = b->at;
	if (at > now)
		at = now;
	if (row.sent_at && at < row.sent_at)
		at = row.sent_at;
	const char *status = b->status ? b->status : "";
	const char *diag = b->diagnostic ? b->diagnostic : "";
	struct event ev = {0};
	ev.contact_id = row.contact;
	ev.at = at;
	ev.send_id = b->send_id;
	ev.ext_id = xasprintf("dsn:%s:%lld", b->report_id, (long long)b->send_id);
	char *why = NULL, *supp = NULL;
	if (b->complaint) {
		ev.type = "complaint";
		ev.data = json_pack("{s:s}", "feedback_type", b->feedback_type ? b->feedback_type : "abuse");
		supp = xasprintf("complaint on send %lld (%s)", (long long)b->send_id,
				 b->feedback_type ? b->feedback_type : "abuse");
	} else {
		ev.type = "bounced";
		ev.data = json_pack("{s:b, s:s, s:s}", "hard", b->hard, "status", status,
				    "diagnostic", diag);
		if (b->delayed)
			json_object_set_new(ev.data, "delayed", json_true());
		why = xasprintf("%s bounce%s%s%s%s", b->hard ? "hard" : "soft", *status ? ": " : "",
				status, *diag ? (*status ? " " : ": ") : "", diag);
		if (b->hard)
			supp = xasprintf("hard bounce on send %lld: %s%s%s", (long long)b->send_id,
					 status, *status && *diag ? " " : "", diag);
	}
	if (!ev.data) /* text that is not UTF-8 (dsn.c never hands such) */
		ev.data = json_object();
	int inserted = 0;
	rc = store_event_add(s, &ev, now, NULL, &inserted, e);
	if (rc == 0 && inserted) {
		*recorded = 1;
		if (why && !b->delayed)
			/* 1 (not sent, or bounced already) changes nothing: fine */
			if (store_send_receipt(s, b->send_id, "bounced", why, at, now, e) < 0)
				rc = -1;
		if (rc == 0 && supp && row.address && *row.address)
			rc = store_suppress(s, row.address, row.channel ? row.channel : "email", supp,
					    now, e);
	}
	if (rc < 0)
		err_prefix(e, "send %lld", (long long)b->send_id);
	json_decref(ev.data);
	free(ev.ext_id);
	free(why);
	free(supp);
	send_row_release(&row);
	return rc < 0 ? -1 : 0;
}
