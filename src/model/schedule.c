/* schedule.c - campaign triggers, `unless` cancellation and segment entry.
 *
 * Segment membership is evaluated at `now` only for contacts whose
 * seg_eval_at has come: an event or import sets it to now, and each
 * evaluation sets it to the instant the result may next change by time
 * alone (expr_eval's next_change), so time moves contacts into segments
 * without scanning every contact on every pass.
 *
 * segments_check gives `check` its warnings about what the expressions
 * read: attributes no contact has, unknown stats and functions, event
 * types nothing produces.
 */
#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "hash.h"
#include "log.h"
#include "sendtime.h"
#include "store_sendat.h"
#include "stats.h"
#include "timeutil.h"
#include "tz.h"
#include "where.h"
#include "xmalloc.h"

/* An event older than this does not trigger a campaign: importing a year
 * of purchase history must not thank anybody for last year's order. */
#define TRIGGER_MAX_AGE (30 * 86400)

int schedule_in_holdout(const struct campaign_conf *cc, const char *contact)
{
	if (cc->holdout <= 0)
		return 0;
	char *key = xasprintf("holdout\n%s\n%s", cc->name, contact);
	int in = hash_unit(key) < cc->holdout;
	free(key);
	return in;
}

const char *schedule_variant(const struct campaign_conf *cc, const struct step_conf *sc,
			     const char *contact)
{
	if (!sc->nvariants)
		return sc->template;
	char *key = xasprintf("variant\n%s\n%s", cc->name, contact);
	double u = hash_unit(key), acc = 0;
	free(key);
	for (size_t i = 0; i < sc->nvariants; i++) {
		acc += sc->variants[i].share;
		if (u < acc)
			return sc->variants[i].template;
	}
	return sc->variants[sc->nvariants - 1].template;
}

/* step_due - when a step is due: trigger + after, moved by `send_at` to the
 * contact's usual hour (opens and clicks of the last SENDTIME_WINDOW before
 * now) or to a fixed local time, in the contact's zone. Quiet hours and
 * caps still apply when the worker takes it. */
static int step_due(struct store *s, const struct campaign_conf *cc, const struct step_conf *sc,
		    const char *contact, int64_t trigger_at, int64_t now, int64_t *due,
		    struct err *e)
{
	*due = trigger_at + sc->after;
	if (sc->send_at == SEND_AT_AFTER)
		return 0;
	struct contact c;
	memset(&c, 0, sizeof(c));
	int found = store_contact_get(s, contact, &c, e);
	if (found < 0)
		return -1;
	const char *zone = cc->timezone ? cc->timezone : "UTC";
	if (found == 0 && c.timezone && tz_valid(c.timezone))
		zone = c.timezone;
	int64_t base = *due;
	int rc = 0;
	if (sc->send_at == SEND_AT_BEST) {
		int hours[24] = {0};
		int64_t *at;
		size_t n;
		if (store_sendat_times(s, contact, now - SENDTIME_WINDOW, now, &at, &n, e) < 0)
			rc = -1;
		else if (sendtime_count(zone, at, n, hours) < 0 ||
			 sendtime_best(hours, cc->send_hour, zone, base, due) < 0)
			*due = TIME_NEVER;
		free(at);
	} else if (sendtime_at_minute(zone, base, sc->send_minute, due) < 0) {
		*due = TIME_NEVER;
	}
	if (rc == 0 && *due == TIME_NEVER) {
		/* not expected with a valid zone; never hold the send back for it */
		log_warn("campaign %s step %d: no send time in zone %s, due at trigger + after",
			 cc->name, sc->index + 1, zone);
		*due = base;
	}
	if (found == 0)
		contact_release(&c);
	return rc;
}

