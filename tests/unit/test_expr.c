/* test_expr.c - segment expressions: evaluation, next_change, parse errors,
 * computed attributes (stats.NAME), explanations
 *
 * A fake environment holds attributes as a JSON object and events in an
 * array. Every evaluated case is also checked by brute force: the result
 * must stay the same at every hour and at every instant where a window edge
 * or a day step falls, from now up to next_change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "expr.h"
#include "stats.h"
#include "timeutil.h"
#include "xmalloc.h"

#define DAY INT64_C(86400)
#define NOW INT64_C(1772323200) /* 2026-03-01T00:00:00Z */
#define MAXEV 16

struct fake_event {
	char type[16];
	int64_t at;
	json_t *data;
};

struct fake {
	json_t *attrs;
	struct fake_event ev[MAXEV];
	size_t nev;
	int fail;	 /* callbacks fail ... */
	struct err *err; /* ... and say why here, when set */
};

static json_t *fake_attr(void *ud, const char *name)
{
	return json_object_get(((struct fake *)ud)->attrs, name);
}

static int fake_count(void *ud, const char *type, int64_t since, int64_t now, int64_t *n,
		      int64_t *oldest)
{
	struct fake *f = ud;
	*n = 0;
	*oldest = TIME_NEVER;
	if (f->fail)
		return err_set(f->err, "store: disk I/O error");
	for (size_t i = 0; i < f->nev; i++)
		if (strcmp(f->ev[i].type, type) == 0 && f->ev[i].at >= since &&
		    f->ev[i].at <= now) {
			(*n)++;
			if (f->ev[i].at < *oldest)
				*oldest = f->ev[i].at;
		}
	return 0;
}

static int fake_sum(void *ud, const char *type, const char *field, int64_t since, int64_t now,
		    double *total, int64_t *oldest)
{
	struct fake *f = ud;
	*total = 0;
	*oldest = TIME_NEVER;
	if (f->fail)
		return err_set(f->err, "store: disk I/O error");
	for (size_t i = 0; i < f->nev; i++)
		if (strcmp(f->ev[i].type, type) == 0 && f->ev[i].at >= since &&
		    f->ev[i].at <= now) {
			json_t *v = json_object_get(f->ev[i].data, field);
			if (json_is_number(v))
				*total += json_number_value(v);
			if (f->ev[i].at < *oldest)
				*oldest = f->ev[i].at;
		}
	return 0;
}

static int fake_last(void *ud, const char *type, int64_t now, int64_t *at)
{
	struct fake *f = ud;
	int found = 0;
	if (f->fail)
		return err_set(f->err, "store: disk I/O error");
	for (size_t i = 0; i < f->nev; i++)
		if (strcmp(f->ev[i].type, type) == 0 && f->ev[i].at <= now &&
		    (!found || f->ev[i].at > *at)) {
			*at = f->ev[i].at;
			found = 1;
		}
	return !found;
}

static struct expr_env fake_env(struct fake *f)
{
	struct expr_env env = {f, fake_attr, fake_count, fake_sum, fake_last, NULL};
	return env;
}

static void fake_release(struct fake *f)
{
	json_decref(f->attrs);
	for (size_t i = 0; i < f->nev; i++)
		json_decref(f->ev[i].data);
	memset(f, 0, sizeof(*f));
}

static void fake_add(struct fake *f, const char *type, int64_t at, json_t *data)
{
	assert_true(f->nev < MAXEV);
	snprintf(f->ev[f->nev].type, sizeof(f->ev[f->nev].type), "%s", type);
	f->ev[f->nev].at = at;
	f->ev[f->nev].data = data ? data : json_object();
	f->nev++;
}

/* offset - "-10d", "+20d1s", "0" or "never" relative to NOW */
static int64_t offset(const char *s)
{
	int64_t d;
	if (strcmp(s, "never") == 0)
		return TIME_NEVER;
	if (strcmp(s, "0") == 0)
		return NOW;
	assert_true(s[0] == '-' || s[0] == '+');
	assert_int_equal(duration_parse(s + 1, &d), 0);
	return s[0] == '-' ? NOW - d : NOW + d;
}

/* fake_load - attributes as a JSON object; events as [[TYPE, OFFSET, DATA?], ...] */
static void fake_load(struct fake *f, const char *attrs, const char *events)
{
	json_error_t je;
	json_t *evs;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->attrs = json_loads(attrs, 0, &je);
	evs = json_loads(events, 0, &je);
	assert_non_null(f->attrs);
	assert_non_null(evs);
	for (i = 0; i < json_array_size(evs); i++) {
		json_t *ev = json_array_get(evs, i), *data = json_array_get(ev, 2);
		fake_add(f, json_string_value(json_array_get(ev, 0)),
			 offset(json_string_value(json_array_get(ev, 1))),
			 data ? json_incref(data) : NULL);
	}
	json_decref(evs);
}

/* every window the tests use: check_stable() tries each one's edges */
static const char *const windows[] = {"1h",  "90m", "1d",  "1d12h", "7d",
				      "30d", "45d", "90d", "365d",  "180d"};

static int64_t window(size_t i)
{
	int64_t w;
	assert_int_equal(duration_parse(windows[i], &w), 0);
	return w;
}

static int eval_at(const struct expr *x, struct fake *f, int64_t t, int64_t *next)
{
	struct expr_env env = fake_env(f);
	struct err e = {""};
	int64_t nc;
	int r;
	assert_int_equal(expr_eval(x, &env, t, &r, next ? next : &nc, &e), 0);
	return r;
}

/* eval_memo - the same through a stats_memo, twice (the second answers
 * from memory): both must agree with eval_at */
static void check_memo(const struct expr *x, struct fake *f, int64_t t, int r0, int64_t next0,
		       const char *src)
{
	struct expr_env env = fake_env(f);
	struct stats_memo m;
	struct err e = {""};
	int64_t next;
	int r;
	size_t asked;
	stats_memo_init(&m, &env);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(expr_eval(x, &m.env, t, &r, &next, &e), 0);
		if (r != r0 || next != next0)
			fail_msg("%s: through the memo %d next %lld, want %d next %lld", src, r,
				 (long long)next, r0, (long long)next0);
		if (round == 0)
			asked = m.asked;
	}
	assert_int_equal(m.asked, asked); /* nothing asked twice */
	stats_memo_release(&m);
}

static int differs(const struct expr *x, struct fake *f, int64_t t, int r0, const char *src)
{
	if (eval_at(x, f, t, NULL) == r0)
		return 0;
	print_error("%s: result changed at now%+lld before next_change\n", src,
		    (long long)(t - NOW));
	return 1;
}

/* check_stable - the result must not change in (now, next): try every hour
 * and, around each event and time attribute, every window edge and day step */
static int check_stable(const struct expr *x, struct fake *f, int64_t now, int r0, int64_t next,
			const char *src)
{
	int64_t end = next < now + 400 * DAY ? next : now + 400 * DAY, bases[MAXEV + 8], t;
	size_t nb = 0;

	for (t = now + 3600; t < end; t += 3600)
		if (differs(x, f, t, r0, src))
			return 1;
	if (next != TIME_NEVER && next - 1 > now && differs(x, f, next - 1, r0, src))
		return 1;
	for (size_t i = 0; i < f->nev; i++) {
		bases[nb++] = f->ev[i].at;
		for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++)
			for (t = f->ev[i].at + window(w); t <= f->ev[i].at + window(w) + 1; t++)
				if (t > now && t < end && differs(x, f, t, r0, src))
					return 1;
	}
	for (void *it = json_object_iter(f->attrs); it; it = json_object_iter_next(f->attrs, it)) {
		json_t *v = json_object_iter_value(it);
		if (nb < sizeof(bases) / sizeof(bases[0]) && json_is_string(v) &&
		    time_parse(json_string_value(v), &bases[nb]) == 0)
			nb++;
		else if (nb < sizeof(bases) / sizeof(bases[0]) && json_is_integer(v))
			bases[nb++] = json_integer_value(v);
	}
	for (size_t i = 0; i < nb; i++)
		for (int64_t k = (now - bases[i]) / DAY - 1; bases[i] + k * DAY <= end; k++)
			for (t = bases[i] + k * DAY - 1; t <= bases[i] + k * DAY; t++)
				if (t > now && t < end && differs(x, f, t, r0, src))
					return 1;
	return 0;
}

