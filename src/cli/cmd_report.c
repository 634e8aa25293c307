/* cmd_report.c - report (the funnel by campaign, step, channel, template,
 * variant and segment), why, check
 *
 * report reads plain rows from the store (store_report.h) and counts them
 * here, where the config is known: the segment a send is counted under is
 * the first segment, in config order, the contact is in now (the same
 * order the template lookup uses; which one was used when the message was
 * rendered is not stored); a campaign's goal and window come from the
 * config. Feedback events count once per send (distinct sends opened,
 * clicked, replied, unsubscribed); opens and clicks flagged "machine": true
 * (privacy proxies, link scanners) are left out unless
 * --include-machine-opens. Days are local to the config's timezone.
 * Output: an aligned table, JSON (stable keys), CSV (RFC 4180) or one
 * self-contained HTML page (cmd_report_html.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "cmd_report.h"
#include "confint.h"
#include "expr.h"
#include "links.h"
#include "pii.h"
#include "policy.h"
#include "render.h"
#include "schedule.h"
#include "sms.h"
#include "store_report.h"
#include "transport.h"
#include "timeutil.h"
#include "tz.h"
#include "utf8.h"
#include "xmalloc.h"

const char *const report_state_names[RS_N] = {
	"scheduled", "deferred", "sending",    "sent",    "delivered",
	"failed",    "bounced",  "suppressed", "expired", "cancelled"};

const char *const report_rate_names[RR_N] = {"delivery_rate", "open_rate",	  "click_rate",
					     "reply_rate",    "unsubscribe_rate", "conversion_rate"};

static double ratio(int64_t a, int64_t b)
{
	return b > 0 ? (double)a / (double)b : -1;
}

void report_rates(const struct report_counts *c, int has_goal, double out[RR_N])
{
	int64_t sent = c->state[RS_SENT];
	out[RR_DELIVERY] = ratio(c->state[RS_DELIVERED], c->sent_receipted);
	out[RR_OPEN] = ratio(c->opened, c->sent_email);
	out[RR_CLICK] = ratio(c->clicked, sent);
	out[RR_REPLY] = ratio(c->replied, sent);
	out[RR_UNSUBSCRIBE] = ratio(c->unsubscribed, sent);
	out[RR_CONVERSION] = has_goal ? ratio(c->converted, c->total) : -1;
}

void report_lift(const struct report_campaign *c, int64_t treated, int64_t converted,
		 struct report_lift *out)
{
	memset(out, 0, sizeof(*out));
	out->treated_rate = c->goal ? ratio(converted, treated) : -1;
	out->holdout_rate = c->goal ? ratio(c->holdout_converted, c->holdout) : -1;
	if (out->treated_rate >= 0)
		out->has_treated_ci = confint_wilson(converted, treated, CONFINT_Z95,
						     &out->treated_ci[0], &out->treated_ci[1]) == 0;
	if (out->holdout_rate >= 0)
		out->has_holdout_ci = confint_wilson(c->holdout_converted, c->holdout, CONFINT_Z95,
						     &out->holdout_ci[0], &out->holdout_ci[1]) == 0;
	if (out->treated_rate < 0 || out->holdout_rate < 0)
		return;
	out->has_lift_ci = confint_newcombe(converted, treated, c->holdout_converted, c->holdout,
					    CONFINT_Z95, &out->lift_ci[0], &out->lift_ci[1]) == 0;
	out->has_points = 1;
	out->points = (out->treated_rate - out->holdout_rate) * 100;
	if (out->holdout_rate > 0) {
		out->has_relative = 1;
		out->relative = (out->treated_rate - out->holdout_rate) / out->holdout_rate;
	}
}

void survey_rates(const struct report_survey *s, struct survey_rates *out)
{
	int64_t nps_n = s->promoters + s->passives + s->detractors;
	out->response_rate = ratio(s->responses, s->sent);
	out->has_nps = nps_n > 0;
	out->nps = nps_n > 0 ? (double)(s->promoters - s->detractors) * 100 / (double)nps_n : 0;
	out->csat = ratio(s->csat_good, s->csat_n);
	out->csat_mean = ratio(s->csat_sum, s->csat_n);
}

static void survey_add(struct report_survey *to, const struct report_survey *s)
{
	to->sent += s->sent;
	to->responses += s->responses;
	to->promoters += s->promoters;
	to->passives += s->passives;
	to->detractors += s->detractors;
	to->csat_n += s->csat_n;
	to->csat_good += s->csat_good;
	to->csat_sum += s->csat_sum;
}

static void counts_add(struct report_counts *to, const struct report_counts *c)
{
	for (size_t k = 0; k < RS_N; k++)
		to->state[k] += c->state[k];
	to->total += c->total;
	to->opened += c->opened;
	to->clicked += c->clicked;
	to->replied += c->replied;
	to->unsubscribed += c->unsubscribed;
	to->converted += c->converted;
	to->sent_email += c->sent_email;
	to->receipts += c->receipts;
	to->sent_receipted += c->sent_receipted;
	survey_add(&to->survey, &c->survey);
}

/* ---- building the report ---- */

/* strmap - string -> index (open addressing, FNV-1a); keys owned */
struct strmap {
	char **keys;
	size_t *val;
	size_t cap, n;
};

