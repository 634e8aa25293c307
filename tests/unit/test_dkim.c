/* test_dkim.c - DKIM signing (rsa-sha256, relaxed/relaxed)
 *
 * The canonicalizations are table tests (RFC 6376's own examples among
 * them). Signatures are checked by an independent verifier: Debian's
 * python3-dkim, run as tests/e2e/dkim_verify.py with the public key given
 * in place of DNS, on messages built by mime_build (Chinese subject and
 * names) and on hand-made edge cases; each is also altered to show the
 * verifier can say no. Keys are made with the openssl command in a
 * temporary directory. Run from the project root.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "dkim.h"
#include "err.h"
#include "mime.h"
#include "xmalloc.h"

#define PY "/usr/bin/python3"
#define VERIFY "tests/e2e/dkim_verify.py"
#define NOW 1772328600

static char dir[64], key[128], pub[128];

static int run(const char *cmd)
{
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/outreach-dkim-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
	char *cmd = xasprintf(
	    "(cd %s && echo 'not a key' >notkey.pem && openssl genpkey -algorithm RSA -pkeyopt "
	    "rsa_keygen_bits:2048 -out key.pem && "
	    "openssl pkey -in key.pem -pubout -out pub.pem && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pkcs1.tmp && "
	    "openssl rsa -in pkcs1.tmp -traditional -out pkcs1.pem && "
	    "openssl pkey -in pkcs1.pem -pubout -out pkcs1.pub && "
	    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:768 -out small.pem && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes128 -pass pass:x "
	    "-out enc.pem) >/dev/null 2>&1",
	    dir);
	int rc = run(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf %s", dir);
	run(cmd);
	free(cmd);
	return 0;
}

/* ---- canonicalization tables ---- */

struct canon_case {
	const char *in, *want;
};

