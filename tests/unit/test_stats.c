/* test_stats.c - computed attributes over a real (in-memory SQLite) store
 *
 * Generated histories: seeded random purchases, complaints, replies and
 * clicks over 500 days for a few contacts; every stat stats_compute gives
 * is checked against a brute-force count written here from the definitions
 * in stats.h, at several instants. Then the `stats:` config key (defaults,
 * overrides, refusals), segment_explain on the store, and check's warnings
 * from segments_check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "contact.h"
#include "diag.h"
#include "err.h"
#include "schedule.h"
#include "stats.h"
#include "store.h"
#include "store_url.h"
#include "timeutil.h"

#define DAY INT64_C(86400)
#define NOW INT64_C(1772323200) /* 2026-03-01T00:00:00Z */
#define MAXEV 64

struct gen_event {
	const char *type;
	int64_t at;
	int amount;
};

struct history {
	struct gen_event ev[MAXEV];
	size_t n;
};

static uint64_t rng = 0x2545F4914F6CDD1Du;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int64_t rnd_in(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static struct store *open_store(void)
{
	struct err e = {{0}};
	struct store *s = store_open(test_store_url(":memory:"), &e);
	int from, to;
	if (!s || store_migrate(s, &from, &to, &e) != 0)
		fail_msg("store: %s", e.msg);
	return s;
}

static void add_contact(struct store *s, const char *id)
{
	struct err e = {{0}};
	struct contact c;
	memset(&c, 0, sizeof(c));
	c.id = (char *)id;
	c.do_not_contact = -1;
	for (int k = 0; k < CHANNEL_NKINDS; k++)
		c.unsub[k] = -1;
	if (store_contact_upsert(s, &c, NOW, &e) != 0)
		fail_msg("upsert %s: %s", id, e.msg);
}

static void add_event(struct store *s, const char *contact, const struct gen_event *g)
{
	struct err e = {{0}};
	struct event ev = {0};
	int64_t id;
	int ins;
	ev.contact_id = (char *)contact;
	ev.type = (char *)g->type;
	ev.at = g->at;
	ev.data = json_pack("{s:i, s:i}", "amount", g->amount, "n", (int)rnd_in(0, 1 << 30));
	if (store_event_add(s, &ev, NOW, &id, &ins, &e) != 0)
		fail_msg("event: %s", e.msg);
	json_decref(ev.data);
}

/* generate - k events over the 500 days before NOW (some after it, which
 * no stat may count yet), mostly purchases */
static void generate(struct history *h, size_t k)
{
	static const char *const types[] = {"purchase", "purchase", "purchase", "complaint",
					    "replied",	"clicked",  "opened"};
	h->n = 0;
	for (size_t i = 0; i < k && i < MAXEV; i++) {
		struct gen_event *g = &h->ev[h->n++];
		g->type = types[rnd() % (sizeof(types) / sizeof(types[0]))];
		g->at = NOW - rnd_in(-10 * DAY, 500 * DAY);
		g->amount = (int)rnd_in(0, 40) * 1000;
	}
}

/* ---- the oracle: the definitions of stats.h, by brute force ---- */

static int64_t count_in(const struct history *h, const char *type, int64_t from, int64_t to,
			double *sum)
{
	int64_t n = 0;
	if (sum)
		*sum = 0;
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->ev[i].type, type) == 0 && h->ev[i].at >= from && h->ev[i].at <= to) {
			n++;
			if (sum)
				*sum += h->ev[i].amount;
		}
	return n;
}

/* days since the latest type at or before now, -1 when none */
static int64_t days_since(const struct history *h, const char *type, int64_t now)
{
	int64_t last = INT64_MIN;
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->ev[i].type, type) == 0 && h->ev[i].at <= now && h->ev[i].at > last)
			last = h->ev[i].at;
	return last == INT64_MIN ? -1 : (now - last) / DAY;
}

