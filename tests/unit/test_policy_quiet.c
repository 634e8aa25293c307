/* test_policy_quiet.c - quiet hours and days in the contact's own zone:
 * fixed cases across DST (New York, Berlin), windows over midnight,
 * Shanghai and Auckland at the same instant, weekends and dates, bad
 * input; and a property test against a minute-by-minute walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "timeutil.h"
#include "tz.h"

static int64_t at(const char *s)
{
	int64_t t = 0;
	if (time_parse(s, &t) != 0)
		fail_msg("bad time %s", s);
	return t;
}

static json_t *days_of(const char *json)
{
	return json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
}

static void test_cases(void **state)
{
	static const struct {
		const char *zone, *hours, *days, *t, *want;
	} cases[] = {
	    /* 22:00 in Shanghai: the window over midnight ends at 09:00 next day */
	    {"Asia/Shanghai", "21:00-09:00", NULL, "2026-03-01T14:00:00Z", "2026-03-02T01:00:00Z"},
	    /* the same instant is 03:00 in Auckland (NZDT, +13) */
	    {"Pacific/Auckland", "21:00-09:00", NULL, "2026-03-01T14:00:00Z", "2026-03-01T20:00:00Z"},
	    /* 10:00 in Shanghai: allowed as it is */
	    {"Asia/Shanghai", "21:00-09:00", NULL, "2026-03-01T02:00:00Z", "2026-03-01T02:00:00Z"},
	    /* the window's edges: 09:00 is allowed, 21:00 is not */
	    {"Asia/Shanghai", "21:00-09:00", NULL, "2026-03-01T01:00:00Z", "2026-03-01T01:00:00Z"},
	    {"Asia/Shanghai", "21:00-09:00", NULL, "2026-03-01T13:00:00Z", "2026-03-02T01:00:00Z"},
	    /* New York springs forward on 2026-03-08: 01:00 EST -> 09:00 EDT */
	    {"America/New_York", "21:00-09:00", NULL, "2026-03-08T06:00:00Z", "2026-03-08T13:00:00Z"},
	    /* the night before, still EST: 09:00 EST */
	    {"America/New_York", "21:00-09:00", NULL, "2026-03-07T06:00:00Z", "2026-03-07T14:00:00Z"},
	    /* a window ending in the gap ends when the gap does: 03:00 EDT */
	    {"America/New_York", "01:00-02:30", NULL, "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z"},
	    /* Berlin falls back on 2026-10-25: 22:00 CEST -> 09:00 CET */
	    {"Europe/Berlin", "21:00-09:00", NULL, "2026-10-24T20:00:00Z", "2026-10-25T08:00:00Z"},
	    /* a daytime window */
	    {"Europe/Berlin", "12:00-14:00", NULL, "2026-06-01T10:30:00Z", "2026-06-01T12:00:00Z"},
	    {"Europe/Berlin", "12:00-14:00", NULL, "2026-06-01T12:00:00Z", "2026-06-01T12:00:00Z"},
	    /* Friday 22:00 in Shanghai, weekends quiet: Monday 09:00 */
	    {"Asia/Shanghai", "21:00-09:00", "[\"weekends\"]", "2026-03-06T14:00:00Z",
	     "2026-03-09T01:00:00Z"},
	    /* a listed date: the whole local day, then no window */
	    {"Asia/Shanghai", NULL, "[\"2026-10-01\"]", "2026-09-30T16:30:00Z",
	     "2026-10-01T16:00:00Z"},
	    /* a date and a weekday together */
	    {"Asia/Shanghai", "21:00-09:00", "[\"2026-10-01\", \"fri\"]", "2026-09-30T14:00:00Z",
	     "2026-10-03T01:00:00Z"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quiet q;
		struct err e = {{0}};
		json_t *d = days_of(cases[i].days);
		json_t *h = cases[i].hours ? json_string(cases[i].hours) : NULL;
		if (quiet_parse(h, d, &q, &e) != 0)
			fail_msg("case %zu: %s", i, e.msg);
		int64_t out = 0;
		assert_int_equal(quiet_allowed_at(&q, cases[i].zone, at(cases[i].t), &out), 0);
		char got[32];
		time_format(out, got, sizeof(got));
		if (out != at(cases[i].want))
			fail_msg("case %zu (%s %s at %s): got %s, want %s", i, cases[i].zone,
				 cases[i].hours ? cases[i].hours : "-", cases[i].t, got, cases[i].want);
		quiet_release(&q);
		json_decref(d);
		json_decref(h);
	}
}

