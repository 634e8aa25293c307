/* test_sendtime.c - send-time choice: "HH:MM" parsing, the best hour of a
 * contact's counts (ties, too little history), the next instant in a
 * local hour or at a local minute (Shanghai, Kolkata, New York across both
 * DST changes, a skipped and a repeated hour, a best hour earlier in the
 * day than the step's earliest time), hours counted in the contact's zone;
 * `send_at` and `send_hour` in the config with their errors and lines;
 * and schedule_events on an in-memory store putting each contact's send
 * in its own hour (machine opens and old opens left out). Run from the
 * project root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "contact.h"
#include "diag.h"
#include "err.h"
#include "schedule.h"
#include "sendtime.h"
#include "store.h"
#include "store_url.h"
#include "store_sendat.h"
#include "timeutil.h"
#include "tz.h"

static int64_t at(const char *s)
{
	int64_t t = 0;
	if (time_parse(s, &t) != 0)
		fail_msg("bad time %s", s);
	return t;
}

/* ---- parsing ---- */

static void test_parse_clock(void **state)
{
	static const struct {
		const char *in;
		int want; /* -1: refused */
	} cases[] = {
	    {"10:00", 600}, {"00:00", 0},   {"23:59", 1439}, {"9:05", 545},  {"09:30", 570},
	    {"24:00", -1},  {"12:60", -1},  {"12:5", -1},    {"12:050", -1}, {"1200", -1},
	    {"", -1},	    {"best", -1},   {" 9:00", -1},   {"9:00 ", -1},  {"-1:00", -1},
	    {"9:0a", -1},   {"123:00", -1}, {":30", -1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int m = -7;
		int rc = sendtime_parse_clock(cases[i].in, &m);
		if (cases[i].want < 0) {
			if (rc != -1 || m != -7)
				fail_msg("\"%s\": accepted as %d", cases[i].in, m);
		} else if (rc != 0 || m != cases[i].want) {
			fail_msg("\"%s\": rc %d minute %d, want %d", cases[i].in, rc, m,
				 cases[i].want);
		}
	}
	assert_int_equal(sendtime_parse_clock(NULL, &(int){0}), -1);
}

/* ---- the best hour ---- */

static void test_best_hour(void **state)
{
	int h[24];
	(void)state;
	memset(h, 0, sizeof(h));
	assert_int_equal(sendtime_best_hour(h), -1); /* no history */
	h[20] = 1;
	assert_int_equal(sendtime_best_hour(h), -1); /* one open is not a habit */
	h[20] = 2;
	assert_int_equal(sendtime_best_hour(h), 20);
	h[8] = 2;
	assert_int_equal(sendtime_best_hour(h), 8); /* a tie goes to the earlier hour */
	h[21] = 3;
	assert_int_equal(sendtime_best_hour(h), 21);
	memset(h, 0, sizeof(h));
	h[0] = 1;
	h[23] = 1;
	assert_int_equal(sendtime_best_hour(h), 0); /* two hours, one each: enough, earlier */
	memset(h, 0, sizeof(h));
	h[23] = 5;
	assert_int_equal(sendtime_best_hour(h), 23);
}

/* ---- the next instant ---- */

enum mode { IN_HOUR, AT_MINUTE };

static void test_next(void **state)
{
	static const struct {
		enum mode mode;
		const char *zone;
		int value; /* the hour, or the minute of the day */
		const char *from, *want;
	} cases[] = {
	    /* Shanghai (+8): from 10:00, best hour 20 -> 20:00 that day */
	    {IN_HOUR, "Asia/Shanghai", 20, "2026-03-02T02:00:00Z", "2026-03-02T12:00:00Z"},
	    /* best hour 8 is earlier in the day than 10:00: the next day's 08:00 */
	    {IN_HOUR, "Asia/Shanghai", 8, "2026-03-02T02:00:00Z", "2026-03-03T00:00:00Z"},
	    /* already within the hour: as it is */
	    {IN_HOUR, "Asia/Shanghai", 10, "2026-03-02T02:30:00Z", "2026-03-02T02:30:00Z"},
	    /* the hour's start is inclusive, the next hour is not in it */
	    {IN_HOUR, "Asia/Shanghai", 10, "2026-03-02T02:00:00Z", "2026-03-02T02:00:00Z"},
	    {IN_HOUR, "Asia/Shanghai", 9, "2026-03-02T02:00:00Z", "2026-03-03T01:00:00Z"},
	    /* across local midnight: 23:30 -> 00:00 the next day */
	    {IN_HOUR, "Asia/Shanghai", 0, "2026-03-02T15:30:00Z", "2026-03-02T16:00:00Z"},
	    /* Kolkata (+5:30): 20:00 IST is 14:30Z */
	    {IN_HOUR, "Asia/Kolkata", 20, "2026-03-02T00:00:00Z", "2026-03-02T14:30:00Z"},
	    /* New York springs forward on 2026-03-08: from 18:00 EST the day
	     * before, 09:00 the next morning is EDT (13:00Z, not 14:00Z) */
	    {IN_HOUR, "America/New_York", 9, "2026-03-07T23:00:00Z", "2026-03-08T13:00:00Z"},
	    /* and falls back on 2026-11-01: from 18:00 EDT, 09:00 EST is 14:00Z */
	    {IN_HOUR, "America/New_York", 9, "2026-10-31T22:00:00Z", "2026-11-01T14:00:00Z"},
	    /* 02:00 does not exist on 2026-03-08: the end of the gap, 03:00 EDT */
	    {IN_HOUR, "America/New_York", 2, "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z"},
	    /* the same hour in winter and summer */
	    {IN_HOUR, "America/New_York", 20, "2026-01-15T12:00:00Z", "2026-01-16T01:00:00Z"},
	    {IN_HOUR, "America/New_York", 20, "2026-07-15T12:00:00Z", "2026-07-16T00:00:00Z"},
	    /* a fixed minute: 20:00 Shanghai; within that minute as it is */
	    {AT_MINUTE, "Asia/Shanghai", 1200, "2026-03-02T02:00:00Z", "2026-03-02T12:00:00Z"},
	    {AT_MINUTE, "Asia/Shanghai", 1200, "2026-03-02T12:00:30Z", "2026-03-02T12:00:30Z"},
	    {AT_MINUTE, "Asia/Shanghai", 1200, "2026-03-02T12:01:00Z", "2026-03-03T12:00:00Z"},
	    /* 09:30 when it is 09:00 in the same hour: the same day */
	    {AT_MINUTE, "Asia/Shanghai", 570, "2026-03-02T01:00:00Z", "2026-03-02T01:30:00Z"},
	    /* 01:30 happens twice on 2026-11-01 in New York: at 01:45 EDT the
	     * next one is 01:30 EST, an hour later, not the next day */
	    {AT_MINUTE, "America/New_York", 90, "2026-11-01T05:45:00Z", "2026-11-01T06:30:00Z"},
	    /* before both: the first */
	    {AT_MINUTE, "America/New_York", 90, "2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z"},
	    /* after both: the next day's, EST */
	    {AT_MINUTE, "America/New_York", 90, "2026-11-01T06:45:00Z", "2026-11-02T06:30:00Z"},
	    /* 02:30 is skipped on 2026-03-08: the end of the gap */
	    {AT_MINUTE, "America/New_York", 150, "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t out = 0;
		int rc =
		    cases[i].mode == IN_HOUR
			? sendtime_in_hour(cases[i].zone, at(cases[i].from), cases[i].value, &out)
			: sendtime_at_minute(cases[i].zone, at(cases[i].from), cases[i].value,
					     &out);
		char got[32];
		time_format(out, got, sizeof(got));
		if (rc != 0 || out != at(cases[i].want))
			fail_msg("case %zu (%s %d from %s): rc %d, got %s, want %s", i,
				 cases[i].zone, cases[i].value, cases[i].from, rc, got,
				 cases[i].want);
	}
	int64_t out = 0;
	assert_int_equal(sendtime_in_hour("Mars/Olympus", 0, 9, &out), -1);
	assert_int_equal(sendtime_in_hour("UTC", 0, 24, &out), -1);
	assert_int_equal(sendtime_at_minute("UTC", 0, 1440, &out), -1);
	assert_int_equal(sendtime_at_minute("UTC", 0, -1, &out), -1);
}

/* a property: for every start in a year of New York hours, the answer is
 * >= from, in the wanted hour, and no earlier whole hour in between was */
static void test_next_walk(void **state)
{
	(void)state;
	const char *zone = "America/New_York";
	for (int64_t from = at("2026-01-01T00:17:00Z"); from < at("2027-01-01T00:00:00Z");
	     from += 3 * 3600 + 7 * 60) {
		static const int hours[] = {0, 2, 5, 9, 13, 20, 23};
		for (size_t k = 0; k < sizeof(hours) / sizeof(hours[0]); k++) {
			int hour = hours[k];
			int64_t out;
			struct tz_local l;
			assert_int_equal(sendtime_in_hour(zone, from, hour, &out), 0);
			assert_true(out >= from);
			assert_true(out - from < 26 * 3600);
			assert_int_equal(tz_localtime(zone, out, &l), 0);
			/* the wanted hour, or the end of a gap that swallowed it */
			if (l.hour != hour && !(hour == 2 && l.hour == 3 && l.minute == 0))
				fail_msg("from %lld hour %d: got local %02d:%02d", (long long)from,
					 hour, l.hour, l.minute);
			for (int64_t t = from; t < out; t += 600) {
				assert_int_equal(tz_localtime(zone, t, &l), 0);
				if (l.hour == hour)
					fail_msg("from %lld hour %d: %lld was already in it",
						 (long long)from, hour, (long long)t);
			}
		}
	}
}

static void test_count_and_best(void **state)
{
	(void)state;
	/* 20:00 in New York in winter (EST) and in summer (EDT): one hour */
	int64_t ts[] = {at("2026-01-10T01:00:00Z"), at("2026-07-10T00:00:00Z"),
			at("2026-07-11T00:30:00Z"), at("2026-02-01T13:00:00Z")};
	int h[24];
	memset(h, 0, sizeof(h));
	assert_int_equal(sendtime_count("America/New_York", ts, 4, h), 0);
	assert_int_equal(h[20], 3);
	assert_int_equal(h[8], 1);
	/* the same instants in Shanghai are other hours */
	memset(h, 0, sizeof(h));
	assert_int_equal(sendtime_count("Asia/Shanghai", ts, 4, h), 0);
	assert_int_equal(h[9], 1);
	assert_int_equal(h[8], 2);
	assert_int_equal(h[21], 1);
	assert_int_equal(sendtime_count("Nowhere/Special", ts, 4, h), -1);

	/* best: with history its hour, without it the default minute */
	memset(h, 0, sizeof(h));
	int64_t out;
	int64_t from = at("2026-03-02T02:00:00Z"); /* 10:00 in Shanghai */
	assert_int_equal(sendtime_best(h, 10 * 60 + 30, "Asia/Shanghai", from, &out), 0);
	assert_int_equal(out, at("2026-03-02T02:30:00Z"));
	h[20] = 1;
	assert_int_equal(sendtime_best(h, 600, "Asia/Shanghai", from, &out), 0);
	assert_int_equal(out, from); /* one open: the default 10:00, which is now */
	h[20] = 4;
	assert_int_equal(sendtime_best(h, 600, "Asia/Shanghai", from, &out), 0);
	assert_int_equal(out, at("2026-03-02T12:00:00Z"));
	assert_int_equal(sendtime_best(h, 600, "Nowhere/Special", from, &out), -1);
}

/* ---- config ---- */

static struct config *load(const char *yaml, struct diag *d)
{
	diag_init(d);
	return config_load_mem("t.yaml", yaml, strlen(yaml), d);
}

static int has_msg(const struct diag *d, const char *msg)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->msgs[i], msg) == 0)
			return 1;
	return 0;
}