/* oracle - stat name at now into *x; 0 when null */
static int oracle(const struct history *h, const char *name, int64_t now, double *x, char *rfm)
{
	double s12, s90, sb;
	int64_t n12 = count_in(h, "purchase", now - 365 * DAY, now, &s12);
	int64_t n90 = count_in(h, "purchase", now - 90 * DAY, now, &s90);
	int64_t nb = count_in(h, "purchase", now - 180 * DAY, now - 90 * DAY - 1, &sb);
	int64_t dp = days_since(h, "purchase", now);
	if (strcmp(name, "spend_12m") == 0)
		*x = s12;
	else if (strcmp(name, "purchases_12m") == 0)
		*x = (double)n12;
	else if (strcmp(name, "frequency_90d") == 0)
		*x = n90 / 3.0;
	else if (strcmp(name, "avg_order_value") == 0) {
		if (n12 == 0)
			return 0;
		*x = s12 / (double)n12;
	} else if (strcmp(name, "days_since_purchase") == 0) {
		if (dp < 0)
			return 0;
		*x = (double)dp;
	} else if (strcmp(name, "frequency_change") == 0) {
		if (nb == 0)
			return 0;
		*x = (double)(n90 - nb) / (double)nb;
	} else if (strcmp(name, "amount_change") == 0) {
		if (!(sb > 0))
			return 0;
		*x = (s90 - sb) / sb;
	} else if (strcmp(name, "interaction_change") == 0) {
		int64_t r = count_in(h, "replied", now - 90 * DAY, now, NULL) +
			    count_in(h, "clicked", now - 90 * DAY, now, NULL);
		int64_t b = count_in(h, "replied", now - 180 * DAY, now - 90 * DAY - 1, NULL) +
			    count_in(h, "clicked", now - 180 * DAY, now - 90 * DAY - 1, NULL);
		if (b == 0)
			return 0;
		*x = (double)(r - b) / (double)b;
	} else if (strcmp(name, "complaints_30d") == 0)
		*x = (double)count_in(h, "complaint", now - 30 * DAY, now, NULL);
	else if (strcmp(name, "days_since_reply") == 0 || strcmp(name, "days_since_click") == 0) {
		int64_t d = days_since(h, name[11] == 'r' ? "replied" : "clicked", now);
		if (d < 0)
			return 0;
		*x = (double)d;
	} else {
		/* R 5 up to 30 days, 4 up to 90, 3 up to 180, 2 up to 365, else 1;
		 * F and M 1 plus each threshold reached */
		int r, f = 1, m = 1;
		if (dp < 0)
			return 0;
		r = dp <= 30 ? 5 : dp <= 90 ? 4 : dp <= 180 ? 3 : dp <= 365 ? 2 : 1;
		f += (n12 >= 2) + (n12 >= 3) + (n12 >= 6) + (n12 >= 12);
		m += (s12 >= 3000) + (s12 >= 10000) + (s12 >= 30000) + (s12 >= 100000);
		snprintf(rfm, 8, "%d%d%d", r, f, m);
		*x = strcmp(name, "rfm_r") == 0 ? r : strcmp(name, "rfm_f") == 0 ? f : m;
	}
	return 1;
}

/* test_generated - every stat against the oracle, for 40 histories at 6
 * instants each (NOW, and later ones where windows have moved) */
