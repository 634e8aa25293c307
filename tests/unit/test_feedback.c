/* test_feedback.c - what comes back, on a temporary SQLite store: the STOP
 * keyword table, User-Agent and sender normalisation tables, survey and
 * receipt status checks; opens recorded once (person and machine apart),
 * clicks only to a stored link, one-click unsubscribe idempotent, SMS
 * STOP and replies matched by number (unknown numbers kept as unmatched),
 * email replies by In-Reply-To and sender, receipts moving sends to
 * delivered / bounced, the events and contacts API all or nothing; then
 * the router without a network: forged tokens, methods, bearer tokens,
 * body limits. Rows are checked with plain SQL through sqlite3.
 * Run from the project root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "feedback.h"
#include "httpd.h"
#include "store.h"
#include "timeutil.h"
#include "track.h"
#include "xmalloc.h"

#define T0 1772359200LL /* 2026-03-01T10:00:00Z */

/* ---- fixture: a store in a temporary folder ---- */

struct fx {
	char dir[64];
	char path[96];
	struct store *s;
	sqlite3 *db;			   /* a second connection for checks and links rows */
	int64_t sms1, mail1, mail2, mail3; /* sends */
};

static void add_contact(struct store *s, const char *id, const char *email, const char *phone,
			const char *locale)
{
	struct err e = {{0}};
	struct contact c;
	memset(&c, 0, sizeof(c));
	c.id = (char *)id;
	c.email = (char *)email;
	c.phone = (char *)phone;
	c.locale = (char *)locale;
	c.do_not_contact = -1;
	for (int k = 0; k < CHANNEL_NKINDS; k++)
		c.unsub[k] = -1;
	if (store_contact_upsert(s, &c, T0, &e) != 0)
		fail_msg("upsert %s: %s", id, e.msg);
}

