/* store_feedback.h - the store queries behind `outreach serve`: finding
 * the send a tracked link, a reply or a receipt answers; the links of a
 * message; unmatched and matched inbound messages; receipts changing a
 * send's state; the counts /metrics exports.
 *
 * Same conventions as store.h: 0 on success, -1 with e set on failure,
 * 1 for "not found" where a function says so; strings handed in are
 * borrowed, strings handed out are owned by the caller.
 */
#ifndef OUTREACH_STORE_FEEDBACK_H
#define OUTREACH_STORE_FEEDBACK_H
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

/* store_link_get - the URL recorded at render time for link idx of
 * send_id's message: 0 found (*url owned), 1 no such link */
int store_link_get(struct store *s, int64_t send_id, int idx, char **url, struct err *e);

/* store_send_has_event - whether an event of type names send_id
 * (events.send_id): 0 yes, 1 no */
int store_send_has_event(struct store *s, int64_t send_id, const char *type, struct err *e);

/* store_send_by_provider - the send whose provider id (sends.provider_id,
 * as the transport reported it) is provider_id on that transport:
 * 0 found (*id), 1 none */
int store_send_by_provider(struct store *s, const char *transport, const char *provider_id,
			   int64_t *id, struct err *e);
/* store_send_by_message_id - the send whose Message-ID (with its angle
 * brackets, as stored) is message_id: 0 found (*id), 1 none */
int store_send_by_message_id(struct store *s, const char *message_id, int64_t *id, struct err *e);
/* store_send_latest_to - the latest send that went out (sent_at set) on
 * channel to address (as sends.address keeps it: see contact_address_key):
 * 0 found (*id, *contact owned), 1 none */
int store_send_latest_to(struct store *s, const char *channel, const char *address, int64_t *id,
			 char **contact, struct err *e);
/* store_send_latest_of - the contact's latest send that went out on
 * channel: 0 found (*id), 1 none */
int store_send_latest_of(struct store *s, const char *contact, const char *channel, int64_t *id,
			 struct err *e);
/* store_contact_by_phone - the contact with this phone (exactly, E.164);
 * the smallest id when several share it: 0 found (*id owned), 1 none */
int store_contact_by_phone(struct store *s, const char *phone, char **id, struct err *e);
/* store_contact_by_email - the contact with this email, compared as given
 * and in lower case (an index lookup, not a scan): 0 found (*id owned),
 * 1 none */
int store_contact_by_email(struct store *s, const char *email, char **id, struct err *e);

/* One message that came in (borrowed). kind: "reply", "stop" or
 * "unmatched"; contact NULL and send_id 0 when unknown. */
struct inbound {
	const char *channel; /* "sms", "email" */
	const char *sender;  /* as received (a phone, an address) */
	const char *text;
	int64_t at;
	const char *contact;
	int64_t send_id;
	const char *kind;
};
/* store_inbound_add - record it; *id the new row's id (id may be NULL) */
int store_inbound_add(struct store *s, const struct inbound *in, int64_t *id, struct err *e);
/* store_inbound_of - the contact's inbound messages, oldest first, text
 * opened; sender as kept (a hash in a sealed store) */
int store_inbound_of(struct store *s, const char *contact,
		     void (*fn)(void *ud, const struct inbound *in), void *ud, struct err *e);

/* store_send_receipt - a delivery receipt moves a send that went out to
 * "delivered" (from sent) or "bounced" (from sent or delivered), with a
 * send_log row at `at` (when the receipt or report says it happened)
 * carrying reason; updated_at is now. 0 changed, 1 the send is not in a state
 * the receipt applies to (already there, or never sent): nothing changed.
 * Call inside a write transaction or alone. */
int store_send_receipt(struct store *s, int64_t id, const char *state, const char *reason,
		       int64_t at, int64_t now, struct err *e);

/* ---- counts for /metrics ---- */

/* store_count_sends - fn(state, transport or "", n) per group */
int store_count_sends(struct store *s,
		      void (*fn)(void *ud, const char *a, const char *b, int64_t n), void *ud,
		      struct err *e);
/* store_count_attempts - fn(status, transport, n) per group */
int store_count_attempts(struct store *s,
			 void (*fn)(void *ud, const char *a, const char *b, int64_t n), void *ud,
			 struct err *e);
/* store_count_events - fn(type, NULL, n) per type */
int store_count_events(struct store *s,
		       void (*fn)(void *ud, const char *a, const char *b, int64_t n), void *ud,
		       struct err *e);
/* store_queue_depth - sends scheduled or deferred and due at or before now */
int store_queue_depth(struct store *s, int64_t now, int64_t *n, struct err *e);

/* The upper bounds (seconds) of the send lag histogram's buckets. */
#define STORE_LAG_NBUCKETS 10
extern const int64_t store_lag_bounds[STORE_LAG_NBUCKETS];
/* store_send_lag - for every send that went out, sent_at - due_at (its
 * last due time: the wait in the queue plus the delivery): counts[i] how
 * many are <= store_lag_bounds[i] (not cumulative), counts[NBUCKETS] the
 * rest; *sum of all lags, *total how many */
int store_send_lag(struct store *s, int64_t counts[STORE_LAG_NBUCKETS + 1], int64_t *sum,
		   int64_t *total, struct err *e);

#endif
