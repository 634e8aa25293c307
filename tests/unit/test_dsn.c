/* test_dsn.c - bounce and complaint reports (dsn.h): the samples under
 * tests/data/dsn/ (Postfix, Exim with CRLF, Gmail with nested parts and a
 * folded diagnostic, a delayed 4.x.x warning, an expired 4.x.x failure, an
 * ARF complaint from a feedback loop, an out-of-office reply, a Chinese
 * bounce with base64 parts and a message/global original) with every field
 * expected; then built messages for the edges (no boundary, no
 * recipients, success notices, not-spam, redacted recipients, depth), the
 * report id, RFC 5322 dates, and mbox splitting. Run from the project root.
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
#include "dsn.h"
#include "xmalloc.h"

#define DIR "tests/data/dsn/"

struct sample {
	const char *file;
	enum dsn_kind kind;
	const char *message_id, *verp, *address, *action, *status, *diagnostic, *feedback;
	int64_t date;
	const char *why; /* DSN_NONE: the start of why */
};

static const struct sample samples[] = {
    {"postfix.eml", DSN_HARD, "<outreach.12.3f2a9c81d0e4@example.com>",
     "b12.0.0123456789abcdef0123", "WangFang@example.cn", "failed", "5.1.1",
     "smtp; 550 5.1.1 <wangfang@example.cn>: Recipient address rejected: User unknown in "
     "virtual mailbox table",
     NULL, 1772361062, NULL},
    {"exim.eml", DSN_HARD, "<outreach.13.77aa00bb11cc@example.com>", NULL, "emma@example.co.uk",
     "failed", "5.0.0", "smtp; 550 5.1.1 <emma@example.co.uk>: Recipient address rejected", NULL,
     1772442911, NULL},
    {"gmail.eml", DSN_HARD, "<outreach.14.5be0c1d2e3f4@example.com>",
     "b14.0.aaaabbbbccccddddeeee", "nobody.here@gmail.com", "failed", "5.1.1",
     "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try "
     "550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 "
     "unnecessary spaces. For more information, go to 550 5.1.1 "
     "https://support.google.com/mail/?p=NoSuchUser a1si123.45 - gsmtp",
     NULL, 1772528523, NULL},
    {"soft_delayed.eml", DSN_SOFT, "<outreach.15.0c0c0c0c0c0c@example.com>",
     "b15.0.1111222233334444aaaa", "liwei@example.cn", "delayed", "4.4.1",
     "X-Postfix; connect to mx.example.cn[192.0.2.26]:25: Connection timed out", NULL,
     1772604000, NULL},
    {"soft_expired.eml", DSN_SOFT, NULL, NULL, "Emma@Example.co.uk", "failed", "4.4.7",
     "X-Exim; retry timeout exceeded", NULL, 1772701200, NULL},
    {"arf.eml", DSN_COMPLAINT, "<outreach.16.9f9f9f9f9f9f@example.com>",
     "b16.0.abcdefabcdefabcdef01", "wangfang@example.cn", NULL, "", NULL, "abuse", 1772853000,
     NULL},
    {"chinese.eml", DSN_HARD, "<outreach.17.1a2b3c4d5e6f@example.com>",
     "b17.0.99998888777766665555", "zhangmin@example.cn", "failed", "5.1.1",
     "smtp; 550 5.1.1 用户不存在 (user not found)", NULL, 1772935201, NULL},
    {"not_report.eml", DSN_NONE, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0,
     "no message/delivery-status or message/feedback-report part"},
};

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (run from the project root)", path);
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t k;
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, k);
	fclose(f);
	*n = b.len;
	return buf_detach(&b);
}

static void str_eq(const char *what, const char *file, const char *got, const char *want)
{
	if (!want && !got)
		return;
	if (!want || !got || strcmp(got, want) != 0)
		fail_msg("%s: %s\n got: %s\nwant: %s", file, what, got ? got : "(null)",
			 want ? want : "(null)");
}