static size_t str_hash(const char *s)
{
	size_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* strmap_slot - the value stored under key; a new key gets a slot set to
 * 0 and *added 1 */
static size_t *strmap_slot(struct strmap *m, const char *key, int *added)
{
	size_t i;
	if (2 * (m->n + 1) > m->cap) {
		struct strmap big = {NULL, NULL, m->cap ? m->cap * 2 : 64, 0};
		big.keys = xcalloc(big.cap, sizeof(*big.keys));
		big.val = xcalloc(big.cap, sizeof(*big.val));
		for (size_t j = 0; j < m->cap; j++) {
			if (!m->keys[j])
				continue;
			for (i = str_hash(m->keys[j]) & (big.cap - 1); big.keys[i];
			     i = (i + 1) & (big.cap - 1))
				;
			big.keys[i] = m->keys[j];
			big.val[i] = m->val[j];
			big.n++;
		}
		free(m->keys);
		free(m->val);
		*m = big;
	}
	for (i = str_hash(key) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (strcmp(m->keys[i], key) == 0) {
			*added = 0;
			return &m->val[i];
		}
	m->keys[i] = xstrdup(key);
	m->val[i] = 0;
	m->n++;
	*added = 1;
	return &m->val[i];
}

/* strmap_find - the index stored under key, or (size_t)-1 */
static size_t strmap_find(const struct strmap *m, const char *key)
{
	if (!m->cap)
		return (size_t)-1;
	for (size_t i = str_hash(key) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (strcmp(m->keys[i], key) == 0)
			return m->val[i];
	return (size_t)-1;
}

static void strmap_release(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->val);
	memset(m, 0, sizeof(*m));
}

/* what became of one send, from its row and the events answering it */
enum {
	F_SENT = 1 << 0,
	F_EMAIL = 1 << 1,
	F_DELIVERED = 1 << 2,
	F_RECEIPT = 1 << 3,
	F_OPENED = 1 << 4,
	F_CLICKED = 1 << 5,
	F_REPLIED = 1 << 6,
	F_UNSUB = 1 << 7,
	F_CONVERTED = 1 << 8,
	F_SURVEY = 1 << 9,    /* its step asks a survey */
	F_ANSWERED = 1 << 10, /* a survey_response names it */
	F_CSAT = 1 << 11,     /* that answer is on the 1 to 5 scale */
};

struct sendrec {
	int64_t id, sent_at, reply_at;
	size_t line;
	unsigned flags;
	int score; /* the survey answer, with F_ANSWERED */
};

struct conv {
	int64_t id;
	int converted;
};

struct build {
	const struct config *cfg;
	struct report *r;
	struct strmap lines;    /* line key -> index in r->lines */
	struct strmap contacts; /* contact -> 1 + index of its first segment in cfg */
	struct sendrec *sends;
	size_t nsends, capsends;
	struct conv *convs; /* every enrollment's conversion, by id once sorted */
	size_t nconvs, capconvs;
	struct report_campaign *camp; /* the campaign enrollments are read for */
	/* days */
	struct report_day *days;
	size_t ndays, capdays;
	int64_t day_lo, day_hi; /* the local day [lo, hi) last looked up */
	char day[16];
};

static void on_segment(void *ud, const char *contact, const char *segment)
{
	struct build *b = ud;
	size_t seg = 0;
	while (seg < b->cfg->nsegments && strcmp(b->cfg->segments[seg].name, segment) != 0)
		seg++;
	if (seg == b->cfg->nsegments)
		return; /* a segment no longer configured */
	int added;
	size_t *v = strmap_slot(&b->contacts, contact, &added);
	if (added || seg + 1 < *v)
		*v = seg + 1; /* the first in config order */
}

static void on_campaign(void *ud, const char *name)
{
	struct build *b = ud;
	struct report *r = b->r;
	r->campaigns = xrealloc(r->campaigns, (r->ncampaigns + 1) * sizeof(*r->campaigns));
	struct report_campaign *c = &r->campaigns[r->ncampaigns++];
	memset(c, 0, sizeof(*c));
	c->name = xstrdup(name);
	c->holdout_share = -1;
	const struct campaign_conf *cc = config_campaign(b->cfg, name);
	if (cc) {
		c->goal = cc->goal_event;
		c->goal_within = cc->goal_within;
		c->holdout_share = cc->holdout;
	}
}

static struct report_variant *variant_of(struct report_campaign *c, const char *name)
{
	for (size_t i = 0; i < c->nvariants; i++)
		if (strcmp(c->variants[i].name, name) == 0)
			return &c->variants[i];
	c->variants = xrealloc(c->variants, (c->nvariants + 1) * sizeof(*c->variants));
	struct report_variant *v = &c->variants[c->nvariants++];
	memset(v, 0, sizeof(*v));
	v->name = xstrdup(name);
	return v;
}

static void on_enrollment(void *ud, const struct report_enrollment *en)
{
	struct build *b = ud;
	struct report_campaign *c = b->camp;
	if (en->holdout) {
		c->holdout++;
		c->holdout_converted += en->converted;
	} else {
		c->treated++;
		c->treated_converted += en->converted;
		if (en->variant[0]) {
			struct report_variant *v = variant_of(c, en->variant);
			v->treated++;
			v->converted += en->converted;
		}
	}
	if (!en->converted)
		return;
	if (b->nconvs == b->capconvs) {
		b->capconvs = b->capconvs ? 2 * b->capconvs : 256;
		b->convs = xrealloc(b->convs, b->capconvs * sizeof(*b->convs));
	}
	b->convs[b->nconvs++] = (struct conv){en->id, 1};
}

static int cmp_conv(const void *a, const void *b)
{
	int64_t x = ((const struct conv *)a)->id, y = ((const struct conv *)b)->id;
	return (x > y) - (x < y);
}

static int converted(const struct build *b, int64_t enrollment)
{
	struct conv key = {enrollment, 0};
	/* no array at all when there is nothing: NULL may not go to bsearch */
	return b->nconvs && bsearch(&key, b->convs, b->nconvs, sizeof(*b->convs), cmp_conv);
}

static void on_send(void *ud, const struct report_send *s)
{
	struct build *b = ud;
	struct report *r = b->r;
	size_t seg = strmap_find(&b->contacts, s->contact);
	const char *segment = seg == (size_t)-1 || seg == 0 ? "" : b->cfg->segments[seg - 1].name;
	char *key = xasprintf("%s\x1f%d\x1f%s\x1f%s\x1f%s\x1f%s", s->campaign, s->step, s->channel,
			      s->template, s->variant, segment);
	int added;
	size_t *slot = strmap_slot(&b->lines, key, &added);
	free(key);
	if (added) {
		*slot = r->nlines;
		r->lines = xrealloc(r->lines, (r->nlines + 1) * sizeof(*r->lines));
		struct report_line *l = &r->lines[r->nlines++];
		memset(l, 0, sizeof(*l));
		l->campaign = xstrdup(s->campaign);
		l->step = s->step + 1;
		l->channel = xstrdup(s->channel);
		l->template = xstrdup(s->template);
		l->variant = xstrdup(s->variant);
		l->segment = xstrdup(segment);
		const struct campaign_conf *cc = config_campaign(b->cfg, s->campaign);
		l->has_goal = cc && cc->goal_event;
	}
	size_t li = *slot;
	struct report_line *l = &r->lines[li];
	l->c.total++;
	for (size_t k = 0; k < RS_N; k++)
		if (k != RS_SENT && k != RS_DELIVERED && strcmp(report_state_names[k], s->state) == 0)
			l->c.state[k]++;
	struct sendrec rec = {s->id, s->sent_at, 0, li, 0, 0};
	if (config_survey(b->cfg, s->campaign, s->step) != SURVEY_NONE)
		rec.flags |= F_SURVEY;
	int out = s->sent_at > 0 || strcmp(s->state, "sent") == 0 ||
		  strcmp(s->state, "delivered") == 0 || strcmp(s->state, "bounced") == 0;
	if (out) {
		rec.flags |= F_SENT;
		if (strcmp(s->channel, "email") == 0)
			rec.flags |= F_EMAIL;
		if (strcmp(s->state, "delivered") == 0)
			rec.flags |= F_DELIVERED | F_RECEIPT;
		if (strcmp(s->state, "bounced") == 0 || strcmp(s->state, "failed") == 0)
			rec.flags |= F_RECEIPT;
	}
	if (l->has_goal && converted(b, s->enrollment_id))
		rec.flags |= F_CONVERTED;
	if (b->nsends == b->capsends) {
		b->capsends = b->capsends ? 2 * b->capsends : 1024;
		b->sends = xrealloc(b->sends, b->capsends * sizeof(*b->sends));
	}
	b->sends[b->nsends++] = rec;
}

static int cmp_send(const void *a, const void *b)
{
	int64_t x = ((const struct sendrec *)a)->id, y = ((const struct sendrec *)b)->id;
	return (x > y) - (x < y);
}

struct ev_ctx {
	struct build *b;
	int machine_opens;
};

static void on_event(void *ud, const struct report_event *ev)
{
	struct ev_ctx *x = ud;
	struct build *b = x->b;
	struct sendrec key = {.id = ev->send_id};
	struct sendrec *s =
	    b->nsends ? bsearch(&key, b->sends, b->nsends, sizeof(*b->sends), cmp_send) : NULL;
	if (!s)
		return;
	const char *t = ev->type;
	if (strcmp(t, "delivered") == 0) {
		s->flags |= F_SENT | F_DELIVERED | F_RECEIPT;
	} else if (strcmp(t, "bounced") == 0) {
		s->flags |= F_RECEIPT;
	} else if (strcmp(t, "opened") == 0 || strcmp(t, "clicked") == 0) {
		unsigned f = t[0] == 'o' ? F_OPENED : F_CLICKED;
		if (!(s->flags & f) && (x->machine_opens || !event_data_machine(ev->data)))
			s->flags |= f;
	} else if (strcmp(t, "replied") == 0) {
		if (!(s->flags & F_REPLIED))
			s->reply_at = ev->at;
		s->flags |= F_REPLIED;
	} else if (strcmp(t, "unsubscribed") == 0) {
		s->flags |= F_UNSUB;
	} else if (strcmp(t, "survey_response") == 0 && !(s->flags & F_ANSWERED)) {
		/* the first answer (serve keeps one per send; an import may not) */
		json_t *d = json_loads(ev->data ? ev->data : "{}", 0, NULL);
		json_t *score = json_object_get(d, "score");
		const char *scale = json_string_value(json_object_get(d, "scale"));
		int csat = scale && strcmp(scale, "csat") == 0;
		if (json_is_integer(score) && json_integer_value(score) >= (csat ? 1 : 0) &&
		    json_integer_value(score) <= (csat ? 5 : 10)) {
			s->flags |= F_ANSWERED | (csat ? F_CSAT : 0);
			s->score = (int)json_integer_value(score);
		}
		json_decref(d);
	}
}

/* day_of - the local date of t in the report's zone into b->day */
static const char *day_of(struct build *b, int64_t t)
{
	if (b->day_hi > b->day_lo && t >= b->day_lo && t < b->day_hi)
		return b->day;
	struct tz_local l;
	if (tz_localtime(b->r->zone, t, &l) < 0) {
		/* the zone was validated with the config; UTC all the same */
		int64_t d = t >= 0 ? t / 86400 : (t - 86399) / 86400;
		char ts[32];
		time_format(d * 86400, ts, sizeof(ts));
		snprintf(b->day, sizeof(b->day), "%.10s", ts);
		b->day_lo = d * 86400;
		b->day_hi = b->day_lo + 86400;
		return b->day;
	}
	snprintf(b->day, sizeof(b->day), "%04d-%02d-%02d", l.year, l.month, l.day);
	struct tz_local m = l;
	m.hour = m.minute = m.second = 0;
	int64_t lo, hi;
	if (tz_mktime(b->r->zone, &m, &lo) == 0 && lo <= t) {
		/* the next midnight: a day is 23 to 25 hours */
		struct tz_local n;
		if (tz_localtime(b->r->zone, lo + 26 * 3600, &n) == 0) {
			n.hour = n.minute = n.second = 0;
			if (tz_mktime(b->r->zone, &n, &hi) == 0 && hi > t) {
				b->day_lo = lo;
				b->day_hi = hi;
				return b->day;
			}
		}
	}
	b->day_lo = b->day_hi = 0; /* no cache */
	return b->day;
}

static struct report_day *day_get(struct build *b, const char *date)
{
	size_t lo = 0, hi = b->ndays;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(b->days[mid].date, date);
		if (c == 0)
			return &b->days[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (b->ndays == b->capdays) {
		b->capdays = b->capdays ? 2 * b->capdays : 32;
		b->days = xrealloc(b->days, b->capdays * sizeof(*b->days));
	}
	memmove(&b->days[lo + 1], &b->days[lo], (b->ndays - lo) * sizeof(*b->days));
	b->ndays++;
	memset(&b->days[lo], 0, sizeof(*b->days));
	snprintf(b->days[lo].date, sizeof(b->days[lo].date), "%s", date);
	return &b->days[lo];
}

static int64_t date_number(const char *date)
{
	int y = 0, m = 0, d = 0;
	for (int i = 0; i < 4; i++)
		y = y * 10 + (date[i] - '0');
	m = (date[5] - '0') * 10 + (date[6] - '0');
	d = (date[8] - '0') * 10 + (date[9] - '0');
	return time_days_from_civil(y, m, d);
}

/* fill_days - every day from the first to the last, zeros between */
static void fill_days(struct build *b)
{
	struct report *r = b->r;
	if (!b->ndays)
		return;
	int64_t first = date_number(b->days[0].date), last = date_number(b->days[b->ndays - 1].date);
	r->ndays = (size_t)(last - first + 1);
	r->days = xcalloc(r->ndays, sizeof(*r->days));
	size_t j = 0;
	for (size_t i = 0; i < r->ndays; i++) {
		int y, m, d;
		time_civil_from_days(first + (int64_t)i, &y, &m, &d);
		snprintf(r->days[i].date, sizeof(r->days[i].date), "%04d-%02d-%02d", y % 10000, m,
			 d);
		if (j < b->ndays && strcmp(b->days[j].date, r->days[i].date) == 0) {
			r->days[i].sent = b->days[j].sent;
			r->days[i].replied = b->days[j].replied;
			j++;
		}
	}
	free(b->days);
	b->days = NULL;
}

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a, b);
}

static int cmp_line(const void *pa, const void *pb)
{
	const struct report_line *a = pa, *b = pb;
	int c;
	if ((c = cmp_str(a->campaign, b->campaign)))
		return c;
	if (a->step != b->step)
		return a->step < b->step ? -1 : 1;
	if ((c = cmp_str(a->channel, b->channel)) || (c = cmp_str(a->template, b->template)) ||
	    (c = cmp_str(a->variant, b->variant)))
		return c;
	return cmp_str(a->segment, b->segment);
}

static int cmp_variant(const void *pa, const void *pb)
{
	return strcmp(((const struct report_variant *)pa)->name,
		      ((const struct report_variant *)pb)->name);
}

static struct report_campaign *campaign_of(const struct report *r, const char *name)
{
	for (size_t i = 0; i < r->ncampaigns; i++)
		if (strcmp(r->campaigns[i].name, name) == 0)
			return &r->campaigns[i];
	return NULL;
}

static void survey_line_add(struct report *r, const char *campaign, const char *segment,
			    const struct report_survey *sv)
{
	r->surveys = xrealloc(r->surveys, (r->nsurveys + 1) * sizeof(*r->surveys));
	struct report_survey_line *l = &r->surveys[r->nsurveys++];
	l->campaign = xstrdup(campaign);
	l->segment = segment ? xstrdup(segment) : NULL;
	l->s = *sv;
}

/* survey_lines - the survey answers per campaign and segment, and over
 * every campaign, from the rows */
static void survey_lines(struct report *r, const struct config *cfg)
{
	struct report_survey all = {0};
	size_t nseg = cfg->nsegments + 1; /* the configured ones, then "" */
	struct report_survey *by_seg = xcalloc(nseg, sizeof(*by_seg));
	int any = 0;
	for (size_t i = 0; i < r->ncampaigns; i++) {
		const struct report_campaign *c = &r->campaigns[i];
		if (!c->c.survey.sent)
			continue;
		any = 1;
		survey_add(&all, &c->c.survey);
		survey_line_add(r, c->name, NULL, &c->c.survey);
		for (size_t k = 0; k < nseg; k++) {
			const char *seg = k < cfg->nsegments ? cfg->segments[k].name : "";
			struct report_survey sv = {0};
			for (size_t j = 0; j < r->nlines; j++)
				if (!strcmp(r->lines[j].campaign, c->name) &&
				    !strcmp(r->lines[j].segment, seg))
					survey_add(&sv, &r->lines[j].c.survey);
			if (!sv.sent)
				continue;
			survey_line_add(r, c->name, seg, &sv);
			survey_add(&by_seg[k], &sv);
		}
	}
	if (any) {
		survey_line_add(r, "", NULL, &all);
		for (size_t k = 0; k < nseg; k++)
			if (by_seg[k].sent)
				survey_line_add(r, "",
						k < cfg->nsegments ? cfg->segments[k].name : "",
						&by_seg[k]);
	}
	free(by_seg);
}

/* report_build - read the store and count */
static int report_build(struct store *s, const struct config *cfg, struct report *r,
			struct err *e)
{
	struct build b = {0};
	b.cfg = cfg;
	b.r = r;
	struct report_filter f = {r->campaign_filter, r->since};
	int rc = store_report_campaigns(s, &f, on_campaign, &b, e);
	for (size_t i = 0; rc == 0 && i < r->ncampaigns; i++) {
		struct report_filter one = {r->campaigns[i].name, r->since};
		b.camp = &r->campaigns[i];
		rc = store_report_enrollments(s, &one, b.camp->goal, b.camp->goal_within,
					      on_enrollment, &b, e);
	}
	if (rc == 0 && b.nconvs > 1) /* NULL when none: not for qsort */
		qsort(b.convs, b.nconvs, sizeof(*b.convs), cmp_conv);
	if (rc == 0)
		rc = store_report_segments(s, &f, on_segment, &b, e);
	if (rc == 0)
		rc = store_report_sends(s, &f, on_send, &b, e);
	if (rc == 0) {
		/* ids come in order; sort all the same, bsearch depends on it */
		if (b.nsends > 1)
			qsort(b.sends, b.nsends, sizeof(*b.sends), cmp_send);
		struct ev_ctx x = {&b, r->machine_opens};
		rc = store_report_events(s, &f, on_event, &x, e);
	}
	if (rc == 0) {
		for (size_t i = 0; i < b.nsends; i++) {
			const struct sendrec *sr = &b.sends[i];
			struct report_counts *c = &r->lines[sr->line].c;
			unsigned fl = sr->flags;
			c->state[RS_SENT] += !!(fl & F_SENT);
			c->state[RS_DELIVERED] += !!(fl & F_DELIVERED);
			c->sent_email += (fl & F_SENT) && (fl & F_EMAIL);
			c->receipts += (fl & F_SENT) && (fl & F_RECEIPT);
			c->opened += !!(fl & F_OPENED);
			c->clicked += !!(fl & F_CLICKED);
			c->replied += !!(fl & F_REPLIED);
			c->unsubscribed += !!(fl & F_UNSUB);
			c->converted += !!(fl & F_CONVERTED);
			if (((fl & F_SURVEY) && (fl & F_SENT)) || (fl & F_ANSWERED)) {
				struct report_survey *sv = &c->survey;
				sv->sent++;
				if (fl & F_ANSWERED) {
					sv->responses++;
					if (fl & F_CSAT) {
						sv->csat_n++;
						sv->csat_good += sr->score >= 4;
						sv->csat_sum += sr->score;
					} else if (sr->score >= 9) {
						sv->promoters++;
					} else if (sr->score >= 7) {
						sv->passives++;
					} else {
						sv->detractors++;
					}
				}
			}
			if ((fl & F_SENT) && sr->sent_at > 0)
				day_get(&b, day_of(&b, sr->sent_at))->sent++;
			if (fl & F_REPLIED)
				day_get(&b, day_of(&b, sr->reply_at))->replied++;
		}
		/* a channel with any receipt has them: its sends without one
		 * count as not delivered (yet); elsewhere the rate is unknown */
		const char **rch = NULL; /* the channels with receipts (a few) */
		size_t nrch = 0;
		for (size_t i = 0; i < r->nlines; i++) {
			size_t j = 0;
			while (j < nrch && strcmp(rch[j], r->lines[i].channel))
				j++;
			if (r->lines[i].c.receipts && j == nrch) {
				rch = xrealloc(rch, (nrch + 1) * sizeof(*rch));
				rch[nrch++] = r->lines[i].channel;
			}
		}
		for (size_t i = 0; i < r->nlines; i++)
			for (size_t j = 0; j < nrch; j++)
				if (!strcmp(rch[j], r->lines[i].channel))
					r->lines[i].c.sent_receipted = r->lines[i].c.state[RS_SENT];
		free(rch);
		for (size_t i = 0; i < r->nlines; i++) {
			struct report_line *l = &r->lines[i];
			struct report_campaign *c = campaign_of(r, l->campaign);
			if (!c)
				continue; /* sends are found by the same filter */
			counts_add(&c->c, &l->c);
			if (l->variant[0])
				counts_add(&variant_of(c, l->variant)->c, &l->c);
		}
		for (size_t i = 0; i < r->ncampaigns; i++)
			if (r->campaigns[i].nvariants > 1)
				qsort(r->campaigns[i].variants, r->campaigns[i].nvariants,
				      sizeof(*r->campaigns[i].variants), cmp_variant);
		if (r->nlines > 1)
			qsort(r->lines, r->nlines, sizeof(*r->lines), cmp_line);
		survey_lines(r, cfg);
		fill_days(&b);
	}
	free(b.days);
	free(b.sends);
	free(b.convs);
	strmap_release(&b.lines);
	strmap_release(&b.contacts);
	return rc;
}

static void report_release(struct report *r)
{
	for (size_t i = 0; i < r->nlines; i++) {
		struct report_line *l = &r->lines[i];
		free(l->campaign);
		free(l->channel);
		free(l->template);
		free(l->variant);
		free(l->segment);
	}
	free(r->lines);
	for (size_t i = 0; i < r->ncampaigns; i++) {
		for (size_t j = 0; j < r->campaigns[i].nvariants; j++)
			free(r->campaigns[i].variants[j].name);
		free(r->campaigns[i].variants);
		free(r->campaigns[i].name);
	}
	free(r->campaigns);
	free(r->days);
	for (size_t i = 0; i < r->nsurveys; i++) {
		free(r->surveys[i].campaign);
		free(r->surveys[i].segment);
	}
	free(r->surveys);
}

/* ---- json ---- */

static json_t *jrate(double v)
{
	return v < 0 ? json_null() : json_real(v);
}

/* jstr - a JSON string of s; bytes that are not UTF-8 (a store written by
 * something else) become U+FFFD rather than losing the row */
static json_t *jstr(const char *s)
{
	json_t *v = json_string(s);
	if (v)
		return v;
	struct buf b = BUF_INIT;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	while (n) {
		size_t len = utf8_len(p, n);
		if (len)
			buf_append(&b, p, len);
		else
			buf_puts(&b, "\xef\xbf\xbd");
		len = len ? len : 1;
		p += len;
		n -= len;
	}
	v = json_string(buf_cstr(&b));
	buf_release(&b);
	return v ? v : json_string("");
}

static void set_str(json_t *o, const char *key, const char *s)
{
	json_object_set_new(o, key, jstr(s));
}

/* counts_json - the funnel counts and rates of c into o */
static void counts_json(json_t *o, const struct report_counts *c, const double rates[RR_N],
			int with_states)
{
	for (size_t k = 0; k < RS_N; k++)
		if (with_states || k == RS_SENT || k == RS_DELIVERED)
			json_object_set_new(o, report_state_names[k], json_integer(c->state[k]));
	json_object_set_new(o, "total", json_integer(c->total));
	json_object_set_new(o, "opened", json_integer(c->opened));
	json_object_set_new(o, "clicked", json_integer(c->clicked));
	json_object_set_new(o, "replied", json_integer(c->replied));
	json_object_set_new(o, "unsubscribed", json_integer(c->unsubscribed));
	json_object_set_new(o, "converted", json_integer(c->converted));
	for (size_t k = 0; k < RR_N; k++)
		json_object_set_new(o, report_rate_names[k], jrate(rates[k]));
}

static json_t *jpair(int has, const double v[2])
{
	return has ? json_pack("[f, f]", v[0], v[1]) : json_null();
}

/* lift_json - the group's goal rate and its interval, and the lift over
 * the holdout: in points and relative as before, and as a difference of
 * rates (0..1 like every rate) with its interval */
static void lift_json(json_t *o, const struct report_campaign *c, int64_t treated,
		      int64_t conv)
{
	struct report_lift lf;
	report_lift(c, treated, conv, &lf);
	json_object_set_new(o, "goal_rate", jrate(lf.treated_rate));
	json_object_set_new(o, "goal_ci", jpair(lf.has_treated_ci, lf.treated_ci));
	json_object_set_new(o, "lift_points", lf.has_points ? json_real(lf.points) : json_null());
	json_object_set_new(o, "lift_relative",
			    lf.has_relative ? json_real(lf.relative) : json_null());
	json_object_set_new(
	    o, "lift", lf.has_points ? json_real(lf.treated_rate - lf.holdout_rate) : json_null());
	json_object_set_new(o, "lift_ci", jpair(lf.has_lift_ci, lf.lift_ci));
	/* the interval leaves out 0: the difference is unlikely to be chance */
	json_object_set_new(o, "lift_significant",
			    lf.has_lift_ci ? json_boolean(lf.lift_ci[0] > 0 || lf.lift_ci[1] < 0)
					   : json_null());
}

/* survey_json - a report_survey's counts and rates */
static json_t *survey_json(const struct report_survey *sv)
{
	struct survey_rates sr;
	survey_rates(sv, &sr);
	json_t *o = json_object();
	json_object_set_new(o, "surveys_sent", json_integer(sv->sent));
	json_object_set_new(o, "responses", json_integer(sv->responses));
	json_object_set_new(o, "response_rate", jrate(sr.response_rate));
	json_object_set_new(o, "nps", sr.has_nps ? json_real(sr.nps) : json_null());
	json_object_set_new(o, "nps_responses",
			    json_integer(sv->promoters + sv->passives + sv->detractors));
	json_object_set_new(o, "promoters", json_integer(sv->promoters));
	json_object_set_new(o, "passives", json_integer(sv->passives));
	json_object_set_new(o, "detractors", json_integer(sv->detractors));
	json_object_set_new(o, "csat", jrate(sr.csat));
	json_object_set_new(o, "csat_mean", jrate(sr.csat_mean));
	json_object_set_new(o, "csat_responses", json_integer(sv->csat_n));
	return o;
}

/* surveys_json - the total of one campaign (or of all: "") with its
 * segments, or null when it had no surveys */
static json_t *surveys_json(const struct report *r, const char *campaign)
{
	json_t *o = NULL, *segs = NULL;
	for (size_t i = 0; i < r->nsurveys; i++) {
		const struct report_survey_line *l = &r->surveys[i];
		if (strcmp(l->campaign, campaign) != 0)
			continue;
		if (!l->segment) {
			o = survey_json(&l->s);
			segs = json_array();
			json_object_set_new(o, "segments", segs);
			continue;
		}
		if (!segs)
			continue;
		json_t *so = json_object();
		set_str(so, "segment", l->segment);
		json_t *x = survey_json(&l->s);
		json_object_update(so, x);
		json_decref(x);
		json_array_append_new(segs, so);
	}
	return o ? o : json_null();
}

static json_t *line_json(const struct report_line *l)
{
	json_t *o = json_object();
	set_str(o, "campaign", l->campaign);
	json_object_set_new(o, "step", json_integer(l->step));
	set_str(o, "channel", l->channel);
	set_str(o, "template", l->template);
	set_str(o, "variant", l->variant);
	set_str(o, "segment", l->segment);
	double rates[RR_N];
	report_rates(&l->c, l->has_goal, rates);
	counts_json(o, &l->c, rates, 1);
	return o;
}

static json_t *campaign_json(const struct report *r, const struct report_campaign *c)
{
	json_t *o = json_object();
	set_str(o, "campaign", c->name);
	if (c->goal) {
		char within[32];
		duration_format(c->goal_within, within, sizeof(within));
		json_t *g = json_object();
		set_str(g, "event", c->goal);
		set_str(g, "within", within);
		json_object_set_new(o, "goal", g);
	} else {
		json_object_set_new(o, "goal", json_null());
	}
	json_object_set_new(o, "holdout_share", jrate(c->holdout_share));
	struct report_counts cc = c->c;
	cc.converted = c->treated_converted;
	cc.total = c->treated;
	double rates[RR_N];
	report_rates(&cc, c->goal != NULL, rates);
	counts_json(o, &c->c, rates, 1);
	json_object_set_new(o, "converted", json_integer(c->treated_converted));
	json_object_set_new(o, "treated", json_integer(c->treated));
	if (c->holdout || c->holdout_share > 0) {
		struct report_lift lf;
		report_lift(c, c->treated, c->treated_converted, &lf);
		json_object_set_new(
		    o, "holdout",
		    json_pack("{s:I, s:I, s:o, s:o, s:o}", "enrollments", (json_int_t)c->holdout,
			      "converted", (json_int_t)c->holdout_converted, "conversion_rate",
			      jrate(lf.holdout_rate), "goal_rate", jrate(lf.holdout_rate),
			      "goal_ci", jpair(lf.has_holdout_ci, lf.holdout_ci)));
	} else
		json_object_set_new(o, "holdout", json_null());
	lift_json(o, c, c->treated, c->treated_converted);
	json_t *vs = json_array();
	for (size_t i = 0; i < c->nvariants; i++) {
		const struct report_variant *v = &c->variants[i];
		json_t *vo = json_object();
		set_str(vo, "variant", v->name);
		json_object_set_new(vo, "treated", json_integer(v->treated));
		json_object_set_new(vo, "converted", json_integer(v->converted));
		json_object_set_new(vo, "conversion_rate",
				    jrate(c->goal ? ratio(v->converted, v->treated) : -1));
		lift_json(vo, c, v->treated, v->converted);
		struct report_counts vc = v->c;
		vc.converted = v->converted;
		vc.total = v->treated;
		report_rates(&vc, c->goal != NULL, rates);
		rates[RR_CONVERSION] = -1; /* given above */
		json_t *fo = json_object();
		counts_json(fo, &v->c, rates, 0);
		json_object_del(fo, "converted");
		json_object_del(fo, "conversion_rate");
		json_object_update(vo, fo);
		json_decref(fo);
		json_array_append_new(vs, vo);
	}
	json_object_set_new(o, "variants", vs);
	json_object_set_new(o, "survey", surveys_json(r, c->name));
	return o;
}

static void write_json(FILE *out, const struct report *r, const struct config *cfg)
{
	json_t *rows = json_array();
	for (size_t i = 0; i < r->nlines; i++)
		json_array_append_new(rows, line_json(&r->lines[i]));
	json_t *doc = json_pack("{s:o}", "rows", rows);
	/* as before: every configured campaign the filter names */
	json_t *en = json_object();
	for (size_t k = 0; k < cfg->ncampaigns; k++) {
		const char *name = cfg->campaigns[k].name;
		if (r->campaign_filter && strcmp(r->campaign_filter, name))
			continue;
		const struct report_campaign *c = campaign_of(r, name);
		json_object_set_new(en, name,
				    json_pack("{s:I, s:I}", "treated",
					      (json_int_t)(c ? c->treated : 0), "holdout",
					      (json_int_t)(c ? c->holdout : 0)));
	}
	json_object_set_new(doc, "enrollments", en);
	json_t *cs = json_array();
	for (size_t i = 0; i < r->ncampaigns; i++)
		json_array_append_new(cs, campaign_json(r, &r->campaigns[i]));
	json_object_set_new(doc, "campaigns", cs);
	json_t *days = json_array();
	for (size_t i = 0; i < r->ndays; i++)
		json_array_append_new(days, json_pack("{s:s, s:I, s:I}", "date", r->days[i].date,
						      "sent", (json_int_t)r->days[i].sent,
						      "replied", (json_int_t)r->days[i].replied));
	json_object_set_new(doc, "daily", days);
	json_object_set_new(doc, "timezone", json_string(r->zone));
	if (r->since != INT64_MIN) {
		char ts[32];
		time_format(r->since, ts, sizeof(ts));
		json_object_set_new(doc, "since", json_string(ts));
	} else {
		json_object_set_new(doc, "since", json_null());
	}
	json_object_set_new(doc, "machine_opens", json_boolean(r->machine_opens));
	json_object_set_new(doc, "surveys", surveys_json(r, ""));
	json_object_set_new(doc, "intervals",
			    json_pack("{s:f, s:s, s:s}", "level", 0.95, "rate", "wilson",
				      "difference", "newcombe"));
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	fprintf(out, "%s\n", text);
	free(text);
	json_decref(doc);
}

/* ---- csv ---- */

/* csv_field - RFC 4180: quoted when it holds a comma, quote, CR or LF,
 * quotes doubled */
static void csv_field(FILE *out, const char *s, int first)
{
	if (!first)
		fputc(',', out);
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void rate_text(double v, char *out, size_t n)
{
	if (v < 0)
		out[0] = '\0';
	else
		snprintf(out, n, "%.6g", v);
}

static void write_csv(FILE *out, const struct report *r)
{
	/* the first columns as they always were, the funnel after them */
	static const char *const head[] = {"campaign", "step", "channel", "template"};
	static const char *const tail[] = {"variant", "segment", "total", "opened", "clicked",
					   "replied", "unsubscribed", "converted"};
	for (size_t k = 0; k < 4; k++)
		csv_field(out, head[k], k == 0);
	for (size_t k = 0; k < RS_N; k++)
		csv_field(out, report_state_names[k], 0);
	for (size_t k = 0; k < sizeof(tail) / sizeof(tail[0]); k++)
		csv_field(out, tail[k], 0);
	for (size_t k = 0; k < RR_N; k++)
		csv_field(out, report_rate_names[k], 0);
	fputc('\n', out);
	for (size_t i = 0; i < r->nlines; i++) {
		const struct report_line *l = &r->lines[i];
		const struct report_counts *c = &l->c;
		csv_field(out, l->campaign, 1);
		fprintf(out, ",%d", l->step);
		csv_field(out, l->channel, 0);
		csv_field(out, l->template, 0);
		for (size_t k = 0; k < RS_N; k++)
			fprintf(out, ",%lld", (long long)c->state[k]);
		csv_field(out, l->variant, 0);
		csv_field(out, l->segment, 0);
		fprintf(out, ",%lld,%lld,%lld,%lld,%lld,%lld", (long long)c->total,
			(long long)c->opened, (long long)c->clicked, (long long)c->replied,
			(long long)c->unsubscribed, (long long)c->converted);
		double rates[RR_N];
		report_rates(c, l->has_goal, rates);
		for (size_t k = 0; k < RR_N; k++) {
			char t[32];
			rate_text(rates[k], t, sizeof(t));
			fprintf(out, ",%s", t);
		}
		fputc('\n', out);
	}
}

/* ---- table ---- */

/* display_width - terminal columns of UTF-8 text: East Asian wide and
 * fullwidth characters take two */
static size_t display_width(const char *s)
{
	size_t w = 0, n = strlen(s);
	const unsigned char *p = (const unsigned char *)s;
	while (n) {
		size_t len = utf8_len(p, n);
		if (!len) {
			w++, p++, n--;
			continue;
		}
		unsigned cp = len == 1 ? p[0]
			      : len == 2 ? ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu)
			      : len == 3 ? ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) |
					       (p[2] & 0x3fu)
					 : ((p[0] & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) |
					       ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
		int wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
			   (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
			   (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
			   (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
			   (cp >= 0x20000 && cp <= 0x3fffd);
		w += wide ? 2 : 1;
		p += len;
		n -= len;
	}
	return w;
}

/* a table of owned cells, printed with aligned columns */
struct table {
	size_t ncols, nrows;
	const char *const *head;
	const unsigned char *right; /* per column: 1 right-aligned (numbers) */
	char **cells;               /* nrows * ncols */
};

static void table_add(struct table *t, char **row)
{
	t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*t->cells));
	memcpy(&t->cells[t->nrows * t->ncols], row, t->ncols * sizeof(*row));
	t->nrows++;
}

static void pad(FILE *out, size_t n)
{
	while (n--)
		fputc(' ', out);
}

static void table_print(FILE *out, struct table *t)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w));
	for (size_t k = 0; k < t->ncols; k++) {
		w[k] = display_width(t->head[k]);
		for (size_t i = 0; i < t->nrows; i++) {
			size_t x = display_width(t->cells[i * t->ncols + k]);
			if (x > w[k])
				w[k] = x;
		}
	}
	for (size_t i = 0; i <= t->nrows; i++) {
		for (size_t k = 0; k < t->ncols; k++) {
			const char *v = i ? t->cells[(i - 1) * t->ncols + k] : t->head[k];
			size_t gap = w[k] - display_width(v);
			if (k)
				fputs("  ", out);
			if (t->right[k])
				pad(out, gap);
			fputs(v, out);
			if (!t->right[k] && k + 1 < t->ncols)
				pad(out, gap);
		}
		fputc('\n', out);
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
	t->cells = NULL;
	t->nrows = 0;
}

