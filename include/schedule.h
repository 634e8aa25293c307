/* schedule.h - from events and segment changes to scheduled sends.
 *
 * Idempotent throughout: an enrollment is keyed by (campaign, contact,
 * trigger) and a send by (enrollment, step), so an event imported twice or
 * processed by two workers, or a worker restarted, never schedules twice.
 */
#ifndef OUTREACH_SCHEDULE_H
#define OUTREACH_SCHEDULE_H
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "diag.h"
#include "err.h"
#include "store.h"

struct sched_stats {
	int events;     /* events processed */
	int evaluated;  /* contacts whose segments were evaluated */
	int entered;    /* segment entries */
	int left;       /* segment exits */
	int enrolled;   /* new enrollments (treated and holdout) */
	int holdout;    /* of which in the holdout */
	int scheduled;  /* new sends */
	int cancelled;  /* pending sends cancelled by an `unless` event */
	int limited;    /* enrollments refused by max_per_contact or reentry */
};

/* schedule_events - process up to limit pending events: trigger campaigns,
 * cancel steps whose `unless` event arrived, mark the contact for segment
 * evaluation. *more = 1 when the batch was full. */
int schedule_events(struct store *s, const struct config *cfg, int64_t now, int limit, int *more,
		    struct sched_stats *st, struct err *e);
/* schedule_segments - evaluate contacts due for it at now; entering a
 * segment fires the campaigns it triggers; recurring campaigns enroll once
 * per period, at each contact's own offset within the period */
int schedule_segments(struct store *s, const struct config *cfg, int64_t now, int limit, int *more,
		      struct sched_stats *st, struct err *e);
/* segments_eval - membership of every configured segment for one contact
 * at now (member[i] for cfg->segments[i]) and the earliest time it may
 * change by time alone; does not write */
int segments_eval(struct store *s, const struct config *cfg, const struct contact *c, int64_t now,
		  int *member, int64_t *next, struct err *e);
/* segment_explain - whether cfg->segments[i] holds for the contact at now
 * (*member) and why, one line appended to out (expr_explain); does not
 * write */
int segment_explain(struct store *s, const struct config *cfg, const struct contact *c, size_t i,
		    int64_t now, int *member, struct buf *out, struct err *e);
/* segments_check - check's warnings (diag_warn, "FILE:LINE: segment
 * \"S\": ...") about what the segment expressions read: an attribute no
 * contact has (only when have_contacts: attrs are the names the store's
 * contacts have), an unknown stats.x, an unknown function, and an event
 * type that is not in types (the store's), not one outreach records or
 * gives a meaning, and that no campaign triggers on, aims at or names in
 * unless. Each once per segment. */
void segments_check(const struct config *cfg, char *const *attrs, size_t nattrs, int have_contacts,
		    char *const *types, size_t ntypes, struct diag *d);
/* schedule_variant - the step's template for this contact: its own, or the
 * variant picked by a stable hash of contact and campaign */
const char *schedule_variant(const struct campaign_conf *cc, const struct step_conf *sc,
			     const char *contact);
/* schedule_in_holdout - 1 when the contact is in the campaign's holdout */
int schedule_in_holdout(const struct campaign_conf *cc, const char *contact);

#endif
