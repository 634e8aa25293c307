/* test_bounce.c - bounces and complaints in the store (store_bounce.h) on
 * an in-memory SQLite database: finding a send by id, Message-ID and
 * address (the latest sent), and what recording does to the send, its
 * history, the events and the suppression list, once per report. (The
 * store reads events back without send_id: cases_bounces.sh checks it.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"
#include "store_url.h"
#include "store_bounce.h"

#define T0 1772355600LL /* 2026-03-01T09:00:00Z */

static struct store *s;
static struct err e;

static void ok(int rc)
{
	if (rc != 0)
		fail_msg("store: %s", e.msg);
}

/* sent - a send to contact at address, sent at `at` with Message-ID mid */
static int64_t sent(const char *contact, const char *address, const char *mid, int64_t at,
		    int step)
{
	struct contact c = {0};
	c.id = (char *)contact;
	c.email = (char *)address;
	c.do_not_contact = -1;
	for (int k = 0; k < CHANNEL_NKINDS; k++)
		c.unsub[k] = -1;
	ok(store_contact_upsert(s, &c, T0, &e));
	/* store_enroll sets no id when the trigger already enrolled the
	 * contact (step 1 after step 0): that is the enrollment of the last
	 * call, so en keeps it (it was read uninitialised: found under ASan) */
	static int64_t en;
	int64_t id;
	int created;
	ok(store_enroll(s, "news", contact, "event:1", T0, 0, 0, NULL, T0, &en, &created, &e));
	struct send_new n = {.enrollment_id = en, .campaign = "news", .step = step,
			     .contact = contact, .priority = 1, .due_at = T0,
			     .expire_at = INT64_MAX, .trigger_at = T0, .template = "t"};
	ok(store_send_schedule(s, &n, T0, &id, &created, &e));
	struct send_update u = {.state = "sent", .reason = "ok", .channel = "email",
				.transport = "email", .address = address, .message_id = mid};
	assert_int_equal(store_send_update(s, id, NULL, &u, at, &e), 0);
	return id;
}

static int setup(void **state)
{
	(void)state;
	int from, to;
	s = store_open(test_store_url(":memory:"), &e);
	assert_non_null(s);
	ok(store_migrate(s, &from, &to, &e));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	store_close(s);
	return 0;
}

static void test_find(void **state)
{
	(void)state;
	int64_t a = sent("c1", "bob@example.com", "<m.1@x>", T0 + 10, 0);
	int64_t b = sent("c1", "bob@example.com", "<m.2@x>", T0 + 20, 1);
	int64_t c = sent("c2", "amy@example.com", "<m.3@x>", T0 + 30, 2);
	int64_t id;
	enum bounce_by by;
	assert_int_equal(store_bounce_find(s, a, "<m.3@x>", "amy@example.com", &id, &by, &e), 0);
	assert_int_equal(id, a);
	assert_int_equal(by, BOUNCE_BY_TOKEN);
	/* a token naming no send: the next key */
	assert_int_equal(store_bounce_find(s, 999, "<m.3@x>", NULL, &id, &by, &e), 0);
	assert_int_equal(id, c);
	assert_int_equal(by, BOUNCE_BY_MESSAGE_ID);
	/* by address: the latest sent */
	assert_int_equal(store_bounce_find(s, 0, "<unknown@x>", "bob@example.com", &id, &by, &e), 0);
	assert_int_equal(id, b);
	assert_int_equal(by, BOUNCE_BY_ADDRESS);
	assert_int_equal(store_bounce_find(s, 0, NULL, "nobody@example.com", &id, &by, &e), 1);
	assert_int_equal(store_bounce_find(s, 0, NULL, NULL, &id, &by, &e), 1);
	assert_int_equal(store_bounce_find(s, 0, "", "", &id, &by, &e), 1);
}