/* enroll - one contact into one campaign on one trigger, with its steps */
static int enroll(struct store *s, const struct campaign_conf *cc, const char *contact,
		  const char *ref, int64_t trigger_at, int64_t event_id, int64_t now,
		  struct sched_stats *st, struct err *e)
{
	int holdout = schedule_in_holdout(cc, contact), created;
	int64_t eid;
	if (cc->max_per_contact || cc->reentry) {
		int64_t count, last;
		if (store_enrollment_history(s, cc->name, contact, &count, &last, e) < 0)
			return -1;
		if ((cc->max_per_contact && count >= cc->max_per_contact) ||
		    (cc->reentry && last != TIME_NEVER && trigger_at < last + cc->reentry)) {
			st->limited++;
			return 0;
		}
	}
	const char *variant = NULL;
	for (size_t i = 0; i < cc->nsteps && !variant; i++)
		if (cc->steps[i].nvariants)
			variant = schedule_variant(cc, &cc->steps[i], contact);
	if (store_enroll(s, cc->name, contact, ref, trigger_at, event_id, holdout, variant, now, &eid,
			 &created, e) < 0)
		return -1;
	if (!created)
		return 0;
	st->enrolled++;
	if (holdout) {
		st->holdout++;
		return 0;
	}
	for (size_t i = 0; i < cc->nsteps; i++) {
		const struct step_conf *sc = &cc->steps[i];
		int64_t due;
		if (step_due(s, cc, sc, contact, trigger_at, now, &due, e) < 0)
			return -1;
		struct send_new n = {
			.enrollment_id = eid,
			.campaign = cc->name,
			.step = (int)i,
			.contact = contact,
			.priority = cc->cls == CLASS_TRANSACTIONAL ? 0 : 1,
			.due_at = due,
			.expire_at = sc->expire ? due + sc->expire : TIME_NEVER,
			.trigger_at = trigger_at,
			.template = schedule_variant(cc, sc, contact),
		};
		int made;
		if (store_send_schedule(s, &n, now, NULL, &made, e) < 0)
			return -1;
		st->scheduled += made;
	}
	return 0;
}

static int step_unless_has(const struct step_conf *sc, const char *type)
{
	for (size_t i = 0; i < sc->nunless; i++)
		if (strcmp(sc->unless[i], type) == 0)
			return 1;
	return 0;
}

/* cancel_unless - pending steps that this event cancels */
static int cancel_unless(struct store *s, const struct config *cfg, const struct event *ev,
			 int64_t now, struct sched_stats *st, struct err *e)
{
	struct send_row *rows;
	size_t n;
	if (store_sends_pending_of(s, ev->contact_id, &rows, &n, e) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct campaign_conf *cc = config_campaign(cfg, rows[i].campaign);
		if (!cc || rows[i].step >= (int)cc->nsteps)
			continue;
		if (!step_unless_has(&cc->steps[rows[i].step], ev->type) || ev->at <= rows[i].trigger_at)
			continue;
		char at[32], why[160];
		time_format(ev->at, at, sizeof(at));
		snprintf(why, sizeof(why), "%s at %s", ev->type, at);
		struct send_update u = {.state = "cancelled", .reason = why};
		rc = store_send_update(s, rows[i].id, NULL, &u, now, e) < 0 ? -1 : 0;
		if (rc == 0)
			st->cancelled++;
	}
	send_rows_free(rows, n);
	return rc;
}

/* consent - `unsubscribed` / `subscribed` events change subscriptions:
 * data.channel (email, sms, chat; absent: every channel) and data.class
 * (marketing by default, or transactional, or all) */
static int consent(struct store *s, const struct event *ev, int64_t now, struct err *e)
{
	int sub = strcmp(ev->type, "subscribed") == 0;
	if (!sub && strcmp(ev->type, "unsubscribed") != 0)
		return 0;
	const char *ch = json_string_value(json_object_get(ev->data, "channel"));
	const char *cls = json_string_value(json_object_get(ev->data, "class"));
	if (!cls)
		cls = "marketing";
	for (int k = 0; k < CHANNEL_NKINDS; k++) {
		if (ch && strcmp(ch, channel_name(k)) != 0)
			continue;
		if (store_subscription_set(s, ev->contact_id, channel_name(k), cls, sub, "event", now,
					   e) < 0)
			return -1;
	}
	return 0;
}

