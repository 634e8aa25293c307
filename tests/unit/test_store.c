/* test_store.c - the store API on an in-memory SQLite database: schema
 * migration, contacts and attribute merging, subscriptions, event dedup
 * and aggregates, idempotent enrollment and scheduling, claiming with
 * leases and takeover, updates with history and attempts, reaping dead
 * workers, the next wakeup and the report. Table-driven where it fits.
 * Run from the project root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contact.h"
#include "err.h"
#include "store.h"
#include "store_url.h"
#include "timeutil.h"

#define T0 1700000000LL /* a fixed "now" */

/* ---- helpers ---- */

static struct store *open_db(int migrate)
{
	struct err e = {{0}};
	struct store *s = store_open(test_store_url(":memory:"), &e);
	if (!s)
		fail_msg("store_open: %s", e.msg);
	if (migrate) {
		int from = -1, to = -1;
		if (store_migrate(s, &from, &to, &e) != 0)
			fail_msg("store_migrate: %s", e.msg);
	}
	return s;
}

static int setup(void **state)
{
	*state = open_db(1);
	return 0;
}

static int teardown(void **state)
{
	store_close(*state);
	return 0;
}

/* contact - a contact with every optional field absent */
static struct contact contact_blank(const char *id)
{
	struct contact c;
	memset(&c, 0, sizeof(c));
	c.id = (char *)id;
	c.do_not_contact = -1;
	for (int k = 0; k < CHANNEL_NKINDS; k++)
		c.unsub[k] = -1;
	return c;
}

static void add_contact(struct store *s, const char *id)
{
	struct err e = {{0}};
	struct contact c = contact_blank(id);
	c.email = (char *)"x@example.com";
	if (store_contact_upsert(s, &c, T0, &e) != 0)
		fail_msg("upsert %s: %s", id, e.msg);
}

/* add_event - returns inserted; data is JSON text or NULL */
static int add_event(struct store *s, const char *contact, const char *type, int64_t at,
		     const char *data, const char *ext_id, int64_t *id)
{
	struct err e = {{0}};
	struct event ev = {0};
	ev.contact_id = (char *)contact;
	ev.type = (char *)type;
	ev.at = at;
	ev.data = data ? json_loads(data, 0, NULL) : json_object();
	assert_non_null(ev.data);
	ev.ext_id = (char *)ext_id;
	int inserted = -1;
	int rc = store_event_add(s, &ev, T0, id, &inserted, &e);
	json_decref(ev.data);
	if (rc != 0)
		fail_msg("event_add %s/%s: %s", contact, type, e.msg);
	return inserted;
}

static int64_t enroll(struct store *s, const char *campaign, const char *contact, const char *ref)
{
	struct err e = {{0}};
	int64_t id = 0;
	int created = -1;
	if (store_enroll(s, campaign, contact, ref, T0, 0, 0, NULL, T0, &id, &created, &e) != 0)
		fail_msg("enroll: %s", e.msg);
	assert_int_equal(created, 1);
	return id;
}

static int64_t schedule(struct store *s, int64_t enrollment, const char *campaign, int step,
			const char *contact, int priority, int64_t due)
{
	struct err e = {{0}};
	struct send_new n = {
		.enrollment_id = enrollment,
		.campaign = campaign,
		.step = step,
		.contact = contact,
		.priority = priority,
		.due_at = due,
		.expire_at = TIME_NEVER,
		.trigger_at = T0,
		.template = "tpl",
	};
	int64_t id = 0;
	int created = -1;
	if (store_send_schedule(s, &n, T0, &id, &created, &e) != 0)
		fail_msg("send_schedule: %s", e.msg);
	assert_int_equal(created, 1);
	assert_true(id > 0);
	return id;
}

/* a send: one contact, its own enrollment */
static int64_t one_send(struct store *s, const char *contact, const char *ref, int priority,
			int64_t due)
{
	int64_t en = enroll(s, "c", contact, ref);
	return schedule(s, en, "c", 0, contact, priority, due);
}

static void send_state(struct store *s, int64_t id, char *state, size_t n)
{
	struct err e = {{0}};
	struct send_row r;
	int rc = store_send_get(s, id, &r, &e);
	if (rc != 0)
		fail_msg("send_get %lld: rc %d %s", (long long)id, rc, e.msg);
	snprintf(state, n, "%s", r.state);
	send_row_release(&r);
}