struct eval_case {
	const char *src;
	const char *attrs;
	const char *events;
	int result;
	const char *next; /* offset from NOW, or "never" */
};

static void run_eval_cases(const struct eval_case *cases, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		const struct eval_case *c = &cases[i];
		struct err e = {""};
		struct expr *x = expr_parse(c->src, &e);
		struct fake f;
		int64_t next, want = offset(c->next);
		int r;

		if (!x) {
			print_error("%s: parse failed: %s\n", c->src, e.msg);
			bad++;
			continue;
		}
		fake_load(&f, c->attrs, c->events);
		r = eval_at(x, &f, NOW, &next);
		check_memo(x, &f, NOW, r, next, c->src);
		if (r != c->result || next != want) {
			print_error("%s: got %d next %+lld, want %d next %s\n", c->src, r,
				    next == TIME_NEVER ? 0LL : (long long)(next - NOW), c->result,
				    c->next);
			bad++;
		}
		bad += check_stable(x, &f, NOW, r, next, c->src);
		fake_release(&f);
		expr_free(x);
	}
	assert_int_equal(bad, 0);
}

#define RUN(cases) run_eval_cases(cases, sizeof(cases) / sizeof(cases[0]))

static const struct eval_case basic_cases[] = {
    {"spend_12m >= 100000", "{\"spend_12m\": 150000}", "[]", 1, "never"},
    {"spend_12m >= 100000", "{\"spend_12m\": 99999.5}", "[]", 0, "never"},
    {"spend_12m >= 100000", "{}", "[]", 0, "never"},
    {"spend_12m >= 100000", "{\"spend_12m\": \"150000\"}", "[]", 0, "never"},
    {"x == 4.5", "{\"x\": 4.5}", "[]", 1, "never"},
    {"x == 0.1", "{\"x\": 0.1}", "[]", 1, "never"},
    {"x == 123456.789", "{\"x\": 123456.789}", "[]", 1, "never"},
    {"x > -3", "{\"x\": -2}", "[]", 1, "never"},
    {"x == 1", "{\"x\": 1.0}", "[]", 1, "never"},
    {"score.rfm > 3", "{\"score.rfm\": 4}", "[]", 1, "never"},
    /* stats. is a namespace: stats.rfm is the computed one, null here */
    {"stats.rfm > 3", "{\"stats.rfm\": 4}", "[]", 0, "never"},
    {"stats.rfm == null", "{\"stats.rfm\": 4}", "[]", 1, "never"},
    /* an unknown stats.x is an attribute name like any */
    {"stats.bogus == 4", "{\"stats.bogus\": 4}", "[]", 1, "never"},
    /* an unknown function is null */
    {"cnt(purchase, 30d) == null", "{}", "[[\"purchase\", \"-1d\"]]", 1, "never"},
    {"cnt(purchase, 30d) > 0 or count(purchase, 30d) > 0", "{}", "[[\"purchase\", \"-1d\"]]", 1,
     "+29d1s"},
    {"not foo()", "{}", "[]", 1, "never"},
    {"tier == \"gold\"", "{\"tier\": \"gold\"}", "[]", 1, "never"},
    {"tier == 'gold'", "{\"tier\": \"gold\"}", "[]", 1, "never"},
    {"tier == \"gol\"", "{\"tier\": \"gold\"}", "[]", 0, "never"},
    {"tier < \"h\"", "{\"tier\": \"gold\"}", "[]", 1, "never"},
    {"tier != 5", "{\"tier\": \"gold\"}", "[]", 0, "never"},
    {"q == \"a\\\"b\"", "{\"q\": \"a\\\"b\"}", "[]", 1, "never"},
    {"q == 'it\\'s\\n'", "{\"q\": \"it's\\n\"}", "[]", 1, "never"},
    {"opted_in", "{\"opted_in\": true}", "[]", 1, "never"},
    {"opted_in", "{\"opted_in\": 1}", "[]", 0, "never"},
    {"opted_in == false", "{\"opted_in\": false}", "[]", 1, "never"},
    {"opted_in > false", "{\"opted_in\": true}", "[]", 0, "never"},
    {"not opted_in", "{}", "[]", 1, "never"},
    {"true and not false", "{}", "[]", 1, "never"},
    /* precedence: or < and < not < comparison */
    {"a > 1 or b > 1 and c > 1", "{\"a\": 2, \"b\": 0, \"c\": 0}", "[]", 1, "never"},
    {"a > 1 or b > 1 and c > 1", "{\"a\": 0, \"b\": 2, \"c\": 0}", "[]", 0, "never"},
    {"(a > 1 or b > 1) and c > 1", "{\"a\": 2, \"b\": 0, \"c\": 0}", "[]", 0, "never"},
    {"not a > 1", "{\"a\": 0}", "[]", 1, "never"},
    {"not not a > 1", "{\"a\": 2}", "[]", 1, "never"},
    {"a>1 and(b<2)", "{\"a\": 2, \"b\": 1}", "[]", 1, "never"},
    /* keywords are case-sensitive: NULL and TRUE are attribute names */
    {"x == NULL", "{}", "[]", 1, "never"},
    {"TRUE", "{\"TRUE\": true}", "[]", 1, "never"},
    /* Chinese strings */
    {"city == \"上海\"", "{\"city\": \"上海\"}", "[]", 1, "never"},
    {"city == '北京'", "{\"city\": \"上海\"}", "[]", 0, "never"},
    {"city != \"北京\"", "{\"city\": \"上海\"}", "[]", 1, "never"},
    {"city > \"上\"", "{\"city\": \"上海\"}", "[]", 1, "never"},
    {"name == \"张三\" and city == \"上海\"", "{\"name\": \"张三\", \"city\": \"上海\"}", "[]", 1,
     "never"},
};

static void test_basic(void **state)
{
	(void)state;
	RUN(basic_cases);
}

static const struct eval_case null_cases[] = {
    {"x == null", "{}", "[]", 1, "never"},
    {"x == null", "{\"x\": null}", "[]", 1, "never"},
    {"x == null", "{\"x\": 0}", "[]", 0, "never"},
    {"x == null", "{\"x\": \"\"}", "[]", 0, "never"},
    {"x == null", "{\"x\": {\"a\": 1}}", "[]", 1, "never"},
    {"x != null", "{}", "[]", 0, "never"},
    {"x != null", "{\"x\": 0}", "[]", 1, "never"},
    {"x != null", "{\"x\": false}", "[]", 1, "never"},
    {"null == null", "{}", "[]", 1, "never"},
    {"null != null", "{}", "[]", 0, "never"},
    {"null == x", "{}", "[]", 1, "never"},
    {"null != x", "{\"x\": \"a\"}", "[]", 1, "never"},
    {"x == y", "{}", "[]", 1, "never"},
    {"x != y", "{}", "[]", 0, "never"},
    {"x != y", "{\"x\": 1}", "[]", 0, "never"},
    {"x != 5", "{}", "[]", 0, "never"},
    {"x == 5", "{}", "[]", 0, "never"},
    {"x < null", "{}", "[]", 0, "never"},
    {"x >= null", "{\"x\": 1}", "[]", 0, "never"},
    {"x <= null", "{}", "[]", 0, "never"},
    {"not (x > 1)", "{}", "[]", 1, "never"},
    {"not (x == null)", "{\"x\": 1}", "[]", 1, "never"},
    {"not null", "{}", "[]", 1, "never"},
    {"not x", "{}", "[]", 1, "never"},
    {"x and true", "{\"x\": 1}", "[]", 0, "never"},
    {"x or true", "{}", "[]", 1, "never"},
    {"null", "{}", "[]", 0, "never"},
    {"days_since(x) == null", "{}", "[]", 1, "never"},
    {"days_since(x) == null", "{\"x\": \"yesterday\"}", "[]", 1, "never"},
    {"days_since(x) > 1", "{\"x\": \"yesterday\"}", "[]", 0, "never"},
    {"days_since(x) > 1", "{\"x\": true}", "[]", 0, "never"},
    {"last(purchase) == null", "{}", "[]", 1, "never"},
    {"last(purchase) == null", "{}", "[[\"purchase\", \"-1d\"]]", 0, "never"},
    {"last(purchase) != null", "{}", "[[\"purchase\", \"-1d\"]]", 1, "never"},
    {"sum(purchase.amount, 30d) == null", "{}", "[]", 0, "never"},
    {"count(purchase, 30d) == 0", "{}", "[]", 1, "never"},
    {"last(purchase) == null or days_since(last(purchase)) > 90", "{}", "[]", 1, "never"},
    {"last(purchase) == null or days_since(last(purchase)) > 90", "{}",
     "[[\"purchase\", \"-10d\"]]", 0, "+81d"},
};