static int process_event(struct store *s, const struct config *cfg, int64_t id,
			 const struct event *ev, int64_t now, struct sched_stats *st, struct err *e)
{
	/* another worker may have taken it since the pending list was read */
	int mine = store_event_take(s, id, e);
	if (mine <= 0)
		return mine;
	if (consent(s, ev, now, e) < 0)
		return -1;
	for (size_t i = 0; i < cfg->ncampaigns; i++) {
		const struct campaign_conf *cc = &cfg->campaigns[i];
		if (!cc->trigger_event || strcmp(cc->trigger_event, ev->type) != 0)
			continue;
		if (!where_matches(cc->trigger_where, ev->data) || ev->at < now - TRIGGER_MAX_AGE)
			continue;
		char ref[48];
		snprintf(ref, sizeof(ref), "event:%lld", (long long)id);
		if (enroll(s, cc, ev->contact_id, ref, ev->at, id, now, st, e) < 0)
			return -1;
	}
	if (cancel_unless(s, cfg, ev, now, st, e) < 0)
		return -1;
	return store_event_done(s, id, e) < 0 ? -1 : 1;
}

int schedule_events(struct store *s, const struct config *cfg, int64_t now, int limit, int *more,
		    struct sched_stats *st, struct err *e)
{
	struct event_row *rows;
	size_t n;
	*more = 0;
	if (store_events_pending(s, limit, &rows, &n, e) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (store_begin(s, e) < 0) {
			rc = -1;
			break;
		}
		rc = process_event(s, cfg, rows[i].id, &rows[i].ev, now, st, e);
		if (rc >= 0)
			rc = store_commit(s, e) < 0 ? -1 : rc;
		else
			store_rollback(s);
		if (rc > 0)
			st->events++;
		rc = rc < 0 ? -1 : 0;
	}
	*more = rc == 0 && (int)n == limit;
	event_rows_free(rows, n);
	return rc;
}

/* ---- segment evaluation ---- */

struct env_ud {
	struct store *s;
	const struct contact *c;
	json_t *view; /* fields and attributes */
	struct err *e;
};

static json_t *env_attr(void *p, const char *name)
{
	struct env_ud *u = p;
	return json_object_get(u->view, name);
}

static int env_count(void *p, const char *type, int64_t since, int64_t now, int64_t *n,
		     int64_t *oldest)
{
	struct env_ud *u = p;
	return store_event_count(u->s, u->c->id, type, since, now, n, oldest, u->e);
}

static int env_sum(void *p, const char *type, const char *field, int64_t since, int64_t now,
		   double *total, int64_t *oldest)
{
	struct env_ud *u = p;
	return store_event_sum(u->s, u->c->id, type, field, since, now, total, oldest, u->e);
}

static int env_last(void *p, const char *type, int64_t now, int64_t *at)
{
	struct env_ud *u = p;
	int rc = store_event_last(u->s, u->c->id, type, now, at, u->e);
	return rc;
}

static json_t *contact_view(const struct contact *c)
{
	json_t *v = c->attrs ? json_deep_copy(c->attrs) : json_object();
	static const char *const fields[] = {"id", "name", "email", "phone", "timezone", "locale"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *f = contact_field(c, fields[i]);
		if (f)
			json_object_set_new(v, fields[i], json_string(f));
	}
	return v;
}

int segments_eval(struct store *s, const struct config *cfg, const struct contact *c, int64_t now,
		  int *member, int64_t *next, struct err *e)
{
	struct env_ud u = {s, c, contact_view(c), e};
	struct expr_env env = {&u, env_attr, env_count, env_sum, env_last, &cfg->stats};
	struct stats_memo m;
	int rc = 0;
	*next = TIME_NEVER;
	stats_memo_init(&m, &env); /* segments share their windows */
	for (size_t i = 0; i < cfg->nsegments && rc == 0; i++) {
		int64_t nc = TIME_NEVER;
		member[i] = 0;
		if (!cfg->segments[i].expr)
			continue;
		rc = expr_eval(cfg->segments[i].expr, &m.env, now, &member[i], &nc, e);
		if (rc < 0)
			err_prefix(e, "segment \"%s\" for contact %s", cfg->segments[i].name, c->id);
		if (nc < *next)
			*next = nc;
	}
	stats_memo_release(&m);
	json_decref(u.view);
	return rc;
}