static char *num(int64_t v)
{
	return xasprintf("%lld", (long long)v);
}

static char *pct(double v)
{
	return v < 0 ? xstrdup("-") : xasprintf("%.1f%%", v * 100);
}

static char *text(const char *s)
{
	return xstrdup(s && *s ? s : "-");
}

static char *points(const struct report_lift *lf)
{
	if (!lf->has_points)
		return xstrdup("-");
	if (!lf->has_relative)
		return xasprintf("%+.1f pts", lf->points);
	return xasprintf("%+.1f pts (%+.0f%%)", lf->points, lf->relative * 100);
}

/* ci - "[3.2%, 7.9%]" */
static char *ci(int has, const double v[2])
{
	return has ? xasprintf("[%.1f%%, %.1f%%]", v[0] * 100, v[1] * 100) : xstrdup("-");
}

/* lift_ci - "[+1.2, +5.3] pts", with a * when it leaves out 0 */
static char *lift_ci(const struct report_lift *lf)
{
	if (!lf->has_lift_ci)
		return xstrdup("-");
	return xasprintf("[%+.1f, %+.1f] pts%s", lf->lift_ci[0] * 100, lf->lift_ci[1] * 100,
			 lf->lift_ci[0] > 0 || lf->lift_ci[1] < 0 ? " *" : "");
}