static void test_null(void **state)
{
	(void)state;
	RUN(null_cases);
}

static const struct eval_case window_cases[] = {
    {"count(purchase, 30d) > 0", "{}", "[[\"purchase\", \"-10d\"]]", 1, "+20d1s"},
    {"count(purchase, 30d) > 0", "{}", "[[\"purchase\", \"-30d\"]]", 1, "+1s"},
    {"count(purchase, 30d) > 0", "{}", "[[\"purchase\", \"-30d1s\"]]", 0, "never"},
    {"count(purchase, 30d) > 0", "{}", "[[\"purchase\", \"0\"]]", 1, "+30d1s"},
    {"count(purchase, 30d) >= 2", "{}", "[[\"purchase\", \"-5d\"], [\"purchase\", \"-20d\"]]", 1,
     "+10d1s"},
    {"count(purchase, 30d) >= 2", "{}",
     "[[\"purchase\", \"-5d\"], [\"purchase\", \"-20d\"], [\"purchase\", \"-40d\"]]", 1, "+10d1s"},
    {"count(complaint, 30d) > 0", "{}", "[[\"purchase\", \"-1d\"]]", 0, "never"},
    {"count(purchase, 1d12h) == 1", "{}", "[[\"purchase\", \"-1d\"]]", 1, "+12h1s"},
    {"count( purchase , 90m ) == 1", "{}", "[[\"purchase\", \"-1h\"]]", 1, "+30m1s"},
    {"count(purchase, 30d)", "{}", "[[\"purchase\", \"-1d\"]]", 0, "+29d1s"},
    {"sum(purchase.amount, 365d) >= 10000", "{}",
     "[[\"purchase\", \"-100d\", {\"amount\": 6000}], [\"purchase\", \"-400d\", {\"amount\": "
     "9000}], [\"purchase\", \"-2d\", {\"amount\": 5000}]]",
     1, "+265d1s"},
    {"sum(purchase.amount, 365d) >= 10000 and sum(purchase.amount, 365d) < 100000", "{}",
     "[[\"purchase\", \"-100d\", {\"amount\": 6000}], [\"purchase\", \"-400d\", {\"amount\": "
     "9000}], [\"purchase\", \"-2d\", {\"amount\": 5000}]]",
     1, "+265d1s"},
    {"sum(purchase.amount, 30d) == 0", "{}", "[[\"purchase\", \"-1d\"]]", 1, "+29d1s"},
    {"sum(order.total, 7d) > 10", "{}", "[[\"order\", \"-1d\", {\"total\": 20}]]", 1, "+6d1s"},
    {"sum(order.total, 7d) > 10", "{}", "[[\"order\", \"-1d\", {\"amount\": 20}]]", 0, "+6d1s"},
    {"last(purchase) > last(complaint)", "{}",
     "[[\"purchase\", \"-1d\"], [\"complaint\", \"-2d\"]]", 1, "never"},
    {"last(purchase) == last(purchase)", "{}", "[[\"purchase\", \"-1d\"]]", 1, "never"},
    {"last(purchase) > 5", "{}", "[[\"purchase\", \"-1d\"]]", 0, "never"},
};

static void test_windows(void **state)
{
	(void)state;
	RUN(window_cases);
}

static const struct eval_case days_cases[] = {
    {"days_since(last(purchase)) > 60", "{}", "[[\"purchase\", \"-100d\"]]", 1, "never"},
    {"days_since(last(purchase)) > 60", "{}", "[[\"purchase\", \"-50d\"]]", 0, "+11d"},
    {"days_since(last(purchase)) > 60", "{}", "[[\"purchase\", \"-50d12h\"]]", 0, "+10d12h"},
    {"days_since(last(purchase)) > 60", "{}", "[]", 0, "never"},
    {"days_since(last(purchase)) == 3", "{}", "[[\"purchase\", \"-3d6h\"]]", 1, "+18h"},
    {"days_since(last(purchase)) == 3", "{}", "[[\"purchase\", \"-1d\"]]", 0, "+2d"},
    {"days_since(last(purchase)) == 3", "{}", "[[\"purchase\", \"-5d\"]]", 0, "never"},
    {"days_since(last(purchase)) == 3.5", "{}", "[[\"purchase\", \"-1d\"]]", 0, "never"},
    {"days_since(last(purchase)) != 3", "{}", "[[\"purchase\", \"-1d\"]]", 1, "+2d"},
    {"days_since(last(purchase)) != 3", "{}", "[[\"purchase\", \"-5d\"]]", 1, "never"},
    {"days_since(last(purchase)) < 7", "{}", "[[\"purchase\", \"-1d\"]]", 1, "+6d"},
    {"days_since(last(purchase)) <= 7", "{}", "[[\"purchase\", \"-1d\"]]", 1, "+7d"},
    {"days_since(last(purchase)) >= 7", "{}", "[[\"purchase\", \"-1d\"]]", 0, "+6d"},
    {"days_since(last(purchase)) >= 6.5", "{}", "[[\"purchase\", \"-1d\"]]", 0, "+6d"},
    {"days_since(last(purchase)) > -1", "{}", "[[\"purchase\", \"-1d\"]]", 1, "never"},
    {"7 > days_since(last(purchase))", "{}", "[[\"purchase\", \"-1d\"]]", 1, "+6d"},
    {"60 <= days_since(last(purchase))", "{}", "[[\"purchase\", \"-1d\"]]", 0, "+59d"},
    {"days_since(last(purchase)) > limit", "{\"limit\": 3}", "[[\"purchase\", \"-1d\"]]", 0, "+3d"},
    {"days_since(signup) <= 90", "{\"signup\": \"2026-03-05T00:00:00Z\"}", "[]", 1, "+95d"},
    {"days_since(signup) < 0", "{\"signup\": \"2026-03-01T12:00:00Z\"}", "[]", 1, "+12h"},
    {"days_since(signup) == 0", "{\"signup\": \"2026-02-28T23:00:00+08:00\"}", "[]", 1, "+15h"},
    {"days_since(signup) == 0", "{\"signup\": \"2026-02-28 23:00:00+08:00\"}", "[]", 1, "+15h"},
    {"days_since(1772150400) == 2", "{}", "[]", 1, "+1d"},
    {"days_since(born) == 2", "{\"born\": 1772150400}", "[]", 1, "+1d"},
    {"days_since(\"2026-02-01\") == 28", "{}", "[]", 1, "+1d"},
    {"days_since(last(purchase)) > days_since(last(visit))", "{}",
     "[[\"purchase\", \"-5d6h\"], [\"visit\", \"-1d\"]]", 1, "+18h"},
    {"days_since(days_since(last(purchase))) > 0", "{}", "[[\"purchase\", \"-10d\"]]", 1, "+10s"},
    {"count(purchase, 30d) > days_since(last(purchase))", "{}",
     "[[\"purchase\", \"-1d\"], [\"purchase\", \"-2d\"]]", 1, "+1d"},
    {"not (days_since(last(purchase)) > 60)", "{}", "[[\"purchase\", \"-50d\"]]", 1, "+11d"},
    /* and: false holds until the last false operand may change; or mirrors */
    {"days_since(last(purchase)) > 10 and days_since(last(visit)) > 20", "{}",
     "[[\"purchase\", \"-5d\"], [\"visit\", \"-1d\"]]", 0, "+20d"},
    {"days_since(last(purchase)) > 10 or days_since(last(visit)) > 20", "{}",
     "[[\"purchase\", \"-5d\"], [\"visit\", \"-1d\"]]", 0, "+6d"},
    {"days_since(last(purchase)) < 10 or days_since(last(visit)) < 20", "{}",
     "[[\"purchase\", \"-5d\"], [\"visit\", \"-1d\"]]", 1, "+19d"},
    {"spend_12m > 5 or days_since(last(purchase)) > 10", "{\"spend_12m\": 10}",
     "[[\"purchase\", \"-5d\"]]", 1, "never"},
    {"spend_12m > 5 and days_since(last(purchase)) > 10", "{\"spend_12m\": 1}",
     "[[\"purchase\", \"-5d\"]]", 0, "never"},
    {"days_since(last(purchase)) > 60 or count(complaint, 30d) > 0", "{}",
     "[[\"purchase\", \"-50d\"]]", 0, "+11d"},
    {"days_since(last(purchase)) > 60 or count(complaint, 30d) > 0", "{}",
     "[[\"purchase\", \"-50d\"], [\"complaint\", \"-3d\"]]", 1, "+27d1s"},
    {"count(purchase, 90d) > 0 and days_since(first_purchase_at) <= 90",
     "{\"first_purchase_at\": \"2026-01-15T00:00:00+08:00\"}", "[[\"purchase\", \"-10d\"]]", 1,
     "+45d16h"},
};