int segment_explain(struct store *s, const struct config *cfg, const struct contact *c, size_t i,
		    int64_t now, int *member, struct buf *out, struct err *e)
{
	struct env_ud u = {s, c, contact_view(c), e};
	struct expr_env env = {&u, env_attr, env_count, env_sum, env_last, &cfg->stats};
	struct stats_memo m;
	int rc = 0;
	*member = 0;
	stats_memo_init(&m, &env); /* explain asks eval's questions again */
	if (i >= cfg->nsegments || !cfg->segments[i].expr)
		rc = err_set(e, "segment %zu: not a usable segment", i);
	else if ((rc = expr_explain(cfg->segments[i].expr, &m.env, now, member, out, e)) < 0)
		err_prefix(e, "segment \"%s\" for contact %s", cfg->segments[i].name, c->id);
	stats_memo_release(&m);
	json_decref(u.view);
	return rc;
}

/* ---- check ---- */

/* event types outreach records itself or gives a meaning (INTERFACE.md) */
static const char *const builtin_types[] = {
    "purchase", "complaint",	"survey_response", "replied", "opened",
    "clicked",	"unsubscribed", "subscribed",	   "bounced", "delivered",
};
static const char *const contact_fields[] = {"id", "name", "email", "phone", "timezone", "locale"};

struct lint {
	const struct config *cfg;
	const struct segment_conf *seg;
	char *const *attrs, *const *types;
	size_t nattrs, ntypes;
	int have_contacts;
	json_t *seen; /* "kind:name" already warned about in this segment */
	struct diag *d;
};

