/* test_schedule.c - from events and segments to scheduled sends, on an
 * in-memory store with the config in tests/data/sched/sched.yaml: event
 * triggers (due and expiry times, idempotence, the 30-day age limit),
 * `unless` cancellation, segment entry at the exact instant days_since
 * flips, holdout and variant splits, and recurring `every` campaigns.
 * Run from the project root. */
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
#include "store.h"
#include "store_url.h"
#include "timeutil.h"

#define FIXTURE "tests/data/sched/sched.yaml"
#define NOW 1700000000LL
#define HOUR 3600LL
#define DAY 86400LL

static struct config *cfg;

static int group_setup(void **state)
{
	(void)state;
	struct diag d;
	diag_init(&d);
	cfg = config_load(FIXTURE, &d);
	if (!cfg || d.errors) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "  diag: %s\n", d.msgs[i]);
		diag_release(&d);
		return -1;
	}
	diag_release(&d);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	config_free(cfg);
	return 0;
}

static int setup(void **state)
{
	struct err e = {{0}};
	struct store *s = store_open(test_store_url(":memory:"), &e);
	int from, to;
	if (!s || store_migrate(s, &from, &to, &e) != 0) {
		fprintf(stderr, "store: %s\n", e.msg);
		return -1;
	}
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	store_close(*state);
	return 0;
}

/* ---- helpers ---- */

static void add_contact(struct store *s, const char *id, const char *tier, int64_t now)
{
	struct err e = {{0}};
	struct contact c;
	memset(&c, 0, sizeof(c));
	c.id = (char *)id;
	c.email = (char *)"someone@example.com";
	c.do_not_contact = -1;
	for (int k = 0; k < CHANNEL_NKINDS; k++)
		c.unsub[k] = -1;
	c.attrs = tier ? json_pack("{s:s}", "tier", tier) : NULL;
	int rc = store_contact_upsert(s, &c, now, &e);
	json_decref(c.attrs);
	if (rc != 0)
		fail_msg("upsert %s: %s", id, e.msg);
}

static int64_t add_event(struct store *s, const char *contact, const char *type, int64_t at,
			 int64_t now, int *inserted)
{
	struct err e = {{0}};
	struct event ev = {0};
	ev.contact_id = (char *)contact;
	ev.type = (char *)type;
	ev.at = at;
	ev.data = json_object();
	int64_t id = 0;
	int ins = -1;
	int rc = store_event_add(s, &ev, now, &id, &ins, &e);
	json_decref(ev.data);
	if (rc != 0)
		fail_msg("event %s/%s: %s", contact, type, e.msg);
	if (inserted)
		*inserted = ins;
	return id;
}

static struct sched_stats run_events(struct store *s, int64_t now)
{
	struct err e = {{0}};
	struct sched_stats st;
	memset(&st, 0, sizeof(st));
	int more = -1;
	if (schedule_events(s, cfg, now, 100, &more, &st, &e) != 0)
		fail_msg("schedule_events: %s", e.msg);
	assert_int_equal(more, 0);
	return st;
}

static struct sched_stats run_segments(struct store *s, int64_t now)
{
	struct err e = {{0}};
	struct sched_stats st;
	memset(&st, 0, sizeof(st));
	int more = -1;
	if (schedule_segments(s, cfg, now, 100, &more, &st, &e) != 0)
		fail_msg("schedule_segments: %s", e.msg);
	return st;
}

/* the contact's sends, oldest first */
static size_t sends_of(struct store *s, const char *contact, struct send_row **out)
{
	struct err e = {{0}};
	struct send_row *rows;
	size_t n;
	if (store_sends_of(s, contact, 100, &rows, &n, &e) != 0)
		fail_msg("sends_of: %s", e.msg);
	for (size_t i = 0; i < n / 2; i++) {
		struct send_row t = rows[i];
		rows[i] = rows[n - 1 - i];
		rows[n - 1 - i] = t;
	}
	*out = rows;
	return n;
}