static void test_days_since(void **state)
{
	(void)state;
	RUN(days_cases);
}

/* purchases in the 90 days before the last 90 (3) and in them (1) */
#define SLOWED                                                                                     \
	"[[\"purchase\", \"-150d\", {\"amount\": 4000}], [\"purchase\", \"-120d\", {\"amount\": "  \
	"4000}], [\"purchase\", \"-100d\", {\"amount\": 4000}], [\"purchase\", \"-10d\", "         \
	"{\"amount\": 3000}]]"

static const struct eval_case stats_cases[] = {
    {"stats.spend_12m >= 100000", "{}",
     "[[\"purchase\", \"-100d\", {\"amount\": 60000}], [\"purchase\", \"-10d\", {\"amount\": "
     "50000}], [\"purchase\", \"-400d\", {\"amount\": 90000}]]",
     1, "+265d1s"},
    {"stats.spend_12m >= 100000", "{}", "[[\"purchase\", \"-10d\", {\"amount\": 50000}]]", 0,
     "+355d1s"},
    {"stats.spend_12m == 0", "{}", "[]", 1, "never"},
    {"stats.purchases_12m == 2", "{}",
     "[[\"purchase\", \"-100d\"], [\"purchase\", \"-10d\"], [\"visit\", \"-1d\"]]", 1, "+265d1s"},
    {"stats.frequency_90d >= 1", "{}",
     "[[\"purchase\", \"-10d\"], [\"purchase\", \"-20d\"], [\"purchase\", \"-30d\"]]", 1, "+60d1s"},
    {"stats.frequency_90d > 0.6", "{}", "[[\"purchase\", \"-10d\"], [\"purchase\", \"-20d\"]]", 1,
     "+70d1s"},
    {"stats.avg_order_value == 55000", "{}",
     "[[\"purchase\", \"-100d\", {\"amount\": 60000}], [\"purchase\", \"-10d\", {\"amount\": "
     "50000}]]",
     1, "+265d1s"},
    {"stats.avg_order_value == null", "{}", "[]", 1, "never"},
    {"stats.days_since_purchase > 60", "{}", "[[\"purchase\", \"-50d\"]]", 0, "+11d"},
    {"stats.days_since_purchase > 60", "{}", "[[\"purchase\", \"-50d12h\"]]", 0, "+10d12h"},
    {"stats.days_since_purchase == null", "{}", "[[\"visit\", \"-1d\"]]", 1, "never"},
    {"60 <= stats.days_since_purchase", "{}", "[[\"purchase\", \"-1d\"]]", 0, "+59d"},
    /* (1 - 3) / 3; the oldest earlier purchase leaves the 180 days first */
    {"stats.frequency_change <= -0.5", "{}", SLOWED, 1, "+30d1s"},
    {"stats.amount_change < -0.7", "{}", SLOWED, 1, "+30d1s"},
    {"stats.frequency_change == null", "{}", "[[\"purchase\", \"-10d\"]]", 1, "+80d1s"},
    {"stats.frequency_change == 0", "{}", "[[\"purchase\", \"-10d\"], [\"purchase\", \"-100d\"]]",
     1, "+80d1s"},
    {"stats.amount_change > 1", "{}",
     "[[\"purchase\", \"-100d\", {\"amount\": 1000}], [\"purchase\", \"-5d\", {\"amount\": 3000}]]",
     1, "+80d1s"},
    {"stats.amount_change == null", "{}",
     "[[\"purchase\", \"-100d\", {\"amount\": 0}], [\"purchase\", \"-5d\", {\"amount\": 3000}]]", 1,
     "+80d1s"},
    {"stats.complaints_30d > 0", "{}", "[[\"complaint\", \"-3d\"]]", 1, "+27d1s"},
    /* replies and clicks: 1 in the last 90 days against 4 before */
    {"stats.interaction_change == -0.75", "{}",
     "[[\"replied\", \"-100d\"], [\"clicked\", \"-110d\"], [\"clicked\", \"-170d\"], "
     "[\"replied\", \"-179d\"], [\"clicked\", \"-20d\"], [\"purchase\", \"-120d\"]]",
     1, "+1d1s"},
    {"stats.interaction_change == null", "{}", "[[\"opened\", \"-100d\"]]", 1, "never"},
    {"stats.days_since_reply <= 7", "{}", "[[\"replied\", \"-2d\"]]", 1, "+6d"},
    {"stats.days_since_click == null", "{}", "[[\"replied\", \"-2d\"]]", 1, "never"},
    {"stats.days_since_click < 3", "{}", "[[\"clicked\", \"-2d\"], [\"clicked\", \"-9d\"]]", 1,
     "+1d"},
    /* R: 5 up to 30 days, 4 up to 90, 3 up to 180, 2 up to 365, then 1 */
    {"stats.rfm_r == 5", "{}", "[[\"purchase\", \"-10d\"]]", 1, "+21d"},
    {"stats.rfm_r == 4", "{}", "[[\"purchase\", \"-31d\"]]", 1, "+60d"},
    {"stats.rfm_r == 1", "{}", "[[\"purchase\", \"-366d\"]]", 1, "never"},
    {"stats.rfm_r == null", "{}", "[]", 1, "never"},
    /* F: 2 from 2 purchases in 12 months, 3 from 3, 4 from 6, 5 from 12 */
    {"stats.rfm_f == 1", "{}", "[[\"purchase\", \"-400d\"]]", 1, "never"},
    {"stats.rfm_f == 3", "{}",
     "[[\"purchase\", \"-10d\"], [\"purchase\", \"-20d\"], [\"purchase\", \"-30d\"]]", 1,
     "+335d1s"},
    /* M: 2 from 3000 in 12 months, 3 from 10000, 4 from 30000, 5 from 100000 */
    {"stats.rfm_m == 3", "{}",
     "[[\"purchase\", \"-10d\", {\"amount\": 6000}], [\"purchase\", \"-300d\", {\"amount\": "
     "6000}]]",
     1, "+65d1s"},
    {"stats.rfm == \"545\"", "{}",
     "[[\"purchase\", \"-1d\", {\"amount\": 20000}], [\"purchase\", \"-2d\", {\"amount\": 20000}], "
     "[\"purchase\", \"-3d\", {\"amount\": 20000}], [\"purchase\", \"-4d\", {\"amount\": 20000}], "
     "[\"purchase\", \"-5d\", {\"amount\": 20000}], [\"purchase\", \"-6d\", {\"amount\": 20000}]]",
     1, "+30d"},
    {"stats.rfm == \"111\"", "{}", "[[\"purchase\", \"-400d\"]]", 1, "never"},
    {"stats.rfm == null", "{}", "[[\"visit\", \"-1d\"]]", 1, "never"},
    {"stats.rfm > \"4\"", "{}", "[[\"purchase\", \"-1d\", {\"amount\": 3000}]]", 1, "+30d"},
    /* stats with attributes and aggregates */
    {"stats.spend_12m >= min_spend and count(complaint, 30d) == 0", "{\"min_spend\": 1000}",
     "[[\"purchase\", \"-10d\", {\"amount\": 2000}]]", 1, "+355d1s"},
};