static int in(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* config_names_type - a campaign triggers on it, has it as goal or unless */
static int config_names_type(const struct config *cfg, const char *type)
{
	for (size_t i = 0; i < cfg->ncampaigns; i++) {
		const struct campaign_conf *cc = &cfg->campaigns[i];
		if ((cc->trigger_event && strcmp(cc->trigger_event, type) == 0) ||
		    (cc->goal_event && strcmp(cc->goal_event, type) == 0))
			return 1;
		for (size_t j = 0; j < cc->nsteps; j++)
			if (in((const char *const *)cc->steps[j].unless, cc->steps[j].nunless,
			       type))
				return 1;
	}
	return 0;
}

static void lint_ref(void *ud, char kind, const char *name)
{
	struct lint *l = ud;
	char key[300];
	snprintf(key, sizeof(key), "%c:%s", kind, name);
	if (json_object_get(l->seen, key))
		return;
	json_object_set_new(l->seen, key, json_true());
	const char *file = l->cfg->path;
	int line = l->seg->line;
	const char *seg = l->seg->name;
	if (kind == 'a' && strncmp(name, "stats.", 6) == 0) {
		struct buf b = BUF_INIT;
		for (size_t i = 0; i < stats_count(); i++)
			buf_printf(&b, "%s%s", i ? ", " : "", stats_name(i));
		diag_warn(
		    l->d, file, line,
		    "segment \"%s\": unknown computed attribute \"%s\", always null (stats.: %s)",
		    seg, name, buf_cstr(&b));
		buf_release(&b);
	} else if (kind == 'a' && l->have_contacts &&
		   !in(contact_fields, sizeof(contact_fields) / sizeof(contact_fields[0]), name) &&
		   !in((const char *const *)l->attrs, l->nattrs, name)) {
		char hint[96] = "";
		if (stats_find(name) >= 0)
			snprintf(hint, sizeof(hint), "; did you mean stats.%s?", name);
		diag_warn(l->d, file, line,
			  "segment \"%s\": no contact has attribute \"%s\" (null for all: a "
			  "comparison with it is false)%s",
			  seg, name, hint);
	} else if (kind == 'f') {
		diag_warn(l->d, file, line,
			  "segment \"%s\": unknown function \"%s\", always null (use count, sum, "
			  "last, days_since)",
			  seg, name);
	} else if (kind == 'e' &&
		   !in(builtin_types, sizeof(builtin_types) / sizeof(builtin_types[0]), name) &&
		   !in((const char *const *)l->types, l->ntypes, name) &&
		   !config_names_type(l->cfg, name)) {
		diag_warn(l->d, file, line,
			  "segment \"%s\": unknown event type \"%s\": none in the store and no "
			  "campaign names it",
			  seg, name);
	}
}

void segments_check(const struct config *cfg, char *const *attrs, size_t nattrs, int have_contacts,
		    char *const *types, size_t ntypes, struct diag *d)
{
	struct lint l = {cfg, NULL, attrs, types, nattrs, ntypes, have_contacts, NULL, d};
	for (size_t i = 0; i < cfg->nsegments; i++) {
		if (!cfg->segments[i].expr)
			continue;
		l.seg = &cfg->segments[i];
		l.seen = json_object();
		expr_foreach_ref(cfg->segments[i].expr, lint_ref, &l);
		json_decref(l.seen);
	}
}

static int has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* recurring - enroll in `every` campaigns for this period; next period start */
static int recurring(struct store *s, const struct campaign_conf *cc, const char *contact,
		     int64_t now, int64_t *next, struct sched_stats *st, struct err *e)
{
	char *key = xasprintf("every\n%s\n%s", cc->name, contact);
	int64_t offset = (int64_t)(hash_unit(key) * (double)cc->trigger_every);
	free(key);
	int64_t k = (now - offset) / cc->trigger_every;
	if (now - offset < 0)
		k = -1;
	int64_t start = offset + k * cc->trigger_every;
	int64_t period_end = start + cc->trigger_every;
	if (period_end < *next)
		*next = period_end;
	char ref[64];
	snprintf(ref, sizeof(ref), "every:%lld", (long long)k);
	/* evaluation runs at each period's start, so the trigger is now */
	return enroll(s, cc, contact, ref, now, 0, now, st, e);
}

static int eval_one(struct store *s, const struct config *cfg, const char *id, int64_t now,
		    struct sched_stats *st, struct err *e)
{
	struct contact c;
	int rc = store_contact_get(s, id, &c, e);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	int *member = xcalloc(cfg->nsegments + 1, sizeof(int));
	int64_t next;
	char **cur = NULL;
	size_t ncur = 0;
	rc = segments_eval(s, cfg, &c, now, member, &next, e);
	if (rc == 0)
		rc = store_segments_of(s, id, &cur, &ncur, e);
	for (size_t i = 0; rc == 0 && i < cfg->nsegments; i++) {
		const char *seg = cfg->segments[i].name;
		int was = has(cur, ncur, seg);
		if (member[i] == was)
			continue;
		rc = store_segment_set(s, id, seg, member[i], now, e);
		if (rc < 0 || !member[i]) {
			st->left += !member[i];
			continue;
		}
		st->entered++;
		for (size_t k = 0; rc == 0 && k < cfg->ncampaigns; k++) {
			const struct campaign_conf *cc = &cfg->campaigns[k];
			if (!cc->trigger_segment || cc->trigger_every ||
			    strcmp(cc->trigger_segment, seg) != 0)
				continue;
			char ref[160];
			snprintf(ref, sizeof(ref), "segment:%s:%lld", seg, (long long)now);
			rc = enroll(s, cc, id, ref, now, 0, now, st, e);
		}
	}
	/* recurring care cadences for the segments the contact is in now */
	for (size_t k = 0; rc == 0 && k < cfg->ncampaigns; k++) {
		const struct campaign_conf *cc = &cfg->campaigns[k];
		if (!cc->trigger_every || !cc->trigger_segment)
			continue;
		for (size_t i = 0; i < cfg->nsegments; i++)
			if (member[i] && strcmp(cfg->segments[i].name, cc->trigger_segment) == 0)
				rc = recurring(s, cc, id, now, &next, st, e);
	}
	if (rc == 0)
		rc = store_contact_eval_at(s, id, next, e);
	st->evaluated++;
	strv_free(cur, ncur);
	free(member);
	contact_release(&c);
	return rc;
}

int schedule_segments(struct store *s, const struct config *cfg, int64_t now, int limit, int *more,
		      struct sched_stats *st, struct err *e)
{
	char **ids;
	size_t n;
	*more = 0;
	if (store_contacts_to_eval(s, now, limit, &ids, &n, e) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (store_begin(s, e) < 0) {
			rc = -1;
			break;
		}
		rc = eval_one(s, cfg, ids[i], now, st, e);
		if (rc == 0)
			rc = store_commit(s, e);
		else
			store_rollback(s);
	}
	*more = rc == 0 && (int)n == limit;
	strv_free(ids, n);
	return rc;
}