/* due - whether contact is due for segment evaluation at t */
static int due(struct store *s, const char *contact, int64_t t)
{
	struct err e = {{0}};
	char **ids;
	size_t n;
	if (store_contacts_to_eval(s, t, 10000, &ids, &n, &e) != 0)
		fail_msg("contacts_to_eval: %s", e.msg);
	int found = 0;
	for (size_t i = 0; i < n; i++)
		found |= strcmp(ids[i], contact) == 0;
	strv_free(ids, n);
	return found;
}

static int in_segment(struct store *s, const char *contact, const char *seg)
{
	struct err e = {{0}};
	char **names;
	size_t n;
	if (store_segments_of(s, contact, &names, &n, &e) != 0)
		fail_msg("segments_of: %s", e.msg);
	int found = 0;
	for (size_t i = 0; i < n; i++)
		found |= strcmp(names[i], seg) == 0;
	strv_free(names, n);
	return found;
}

static const struct campaign_conf *campaign(const char *name)
{
	const struct campaign_conf *cc = config_campaign(cfg, name);
	if (!cc)
		fail_msg("no campaign %s in the fixture", name);
	return cc;
}

/* ---- the fixture itself ---- */

static void test_fixture(void **state)
{
	(void)state;
	assert_int_equal(cfg->ntransports, 1);
	assert_string_equal(cfg->transports[0].kind, "outbox");
	assert_int_equal(cfg->transports[0].channel, CHANNEL_EMAIL);
	assert_int_equal(cfg->nsegments, 2);
	const struct campaign_conf *t = campaign("thanks");
	assert_int_equal(t->cls, CLASS_TRANSACTIONAL);
	assert_int_equal(t->nsteps, 2);
	assert_int_equal(t->steps[0].after, HOUR);
	assert_int_equal(t->steps[0].expire, 23 * HOUR);
	assert_int_equal(t->steps[1].nunless, 1);
	assert_true(campaign("win-back")->holdout == 0.5);
	assert_int_equal(campaign("vip-care")->trigger_every, 30 * DAY);
	assert_int_equal(campaign("promo")->steps[0].nvariants, 3);
}

/* ---- event triggers ---- */

static void test_event_schedules_steps(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	const int64_t at = NOW - 2 * HOUR;
	add_contact(s, "buyer", NULL, NOW - DAY);
	int64_t eid = add_event(s, "buyer", "purchase", at, NOW, NULL);

	struct sched_stats st = run_events(s, NOW);
	assert_int_equal(st.events, 1);
	assert_int_equal(st.enrolled, 1);
	assert_int_equal(st.holdout, 0);
	assert_int_equal(st.scheduled, 2);

	struct send_row *r;
	size_t n = sends_of(s, "buyer", &r);
	assert_int_equal(n, 2);
	static const struct {
		int step;
		int64_t due, expire;
		const char *template;
	} want[] = {
		{0, at + HOUR, at + HOUR + 23 * HOUR, "thanks"},
		{1, at + 7 * DAY, TIME_NEVER, "survey"},
	};
	char ref[48];
	snprintf(ref, sizeof(ref), "event:%lld", (long long)eid);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(r[i].step, want[i].step);
		if (r[i].due_at != want[i].due || r[i].expire_at != want[i].expire)
			fail_msg("step %d: due %lld expire %lld, want %lld %lld", r[i].step,
				 (long long)r[i].due_at, (long long)r[i].expire_at, (long long)want[i].due,
				 (long long)want[i].expire);
		assert_string_equal(r[i].template, want[i].template);
		assert_string_equal(r[i].state, "scheduled");
		assert_int_equal(r[i].priority, 0); /* transactional */
		assert_int_equal(r[i].trigger_at, at);
		assert_int_equal(r[i].event_id, eid);
		assert_string_equal(r[i].trigger_ref, ref);
	}
	send_rows_free(r, n);

	/* the same events again: duplicates, nothing new */
	int ins = -1;
	add_event(s, "buyer", "purchase", at, NOW + 10, &ins);
	assert_int_equal(ins, 0);
	st = run_events(s, NOW + 10);
	assert_int_equal(st.events, 0);
	assert_int_equal(st.scheduled, 0);
	n = sends_of(s, "buyer", &r);
	assert_int_equal(n, 2);
	send_rows_free(r, n);
	/* the enrollment key is the event: a second worker would find it taken */
	int64_t id = 0;
	int created = -1;
	assert_int_equal(store_enroll(s, "thanks", "buyer", ref, at, eid, 0, NULL, NOW, &id, &created, &e), 0);
	assert_int_equal(created, 0);

	/* another purchase is another enrollment */
	add_event(s, "buyer", "purchase", at + 60, NOW + 20, &ins);
	assert_int_equal(ins, 1);
	st = run_events(s, NOW + 20);
	assert_int_equal(st.enrolled, 1);
	assert_int_equal(st.scheduled, 2);
}