static void test_stats(void **state)
{
	(void)state;
	RUN(stats_cases);
}

/* the config's thresholds reach stats.rfm_* through env.stats */
static void test_stats_thresholds(void **state)
{
	struct stats_conf sc;
	struct fake f;
	struct err e = {""};
	struct expr *x = expr_parse("stats.rfm == \"212\"", &e);
	struct expr_env env;
	int64_t next;
	int r;
	(void)state;

	assert_non_null(x);
	fake_load(&f, "{}",
		  "[[\"purchase\", \"-20d\", {\"amount\": 500}], [\"purchase\", \"-200d\", "
		  "{\"amount\": 500}]]");
	env = fake_env(&f);
	assert_int_equal(expr_eval(x, &env, NOW, &r, &next, &e), 0);
	assert_int_equal(r, 0); /* the defaults: "521" */
	stats_conf_default(&sc);
	sc.recency_days[0] = 7;
	sc.recency_days[1] = 10;
	sc.recency_days[2] = 14;
	sc.recency_days[3] = 21; /* 20 days: R 2, until day 22 */
	sc.frequency[0] = 3;	 /* 2 purchases: F 1 */
	sc.monetary[0] = 1000;	 /* 1000: M 2 */
	env.stats = &sc;
	assert_int_equal(expr_eval(x, &env, NOW, &r, &next, &e), 0);
	assert_int_equal(r, 1);
	assert_true(next == NOW + 2 * DAY);
	fake_release(&f);
	expr_free(x);
}

struct explain_case {
	const char *src, *attrs, *events;
	int result;
	const char *why;
};

static const struct explain_case explain_cases[] = {
    {"stats.frequency_change <= -0.5", "{}", SLOWED, 1, "stats.frequency_change <= -0.5 (-0.67)"},
    {"stats.frequency_change <= -0.5 or stats.complaints_30d > 0", "{}", SLOWED, 1,
     "stats.frequency_change <= -0.5 (-0.67)"},
    {"days_since(last(purchase)) > 60 or count(complaint, 30d) > 0", "{}",
     "[[\"purchase\", \"-50d\"], [\"complaint\", \"-3d\"]]", 1, "count(complaint, 30d) > 0 (1)"},
    {"days_since(last(purchase)) > 60 or count(complaint, 30d) > 0", "{}",
     "[[\"purchase\", \"-70d\"], [\"complaint\", \"-3d\"]]", 1,
     "days_since(last(purchase)) > 60 (70) or count(complaint, 30d) > 0 (1)"},
    {"days_since(last(purchase)) > 60 or count(complaint, 30d) > 0", "{}",
     "[[\"purchase\", \"-50d\"]]", 0,
     "days_since(last(purchase)) > 60 (50) or count(complaint, 30d) > 0 (0)"},
    {"sum(purchase.amount, 365d) >= 10000 and sum(purchase.amount, 365d) < 100000", "{}",
     "[[\"purchase\", \"-1d\", {\"amount\": 12000}]]", 1,
     "sum(purchase.amount, 365d) >= 10000 (12000) and sum(purchase.amount, 365d) < 100000 "
     "(12000)"},
    {"tier == \"gold\" and spend > 5", "{\"tier\": \"silver\", \"spend\": 10}", "[]", 0,
     "tier == \"gold\" (\"silver\")"},
    {"(a > 1 or b > 1) and c > 1", "{\"a\": 2, \"b\": 2, \"c\": 2}", "[]", 1,
     "(a > 1 (2) or b > 1 (2)) and c > 1 (2)"},
    {"(a > 1 or b > 1) and c > 1", "{\"a\": 2, \"b\": 0, \"c\": 2}", "[]", 1,
     "a > 1 (2) and c > 1 (2)"},
    {"a > 1 and b > 1 or c > 1", "{\"a\": 2, \"b\": 2, \"c\": 0}", "[]", 1,
     "a > 1 (2) and b > 1 (2)"},
    {"not (x > 1)", "{\"x\": 0}", "[]", 1, "not (x > 1 (0))"},
    {"not (a > 1 or b > 1)", "{\"a\": 0}", "[]", 1, "not (a > 1 (0) or b > 1 (null))"},
    {"not opted_in", "{\"opted_in\": false}", "[]", 1, "not opted_in (false)"},
    {"opted_in", "{\"opted_in\": true}", "[]", 1, "opted_in (true)"},
    {"x > 1", "{}", "[]", 0, "x > 1 (null)"},
    {"1 == 1", "{}", "[]", 1, "1 == 1"},
    {"x == 0.1", "{\"x\": 0.1}", "[]", 1, "x == 0.1 (0.1)"},
    {"x >= -2.125", "{\"x\": 1234.5678}", "[]", 1, "x >= -2.125 (1234.57)"},
    {"stats.frequency_90d > 0", "{}", "[[\"purchase\", \"-1d\"]]", 1,
     "stats.frequency_90d > 0 (0.33)"},
    {"q == 'a\"b'", "{\"q\": \"a\\\"b\"}", "[]", 1, "q == \"a\\\"b\" (\"a\\\"b\")"},
    {"city == \"上海\"", "{\"city\": \"上海\"}", "[]", 1, "city == \"上海\" (\"上海\")"},
    {"last(purchase) > last(complaint)", "{}",
     "[[\"purchase\", \"-1d\"], [\"complaint\", \"-2d\"]]", 1,
     "last(purchase) > last(complaint) (2026-02-28T00:00:00Z, 2026-02-27T00:00:00Z)"},
    {"count(purchase, 1d12h) > 0", "{}", "[[\"purchase\", \"-1d\"]]", 1,
     "count(purchase, 36h) > 0 (1)"},
    {"stats.rfm == \"545\"", "{}", "[[\"purchase\", \"-1d\", {\"amount\": 500}]]", 0,
     "stats.rfm == \"545\" (\"511\")"},
    {"cnt(purchase,  30d) > 0", "{}", "[]", 0, "cnt(purchase,  30d) > 0 (null)"},
    {"days_since(signup) <= 90 and stats.purchases_12m > 0",
     "{\"signup\": \"2026-02-01T00:00:00Z\"}", "[[\"purchase\", \"-1d\"]]", 1,
     "days_since(signup) <= 90 (28) and stats.purchases_12m > 0 (1)"},
    {"x == null", "{}", "[]", 1, "x == null (null)"},
    {"(x > 1) == true", "{\"x\": 2}", "[]", 1, "(x > 1) == true (true)"},
};