static void test_canon_header(void **state)
{
	(void)state;
	static const struct canon_case cases[] = {
	    /* RFC 6376 3.4.5 */
	    {"A: X\r\n", "a:X\r\n"},
	    {"B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n"},
	    {"Subject:  Hello   World  \r\n", "subject:Hello World\r\n"},
	    {"SUBJECT\t:\tx\r\n", "subject:x\r\n"},
	    {"Subject: a\r\n\tb\r\n  c\r\n", "subject:a b c\r\n"},
	    {"X-Empty:\r\n", "x-empty:\r\n"},
	    {"X-Empty:   \r\n", "x-empty:\r\n"},
	    {"X-Fold:\r\n value\r\n", "x-fold:value\r\n"},
	    {"To: bob@example.com", "to:bob@example.com\r\n"},
	    {"Subject: =?UTF-8?B?5oKo5aW9?=\r\n =?UTF-8?B?5LiW55WM?=\r\n",
	     "subject:=?UTF-8?B?5oKo5aW9?= =?UTF-8?B?5LiW55WM?=\r\n"},
	    {"DKIM-Signature: v=1; b=\r\n", "dkim-signature:v=1; b=\r\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct buf b = BUF_INIT;
		dkim_canon_header(cases[i].in, strlen(cases[i].in), &b);
		if (strcmp(buf_cstr(&b), cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, buf_cstr(&b),
				 cases[i].want);
		buf_release(&b);
	}
}

static void test_canon_body(void **state)
{
	(void)state;
	static const struct canon_case cases[] = {
	    {"", ""},
	    {"\r\n", ""},
	    {"\r\n\r\n\r\n", ""},
	    {" \t \r\n\r\n", ""},
	    {"abc", "abc\r\n"},
	    {"abc  \r\n", "abc\r\n"},
	    {"abc\t\r\n\r\n", "abc\r\n"},
	    /* RFC 6376 3.4.5 */
	    {" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"},
	    {"a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n"},
	    {"a \t\r\n \t \r\nb", "a\r\n\r\nb\r\n"},
	    {"\r\n\r\nlate start\r\n", "\r\n\r\nlate start\r\n"},
	    {"你好，  世界 \r\n", "你好， 世界\r\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct buf b = BUF_INIT;
		dkim_canon_body(cases[i].in, strlen(cases[i].in), &b);
		if (strcmp(buf_cstr(&b), cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, buf_cstr(&b),
				 cases[i].want);
		buf_release(&b);
	}
}

/* ---- signatures checked by python3-dkim ---- */

/* verify - 1 when python3-dkim accepts sig + msg with public key p; the
 * DNS name asked must be want (NULL: any) */
static int verify(const char *p, const struct buf *sig, const char *msg, size_t len,
		  const char *want)
{
	char *path = xasprintf("%s/msg.eml", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(sig->data, 1, sig->len, f);
	fwrite(msg, 1, len, f);
	fclose(f);
	char *cmd = xasprintf(PY " " VERIFY " %s %s %s >/dev/null 2>&1", p, path, want ? want : "");
	int rc = run(cmd);
	free(cmd);
	free(path);
	if (rc != 0 && rc != 1)
		fail_msg("dkim_verify.py failed to run (%d)", rc);
	return rc == 0;
}

static struct message chinese(void)
{
	static const struct header hs[] = {{"Reply-To", "客服 <care@example.com>"}};
	struct message m;
	memset(&m, 0, sizeof(m));
	m.send_id = 42;
	m.channel = CHANNEL_EMAIL;
	m.to = "wangfang@example.cn";
	m.to_name = "王芳";
	m.from = "Acme 客服 <care@example.com>";
	m.subject =
	    "王芳，感谢您的订单 A-2：我们已经收到 Your order is confirmed，会尽快为您安排发货";
	m.text = "王芳，您好：\n感谢您选择 Acme。\n行尾有三个空格   \n. 以点开头的一行\n\n\n";
	m.html = "<p>王芳，您好：</p>\n";
	m.message_id = "<outreach.42.abc@example.com>";
	m.unsubscribe_url = "http://127.0.0.1:8080/u/u42.0.abcdef";
	m.marketing = 1;
	m.headers = hs;
	m.nheaders = 1;
	return m;
}

/* tag - the value of tag name in the signature field, unfolded */
static char *tag(const struct buf *sig, const char *name)
{
	struct buf u = BUF_INIT;
	for (size_t i = 0; i < sig->len; i++)
		if (sig->data[i] != '\r' && sig->data[i] != '\n' && sig->data[i] != ' ' &&
		    sig->data[i] != '\t')
			buf_putc(&u, sig->data[i]);
	char *want = xasprintf(";%s=", name);
	const char *p = strstr(buf_cstr(&u), want);
	char *v = NULL;
	if (p) {
		p += strlen(want);
		v = xstrndup(p, strcspn(p, ";"));
	}
	free(want);
	buf_release(&u);
	return v;
}

static void test_sign_verify(void **state)
{
	(void)state;
	struct err e;
	struct dkim_signer *s = dkim_signer_create(key, "example.com", "s2026", NULL, &e);
	if (!s)
		fail_msg("%s", e.msg);
	struct message m = chinese();
	struct buf msg = BUF_INIT, sig = BUF_INIT;
	assert_int_equal(mime_build(&m, NOW, &msg, &e), 0);
	assert_int_equal(dkim_sign(s, msg.data, msg.len, NOW, &sig, &e), 0);

	/* the field: starts right, ends in CRLF, lines under 78 columns */
	assert_true(
	    strncmp(sig.data, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;", 53) == 0);
	assert_true(sig.len > 2 && strcmp(sig.data + sig.len - 2, "\r\n") == 0);
	size_t col = 0;
	for (size_t i = 0; i < sig.len; i++) {
		if (sig.data[i] == '\r' || sig.data[i] == '\n') {
			col = 0;
			continue;
		}
		if (++col > 76)
			fail_msg("a signature line passes 76 columns");
		if (i > 0 && sig.data[i - 1] == '\n' && sig.data[i] != ' ')
			fail_msg("a continuation line does not start with a space");
	}
	char *h = tag(&sig, "h"), *t = tag(&sig, "t"), *d = tag(&sig, "d");
	assert_string_equal(h, "from:to:subject:date:message-id:mime-version:content-type:"
			       "list-unsubscribe:list-unsubscribe-post:reply-to");
	assert_string_equal(t, "1772328600");
	assert_string_equal(d, "example.com");
	free(h);
	free(t);
	free(d);

	assert_true(verify(pub, &sig, msg.data, msg.len, "s2026._domainkey.example.com"));
	/* a wrong selector finds no key */
	assert_false(verify(pub, &sig, msg.data, msg.len, "s2025._domainkey.example.com"));

	/* one body byte changed */
	char *bad = xstrndup(msg.data, msg.len);
	char *body = strstr(bad, "\r\n\r\n") + 4;
	body[3] ^= 1;
	assert_false(verify(pub, &sig, bad, msg.len, NULL));
	free(bad);
	/* a signed header changed */
	bad = xstrndup(msg.data, msg.len);
	char *subj = strstr(bad, "Subject: =?UTF-8?B?") + 19;
	*subj = *subj == 'A' ? 'B' : 'A';
	assert_false(verify(pub, &sig, bad, msg.len, NULL));
	free(bad);
	/* whitespace changes relaxed canonicalization forgives */
	struct buf ws = BUF_INIT;
	const char *p = msg.data;
	const char *blank = strstr(p, "\r\n\r\n");
	buf_append(&ws, p, (size_t)(blank - p));
	buf_puts(&ws, "\r\nX-Added: not signed\r\n\r\n");
	for (const char *q = blank + 4; q < msg.data + msg.len; q++) {
		if (*q == '\r' && q[1] == '\n')
			buf_puts(&ws, " \t"); /* trailing whitespace on every line */
		buf_putc(&ws, *q);
	}
	buf_puts(&ws, "\r\n\r\n"); /* and empty lines at the end */
	assert_true(verify(pub, &sig, ws.data, ws.len, NULL));
	buf_release(&ws);

	buf_release(&msg);
	buf_release(&sig);
	dkim_signer_free(s);
}

static void test_edge_messages(void **state)
{
	(void)state;
	struct err e;
	char *pk1 = xasprintf("%s/pkcs1.pem", dir), *pk1pub = xasprintf("%s/pkcs1.pub", dir);
	/* a PKCS#1 ("BEGIN RSA PRIVATE KEY") key and a list with repeats: the
	 * later X is signed first, the third x names no field (oversigning) */
	struct dkim_signer *s =
	    dkim_signer_create(pk1, "mail.example.org", "sel-1", "From : X:x:x:subject", &e);
	if (!s)
		fail_msg("%s", e.msg);
	static const struct {
		const char *msg;
		const char *h;
	} cases[] = {
	    {"From: a@example.org\r\nX: 1\r\nX: 2\r\nSubject: t\r\n\r\nbody\r\n",
	     "from:x:x:subject"},
	    {"From: a@example.org\r\n\r\n", "from"},	     /* empty body */
	    {"From: a@example.org\r\n\r\n\r\n\r\n", "from"}, /* only empty lines */
	    {"From:\r\n a@example.org\r\nSubject: folded\r\n  twice\r\n\r\nx", "from:subject"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct buf sig = BUF_INIT;
		size_t len = strlen(cases[i].msg);
		if (dkim_sign(s, cases[i].msg, len, NOW, &sig, &e) < 0)
			fail_msg("case %zu: %s", i, e.msg);
		char *h = tag(&sig, "h");
		if (strcmp(h, cases[i].h) != 0)
			fail_msg("case %zu: h=%s, want %s", i, h, cases[i].h);
		free(h);
		if (!verify(pk1pub, &sig, cases[i].msg, len, "sel-1._domainkey.mail.example.org"))
			fail_msg("case %zu does not verify", i);
		buf_release(&sig);
	}
	/* the first X (signed second) changed */
	struct buf sig = BUF_INIT;
	const char *m0 = cases[0].msg;
	assert_int_equal(dkim_sign(s, m0, strlen(m0), NOW, &sig, &e), 0);
	char *bad = xstrdup(m0);
	strstr(bad, "X: 1")[3] = '3';
	assert_false(verify(pk1pub, &sig, bad, strlen(bad), NULL));
	free(bad);
	buf_release(&sig);

	/* nothing to sign without a From field */
	assert_int_equal(dkim_sign(s, "Subject: x\r\n\r\nbody\r\n", 20, NOW, &sig, &e), -1);
	assert_string_equal(e.msg, "dkim: the message has no From field to sign");
	assert_int_equal(dkim_sign(s, " no header\r\n\r\n", 15, NOW, &sig, &e), -1);
	dkim_signer_free(s);
	free(pk1);
	free(pk1pub);
}

static void test_signer_errors(void **state)
{
	(void)state;
	char *ec = xasprintf("%s/ec.pem", dir), *small = xasprintf("%s/small.pem", dir),
	     *enc = xasprintf("%s/enc.pem", dir), *notkey = xasprintf("%s/notkey.pem", dir);
	struct err e;
	struct {
		const char *file, *domain, *selector, *headers;
		char *want;
	} cases[] = {
	    {"/nonexistent.pem", "example.com", "s1", NULL,
	     xstrdup("dkim key_file \"/nonexistent.pem\": cannot open")},
	    {notkey, "example.com", "s1", NULL,
	     xasprintf("dkim key_file \"%s\": not a PEM private key without a passphrase", notkey)},
	    {enc, "example.com", "s1", NULL,
	     xasprintf("dkim key_file \"%s\": not a PEM private key without a passphrase", enc)},
	    {ec, "example.com", "s1", NULL,
	     xasprintf("dkim key_file \"%s\": not an RSA key (rsa-sha256 needs one)", ec)},
	    {small, "example.com", "s1", NULL,
	     xasprintf("dkim key_file \"%s\": RSA key of 768 bits, at least 1024 needed", small)},
	    {key, "exa mple.com", "s1", NULL,
	     xstrdup("dkim domain \"exa mple.com\" is not a domain name")},
	    {key, "example.com", "s;1", NULL,
	     xstrdup("dkim selector \"s;1\" is not a valid selector")},
	    {key, "example.com", "s1", "to:subject",
	     xstrdup("dkim headers must include from (RFC 6376 section 5.4)")},
	    {key, "example.com", "s1", "from::to",
	     xstrdup("dkim headers: \"from::to\" is not a colon-separated list of field names")},
	    {key, "example.com", "s1", "from:dkim-signature",
	     xstrdup("dkim headers: a signature cannot sign dkim-signature")},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct dkim_signer *s = dkim_signer_create(cases[i].file, cases[i].domain,
							   cases[i].selector, cases[i].headers, &e);
		if (s)
			fail_msg("case %zu: created", i);
		if (strcmp(e.msg, cases[i].want) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, e.msg, cases[i].want);
		free(cases[i].want);
	}
	/* no key: the rest is checked, and the signer cannot sign */
	struct dkim_signer *s = dkim_signer_create(NULL, "example.com", "s1", "from:to", &e);
	assert_non_null(s);
	struct buf sig = BUF_INIT;
	assert_int_equal(dkim_sign(s, "From: a@b.c\r\n\r\n", 15, NOW, &sig, &e), -1);
	assert_string_equal(e.msg, "dkim: the signer was created without a key");
	dkim_signer_free(s);
	assert_null(dkim_signer_create(NULL, "example.com", "s1", "to", &e));
	free(notkey);
	free(ec);
	free(small);
	free(enc);
}

/* ---- one signer, several threads ---- */

struct job {
	const struct dkim_signer *s;
	const struct buf *msg;
	const struct buf *want;
	int bad;
};

static void *signer_thread(void *arg)
{
	struct job *j = arg;
	for (int i = 0; i < 40; i++) {
		struct buf sig = BUF_INIT;
		struct err e;
		if (dkim_sign(j->s, j->msg->data, j->msg->len, NOW, &sig, &e) < 0 ||
		    sig.len != j->want->len || memcmp(sig.data, j->want->data, sig.len) != 0)
			j->bad++;
		buf_release(&sig);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct err e;
	struct dkim_signer *s = dkim_signer_create(key, "example.com", "s2026", NULL, &e);
	assert_non_null(s);
	struct message m = chinese();
	struct buf msg = BUF_INIT, want = BUF_INIT;
	assert_int_equal(mime_build(&m, NOW, &msg, &e), 0);
	/* RSASSA-PKCS1-v1_5 is deterministic: every thread must get these bytes */
	assert_int_equal(dkim_sign(s, msg.data, msg.len, NOW, &want, &e), 0);
	pthread_t th[4];
	struct job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct job){s, &msg, &want, 0};
		assert_int_equal(pthread_create(&th[i], NULL, signer_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].bad, 0);
	}
	buf_release(&msg);
	buf_release(&want);
	dkim_signer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_canon_header),  cmocka_unit_test(test_canon_body),
	    cmocka_unit_test(test_sign_verify),	  cmocka_unit_test(test_edge_messages),
	    cmocka_unit_test(test_signer_errors), cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