static void test_samples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *s = &samples[i];
		char path[256];
		size_t n;
		snprintf(path, sizeof(path), DIR "%s", s->file);
		char *msg = slurp(path, &n);
		struct dsn d;
		dsn_parse(msg, n, &d);
		if (d.kind != s->kind)
			fail_msg("%s: kind %s, want %s (%s)", s->file, dsn_kind_name(d.kind),
				 dsn_kind_name(s->kind), d.why);
		if (s->kind == DSN_NONE) {
			if (strncmp(d.why, s->why, strlen(s->why)) != 0)
				fail_msg("%s: why \"%s\"", s->file, d.why);
			assert_int_equal(d.nrcpts, 0);
		} else {
			str_eq("message_id", s->file, d.message_id, s->message_id);
			str_eq("verp", s->file, d.verp, s->verp);
			str_eq("feedback_type", s->file, d.feedback_type, s->feedback);
			if (d.date != s->date)
				fail_msg("%s: date %lld, want %lld", s->file, (long long)d.date,
					 (long long)s->date);
			if (d.nrcpts != 1)
				fail_msg("%s: %zu recipients, want 1", s->file, d.nrcpts);
			assert_int_equal(d.rcpts[0].kind, s->kind);
			str_eq("address", s->file, d.rcpts[0].address, s->address);
			str_eq("action", s->file, d.rcpts[0].action, s->action);
			str_eq("status", s->file, d.rcpts[0].status, s->status);
			str_eq("diagnostic", s->file, d.rcpts[0].diagnostic, s->diagnostic);
		}
		assert_int_equal(strlen(d.id), 32);
		/* the same bytes give the same id */
		struct dsn again;
		dsn_parse(msg, n, &again);
		assert_string_equal(d.id, again.id);
		dsn_release(&again);
		dsn_release(&d);
		free(msg);
	}
}

/* parse - a built message (LF) */
static void parse(const char *msg, struct dsn *d)
{
	dsn_parse(msg, strlen(msg), d);
}

#define REPORT_HEAD                                                                                \
	"From: MAILER-DAEMON@mx.example.org\n"                                                     \
	"To: care@example.com\n"                                                                   \
	"Subject: report\n"                                                                        \
	"MIME-Version: 1.0\n"                                                                      \
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"

