/* fuzz_httpd.c - libFuzzer target for serve's request handling: the token
 * check, JSON and urlencoded bodies, the one-click and survey forms, the
 * API's records, receipts, and the text helpers behind them.
 *
 * Each input is one request to httpd_handle (no network) on a real
 * SQLite store in a temporary folder, seeded once with contacts, sent
 * messages and a link. The input's first three bytes choose the method,
 * the endpoint, whether the token is a validly signed one (for a send
 * and link picked by the input) or the input's own text, the content
 * type and the Authorization header; the rest is "PATH-OR-TOKEN\nBODY".
 * The answer must be a status code 100..599 with a reason on every 4xx
 * and 5xx; a token that does not verify must get 404 (or 405/413) and a
 * redirect must go to a stored link. The same bytes also go through
 * track_verify, feedback_is_stop, the sender normalisers, the survey
 * check and the form parser.
 *
 *   make fuzz-build && build/fuzz/fuzz_httpd -max_total_time=300 tests/fuzz/corpus/httpd/
 *   (make fuzz runs every target FUZZ_TIME seconds on a copy of its corpus)
 */
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "feedback.h"
#include "httpd.h"
#include "../../src/httpd/httpd_internal.h" /* not a public header */
#include "store.h"
#include "timeutil.h"
#include "track.h"
#include "xmalloc.h"

#define T0 INT64_C(1772359200) /* 2026-03-01T10:00:00Z */
#define SECRET "fuzz-secret"
#define API "fuzz-api-token"
#define LINK_URL "https://shop.example.com/p/1?utm_source=mail"

static struct httpd *srv;
static struct config *cfg;
static char dir[] = "/tmp/fuzz_httpd.XXXXXX";

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* cleanup - the store's folder goes at exit (kept after a crash, which
 * does not get here) */
static void cleanup(void)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_httpd: %s: %s\n", what, why);
	abort();
}

static int64_t seed_send(struct store *s, const char *contact, const char *ref, const char *channel,
			 const char *address, const char *msgid, const char *provider)
{
	struct err e = {{0}};
	int64_t en, id;
	int created;
	if (store_enroll(s, "camp", contact, ref, T0, 0, 0, NULL, T0, &en, &created, &e) < 0)
		die("enroll", e.msg);
	struct send_new n = {.enrollment_id = en,
			     .campaign = "camp",
			     .contact = contact,
			     .priority = 1,
			     .due_at = T0,
			     .expire_at = TIME_NEVER,
			     .trigger_at = T0,
			     .template = "t"};
	if (store_send_schedule(s, &n, T0, &id, &created, &e) < 0)
		die("schedule", e.msg);
	struct send_update u = {.state = "sent",
				.reason = "seed",
				.channel = channel,
				.transport = channel,
				.address = address,
				.message_id = msgid,
				.provider_id = provider,
				.attempt_status = "ok"};
	if (store_send_update(s, id, NULL, &u, T0, &e) < 0)
		die("send_update", e.msg);
	return id;
}

static void init(void)
{
	char path[128], yaml[512];
	struct err e = {{0}};
	struct diag d;
	if (!mkdtemp(dir))
		die("mkdtemp", dir);
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/o.db", dir);
	setenv("FUZZ_SECRET", SECRET, 1);
	setenv("OUTREACH_API_TOKEN", API, 1);
	unsetenv("OUTREACH_INBOUND_TOKEN");
	int n = snprintf(yaml, sizeof(yaml),
			 "store: %s\ntracking:\n  secret_env: FUZZ_SECRET\ntransports:\n"
			 "  sms:\n    kind: outbox\n    channel: sms\n    dir: %s/out\n"
			 "  email:\n    kind: outbox\n    channel: email\n    dir: %s/out\n",
			 path, dir, dir);
	diag_init(&d);
	cfg = config_load_mem("fuzz.yaml", yaml, (size_t)n, &d);
	if (!cfg || d.errors)
		die("config", d.n ? d.msgs[0] : "?");
	diag_release(&d);
	struct store *s = store_open(path, &e);
	int from, to;
	if (!s || store_migrate(s, &from, &to, &e) < 0)
		die("store", e.msg);
	static const char *const contacts[][4] = {
	    {"c1", "liwei@example.cn", "+8613800138001", "zh"},
	    {"c2", "emma@example.co.uk", "+447700900123", "en"},
	};
	for (size_t i = 0; i < 2; i++) {
		struct contact c;
		memset(&c, 0, sizeof(c));
		c.id = (char *)contacts[i][0];
		c.email = (char *)contacts[i][1];
		c.phone = (char *)contacts[i][2];
		c.locale = (char *)contacts[i][3];
		c.do_not_contact = -1;
		for (int k = 0; k < CHANNEL_NKINDS; k++)
			c.unsub[k] = -1;
		if (store_contact_upsert(s, &c, T0, &e) < 0)
			die("contact", e.msg);
	}
	seed_send(s, "c1", "r1", "sms", "+8613800138001", NULL, "1.json");
	seed_send(s, "c1", "r2", "email", "liwei@example.cn", "<outreach.2.a@example.com>",
		  "2.eml");
	seed_send(s, "c2", "r3", "email", "emma@example.co.uk", "<outreach.3.b@example.com>",
		  "3.eml");
	store_close(s);
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "INSERT INTO links (send_id, idx, url) VALUES (2, 1, '" LINK_URL "')",
			 NULL, NULL, NULL) != SQLITE_OK)
		die("links", sqlite3_errmsg(db));
	sqlite3_close(db);
	int usage;
	srv = httpd_create(cfg, &usage, &e);
	if (!srv)
		die("httpd_create", e.msg);
}

