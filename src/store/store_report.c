/* store_report.c - the queries behind `report`'s funnel (store_report.h).
 *
 * Plain rows in a stable order, no aggregation the config would have to
 * steer: the command groups sends by segment (config order), knows each
 * campaign's goal and each channel's kind. The SQL is the dialect SQLite
 * and PostgreSQL share; every value is bound, nothing is pasted into SQL.
 * Conversions are one EXISTS per enrollment on the events(contact_id,
 * type, at) index.
 */
#include "store_report.h"

#include "store_internal.h"

/* the sends a filter selects: ?1 ?2 campaign, ?3 since */
#define SENDS_WHERE "(CAST(? AS TEXT) IS NULL OR s.campaign = ?) AND s.created_at >= ?"

static void bind_filter(struct store *s, struct store_stmt *st, int first,
			const struct report_filter *f)
{
	btxt(s, st, first, f->campaign);
	btxt(s, st, first + 1, f->campaign);
	bint(s, st, first + 2, f->since);
}

int store_report_sends(struct store *s, const struct report_filter *f,
		       void (*fn)(void *ud, const struct report_send *r), void *ud, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT s.id, s.enrollment_id, s.campaign, s.step, COALESCE(s.channel, ''), "
		"COALESCE(s.template, ''), COALESCE(en.variant, ''), s.contact_id, s.state, s.sent_at "
		"FROM sends s LEFT JOIN enrollments en ON en.id = s.enrollment_id "
		"WHERE " SENDS_WHERE " ORDER BY s.id", e);
	if (!st)
		return -1;
	bind_filter(s, st, 1, f);
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		struct report_send r = {
			.id = cint(s, st, 0),
			.enrollment_id = cint(s, st, 1),
			.campaign = ctxt(s, st, 2),
			.step = (int)cint(s, st, 3),
			.channel = ctxt(s, st, 4),
			.template = ctxt(s, st, 5),
			.variant = ctxt(s, st, 6),
			.contact = ctxt(s, st, 7),
			.state = ctxt(s, st, 8),
			.sent_at = cnull(s, st, 9) ? 0 : cint(s, st, 9),
		};
		fn(ud, &r);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_report_events(struct store *s, const struct report_filter *f,
			void (*fn)(void *ud, const struct report_event *r), void *ud,
			struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT ev.send_id, ev.type, ev.at, ev.data FROM events ev "
		"JOIN sends s ON s.id = ev.send_id "
		"WHERE ev.send_id IS NOT NULL AND ev.type IN ('delivered', 'bounced', 'opened', "
		"'clicked', 'replied', 'unsubscribed', 'survey_response') AND " SENDS_WHERE " "
		"ORDER BY ev.send_id, ev.at, ev.id", e);
	if (!st)
		return -1;
	bind_filter(s, st, 1, f);
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		struct report_event r = {cint(s, st, 0), ctxt(s, st, 1), cint(s, st, 2),
					 ctxt(s, st, 3)};
		fn(ud, &r);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_report_segments(struct store *s, const struct report_filter *f,
			  void (*fn)(void *ud, const char *contact, const char *segment), void *ud,
			  struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT cs.contact_id, cs.segment FROM contact_segments cs "
		"WHERE cs.contact_id IN (SELECT s.contact_id FROM sends s WHERE " SENDS_WHERE ") "
		"ORDER BY cs.contact_id, cs.segment", e);
	if (!st)
		return -1;
	bind_filter(s, st, 1, f);
	int rc;
	while ((rc = step(s, st, e)) == 1)
		fn(ud, ctxt(s, st, 0), ctxt(s, st, 1));
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_report_campaigns(struct store *s, const struct report_filter *f,
			   void (*fn)(void *ud, const char *campaign), void *ud, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT s.campaign FROM sends s WHERE " SENDS_WHERE " UNION "
		"SELECT en.campaign FROM enrollments en WHERE (CAST(? AS TEXT) IS NULL OR en.campaign = ?) "
		"AND en.created_at >= ? ORDER BY 1", e);
	if (!st)
		return -1;
	bind_filter(s, st, 1, f);
	bind_filter(s, st, 4, f);
	int rc;
	while ((rc = step(s, st, e)) == 1)
		fn(ud, ctxt(s, st, 0));
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_report_enrollments(struct store *s, const struct report_filter *f, const char *goal,
			     int64_t within,
			     void (*fn)(void *ud, const struct report_enrollment *r), void *ud,
			     struct err *e)
{
	if (!f->campaign)
		return err_set(e, "report: enrollments need a campaign");
	struct store_stmt *st = prep(s,
		"SELECT en.id, en.holdout, COALESCE(en.variant, ''), "
		"CASE WHEN EXISTS (SELECT 1 FROM events g WHERE g.contact_id = en.contact_id "
		"AND g.type = ? AND g.at > en.trigger_at AND g.at <= en.trigger_at + ?) "
		"THEN 1 ELSE 0 END "
		"FROM enrollments en WHERE en.campaign = ? AND en.created_at >= ? ORDER BY en.id", e);
	if (!st)
		return -1;
	btxt(s, st, 1, goal); /* NULL matches no event */
	bint(s, st, 2, within);
	btxt(s, st, 3, f->campaign);
	bint(s, st, 4, f->since);
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		struct report_enrollment r = {cint(s, st, 0), cint(s, st, 1) != 0, ctxt(s, st, 2),
					      cint(s, st, 3) != 0};
		fn(ud, &r);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}