static void test_explain(void **state)
{
	int bad = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(explain_cases) / sizeof(explain_cases[0]); i++) {
		const struct explain_case *c = &explain_cases[i];
		struct err e = {""};
		struct expr *x = expr_parse(c->src, &e);
		struct buf b = BUF_INIT;
		struct fake f;
		struct expr_env env;
		int r = -1, r2;
		int64_t next;

		if (!x) {
			print_error("%s: parse failed: %s\n", c->src, e.msg);
			bad++;
			continue;
		}
		fake_load(&f, c->attrs, c->events);
		env = fake_env(&f);
		assert_int_equal(expr_explain(x, &env, NOW, &r, &b, &e), 0);
		assert_int_equal(expr_eval(x, &env, NOW, &r2, &next, &e), 0);
		if (r != c->result || r2 != r || strcmp(buf_cstr(&b), c->why) != 0) {
			print_error("%s: got %d (eval %d) \"%s\", want %d \"%s\"\n", c->src, r, r2,
				    buf_cstr(&b), c->result, c->why);
			bad++;
		}
		buf_release(&b);
		fake_release(&f);
		expr_free(x);
	}
	assert_int_equal(bad, 0);
}

static void test_explain_failure(void **state)
{
	struct err e = {""};
	struct expr *x = expr_parse("x > 1 or stats.spend_12m > 0", &e);
	struct buf b = BUF_INIT;
	struct fake f;
	struct expr_env env;
	int r;
	(void)state;

	assert_non_null(x);
	fake_load(&f, "{}", "[]");
	f.fail = 1;
	f.err = &e;
	env = fake_env(&f);
	assert_int_equal(expr_explain(x, &env, NOW, &r, &b, &e), -1);
	assert_string_equal(e.msg, "stats.spend_12m: sum(purchase.amount): store: disk I/O error");
	assert_int_equal(expr_eval(x, &env, NOW, &r, &(int64_t){0}, &e), -1);
	assert_string_equal(e.msg, "stats.spend_12m: sum(purchase.amount): store: disk I/O error");
	buf_release(&b);
	fake_release(&f);
	expr_free(x);
}

struct error_case {
	const char *src;
	const char *msg;
};

static const struct error_case error_cases[] = {
    {"cnt(purchase, 30d", "column 18: expected ',' or ')' after an argument"},
    {"cnt(purchase 30d)", "column 14: expected ',' or ')' after an argument"},
    {"cnt(x,)", "column 7: unexpected \")\""},
    {"cnt(x, 1 +)", "column 10: unexpected \"+\""},
    {"cnt(x) >", "column 9: unexpected end of expression"},
    {"count(purchase, 30x) > 0", "column 17: bad window \"30x\" (use 30d, 12h, 90m)"},
    {"count(x, 30x)", "column 10: bad window \"30x\" (use 30d, 12h, 90m)"},
    {"count(purchase, 30)", "column 17: bad window \"30\" (use 30d, 12h, 90m)"},
    {"count(purchase, -30d)", "column 17: bad window \"-30d\" (use 30d, 12h, 90m)"},
    {"count(purchase, 1.5d)", "column 17: bad window \"1.5d\" (use 30d, 12h, 90m)"},
    {"count(p, 1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d)",
     "column 10: bad window \"1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d...\" (use 30d, 12h, 90m)"},
    {"count(purchase, x)", "column 17: expected a window like 30d"},
    {"count(purchase 30d)", "column 16: expected ',' before the window"},
    {"count(purchase)", "column 15: expected ',' before the window"},
    {"count(purchase, 30d", "column 20: expected ')' after arguments"},
    {"count(purchase, 30d, 5)", "column 20: expected ')' after arguments"},
    {"count(\"purchase\", 30d)", "column 7: expected an event type"},
    {"count > 1", "column 7: expected '(' after count"},
    {"sum(purchase, 30d)", "column 5: expected TYPE.FIELD like purchase.amount"},
    {"sum(purchase., 30d)", "column 5: expected TYPE.FIELD like purchase.amount"},
    {"last(30d)", "column 6: expected an event type"},
    {"last(purchase", "column 14: expected ')' after arguments"},
    {"days_since()", "column 12: unexpected \")\""},
    {"days_since(last(purchase) > 3", "column 30: expected ')' after arguments"},
    {"a > 1 and b ==", "column 15: unexpected end of expression"},
    {"", "column 1: unexpected end of expression"},
    {"   ", "column 4: unexpected end of expression"},
    {"not", "column 4: unexpected end of expression"},
    {"not not", "column 8: unexpected end of expression"},
    {"x == 1 and", "column 11: unexpected end of expression"},
    {"a < b < c", "column 7: comparisons do not chain (use and)"},
    {"a == b != c", "column 8: comparisons do not chain (use and)"},
    {"(a > 1", "column 7: expected ')'"},
    {"()", "column 2: unexpected \")\""},
    {"a > 1)", "column 6: unexpected \")\""},
    {"a > 1 b", "column 7: unexpected \"b\""},
    {"a > 1 AND b", "column 7: unexpected \"AND\""},
    {"x == true false", "column 11: unexpected \"false\""},
    {"x == \"a\" \"b\"", "column 10: unexpected string"},
    {"a == not b", "column 6: unexpected \"not\""},
    {"a = 1", "column 3: unexpected \"=\" (use ==)"},
    {"a > 1 && b", "column 7: unexpected \"&\" (use and)"},
    {"a > 1 || b", "column 7: unexpected \"|\" (use or)"},
    {"!a", "column 1: unexpected \"!\" (use != or not)"},
    {"x == -", "column 6: unexpected \"-\""},
    {"x == \"abc", "column 6: unterminated string"},
    {"x == 'abc\"", "column 6: unterminated string"},
    {"x == \"a\\qb\"", "column 8: bad escape \"\\q\""},
    {"x == 10k", "column 6: bad number \"10k\""},
    {"x == 1.5.2", "column 6: bad number \"1.5.2\""},
    {"x == 1e5", "column 6: bad number \"1e5\""},
    {"x == 1.", "column 6: bad number \"1.\""},
    {"a>1and b", "column 3: bad number \"1and\""},
    {"x == \x01", "column 6: unexpected byte 0x01"},
    {"x == \xff", "column 6: unexpected byte 0xff"},
    {"x == \xe4\xb8", "column 6: unexpected byte 0xe4"},
    {"city == \"上海\" and", "column 17: unexpected end of expression"},
    {"city == “上海”", "column 9: unexpected character \"“\""},
    {"名字 == 1", "column 1: unexpected character \"名\""},
    {"a > 1 and b（", "column 12: unexpected character \"（\""},
    {"x > 1 aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeee",
     "column 7: unexpected \"aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd...\""},
};

static void test_parse_errors(void **state)
{
	int bad = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		struct err e = {""};
		struct expr *x = expr_parse(error_cases[i].src, &e);
		if (x || strcmp(e.msg, error_cases[i].msg) != 0) {
			print_error("%s: got \"%s\", want \"%s\"\n", error_cases[i].src,
				    x ? "(parsed)" : e.msg, error_cases[i].msg);
			bad++;
		}
		expr_free(x);
	}
	assert_int_equal(bad, 0);
}

static char *repeat(const char *pre, const char *unit, int n, const char *post)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, pre);
	for (int i = 0; i < n; i++)
		buf_puts(&b, unit);
	buf_puts(&b, post);
	return buf_detach(&b);
}

static void expect_parse(const char *src, const char *msg)
{
	struct err e = {""};
	struct expr *x = expr_parse(src, &e);
	if (!msg) {
		if (!x)
			print_error("%.60s...: %s\n", src, e.msg);
		assert_non_null(x);
		expr_free(x);
		return;
	}
	assert_null(x);
	assert_string_equal(e.msg, msg);
}

