/* stats.c - computed attributes (stats.NAME) from a contact's events.
 *
 * Each stat is computed from a handful of window aggregates asked of an
 * expr_env (count, sum and last over [since, until]), the same calls that
 * count(), sum() and last() make in an expression. Beside each value goes
 * the instant it may next change by time alone: when the oldest event of a
 * window leaves it (oldest + window + 1s, as eval_events in expr.c), when
 * an event crosses from the recent 90 days into the 90 days before, or when
 * a day passes for a days_since stat. So a segment over stats is looked at
 * again exactly when it may change, never by scanning every contact.
 *
 * stats_compute puts the same values into a JSON object for templates,
 * reading the store directly. Nothing here writes. stats_memo remembers
 * the answers to the questions asked while one contact is evaluated: the
 * stats share their windows, and so do the segments of one config.
 */
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "xmalloc.h"

#define DAY INT64_C(86400)
#define W12M (365 * DAY)
#define W90 (90 * DAY)
#define W30 (30 * DAY)

enum stat {
	S_SPEND_12M,
	S_PURCHASES_12M,
	S_FREQUENCY_90D,
	S_AVG_ORDER_VALUE,
	S_DAYS_SINCE_PURCHASE,
	S_FREQUENCY_CHANGE,
	S_AMOUNT_CHANGE,
	S_INTERACTION_CHANGE,
	S_COMPLAINTS_30D,
	S_DAYS_SINCE_REPLY,
	S_DAYS_SINCE_CLICK,
	S_RFM_R,
	S_RFM_F,
	S_RFM_M,
	S_RFM,
	S_COUNT
};

static const char *const names[S_COUNT] = {
    [S_SPEND_12M] = "spend_12m",
    [S_PURCHASES_12M] = "purchases_12m",
    [S_FREQUENCY_90D] = "frequency_90d",
    [S_AVG_ORDER_VALUE] = "avg_order_value",
    [S_DAYS_SINCE_PURCHASE] = "days_since_purchase",
    [S_FREQUENCY_CHANGE] = "frequency_change",
    [S_AMOUNT_CHANGE] = "amount_change",
    [S_INTERACTION_CHANGE] = "interaction_change",
    [S_COMPLAINTS_30D] = "complaints_30d",
    [S_DAYS_SINCE_REPLY] = "days_since_reply",
    [S_DAYS_SINCE_CLICK] = "days_since_click",
    [S_RFM_R] = "rfm_r",
    [S_RFM_F] = "rfm_f",
    [S_RFM_M] = "rfm_m",
    [S_RFM] = "rfm",
};

static const struct stats_conf defaults = {
    .recency_days = {30, 90, 180, 365},
    .frequency = {2, 3, 6, 12},
    .monetary = {3000, 10000, 30000, 100000},
};

size_t stats_count(void)
{
	return S_COUNT;
}

const char *stats_name(size_t id)
{
	return id < S_COUNT ? names[id] : NULL;
}