static void test_bad(void **state)
{
	static const struct {
		const char *hours, *days, *msg;
	} cases[] = {
	    {"\"21:00\"", NULL, "bad quiet hours \"21:00\" (want HH:MM-HH:MM)"},
	    {"\"25:00-09:00\"", NULL, "bad quiet hours \"25:00-09:00\" (want HH:MM-HH:MM)"},
	    {"\"21:00-09:60\"", NULL, "bad quiet hours \"21:00-09:60\" (want HH:MM-HH:MM)"},
	    {"\"9:00-21:00\"", NULL, "bad quiet hours \"9:00-21:00\" (want HH:MM-HH:MM)"},
	    {"\"09:00-09:00\"", NULL, "quiet hours \"09:00-09:00\" are empty (start equals end)"},
	    {"\"00:00-24:00\"", NULL, "quiet hours \"00:00-24:00\" are empty (start equals end)"},
	    {"[\"21:00-09:00\", \"08:00-10:00\"]", NULL,
	     "quiet hours \"08:00-10:00\" overlap an earlier window"},
	    {"[\"12:00-14:00\", 5]", NULL, "quiet_hours[1] must be a string HH:MM-HH:MM"},
	    {"21", NULL, "quiet_hours must be \"HH:MM-HH:MM\" or a list of them"},
	    {NULL, "\"sat\"", "quiet_days must be a list of weekdays and YYYY-MM-DD dates"},
	    {NULL, "[\"caturday\"]", "quiet_days[0]: \"caturday\" is neither a weekday nor YYYY-MM-DD"},
	    {NULL, "[\"2026-13-01\"]", "quiet_days[0]: \"2026-13-01\" is neither a weekday nor YYYY-MM-DD"},
	    {NULL, "[1]", "quiet_days[0] must be a string"},
	    {NULL, "[\"weekends\", \"mon\", \"tue\", \"wed\", \"thu\", \"friday\"]",
	     "quiet_days leave no day to send on"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quiet q;
		struct err e = {{0}};
		json_t *d = days_of(cases[i].days), *h = days_of(cases[i].hours);
		if (quiet_parse(h, d, &q, &e) != -1)
			fail_msg("case %zu: accepted", i);
		assert_string_equal(e.msg, cases[i].msg);
		json_decref(d);
		json_decref(h);
	}
	struct quiet q;
	struct err e = {{0}};
	json_t *h = json_string("21:00-09:00");
	assert_int_equal(quiet_parse(h, NULL, &q, &e), 0);
	int64_t out;
	assert_int_equal(quiet_allowed_at(&q, "Mars/Olympus_Mons", 0, &out), -1);
	char desc[128];
	quiet_describe(&q, desc, sizeof(desc));
	assert_string_equal(desc, "21:00-09:00");
	quiet_release(&q);
	json_decref(h);
	json_t *h2 = days_of("[\"12:00-13:30\", \"22:00-06:00\"]"), *d2 = days_of("[\"weekends\", \"2026-10-01\"]");
	assert_int_equal(quiet_parse(h2, d2, &q, &e), 0);
	quiet_describe(&q, desc, sizeof(desc));
	assert_string_equal(desc, "12:00-13:30, 22:00-06:00, sun, sat, 2026-10-01");
	quiet_release(&q);
	json_decref(h2);
	json_decref(d2);
}

/* brute - the first minute-aligned instant >= t (or t itself) that the
 * rule allows, by looking at every minute's local time */
static int allowed_now(const struct quiet *q, const char *zone, int64_t t)
{
	struct tz_local l;
	assert_int_equal(tz_localtime(zone, t, &l), 0);
	if (q->weekdays & (1u << l.wday))
		return 0;
	for (size_t i = 0; i < q->ndates; i++)
		if (q->dates[i].year == l.year && q->dates[i].month == l.month &&
		    q->dates[i].day == l.day)
			return 0;
	int m = l.hour * 60 + l.minute;
	for (size_t i = 0; i < q->nwin; i++) {
		int a = q->win[i].start, b = q->win[i].end;
		if (a < b ? m >= a && m < b : m >= a || m < b)
			return 0;
	}
	return 1;
}

static void test_property(void **state)
{
	static const char *const zones[] = {"Asia/Shanghai", "America/New_York", "Europe/Berlin",
					    "Pacific/Auckland", "Asia/Kathmandu",
					    "Australia/Lord_Howe"};
	static const char *const windows[] = {"\"21:00-09:00\"", "\"12:00-14:00\"",
					      "\"01:00-02:30\"", "\"00:00-06:00\"",
					      "[\"12:00-13:00\", \"22:30-00:15\"]"};
	static const char *const dayss[] = {NULL, "[\"weekends\"]", "[\"2026-03-08\", \"wed\"]"};
	(void)state;
	unsigned seed = 12345;
	int64_t base = at("2026-01-01T00:00:00Z");
	for (int n = 0; n < 600; n++) {
		seed = seed * 1103515245u + 12345u;
		const char *zone = zones[seed % 6];
		const char *win = windows[(seed >> 8) % 5];
		const char *days = dayss[(seed >> 16) % 3];
		/* minute-aligned instants over the year, and DST weekends often */
		int64_t t = base + (int64_t)((seed >> 4) % (365 * 1440)) * 60;
		if (n % 3 == 0)
			t = at(n % 2 ? "2026-03-08T05:00:00Z" : "2026-10-25T00:00:00Z") +
			    (int64_t)((seed >> 3) % 720) * 60;
		struct quiet q;
		struct err e = {{0}};
		json_t *d = days_of(days), *h = days_of(win);
		assert_int_equal(quiet_parse(h, d, &q, &e), 0);
		int64_t want = t;
		while (!allowed_now(&q, zone, want))
			want += 60;
		int64_t got;
		assert_int_equal(quiet_allowed_at(&q, zone, t, &got), 0);
		if (got != want) {
			char a[32], b[32], c[32];
			time_format(t, a, sizeof(a));
			time_format(got, b, sizeof(b));
			time_format(want, c, sizeof(c));
			fail_msg("%s %s %s at %s: got %s, want %s", zone, win, days ? days : "", a, b,
				 c);
		}
		quiet_release(&q);
		json_decref(d);
		json_decref(h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_property),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
