/* store_report.h - the queries behind `outreach report`'s funnel.
 *
 * The store hands out plain rows (one per send, per answering event, per
 * segment membership, per enrollment) in a stable order; the command
 * groups and counts them, since the grouping needs the config (segment
 * order, goals, channel kinds). Every function returns 0 on success and -1
 * with e set on failure. Rows are passed to fn borrowed: their strings live
 * until fn returns.
 */
#ifndef OUTREACH_STORE_REPORT_H
#define OUTREACH_STORE_REPORT_H
#include <stdint.h>

#include "store.h"

/* Which sends and enrollments a report covers. */
struct report_filter {
	const char *campaign; /* NULL: every campaign */
	int64_t since;        /* created at or after (INT64_MIN: all) */
};

/* One send, as the report sees it. */
struct report_send {
	int64_t id, enrollment_id;
	const char *campaign;
	int step;             /* 0-based */
	const char *channel;  /* channel kind ("email", "sms", "chat"); "" when never picked */
	const char *template; /* "" when none was picked */
	const char *variant;  /* the enrollment's variant; "" when the campaign has none */
	const char *contact;
	const char *state;
	int64_t sent_at;      /* when it went out; 0 when it never did */
};
/* store_report_sends - every send f selects, by id */
int store_report_sends(struct store *s, const struct report_filter *f,
		       void (*fn)(void *ud, const struct report_send *r), void *ud, struct err *e);

/* One event that answers a send (events.send_id). */
struct report_event {
	int64_t send_id;
	const char *type; /* delivered, bounced, opened, clicked, replied, unsubscribed,
			   * survey_response */
	int64_t at;
	const char *data; /* the event's data, JSON text */
};
/* store_report_events - the events of the types above answering the sends
 * f selects, by send id, then time */
int store_report_events(struct store *s, const struct report_filter *f,
			void (*fn)(void *ud, const struct report_event *r), void *ud,
			struct err *e);

/* store_report_segments - fn(contact, segment) for every current segment
 * membership of a contact who has a send f selects, by contact */
int store_report_segments(struct store *s, const struct report_filter *f,
			  void (*fn)(void *ud, const char *contact, const char *segment), void *ud,
			  struct err *e);

/* store_report_campaigns - fn(name) for every campaign with a send or an
 * enrollment f selects, by name */
int store_report_campaigns(struct store *s, const struct report_filter *f,
			   void (*fn)(void *ud, const char *campaign), void *ud, struct err *e);

/* One enrollment and whether it converted. */
struct report_enrollment {
	int64_t id;
	int holdout;         /* 1: held out, sent nothing */
	const char *variant; /* "" when none */
	int converted;       /* the contact had the goal event in the window */
};
/* store_report_enrollments - the enrollments of f->campaign (required)
 * created at or after f->since, by id. converted is 1 when the contact has
 * an event of type goal with trigger_at < at <= trigger_at + within (the
 * trigger itself never counts); always 0 when goal is NULL. */
int store_report_enrollments(struct store *s, const struct report_filter *f, const char *goal,
			     int64_t within,
			     void (*fn)(void *ud, const struct report_enrollment *r), void *ud,
			     struct err *e);

#endif