int stats_find(const char *name)
{
	for (size_t i = 0; i < S_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

void stats_conf_default(struct stats_conf *sc)
{
	*sc = defaults;
}

/* One aggregate asked of the environment: what it saw and when it changes. */
struct agg {
	int64_t n;    /* count */
	double total; /* sum */
	int64_t next; /* when the window's content may change by time alone */
	int64_t at;   /* last: the time, TIME_NEVER when none */
};

struct q {
	const struct expr_env *env;
	int64_t now;
	const char *stat;
	struct err *e;
};

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* failed - keep the callback's own message, if it left one */
static int failed(const struct q *q, const char *what)
{
	if (q->e && q->e->msg[0])
		return err_prefix(q->e, "stats.%s: %s", q->stat, what);
	return err_set(q->e, "stats.%s: %s: event lookup failed", q->stat, what);
}

/* window - count (field NULL) or sum of type over [now - w, now]: the
 * oldest event in it leaves at oldest + w + 1 */
static int window(const struct q *q, const char *type, const char *field, int64_t w, struct agg *a)
{
	int64_t oldest = TIME_NEVER;
	int r;
	*a = (struct agg){.next = TIME_NEVER, .at = TIME_NEVER};
	if (field)
		r = q->env->sum(q->env->ud, type, field, q->now - w, q->now, &a->total, &oldest);
	else
		r = q->env->count(q->env->ud, type, q->now - w, q->now, &a->n, &oldest);
	if (r < 0) {
		char what[96];
		snprintf(what, sizeof(what), field ? "sum(%s.%s)" : "count(%s)", type,
			 field ? field : "");
		return failed(q, what);
	}
	if (oldest != TIME_NEVER)
		a->next = oldest + w + 1;
	return 0;
}

/* earlier - the same over the w before that, [now - 2w, now - w - 1]:
 * an event enters it when it leaves the recent window (recent->next) and
 * its oldest leaves it at oldest + 2w + 1 */
static int earlier(const struct q *q, const char *type, const char *field, int64_t w,
		   const struct agg *recent, struct agg *a)
{
	int64_t oldest = TIME_NEVER;
	int r;
	*a = (struct agg){.next = recent->next, .at = TIME_NEVER};
	if (field)
		r = q->env->sum(q->env->ud, type, field, q->now - 2 * w, q->now - w - 1, &a->total,
				&oldest);
	else
		r = q->env->count(q->env->ud, type, q->now - 2 * w, q->now - w - 1, &a->n, &oldest);
	if (r < 0) {
		char what[96];
		snprintf(what, sizeof(what), "%s(%s%s%s) before the last 90 days",
			 field ? "sum" : "count", type, field ? "." : "", field ? field : "");
		return failed(q, what);
	}
	if (oldest != TIME_NEVER)
		a->next = min64(a->next, oldest + 2 * w + 1);
	return 0;
}

/* last - the latest event of type at or before now (a->at, TIME_NEVER: none) */
static int last(const struct q *q, const char *type, struct agg *a)
{
	int64_t at = 0;
	*a = (struct agg){.next = TIME_NEVER, .at = TIME_NEVER};
	int r = q->env->last(q->env->ud, type, q->now, &at);
	if (r < 0) {
		char what[64];
		snprintf(what, sizeof(what), "last(%s)", type);
		return failed(q, what);
	}
	if (r == 0)
		a->at = at;
	return 0;
}

/* days_since - whole days from the latest event of type to now, as
 * days_since(last(type)) in an expression: it steps at at + k days */
static int days_since(const struct q *q, const char *type, struct stats_value *v)
{
	struct agg a;
	if (last(q, type, &a) < 0)
		return -1;
	if (a.at == TIME_NEVER)
		return 0;
	int64_t d = (q->now - a.at) / DAY;
	v->type = STATS_NUM;
	v->num = (double)d;
	v->next = a.at + (d + 1) * DAY;
	v->base = a.at;
	return 0;
}

/* change - (recent - before) / before; null when before is not above 0 */
static void change(double recent, double before, int64_t next, struct stats_value *v)
{
	v->next = next;
	if (!(before > 0))
		return;
	v->type = STATS_NUM;
	v->num = (recent - before) / before;
}

/* score_up - 1 + how many of the four ascending thresholds x reaches */
static int score_up(double x, const double *t)
{
	int s = 1;
	for (int i = 0; i < 4; i++)
		s += x >= t[i];
	return s;
}

/* recency - R from the days since the last purchase: 5 at or under t[0]
 * days, ..., 2 at or under t[3], else 1; it drops the day after each
 * threshold, at base + (t + 1) days */
static void recency(const struct stats_value *days, const double *t, struct stats_value *v)
{
	v->type = STATS_NUM;
	v->num = 1;
	v->next = TIME_NEVER;
	for (int i = 0; i < 4; i++)
		if (days->num <= t[i]) {
			v->num = 5 - i;
			v->next = days->base + ((int64_t)floor(t[i]) + 1) * DAY;
			return;
		}
}

static int rfm(const struct q *q, const struct stats_conf *c, size_t id, struct stats_value *v)
{
	struct stats_value d = {.type = STATS_NULL, .next = TIME_NEVER, .base = TIME_NEVER};
	struct stats_value r = d, f = d, m = d;
	struct agg a;
	if (days_since(q, "purchase", &d) < 0)
		return -1;
	if (d.type == STATS_NULL)
		return 0; /* never purchased: no score */
	if (id == S_RFM_R || id == S_RFM)
		recency(&d, c->recency_days, &r);
	if (id == S_RFM_F || id == S_RFM) {
		if (window(q, "purchase", NULL, W12M, &a) < 0)
			return -1;
		f.type = STATS_NUM;
		f.num = score_up((double)a.n, c->frequency);
		f.next = a.next;
	}
	if (id == S_RFM_M || id == S_RFM) {
		if (window(q, "purchase", "amount", W12M, &a) < 0)
			return -1;
		m.type = STATS_NUM;
		m.num = score_up(a.total, c->monetary);
		m.next = a.next;
	}
	if (id == S_RFM_R)
		*v = r;
	else if (id == S_RFM_F)
		*v = f;
	else if (id == S_RFM_M)
		*v = m;
	else {
		v->type = STATS_STR;
		/* each score is a digit 1..5 */
		v->str[0] = (char)('0' + (int)r.num);
		v->str[1] = (char)('0' + (int)f.num);
		v->str[2] = (char)('0' + (int)m.num);
		v->str[3] = '\0';
		v->next = min64(r.next, min64(f.next, m.next));
	}
	v->base = TIME_NEVER;
	return 0;
}

int stats_value(size_t id, const struct expr_env *env, const struct stats_conf *conf, int64_t now,
		struct stats_value *v, struct err *e)
{
	struct q q = {env, now, stats_name(id), e};
	struct agg a, b, c2, d;
	*v = (struct stats_value){.type = STATS_NULL, .next = TIME_NEVER, .base = TIME_NEVER};
	if (!conf)
		conf = &defaults;
	switch ((enum stat)id) {
	case S_SPEND_12M:
	case S_PURCHASES_12M:
	case S_COMPLAINTS_30D:
		if (window(&q, id == S_COMPLAINTS_30D ? "complaint" : "purchase",
			   id == S_SPEND_12M ? "amount" : NULL, id == S_COMPLAINTS_30D ? W30 : W12M,
			   &a) < 0)
			return -1;
		v->type = STATS_NUM;
		v->num = id == S_SPEND_12M ? a.total : (double)a.n;
		v->next = a.next;
		return 0;
	case S_FREQUENCY_90D:
		if (window(&q, "purchase", NULL, W90, &a) < 0)
			return -1;
		v->type = STATS_NUM;
		v->num = (double)a.n / 3;
		v->next = a.next;
		return 0;
	case S_AVG_ORDER_VALUE:
		if (window(&q, "purchase", NULL, W12M, &a) < 0 ||
		    window(&q, "purchase", "amount", W12M, &b) < 0)
			return -1;
		v->next = min64(a.next, b.next);
		if (a.n > 0) {
			v->type = STATS_NUM;
			v->num = b.total / (double)a.n;
		}
		return 0;
	case S_FREQUENCY_CHANGE:
		if (window(&q, "purchase", NULL, W90, &a) < 0 ||
		    earlier(&q, "purchase", NULL, W90, &a, &b) < 0)
			return -1;
		change((double)a.n, (double)b.n, min64(a.next, b.next), v);
		return 0;
	case S_AMOUNT_CHANGE:
		if (window(&q, "purchase", "amount", W90, &c2) < 0 ||
		    earlier(&q, "purchase", "amount", W90, &c2, &d) < 0)
			return -1;
		change(c2.total, d.total, min64(c2.next, d.next), v);
		return 0;
	case S_INTERACTION_CHANGE: {
		/* replies and clicks together */
		struct agg ra, rb, ca, cb;
		if (window(&q, "replied", NULL, W90, &ra) < 0 ||
		    earlier(&q, "replied", NULL, W90, &ra, &rb) < 0 ||
		    window(&q, "clicked", NULL, W90, &ca) < 0 ||
		    earlier(&q, "clicked", NULL, W90, &ca, &cb) < 0)
			return -1;
		change((double)(ra.n + ca.n), (double)(rb.n + cb.n),
		       min64(min64(ra.next, rb.next), min64(ca.next, cb.next)), v);
		return 0;
	}
	case S_DAYS_SINCE_PURCHASE:
		return days_since(&q, "purchase", v);
	case S_DAYS_SINCE_REPLY:
		return days_since(&q, "replied", v);
	case S_DAYS_SINCE_CLICK:
		return days_since(&q, "clicked", v);
	case S_RFM_R:
	case S_RFM_F:
	case S_RFM_M:
	case S_RFM:
		return rfm(&q, conf, id, v);
	case S_COUNT:
		break;
	}
	return err_set(e, "stats: no stat %zu", id);
}

/* ---- memo ---- */

#define MEMO_MAX 256

static int same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static struct stats_memo_entry *memo_find(struct stats_memo *m, char kind, const char *type,
					  const char *field, int64_t since, int64_t until)
{
	for (size_t i = 0; i < m->n; i++) {
		struct stats_memo_entry *q = &m->q[i];
		if (q->kind == kind && q->since == since && q->until == until &&
		    same(q->type, type) && same(q->field, field))
			return q;
	}
	return NULL;
}

/* memo_add - remember an answer, while there is room */
static struct stats_memo_entry *memo_add(struct stats_memo *m, char kind, const char *type,
					 const char *field, int64_t since, int64_t until)
{
	if (m->n == MEMO_MAX)
		return NULL;
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 16;
		m->q = xrealloc(m->q, m->cap * sizeof(*m->q));
	}
	struct stats_memo_entry *q = &m->q[m->n++];
	*q = (struct stats_memo_entry){.kind = kind,
				       .type = xstrdup(type),
				       .field = field ? xstrdup(field) : NULL,
				       .since = since,
				       .until = until};
	return q;
}

static json_t *memo_attr(void *ud, const char *name)
{
	struct stats_memo *m = ud;
	return m->inner->attr(m->inner->ud, name);
}

static int memo_count(void *ud, const char *type, int64_t since, int64_t until, int64_t *n,
		      int64_t *oldest)
{
	struct stats_memo *m = ud;
	struct stats_memo_entry *q = memo_find(m, 'c', type, NULL, since, until);
	if (!q) {
		m->asked++;
		if (m->inner->count(m->inner->ud, type, since, until, n, oldest) < 0)
			return -1;
		if ((q = memo_add(m, 'c', type, NULL, since, until))) {
			q->n = *n;
			q->oldest = *oldest;
		}
		return 0;
	}
	*n = q->n;
	*oldest = q->oldest;
	return 0;
}

static int memo_sum(void *ud, const char *type, const char *field, int64_t since, int64_t until,
		    double *total, int64_t *oldest)
{
	struct stats_memo *m = ud;
	struct stats_memo_entry *q = memo_find(m, 's', type, field, since, until);
	if (!q) {
		m->asked++;
		if (m->inner->sum(m->inner->ud, type, field, since, until, total, oldest) < 0)
			return -1;
		if ((q = memo_add(m, 's', type, field, since, until))) {
			q->total = *total;
			q->oldest = *oldest;
		}
		return 0;
	}
	*total = q->total;
	*oldest = q->oldest;
	return 0;
}

static int memo_last(void *ud, const char *type, int64_t until, int64_t *at)
{
	struct stats_memo *m = ud;
	struct stats_memo_entry *q = memo_find(m, 'l', type, NULL, 0, until);
	int rc;
	if (!q) {
		m->asked++;
		if ((rc = m->inner->last(m->inner->ud, type, until, at)) < 0)
			return -1;
		if ((q = memo_add(m, 'l', type, NULL, 0, until))) {
			q->rc = rc;
			q->at = *at;
		}
		return rc;
	}
	if (q->rc == 0)
		*at = q->at;
	return q->rc;
}

void stats_memo_init(struct stats_memo *m, const struct expr_env *inner)
{
	*m = (struct stats_memo){
	    .env = {m, memo_attr, memo_count, memo_sum, memo_last, inner->stats},
	    .inner = inner,
	};
}

void stats_memo_release(struct stats_memo *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->q[i].type);
		free(m->q[i].field);
	}
	free(m->q);
	m->q = NULL;
	m->n = m->cap = 0;
}