static void test_generated(void **state)
{
	static const int64_t later[] = {0, DAY / 2, 29 * DAY, 91 * DAY, 200 * DAY, 400 * DAY};
	int bad = 0, nonnull = 0;
	(void)state;
	for (int c = 0; c < 40; c++) {
		struct store *s = open_store();
		struct history h;
		char id[16];
		snprintf(id, sizeof(id), "c%d", c);
		add_contact(s, id);
		generate(&h, (size_t)rnd_in(0, c < 10 ? 6 : 40));
		for (size_t i = 0; i < h.n; i++)
			add_event(s, id, &h.ev[i]);
		for (size_t t = 0; t < sizeof(later) / sizeof(later[0]); t++) {
			int64_t now = NOW + later[t];
			struct err e = {{0}};
			json_t *o = NULL;
			assert_int_equal(stats_compute(s, NULL, id, now, &o, &e), 0);
			assert_int_equal(json_object_size(o), stats_count());
			for (size_t k = 0; k < stats_count(); k++) {
				const char *name = stats_name(k);
				json_t *v = json_object_get(o, name);
				char rfm[8] = "";
				double want = 0;
				int have = oracle(&h, name, now, &want, rfm);
				assert_non_null(v);
				if (strcmp(name, "rfm") == 0) {
					if (have ? !json_is_string(v) ||
						       strcmp(json_string_value(v), rfm) != 0
						 : !json_is_null(v)) {
						print_error("%s at %+lld: rfm %s, want %s\n", id,
							    (long long)later[t],
							    json_is_string(v) ? json_string_value(v)
									      : "null",
							    have ? rfm : "null");
						bad++;
					}
					continue;
				}
				nonnull += have;
				want = round(want * 100) / 100;
				if (have ? !json_is_number(v) || json_number_value(v) != want
					 : !json_is_null(v)) {
					print_error("%s at %+lld: %s is %g (%s), want %g (%s)\n",
						    id, (long long)later[t], name,
						    json_number_value(v),
						    json_is_null(v) ? "null" : "number", want,
						    have ? "number" : "null");
					bad++;
				}
			}
			json_decref(o);
		}
		store_close(s);
	}
	assert_int_equal(bad, 0);
	assert_true(nonnull > 500); /* the histories do produce values */
}

/* a contact with no events: counts are 0, the rest null */
static void test_empty(void **state)
{
	struct store *s = open_store();
	struct err e = {{0}};
	json_t *o;
	char *text;
	(void)state;
	add_contact(s, "c1");
	assert_int_equal(stats_compute(s, NULL, "c1", NOW, &o, &e), 0);
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(text,
			    "{\"spend_12m\":0,\"purchases_12m\":0,\"frequency_90d\":0,"
			    "\"avg_order_value\":null,\"days_since_purchase\":null,"
			    "\"frequency_change\":null,\"amount_change\":null,"
			    "\"interaction_change\":null,\"complaints_30d\":0,"
			    "\"days_since_reply\":null,\"days_since_click\":null,\"rfm_r\":null,"
			    "\"rfm_f\":null,\"rfm_m\":null,\"rfm\":null}");
	free(text);
	json_decref(o);
	store_close(s);
}

/* the names: every one found, nothing else */
static void test_names(void **state)
{
	(void)state;
	assert_int_equal(stats_count(), 15);
	for (size_t i = 0; i < stats_count(); i++)
		assert_int_equal(stats_find(stats_name(i)), (int)i);
	assert_int_equal(stats_find("stats.spend_12m"), -1);
	assert_int_equal(stats_find("spend"), -1);
	assert_int_equal(stats_find(""), -1);
	assert_null(stats_name(stats_count()));
}

/* an environment that counts its questions and can fail the first ones */
struct counting {
	int calls, fail;
	struct err *e;
};

static json_t *cnt_attr(void *ud, const char *name)
{
	(void)ud;
	(void)name;
	return NULL;
}

static int cnt_count(void *ud, const char *type, int64_t since, int64_t until, int64_t *n,
		     int64_t *oldest)
{
	struct counting *c = ud;
	c->calls++;
	if (c->fail-- > 0)
		return err_set(c->e, "store: busy");
	*n = strcmp(type, "purchase") == 0 ? 2 : 0;
	*oldest = *n ? (since + until) / 2 : TIME_NEVER;
	return 0;
}