/* write_surveys - the fourth block: surveys per campaign and segment */
static void write_surveys(FILE *out, const struct report *r)
{
	static const char *const h[] = {"campaign",   "segment", "surveys",   "responses",
					"rate",	      "nps",	 "promoters", "passives",
					"detractors", "csat",	 "csat mean"};
	static const unsigned char ra[] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	struct table t = {11, 0, h, ra, NULL};
	for (size_t i = 0; i < r->nsurveys; i++) {
		const struct report_survey_line *l = &r->surveys[i];
		struct survey_rates sr;
		survey_rates(&l->s, &sr);
		char *row[11] = {
		    xstrdup(l->campaign[0] ? l->campaign : "all campaigns"),
		    xstrdup(!l->segment	    ? "all"
			    : l->segment[0] ? l->segment
					    : "-"),
		    num(l->s.sent),
		    num(l->s.responses),
		    pct(sr.response_rate),
		    sr.has_nps ? xasprintf("%+.0f", sr.nps) : xstrdup("-"),
		    num(l->s.promoters),
		    num(l->s.passives),
		    num(l->s.detractors),
		    pct(sr.csat),
		    sr.csat_mean < 0 ? xstrdup("-") : xasprintf("%.2f", sr.csat_mean),
		};
		table_add(&t, row);
	}
	fputc('\n', out);
	table_print(out, &t);
}