/* history collected as "state|reason" lines */
struct hist {
	char lines[32][200];
	int n;
};
static void hist_fn(void *ud, int64_t at, const char *state, const char *reason)
{
	(void)at;
	struct hist *h = ud;
	if (h->n < 32)
		snprintf(h->lines[h->n++], sizeof(h->lines[0]), "%s|%s", state, reason ? reason : "");
}
static struct hist history(struct store *s, int64_t id)
{
	struct err e = {{0}};
	struct hist h;
	memset(&h, 0, sizeof(h));
	if (store_send_history(s, id, hist_fn, &h, &e) != 0)
		fail_msg("send_history: %s", e.msg);
	return h;
}
static int hist_has(const struct hist *h, const char *needle)
{
	for (int i = 0; i < h->n; i++)
		if (strstr(h->lines[i], needle))
			return 1;
	return 0;
}

/* ---- schema ---- */

static void test_migrate(void **state)
{
	(void)state;
	struct err e = {{0}};
	struct store *s = open_db(0);
	const char *pg = getenv("OUTREACH_TEST_PG");
	assert_string_equal(store_backend(s), pg && *pg ? "postgresql" : "sqlite");
	assert_int_equal(store_ready(s, &e), -1);
	assert_non_null(strstr(e.msg, "not initialized"));

	int from = -1, to = -1;
	assert_int_equal(store_migrate(s, &from, &to, &e), 0);
	assert_int_equal(from, 0);
	assert_int_equal(to, STORE_SCHEMA_VERSION);
	err_clear(&e);
	assert_int_equal(store_ready(s, &e), 0);

	/* a second migrate is a no-op */
	from = to = -1;
	assert_int_equal(store_migrate(s, &from, &to, &e), 0);
	assert_int_equal(from, STORE_SCHEMA_VERSION);
	assert_int_equal(to, STORE_SCHEMA_VERSION);
	assert_int_equal(store_ready(s, &e), 0);
	store_close(s);
}

/* a server that is not there: one line naming it, never the password */
static void test_open_postgres_unreachable(void **state)
{
	(void)state;
	struct err e = {{0}};
	struct store *s = store_open("postgresql://u:s3cr3t@127.0.0.1:1/x", &e);
	assert_null(s);
	assert_non_null(strstr(e.msg, "cannot connect"));
	assert_non_null(strstr(e.msg, "u@127.0.0.1:1/x"));
	assert_null(strstr(e.msg, "s3cr3t"));
	assert_null(strchr(e.msg, '\n'));
	s = store_open("mysql://u:s3cr3t@h/x", &e);
	assert_null(s);
	assert_non_null(strstr(e.msg, "no backend"));
	assert_null(strstr(e.msg, "s3cr3t"));
}

/* ---- contacts ---- */

static void test_contact_upsert_merge(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	struct contact c = contact_blank("c1");
	c.name = (char *)"Ann";
	c.email = (char *)"ann@example.com";
	c.phone = (char *)"+8613800000000";
	c.do_not_contact = 1;
	c.attrs = json_pack("{s:i, s:s}", "tier", 1, "city", "Paris");
	assert_int_equal(store_contact_upsert(s, &c, T0, &e), 0);
	json_decref(c.attrs);

	/* update: name absent (kept), email changed, dnc absent (kept),
	 * city overwritten, new attribute added, tier kept */
	struct contact u = contact_blank("c1");
	u.email = (char *)"ann2@example.com";
	u.attrs = json_pack("{s:s, s:i}", "city", "Lyon", "score", 7);
	assert_int_equal(store_contact_upsert(s, &u, T0 + 10, &e), 0);
	json_decref(u.attrs);

	struct contact g;
	assert_int_equal(store_contact_get(s, "c1", &g, &e), 0);
	assert_string_equal(g.id, "c1");
	assert_string_equal(g.name, "Ann");
	assert_string_equal(g.email, "ann2@example.com");
	assert_string_equal(g.phone, "+8613800000000");
	assert_null(g.timezone);
	assert_int_equal(g.do_not_contact, 1);
	assert_int_equal(json_integer_value(json_object_get(g.attrs, "tier")), 1);
	assert_string_equal(json_string_value(json_object_get(g.attrs, "city")), "Lyon");
	assert_int_equal(json_integer_value(json_object_get(g.attrs, "score")), 7);
	assert_int_equal(json_object_size(g.attrs), 3);
	contact_release(&g);

	/* explicit dnc 0 replaces */
	struct contact d = contact_blank("c1");
	d.do_not_contact = 0;
	assert_int_equal(store_contact_upsert(s, &d, T0 + 20, &e), 0);
	assert_int_equal(store_contact_get(s, "c1", &g, &e), 0);
	assert_int_equal(g.do_not_contact, 0);
	assert_string_equal(g.email, "ann2@example.com");
	contact_release(&g);

	assert_int_equal(store_contact_get(s, "nobody", &g, &e), 1);
}