static void test_config(void **state)
{
	(void)state;
	struct diag d;
	struct config *c =
	    load("timezone: Asia/Shanghai\n"
		 "transports:\n"
		 "  email: {kind: outbox, channel: email}\n"
		 "campaigns:\n"
		 "  care:\n"
		 "    trigger: {event: purchase}\n"
		 "    send_hour: \"09:30\"\n"
		 "    steps:\n"
		 "      - {after: 1d, channels: [email], template: a, send_at: best}\n"
		 "      - {after: 2d, channels: [email], template: a, send_at: \"20:15\"}\n"
		 "      - {after: 3d, channels: [email], template: a, send_at: 7:05}\n"
		 "      - {after: 4d, channels: [email], template: a}\n"
		 "  plain:\n"
		 "    trigger: {event: purchase}\n"
		 "    steps:\n"
		 "      - {after: 1d, channels: [email], template: a, send_at: best}\n",
		 &d);
	for (size_t i = 0; i < d.n; i++)
		print_message("  diag: %s\n", d.msgs[i]);
	assert_non_null(c);
	assert_int_equal(d.n, 0);
	const struct campaign_conf *cc = config_campaign(c, "care");
	assert_int_equal(cc->send_hour, 570);
	assert_string_equal(cc->timezone, "Asia/Shanghai");
	assert_int_equal(cc->steps[0].send_at, SEND_AT_BEST);
	assert_int_equal(cc->steps[1].send_at, SEND_AT_CLOCK);
	assert_int_equal(cc->steps[1].send_minute, 20 * 60 + 15);
	assert_int_equal(cc->steps[2].send_at, SEND_AT_CLOCK);
	assert_int_equal(cc->steps[2].send_minute, 7 * 60 + 5);
	assert_int_equal(cc->steps[3].send_at, SEND_AT_AFTER);
	assert_int_equal(config_campaign(c, "plain")->send_hour, 600); /* the default */
	config_free(c);
	diag_release(&d);

	c = load("transports:\n"
		 "  email: {kind: outbox, channel: email}\n"
		 "campaigns:\n"
		 "  care:\n"
		 "    trigger: {event: purchase}\n"
		 "    send_hour: \"25:00\"\n"
		 "    steps:\n"
		 "      - {after: 1d, channels: [email], template: a, send_at: soon}\n"
		 "      - after: 1d\n"
		 "        channels: [email]\n"
		 "        template: a\n"
		 "        send_at: 20\n"
		 "      - {after: 1d, channels: [email], template: a, send_at: \"20:00 \"}\n"
		 "      - {after: 1d, channels: [email], template: a, send_at: best}\n"
		 "  other:\n"
		 "    trigger: {event: purchase}\n"
		 "    send_hour: 10\n"
		 "    steps:\n"
		 "      - {after: 1d, channels: [email], template: a, send_at: best}\n"
		 "  lonely:\n"
		 "    trigger: {event: purchase}\n"
		 "    send_hour: \"11:00\"\n"
		 "    steps:\n"
		 "      - {after: 1d, channels: [email], template: a, send_at: \"12:00\"}\n",
		 &d);
	assert_non_null(c);
	static const char *const want[] = {
	    "t.yaml:6: campaign \"care\": bad send_hour \"25:00\" (use a local time like "
	    "\"10:00\")",
	    "t.yaml:8: campaign \"care\" step 1: bad send_at \"soon\" (use best or a local time "
	    "like \"20:00\")",
	    "t.yaml:12: campaign \"care\" step 2: bad send_at \"20\" (use best or a local time "
	    "like "
	    "\"20:00\")",
	    "t.yaml:13: campaign \"care\" step 3: bad send_at \"20:00 \" (use best or a local time "
	    "like \"20:00\")",
	    "t.yaml:17: campaign \"other\": bad send_hour \"10\" (use a local time like \"10:00\")",
	    "t.yaml:22: warning: campaign \"lonely\": send_hour applies only to steps with "
	    "send_at: "
	    "best, and this campaign has none",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!has_msg(&d, want[i])) {
			for (size_t k = 0; k < d.n; k++)
				print_message("  diag: %s\n", d.msgs[k]);
			fail_msg("missing: %s", want[i]);
		}
	assert_int_equal(d.errors, 5);
	assert_int_equal(d.warnings, 1);
	config_free(c);
	diag_release(&d);
}

