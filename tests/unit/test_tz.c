/* test_tz.c - zone validation, local fields across DST, wall time to instant */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "timeutil.h"
#include "tz.h"

static int64_t at(const char *s)
{
	int64_t t = 0;
	assert_int_equal(time_parse(s, &t), 0);
	return t;
}

static void test_valid(void **state)
{
	static const struct {
		const char *zone;
		int valid;
	} cases[] = {
	    {"Asia/Shanghai", 1},
	    {"America/New_York", 1},
	    {"Europe/Berlin", 1},
	    {"Pacific/Auckland", 1},
	    {"UTC", 1},
	    {"Etc/UTC", 1},
	    {"Asia/Calcutta", 1}, /* an alias is still a system zone */
	    {"Mars/Base", 0},
	    {"", 0},
	    {"GMT+99", 0},
	    {"GMT+08:00", 0}, /* a custom ID, not an IANA zone */
	    {"asia/shanghai ", 0},
	    {"Asia/Shanghai\n", 0},
	    {"Europe/Berlin/../Paris", 0},
	    {"Asia/Shang\xe6\xb5\xb7", 0},
	    {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (tz_valid(cases[i].zone) != cases[i].valid)
			fail_msg("tz_valid(\"%s\") != %d", cases[i].zone, cases[i].valid);
		/* a second time, answered from the cache */
		assert_int_equal(tz_valid(cases[i].zone), cases[i].valid);
	}
	assert_int_equal(tz_valid(NULL), 0);
}

static void test_unknown_zone_fails(void **state)
{
	struct tz_local l;
	int64_t t = 0;
	(void)state;
	assert_int_equal(tz_localtime("Mars/Base", 0, &l), -1);
	memset(&l, 0, sizeof(l));
	l.year = 2026;
	l.month = 1;
	l.day = 1;
	assert_int_equal(tz_mktime("Mars/Base", &l, &t), -1);
	assert_int_equal(tz_mktime("", &l, &t), -1);
}

struct lt_case {
	const char *zone;
	const char *instant;
	int year, month, day, hour, minute, second, wday, offset;
};

static void test_localtime(void **state)
{
	static const struct lt_case cases[] = {
	    /* New York spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z) */
	    {"America/New_York", "2026-03-08T06:59:59Z", 2026, 3, 8, 1, 59, 59, 0, -5 * 3600},
	    {"America/New_York", "2026-03-08T07:00:00Z", 2026, 3, 8, 3, 0, 0, 0, -4 * 3600},
	    /* fall back 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z): 01:30 twice */
	    {"America/New_York", "2026-11-01T05:30:00Z", 2026, 11, 1, 1, 30, 0, 0, -4 * 3600},
	    {"America/New_York", "2026-11-01T06:30:00Z", 2026, 11, 1, 1, 30, 0, 0, -5 * 3600},
	    /* Berlin 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z) */
	    {"Europe/Berlin", "2026-03-29T00:59:59Z", 2026, 3, 29, 1, 59, 59, 0, 3600},
	    {"Europe/Berlin", "2026-03-29T01:00:00Z", 2026, 3, 29, 3, 0, 0, 0, 7200},
	    /* one instant, two zones: Auckland in NZDT (+13) is a day ahead */
	    {"Pacific/Auckland", "2026-01-15T12:00:00Z", 2026, 1, 16, 1, 0, 0, 5, 13 * 3600},
	    {"Asia/Shanghai", "2026-01-15T12:00:00Z", 2026, 1, 15, 20, 0, 0, 4, 8 * 3600},
	    /* and in the southern winter, NZST (+12) */
	    {"Pacific/Auckland", "2026-07-01T00:00:00Z", 2026, 7, 1, 12, 0, 0, 3, 12 * 3600},
	    {"UTC", "2026-02-28T23:59:59Z", 2026, 2, 28, 23, 59, 59, 6, 0},
	    {"Asia/Kolkata", "2026-06-01T00:00:00Z", 2026, 6, 1, 5, 30, 0, 1, 5 * 3600 + 1800},
	    {"UTC", "1969-12-31T23:59:59Z", 1969, 12, 31, 23, 59, 59, 3, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lt_case *c = &cases[i];
		struct tz_local l;
		memset(&l, 0xff, sizeof(l));
		assert_int_equal(tz_localtime(c->zone, at(c->instant), &l), 0);
		if (l.year != c->year || l.month != c->month || l.day != c->day ||
		    l.hour != c->hour || l.minute != c->minute || l.second != c->second ||
		    l.wday != c->wday || l.utc_offset != c->offset)
			fail_msg("%s in %s: got %04d-%02d-%02d %02d:%02d:%02d wday %d off %d",
				 c->instant, c->zone, l.year, l.month, l.day, l.hour, l.minute,
				 l.second, l.wday, l.utc_offset);
	}
}

struct mk_case {
	const char *zone;
	int year, month, day, hour, minute, second;
	const char *want;
};

static void test_mktime(void **state)
{
	static const struct mk_case cases[] = {
	    {"Asia/Shanghai", 2026, 3, 1, 9, 30, 0, "2026-03-01T01:30:00Z"},
	    {"America/New_York", 2026, 7, 4, 12, 0, 0, "2026-07-04T16:00:00Z"},
	    {"America/New_York", 2026, 1, 4, 12, 0, 0, "2026-01-04T17:00:00Z"},
	    /* in the spring-forward gap: 02:30 does not exist, the instant after
	     * the gap is 03:00 EDT */
	    {"America/New_York", 2026, 3, 8, 2, 30, 0, "2026-03-08T07:00:00Z"},
	    {"America/New_York", 2026, 3, 8, 2, 0, 0, "2026-03-08T07:00:00Z"},
	    {"America/New_York", 2026, 3, 8, 3, 0, 0, "2026-03-08T07:00:00Z"},
	    {"Europe/Berlin", 2026, 3, 29, 2, 15, 0, "2026-03-29T01:00:00Z"},
	    /* in the repeated hour: 01:30 happens twice, the first is EDT */
	    {"America/New_York", 2026, 11, 1, 1, 30, 0, "2026-11-01T05:30:00Z"},
	    {"Europe/Berlin", 2026, 10, 25, 2, 30, 0, "2026-10-25T00:30:00Z"},
	    /* out-of-range fields carry over, as in mktime */
	    {"UTC", 2026, 12, 32, 0, 0, 0, "2027-01-01T00:00:00Z"},
	    {"UTC", 2026, 3, 1, 24, 0, 0, "2026-03-02T00:00:00Z"},
	    {"Pacific/Auckland", 2026, 1, 16, 1, 0, 0, "2026-01-15T12:00:00Z"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mk_case *c = &cases[i];
		struct tz_local l;
		int64_t t = 0;
		char got[32];
		memset(&l, 0, sizeof(l));
		l.year = c->year;
		l.month = c->month;
		l.day = c->day;
		l.hour = c->hour;
		l.minute = c->minute;
		l.second = c->second;
		assert_int_equal(tz_mktime(c->zone, &l, &t), 0);
		time_format(t, got, sizeof(got));
		if (strcmp(got, c->want) != 0)
			fail_msg("%04d-%02d-%02d %02d:%02d:%02d in %s: got %s want %s", c->year,
				 c->month, c->day, c->hour, c->minute, c->second, c->zone, got,
				 c->want);
	}
}

/* a round trip through both calls, over more zones than the cache holds,
 * every hour of a year with two transitions */
static void test_roundtrip_and_cache(void **state)
{
	static const char *const zones[] = {
	    "Asia/Shanghai",
	    "America/New_York",
	    "Europe/Berlin",
	    "Pacific/Auckland",
	    "UTC",
	    "Asia/Tokyo",
	    "Australia/Sydney",
	    "America/Los_Angeles",
	    "Europe/London",
	    "Asia/Kolkata",
	    "America/Sao_Paulo",
	    "Africa/Cairo",
	    "Europe/Moscow",
	    "Asia/Singapore",
	    "America/Chicago",
	    "Asia/Dubai",
	    "Australia/Lord_Howe",
	    "America/St_Johns",
	    "Asia/Kathmandu",
	    "Pacific/Chatham",
	};
	(void)state;
	for (int64_t t = at("2026-01-01T00:00:00Z"); t < at("2027-01-01T00:00:00Z");
	     t += 3600 * 7 + 17) {
		for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
			struct tz_local l;
			int64_t back = 0;
			assert_int_equal(tz_localtime(zones[i], t, &l), 0);
			assert_int_equal(tz_mktime(zones[i], &l, &back), 0);
			/* equal, except a time in a repeated hour maps to the first */
			if (back != t && back != t - 3600 && back != t - 1800)
				fail_msg("%s: %lld -> %lld", zones[i], (long long)t,
					 (long long)back);
		}
	}
}

/* before 1582 the calendar stays Gregorian, agreeing with time_parse */
static void test_proleptic(void **state)
{
	struct tz_local l;
	int64_t t = at("1500-03-01T00:00:00Z"), back = 0;
	(void)state;
	assert_int_equal(tz_localtime("UTC", t, &l), 0);
	assert_int_equal(l.year, 1500);
	assert_int_equal(l.month, 3);
	assert_int_equal(l.day, 1);
	assert_int_equal(tz_mktime("UTC", &l, &back), 0);
	assert_true(back == t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_unknown_zone_fails),
	    cmocka_unit_test(test_localtime),
	    cmocka_unit_test(test_mktime),
	    cmocka_unit_test(test_roundtrip_and_cache),
	    cmocka_unit_test(test_proleptic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