/* ---- subscriptions ---- */

static void test_subscriptions(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	struct contact c = contact_blank("u1");
	c.unsub[CHANNEL_EMAIL] = 1; /* left marketing email */
	c.unsub[CHANNEL_SMS] = 0;   /* explicitly subscribed */
	assert_int_equal(store_contact_upsert(s, &c, T0, &e), 0);
	add_contact(s, "u2");
	assert_int_equal(store_subscription_set(s, "u2", "sms", "all", 0, "test", T0, &e), 0);
	add_contact(s, "u3");
	assert_int_equal(store_subscription_set(s, "u3", "email", "transactional", 0, "t", T0, &e), 0);

	static const struct {
		const char *contact, *channel;
		enum msg_class cls;
		int ok;
	} rows[] = {
		{"u1", "email", CLASS_MARKETING, 0},
		{"u1", "email", CLASS_TRANSACTIONAL, 1},
		{"u1", "sms", CLASS_MARKETING, 1},
		{"u1", "chat", CLASS_MARKETING, 1},
		{"u2", "sms", CLASS_MARKETING, 0},
		{"u2", "sms", CLASS_TRANSACTIONAL, 0},
		{"u2", "email", CLASS_MARKETING, 1},
		{"u3", "email", CLASS_MARKETING, 1},
		{"u3", "email", CLASS_TRANSACTIONAL, 0},
		{"none", "email", CLASS_MARKETING, 1},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int ok = -1;
		assert_int_equal(
			store_subscription_allows(s, rows[i].contact, rows[i].channel, rows[i].cls, &ok, &e),
			0);
		if (ok != rows[i].ok)
			fail_msg("row %zu: %s %s class %d: ok %d, want %d", i, rows[i].contact,
				 rows[i].channel, rows[i].cls, ok, rows[i].ok);
	}

	/* resubscribing lifts it */
	assert_int_equal(store_subscription_set(s, "u2", "sms", "all", 1, "test", T0 + 1, &e), 0);
	int ok = 0;
	assert_int_equal(store_subscription_allows(s, "u2", "sms", CLASS_MARKETING, &ok, &e), 0);
	assert_int_equal(ok, 1);
}

/* ---- events ---- */

static void test_event_dedup(void **state)
{
	struct store *s = *state;
	add_contact(s, "e1");
	static const struct {
		const char *type;
		int64_t at;
		const char *data, *ext_id;
		int inserted;
	} rows[] = {
		{"purchase", T0, "{\"amount\": 10}", "ord-1", 1},
		{"purchase", T0, "{\"amount\": 10}", "ord-1", 0},  /* same id */
		{"purchase", T0 + 5, "{\"amount\": 99}", "ord-1", 0}, /* same id, other data */
		{"purchase", T0, "{\"a\": 1, \"b\": 2}", NULL, 1},
		{"purchase", T0, "{\"a\": 1, \"b\": 2}", NULL, 0},  /* same everything */
		{"purchase", T0, "{\"b\": 2, \"a\": 1}", NULL, 0},  /* key order does not matter */
		{"purchase", T0, "{\"a\": 1, \"b\": 3}", NULL, 1},  /* different data */
		{"purchase", T0 + 1, "{\"a\": 1, \"b\": 2}", NULL, 1}, /* different time */
		{"replied", T0, "{\"a\": 1, \"b\": 2}", NULL, 1},   /* different type */
		{"purchase", T0, "{\"amount\": 10}", "ord-2", 1},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t id = 0;
		int ins = add_event(s, "e1", rows[i].type, rows[i].at, rows[i].data, rows[i].ext_id, &id);
		if (ins != rows[i].inserted)
			fail_msg("row %zu: inserted %d, want %d", i, ins, rows[i].inserted);
		if (ins)
			assert_true(id > 0);
	}
	/* unknown contact */
	struct err e = {{0}};
	struct event ev = {0};
	ev.contact_id = (char *)"ghost";
	ev.type = (char *)"purchase";
	ev.at = T0;
	ev.data = json_object();
	int ins = -1;
	assert_int_equal(store_event_add(s, &ev, T0, NULL, &ins, &e), -1);
	assert_int_equal(ins, 0);
	assert_non_null(strstr(e.msg, "unknown contact"));
	json_decref(ev.data);

	/* pending events are the inserted ones, once each */
	struct event_row *pr;
	size_t n;
	assert_int_equal(store_events_pending(s, 100, &pr, &n, &e), 0);
	assert_int_equal(n, 6);
	assert_int_equal(store_event_done(s, pr[0].id, &e), 0);
	event_rows_free(pr, n);
	assert_int_equal(store_events_pending(s, 100, &pr, &n, &e), 0);
	assert_int_equal(n, 5);
	event_rows_free(pr, n);
}