static int cnt_sum(void *ud, const char *type, const char *field, int64_t since, int64_t until,
		   double *total, int64_t *oldest)
{
	int64_t n = 0;
	int rc = cnt_count(ud, type, since, until, &n, oldest);
	(void)field;
	*total = (double)n * 1500;
	return rc;
}

static int cnt_last(void *ud, const char *type, int64_t until, int64_t *at)
{
	struct counting *c = ud;
	c->calls++;
	if (c->fail-- > 0)
		return err_set(c->e, "store: busy");
	if (strcmp(type, "purchase") != 0)
		return 1;
	*at = until - 3 * DAY;
	return 0;
}

/* stats_memo: one question each, the same answers, failures not kept */
static void test_memo(void **state)
{
	struct err e = {{0}};
	struct counting c = {0, 0, &e};
	struct expr_env inner = {&c, cnt_attr, cnt_count, cnt_sum, cnt_last, NULL};
	struct stats_memo m;
	struct stats_value direct, memo;
	int distinct;
	(void)state;

	for (size_t i = 0; i < stats_count(); i++)
		assert_int_equal(stats_value(i, &inner, NULL, NOW, &direct, &e), 0);
	distinct = c.calls; /* with repeats: the stats share windows */
	c.calls = 0;
	stats_memo_init(&m, &inner);
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < stats_count(); i++) {
			assert_int_equal(stats_value(i, &inner, NULL, NOW, &direct, &e), 0);
			assert_int_equal(stats_value(i, &m.env, NULL, NOW, &memo, &e), 0);
			assert_int_equal(memo.type, direct.type);
			assert_true(memo.num == direct.num && memo.next == direct.next &&
				    memo.base == direct.base);
			assert_string_equal(memo.str,
					    direct.type == STATS_STR ? direct.str : memo.str);
		}
	assert_true(m.asked > 0 && (int)m.asked < distinct);
	assert_int_equal(c.calls, 3 * distinct + (int)m.asked);
	stats_memo_release(&m);

	/* a failed question is asked again next time */
	stats_memo_init(&m, &inner);
	c.fail = 1;
	assert_int_equal(stats_value(0, &m.env, NULL, NOW, &memo, &e), -1);
	assert_string_equal(e.msg, "stats.spend_12m: sum(purchase.amount): store: busy");
	assert_int_equal(stats_value(0, &m.env, NULL, NOW, &memo, &e), 0);
	assert_true(memo.type == STATS_NUM && memo.num == 3000);
	assert_int_equal(m.asked, 2);
	stats_memo_release(&m);
}

/* stats_context: the object under "stats", beside what is there */
static void test_context(void **state)
{
	struct store *s = open_store();
	struct err e = {{0}};
	struct gen_event g = {"purchase", NOW - DAY, 2500};
	json_t *ctx = json_pack("{s:s}", "name", "Ann");
	(void)state;
	add_contact(s, "c1");
	add_event(s, "c1", &g);
	assert_int_equal(stats_context(s, NULL, "c1", NOW, ctx, &e), 0);
	assert_string_equal(json_string_value(json_object_get(ctx, "name")), "Ann");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(ctx, "stats"), "spend_12m")), 2500);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(ctx, "stats"), "rfm")), "511");
	json_decref(ctx);
	store_close(s);
}

static struct config *load(const char *yaml, struct diag *d)
{
	diag_init(d);
	return config_load_mem("t.yaml", yaml, strlen(yaml), d);
}