static void test_events_batch_more(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	add_contact(s, "m", NULL, NOW);
	add_event(s, "m", "purchase", NOW - 10, NOW, NULL);
	add_event(s, "m", "purchase", NOW - 20, NOW, NULL);
	add_event(s, "m", "purchase", NOW - 30, NOW, NULL);
	struct sched_stats st;
	memset(&st, 0, sizeof(st));
	int more = -1;
	assert_int_equal(schedule_events(s, cfg, NOW, 2, &more, &st, &e), 0);
	assert_int_equal(more, 1);
	assert_int_equal(st.events, 2);
	assert_int_equal(schedule_events(s, cfg, NOW, 2, &more, &st, &e), 0);
	assert_int_equal(more, 0);
	assert_int_equal(st.events, 3);
	assert_int_equal(st.scheduled, 6);
}

static void test_unless_cancels(void **state)
{
	struct store *s = *state;
	const int64_t at = NOW - 3 * HOUR; /* the purchase */
	static const struct {
		const char *type;
		int64_t offset; /* from the purchase */
		int cancelled;
	} rows[] = {
		{"replied", 2 * HOUR, 1},  /* after the trigger: cancels step 1 */
		{"replied", 1, 1},
		{"replied", 0, 0},         /* at the trigger time: not after it */
		{"replied", -HOUR, 0},     /* before the purchase */
		{"clicked", 2 * HOUR, 0},  /* not an `unless` type */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char id[16];
		snprintf(id, sizeof(id), "u%zu", i);
		add_contact(s, id, NULL, NOW - DAY);
		add_event(s, id, "purchase", at, NOW - HOUR, NULL);
		struct sched_stats st = run_events(s, NOW - HOUR);
		assert_int_equal(st.scheduled, 2);
		add_event(s, id, rows[i].type, at + rows[i].offset, NOW, NULL);
		st = run_events(s, NOW);
		if (st.cancelled != rows[i].cancelled)
			fail_msg("row %zu (%s at %+lld): cancelled %d, want %d", i, rows[i].type,
				 (long long)rows[i].offset, st.cancelled, rows[i].cancelled);
		struct send_row *r;
		size_t n = sends_of(s, id, &r);
		assert_int_equal(n, 2);
		assert_string_equal(r[0].state, "scheduled"); /* step 0 has no unless */
		assert_string_equal(r[1].state, rows[i].cancelled ? "cancelled" : "scheduled");
		if (rows[i].cancelled) {
			assert_non_null(r[1].reason);
			assert_non_null(strstr(r[1].reason, "replied at "));
		}
		send_rows_free(r, n);
	}
}