static void test_event_aggregates(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	add_contact(s, "a1");
	add_contact(s, "a2");
	add_event(s, "a1", "purchase", 100, "{\"amount\": 10}", NULL, NULL);
	add_event(s, "a1", "purchase", 200, "{\"amount\": 20.5}", NULL, NULL);
	add_event(s, "a1", "purchase", 300, "{\"amount\": \"5\"}", NULL, NULL);
	add_event(s, "a1", "purchase", 400, "{\"other\": 1}", NULL, NULL);
	add_event(s, "a1", "replied", 250, NULL, NULL, NULL);
	add_event(s, "a2", "purchase", 200, "{\"amount\": 1000}", NULL, NULL);

	static const struct {
		int64_t since, until;
		int64_t n, oldest;
		double sum;
	} rows[] = {
		{100, 300, 3, 100, 35.5},        /* both edges inclusive */
		{101, 300, 2, 200, 25.5},        /* since excludes 100 */
		{100, 299, 2, 100, 30.5},        /* until excludes 300 */
		{0, 1000, 4, 100, 35.5},         /* event without the field counts 0 */
		{301, 399, 0, TIME_NEVER, 0},    /* empty window */
		{400, 400, 1, 400, 0},           /* single instant */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t n = -1, oldest = -1;
		double sum = -1;
		assert_int_equal(
			store_event_count(s, "a1", "purchase", rows[i].since, rows[i].until, &n, &oldest, &e), 0);
		if (n != rows[i].n || oldest != rows[i].oldest)
			fail_msg("count row %zu: n %lld oldest %lld", i, (long long)n, (long long)oldest);
		oldest = -1;
		assert_int_equal(store_event_sum(s, "a1", "purchase", "amount", rows[i].since,
						 rows[i].until, &sum, &oldest, &e),
				 0);
		if (sum != rows[i].sum || oldest != rows[i].oldest)
			fail_msg("sum row %zu: sum %g oldest %lld", i, sum, (long long)oldest);
	}

	static const struct {
		int64_t until;
		int rc;
		int64_t at;
	} lasts[] = {{1000, 0, 400}, {399, 0, 300}, {300, 0, 300}, {100, 0, 100}, {99, 1, 0}};
	for (size_t i = 0; i < sizeof(lasts) / sizeof(lasts[0]); i++) {
		int64_t at = 0;
		int rc = store_event_last(s, "a1", "purchase", lasts[i].until, &at, &e);
		if (rc != lasts[i].rc || (rc == 0 && at != lasts[i].at))
			fail_msg("last row %zu: rc %d at %lld", i, rc, (long long)at);
	}
	int64_t at = 0;
	assert_int_equal(store_event_last(s, "a1", "nothing", 1000, &at, &e), 1);

	/* between: after exclusive, until inclusive */
	char *both[] = {(char *)"replied", (char *)"purchase"};
	char *rep[] = {(char *)"replied"};
	static const struct {
		int which; /* 0 rep, 1 both */
		int64_t after, until;
		int rc;
		const char *type;
		int64_t at;
	} bw[] = {
		{0, 249, 250, 0, "replied", 250},
		{0, 250, 1000, 1, NULL, 0}, /* after is exclusive */
		{0, 0, 249, 1, NULL, 0},    /* until is inclusive, 250 > 249 */
		{1, 200, 250, 0, "replied", 250},
		{1, 300, 1000, 0, "purchase", 400},
	};
	for (size_t i = 0; i < sizeof(bw) / sizeof(bw[0]); i++) {
		char *type = NULL;
		int64_t bat = 0;
		int rc = store_event_between(s, "a1", bw[i].which ? both : rep, bw[i].which ? 2 : 1,
					     bw[i].after, bw[i].until, &type, &bat, &e);
		if (rc != bw[i].rc)
			fail_msg("between row %zu: rc %d want %d", i, rc, bw[i].rc);
		if (rc == 0 && (strcmp(type, bw[i].type) != 0 || bat != bw[i].at))
			fail_msg("between row %zu: got %s at %lld, want %s at %lld (the earliest "
				 "matching event)", i, type, (long long)bat, bw[i].type,
				 (long long)bw[i].at);
		free(type);
	}
}