/* test_limits - hostile nesting and length neither crash nor recurse deeply */
static void test_limits(void **state)
{
	struct fake f;
	struct expr_env env;
	struct err e = {""};
	struct expr *x;
	int64_t next;
	int r;
	char *s;
	(void)state;

	s = repeat("", "(", 63, "x");
	{
		char *t = repeat(s, ")", 63, "");
		expect_parse(t, NULL);
		free(t);
	}
	free(s);
	s = repeat("", "(", 64, "x");
	expect_parse(s, "column 65: expression nested too deeply");
	free(s);
	s = repeat("", "(", 100000, "");
	expect_parse(s, "column 65: expression nested too deeply");
	free(s);
	s = repeat("", "not ", 10000, "x");
	expect_parse(s, "column 257: expression nested too deeply");
	free(s);
	s = repeat("", "days_since(", 1000, "x");
	expect_parse(s, "column 705: expression nested too deeply");
	free(s);
	s = repeat("x == 1", "0", 400, "");
	expect_parse(s, "column 6: number out of range");
	free(s);

	/* a long flat chain parses and evaluates without deep recursion */
	s = repeat("a", " and a", 200000, " or not a");
	x = expr_parse(s, &e);
	assert_non_null(x);
	fake_load(&f, "{\"a\": true}", "[]");
	env = fake_env(&f);
	assert_int_equal(expr_eval(x, &env, NOW, &r, &next, &e), 0);
	assert_int_equal(r, 1);
	assert_true(next == TIME_NEVER);
	expr_free(x);
	fake_release(&f);
	free(s);
}

static void collect(void *ud, char kind, const char *name)
{
	struct buf *b = ud;
	buf_printf(b, "%s%c:%s", b->len ? " " : "", kind, name);
}