static void test_edges(void **state)
{
	(void)state;
	struct dsn d;

	parse("", &d);
	assert_int_equal(d.kind, DSN_NONE);
	assert_string_equal(d.why, "no header fields");
	dsn_release(&d);

	/* found by fuzzing: an empty field continued by an empty line of blanks */
	parse("Subject:\n \nTo:\n\t\n \n\nbody\n", &d);
	assert_int_equal(d.kind, DSN_NONE);
	dsn_release(&d);

	parse("just some text\nwithout a colon\n", &d);
	assert_int_equal(d.kind, DSN_NONE);
	dsn_release(&d);

	/* a multipart/report that lost its boundary parameter */
	parse("Content-Type: multipart/report; report-type=delivery-status\n\n--B\n"
	      "Content-Type: message/delivery-status\n\nAction: failed\nStatus: 5.1.1\n--B--\n",
	      &d);
	assert_int_equal(d.kind, DSN_NONE);
	assert_non_null(strstr(d.why, "multipart/report (report-type delivery-status)"));
	dsn_release(&d);

	/* no recipient groups */
	parse(REPORT_HEAD "--B\nContent-Type: message/delivery-status\n\n"
			  "Reporting-MTA: dns; mx.example.org\n\n--B--\n",
	      &d);
	assert_int_equal(d.kind, DSN_NONE);
	assert_string_equal(d.why, "a delivery status notification without recipients");
	dsn_release(&d);

	/* a success notice, and several recipients: one hard wins over soft */
	parse(REPORT_HEAD "--B\nContent-Type: message/delivery-status\n\n"
			  "Reporting-MTA: dns; mx\nOriginal-Envelope-Id: outreach.9.ab@example.com\n\n"
			  "Final-Recipient: rfc822; a@example.com\nAction: delivered\nStatus: 2.0.0\n\n"
			  "Final-Recipient: rfc822; b@example.com\nAction: Failed (permanent)\n"
			  "Status: 4.2.2 (mailbox full)\n\n"
			  "Final-Recipient: rfc822; <c@example.com>\nAction: failed\n"
			  "Diagnostic-Code: smtp;550 no such user\n\n"
			  "Original-Recipient: rfc822; d@example.com\nStatus: 5.7.1\n"
			  "--B--\n",
	      &d);
	assert_int_equal(d.kind, DSN_HARD);
	assert_int_equal(d.nrcpts, 4);
	assert_int_equal(d.rcpts[0].kind, DSN_OTHER);
	assert_int_equal(d.rcpts[1].kind, DSN_SOFT);
	assert_string_equal(d.rcpts[1].action, "failed");
	assert_string_equal(d.rcpts[1].status, "4.2.2");
	assert_int_equal(d.rcpts[2].kind, DSN_HARD); /* no Status: the SMTP reply says 5 */
	assert_string_equal(d.rcpts[2].address, "c@example.com");
	assert_string_equal(d.rcpts[2].status, "");
	assert_int_equal(d.rcpts[3].kind, DSN_HARD); /* no Action: by Status */
	assert_string_equal(d.rcpts[3].address, "d@example.com");
	/* no original part: the envelope id stands for the Message-ID */
	assert_string_equal(d.envelope_id, "outreach.9.ab@example.com");
	assert_string_equal(d.message_id, "<outreach.9.ab@example.com>");
	assert_null(d.verp);
	assert_int_equal(d.date, 0);
	dsn_release(&d);

	parse(REPORT_HEAD "--B\nContent-Type: message/delivery-status\n\n"
			  "Final-Recipient: rfc822; a@example.com\nAction: relayed\nStatus: 2.0.0\n"
			  "--B--\n",
	      &d);
	assert_int_equal(d.kind, DSN_OTHER);
	dsn_release(&d);

	/* ARF: not-spam is no complaint; a redacted recipient comes from the
	 * original's To; quoted-printable report part; no closing delimiter */
	parse("Content-Type: multipart/report; report-type=feedback-report; boundary=F\n\n"
	      "--F\nContent-Type: message/feedback-report\nContent-Transfer-Encoding: "
	      "quoted-printable\n\nFeedback-Type: not-spam\nOriginal-Rcpt-To: x@exa=\nmple.com\n\n"
	      "--F\nContent-Type: text/rfc822-headers\n\nTo: x@example.com\n",
	      &d);
	assert_int_equal(d.kind, DSN_OTHER);
	assert_string_equal(d.feedback_type, "not-spam");
	assert_int_equal(d.nrcpts, 1);
	assert_string_equal(d.rcpts[0].address, "x@example.com");
	dsn_release(&d);

	parse("Content-Type: multipart/report; report-type=feedback-report; boundary=F\n\n"
	      "--F\nContent-Type: message/feedback-report\n\nFeedback-Type: Abuse\n"
	      "Original-Mail-From: <bounces+b99.0.0123456789abcdef0123@example.com>\n\n"
	      "--F\nContent-Type: message/rfc822\n\nTo: Zhang <redacted@example.cn>\n"
	      "Message-ID: outreach.99.x@example.com\n\nbody\n--F--\n",
	      &d);
	assert_int_equal(d.kind, DSN_COMPLAINT);
	assert_string_equal(d.feedback_type, "abuse");
	assert_string_equal(d.rcpts[0].address, "redacted@example.cn");
	assert_string_equal(d.message_id, "<outreach.99.x@example.com>");
	assert_string_equal(d.verp, "b99.0.0123456789abcdef0123");
	dsn_release(&d);

	/* an empty Feedback-Type (found by fuzzing: it crashed) */
	parse("Content-Type: multipart/report; report-type=feedback-report; boundary=F\n\n"
	      "--F\nContent-Type: message/feedback-report\n\nFeedback-Type: \n"
	      "Original-Rcpt-To: a@example.com\n--F--\n",
	      &d);
	assert_int_equal(d.kind, DSN_COMPLAINT);
	assert_string_equal(d.feedback_type, "abuse");
	dsn_release(&d);

	/* found by fuzzing: an Action that is only a comment, bytes that are
	 * no UTF-8 in a diagnostic (they go into JSON), a long one cut
	 * between characters */
	struct buf lb = BUF_INIT;
	buf_puts(&lb, REPORT_HEAD "--B\nContent-Type: message/delivery-status\n\n"
			     "Final-Recipient: rfc822; a@example.com\nAction: (none)\nStatus: 5.1.1\n"
			     "Diagnostic-Code: smtp; 550 \xff\xfe bad \xe4\xb8 ");
	for (int i = 0; i < 200; i++)
		buf_puts(&lb, "中");
	buf_puts(&lb, "\n--B--\n");
	parse(lb.data, &d);
	buf_release(&lb);
	assert_int_equal(d.kind, DSN_HARD);
	assert_null(d.rcpts[0].action);
	assert_true(strlen(d.rcpts[0].diagnostic) <= 300);
	assert_int_equal(strncmp(d.rcpts[0].diagnostic,
				 "smtp; 550 \xEF\xBF\xBD\xEF\xBF\xBD bad \xEF\xBF\xBD\xEF\xBF\xBD 中中", 34),
			 0);
	assert_int_equal((strlen(d.rcpts[0].diagnostic) - 28) % 3, 0); /* whole characters */
	dsn_release(&d);

	/* a token must stand alone and be whole */
	parse(REPORT_HEAD "--B\nContent-Type: message/delivery-status\n\n"
			  "Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n"
			  "X-Note: ab1.0.0123456789abcdef0123 b2.0.0123456789abcdef012 "
			  "b3.0.0123456789abcdef01234\n--B--\n",
	      &d);
	assert_int_equal(d.kind, DSN_HARD);
	assert_null(d.verp);
	dsn_release(&d);

	/* nesting deeper than the parser goes: bounded, not a report */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 50; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
	buf_puts(&b, "Content-Type: message/delivery-status\n\nAction: failed\nStatus: 5.1.1\n");
	dsn_parse(b.data, b.len, &d);
	assert_int_equal(d.kind, DSN_NONE);
	dsn_release(&d);
	buf_release(&b);

	/* a NUL in the middle does not cut the message */
	static const char with_nul[] = REPORT_HEAD "--B\nContent-Type: text/plain\n\na\0b\n"
						   "--B\nContent-Type: message/delivery-status\n\n"
						   "Final-Recipient: rfc822; a@example.com\n"
						   "Action: failed\nStatus: 5.1.1\n--B--\n";
	dsn_parse(with_nul, sizeof(with_nul) - 1, &d);
	assert_int_equal(d.kind, DSN_HARD);
	dsn_release(&d);
}