static void write_table(FILE *out, const struct report *r)
{
	/* the counts */
	static const char *const h1[] = {
		"campaign",  "step",	"channel",   "template",   "variant", "segment",
		"scheduled", "deferred", "sending",  "sent",	   "delivered", "failed",
		"bounced",   "suppressed", "expired", "cancelled", "opened",  "clicked",
		"replied",   "unsubscribed", "converted"};
	static const unsigned char r1[] = {0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1,
					   1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	struct table t = {21, 0, h1, r1, NULL};
	for (size_t i = 0; i < r->nlines; i++) {
		const struct report_line *l = &r->lines[i];
		char *row[21] = {text(l->campaign), num(l->step),    text(l->channel),
				 text(l->template), text(l->variant), text(l->segment)};
		for (size_t k = 0; k < RS_N; k++)
			row[6 + k] = num(l->c.state[k]);
		row[16] = num(l->c.opened);
		row[17] = num(l->c.clicked);
		row[18] = num(l->c.replied);
		row[19] = num(l->c.unsubscribed);
		row[20] = num(l->c.converted);
		table_add(&t, row);
	}
	table_print(out, &t);
	/* the rates */
	static const char *const h2[] = {"campaign", "step",  "channel", "variant",
					 "segment",  "sent",  "delivery", "open",
					 "click",    "reply", "unsubscribe", "conversion"};
	static const unsigned char r2[] = {0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1};
	struct table t2 = {12, 0, h2, r2, NULL};
	for (size_t i = 0; i < r->nlines; i++) {
		const struct report_line *l = &r->lines[i];
		double rates[RR_N];
		report_rates(&l->c, l->has_goal, rates);
		char *row[12] = {text(l->campaign), num(l->step),	    text(l->channel),
				 text(l->variant),  text(l->segment),	    num(l->c.state[RS_SENT])};
		for (size_t k = 0; k < RR_N; k++)
			row[6 + k] = pct(rates[k]);
		table_add(&t2, row);
	}
	fputc('\n', out);
	table_print(out, &t2);
	/* the goal: treated against the holdout, with 95% intervals (Wilson
	 * for a rate, Newcombe for the lift; * when it leaves out 0) */
	static const char *const h3[] = {
	    "campaign", "variant",   "goal", "treated", "converted", "rate",	   "95% ci",
	    "holdout",	"converted", "rate", "95% ci",	"lift",	     "lift 95% ci"};
	static const unsigned char r3[] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
	struct table t3 = {13, 0, h3, r3, NULL};
	for (size_t i = 0; i < r->ncampaigns; i++) {
		const struct report_campaign *c = &r->campaigns[i];
		char within[32] = "";
		if (c->goal)
			duration_format(c->goal_within, within, sizeof(within));
		for (size_t v = 0; v <= c->nvariants; v++) {
			int64_t tr = v ? c->variants[v - 1].treated : c->treated;
			int64_t cv = v ? c->variants[v - 1].converted : c->treated_converted;
			struct report_lift lf;
			report_lift(c, tr, cv, &lf);
			char *row[13] = {
			    text(c->name),
			    text(v ? c->variants[v - 1].name : "all"),
			    c->goal ? xasprintf("%s in %s", c->goal, within) : xstrdup("-"),
			    num(tr),
			    num(cv),
			    pct(lf.treated_rate),
			    ci(lf.has_treated_ci, lf.treated_ci),
			    num(c->holdout),
			    num(c->holdout_converted),
			    pct(lf.holdout_rate),
			    ci(lf.has_holdout_ci, lf.holdout_ci),
			    points(&lf),
			    lift_ci(&lf),
			};
			table_add(&t3, row);
		}
	}
	fputc('\n', out);
	table_print(out, &t3);
	if (r->nsurveys)
		write_surveys(out, r);
}

int cmd_report(struct cli *c)
{
	const char *campaign = NULL, *since = NULL, *format = "table", *output = NULL;
	int machine = 0;
	for (int i = 1; i < c->argc; i++) {
		if (strcmp(c->argv[i], "--include-machine-opens") == 0) {
			machine = 1;
			continue;
		}
		if (cli_opt(c->argc, c->argv, &i, "--campaign", &campaign) ||
		    cli_opt(c->argc, c->argv, &i, "--since", &since) ||
		    cli_opt(c->argc, c->argv, &i, "--format", &format) ||
		    cli_opt(c->argc, c->argv, &i, "--output", &output))
			continue;
		cli_usage_error("report: unknown argument \"%s\"", c->argv[i]);
	}
	if (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "csv") &&
	    strcmp(format, "html"))
		cli_usage_error("report: --format: expected table, json, csv or html, not \"%s\"",
				format);
	int64_t t0 = since ? cli_time("--since", since) : INT64_MIN;
	struct config *cfg = cli_config(c);
	if (campaign && !config_campaign(cfg, campaign))
		cli_usage_error("report: --campaign: no campaign \"%s\" in %s", campaign, cfg->path);
	struct store *s = cli_store(cfg, 1);
	struct err e = {{0}};
	struct report r = {0};
	r.campaign_filter = campaign;
	r.since = t0;
	r.zone = cfg->timezone;
	r.machine_opens = machine;
	int rc = report_build(s, cfg, &r, &e);
	store_close(s);
	FILE *out = stdout;
	if (rc < 0) {
		fprintf(stderr, "outreach: report: %s\n", e.msg);
	} else if (output && !(out = fopen(output, "w"))) {
		fprintf(stderr, "outreach: report: cannot write %s: %s\n", output, strerror(errno));
		rc = -1;
	} else {
		if (strcmp(format, "json") == 0)
			write_json(out, &r, cfg);
		else if (strcmp(format, "csv") == 0)
			write_csv(out, &r);
		else if (strcmp(format, "html") == 0)
			report_html_write(out, &r);
		else
			write_table(out, &r);
		if (fflush(out) != 0 || ferror(out)) {
			fprintf(stderr, "outreach: report: cannot write %s: %s\n",
				output ? output : "the output", strerror(errno));
			rc = -1;
		}
		if (out != stdout && fclose(out) != 0 && rc == 0) {
			fprintf(stderr, "outreach: report: cannot write %s: %s\n", output,
				strerror(errno));
			rc = -1;
		}
	}
	report_release(&r);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

static void print_hist(void *ud, int64_t at, const char *state, const char *reason)
{
	(void)ud;
	char ts[32];
	time_format(at, ts, sizeof(ts));
	printf("  %s  %-10s %s\n", ts, state, reason ? reason : "");
}

static void print_attempt(void *ud, int64_t at, const char *transport, const char *status,
			  const char *code, const char *reason)
{
	(void)ud;
	char ts[32];
	time_format(at, ts, sizeof(ts));
	printf("  %s  %-10s %-6s %s %s\n", ts, transport, status, code ? code : "",
	       reason ? reason : "");
}

int cmd_why(struct cli *c)
{
	if (c->argc != 2)
		cli_usage_error("usage: outreach why SEND_ID");
	char *end;
	long long id = strtoll(c->argv[1], &end, 10);
	if (*end || id <= 0)
		cli_usage_error("why: invalid send id \"%s\"", c->argv[1]);
	struct config *cfg = cli_config(c);
	struct store *s = cli_store(cfg, 1);
	struct err e = {{0}};
	struct send_row r;
	int rc = store_send_get(s, id, &r, &e);
	if (rc == 0) {
		char due[32];
		time_format(r.due_at, due, sizeof(due));
		printf("send %lld: campaign %s step %d to contact %s, template %s, now %s\n", id,
		       r.campaign, r.step + 1, r.contact, r.template ? r.template : "-", r.state);
		printf("due %s, %d attempt%s%s%s%s%s\n", due, r.attempts, r.attempts == 1 ? "" : "s",
		       r.transport ? ", via " : "", r.transport ? r.transport : "",
		       r.message_id ? ", message-id " : "", r.message_id ? r.message_id : "");
		printf("history:\n");
		rc = store_send_history(s, id, print_hist, NULL, &e);
		if (rc == 0 && r.attempts + 1 > 0) {
			printf("attempts:\n");
			rc = store_send_attempts(s, id, print_attempt, NULL, &e);
		}
		send_row_release(&r);
	}
	if (rc < 0)
		fprintf(stderr, "outreach: why: %s\n", e.msg);
	else if (rc == 1)
		fprintf(stderr, "outreach: why: no send %lld\n", id);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : rc == 1 ? EXIT_USAGE : EXIT_OK;
}

/* ---- check ---- */

static const char *const provided[] = {"id",	     "name",	 "email",	    "phone",
				       "timezone",   "locale",	 "event",	    "segment",
				       "segments",   "campaign", "step",	    "unsubscribe_url",
				       "survey_url", "stats",	 "json"};

struct known {
	char **attrs;
	size_t nattrs;
	int have_contacts;
	struct diag *d;
};

static int is_known(void *ud, const char *var)
{
	struct known *k = ud;
	for (size_t i = 0; i < sizeof(provided) / sizeof(provided[0]); i++)
		if (strcmp(provided[i], var) == 0)
			return 1;
	for (size_t i = 0; i < k->nattrs; i++)
		if (strcmp(k->attrs[i], var) == 0)
			return 1;
	/* with no contacts in the store an attribute cannot be ruled out */
	return !k->have_contacts;
}

struct seg_check {
	const struct transport_conf *tc;
	int max;
	struct diag *d;
};

static void seg_check_file(void *ud, const char *path, const char *text)
{
	struct seg_check *sc = ud;
	enum sms_encoding enc;
	int segs = sms_segments(text, strlen(text), &enc);
	if (segs > sc->max)
		diag_error(sc->d, path, 0,
			   "at least %d SMS segments (%s) before any data, and transport \"%s\" "
			   "allows max_segments %d",
			   segs, enc == SMS_UCS2 ? "UCS-2" : "GSM-7", sc->tc->name, sc->max);
}

/* check_segments - with max_segments on an sms transport, the fixed text
 * of every file of the template must fit */
static void check_segments(struct renderer *r, const struct transport_conf *tc, const char *tmpl,
			   struct diag *d)
{
	json_t *v = json_object_get(tc->opts, "max_segments");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return;
	struct seg_check sc = {tc, (int)json_integer_value(v), d};
	render_each_bare(r, tmpl, CHANNEL_SMS, seg_check_file, &sc);
}

int cmd_check(struct cli *c)
{
	if (c->argc != 1)
		cli_usage_error("usage: outreach check");
	struct diag d;
	diag_init(&d);
	struct config *cfg = config_load(c->config_path, &d);
	if (!cfg) {
		diag_print(&d);
		diag_release(&d);
		return EXIT_USAGE;
	}
	struct known k = {0};
	k.d = &d;
	struct err e = {{0}};
	struct store *s = store_open(cfg->store, &e);
	char **types = NULL;
	size_t ntypes = 0;
	if (s && store_ready(s, &e) == 0) {
		int64_t n = 0;
		if (store_attr_keys(s, &k.attrs, &k.nattrs, &n, &e) == 0)
			k.have_contacts = n > 0;
		if (store_event_types(s, &types, &ntypes, &e) < 0)
			ntypes = 0;
	}
	store_close(s);
	if (cfg->encrypt) {
		/* the key is the environment's: check it is there and a key */
		struct pii_keys *pk = pii_keys_from_env(cfg->encrypt_key_env, &e);
		if (!pk)
			diag_error(&d, cfg->path, config_line(cfg, "/encrypt"), "encrypt: %s", e.msg);
		pii_keys_free(pk);
	}
	if (!k.have_contacts)
		diag_warn(&d, cfg->path, 0,
			  "no contacts in the store yet: template variables are not checked "
			  "against attributes");
	/* what segments read that nothing has: warnings, the config stays usable */
	segments_check(cfg, k.attrs, k.nattrs, k.have_contacts, types, ntypes, &d);
	strv_free(types, ntypes);
	policy_free(policy_create(cfg, &d));
	links_check_config(cfg, &d);
	/* every transport's options, as the worker would create it, minus the
	 * secrets (check runs where they may not be set) */
	for (size_t i = 0; i < cfg->ntransports; i++) {
		struct transport *t = transport_create(cfg, &cfg->transports[i], TRANSPORT_CHECK, &e);
		if (!t)
			diag_error(&d, NULL, 0, "%s", e.msg);
		transport_free(t);
	}
	struct renderer *r = renderer_create(cfg->templates);
	/* every (template, channel kind) a campaign can reach, once */
	char **seen = NULL;
	size_t nseen = 0;
	for (size_t i = 0; i < cfg->ncampaigns; i++) {
		const struct campaign_conf *cc = &cfg->campaigns[i];
		for (size_t j = 0; j < cc->nsteps; j++) {
			const struct step_conf *sc = &cc->steps[j];
			size_t nt = sc->nvariants ? sc->nvariants : 1;
			for (size_t v = 0; v < nt; v++) {
				const char *tmpl = sc->nvariants ? sc->variants[v].template : sc->template;
				for (size_t ch = 0; tmpl && ch < sc->nchannels; ch++) {
					const struct transport_conf *tc =
						config_transport(cfg, sc->channels[ch]);
					if (!tc)
						continue;
					char *key = xasprintf("%s/%d", tmpl, (int)tc->channel);
					int dup = 0;
					for (size_t q = 0; q < nseen; q++)
						dup |= strcmp(seen[q], key) == 0;
					if (dup) {
						free(key);
						continue;
					}
					seen = xrealloc(seen, (nseen + 1) * sizeof(*seen));
					seen[nseen++] = key;
					render_check_template(r, tmpl, tc->channel, is_known, &k, &d,
							      cfg->path, sc->line);
					if (tc->channel == CHANNEL_SMS)
						check_segments(r, tc, tmpl, &d);
				}
			}
		}
	}
	strv_free(seen, nseen);
	strv_free(k.attrs, k.nattrs);
	renderer_free(r);
	diag_print(&d);
	int rc = d.errors ? EXIT_USAGE : EXIT_OK;
	if (!d.errors)
		printf("%s: ok (%zu transports, %zu segments, %zu campaigns%s)\n", cfg->path,
		       cfg->ntransports, cfg->nsegments, cfg->ncampaigns,
		       d.warnings ? ", with warnings" : "");
	diag_release(&d);
	config_free(cfg);
	return rc;
}