static void test_foreach_ref(void **state)
{
	static const struct {
		const char *src, *refs;
	} cases[] = {
	    {"spend_12m > 1 and count(purchase, 30d) > 0 or days_since(last(complaint)) < 3 "
	     "or sum(order.total, 7d) > tier",
	     "a:spend_12m e:purchase e:complaint e:order a:tier"},
	    {"1 == 1", ""},
	    {"not (stats.rfm == \"上海\") and days_since(signup) > 2", "s:stats.rfm a:signup"},
	    {"stats.bogus > 1 and cnt(purchase, tier) > 0 or stats.spend_12m > count(visit, 1d)",
	     "a:stats.bogus f:cnt s:stats.spend_12m e:visit"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = {""};
		struct buf b = BUF_INIT;
		struct expr *x = expr_parse(cases[i].src, &e);
		assert_non_null(x);
		expr_foreach_ref(x, collect, &b);
		assert_string_equal(buf_cstr(&b), cases[i].refs);
		buf_release(&b);
		expr_free(x);
	}
}

static void test_callback_failure(void **state)
{
	static const struct {
		const char *src, *msg;
	} cases[] = {
	    {"count(purchase, 30d) > 0", "count(purchase, 30d): event lookup failed"},
	    {"sum(purchase.amount, 1d12h) > 0", "sum(purchase.amount, 36h): event lookup failed"},
	    {"x == 1 or days_since(last(visit)) > 1", "last(visit): event lookup failed"},
	    {"count(purchase, 30d) > 0", "count(purchase, 30d): store: disk I/O error"},
	    {"sum(purchase.amount, 1d12h) > 0", "sum(purchase.amount, 36h): store: disk I/O error"},
	    {"last(visit) == null", "last(visit): store: disk I/O error"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = {""};
		struct fake f;
		struct expr_env env;
		struct expr *x = expr_parse(cases[i].src, &e);
		int64_t next;
		int r = 7;
		assert_non_null(x);
		fake_load(&f, "{}", "[]");
		f.fail = 1;
		f.err = i >= 3 ? &e : NULL;
		snprintf(e.msg, sizeof(e.msg), "stale");
		env = fake_env(&f);
		assert_int_equal(expr_eval(x, &env, NOW, &r, &next, &e), -1);
		assert_string_equal(e.msg, cases[i].msg);
		assert_int_equal(r, 0);
		fake_release(&f);
		expr_free(x);
	}
}

/* Property: random histories and expressions; next_change is never late. */

static uint64_t rng = 0x9E3779B97F4A7C15u;

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

static const char *pick(const char *const *v, size_t n)
{
	return v[rnd() % n];
}

#define PICK(v) pick(v, sizeof(v) / sizeof(v[0]))

static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
static const char *const types[] = {"purchase", "complaint", "visit", "replied", "clicked"};

static const char *const day_stats[] = {"days_since_purchase", "days_since_reply",
					"days_since_click"};
static const char *const num_stats[] = {"spend_12m",	   "purchases_12m",  "frequency_90d",
					"avg_order_value", "complaints_30d", "rfm_r",
					"rfm_f",	   "rfm_m"};
static const char *const change_stats[] = {"frequency_change", "amount_change",
					   "interaction_change"};
static const char *const rfms[] = {"\"511\"", "\"521\"", "\"411\"", "\"111\"", "\"322\"", "null"};

/* gen_stat - a comparison over stats.NAME; *exact for the days_since ones
 * against a constant */
static void gen_stat(struct buf *b, const char *c, int *exact)
{
	static const char *const changes[] = {"-1", "-0.5", "0", "0.5", "1", "null"};
	*exact = 0;
	switch (rnd() % 6) {
	case 0:
		buf_printf(b, "stats.%s %s %s", PICK(day_stats), PICK(ops), c);
		*exact = 1;
		break;
	case 1:
		buf_printf(b, "%s %s stats.%s", c, PICK(ops), PICK(day_stats));
		*exact = 1;
		break;
	case 2:
		buf_printf(b, "stats.%s %s %d", PICK(num_stats), PICK(ops),
			   rnd() % 2 ? (int)rnd_in(0, 5) : (int)rnd_in(0, 8) * 500);
		break;
	case 3:
		buf_printf(b, "stats.%s %s %s", PICK(change_stats), PICK(ops), PICK(changes));
		break;
	case 4:
		buf_printf(b, "stats.rfm %s %s", rnd() % 2 ? "==" : "!=", PICK(rfms));
		break;
	default:
		buf_printf(b, "stats.%s %s days_since(last(%s))", PICK(num_stats), PICK(ops),
			   PICK(types));
		break;
	}
}

/* gen_atom - one comparison; *exact when next_change must be exact for it */
static void gen_atom(struct buf *b, int *exact)
{
	char c[32];
	*exact = 0;
	snprintf(c, sizeof(c), rnd() % 4 ? "%d" : "%d.5", (int)rnd_in(-2, 120));
	switch (rnd() % 16) {
	case 0:
		buf_printf(b, "count(%s, %s) %s %d", PICK(types), pick(windows, 7), PICK(ops),
			   (int)rnd_in(0, 3));
		break;
	case 1:
		buf_printf(b, "sum(purchase.amount, %s) %s %d", pick(windows, 7), PICK(ops),
			   (int)rnd_in(0, 6) * 500);
		break;
	case 2:
		buf_printf(b, "days_since(last(%s)) %s %s", PICK(types), PICK(ops), c);
		*exact = 1;
		break;
	case 3:
		buf_printf(b, "%s %s days_since(last(%s))", c, PICK(ops), PICK(types));
		*exact = 1;
		break;
	case 4:
		buf_printf(b, "days_since(signup) %s %s", PICK(ops), c);
		*exact = 1;
		break;
	case 5:
		buf_printf(b, "days_since(born) %s %s", PICK(ops), c);
		*exact = 1;
		break;
	case 6:
		buf_printf(b, "days_since(last(purchase)) %s days_since(last(%s))", PICK(ops),
			   PICK(types));
		break;
	case 7:
		buf_printf(b, "last(%s) %s null", PICK(types), rnd() % 2 ? "==" : "!=");
		break;
	case 8:
		buf_printf(b, "spend_12m %s %d", PICK(ops), (int)rnd_in(0, 3) * 500);
		break;
	case 9:
		buf_printf(b, "count(visit, %s) %s days_since(last(purchase))", pick(windows, 7),
			   PICK(ops));
		break;
	case 10:
		buf_printf(b, "days_since(days_since(last(%s))) %s 20500", PICK(types), PICK(ops));
		break;
	case 11:
		buf_printf(b, "days_since(last(%s)) %s spend_12m", PICK(types), PICK(ops));
		break;
	case 13:
	case 14:
		gen_stat(b, c, exact);
		break;
	default:
		buf_printf(b, "sum(purchase.amount, %s) %s count(purchase, %s)", pick(windows, 7),
			   PICK(ops), pick(windows, 7));
		break;
	}
}

static void gen(struct buf *b, int depth, int *exact)
{
	int sub;
	if (depth == 0 || rnd() % 3 == 0) {
		gen_atom(b, exact);
		return;
	}
	*exact = 0;
	switch (rnd() % 4) {
	case 0:
		buf_puts(b, "not (");
		gen(b, depth - 1, &sub);
		buf_puts(b, ")");
		break;
	case 3:
		buf_puts(b, "(");
		gen(b, depth - 1, &sub);
		buf_puts(b, ") and (");
		gen(b, depth - 1, &sub);
		buf_puts(b, ") or (");
		gen(b, depth - 1, &sub);
		buf_puts(b, ")");
		break;
	default:
		buf_puts(b, "(");
		gen(b, depth - 1, &sub);
		buf_puts(b, rnd() % 2 ? ") and (" : ") or (");
		gen(b, depth - 1, &sub);
		buf_puts(b, ")");
		break;
	}
}

static void gen_fake(struct fake *f, int64_t now)
{
	char t[40];
	int n = (int)rnd_in(0, 8);

	memset(f, 0, sizeof(*f));
	f->attrs = json_object();
	if (rnd() % 4)
		json_object_set_new(f->attrs, "spend_12m", json_integer(rnd_in(0, 3) * 500));
	switch (rnd() % 4) {
	case 0:
		time_format(now - rnd_in(-10 * DAY, 200 * DAY), t, sizeof(t));
		json_object_set_new(f->attrs, "signup", json_string(t));
		break;
	case 1:
		time_format(now - rnd_in(-10 * DAY, 200 * DAY) + 8 * 3600, t, sizeof(t));
		snprintf(t + strlen(t) - 1, 8, "+08:00");
		json_object_set_new(f->attrs, "signup", json_string(t));
		break;
	case 2:
		json_object_set_new(f->attrs, "signup", json_string("soon"));
		break;
	}
	if (rnd() % 2)
		json_object_set_new(f->attrs, "born",
				    json_integer(now - rnd_in(-5 * DAY, 100 * DAY)));
	for (int i = 0; i < n; i++) {
		int64_t at;
		switch (rnd() % 9) {
		case 0:
			at = now;
			break;
		case 1:
			at = now - window(rnd() % 10);
			break;
		case 2:
			at = now - rnd_in(0, 400 * DAY); /* the earlier 90 days, a year */
			break;
		default:
			at = now - rnd_in(0, 150 * DAY);
			break;
		}
		fake_add(f, PICK(types), at, json_pack("{s:i}", "amount", (int)rnd_in(0, 4) * 500));
	}
}

static void test_next_change_property(void **state)
{
	int bad = 0, exact_checked = 0, timed = 0;
	(void)state;

	for (int i = 0; i < 2000 && bad == 0; i++) {
		struct buf b = BUF_INIT;
		struct err e = {""};
		struct fake f;
		struct expr *x;
		int64_t now = NOW + rnd_in(0, DAY), next;
		int exact, r;

		gen(&b, i % 4, &exact);
		x = expr_parse(buf_cstr(&b), &e);
		if (!x)
			print_error("%s: %s\n", buf_cstr(&b), e.msg);
		assert_non_null(x);
		gen_fake(&f, now);
		r = eval_at(x, &f, now, &next);
		assert_true(next > now);
		timed += next != TIME_NEVER;
		bad += check_stable(x, &f, now, r, next, buf_cstr(&b));
		if (exact && next != TIME_NEVER) {
			exact_checked++;
			if (eval_at(x, &f, next, NULL) == r) {
				print_error("%s: next_change %+lld not exact\n", buf_cstr(&b),
					    (long long)(next - now));
				bad++;
			}
		}
		fake_release(&f);
		expr_free(x);
		buf_release(&b);
	}
	assert_int_equal(bad, 0);
	print_message("property: %d exact, %d timed\n", exact_checked, timed);
	assert_true(exact_checked > 50); /* the generator does reach the exact shapes */
	assert_true(timed > 500);
}

/* Property, stats only: histories over the last 400 days, mostly
 * purchases, so that windows of 30, 90, 180 and 365 days all have events
 * leaving them; stats alone and two joined by and/or. */
static void test_stats_property(void **state)
{
	static const char *const kinds[] = {"purchase",	 "purchase", "purchase",
					    "complaint", "replied",  "clicked"};
	int bad = 0, exact_checked = 0, timed = 0, flipped = 0;
	(void)state;

	for (int i = 0; i < 1500 && bad == 0; i++) {
		struct buf b = BUF_INIT;
		struct err e = {""};
		struct fake f;
		struct expr *x;
		int64_t now = NOW + rnd_in(0, DAY), next;
		char c[32];
		int exact, sub, r, n = (int)rnd_in(0, 10);

		snprintf(c, sizeof(c), "%d", (int)rnd_in(-1, 370));
		gen_stat(&b, c, &exact);
		if (i % 3 == 0) {
			buf_puts(&b, rnd() % 2 ? " and " : " or ");
			gen_stat(&b, c, &sub);
			exact = 0;
		}
		x = expr_parse(buf_cstr(&b), &e);
		if (!x)
			print_error("%s: %s\n", buf_cstr(&b), e.msg);
		assert_non_null(x);
		memset(&f, 0, sizeof(f));
		f.attrs = json_object();
		for (int k = 0; k < n; k++)
			fake_add(&f, PICK(kinds),
				 rnd() % 4 ? now - rnd_in(0, 400 * DAY) : now - window(rnd() % 10),
				 json_pack("{s:i}", "amount", (int)rnd_in(0, 8) * 1000));
		r = eval_at(x, &f, now, &next);
		assert_true(next > now);
		check_memo(x, &f, now, r, next, buf_cstr(&b));
		timed += next != TIME_NEVER;
		bad += check_stable(x, &f, now, r, next, buf_cstr(&b));
		if (next != TIME_NEVER && eval_at(x, &f, next, NULL) != r)
			flipped++;
		if (exact && next != TIME_NEVER) {
			exact_checked++;
			if (eval_at(x, &f, next, NULL) == r) {
				print_error("%s: next_change %+lld not exact\n", buf_cstr(&b),
					    (long long)(next - now));
				bad++;
			}
		}
		fake_release(&f);
		expr_free(x);
		buf_release(&b);
	}
	assert_int_equal(bad, 0);
	print_message("stats property: %d exact, %d timed, %d flip at next_change\n", exact_checked,
		      timed, flipped);
	assert_true(exact_checked > 50);
	assert_true(timed > 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_null),
	    cmocka_unit_test(test_windows),
	    cmocka_unit_test(test_days_since),
	    cmocka_unit_test(test_stats),
	    cmocka_unit_test(test_stats_thresholds),
	    cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_explain_failure),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_foreach_ref),
	    cmocka_unit_test(test_callback_failure),
	    cmocka_unit_test(test_next_change_property),
	    cmocka_unit_test(test_stats_property),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