static void test_ids(void **state)
{
	(void)state;
	struct dsn a, b, c;
	/* the id follows the report's own Message-ID when it has one */
	parse("Message-ID: <r1@x>\nSubject: one\n\nbody\n", &a);
	parse("Message-ID: <r1@x>\nSubject: one, received again\n\nbody\n", &b);
	parse("Message-ID: <r2@x>\nSubject: one\n\nbody\n", &c);
	assert_string_equal(a.id, b.id);
	assert_string_not_equal(a.id, c.id);
	dsn_release(&a);
	dsn_release(&b);
	dsn_release(&c);
	/* else its bytes */
	parse("Subject: one\n\nbody\n", &a);
	parse("Subject: one\n\nbody!\n", &b);
	assert_string_not_equal(a.id, b.id);
	dsn_release(&a);
	dsn_release(&b);
}

static void test_dates(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int64_t t;
	} rows[] = {
	    {"Sun,  1 Mar 2026 18:31:02 +0800 (CST)", 1772361062},
	    {"1 Mar 2026 10:31:02 GMT", 1772361062},
	    {"Sun, 01 Mar 26 10:31 +0000", 1772361060},
	    {"Sun, 1 Mar 2026 05:31:02 EST", 1772361062},
	    {"sun, 1 mar 2026 10:31:02 z", 1772361062},
	    {"Sun, 1 Mar 2026 10:31:02 -0000", 1772361062},
	    {"Sun, 1 Mar 2026 10:31:02 XYZ", 1772361062},
	    {"(comment) Sun, 1 Mar 2026 10:31:02 +0000", 1772361062},
	    {"Thu, 29 Feb 2024 23:59:60 +0000", 1709251200},
	    {"Mon, 1 Jan 1990 00:00:00 +0000", 631152000},
	    {"", -1},
	    {"yesterday", -1},
	    {"Sun, 32 Mar 2026 10:31:02 +0000", -1},
	    {"Sun, 1 Foo 2026 10:31:02 +0000", -1},
	    {"Sun, 1 Mar 2026 25:31:02 +0000", -1},
	    {"Sun, 1 Mar 2026 10:31:02 +08", -1},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (dsn_date(rows[i].s) != rows[i].t)
			fail_msg("dsn_date(\"%s\") = %lld, want %lld", rows[i].s,
				 (long long)dsn_date(rows[i].s), (long long)rows[i].t);
	assert_int_equal(dsn_date(NULL), -1);
}