/* store_event_between promises "the first event of one of types": with
 * replied at 250 and purchase at 200, asked for [replied, purchase] after
 * 100, the first event is the purchase at 200. (The worker puts this event
 * in the cancellation reason.) */
static void test_event_between_earliest_of_types(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	add_contact(s, "b1");
	add_event(s, "b1", "purchase", 200, NULL, NULL, NULL);
	add_event(s, "b1", "replied", 250, NULL, NULL, NULL);
	char *types[] = {(char *)"replied", (char *)"purchase"};
	char *type = NULL;
	int64_t at = 0;
	assert_int_equal(store_event_between(s, "b1", types, 2, 100, 1000, &type, &at, &e), 0);
	if (strcmp(type, "purchase") != 0 || at != 200) {
		char msg[160];
		snprintf(msg, sizeof(msg), "got %s at %lld: the first type in the list that has an "
			 "event wins, not the earliest event (want purchase at 200)", type,
			 (long long)at);
		free(type);
		fail_msg("%s", msg);
	}
	free(type);
}

/* ---- enrollments and sends ---- */

static void test_enroll_schedule_idempotent(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	add_contact(s, "p1");
	int64_t id1 = 0, id2 = 0;
	int created = -1;
	assert_int_equal(store_enroll(s, "camp", "p1", "event:1", T0, 0, 0, NULL, T0, &id1, &created, &e), 0);
	assert_int_equal(created, 1);
	assert_true(id1 > 0);
	assert_int_equal(store_enroll(s, "camp", "p1", "event:1", T0, 0, 0, NULL, T0, &id2, &created, &e), 0);
	assert_int_equal(created, 0);
	/* a different trigger or campaign is a new enrollment */
	assert_int_equal(store_enroll(s, "camp", "p1", "event:2", T0, 0, 0, NULL, T0, &id2, &created, &e), 0);
	assert_int_equal(created, 1);
	assert_true(id2 != id1);
	assert_int_equal(store_enroll(s, "other", "p1", "event:1", T0, 0, 1, "v", T0, &id2, &created, &e), 0);
	assert_int_equal(created, 1);

	int64_t treated = -1, hold = -1;
	assert_int_equal(store_enrollment_counts(s, "camp", 0, &treated, &hold, &e), 0);
	assert_int_equal(treated, 2);
	assert_int_equal(hold, 0);
	assert_int_equal(store_enrollment_counts(s, "other", 0, &treated, &hold, &e), 0);
	assert_int_equal(treated, 0);
	assert_int_equal(hold, 1);

	struct send_new n = {
		.enrollment_id = id1, .campaign = "camp", .step = 0, .contact = "p1", .priority = 1,
		.due_at = T0 + 3600, .expire_at = T0 + 7200, .trigger_at = T0, .template = "t0",
	};
	int64_t sid = 0, sid2 = 0;
	assert_int_equal(store_send_schedule(s, &n, T0, &sid, &created, &e), 0);
	assert_int_equal(created, 1);
	n.due_at = T0 + 99; /* same (enrollment, step): nothing changes */
	assert_int_equal(store_send_schedule(s, &n, T0, &sid2, &created, &e), 0);
	assert_int_equal(created, 0);
	n.step = 1;
	n.expire_at = TIME_NEVER;
	assert_int_equal(store_send_schedule(s, &n, T0, &sid2, &created, &e), 0);
	assert_int_equal(created, 1);
	assert_true(sid2 != sid);

	struct send_row r;
	assert_int_equal(store_send_get(s, sid, &r, &e), 0);
	assert_string_equal(r.state, "scheduled");
	assert_int_equal(r.due_at, T0 + 3600);
	assert_int_equal(r.expire_at, T0 + 7200);
	assert_string_equal(r.trigger_ref, "event:1");
	assert_string_equal(r.template, "t0");
	assert_int_equal(r.event_id, 0);
	send_row_release(&r);
	assert_int_equal(store_send_get(s, sid2, &r, &e), 0);
	assert_int_equal(r.expire_at, TIME_NEVER);
	send_row_release(&r);
	assert_int_equal(store_send_get(s, 99999, &r, &e), 1);

	struct hist h = history(s, sid);
	assert_int_equal(h.n, 1);
	assert_non_null(strstr(h.lines[0], "scheduled|due "));

	struct send_row *rows;
	size_t nr;
	assert_int_equal(store_sends_pending_of(s, "p1", &rows, &nr, &e), 0);
	assert_int_equal(nr, 2);
	send_rows_free(rows, nr);
}