/* ---- scheduling on a store ---- */

static const char *const SCHED_YAML =
    "timezone: Asia/Shanghai\n"
    "transports:\n"
    "  email: {kind: outbox, channel: email}\n"
    "campaigns:\n"
    "  care:\n"
    "    trigger: {event: purchase}\n"
    "    steps:\n"
    "      - {after: 1d, channels: [email], template: a, send_at: best, expire: 6h}\n"
    "      - {after: 1d, channels: [email], template: a, send_at: \"07:45\"}\n"
    "      - {after: 1d, channels: [email], template: a}\n";

static void add_contact(struct store *s, const char *id, const char *zone, int64_t now)
{
	struct err e = {{0}};
	struct contact c;
	memset(&c, 0, sizeof(c));
	c.id = (char *)id;
	c.email = (char *)"someone@example.com";
	c.timezone = (char *)zone;
	c.do_not_contact = -1;
	for (int k = 0; k < CHANNEL_NKINDS; k++)
		c.unsub[k] = -1;
	if (store_contact_upsert(s, &c, now, &e) != 0)
		fail_msg("upsert %s: %s", id, e.msg);
}

static void add_event(struct store *s, const char *contact, const char *type, const char *when,
		      const char *data, int64_t now)
{
	struct err e = {{0}};
	struct event ev = {0};
	ev.contact_id = (char *)contact;
	ev.type = (char *)type;
	ev.at = at(when);
	ev.data = json_loads(data ? data : "{}", 0, NULL);
	int64_t id = 0;
	int ins = -1;
	int rc = store_event_add(s, &ev, now, &id, &ins, &e);
	json_decref(ev.data);
	if (rc != 0)
		fail_msg("event %s/%s: %s", contact, type, e.msg);
}