struct got {
	int n;
	int lines[8];
	char *msgs[8];
};

static void collect(void *ud, const char *msg, size_t n, int line)
{
	struct got *g = ud;
	if (g->n < 8) {
		g->lines[g->n] = line;
		g->msgs[g->n] = xstrndup(msg, n);
	}
	g->n++;
}

static void test_mbox(void **state)
{
	(void)state;
	static const char mbox[] = "From MAILER-DAEMON Sun Mar  1 10:31:02 2026\n"
				   "Subject: one\n"
				   "\n"
				   "body\n"
				   ">From the start\n"
				   ">>From twice\n"
				   "From inside a paragraph is not a separator\n"
				   "\n"
				   "From MAILER-DAEMON Mon Mar  2 09:15:11 2026\n"
				   "Subject: two\n"
				   "\n"
				   "x\n";
	struct got g = {0};
	assert_int_equal(dsn_mbox_each(mbox, sizeof(mbox) - 1, collect, &g), 2);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.lines[0], 1);
	assert_int_equal(g.lines[1], 9);
	assert_string_equal(g.msgs[0], "Subject: one\n\nbody\nFrom the start\n>From twice\n"
				       "From inside a paragraph is not a separator\n");
	assert_string_equal(g.msgs[1], "Subject: two\n\nx\n");
	for (int i = 0; i < g.n; i++)
		free(g.msgs[i]);

	/* the samples in one mbox: each parses as from its own file */
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char path[256];
		size_t n;
		snprintf(path, sizeof(path), DIR "%s", samples[i].file);
		char *msg = slurp(path, &n);
		buf_printf(&b, "From x@example.com Sun Mar  1 10:00:00 2026\n");
		buf_append(&b, msg, n);
		buf_puts(&b, "\n");
		free(msg);
	}
	memset(&g, 0, sizeof(g));
	assert_int_equal(dsn_mbox_each(b.data, b.len, collect, &g),
			 (int)(sizeof(samples) / sizeof(samples[0])));
	for (int i = 0; i < g.n && i < 8; i++) {
		struct dsn d;
		parse(g.msgs[i], &d);
		if (d.kind != samples[i].kind)
			fail_msg("mbox message %d (%s): kind %s", i + 1, samples[i].file,
				 dsn_kind_name(d.kind));
		dsn_release(&d);
		free(g.msgs[i]);
	}
	buf_release(&b);
	assert_int_equal(dsn_mbox_each("", 0, collect, &g), 0);
	assert_int_equal(dsn_mbox_each("no From_ line\n", 14, collect, &g), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_samples), cmocka_unit_test(test_edges),
	    cmocka_unit_test(test_ids),	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_mbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