static void test_claim_order_and_limit(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	add_contact(s, "k1");
	/* marketing due earliest, transactional later, one not yet due */
	int64_t m1 = one_send(s, "k1", "r1", 1, T0 - 300);
	int64_t m2 = one_send(s, "k1", "r2", 1, T0 - 200);
	int64_t t1 = one_send(s, "k1", "r3", 0, T0 - 100);
	int64_t t2 = one_send(s, "k1", "r4", 0, T0);       /* due exactly now */
	int64_t fut = one_send(s, "k1", "r5", 0, T0 + 1);  /* not due */

	static const struct {
		int limit;
		size_t n;
		int which[3]; /* indexes into ids */
	} rounds[] = {
		{3, 3, {2, 3, 0}}, /* transactional first (by due), then marketing */
		{3, 1, {1, -1, -1}},
		{3, 0, {-1, -1, -1}},
	};
	int64_t ids[] = {m1, m2, t1, t2, fut};
	for (size_t i = 0; i < sizeof(rounds) / sizeof(rounds[0]); i++) {
		struct send_row *out;
		size_t n;
		assert_int_equal(store_claim(s, "w1", T0, 60, rounds[i].limit, &out, &n, &e), 0);
		if (n != rounds[i].n)
			fail_msg("round %zu: claimed %zu, want %zu", i, n, rounds[i].n);
		for (size_t k = 0; k < n; k++) {
			if (out[k].id != ids[rounds[i].which[k]])
				fail_msg("round %zu #%zu: send %lld, want %lld", i, k, (long long)out[k].id,
					 (long long)ids[rounds[i].which[k]]);
			assert_string_equal(out[k].state, "sending");
		}
		send_rows_free(out, n);
	}
	char st[16];
	send_state(s, fut, st, sizeof(st));
	assert_string_equal(st, "scheduled");
}

static void test_claim_lease_takeover(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	add_contact(s, "l1");
	int64_t id = one_send(s, "l1", "r", 1, T0);
	struct send_row *out;
	size_t n;
	assert_int_equal(store_claim(s, "A", T0, 60, 10, &out, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].id, id);
	send_rows_free(out, n);

	static const struct {
		int64_t now;
		size_t n;
	} tries[] = {{T0, 0}, {T0 + 30, 0}, {T0 + 59, 0}, {T0 + 60, 1}};
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		assert_int_equal(store_claim(s, "B", tries[i].now, 60, 10, &out, &n, &e), 0);
		if (n != tries[i].n)
			fail_msg("B at +%lld claimed %zu, want %zu", (long long)(tries[i].now - T0), n,
				 tries[i].n);
		if (n)
			assert_int_equal(out[0].id, id);
		send_rows_free(out, n);
	}
	struct hist h = history(s, id);
	assert_true(hist_has(&h, "lease expired"));
	assert_true(hist_has(&h, "taken over by B"));

	/* A lost it: its update changes nothing */
	struct send_update u = {.state = "sent", .reason = "by A"};
	int before = history(s, id).n;
	assert_int_equal(store_send_update(s, id, "A", &u, T0 + 61, &e), 1);
	char st[16];
	send_state(s, id, st, sizeof(st));
	assert_string_equal(st, "sending");
	assert_int_equal(history(s, id).n, before);
	/* B can */
	assert_int_equal(store_send_update(s, id, "B", &u, T0 + 61, &e), 0);
	send_state(s, id, st, sizeof(st));
	assert_string_equal(st, "sent");
}

struct att {
	char lines[8][200];
	int n;
};
static void att_fn(void *ud, int64_t at, const char *transport, const char *status,
		   const char *code, const char *reason)
{
	struct att *a = ud;
	if (a->n < 8)
		snprintf(a->lines[a->n++], sizeof(a->lines[0]), "%lld|%s|%s|%s|%s", (long long)at,
			 transport, status, code ? code : "", reason ? reason : "");
}

