/* store_bounce.h - the store's side of bounces and complaints: find the
 * send a report is about, and record what it says. Same conventions as
 * store.h (0 ok, -1 with e set; strings borrowed). */
#ifndef OUTREACH_STORE_BOUNCE_H
#define OUTREACH_STORE_BOUNCE_H
#include <stdint.h>

#include "err.h"
#include "store.h"

/* How a send was found (for the command's output). */
enum bounce_by { BOUNCE_BY_TOKEN = 1, BOUNCE_BY_MESSAGE_ID, BOUNCE_BY_ADDRESS };

/* store_bounce_find - the send a report is about: send id verp_send when
 * > 0 (from a verified bounce token) and such a send exists, else the send
 * whose Message-ID is message_id, else the latest sent send (sent_at) to
 * address as the store keeps it (contact_address_key). 0 found (*send_id,
 * *by), 1 none. Any argument may be 0 or NULL. */
int store_bounce_find(struct store *s, int64_t verp_send, const char *message_id,
		      const char *address, int64_t *send_id, enum bounce_by *by, struct err *e);

struct bounce {
	int64_t send_id;
	int complaint;          /* 1: a complaint (ARF); else a bounce */
	int hard;               /* a bounce: 1 hard (5.x.x), 0 soft */
	int delayed;            /* a bounce: the server still tries (Action: delayed) */
	const char *status;     /* "5.1.1" or "" */
	const char *diagnostic; /* one line, MAY be NULL */
	const char *feedback_type; /* a complaint's, MAY be NULL */
	const char *report_id;  /* identifies the report: one report is recorded once */
	int64_t at;             /* when (clamped to the send's sent_at .. now) */
};

/* store_bounce_record - in the caller's transaction, for the send b is
 * about: a `bounced` event {"hard", "status", "diagnostic"} or a
 * `complaint` event {"feedback_type"} for its contact, with send_id; a
 * bounce that is not delayed moves a sent or delivered send to `bounced`
 * (with its history row); a hard bounce or a complaint puts the send's
 * address on the suppression list with the reason. *recorded 0 when this
 * report was already recorded for this send (nothing is changed then). */
int store_bounce_record(struct store *s, const struct bounce *b, int64_t now, int *recorded,
			struct err *e);

#endif