/* ---- over the store ---- */

struct store_ud {
	struct store *s;
	const char *contact;
	struct err *e;
};

static json_t *no_attr(void *ud, const char *name)
{
	(void)ud;
	(void)name;
	return NULL;
}

static int st_count(void *p, const char *type, int64_t since, int64_t until, int64_t *n,
		    int64_t *oldest)
{
	struct store_ud *u = p;
	return store_event_count(u->s, u->contact, type, since, until, n, oldest, u->e);
}

static int st_sum(void *p, const char *type, const char *field, int64_t since, int64_t until,
		  double *total, int64_t *oldest)
{
	struct store_ud *u = p;
	return store_event_sum(u->s, u->contact, type, field, since, until, total, oldest, u->e);
}

static int st_last(void *p, const char *type, int64_t until, int64_t *at)
{
	struct store_ud *u = p;
	return store_event_last(u->s, u->contact, type, until, at, u->e);
}

int stats_compute(struct store *s, const struct stats_conf *conf, const char *contact, int64_t now,
		  json_t **out, struct err *e)
{
	struct store_ud u = {s, contact, e};
	struct expr_env env = {&u, no_attr, st_count, st_sum, st_last, conf};
	struct stats_memo m;
	json_t *o = json_object();
	*out = NULL;
	stats_memo_init(&m, &env); /* the stats share their windows */
	for (size_t i = 0; i < S_COUNT; i++) {
		struct stats_value v;
		err_clear(e); /* so that a store's message can be told from none */
		if (stats_value(i, &m.env, conf, now, &v, e) < 0) {
			stats_memo_release(&m);
			json_decref(o);
			return -1;
		}
		/* for people: whole numbers as integers, the rest to 2 decimals */
		double x = round(v.num * 100) / 100;
		json_t *j = json_null();
		if (v.type == STATS_STR)
			j = json_string(v.str);
		else if (v.type == STATS_NUM && x == floor(x) && fabs(x) < 1e15)
			j = json_integer((json_int_t)x);
		else if (v.type == STATS_NUM && isfinite(x))
			j = json_real(x);
		json_object_set_new(o, names[i], j);
	}
	stats_memo_release(&m);
	*out = o;
	return 0;
}

int stats_context(struct store *s, const struct stats_conf *conf, const char *contact, int64_t now,
		  json_t *ctx, struct err *e)
{
	json_t *o;
	if (stats_compute(s, conf, contact, now, &o, e) < 0)
		return -1;
	json_object_set_new(ctx, "stats", o);
	return 0;
}