static void test_send_update(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	add_contact(s, "s1");
	int64_t id = one_send(s, "s1", "r", 0, T0);
	struct send_row *out;
	size_t n;
	assert_int_equal(store_claim(s, "W", T0, 60, 10, &out, &n, &e), 0);
	assert_int_equal(n, 1);
	send_rows_free(out, n);

	/* wrong owner */
	struct send_update bad = {.state = "failed", .reason = "nope", .attempt_status = "fail"};
	assert_int_equal(store_send_update(s, id, "X", &bad, T0 + 1, &e), 1);
	struct send_row r;
	assert_int_equal(store_send_get(s, id, &r, &e), 0);
	assert_string_equal(r.state, "sending");
	assert_int_equal(r.attempts, 0);
	assert_null(r.reason);
	send_row_release(&r);

	/* deferred with an attempt */
	struct send_update d = {.state = "deferred", .due_at = T0 + 600, .reason = "421 try later",
				.channel = "email", .transport = "mail", .address = "x@example.com",
				.attempt_status = "defer", .attempt_code = "421",
				.attempt_reason = "busy"};
	assert_int_equal(store_send_update(s, id, "W", &d, T0 + 2, &e), 0);
	assert_int_equal(store_send_get(s, id, &r, &e), 0);
	assert_string_equal(r.state, "deferred");
	assert_int_equal(r.due_at, T0 + 600);
	assert_int_equal(r.attempts, 1);
	assert_string_equal(r.channel, "email");
	assert_string_equal(r.address, "x@example.com");
	assert_string_equal(r.reason, "421 try later");
	send_row_release(&r);

	/* not due yet; then due */
	assert_int_equal(store_claim(s, "W", T0 + 599, 60, 10, &out, &n, &e), 0);
	assert_int_equal(n, 0);
	send_rows_free(out, n);
	assert_int_equal(store_claim(s, "W", T0 + 600, 60, 10, &out, &n, &e), 0);
	assert_int_equal(n, 1);
	send_rows_free(out, n);

	struct send_update ok = {.state = "sent", .reason = "250 ok", .message_id = "<m@x>",
				 .transport = "mail", .attempt_status = "ok", .attempt_code = "250"};
	assert_int_equal(store_send_update(s, id, "W", &ok, T0 + 601, &e), 0);
	assert_int_equal(store_send_get(s, id, &r, &e), 0);
	assert_string_equal(r.state, "sent");
	assert_int_equal(r.sent_at, T0 + 601);
	assert_int_equal(r.attempts, 2);
	assert_string_equal(r.message_id, "<m@x>");
	assert_string_equal(r.channel, "email"); /* kept */
	assert_int_equal(r.due_at, T0 + 600);    /* due_at 0 keeps */
	send_row_release(&r);

	struct hist h = history(s, id);
	static const char *const want[] = {"scheduled|due ", "deferred|421 try later", "sent|250 ok"};
	assert_int_equal(h.n, 3);
	for (int i = 0; i < 3; i++)
		if (strncmp(h.lines[i], want[i], strlen(want[i])) != 0)
			fail_msg("history %d: \"%s\", want \"%s...\"", i, h.lines[i], want[i]);

	struct att a;
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_send_attempts(s, id, att_fn, &a, &e), 0);
	assert_int_equal(a.n, 2);
	char w0[200], w1[200];
	snprintf(w0, sizeof(w0), "%lld|mail|defer|421|busy", T0 + 2);
	snprintf(w1, sizeof(w1), "%lld|mail|ok|250|", T0 + 601);
	assert_string_equal(a.lines[0], w0);
	assert_string_equal(a.lines[1], w1);

	/* a sent send is never claimed again */
	assert_int_equal(store_claim(s, "W", T0 + 100000, 60, 10, &out, &n, &e), 0);
	assert_int_equal(n, 0);
	send_rows_free(out, n);
}

static int dead_pid = 0;
static int alive_fn(int pid)
{
	return pid != dead_pid;
}

static void test_workers_reap(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	add_contact(s, "w");
	int64_t a = one_send(s, "w", "r1", 1, T0);
	int64_t b = one_send(s, "w", "r2", 1, T0);
	int64_t c = one_send(s, "w", "r3", 1, T0);
	assert_int_equal(store_worker_register(s, "dead", "h1", 111, T0, &e), 0);
	assert_int_equal(store_worker_register(s, "live", "h1", 222, T0, &e), 0);
	assert_int_equal(store_worker_register(s, "away", "h2", 111, T0, &e), 0);
	struct send_row *out;
	size_t n;
	assert_int_equal(store_claim(s, "dead", T0, 3600, 2, &out, &n, &e), 0);
	assert_int_equal(n, 2);
	send_rows_free(out, n);
	assert_int_equal(store_claim(s, "live", T0, 3600, 2, &out, &n, &e), 0);
	assert_int_equal(n, 1);
	send_rows_free(out, n);

	dead_pid = 111;
	int released = -1;
	assert_int_equal(store_workers_reap(s, "h1", alive_fn, T0 + 5, &released, &e), 0);
	assert_int_equal(released, 2);
	char st[16];
	int64_t ids[] = {a, b, c};
	const char *want[] = {"scheduled", "scheduled", "sending"};
	for (int i = 0; i < 3; i++) {
		send_state(s, ids[i], st, sizeof(st));
		if (strcmp(st, want[i]) != 0)
			fail_msg("send %d: %s, want %s", i, st, want[i]);
	}
	struct hist h = history(s, a);
	assert_true(hist_has(&h, "worker dead (pid 111) died"));
	/* released at once, well before the lease ends */
	assert_int_equal(store_claim(s, "new", T0 + 6, 60, 10, &out, &n, &e), 0);
	assert_int_equal(n, 2);
	send_rows_free(out, n);
	/* reaped once: a stopped worker is not reaped again */
	assert_int_equal(store_workers_reap(s, "h1", alive_fn, T0 + 7, &released, &e), 0);
	assert_int_equal(released, 0);
}