static void test_record(void **state)
{
	(void)state;
	int64_t hard = sent("c3", "cat@example.com", "<h@x>", T0 + 100, 0);
	int64_t soft = sent("c4", "dan@example.com", "<s@x>", T0 + 100, 0);
	int64_t comp = sent("c5", "eve@example.com", "<c@x>", T0 + 100, 0);
	int rec;
	struct bounce b = {.send_id = hard, .hard = 1, .status = "5.1.1",
			   .diagnostic = "smtp; 550 5.1.1 user unknown", .report_id = "r1",
			   .at = T0 + 50 /* before it was sent: taken as sent_at */};
	ok(store_bounce_record(s, &b, T0 + 1000, &rec, &e));
	assert_int_equal(rec, 1);
	struct send_row r;
	assert_int_equal(store_send_get(s, hard, &r, &e), 0);
	assert_string_equal(r.state, "bounced");
	assert_string_equal(r.reason, "hard bounce: 5.1.1 smtp; 550 5.1.1 user unknown");
	send_row_release(&r);
	char *why;
	ok(store_suppressed(s, "cat@example.com", &why, &e));
	assert_non_null(why);
	char want[128];
	snprintf(want, sizeof(want), "hard bounce on send %lld: 5.1.1 smtp; 550 5.1.1 user unknown",
		 (long long)hard);
	assert_string_equal(why, want);
	free(why);
	struct event_row *ev;
	size_t n;
	ok(store_events_of(s, "c3", 10, &ev, &n, &e));
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].ev.type, "bounced");
	assert_int_equal(ev[0].ev.at, T0 + 100);
	assert_true(json_is_true(json_object_get(ev[0].ev.data, "hard")));
	assert_string_equal(json_string_value(json_object_get(ev[0].ev.data, "status")), "5.1.1");
	event_rows_free(ev, n);
	/* the same report again: nothing */
	ok(store_bounce_record(s, &b, T0 + 2000, &rec, &e));
	assert_int_equal(rec, 0);
	ok(store_events_of(s, "c3", 10, &ev, &n, &e));
	assert_int_equal(n, 1);
	event_rows_free(ev, n);

	/* a delay warning: the event, no state change, no suppression; then
	 * the server gives up: bounced */
	struct bounce d = {.send_id = soft, .delayed = 1, .status = "4.4.1", .report_id = "r2",
			   .at = T0 + 200};
	ok(store_bounce_record(s, &d, T0 + 1000, &rec, &e));
	assert_int_equal(rec, 1);
	assert_int_equal(store_send_get(s, soft, &r, &e), 0);
	assert_string_equal(r.state, "sent");
	send_row_release(&r);
	ok(store_suppressed(s, "dan@example.com", &why, &e));
	assert_null(why);
	ok(store_events_of(s, "c4", 10, &ev, &n, &e));
	assert_int_equal(n, 1);
	assert_true(json_is_false(json_object_get(ev[0].ev.data, "hard")));
	assert_true(json_is_true(json_object_get(ev[0].ev.data, "delayed")));
	event_rows_free(ev, n);
	d.delayed = 0;
	d.status = "4.4.7";
	d.report_id = "r3";
	d.at = T0 + 5000; /* after now: taken as now */
	ok(store_bounce_record(s, &d, T0 + 1000, &rec, &e));
	assert_int_equal(store_send_get(s, soft, &r, &e), 0);
	assert_string_equal(r.state, "bounced");
	assert_string_equal(r.reason, "soft bounce: 4.4.7");
	send_row_release(&r);
	ok(store_events_of(s, "c4", 10, &ev, &n, &e));
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].ev.at, T0 + 1000);
	event_rows_free(ev, n);
	ok(store_suppressed(s, "dan@example.com", &why, &e));
	assert_null(why);

	/* a complaint: the event and the suppression; the send stays sent */
	struct bounce c = {.send_id = comp, .complaint = 1, .feedback_type = "abuse",
			   .report_id = "r4", .at = T0 + 300};
	ok(store_bounce_record(s, &c, T0 + 1000, &rec, &e));
	assert_int_equal(rec, 1);
	assert_int_equal(store_send_get(s, comp, &r, &e), 0);
	assert_string_equal(r.state, "sent");
	send_row_release(&r);
	ok(store_events_of(s, "c5", 10, &ev, &n, &e));
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].ev.type, "complaint");
	assert_string_equal(json_string_value(json_object_get(ev[0].ev.data, "feedback_type")),
			    "abuse");
	event_rows_free(ev, n);
	ok(store_suppressed(s, "eve@example.com", &why, &e));
	snprintf(want, sizeof(want), "complaint on send %lld (abuse)", (long long)comp);
	assert_non_null(why);
	assert_string_equal(why, want);
	free(why);

	/* a hard bounce after a complaint: the send was not bounced by the
	 * complaint, so it is now; the suppression keeps its first reason */
	struct bounce h2 = {.send_id = comp, .hard = 1, .status = "5.2.1", .report_id = "r5",
			    .at = T0 + 400};
	ok(store_bounce_record(s, &h2, T0 + 1000, &rec, &e));
	assert_int_equal(store_send_get(s, comp, &r, &e), 0);
	assert_string_equal(r.state, "bounced");
	send_row_release(&r);
	ok(store_suppressed(s, "eve@example.com", &why, &e));
	assert_string_equal(why, want);
	free(why);

	/* an unknown send */
	b.send_id = 424242;
	assert_int_equal(store_bounce_record(s, &b, T0, &rec, &e), -1);
	assert_string_equal(e.msg, "send 424242 not found");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_find, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