static void test_trigger_max_age(void **state)
{
	struct store *s = *state;
	static const struct {
		int64_t age;
		int enrolled;
	} rows[] = {
		{0, 1},
		{29 * DAY, 1},
		{30 * DAY - 1, 1},
		{30 * DAY + 1, 0},
		{31 * DAY, 0},
		{365 * DAY, 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char id[16];
		snprintf(id, sizeof(id), "age%zu", i);
		add_contact(s, id, NULL, NOW - 400 * DAY);
		add_event(s, id, "purchase", NOW - rows[i].age, NOW, NULL);
		struct sched_stats st = run_events(s, NOW);
		assert_int_equal(st.events, 1); /* processed either way */
		if (st.enrolled != rows[i].enrolled)
			fail_msg("age %lld s: enrolled %d, want %d", (long long)rows[i].age, st.enrolled,
				 rows[i].enrolled);
		assert_int_equal(st.scheduled, 2 * rows[i].enrolled);
		struct send_row *r;
		size_t n = sends_of(s, id, &r);
		assert_int_equal(n, (size_t)(2 * rows[i].enrolled));
		send_rows_free(r, n);
	}
}

/* ---- segments ---- */

/* first id of the form prefix%d with schedule_in_holdout == want */
static void pick_id(const struct campaign_conf *cc, const char *prefix, int want, char *out,
		    size_t n)
{
	for (int i = 0; i < 1000; i++) {
		snprintf(out, n, "%s%d", prefix, i);
		if (schedule_in_holdout(cc, out) == want)
			return;
	}
	fail_msg("no id with holdout %d", want);
}

static void test_segment_flip_and_enroll(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	const struct campaign_conf *wb = campaign("win-back");
	for (int hold = 0; hold <= 1; hold++) {
		char id[32];
		pick_id(wb, hold ? "churn-h" : "churn-t", hold, id, sizeof(id));
		const int64_t p = NOW - 50 * DAY; /* the purchase */
		const int64_t flip = p + 61 * DAY; /* days_since > 60: 61 whole days */
		add_contact(s, id, NULL, p - DAY);
		add_event(s, id, "purchase", p, NOW, NULL);
		struct sched_stats st = run_events(s, NOW);
		assert_int_equal(st.enrolled, 0); /* 50 days old: no thank-you */

		/* at now: 50 days, not in churn_risk */
		struct contact c;
		assert_int_equal(store_contact_get(s, id, &c, &e), 0);
		int member[8] = {0};
		int64_t next = 0;
		assert_int_equal(segments_eval(s, cfg, &c, NOW, member, &next, &e), 0);
		contact_release(&c);
		assert_int_equal(member[0], 0);
		if (next != flip)
			fail_msg("segments_eval next %lld, want purchase + 61d = %lld (off by %+lld s)",
				 (long long)next, (long long)flip, (long long)(next - flip));

		assert_true(due(s, id, NOW));
		st = run_segments(s, NOW);
		assert_int_equal(st.evaluated, 1);
		assert_int_equal(st.entered, 0);
		assert_int_equal(st.enrolled, 0);
		assert_false(in_segment(s, id, "churn_risk"));

		static const struct {
			int64_t t;
			int due;
		} when[] = {
			{NOW, 0}, {NOW + DAY, 0}, {p + 60 * DAY, 0}, {p + 61 * DAY - 1, 0},
			{p + 61 * DAY, 1}, {p + 100 * DAY, 1},
		};
		for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++)
			if (due(s, id, when[i].t) != when[i].due)
				fail_msg("%s at purchase%+.3fd: due %d, want %d", id,
					 (double)(when[i].t - p) / DAY, !when[i].due, when[i].due);

		/* one second early changes nothing */
		assert_int_equal(store_contact_eval_at(s, id, flip - 1, &e), 0);
		st = run_segments(s, flip - 1);
		assert_int_equal(st.evaluated, 1);
		assert_int_equal(st.entered, 0);
		assert_false(in_segment(s, id, "churn_risk"));
		assert_true(due(s, id, flip));

		st = run_segments(s, flip);
		assert_int_equal(st.evaluated, 1);
		assert_int_equal(st.entered, 1);
		assert_int_equal(st.enrolled, 1);
		assert_int_equal(st.holdout, hold);
		assert_int_equal(st.scheduled, hold ? 0 : 1);
		assert_true(in_segment(s, id, "churn_risk"));
		struct send_row *r;
		size_t n = sends_of(s, id, &r);
		assert_int_equal(n, (size_t)(hold ? 0 : 1));
		if (n) {
			assert_string_equal(r[0].campaign, "win-back");
			assert_int_equal(r[0].due_at, flip);
			assert_int_equal(r[0].priority, 1);
			assert_string_equal(r[0].template, "win-back");
			assert_int_equal(r[0].event_id, 0);
			assert_non_null(strstr(r[0].trigger_ref, "segment:churn_risk:"));
		}
		send_rows_free(r, n);

		/* still in it later: no second entry */
		add_contact(s, id, NULL, flip + DAY); /* marks it for evaluation */
		st = run_segments(s, flip + DAY);
		assert_int_equal(st.entered, 0);
		assert_int_equal(st.enrolled, 0);
		/* a new purchase takes it out */
		add_event(s, id, "purchase", flip + 2 * DAY, flip + 2 * DAY, NULL);
		run_events(s, flip + 2 * DAY);
		st = run_segments(s, flip + 2 * DAY);
		assert_int_equal(st.left, 1);
		assert_false(in_segment(s, id, "churn_risk"));
	}
	int64_t treated = -1, hold = -1;
	assert_int_equal(store_enrollment_counts(s, "win-back", 0, &treated, &hold, &e), 0);
	assert_int_equal(treated, 1);
	assert_int_equal(hold, 1);
}