/* add_send - a send of campaign "camp" that went out at sent_at */
static int64_t add_send(struct store *s, const char *contact, const char *ref, const char *channel,
			const char *address, const char *msgid, const char *provider,
			int64_t sent_at)
{
	struct err e = {{0}};
	int64_t en, id;
	int created;
	if (store_enroll(s, "camp", contact, ref, T0, 0, 0, NULL, T0, &en, &created, &e) != 0)
		fail_msg("enroll: %s", e.msg);
	struct send_new n = {.enrollment_id = en,
			     .campaign = "camp",
			     .step = 0,
			     .contact = contact,
			     .priority = 1,
			     .due_at = T0,
			     .expire_at = TIME_NEVER,
			     .trigger_at = T0,
			     .template = "t"};
	if (store_send_schedule(s, &n, T0, &id, &created, &e) != 0)
		fail_msg("schedule: %s", e.msg);
	struct send_update u = {.state = "sent",
				.reason = "test",
				.channel = channel,
				.transport = channel,
				.address = address,
				.message_id = msgid,
				.provider_id = provider,
				.attempt_status = "ok",
				.attempt_code = "ok"};
	if (store_send_update(s, id, NULL, &u, sent_at, &e) != 0)
		fail_msg("send_update: %s", e.msg);
	return id;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct err e = {{0}};
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_feedback.XXXXXX");
	if (!mkdtemp(f->dir))
		fail_msg("mkdtemp");
	snprintf(f->path, sizeof(f->path), "%s/o.db", f->dir);
	f->s = store_open(f->path, &e);
	if (!f->s)
		fail_msg("store_open: %s", e.msg);
	int from, to;
	if (store_migrate(f->s, &from, &to, &e) != 0)
		fail_msg("migrate: %s", e.msg);
	if (sqlite3_open(f->path, &f->db) != SQLITE_OK)
		fail_msg("sqlite3_open");
	sqlite3_busy_timeout(f->db, 5000);
	add_contact(f->s, "c1", "liwei@example.cn", "+8613800138001", "zh");
	add_contact(f->s, "c2", "Emma@Example.co.uk", "+447700900123", "en");
	add_contact(f->s, "c3", "nosend@example.com", "+12125550100", NULL);
	f->sms1 = add_send(f->s, "c1", "r1", "sms", "+8613800138001", NULL, "1.json", T0);
	f->mail1 = add_send(f->s, "c1", "r2", "email", "liwei@example.cn",
			    "<outreach.2.aaa@example.com>", "2.eml", T0 + 60);
	f->mail2 = add_send(f->s, "c2", "r3", "email", "emma@example.co.uk",
			    "<outreach.3.bbb@example.com>", "3.eml", T0);
	f->mail3 = add_send(f->s, "c2", "r4", "email", "emma@example.co.uk",
			    "<outreach.4.ccc@example.com>", "4.eml", T0 + 3600);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[128];
	store_close(f->s);
	sqlite3_close(f->db);
	static const char *const files[] = {"o.db", "o.db-wal", "o.db-shm", "o.db.wake"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, files[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* q - one integer from SQL on the check connection */
static int64_t q(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(f->db));
	int64_t v = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* qs - one text (copied into a static buffer) */
static const char *qs(struct fx *f, const char *sql)
{
	static char out[1024];
	sqlite3_stmt *st;
	out[0] = '\0';
	if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(f->db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

static void exec(struct fx *f, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(f->db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("exec %s: %s", sql, msg);
}

static int64_t nevents(struct fx *f, const char *type)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM events WHERE type = '%s'", type);
	return q(f, sql);
}

/* ---- pure helpers ---- */

static void test_stop_keywords(void **state)
{
	static const struct {
		const char *text;
		int stop;
	} cases[] = {
	    {"STOP", 1},
	    {"stop", 1},
	    {" Stop \n", 1},
	    {"TD", 1},
	    {"td", 1},
	    {"T", 1},
	    {"t", 1},
	    {"退订", 1},
	    {" 退订 ", 1},
	    {"取消", 1},
	    {"\xe3\x80\x80退订\xe3\x80\x80", 1}, /* ideographic spaces */
	    {"ＳＴＯＰ", 1},
	    {"ｔｄ", 1},
	    {"STOP.", 1},
	    {"退订。", 1},
	    {"stop!", 1},
	    {"\tT\r\n", 1},
	    {"stop please", 0},
	    {"STOPP", 0},
	    {"TDX", 0},
	    {"退订了", 0},
	    {"不要取消", 0},
	    {"", 0},
	    {"   ", 0},
	    {"yes", 0},
	    {"S T O P", 0},
	    {"\xff\xfe", 0},
	    {"stop stop", 0},
	    {NULL, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (feedback_is_stop(cases[i].text) != cases[i].stop)
			fail_msg("feedback_is_stop(\"%s\") = %d, want %d",
				 cases[i].text ? cases[i].text : "(null)", !cases[i].stop,
				 cases[i].stop);
}

static void test_machine_ua(void **state)
{
	static const struct {
		const char *ua;
		int machine;
	} cases[] = {
	    {NULL, 1},
	    {"", 1},
	    {"Mozilla/5.0", 1}, /* Apple Mail Privacy Protection */
	    {"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
	     "GoogleImageProxy)",
	     1},
	    {"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", 1},
	    {"Mozilla/5.0 (compatible; bingbot/2.0)", 1},
	    {"Barracuda Sentinel (EE)", 1},
	    {"curl/7.88.1", 1},
	    {"python-requests/2.31", 1},
	    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
	     "Gecko)",
	     0},
	    {"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", 0},
	    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", 0},
	    {"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029)", 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (feedback_machine_ua(cases[i].ua) != cases[i].machine)
			fail_msg("feedback_machine_ua(\"%s\") != %d",
				 cases[i].ua ? cases[i].ua : "(null)", cases[i].machine);
}

static void test_normalise(void **state)
{
	static const struct {
		const char *in, *phone;
	} phones[] = {
	    {"+8613800138001", "+8613800138001"},
	    {"+86 138 0013 8001", "+8613800138001"},
	    {"+1 (212) 555-0100", "+12125550100"},
	    {"0086 138 0013 8001", "+8613800138001"},
	    {"8613800138001", "+8613800138001"},
	    {"ACME", NULL},
	    {"+0123", NULL},
	    {"", NULL},
	    {"+86 138x", NULL},
	    {"+1234567890123456789", NULL},
	};
	static const struct {
		const char *in, *email;
	} emails[] = {
	    {"bob@example.com", "bob@example.com"},
	    {"Bob <Bob@Example.COM>", "bob@example.com"},
	    {"\"Li, Wei\" <liwei@example.cn>", "liwei@example.cn"},
	    {"  emma@example.co.uk ", "emma@example.co.uk"},
	    {"not an address", NULL},
	    {"Bob <bob@example.com", NULL},
	    {"", NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
		char *got = feedback_norm_phone(phones[i].in);
		if (!phones[i].phone ? got != NULL : !got || strcmp(got, phones[i].phone) != 0)
			fail_msg("feedback_norm_phone(\"%s\") = %s", phones[i].in,
				 got ? got : "NULL");
		free(got);
	}
	for (size_t i = 0; i < sizeof(emails) / sizeof(emails[0]); i++) {
		char *got = feedback_norm_email(emails[i].in);
		if (!emails[i].email ? got != NULL : !got || strcmp(got, emails[i].email) != 0)
			fail_msg("feedback_norm_email(\"%s\") = %s", emails[i].in,
				 got ? got : "NULL");
		free(got);
	}
}

static void test_checks(void **state)
{
	static const struct {
		const char *score, *comment;
		enum survey_scale scale;
		int ok, want;
	} surveys[] = {
	    {"0", NULL, SURVEY_NPS, 1, 0},
	    {"10", "", SURVEY_NPS, 1, 10},
	    {"7", "很好\n谢谢", SURVEY_NPS, 1, 7},
	    {"11", NULL, SURVEY_NPS, 0, 0},
	    {"-1", NULL, SURVEY_NPS, 0, 0},
	    {"", NULL, SURVEY_NPS, 0, 0},
	    {NULL, NULL, SURVEY_NPS, 0, 0},
	    {"05", NULL, SURVEY_NPS, 0, 0},
	    {"5 ", NULL, SURVEY_NPS, 0, 0},
	    {"1e1", NULL, SURVEY_NPS, 0, 0},
	    {"100", NULL, SURVEY_NPS, 0, 0},
	    {"3", "a\x01", SURVEY_NPS, 0, 0},
	    {"3", "\xc3\x28", SURVEY_NPS, 0, 0},
	    /* no scale configured: 0 to 10 */
	    {"0", NULL, SURVEY_NONE, 1, 0},
	    {"10", NULL, SURVEY_NONE, 1, 10},
	    /* satisfaction: 1 to 5 */
	    {"1", NULL, SURVEY_CSAT, 1, 1},
	    {"5", "ok", SURVEY_CSAT, 1, 5},
	    {"0", NULL, SURVEY_CSAT, 0, 0},
	    {"6", NULL, SURVEY_CSAT, 0, 0},
	    {"10", NULL, SURVEY_CSAT, 0, 0},
	    {"04", NULL, SURVEY_CSAT, 0, 0},
	};
	struct err e = {{0}};
	int score;
	(void)state;
	for (size_t i = 0; i < sizeof(surveys) / sizeof(surveys[0]); i++) {
		int rc = feedback_survey_check(surveys[i].score, surveys[i].comment,
					       surveys[i].scale, &score, &e);
		if ((rc == 0) != surveys[i].ok || (rc == 0 && score != surveys[i].want))
			fail_msg("survey score \"%s\" (scale %d): rc %d score %d",
				 surveys[i].score ? surveys[i].score : "(null)", surveys[i].scale,
				 rc, score);
	}
	assert_int_equal(feedback_survey_check("6", NULL, SURVEY_CSAT, &score, &e), -1);
	assert_string_equal(e.msg, "score: not an integer 1 to 5");
	assert_int_equal(feedback_survey_check(NULL, NULL, SURVEY_NPS, &score, &e), -1);
	assert_string_equal(e.msg, "score: missing (an integer 0 to 10)");
	/* 2000 characters of Chinese are fine, 2001 are not */
	struct buf b = BUF_INIT;
	for (int i = 0; i < FEEDBACK_COMMENT_MAX; i++)
		buf_puts(&b, "好");
	assert_int_equal(feedback_survey_check("5", b.data, SURVEY_NPS, &score, &e), 0);
	buf_puts(&b, "a");
	assert_int_equal(feedback_survey_check("5", b.data, SURVEY_NPS, &score, &e), -1);
	assert_non_null(strstr(e.msg, "comment"));
	buf_release(&b);

	static const struct {
		const char *status;
		int cls;
	} statuses[] = {
	    {"delivered", 'd'}, {"DELIVRD", 'd'}, {"UNDELIV", 'h'}, {"undeliverable", 'h'},
	    {"failed", 's'},	{"REJECTD", 's'}, {"EXPIRED", 's'}, {"ACCEPTD", 'i'},
	    {"enroute", 'i'},	{"weird", 0},	  {"", 0},	    {NULL, 0},
	};
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		assert_int_equal(feedback_receipt_class(statuses[i].status), statuses[i].cls);

	static const struct {
		const char *url;
		int ok;
	} urls[] = {
	    {"https://shop.example.com/p/1?x=1", 1},
	    {"http://a.b/", 1},
	    {"mailto:care@example.com", 1},
	    {"javascript:alert(1)", 0},
	    {"JavaScript:alert(1)", 0},
	    {"data:text/html,x", 0},
	    {"https://a.b/\r\nSet-Cookie: x", 0},
	    {"//evil.example/", 0},
	    {"/relative", 0},
	    {"https://a.b/x y", 0},
	    {"", 0},
	    {NULL, 0},
	};
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		if (feedback_url_ok(urls[i].url) != urls[i].ok)
			fail_msg("feedback_url_ok(\"%s\") != %d",
				 urls[i].url ? urls[i].url : "(null)", urls[i].ok);
}

/* ---- opens and clicks ---- */

static const char *const firefox =
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

static void test_open_once(void **state)
{
	struct fx *f = *state;
	struct feedback_result r;
	struct err e = {{0}};
	/* a person, twice: one event */
	assert_int_equal(feedback_open(f->s, f->mail2, firefox, T0 + 600, &r, &e), FEEDBACK_OK);
	assert_int_equal(r.recorded, 1);
	assert_int_equal(r.machine, 0);
	assert_string_equal(r.contact, "c2");
	feedback_result_release(&r);
	assert_int_equal(feedback_open(f->s, f->mail2, firefox, T0 + 700, &r, &e), FEEDBACK_OK);
	assert_int_equal(r.recorded, 0);
	feedback_result_release(&r);
	assert_int_equal(nevents(f, "opened"), 1);
	assert_int_equal(q(f, "SELECT send_id FROM events WHERE type = 'opened'"), f->mail2);
	assert_string_equal(qs(f, "SELECT json_extract(data, '$.machine') FROM events "
				  "WHERE type = 'opened'"),
			    "0");
	/* Gmail's proxy: a machine open, kept apart */
	assert_int_equal(feedback_open(f->s, f->mail2,
				       "Mozilla/5.0 (via ggpht.com GoogleImageProxy)", T0 + 800, &r,
				       &e),
			 FEEDBACK_OK);
	assert_int_equal(r.machine, 1);
	assert_int_equal(r.recorded, 1);
	feedback_result_release(&r);
	assert_int_equal(nevents(f, "opened"), 2);
	/* within seconds of the send (mail3 went out at T0 + 3600): a scanner */
	assert_int_equal(feedback_open(f->s, f->mail3, firefox, T0 + 3603, &r, &e), FEEDBACK_OK);
	assert_int_equal(r.machine, 1);
	feedback_result_release(&r);
	assert_int_equal(
	    feedback_open(f->s, f->mail3, firefox, T0 + 3600 + FEEDBACK_MACHINE_SECS, &r, &e),
	    FEEDBACK_OK);
	assert_int_equal(r.machine, 0);
	assert_int_equal(r.recorded, 1);
	feedback_result_release(&r);
	/* an unknown send: nothing */
	assert_int_equal(feedback_open(f->s, 999, firefox, T0, &r, &e), FEEDBACK_NOT_FOUND);
	feedback_result_release(&r);
	assert_int_equal(nevents(f, "opened"), 4);
}

static void test_click(void **state)
{
	struct fx *f = *state;
	struct feedback_result r;
	struct err e = {{0}};
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO links (send_id, idx, url) VALUES (%lld, 1, "
		 "'https://shop.example.com/p/1?utm_source=x&reset=SECRET#top'), "
		 "(%lld, 2, 'javascript:alert(1)')",
		 (long long)f->mail2, (long long)f->mail2);
	exec(f, sql);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(feedback_click(f->s, f->mail2, 1, firefox, T0 + 600, &r, &e),
				 FEEDBACK_OK);
		assert_string_equal(r.url,
				    "https://shop.example.com/p/1?utm_source=x&reset=SECRET#top");
		assert_int_equal(r.recorded, 1);
		feedback_result_release(&r);
	}
	/* every click is an event, even two in the same second */
	assert_int_equal(nevents(f, "clicked"), 2);
	assert_string_equal(qs(f, "SELECT json_extract(data, '$.url') FROM events WHERE type = "
				  "'clicked'"),
			    "https://shop.example.com/p/1");
	assert_int_equal(q(f, "SELECT COUNT(*) FROM events WHERE data LIKE '%SECRET%'"), 0);
	/* no such link, a link of another message, a link we may not redirect to */
	assert_int_equal(feedback_click(f->s, f->mail2, 3, firefox, T0, &r, &e),
			 FEEDBACK_NOT_FOUND);
	feedback_result_release(&r);
	assert_int_equal(feedback_click(f->s, f->mail3, 1, firefox, T0, &r, &e),
			 FEEDBACK_NOT_FOUND);
	feedback_result_release(&r);
	assert_int_equal(feedback_click(f->s, f->mail2, 2, firefox, T0, &r, &e),
			 FEEDBACK_NOT_FOUND);
	feedback_result_release(&r);
	assert_int_equal(nevents(f, "clicked"), 2);
}

/* ---- unsubscribe and survey ---- */

static void test_unsubscribe_idempotent(void **state)
{
	struct fx *f = *state;
	struct feedback_result r;
	struct err e = {{0}};
	int ok;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(feedback_unsubscribe(f->s, f->mail1, T0 + 600 + i, &r, &e),
				 FEEDBACK_OK);
		assert_int_equal(r.recorded, i == 0);
		feedback_result_release(&r);
	}
	assert_int_equal(nevents(f, "unsubscribed"), 1);
	assert_string_equal(qs(f, "SELECT data FROM events WHERE type = 'unsubscribed'"),
			    "{\"channel\":\"email\",\"class\":\"marketing\"}");
	assert_int_equal(q(f, "SELECT send_id FROM events WHERE type = 'unsubscribed'"), f->mail1);
	assert_int_equal(store_subscription_allows(f->s, "c1", "email", CLASS_MARKETING, &ok, &e),
			 0);
	assert_int_equal(ok, 0);
	assert_int_equal(
	    store_subscription_allows(f->s, "c1", "email", CLASS_TRANSACTIONAL, &ok, &e), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(store_subscription_allows(f->s, "c1", "sms", CLASS_MARKETING, &ok, &e), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(feedback_unsubscribe(f->s, 999, T0, &r, &e), FEEDBACK_NOT_FOUND);
	feedback_result_release(&r);
}

static void test_survey(void **state)
{
	struct fx *f = *state;
	struct feedback_result r;
	struct err e = {{0}};
	int answered = -1;
	assert_int_equal(feedback_survey(f->s, f->mail2, SURVEY_NPS, "11", NULL, T0, &r, &e),
			 FEEDBACK_BAD);
	feedback_result_release(&r);
	assert_int_equal(nevents(f, "survey_response"), 0);
	assert_int_equal(feedback_survey_answered(f->s, f->mail2, &answered, &e), FEEDBACK_OK);
	assert_int_equal(answered, 0);
	assert_int_equal(feedback_survey(f->s, f->mail2, SURVEY_NPS, "9", "很好", T0, &r, &e),
			 FEEDBACK_OK);
	assert_int_equal(r.recorded, 1);
	assert_string_equal(r.kind, "survey_response");
	feedback_result_release(&r);
	assert_int_equal(feedback_survey_answered(f->s, f->mail2, &answered, &e), FEEDBACK_OK);
	assert_int_equal(answered, 1);
	/* one answer per message: a second is refused, good or bad, and
	 * changes nothing */
	int64_t before = q(f, "SELECT COUNT(*) FROM events");
	assert_int_equal(
	    feedback_survey(f->s, f->mail2, SURVEY_NPS, "3", "changed my mind", T0 + 5, &r, &e),
	    FEEDBACK_ANSWERED);
	assert_int_equal(r.recorded, 0);
	feedback_result_release(&r);
	assert_int_equal(feedback_survey(f->s, f->mail2, SURVEY_NPS, "42", NULL, T0 + 6, &r, &e),
			 FEEDBACK_ANSWERED);
	feedback_result_release(&r);
	assert_int_equal(q(f, "SELECT COUNT(*) FROM events"), before);
	assert_string_equal(qs(f, "SELECT data FROM events WHERE type = 'survey_response'"),
			    "{\"comment\":\"很好\",\"score\":9}");
	/* the 1 to 5 scale is named in the data; 0 to 10 stays as it was */
	assert_int_equal(feedback_survey(f->s, f->sms1, SURVEY_CSAT, "6", NULL, T0, &r, &e),
			 FEEDBACK_BAD);
	feedback_result_release(&r);
	assert_int_equal(feedback_survey(f->s, f->sms1, SURVEY_CSAT, "2", "slow", T0, &r, &e),
			 FEEDBACK_OK);
	feedback_result_release(&r);
	char sql[128];
	snprintf(sql, sizeof(sql),
		 "SELECT data FROM events WHERE type = 'survey_response' AND send_id = %lld",
		 (long long)f->sms1);
	assert_string_equal(qs(f, sql), "{\"comment\":\"slow\",\"scale\":\"csat\",\"score\":2}");
	assert_int_equal(feedback_survey(f->s, 999, SURVEY_NPS, "5", NULL, T0, &r, &e),
			 FEEDBACK_NOT_FOUND);
	feedback_result_release(&r);
}

/* ---- inbound ---- */

static void test_sms(void **state)
{
	struct fx *f = *state;
	struct feedback_result r;
	struct err e = {{0}};
	int ok;
	/* a reply from a known number, written with spaces */
	assert_int_equal(feedback_sms(f->s, "+86 138 0013 8001", "什么时候到？", T0 + 60, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.kind, "reply");
	assert_int_equal(r.send_id, f->sms1);
	assert_string_equal(r.contact, "c1");
	feedback_result_release(&r);
	assert_string_equal(qs(f, "SELECT data FROM events WHERE type = 'replied'"),
			    "{\"channel\":\"sms\",\"text\":\"什么时候到？\"}");
	/* STOP in Chinese with spaces around */
	assert_int_equal(feedback_sms(f->s, "+8613800138001", " 退订 ", T0 + 120, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.kind, "stop");
	feedback_result_release(&r);
	assert_int_equal(store_subscription_allows(f->s, "c1", "sms", CLASS_MARKETING, &ok, &e), 0);
	assert_int_equal(ok, 0);
	assert_int_equal(store_subscription_allows(f->s, "c1", "email", CLASS_MARKETING, &ok, &e),
			 0);
	assert_int_equal(ok, 1);
	assert_int_equal(nevents(f, "unsubscribed"), 1);
	assert_int_equal(q(f, "SELECT send_id FROM events WHERE type = 'unsubscribed'"), f->sms1);
	/* a contact with a phone but no sms sent: matched, no send */
	assert_int_equal(feedback_sms(f->s, "+1 212 555 0100", "hi", T0, &r, &e), FEEDBACK_OK);
	assert_string_equal(r.kind, "reply");
	assert_string_equal(r.contact, "c3");
	assert_int_equal(r.send_id, 0);
	feedback_result_release(&r);
	/* an unknown number: kept, not dropped, no event */
	assert_int_equal(feedback_sms(f->s, "+15550001111", "STOP", T0, &r, &e), FEEDBACK_OK);
	assert_string_equal(r.kind, "unmatched");
	assert_null(r.contact);
	feedback_result_release(&r);
	/* a sender that is no number at all: kept as it came */
	assert_int_equal(feedback_sms(f->s, "ACME", "x", T0, &r, &e), FEEDBACK_OK);
	assert_string_equal(r.kind, "unmatched");
	feedback_result_release(&r);
	assert_int_equal(feedback_sms(f->s, "", "x", T0, &r, &e), FEEDBACK_BAD);
	feedback_result_release(&r);
	assert_int_equal(feedback_sms(f->s, "+8613800138001", "\xc3\x28", T0, &r, &e),
			 FEEDBACK_BAD);
	feedback_result_release(&r);
	assert_int_equal(q(f, "SELECT COUNT(*) FROM inbound"), 5);
	assert_int_equal(q(f, "SELECT COUNT(*) FROM inbound WHERE kind = 'unmatched'"), 2);
	assert_int_equal(
	    q(f, "SELECT COUNT(*) FROM inbound WHERE kind = 'stop' AND contact_id = 'c1'"), 1);
	assert_string_equal(
	    qs(f, "SELECT sender FROM inbound WHERE kind = 'unmatched' ORDER BY id"),
	    "+15550001111");
	assert_int_equal(nevents(f, "replied"), 2);
}

static void test_email(void **state)
{
	struct fx *f = *state;
	struct feedback_result r;
	struct err e = {{0}};
	/* In-Reply-To names the older message: that one, not the latest */
	assert_int_equal(feedback_email(f->s, "someone-else@example.org", "Re: hello", "thanks",
					"<outreach.3.bbb@example.com>", T0 + 7200, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.kind, "reply");
	assert_int_equal(r.send_id, f->mail2);
	assert_string_equal(r.contact, "c2");
	feedback_result_release(&r);
	/* without brackets, several ids */
	assert_int_equal(feedback_email(f->s, NULL, NULL, "x",
					"<unknown@x> outreach.4.ccc@example.com", T0, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.kind, "unmatched"); /* bracketed list: only bracketed ids count */
	feedback_result_release(&r);
	assert_int_equal(
	    feedback_email(f->s, NULL, NULL, "x", "outreach.4.ccc@example.com", T0, &r, &e),
	    FEEDBACK_OK);
	assert_int_equal(r.send_id, f->mail3);
	feedback_result_release(&r);
	/* by sender, any case: the latest email send to that address */
	assert_int_equal(
	    feedback_email(f->s, "Emma Clarke <EMMA@example.CO.UK>", "Re", "ok", NULL, T0, &r, &e),
	    FEEDBACK_OK);
	assert_int_equal(r.send_id, f->mail3);
	feedback_result_release(&r);
	/* a contact never mailed: matched by contacts.email */
	assert_int_equal(feedback_email(f->s, "NoSend@Example.com", NULL, "hi", NULL, T0, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.contact, "c3");
	assert_int_equal(r.send_id, 0);
	feedback_result_release(&r);
	assert_int_equal(feedback_email(f->s, "stranger@example.net", NULL, "hi", NULL, T0, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.kind, "unmatched");
	feedback_result_release(&r);
	assert_int_equal(feedback_email(f->s, NULL, NULL, "hi", NULL, T0, &r, &e), FEEDBACK_BAD);
	feedback_result_release(&r);
	assert_int_equal(nevents(f, "replied"), 4);
	assert_string_equal(
	    qs(f, "SELECT data FROM events WHERE type = 'replied' ORDER BY id"),
	    "{\"channel\":\"email\",\"subject\":\"Re: hello\",\"text\":\"thanks\"}");
	assert_int_equal(q(f, "SELECT COUNT(*) FROM inbound WHERE kind = 'unmatched'"), 2);
}

/* ---- receipts ---- */

static void test_receipts(void **state)
{
	struct fx *f = *state;
	struct feedback_result r;
	struct err e = {{0}};
	char *why;
	assert_int_equal(feedback_receipt(f->s, "sms", "1.json", "ACCEPTD", T0, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.kind, "ignored");
	feedback_result_release(&r);
	assert_int_equal(feedback_receipt(f->s, "sms", "1.json", "DELIVRD", T0 + 5, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.kind, "delivered");
	assert_int_equal(r.recorded, 1);
	feedback_result_release(&r);
	assert_string_equal(qs(f, "SELECT state FROM sends WHERE id = 1"), "delivered");
	assert_string_equal(qs(f, "SELECT state || ': ' || reason FROM send_log WHERE send_id = 1 "
				  "ORDER BY id DESC"),
			    "delivered: receipt from sms: DELIVRD");
	/* again: nothing changes */
	assert_int_equal(feedback_receipt(f->s, "sms", "1.json", "delivered", T0 + 6, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.kind, "unchanged");
	feedback_result_release(&r);
	assert_int_equal(nevents(f, "delivered"), 1);
	/* the id is the provider's on that transport only */
	assert_int_equal(feedback_receipt(f->s, "email", "1.json", "DELIVRD", T0, &r, &e),
			 FEEDBACK_NOT_FOUND);
	feedback_result_release(&r);
	assert_int_equal(feedback_receipt(f->s, "sms", "nope", "DELIVRD", T0, &r, &e),
			 FEEDBACK_NOT_FOUND);
	feedback_result_release(&r);
	assert_int_equal(feedback_receipt(f->s, "sms", "1.json", "LOST", T0, &r, &e), FEEDBACK_BAD);
	feedback_result_release(&r);
	/* a late hard failure after delivered: bounced, suppressed */
	assert_int_equal(feedback_receipt(f->s, "sms", "1.json", "UNDELIV", T0 + 9, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.kind, "bounced");
	feedback_result_release(&r);
	assert_string_equal(qs(f, "SELECT state FROM sends WHERE id = 1"), "bounced");
	assert_string_equal(qs(f, "SELECT data FROM events WHERE type = 'bounced'"),
			    "{\"hard\":true,\"status\":\"UNDELIV\"}");
	assert_int_equal(store_suppressed(f->s, "+8613800138001", &why, &e), 0);
	assert_non_null(why);
	free(why);
	/* a soft failure of an email: bounced, not suppressed */
	assert_int_equal(feedback_receipt(f->s, "email", "3.eml", "EXPIRED", T0, &r, &e),
			 FEEDBACK_OK);
	feedback_result_release(&r);
	assert_string_equal(qs(f, "SELECT json_extract(data, '$.hard') FROM events WHERE type = "
				  "'bounced' AND send_id = 3"),
			    "0");
	assert_int_equal(store_suppressed(f->s, "emma@example.co.uk", &why, &e), 0);
	assert_null(why);
	/* delivered after bounced does not go back */
	assert_int_equal(feedback_receipt(f->s, "email", "3.eml", "delivered", T0, &r, &e),
			 FEEDBACK_OK);
	assert_string_equal(r.kind, "unchanged");
	feedback_result_release(&r);
	assert_string_equal(qs(f, "SELECT state FROM sends WHERE id = 3"), "bounced");
}

/* ---- the API ---- */

static void test_api(void **state)
{
	struct fx *f = *state;
	struct err e = {{0}};
	size_t n, added;
	const char *bad_type = "[{\"contact\":\"c1\",\"type\":\"purchase\"},"
			       "{\"contact\":\"c2\",\"type\":\"Bad Type\"}]";
	assert_int_equal(feedback_api_events(f->s, bad_type, strlen(bad_type), T0, &n, &added, &e),
			 FEEDBACK_BAD);
	assert_non_null(strstr(e.msg, "record 2:"));
	assert_non_null(strstr(e.msg, "invalid type"));
	assert_null(strstr(e.msg, "/proc"));
	const char *unknown = "[{\"contact\":\"c1\",\"type\":\"purchase\"},"
			      "{\"contact\":\"nobody\",\"type\":\"purchase\"}]";
	assert_int_equal(feedback_api_events(f->s, unknown, strlen(unknown), T0, &n, &added, &e),
			 FEEDBACK_BAD);
	assert_non_null(strstr(e.msg, "record 2: unknown contact"));
	assert_int_equal(nevents(f, "purchase"), 0); /* all or nothing */
	static const char *const garbage[] = {"", "{", "[1,", "\"x\"", "{\"a\":1,\"a\":2}", "[1]"};
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		assert_int_equal(
		    feedback_api_events(f->s, garbage[i], strlen(garbage[i]), T0, &n, &added, &e),
		    FEEDBACK_BAD);
	const char *good = "[{\"id\":\"o-9\",\"contact\":\"c1\",\"type\":\"purchase\","
			   "\"at\":\"2026-03-01T09:00:00Z\",\"data\":{\"amount\":100}},"
			   "{\"contact\":\"c2\",\"type\":\"visit\"}]";
	assert_int_equal(feedback_api_events(f->s, good, strlen(good), T0, &n, &added, &e),
			 FEEDBACK_OK);
	assert_int_equal(n, 2);
	assert_int_equal(added, 2);
	assert_int_equal(feedback_api_events(f->s, good, strlen(good), T0, &n, &added, &e),
			 FEEDBACK_OK);
	assert_int_equal(added, 0);
	assert_int_equal(nevents(f, "purchase"), 1);
	const char *one = "{\"contact\":\"c3\",\"type\":\"visit\"}";
	assert_int_equal(feedback_api_events(f->s, one, strlen(one), T0 + 1, &n, &added, &e),
			 FEEDBACK_OK);
	assert_int_equal(n, 1);

	const char *cbad = "[{\"id\":\"n1\",\"email\":\"bob@\"}]";
	assert_int_equal(feedback_api_contacts(f->s, cbad, strlen(cbad), T0, &n, &e), FEEDBACK_BAD);
	assert_non_null(strstr(e.msg, "record 1: invalid email"));
	const char *cgood = "[{\"id\":\"n1\",\"email\":\"bob@example.com\",\"tier\":\"gold\"},"
			    "{\"id\":\"c1\",\"name\":\"李伟\"}]";
	assert_int_equal(feedback_api_contacts(f->s, cgood, strlen(cgood), T0, &n, &e),
			 FEEDBACK_OK);
	assert_int_equal(n, 2);
	assert_string_equal(
	    qs(f, "SELECT json_extract(attrs, '$.tier') FROM contacts WHERE id = 'n1'"), "gold");
	assert_string_equal(qs(f, "SELECT name || ' ' || phone FROM contacts WHERE id = 'c1'"),
			    "李伟 +8613800138001");
}

/* ---- the router, no network ---- */

static struct httpd *server(struct fx *f, struct config **cfg)
{
	char yaml[512];
	struct diag d;
	struct err e = {{0}};
	int usage;
	int n =
	    snprintf(yaml, sizeof(yaml),
		     "store: %s\ntemplates: templates\ntracking:\n  secret_env: FB_TEST_SECRET\n"
		     "transports:\n  sms:\n    kind: outbox\n    channel: sms\n    dir: %s/out\n",
		     f->path, f->dir);
	diag_init(&d);
	*cfg = config_load_mem("test.yaml", yaml, (size_t)n, &d);
	if (!*cfg || d.errors)
		fail_msg("config: %s", d.n ? d.msgs[0] : "?");
	diag_release(&d);
	struct httpd *h = httpd_create(*cfg, &usage, &e);
	if (!h)
		fail_msg("httpd_create: %s", e.msg);
	return h;
}

static int call(struct httpd *h, const char *method, const char *path, const char *auth,
		const char *ctype, const char *body, struct httpd_resp *rs)
{
	struct httpd_req rq = {.method = method,
			       .path = path,
			       .authorization = auth,
			       .content_type = ctype,
			       .user_agent = firefox,
			       .body = body ? body : "",
			       .len = body ? strlen(body) : 0,
			       .now = T0 + 86400};
	httpd_handle(h, &rq, rs);
	return rs->code;
}

static void test_router(void **state)
{
	struct fx *f = *state;
	struct config *cfg;
	struct httpd_resp rs;
	struct err e = {{0}};
	int usage;

	unsetenv("FB_TEST_SECRET");
	unsetenv("OUTREACH_API_TOKEN");
	unsetenv("OUTREACH_INBOUND_TOKEN");
	{
		struct diag d;
		char yaml[256];
		int n = snprintf(yaml, sizeof(yaml),
				 "store: %s\ntracking:\n  secret_env: FB_TEST_SECRET\n", f->path);
		diag_init(&d);
		struct config *c0 = config_load_mem("t.yaml", yaml, (size_t)n, &d);
		diag_release(&d);
		assert_non_null(c0);
		assert_null(httpd_create(c0, &usage, &e)); /* no secret: refused */
		assert_int_equal(usage, 1);
		assert_non_null(strstr(e.msg, "FB_TEST_SECRET"));
		config_free(c0);
	}
	setenv("FB_TEST_SECRET", "k3y", 1);
	struct httpd *h = server(f, &cfg);
	char path[128], *tok = track_token("k3y", 'o', f->mail2, 0);
	snprintf(path, sizeof(path), "/o/%s", tok);
	assert_int_equal(call(h, "GET", path, NULL, NULL, NULL, &rs), 200);
	assert_string_equal(rs.content_type, "image/gif");
	assert_int_equal(rs.body.len, 43);
	assert_memory_equal(rs.body.data, "GIF89a", 6);
	httpd_resp_release(&rs);
	assert_int_equal(call(h, "POST", path, NULL, NULL, NULL, &rs), 405);
	assert_non_null(rs.allow);
	httpd_resp_release(&rs);
	/* altered, truncated, of another kind, another secret, unknown send */
	char bad[128];
	snprintf(bad, sizeof(bad), "%s", path);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	const char *forged[] = {
	    bad,     "/o/", "/o/o2.0.abc", "/o/o99999.0.00000000000000000000", "/o/../etc/passwd",
	    "/o/x/y"};
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		assert_int_equal(call(h, "GET", forged[i], NULL, NULL, NULL, &rs), 404);
		httpd_resp_release(&rs);
	}
	free(tok);
	tok = track_token("k3y", 'c', f->mail2, 0);
	snprintf(path, sizeof(path), "/o/%s", tok); /* a click token on the open route */
	assert_int_equal(call(h, "GET", path, NULL, NULL, NULL, &rs), 404);
	httpd_resp_release(&rs);
	free(tok);
	tok = track_token("other", 'o', f->mail2, 0);
	snprintf(path, sizeof(path), "/o/%s", tok);
	assert_int_equal(call(h, "GET", path, NULL, NULL, NULL, &rs), 404);
	httpd_resp_release(&rs);
	free(tok);
	tok = track_token("k3y", 'o', 999, 0);
	snprintf(path, sizeof(path), "/o/%s", tok);
	assert_int_equal(call(h, "GET", path, NULL, NULL, NULL, &rs), 404);
	httpd_resp_release(&rs);
	free(tok);
	assert_int_equal(nevents(f, "opened"), 1);

	/* the unsubscribe page in the contact's language; one-click POST */
	tok = track_token("k3y", 'u', f->sms1, 0);
	snprintf(path, sizeof(path), "/u/%s", tok);
	free(tok);
	assert_int_equal(call(h, "GET", path, NULL, NULL, NULL, &rs), 200);
	assert_non_null(strstr(rs.body.data, "lang=\"zh-CN\""));
	assert_non_null(strstr(rs.body.data, "退订营销短信"));
	httpd_resp_release(&rs);
	assert_int_equal(call(h, "POST", path, NULL, "application/x-www-form-urlencoded",
			      "List-Unsubscribe=Other", &rs),
			 400);
	httpd_resp_release(&rs);
	assert_int_equal(call(h, "POST", path, NULL, "application/x-www-form-urlencoded",
			      "List-Unsubscribe=One-Click", &rs),
			 200);
	httpd_resp_release(&rs);
	assert_int_equal(nevents(f, "unsubscribed"), 1);

	/* the API: disabled without a token; 401 without the right one */
	assert_int_equal(call(h, "POST", "/api/events", NULL, "application/json", "{}", &rs), 503);
	httpd_resp_release(&rs);
	httpd_free(h);
	config_free(cfg);
	setenv("OUTREACH_API_TOKEN", "t0ken", 1);
	h = server(f, &cfg);
	const char *ev = "{\"contact\":\"c1\",\"type\":\"purchase\"}";
	assert_int_equal(call(h, "POST", "/api/events", NULL, "application/json", ev, &rs), 401);
	assert_int_equal(rs.bearer_challenge, 1);
	httpd_resp_release(&rs);
	assert_int_equal(
	    call(h, "POST", "/api/events", "Bearer t0ken2", "application/json", ev, &rs), 401);
	httpd_resp_release(&rs);
	assert_int_equal(call(h, "POST", "/api/events", "Basic t0ken", "application/json", ev, &rs),
			 401);
	httpd_resp_release(&rs);
	assert_int_equal(nevents(f, "purchase"), 0);
	assert_int_equal(call(h, "POST", "/api/events", "bearer t0ken", "text/csv", ev, &rs), 415);
	httpd_resp_release(&rs);
	assert_int_equal(
	    call(h, "POST", "/api/events", "Bearer t0ken", "application/json", "{", &rs), 400);
	httpd_resp_release(&rs);
	assert_int_equal(
	    call(h, "POST", "/api/events", "Bearer t0ken", "application/json", ev, &rs), 200);
	assert_non_null(strstr(rs.body.data, "\"added\":1"));
	httpd_resp_release(&rs);
	assert_int_equal(nevents(f, "purchase"), 1);

	/* bodies: malformed forms and JSON, wrong types, too big */
	assert_int_equal(call(h, "POST", "/inbound/sms", NULL, "application/x-www-form-urlencoded",
			      "from=%ZZ&text=x", &rs),
			 400);
	httpd_resp_release(&rs);
	assert_int_equal(call(h, "POST", "/inbound/sms", NULL, "application/json",
			      "{\"from\":[1],\"text\":\"x\"}", &rs),
			 400);
	httpd_resp_release(&rs);
	assert_int_equal(call(h, "POST", "/inbound/sms", NULL, "image/png", "x", &rs), 415);
	httpd_resp_release(&rs);
	assert_int_equal(call(h, "POST", "/inbound/sms", NULL, NULL,
			      "from=%2B15550009999&text=hello+there", &rs),
			 202);
	httpd_resp_release(&rs);
	assert_string_equal(qs(f, "SELECT text FROM inbound ORDER BY id DESC"), "hello there");
	assert_int_equal(call(h, "POST", "/dlr/nosuch", NULL, NULL, "{}", &rs), 404);
	httpd_resp_release(&rs);
	assert_int_equal(call(h, "POST", "/dlr/sms", NULL, NULL,
			      "{\"message_id\":\"1.json\",\"status\":\"delivered\"}", &rs),
			 200);
	httpd_resp_release(&rs);
	char *big = xmalloc(HTTPD_BODY_MAX + 2);
	memset(big, 'a', HTTPD_BODY_MAX + 1);
	big[HTTPD_BODY_MAX + 1] = '\0';
	assert_int_equal(call(h, "POST", "/inbound/sms", NULL, NULL, big, &rs), 413);
	httpd_resp_release(&rs);
	free(big);

	/* health and metrics */
	assert_int_equal(call(h, "GET", "/healthz", NULL, NULL, NULL, &rs), 200);
	httpd_resp_release(&rs);
	assert_int_equal(call(h, "GET", "/metrics", NULL, NULL, NULL, &rs), 200);
	static const char *const families[] = {
	    "outreach_sends{state=\"delivered\",transport=\"sms\"} 1",
	    "outreach_attempts_total{status=\"ok\",transport=\"email\"} 3",
	    "outreach_events_total{type=\"purchase\"} 1",
	    "outreach_queue_depth 0",
	    "outreach_send_lag_seconds_count 4",
	    "outreach_http_requests_total{endpoint=\"api_events\",code=\"401\"} 3",
	    "outreach_http_requests_total{endpoint=\"inbound_sms\",code=\"413\"} 1",
	    "outreach_http_request_duration_seconds_count{endpoint=\"api_events\"} 6",
	};
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (!strstr(rs.body.data, families[i]))
			fail_msg("/metrics lacks %s:\n%s", families[i], rs.body.data);
	httpd_resp_release(&rs);
	assert_int_equal(call(h, "GET", "/nothing", NULL, NULL, NULL, &rs), 404);
	httpd_resp_release(&rs);
	httpd_free(h);
	config_free(cfg);
	unsetenv("OUTREACH_API_TOKEN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stop_keywords),
	    cmocka_unit_test(test_machine_ua),
	    cmocka_unit_test(test_normalise),
	    cmocka_unit_test(test_checks),
	    cmocka_unit_test_setup_teardown(test_open_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_click, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsubscribe_idempotent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_survey, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_email, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_receipts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_router, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