/* due - "due_at" of contact's send of step, as RFC 3339 into out */
static const char *due(struct store *s, const char *contact, int step, char *out)
{
	struct err e = {{0}};
	struct send_row *rows;
	size_t n;
	if (store_sends_of(s, contact, 100, &rows, &n, &e) != 0)
		fail_msg("sends of %s: %s", contact, e.msg);
	snprintf(out, 32, "none");
	for (size_t i = 0; i < n; i++)
		if (rows[i].step == step)
			time_format(rows[i].due_at, out, 32);
	send_rows_free(rows, n);
	return out;
}

static void test_schedule(void **state)
{
	(void)state;
	struct diag d;
	struct config *cfg = load(SCHED_YAML, &d);
	for (size_t i = 0; i < d.n; i++)
		print_message("  diag: %s\n", d.msgs[i]);
	assert_non_null(cfg);
	assert_int_equal(d.errors, 0);
	struct err e = {{0}};
	struct store *s = store_open(test_store_url(":memory:"), &e);
	int from, to;
	assert_non_null(s);
	assert_int_equal(store_migrate(s, &from, &to, &e), 0);
	int64_t now = at("2026-03-01T02:00:00Z"); /* 10:00 in Shanghai */

	add_contact(s, "eve", "Asia/Shanghai", now);	/* reads at 20:00 */
	add_contact(s, "amy", "America/New_York", now); /* reads at 08:00 */
	add_contact(s, "new", NULL, now);		/* no history, config zone */
	add_contact(s, "bot", "Asia/Shanghai", now);	/* only machine opens at 03:00 */
	add_contact(s, "old", "Asia/Shanghai", now);	/* opens older than 180 days */
	/* eve: opens and a click at 20:xx local, one open at 09:00 */
	add_event(s, "eve", "opened", "2026-02-10T12:05:00Z", NULL, now);
	add_event(s, "eve", "opened", "2026-02-12T12:40:00Z", "{\"machine\": false}", now);
	add_event(s, "eve", "clicked", "2026-02-20T12:59:00Z", NULL, now);
	add_event(s, "eve", "opened", "2026-02-21T01:00:00Z", NULL, now);
	/* other events are no sign of reading */
	add_event(s, "eve", "delivered", "2026-02-22T01:00:00Z", NULL, now);
	add_event(s, "eve", "replied", "2026-02-23T01:00:00Z", NULL, now);
	/* amy: 08:00 in New York, across the DST change (EST and EDT) */
	add_event(s, "amy", "opened", "2025-09-20T12:15:00Z", NULL, now); /* 08:15 EDT */
	add_event(s, "amy", "opened", "2026-02-20T13:30:00Z", NULL, now);
	add_event(s, "amy", "clicked", "2026-02-21T13:20:00Z", NULL, now);
	/* bot: machine opens would say 03:00; left out, so the default */
	add_event(s, "bot", "opened", "2026-02-10T19:00:00Z", "{\"machine\": true}", now);
	add_event(s, "bot", "opened", "2026-02-11T19:00:00Z", "{\"machine\": true}", now);
	add_event(s, "bot", "clicked", "2026-02-12T19:00:00Z", "{\"machine\": true}", now);
	add_event(s, "bot", "opened", "2026-02-13T19:00:00Z", NULL, now);
	/* old: 20:00 opens, but in 2025's summer, older than 180 days */
	add_event(s, "old", "opened", "2025-08-01T12:00:00Z", NULL, now);
	add_event(s, "old", "opened", "2025-08-02T12:00:00Z", NULL, now);
	add_event(s, "old", "opened", "2025-08-03T12:00:00Z", NULL, now);

	/* the history query itself */
	int64_t *ts;
	size_t n;
	assert_int_equal(store_sendat_times(s, "bot", now - SENDTIME_WINDOW, now, &ts, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ts[0], at("2026-02-13T19:00:00Z"));
	free(ts);
	assert_int_equal(store_sendat_times(s, "eve", now - SENDTIME_WINDOW, now, &ts, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_true(ts[0] < ts[1] && ts[1] < ts[2] && ts[2] < ts[3]);
	free(ts);
	assert_int_equal(store_sendat_times(s, "old", now - SENDTIME_WINDOW, now, &ts, &n, &e), 0);
	assert_int_equal(n, 0);
	free(ts);

	/* the purchases, all at 10:00 Shanghai on 2026-03-01 */
	static const char *const who[] = {"eve", "amy", "new", "bot", "old"};
	for (size_t i = 0; i < 5; i++) {
		char ev_at[32];
		time_format(now, ev_at, sizeof(ev_at));
		add_event(s, who[i], "purchase", ev_at, "{\"order\": 1}", now);
	}
	struct sched_stats st;
	memset(&st, 0, sizeof(st));
	int more;
	if (schedule_events(s, cfg, now, 100, &more, &st, &e) != 0)
		fail_msg("schedule: %s", e.msg);
	assert_int_equal(st.scheduled, 15);

	char b[32];
	/* after 1d: 2026-03-02T02:00Z (10:00 Shanghai); eve's 20:00 that day */
	assert_string_equal(due(s, "eve", 0, b), "2026-03-02T12:00:00Z");
	/* amy: 10:00 Shanghai is 21:00 EST on 03-01 in New York; 08:00 EST next */
	assert_string_equal(due(s, "amy", 0, b), "2026-03-02T13:00:00Z");
	/* no history: the default 10:00 in the config's zone, which is the base */
	assert_string_equal(due(s, "new", 0, b), "2026-03-02T02:00:00Z");
	assert_string_equal(due(s, "bot", 0, b), "2026-03-02T02:00:00Z");
	assert_string_equal(due(s, "old", 0, b), "2026-03-02T02:00:00Z");
	/* a fixed 07:45 local: earlier in the day than 10:00, so the day after */
	assert_string_equal(due(s, "eve", 1, b), "2026-03-02T23:45:00Z");
	/* amy's 07:45 EST after 21:00 EST on 03-01 is 03-02 07:45 EST */
	assert_string_equal(due(s, "amy", 1, b), "2026-03-02T12:45:00Z");
	/* no send_at: as before */
	assert_string_equal(due(s, "eve", 2, b), "2026-03-02T02:00:00Z");

	/* expire counts from the moved due time */
	struct send_row *rows;
	assert_int_equal(store_sends_of(s, "eve", 100, &rows, &n, &e), 0);
	for (size_t i = 0; i < n; i++)
		if (rows[i].step == 0)
			assert_int_equal(rows[i].expire_at, at("2026-03-02T18:00:00Z"));
	send_rows_free(rows, n);

	store_close(s);
	config_free(cfg);
	diag_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_clock),	   cmocka_unit_test(test_best_hour),
	    cmocka_unit_test(test_next),	   cmocka_unit_test(test_next_walk),
	    cmocka_unit_test(test_count_and_best), cmocka_unit_test(test_config),
	    cmocka_unit_test(test_schedule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