/* ---- holdout and variants ---- */

static void test_holdout_split(void **state)
{
	(void)state;
	static const struct {
		const char *campaign;
		int lo, hi;
	} rows[] = {
		{"win-back", 400, 600}, /* 50% */
		{"thanks", 0, 0},       /* no holdout */
	};
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		const struct campaign_conf *cc = campaign(rows[r].campaign);
		int in = 0;
		for (int i = 0; i < 1000; i++) {
			char id[32];
			snprintf(id, sizeof(id), "contact-%d", i);
			int a = schedule_in_holdout(cc, id), b = schedule_in_holdout(cc, id);
			assert_int_equal(a, b);
			assert_true(a == 0 || a == 1);
			in += a;
		}
		if (in < rows[r].lo || in > rows[r].hi)
			fail_msg("%s: %d of 1000 in the holdout, want %d..%d", rows[r].campaign, in,
				 rows[r].lo, rows[r].hi);
	}
}

static void test_variant_split(void **state)
{
	(void)state;
	const struct campaign_conf *cc = campaign("promo");
	const struct step_conf *sc = &cc->steps[0];
	static const struct {
		const char *template;
		int lo, hi; /* of 1000; about 4 standard deviations */
	} want[] = {{"promo-a", 140, 260}, {"promo-b", 240, 360}, {"promo-c", 440, 560}};
	int count[3] = {0};
	for (int i = 0; i < 1000; i++) {
		char id[32];
		snprintf(id, sizeof(id), "contact-%d", i);
		const char *a = schedule_variant(cc, sc, id), *b = schedule_variant(cc, sc, id);
		assert_non_null(a);
		assert_string_equal(a, b);
		int k = -1;
		for (int j = 0; j < 3; j++)
			if (strcmp(a, want[j].template) == 0)
				k = j;
		if (k < 0)
			fail_msg("variant %s not configured", a);
		count[k]++;
	}
	for (int j = 0; j < 3; j++)
		if (count[j] < want[j].lo || count[j] > want[j].hi)
			fail_msg("%s: %d of 1000, want %d..%d", want[j].template, count[j], want[j].lo,
				 want[j].hi);
	/* without variants, the step's own template */
	const struct campaign_conf *t = campaign("thanks");
	assert_string_equal(schedule_variant(t, &t->steps[1], "x"), "survey");
}

static void test_variant_scheduled(void **state)
{
	struct store *s = *state;
	add_contact(s, "v1", NULL, NOW);
	add_event(s, "v1", "promo_signup", NOW - 5, NOW, NULL);
	struct sched_stats st = run_events(s, NOW);
	assert_int_equal(st.scheduled, 1);
	struct send_row *r;
	size_t n = sends_of(s, "v1", &r);
	assert_int_equal(n, 1);
	const struct campaign_conf *cc = campaign("promo");
	assert_string_equal(r[0].template, schedule_variant(cc, &cc->steps[0], "v1"));
	assert_int_equal(r[0].due_at, NOW - 5); /* after omitted: 0 */
	send_rows_free(r, n);
}