static void test_next_wakeup(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	int64_t at = 0;
	assert_int_equal(store_next_wakeup(s, &at, &e), 0);
	assert_true(at == TIME_NEVER);
	add_contact(s, "n1"); /* marked for evaluation at T0 */
	assert_int_equal(store_next_wakeup(s, &at, &e), 0);
	assert_int_equal(at, T0);
	assert_int_equal(store_contact_eval_at(s, "n1", TIME_NEVER, &e), 0);
	assert_int_equal(store_next_wakeup(s, &at, &e), 0);
	assert_true(at == TIME_NEVER);

	one_send(s, "n1", "r1", 1, T0 + 5000);
	one_send(s, "n1", "r2", 1, T0 + 3000);
	one_send(s, "n1", "r3", 0, T0 + 4000);
	assert_int_equal(store_next_wakeup(s, &at, &e), 0);
	assert_int_equal(at, T0 + 3000);
	assert_int_equal(store_contact_eval_at(s, "n1", T0 + 2000, &e), 0);
	assert_int_equal(store_next_wakeup(s, &at, &e), 0);
	assert_int_equal(at, T0 + 2000);
}

struct rep {
	char lines[16][200];
	int n;
};
static void rep_fn(void *ud, const struct report_row *r)
{
	struct rep *p = ud;
	if (p->n < 16)
		snprintf(p->lines[p->n++], sizeof(p->lines[0]), "%s/%d/%s/%s/%s=%lld", r->campaign,
			 r->step, r->channel, r->template, r->state, (long long)r->n);
}

static void test_report(void **state)
{
	struct store *s = *state;
	struct err e = {{0}};
	add_contact(s, "r");
	int64_t ids[4];
	for (int i = 0; i < 4; i++) {
		char ref[8];
		snprintf(ref, sizeof(ref), "r%d", i);
		ids[i] = one_send(s, "r", ref, 1, T0);
	}
	int64_t other = enroll(s, "d", "r", "x");
	schedule(s, other, "d", 1, "r", 1, T0 + 999);
	struct send_update sent = {.state = "sent", .channel = "email"};
	struct send_update canc = {.state = "cancelled", .reason = "replied"};
	assert_int_equal(store_send_update(s, ids[0], NULL, &sent, T0, &e), 0);
	assert_int_equal(store_send_update(s, ids[1], NULL, &sent, T0, &e), 0);
	assert_int_equal(store_send_update(s, ids[2], NULL, &canc, T0, &e), 0);

	struct rep p;
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_report(s, NULL, 0, rep_fn, &p, &e), 0);
	static const char *const want[] = {
		"c/0//tpl/cancelled=1", "c/0//tpl/scheduled=1", "c/0/email/tpl/sent=2",
		"d/1//tpl/scheduled=1",
	};
	if (p.n != 4)
		fail_msg("report has %d rows, want 4 (first: %s)", p.n, p.n ? p.lines[0] : "");
	for (int i = 0; i < 4; i++)
		assert_string_equal(p.lines[i], want[i]);
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_report(s, "d", 0, rep_fn, &p, &e), 0);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.lines[0], "d/1//tpl/scheduled=1");
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_report(s, NULL, T0 + 1, rep_fn, &p, &e), 0);
	assert_int_equal(p.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate),
		cmocka_unit_test(test_open_postgres_unreachable),
		cmocka_unit_test_setup_teardown(test_contact_upsert_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscriptions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_aggregates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_between_earliest_of_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enroll_schedule_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_order_and_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_lease_takeover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workers_reap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_wakeup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