static void helpers(const char *text, size_t len)
{
	char kind, *p;
	int64_t id;
	int link, score;
	struct err e = {{0}};
	if (track_verify(SECRET, text, &kind, &id, &link) == 0) {
		char *again = track_token(SECRET, kind, id, link), k2;
		int64_t id2;
		int l2;
		if (track_verify(SECRET, again, &k2, &id2, &l2) < 0 || k2 != kind || id2 != id ||
		    l2 != link)
			abort();
		free(again);
	}
	(void)feedback_is_stop(text);
	(void)feedback_machine_ua(text);
	(void)feedback_url_ok(text);
	(void)feedback_receipt_class(text);
	free(feedback_norm_phone(text));
	free(feedback_norm_email(text));
	if (feedback_survey_check(text, text, SURVEY_NPS, &score, &e) == 0 &&
	    (score < 0 || score > 10))
		abort();
	if (feedback_survey_check(text, text, SURVEY_CSAT, &score, &e) == 0 &&
	    (score < 1 || score > 5))
		abort();
	if (httpd_form_get(text, len, "score", &p) == 0)
		free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "POST", "HEAD", "PUT"};
	static const char *const routes[] = {"/o/",	 "/c/",		 "/u/",
					     "/s/",	 "/inbound/sms", "/inbound/email",
					     "/dlr/sms", "/api/events",	 "/api/contacts",
					     "/healthz", "/metrics",	 ""};
	static const char *const ctypes[] = {NULL,
					     "application/json",
					     "application/x-www-form-urlencoded",
					     "multipart/form-data; boundary=x",
					     "text/plain",
					     "application/problem+json; charset=utf-8",
					     "",
					     "APPLICATION/X-WWW-FORM-URLENCODED"};
	static const char *const auths[] = {NULL, "Bearer " API, "Bearer wrong", "bearer  " API};
	if (!srv)
		init();
	if (size < 3)
		return 0;
	uint8_t a = data[0], b = data[1], c = data[2];
	const char *method = methods[a & 3];
	size_t r = (size_t)((a >> 2) & 15) % (sizeof(routes) / sizeof(routes[0]));
	const char *route = routes[r];
	int tracked = r < 4, valid = (a >> 6) & 1;
	const char *ctype = ctypes[b & 7];
	const char *auth = auths[(b >> 3) & 3];

	/* "PATH-OR-TOKEN\nBODY" */
	const char *rest = (const char *)data + 3;
	size_t n = size - 3;
	const char *nl = memchr(rest, '\n', n);
	size_t plen = nl ? (size_t)(nl - rest) : n;
	char *head = xmalloc(plen + 1), *body = xmalloc(nl ? n - plen : 1);
	memcpy(head, rest, plen);
	head[plen] = '\0';
	size_t blen = nl ? n - plen - 1 : 0;
	memcpy(body, nl ? nl + 1 : "", blen);
	body[blen] = '\0';
	helpers(head, plen);
	helpers(body, blen);

	char *token = NULL, *path;
	if (tracked && valid) {
		token = track_token(SECRET, route[1], 1 + (c & 3), (c >> 2) & 3);
		path = xasprintf("%s%s", route, token);
	} else {
		path = xasprintf("%s%s", route, head);
	}
	struct httpd_req rq = {.method = method,
			       .path = path,
			       .content_type = ctype,
			       .authorization = auth,
			       .user_agent = head,
			       .accept_language = (c & 0x80) ? "zh-CN,zh;q=0.9" : NULL,
			       .body = body,
			       .len = blen,
			       .now = T0 + 3600 + (c & 0x40)};
	struct httpd_resp rs;
	httpd_handle(srv, &rq, &rs);
	if (rs.code < 100 || rs.code > 599)
		abort();
	if (rs.code >= 400 && rs.body.len == 0)
		abort(); /* every refusal says why */
	if (tracked && rs.code != 404 && rs.code != 405 && rs.code != 413) {
		char kind;
		int64_t id;
		int link;
		/* anything but a refusal needs a token that verifies */
		if (track_verify(SECRET, path + 3, &kind, &id, &link) < 0 || kind != route[1])
			abort();
	}
	if (rs.code == 302 && (!rs.location || strcmp(rs.location, LINK_URL) != 0))
		abort(); /* only to the stored link */
	httpd_resp_release(&rs);
	free(token);
	free(path);
	free(head);
	free(body);
	return 0;
}