/* ---- recurring ---- */

static int64_t vip_enrollments(struct store *s)
{
	struct err e = {{0}};
	int64_t treated = -1, hold = -1;
	assert_int_equal(store_enrollment_counts(s, "vip-care", 0, &treated, &hold, &e), 0);
	assert_int_equal(hold, 0);
	return treated;
}

static void test_recurring(void **state)
{
	struct store *s = *state;
	const int64_t every = 30 * DAY;
	add_contact(s, "vip1", "vip", NOW);
	add_contact(s, "plain", "basic", NOW);
	struct sched_stats st = run_segments(s, NOW);
	assert_int_equal(st.evaluated, 2);
	assert_int_equal(st.entered, 1); /* vip1 into vip */
	assert_int_equal(st.enrolled, 1);
	assert_int_equal(st.scheduled, 1);
	assert_int_equal(vip_enrollments(s), 1);
	assert_true(in_segment(s, "vip1", "vip"));
	assert_false(in_segment(s, "plain", "vip"));
	assert_false(due(s, "plain", NOW + 400 * DAY)); /* nothing in time changes it */

	/* the period ends at E: the first instant vip1 is due again */
	assert_false(due(s, "vip1", NOW));
	assert_true(due(s, "vip1", NOW + every));
	int64_t lo = NOW, hi = NOW + every;
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (due(s, "vip1", mid))
			hi = mid;
		else
			lo = mid;
	}
	const int64_t end = hi;

	/* re-evaluated inside the same period: not enrolled again */
	if (end - NOW >= 2) {
		int64_t mid = NOW + (end - NOW) / 2;
		add_contact(s, "vip1", NULL, mid);
		st = run_segments(s, mid);
		assert_int_equal(st.evaluated, 1);
		assert_int_equal(st.enrolled, 0);
		assert_int_equal(vip_enrollments(s), 1);
		assert_false(due(s, "vip1", end - 1));
		assert_true(due(s, "vip1", end));
	}
	/* the next period: once */
	st = run_segments(s, end);
	assert_int_equal(st.enrolled, 1);
	assert_int_equal(st.scheduled, 1);
	assert_int_equal(vip_enrollments(s), 2);
	add_contact(s, "vip1", NULL, end + HOUR);
	st = run_segments(s, end + HOUR);
	assert_int_equal(st.enrolled, 0);
	assert_int_equal(vip_enrollments(s), 2);
	/* and exactly one period later, again */
	assert_false(due(s, "vip1", end + every - 1));
	assert_true(due(s, "vip1", end + every));
	st = run_segments(s, end + every);
	assert_int_equal(st.enrolled, 1);
	assert_int_equal(vip_enrollments(s), 3);

	struct send_row *r;
	size_t n = sends_of(s, "vip1", &r);
	assert_int_equal(n, 3);
	static const int64_t dues[] = {NOW, 0, 0};
	assert_int_equal(r[0].due_at, dues[0]);
	assert_int_equal(r[1].due_at, end);
	assert_int_equal(r[2].due_at, end + every);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(r[i].campaign, "vip-care");
		assert_int_equal(r[i].expire_at, r[i].due_at + 3 * DAY);
		assert_non_null(strstr(r[i].trigger_ref, "every:"));
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(r[i].trigger_ref, r[k].trigger_ref);
	}
	send_rows_free(r, n);
	st = run_segments(s, end + every + DAY);
	assert_int_equal(st.evaluated, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),
		cmocka_unit_test_setup_teardown(test_event_schedules_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_batch_more, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unless_cancels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trigger_max_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_flip_and_enroll, setup, teardown),
		cmocka_unit_test(test_holdout_split),
		cmocka_unit_test(test_variant_split),
		cmocka_unit_test_setup_teardown(test_variant_scheduled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recurring, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