/* `stats: {rfm: ...}` sets the thresholds; bad lists are refused by line */
static void test_config(void **state)
{
	static const struct {
		const char *yaml, *diag;
	} bad[] = {
	    {"stats:\n  rfm:\n    recency_days: [30, 90, 180]\n",
	     "t.yaml:3: stats.rfm: recency_days must be four ascending whole numbers, not "
	     "\"[30,90,180]\""},
	    {"stats:\n  rfm:\n    recency_days: [30, 90, 180.5, 365]\n",
	     "t.yaml:3: stats.rfm: recency_days must be four ascending whole numbers, not "
	     "\"[30,90,180.5,365]\""},
	    {"stats:\n  rfm:\n    frequency: [2, 2, 6, 12]\n",
	     "t.yaml:3: stats.rfm: frequency must be four ascending numbers, not \"[2,2,6,12]\""},
	    {"stats:\n  rfm:\n    monetary: [-1, 10, 30, 100]\n",
	     "t.yaml:3: stats.rfm: monetary must be four ascending numbers, not "
	     "\"[-1,10,30,100]\""},
	    {"stats:\n  rfm:\n    monetary: \"3000 10000\"\n",
	     "t.yaml:3: stats.rfm: monetary must be four ascending numbers, not \"3000 10000\""},
	    {"stats: 5\n", "t.yaml:1: stats must be a mapping"},
	    {"stats:\n  rfm: [1]\n", "t.yaml:2: stats: rfm must be a mapping"},
	    {"stats:\n  rfm_r: [1]\n", "t.yaml:2: warning: unknown key \"rfm_r\""},
	};
	struct diag d;
	struct config *c;
	struct stats_conf def;
	(void)state;

	stats_conf_default(&def);
	c = load("store: x\n", &d);
	assert_non_null(c);
	assert_int_equal(d.errors, 0);
	assert_memory_equal(&c->stats, &def, sizeof(def));
	config_free(c);
	diag_release(&d);

	c = load(
	    "stats:\n  rfm:\n    recency_days: [7, 14, 30, 60]\n    monetary: [1, 2, 3.5, 4]\n",
	    &d);
	assert_non_null(c);
	assert_int_equal(d.errors, 0);
	assert_true(c->stats.recency_days[0] == 7 && c->stats.recency_days[3] == 60);
	assert_true(c->stats.monetary[2] == 3.5);
	assert_memory_equal(c->stats.frequency, def.frequency, sizeof(def.frequency));
	config_free(c);
	diag_release(&d);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = load(bad[i].yaml, &d);
		if (d.n != 1 || strcmp(d.msgs[0], bad[i].diag) != 0)
			fail_msg("case %zu: %zu messages, first \"%s\", want \"%s\"", i, d.n,
				 d.n ? d.msgs[0] : "", bad[i].diag);
		config_free(c);
		diag_release(&d);
	}
}

/* segment_explain over the store, with the config's thresholds */
static void test_explain_store(void **state)
{
	static const char yaml[] =
	    "stats:\n  rfm:\n    recency_days: [1, 2, 3, 4]\n"
	    "segments:\n"
	    "  churn_risk: stats.frequency_change <= -0.5 or stats.complaints_30d > 0\n"
	    "  lapsed: stats.rfm_r == 1\n";
	struct store *s = open_store();
	struct diag d;
	struct config *cfg = load(yaml, &d);
	struct gen_event evs[] = {
	    {"purchase", NOW - 150 * DAY, 1000},
	    {"purchase", NOW - 120 * DAY, 1000},
	    {"purchase", NOW - 100 * DAY, 1000},
	    {"purchase", NOW - 10 * DAY, 1000},
	};
	struct contact ct;
	struct err e = {{0}};
	struct buf b = BUF_INIT;
	int member;
	(void)state;
	assert_non_null(cfg);
	assert_int_equal(d.errors, 0);
	add_contact(s, "c1");
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		add_event(s, "c1", &evs[i]);
	assert_int_equal(store_contact_get(s, "c1", &ct, &e), 0);
	assert_int_equal(segment_explain(s, cfg, &ct, 0, NOW, &member, &b, &e), 0);
	assert_int_equal(member, 1);
	assert_string_equal(buf_cstr(&b), "stats.frequency_change <= -0.5 (-0.67)");
	buf_reset(&b);
	/* 10 days since the last purchase, past the config's 4: R is 1 */
	assert_int_equal(segment_explain(s, cfg, &ct, 1, NOW, &member, &b, &e), 0);
	assert_int_equal(member, 1);
	assert_string_equal(buf_cstr(&b), "stats.rfm_r == 1 (1)");
	buf_reset(&b);
	assert_int_equal(segment_explain(s, cfg, &ct, 2, NOW, &member, &b, &e), -1);
	buf_release(&b);
	contact_release(&ct);
	config_free(cfg);
	diag_release(&d);
	store_close(s);
}

/* check's warnings: what the segments read that nothing has */
static void test_segments_check(void **state)
{
	static const char yaml[] =
	    "segments:\n"
	    "  a: spend_12m >= 1 and tier == \"gold\" and email != null and spend_12m < 9\n"
	    "  b: cnt(purchase, 30d) > 0 or stats.bogus > 1 or stats.rfm == \"555\"\n"
	    "  c: count(visit, 7d) > 0 or count(signup, 1d) > 0 or count(webinar, 1d) > 0\n"
	    "  d: count(purchase, 7d) > 0 and count(opened, 7d) > 0 and count(promo, 1d) > 0\n"
	    "campaigns:\n"
	    "  hello:\n"
	    "    trigger: {event: signup}\n"
	    "    goal: {event: promo}\n"
	    "    steps:\n"
	    "      - {after: 0h, channels: [email], template: t, unless: [webinar]}\n"
	    "transports:\n"
	    "  email: {kind: outbox, channel: email}\n";
	static const char *const want[] = {
	    "t.yaml:2: warning: segment \"a\": no contact has attribute \"spend_12m\" (null for "
	    "all: a comparison with it is false); did you mean stats.spend_12m?",
	    "t.yaml:3: warning: segment \"b\": unknown function \"cnt\", always null (use count, "
	    "sum, last, days_since)",
	    "t.yaml:3: warning: segment \"b\": unknown computed attribute \"stats.bogus\", always "
	    "null (stats.: spend_12m, purchases_12m, frequency_90d, avg_order_value, "
	    "days_since_purchase, frequency_change, amount_change, interaction_change, "
	    "complaints_30d, days_since_reply, days_since_click, rfm_r, rfm_f, rfm_m, rfm)",
	    "t.yaml:4: warning: segment \"c\": unknown event type \"visit\": none in the store and "
	    "no campaign names it",
	};
	char *attrs[] = {"tier"}, *types[] = {"purchase"};
	struct diag d, w;
	struct config *cfg = load(yaml, &d);
	(void)state;
	assert_non_null(cfg);
	assert_int_equal(d.errors, 0);

	diag_init(&w);
	segments_check(cfg, attrs, 1, 1, types, 1, &w);
	for (size_t i = 0; i < w.n || i < sizeof(want) / sizeof(want[0]); i++)
		if (i >= w.n || i >= sizeof(want) / sizeof(want[0]) || strcmp(w.msgs[i], want[i]))
			fail_msg("warning %zu: \"%s\", want \"%s\"", i, i < w.n ? w.msgs[i] : "",
				 i < sizeof(want) / sizeof(want[0]) ? want[i] : "");
	assert_int_equal(w.errors, 0);
	diag_release(&w);

	/* no contacts yet: attributes cannot be ruled out; a type the store has
	 * is known */
	char *types2[] = {"purchase", "visit"};
	diag_init(&w);
	segments_check(cfg, NULL, 0, 0, types2, 2, &w);
	assert_int_equal(w.n, 2);
	assert_non_null(strstr(w.msgs[0], "unknown function \"cnt\""));
	assert_non_null(strstr(w.msgs[1], "\"stats.bogus\""));
	diag_release(&w);
	config_free(cfg);
	diag_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generated),	  cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_names),	  cmocka_unit_test(test_config),
	    cmocka_unit_test(test_explain_store), cmocka_unit_test(test_segments_check),
	    cmocka_unit_test(test_memo),	  cmocka_unit_test(test_context),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
