/* test_webhook.c - the webhook flavors: payloads, signatures, answers,
 * options
 *
 * Payloads are compared as JSON with the shape each service documents
 * (and byte for byte where the encoding matters); signatures against
 * values the openssl command line computes independently from the
 * documented recipe; answers as tables of (status, body) -> delivery.
 * No network: deliveries that reach one are the e2e cases' business
 * (tests/e2e/cases_webhook.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "http_client.h"
#include "transport.h"
#include "webhook.h"
#include "xmalloc.h"

#define NOW 1772359200 /* 2026-03-01T10:00:00Z */
#define TEXT "# 新品到店\n王芳您好，**VIP** 专享 `A-2` 订单 & <优惠>\n\n"
#define TRIMMED "# 新品到店\n王芳您好，**VIP** 专享 `A-2` 订单 & <优惠>"
/* TRIMMED as a JSON string's contents */
#define JTEXT "# 新品到店\\n王芳您好，**VIP** 专享 `A-2` 订单 & <优惠>"
#define SECRET "SECb6f0c1d2e3a4\nwith-a-newline"

/* ---- helpers ---- */

static struct webhook_input input(enum webhook_flavor f, int markdown)
{
	struct webhook_input in = {
	    .flavor = f,
	    .markdown = markdown,
	    .url = "https://hooks.example.com/x/T0/B0/tok3n?access_token=abc123",
	    .text = TEXT,
	    .chat_id = "-1001234567890",
	    .now = NOW,
	    .send_id = 42,
	    .campaign = "vip-alert",
	    .step = 2,
	};
	return in;
}

static void build_ok(const struct webhook_input *in, struct webhook_request *r)
{
	struct err e;
	err_clear(&e);
	if (webhook_build(in, r, &e) < 0)
		fail_msg("%s: %s", webhook_flavor_name(in->flavor), e.msg);
	assert_non_null(r->body);
	assert_int_equal(r->body_len, strlen(r->body));
}

static void build_fails(const struct webhook_input *in, const char *want)
{
	struct webhook_request r;
	struct err e;
	err_clear(&e);
	assert_int_equal(webhook_build(in, &r, &e), -1);
	if (!strstr(e.msg, want))
		fail_msg("%s: error \"%s\" lacks \"%s\"", webhook_flavor_name(in->flavor), e.msg,
			 want);
	assert_null(r.body);
	assert_null(r.url);
	assert_null(strstr(e.msg, "tok3n"));
	assert_null(strstr(e.msg, "abc123"));
}

static void json_same(const char *got, const char *want, const char *what)
{
	json_error_t je;
	json_t *g = json_loads(got, 0, &je);
	if (!g)
		fail_msg("%s: body is not JSON (%s): %s", what, je.text, got);
	json_t *w = json_loads(want, 0, &je);
	if (!w)
		fail_msg("%s: expected is not JSON (%s)", what, je.text);
	if (!json_equal(g, w))
		fail_msg("%s:\n got  %s\n want %s", what, got, want);
	json_decref(g);
	json_decref(w);
}

static const char *header(const struct webhook_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* openssl_hmac - HMAC-SHA256 by the openssl command line: key and message
 * are given as bytes (through a file and a hex key, so newlines survive);
 * out is base64 (b64 = 1) or lowercase hex */
static void openssl_hmac(const char *key, const char *msg, int b64, char *out, size_t n)
{
	char path[] = "/tmp/outreach-webhook-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg));
	close(fd);
	struct buf hex = BUF_INIT;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		buf_printf(&hex, "%02x", *p);
	char *cmd =
	    xasprintf("openssl dgst -sha256 -mac HMAC -macopt hexkey:%s %s %s %s", buf_cstr(&hex),
		      b64 ? "-binary" : "-r", path, b64 ? "| base64 -w0" : "| cut -d' ' -f1");
	FILE *fp = popen(cmd, "r");
	assert_non_null(fp);
	assert_non_null(fgets(out, (int)n, fp));
	pclose(fp);
	out[strcspn(out, "\r\n")] = '\0';
	unlink(path);
	free(cmd);
	buf_release(&hex);
	assert_true(strlen(out) > 40);
}

/* make_text - n copies of unit, caller frees */
static char *make_text(const char *unit, size_t n)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	for (size_t i = 0; i < n; i++)
		buf_puts(&b, unit);
	return buf_detach(&b);
}

/* ---- flavors and payloads ---- */

static void test_flavor_names(void **state)
{
	(void)state;
	const char *names[] = {"slack",	   "teams", "discord",	"feishu",
			       "dingtalk", "wecom", "telegram", "generic"};
	for (int i = 0; i < WEBHOOK_NFLAVORS; i++) {
		assert_int_equal(webhook_flavor_parse(names[i]), i);
		assert_string_equal(webhook_flavor_name((enum webhook_flavor)i), names[i]);
	}
	assert_int_equal(webhook_flavor_parse("Slack"), -1);
	assert_int_equal(webhook_flavor_parse("lark"), -1);
	assert_int_equal(webhook_flavor_parse(NULL), -1);
}

/* what each service documents, for TEXT, unsigned */
static const struct {
	enum webhook_flavor f;
	int markdown;
	const char *title;
	const char *body;
} payloads[] = {
    {WEBHOOK_SLACK, 1, NULL, "{\"text\":\"" JTEXT "\"}"},
    {WEBHOOK_SLACK, 0, NULL, "{\"text\":\"" JTEXT "\",\"mrkdwn\":false}"},
    {WEBHOOK_TEAMS, 1, NULL,
     "{\"type\":\"message\",\"attachments\":[{\"contentType\":"
     "\"application/vnd.microsoft.card.adaptive\",\"contentUrl\":null,\"content\":{"
     "\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\",\"type\":"
     "\"AdaptiveCard\",\"version\":\"1.2\",\"body\":[{\"type\":\"TextBlock\",\"text\":"
     "\"" JTEXT "\",\"wrap\":true}]}}]}"},
    {WEBHOOK_TEAMS, 1, "VIP 提醒",
     "{\"type\":\"message\",\"attachments\":[{\"contentType\":"
     "\"application/vnd.microsoft.card.adaptive\",\"contentUrl\":null,\"content\":{"
     "\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\",\"type\":"
     "\"AdaptiveCard\",\"version\":\"1.2\",\"body\":[{\"type\":\"TextBlock\",\"text\":"
     "\"VIP 提醒\",\"weight\":\"Bolder\",\"size\":\"Medium\",\"wrap\":true},{\"type\":"
     "\"TextBlock\",\"text\":\"" JTEXT "\","
     "\"wrap\":true}]}}]}"},
    {WEBHOOK_DISCORD, 1, NULL,
     "{\"content\":\"" JTEXT "\","
     "\"allowed_mentions\":{\"parse\":[]}}"},
    {WEBHOOK_FEISHU, 0, NULL,
     "{\"msg_type\":\"text\",\"content\":{\"text\":"
     "\"" JTEXT "\"}}"},
    {WEBHOOK_FEISHU, 1, NULL,
     "{\"msg_type\":\"interactive\",\"card\":{\"elements\":[{\"tag\":\"markdown\","
     "\"content\":\"" JTEXT "\"}]}}"},
    {WEBHOOK_FEISHU, 1, "VIP 提醒",
     "{\"msg_type\":\"interactive\",\"card\":{\"header\":{\"title\":{\"tag\":\"plain_text\","
     "\"content\":\"VIP 提醒\"}},\"elements\":[{\"tag\":\"markdown\","
     "\"content\":\"" JTEXT "\"}]}}"},
    {WEBHOOK_DINGTALK, 1, NULL,
     "{\"msgtype\":\"markdown\",\"markdown\":{\"title\":\"新品到店\",\"text\":"
     "\"" JTEXT "\"}}"},
    {WEBHOOK_DINGTALK, 1, "VIP 提醒",
     "{\"msgtype\":\"markdown\",\"markdown\":{\"title\":\"VIP 提醒\",\"text\":"
     "\"" JTEXT "\"}}"},
    {WEBHOOK_DINGTALK, 0, NULL,
     "{\"msgtype\":\"text\",\"text\":{\"content\":"
     "\"" JTEXT "\"}}"},
    {WEBHOOK_WECOM, 1, NULL,
     "{\"msgtype\":\"markdown\",\"markdown\":{\"content\":"
     "\"" JTEXT "\"}}"},
    {WEBHOOK_WECOM, 0, NULL,
     "{\"msgtype\":\"text\",\"text\":{\"content\":"
     "\"" JTEXT "\"}}"},
    {WEBHOOK_TELEGRAM, 1, NULL,
     "{\"chat_id\":-1001234567890,\"text\":\"<b>新品到店</b>\\n王芳您好，<b>VIP</b> 专享 "
     "<code>A-2</code> 订单 &amp; &lt;优惠&gt;\",\"parse_mode\":\"HTML\"}"},
    {WEBHOOK_TELEGRAM, 0, NULL,
     "{\"chat_id\":-1001234567890,\"text\":"
     "\"" JTEXT "\"}"},
    {WEBHOOK_GENERIC, 1, NULL,
     "{\"send_id\":42,\"campaign\":\"vip-alert\",\"step\":2,\"to\":null,\"text\":"
     "\"" JTEXT "\",\"format\":\"markdown\"}"},
    {WEBHOOK_GENERIC, 0, NULL,
     "{\"send_id\":42,\"campaign\":\"vip-alert\",\"step\":2,\"to\":null,\"text\":"
     "\"" JTEXT "\",\"format\":\"text\"}"},
};

static void test_payloads(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(payloads) / sizeof(*payloads); i++) {
		struct webhook_input in = input(payloads[i].f, payloads[i].markdown);
		in.title = payloads[i].title;
		struct webhook_request r;
		build_ok(&in, &r);
		char what[64];
		snprintf(what, sizeof(what), "%s %s%s", webhook_flavor_name(in.flavor),
			 in.markdown ? "markdown" : "text", in.title ? " titled" : "");
		json_same(r.body, payloads[i].body, what);
		/* raw UTF-8, compact: no \u escapes, no blanks between tokens */
		assert_non_null(strstr(r.body, "新品到店"));
		assert_null(strstr(r.body, "\\u"));
		assert_null(strstr(r.body, "\": "));
		assert_string_equal(header(&r, "Content-Type"), "application/json; charset=utf-8");
		assert_null(header(&r, "X-Outreach-Signature"));
		if (in.flavor == WEBHOOK_DISCORD)
			assert_string_equal(r.url, "https://hooks.example.com/x/T0/B0/tok3n?"
						   "access_token=abc123&wait=true");
		else
			assert_string_equal(r.url, in.url);
		webhook_request_release(&r);
		assert_null(r.body);
	}
}

static void test_payload_details(void **state)
{
	(void)state;
	struct webhook_request r;
	/* generic: a personal message names its address */
	struct webhook_input in = input(WEBHOOK_GENERIC, 1);
	in.to = "https://crm.example.com/hook/7";
	in.campaign = NULL;
	build_ok(&in, &r);
	json_same(r.body,
		  "{\"send_id\":42,\"campaign\":null,\"step\":2,\"to\":\"https://crm.example.com/"
		  "hook/7\","
		  "\"text\":\"" JTEXT "\",\"format\":\"markdown\"}",
		  "generic personal");
	webhook_request_release(&r);
	/* telegram: a channel by name stays a string */
	in = input(WEBHOOK_TELEGRAM, 0);
	in.chat_id = "@acme_vip";
	build_ok(&in, &r);
	json_same(r.body, "{\"chat_id\":\"@acme_vip\",\"text\":\"" JTEXT "\"}",
		  "telegram @channel");
	webhook_request_release(&r);
	in.chat_id = "12345";
	build_ok(&in, &r);
	assert_non_null(strstr(r.body, "\"chat_id\":12345,"));
	webhook_request_release(&r);
	/* discord: an explicit wait is left alone; a bare url gets ? */
	in = input(WEBHOOK_DISCORD, 1);
	in.url = "https://discord.example/api/webhooks/1/tok";
	build_ok(&in, &r);
	assert_string_equal(r.url, "https://discord.example/api/webhooks/1/tok?wait=true");
	webhook_request_release(&r);
	in.url = "https://discord.example/api/webhooks/1/tok?wait=false";
	build_ok(&in, &r);
	assert_string_equal(r.url, in.url);
	webhook_request_release(&r);
	/* a long title option is used whole, never cut inside a character */
	char *long_title = make_text("标题", 40); /* 240 bytes */
	in = input(WEBHOOK_DINGTALK, 1);
	in.title = long_title;
	build_ok(&in, &r);
	char *want = xasprintf(
	    "{\"msgtype\":\"markdown\",\"markdown\":{\"title\":\"%s\",\"text\":\"" JTEXT "\"}}",
	    long_title);
	json_same(r.body, want, "dingtalk long title");
	free(want);
	free(long_title);
	webhook_request_release(&r);
	/* a text with only blanks is no message */
	in = input(WEBHOOK_SLACK, 1);
	in.text = " \n\n";
	build_fails(&in, "empty message");
	in.text = NULL;
	build_fails(&in, "empty message");
}

static void test_build_errors(void **state)
{
	(void)state;
	struct webhook_input in;
	for (int f = 0; f < WEBHOOK_NFLAVORS; f++) {
		in = input((enum webhook_flavor)f, 1);
		in.text = "bad \xff\xfe utf-8";
		build_fails(&in, "not valid UTF-8");
		const char *bad_urls[] = {NULL,
					  "",
					  "ftp://hooks.example.com/x?access_token=abc123",
					  "https://",
					  "https:///path",
					  "http://host/a b?access_token=abc123",
					  "http://host/\r\nX-Injected: 1",
					  "javascript:alert(1)",
					  "hooks.example.com/tok3n"};
		for (size_t i = 0; i < sizeof(bad_urls) / sizeof(*bad_urls); i++) {
			in = input((enum webhook_flavor)f, 1);
			in.url = bad_urls[i];
			build_fails(&in, "invalid webhook url");
		}
	}
	const char *bad_ids[] = {
	    "", "12a", "--5", "@", "@bad-name", "@with space", "1 2", "99999999999999999999", NULL};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(*bad_ids); i++) {
		in = input(WEBHOOK_TELEGRAM, 1);
		in.chat_id = bad_ids[i];
		build_fails(&in, "invalid telegram chat id");
	}
	assert_int_equal(webhook_url_ok("http://127.0.0.1:8080/x"), 1);
	assert_int_equal(webhook_url_ok("https://oapi.dingtalk.com/robot/send?access_token=x"), 1);
	assert_int_equal(webhook_chat_id_ok("-1001234567890"), 1);
	assert_int_equal(webhook_chat_id_ok("@acme_vip"), 1);
}

static void test_lengths(void **state)
{
	(void)state;
	struct webhook_request r;
	struct webhook_input in = input(WEBHOOK_DISCORD, 1);
	/* discord counts UTF-16 units: 2000 Chinese characters fit ... */
	char *t = make_text("字", 2000);
	in.text = t;
	build_ok(&in, &r);
	webhook_request_release(&r);
	free(t);
	t = make_text("字", 2001);
	in.text = t;
	build_fails(&in, "too long: 2001 characters, discord takes 2000");
	free(t);
	/* ... an emoji outside the BMP is two */
	t = make_text("😀", 1001);
	in.text = t;
	build_fails(&in, "too long: 2002 characters");
	free(t);
	/* trailing blanks are not counted: they are not sent */
	t = make_text("a", 2000);
	char *t2 = xasprintf("%s\n\n  \n", t);
	in.text = t2;
	build_ok(&in, &r);
	webhook_request_release(&r);
	free(t2);
	free(t);

	/* wecom counts bytes: markdown 4096, text 2048 */
	in = input(WEBHOOK_WECOM, 1);
	t = make_text("ab", 2048);
	in.text = t;
	build_ok(&in, &r);
	webhook_request_release(&r);
	in.markdown = 0;
	build_fails(&in, "too long: 4096 bytes, wecom text takes 2048");
	free(t);
	t = make_text("字", 1366); /* 4098 bytes */
	in.text = t;
	in.markdown = 1;
	build_fails(&in, "too long: 4098 bytes, wecom markdown takes 4096");
	free(t);

	/* telegram counts what is shown: markup is not, &amp; is one */
	in = input(WEBHOOK_TELEGRAM, 1);
	t = make_text("&", 4096);
	in.text = t;
	build_ok(&in, &r); /* 4096 entities, 20480 bytes of HTML */
	assert_true(r.body_len > 20000);
	webhook_request_release(&r);
	free(t);
	t = make_text("**b**", 1024); /* 5120 characters, 1024 shown */
	in.text = t;
	build_ok(&in, &r);
	webhook_request_release(&r);
	in.markdown = 0;
	build_fails(&in, "too long: 5120 characters, telegram takes 4096");
	free(t);
}

static void test_telegram_html(void **state)
{
	(void)state;
	static const struct {
		const char *md, *html;
	} cases[] = {
	    {"plain", "plain"},
	    {"a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"},
	    {"# 标题\n正文", "<b>标题</b>\n正文"},
	    {"### h3 **x** <y>", "<b>h3 **x** &lt;y&gt;</b>"},
	    {"#hashtag", "#hashtag"},
	    {"####### seven", "####### seven"},
	    {"**粗体** and **more**", "<b>粗体</b> and <b>more</b>"},
	    {"**unclosed\nclosed**", "**unclosed\nclosed**"},
	    {"****", "****"},
	    {"`a<b>` `", "<code>a&lt;b&gt;</code> `"},
	    {"[链接](https://example.com/?a=1&b=\"2\")",
	     "<a href=\"https://example.com/?a=1&amp;b=&quot;2&quot;\">链接</a>"},
	    {"[js](javascript:alert(1))", "[js](javascript:alert(1))"},
	    {"[a]b](http://x)", "[a]b](http://x)"},
	    {"[t](http://x y)", "[t](http://x y)"},
	    {"<b>not a tag</b>", "&lt;b&gt;not a tag&lt;/b&gt;"},
	    {"line\n\nline", "line\n\nline"},
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *h = webhook_telegram_html(cases[i].md);
		if (strcmp(h, cases[i].html) != 0)
			fail_msg("telegram html of \"%s\":\n got  %s\n want %s", cases[i].md, h,
				 cases[i].html);
		free(h);
	}
}

static void test_title(void **state)
{
	(void)state;
	static const struct {
		const char *text, *title;
	} cases[] = {
	    {"# 新品到店\n正文", "新品到店"},
	    {"\n\n  ##   Hello  \t\nbody", "Hello"},
	    {"#\n#  \nsecond", "second"},
	    {"", "message"},
	    {"\n \n", "message"},
	    {"no heading", "no heading"},
	};
	char out[128];
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		webhook_title(cases[i].text, out, sizeof(out));
		assert_string_equal(out, cases[i].title);
	}
	/* cut at 100 bytes on a character boundary: 33 three-byte characters */
	char *t = make_text("字", 40);
	webhook_title(t, out, sizeof(out));
	assert_int_equal(strlen(out), 99);
	assert_int_equal(strncmp(out, t, 99), 0);
	free(t);
	webhook_title("abcdef", out, 4);
	assert_string_equal(out, "abc");
}

/* ---- signatures ---- */

static void test_feishu_sign(void **state)
{
	(void)state;
	struct webhook_input in = input(WEBHOOK_FEISHU, 0);
	in.secret = SECRET;
	struct webhook_request r;
	build_ok(&in, &r);
	/* documented: key = timestamp "\n" secret, message empty, base64 */
	char want[128], key[128];
	snprintf(key, sizeof(key), "%d\n%s", NOW, SECRET);
	openssl_hmac(key, "", 1, want, sizeof(want));
	char sign[45];
	webhook_feishu_sign(SECRET, NOW, sign);
	assert_string_equal(sign, want);
	char *body = xasprintf("{\"timestamp\":\"%d\",\"sign\":\"%s\",\"msg_type\":\"text\","
			       "\"content\":{\"text\":\"" JTEXT "\"}}",
			       NOW, want);
	json_same(r.body, body, "feishu signed");
	/* timestamp first, as a string of seconds */
	char head[64];
	snprintf(head, sizeof(head), "{\"timestamp\":\"%d\",\"sign\":\"", NOW);
	assert_int_equal(strncmp(r.body, head, strlen(head)), 0);
	free(body);
	webhook_request_release(&r);
	/* another second, another secret: another signature */
	char other[45];
	webhook_feishu_sign(SECRET, NOW + 1, other);
	assert_string_not_equal(other, sign);
	webhook_feishu_sign("SECother", NOW, other);
	assert_string_not_equal(other, sign);
	/* an empty secret signs nothing */
	in.secret = "";
	build_ok(&in, &r);
	assert_null(strstr(r.body, "\"sign\""));
	webhook_request_release(&r);
}

/* pct_decode - in place, %XX only */
static void pct_decode(char *s)
{
	char *w = s;
	for (char *p = s; *p; p++) {
		unsigned x;
		if (*p == '%' && sscanf(p + 1, "%2x", &x) == 1) {
			*w++ = (char)x;
			p += 2;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
}

static void test_dingtalk_sign(void **state)
{
	(void)state;
	/* a secret whose signature has + / or = shows the url encoding */
	const char *secrets[] = {SECRET, "SEC000", "this is secret", "SECa", "SECb", "SECc"};
	int saw_escape = 0;
	for (size_t i = 0; i < sizeof(secrets) / sizeof(*secrets); i++) {
		struct webhook_input in = input(WEBHOOK_DINGTALK, 1);
		in.url = "https://oapi.dingtalk.com/robot/send?access_token=abc123";
		in.secret = secrets[i];
		struct webhook_request r;
		build_ok(&in, &r);
		/* documented: key = secret, message = timestamp_ms "\n" secret */
		char msg[128], want[128];
		snprintf(msg, sizeof(msg), "%lld\n%s", (long long)NOW * 1000, secrets[i]);
		openssl_hmac(secrets[i], msg, 1, want, sizeof(want));
		char sign[45];
		webhook_dingtalk_sign(secrets[i], (int64_t)NOW * 1000, sign);
		assert_string_equal(sign, want);
		char prefix[128];
		snprintf(
		    prefix, sizeof(prefix),
		    "https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=%lld&sign=",
		    (long long)NOW * 1000);
		assert_int_equal(strncmp(r.url, prefix, strlen(prefix)), 0);
		char *enc = xstrdup(r.url + strlen(prefix));
		assert_null(strpbrk(enc, "+/=&"));
		if (strchr(enc, '%'))
			saw_escape = 1;
		pct_decode(enc);
		assert_string_equal(enc, want);
		free(enc);
		/* the body is unsigned */
		assert_null(strstr(r.body, "sign"));
		webhook_request_release(&r);
	}
	assert_true(saw_escape);
	/* a url without a query gets one */
	struct webhook_input in = input(WEBHOOK_DINGTALK, 0);
	in.url = "http://127.0.0.1:9/robot";
	in.secret = "SEC1";
	struct webhook_request r;
	build_ok(&in, &r);
	char prefix[64];
	snprintf(prefix, sizeof(prefix),
		 "http://127.0.0.1:9/robot?timestamp=%lld000&sign=", (long long)NOW);
	assert_int_equal(strncmp(r.url, prefix, strlen(prefix)), 0);
	webhook_request_release(&r);
}

static void test_generic_sign(void **state)
{
	(void)state;
	struct webhook_input in = input(WEBHOOK_GENERIC, 1);
	in.secret = SECRET;
	struct webhook_request r;
	build_ok(&in, &r);
	char ts[24];
	snprintf(ts, sizeof(ts), "%d", NOW);
	assert_string_equal(header(&r, "X-Outreach-Timestamp"), ts);
	/* sha256=hex(HMAC(secret, timestamp "." body)) over the exact bytes sent */
	char *msg = xasprintf("%s.%s", ts, r.body);
	char hex[128];
	openssl_hmac(SECRET, msg, 0, hex, sizeof(hex));
	char *want = xasprintf("sha256=%s", hex);
	assert_string_equal(header(&r, "X-Outreach-Signature"), want);
	char sig[72];
	webhook_generic_sign(SECRET, NOW, r.body, r.body_len, sig);
	assert_string_equal(sig, want);
	/* a changed body or timestamp does not verify */
	webhook_generic_sign(SECRET, NOW + 1, r.body, r.body_len, sig);
	assert_string_not_equal(sig, want);
	webhook_generic_sign(SECRET, NOW, r.body, r.body_len - 1, sig);
	assert_string_not_equal(sig, want);
	webhook_generic_sign("wrong", NOW, r.body, r.body_len, sig);
	assert_string_not_equal(sig, want);
	for (size_t i = 0; i < r.nheaders; i++) {
		assert_null(strpbrk(r.headers[i].value, "\r\n"));
		assert_null(strstr(r.headers[i].value, "with-a-newline"));
	}
	assert_null(strstr(r.body, "with-a-newline"));
	free(msg);
	free(want);
	webhook_request_release(&r);
	/* the secret appears nowhere in any signed request */
	for (int f = 0; f < WEBHOOK_NFLAVORS; f++) {
		in = input((enum webhook_flavor)f, 1);
		in.secret = "SECnever-seen-anywhere";
		build_ok(&in, &r);
		assert_null(strstr(r.body, "never-seen"));
		assert_null(strstr(r.url, "never-seen"));
		for (size_t i = 0; i < r.nheaders; i++)
			assert_null(strstr(r.headers[i].value, "never-seen"));
		webhook_request_release(&r);
	}
}

/* ---- answers ---- */

static const struct {
	enum webhook_flavor f;
	int personal;
	long status;
	const char *body;
	int64_t retry_after; /* from the header */
	int timed_out;
	enum delivery_status want;
	const char *code;
	const char *reason; /* a substring */
	const char *provider_id;
	int64_t want_retry;
	int hard_bounce;
} answers[] = {
    {WEBHOOK_SLACK, 0, 200, "ok", 0, 0, DELIVERY_OK, "http 200", "slack accepted", "", 0, 0},
    {WEBHOOK_SLACK, 0, 200, "ok\n", 0, 0, DELIVERY_OK, "http 200", "", "", 0, 0},
    {WEBHOOK_SLACK, 0, 200, "<html>proxy</html>", 0, 0, DELIVERY_FAIL, "unexpected",
     "slack: unexpected answer 200: <html>proxy</html>", "", 0, 0},
    {WEBHOOK_SLACK, 0, 400, "invalid_payload", 0, 0, DELIVERY_FAIL, "http 400", "invalid_payload",
     "", 0, 0},
    {WEBHOOK_SLACK, 0, 404, "no_service", 0, 0, DELIVERY_FAIL, "http 404", "no_service", "", 0, 0},
    {WEBHOOK_SLACK, 0, 429, "rate limited", 30, 0, DELIVERY_DEFER, "http 429", "", "", 30, 0},
    {WEBHOOK_SLACK, 0, 503, "", 0, 0, DELIVERY_DEFER, "http 503", "", "", 0, 0},
    {WEBHOOK_SLACK, 0, 0, NULL, 0, 1, DELIVERY_DEFER, "timeout", "", "", 0, 0},
    /* no answer: the engine names the cause ("connect", "network") */
    {WEBHOOK_SLACK, 0, 0, NULL, 0, 0, DELIVERY_DEFER, NULL, "", "", 0, 0},
    {WEBHOOK_TEAMS, 0, 200, "1", 0, 0, DELIVERY_OK, "http 200", "teams accepted", "", 0, 0},
    {WEBHOOK_TEAMS, 0, 202, "", 0, 0, DELIVERY_OK, "http 202", "", "", 0, 0},
    {WEBHOOK_TEAMS, 0, 200, "Microsoft Teams endpoint returned HTTP error 429 with ContextId x", 0,
     0, DELIVERY_DEFER, "teams 429", "HTTP error 429", "", 0, 0},
    {WEBHOOK_TEAMS, 0, 400, "Summary or Text is required.", 0, 0, DELIVERY_FAIL, "http 400",
     "Summary or Text is required.", "", 0, 0},
    {WEBHOOK_DISCORD, 0, 200, "{\"id\":\"1207712345678901234\",\"content\":\"x\"}", 0, 0,
     DELIVERY_OK, "http 200", "discord accepted id 1207712345678901234", "1207712345678901234", 0,
     0},
    {WEBHOOK_DISCORD, 0, 204, "", 0, 0, DELIVERY_OK, "http 204", "", "", 0, 0},
    {WEBHOOK_DISCORD, 0, 429, "{\"message\":\"You are being rate limited.\",\"retry_after\":1.5}",
     2, 0, DELIVERY_DEFER, "http 429", "rate limited", "", 2, 0},
    {WEBHOOK_DISCORD, 0, 400, "{\"code\":50006,\"message\":\"Cannot send an empty message\"}", 0, 0,
     DELIVERY_FAIL, "http 400", "Cannot send an empty message", "", 0, 0},
    {WEBHOOK_FEISHU, 0, 200, "{\"code\":0,\"data\":{},\"msg\":\"success\"}", 0, 0, DELIVERY_OK,
     "http 200", "feishu accepted", "", 0, 0},
    {WEBHOOK_FEISHU, 0, 200, "{\"Extra\":null,\"StatusCode\":0,\"StatusMessage\":\"success\"}", 0,
     0, DELIVERY_OK, "http 200", "feishu accepted", "", 0, 0},
    {WEBHOOK_FEISHU, 0, 200,
     "{\"code\":19021,\"data\":{},\"msg\":\"sign match fail or timestamp is not within one hour "
     "from current time\"}",
     0, 0, DELIVERY_FAIL, "feishu 19021", "sign match fail", "", 0, 0},
    {WEBHOOK_FEISHU, 0, 200, "{\"code\":11232,\"msg\":\"frequency limited\"}", 0, 0, DELIVERY_DEFER,
     "feishu 11232", "frequency limited", "", 0, 0},
    {WEBHOOK_FEISHU, 0, 400, "{\"code\":11232,\"msg\":\"frequency limited psm[lark.oapi]\"}", 0, 0,
     DELIVERY_DEFER, "feishu 11232", "frequency limited", "", 0, 0},
    {WEBHOOK_FEISHU, 0, 400, "{\"code\":9499,\"msg\":\"Bad Request\"}", 0, 0, DELIVERY_FAIL,
     "feishu 9499", "Bad Request", "", 0, 0},
    {WEBHOOK_FEISHU, 0, 400, "{\"code\":0}", 0, 0, DELIVERY_FAIL, "http 400", "", "", 0, 0},
    {WEBHOOK_WECOM, 0, 400, "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}", 0, 0,
     DELIVERY_DEFER, "wecom 45009", "api freq out of limit", "", 0, 0},
    {WEBHOOK_FEISHU, 0, 200, "not json", 0, 0, DELIVERY_FAIL, "unexpected", "not json", "", 0, 0},
    {WEBHOOK_FEISHU, 0, 200, "{}", 0, 0, DELIVERY_FAIL, "unexpected", "", "", 0, 0},
    {WEBHOOK_DINGTALK, 0, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", 0, 0, DELIVERY_OK, "http 200",
     "dingtalk accepted", "", 0, 0},
    {WEBHOOK_DINGTALK, 0, 200, "{\"errcode\":310000,\"errmsg\":\"sign not match\"}", 0, 0,
     DELIVERY_FAIL, "dingtalk 310000", "sign not match", "", 0, 0},
    {WEBHOOK_DINGTALK, 0, 200,
     "{\"errcode\":130101,\"errmsg\":\"send too fast, exceed 20 times per minute\"}", 0, 0,
     DELIVERY_DEFER, "dingtalk 130101", "send too fast", "", 0, 0},
    {WEBHOOK_DINGTALK, 0, 200, "{\"errcode\":-1,\"errmsg\":\"系统繁忙\"}", 0, 0, DELIVERY_DEFER,
     "dingtalk -1", "系统繁忙", "", 0, 0},
    {WEBHOOK_DINGTALK, 0, 200, "{\"errmsg\":\"ok\"}", 0, 0, DELIVERY_FAIL, "unexpected", "", "", 0,
     0},
    {WEBHOOK_DINGTALK, 0, 500, "{\"errcode\":0}", 0, 0, DELIVERY_DEFER, "http 500", "", "", 0, 0},
    {WEBHOOK_WECOM, 0, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", 0, 0, DELIVERY_OK, "http 200",
     "wecom accepted", "", 0, 0},
    {WEBHOOK_WECOM, 0, 200, "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}", 0, 0,
     DELIVERY_DEFER, "wecom 45009", "api freq out of limit", "", 0, 0},
    {WEBHOOK_WECOM, 0, 200, "{\"errcode\":93000,\"errmsg\":\"invalid webhook url\"}", 0, 0,
     DELIVERY_FAIL, "wecom 93000", "invalid webhook url", "", 0, 0},
    {WEBHOOK_TELEGRAM, 0, 200, "{\"ok\":true,\"result\":{\"message_id\":4711,\"chat\":{}}}", 0, 0,
     DELIVERY_OK, "http 200", "telegram accepted message 4711", "4711", 0, 0},
    {WEBHOOK_TELEGRAM, 0, 200, "{\"ok\":true}", 0, 0, DELIVERY_OK, "http 200", "telegram accepted",
     "", 0, 0},
    {WEBHOOK_TELEGRAM, 0, 200, "[]", 0, 0, DELIVERY_FAIL, "unexpected", "", "", 0, 0},
    {WEBHOOK_TELEGRAM, 0, 429,
     "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 17\","
     "\"parameters\":{\"retry_after\":17}}",
     0, 0, DELIVERY_DEFER, "telegram 429", "Too Many Requests: retry after 17", "", 17, 0},
    {WEBHOOK_TELEGRAM, 1, 400,
     "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}", 0, 0,
     DELIVERY_FAIL, "telegram 400", "Bad Request: chat not found", "", 0, 1},
    {WEBHOOK_TELEGRAM, 0, 400,
     "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}", 0, 0,
     DELIVERY_FAIL, "telegram 400", "chat not found", "", 0, 0},
    {WEBHOOK_TELEGRAM, 1, 403,
     "{\"ok\":false,\"error_code\":403,\"description\":\"Forbidden: bot was blocked by the "
     "user\"}",
     0, 0, DELIVERY_FAIL, "telegram 403", "bot was blocked by the user", "", 0, 1},
    {WEBHOOK_TELEGRAM, 1, 400,
     "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: can't parse entities\"}", 0,
     0, DELIVERY_FAIL, "telegram 400", "can't parse entities", "", 0, 0},
    {WEBHOOK_TELEGRAM, 0, 502, "<html>Bad Gateway</html>", 0, 0, DELIVERY_DEFER, "http 502", "", "",
     0, 0},
    {WEBHOOK_GENERIC, 0, 200, "{\"ok\":true,\"id\":\"m7\"}", 0, 0, DELIVERY_OK, "http 200",
     "generic accepted id m7", "m7", 0, 0},
    {WEBHOOK_GENERIC, 0, 201, "{\"id\":99}", 0, 0, DELIVERY_OK, "http 201", "", "99", 0, 0},
    {WEBHOOK_GENERIC, 0, 204, "", 0, 0, DELIVERY_OK, "http 204", "generic accepted", "", 0, 0},
    {WEBHOOK_GENERIC, 0, 401, "bad signature", 0, 0, DELIVERY_FAIL, "http 401", "bad signature", "",
     0, 0},
    {WEBHOOK_GENERIC, 0, 302, "", 0, 0, DELIVERY_FAIL, "http 302", "", "", 0, 0},
};

static void test_classify(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(answers) / sizeof(*answers); i++) {
		struct http_response r;
		memset(&r, 0, sizeof(r));
		r.status = answers[i].status;
		r.body = answers[i].body ? xstrdup(answers[i].body) : NULL;
		r.body_len = r.body ? strlen(r.body) : 0;
		r.retry_after = answers[i].retry_after;
		r.timed_out = answers[i].timed_out;
		if (!r.status)
			snprintf(r.error, sizeof(r.error), "%s",
				 r.timed_out
				     ? "Operation timed out after 10001 milliseconds"
				     : "Failed to connect to 127.0.0.1 port 9: Connection refused");
		struct delivery d;
		memset(&d, 0, sizeof(d));
		webhook_classify(answers[i].f, answers[i].personal, &r, &d);
		if (d.status != answers[i].want ||
		    (answers[i].code && strcmp(d.code, answers[i].code) != 0) ||
		    !strstr(d.reason, answers[i].reason) ||
		    strcmp(d.provider_id, answers[i].provider_id) != 0 ||
		    d.retry_after != answers[i].want_retry ||
		    d.hard_bounce != answers[i].hard_bounce)
			fail_msg(
			    "answer %zu (%s %ld %s): got %d \"%s\" \"%s\" id \"%s\" retry %lld "
			    "bounce %d",
			    i, webhook_flavor_name(answers[i].f), answers[i].status,
			    answers[i].body ? answers[i].body : "-", d.status, d.code, d.reason,
			    d.provider_id, (long long)d.retry_after, d.hard_bounce);
		assert_null(strpbrk(d.reason, "\r\n"));
		free(r.body);
	}
}

/* ---- options and the transport ---- */

struct fixture {
	struct config cfg;
	struct transport_conf conf;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	f->cfg.path = "config/outreach.yaml";
	f->cfg.lines = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "/transports/hook", 20,
				 "/transports/hook/flavor", 22, "/transports/hook/url", 23,
				 "/transports/hook/secret_env", 24, "/transports/hook/chat_id", 25,
				 "/transports/hook/format", 26);
	f->conf.name = "hook";
	f->conf.kind = "webhook";
	f->conf.channel = CHANNEL_CHAT;
	f->conf.pointer = "/transports/hook";
	f->conf.line = 20;
	setenv("WEBHOOK_TEST_SECRET", "SECunit-test-secret", 1);
	setenv("WEBHOOK_TEST_TOKEN", "123456:ABC-def_ghi", 1);
	setenv("WEBHOOK_TEST_BADTOKEN", "123/../x?y", 1);
	unsetenv("WEBHOOK_TEST_UNSET");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	json_decref(f->cfg.lines);
	free(f);
	return 0;
}

static const struct {
	const char *opts; /* JSON */
	const char *to;
	int flags;
	const char *err; /* NULL: created */
} options[] = {
    {"{\"flavor\":\"slack\",\"url\":\"https://hooks.slack.com/services/T/B/tok3n\"}", NULL, 0,
     NULL},
    {"{\"flavor\":\"slack\"}", "slack_url", 0, NULL},
    {"{\"url\":\"https://x.example/tok3n\"}", NULL, 0,
     "config/outreach.yaml:20: transport \"hook\": missing flavor (slack, teams, discord, feishu, "
     "dingtalk, wecom, telegram or generic)"},
    {"{\"flavor\":\"lark\",\"url\":\"https://x.example/tok3n\"}", NULL, 0,
     "config/outreach.yaml:22: transport \"hook\": unknown flavor \"lark\" (use slack, teams, "
     "discord, feishu, dingtalk, wecom, telegram or generic)"},
    {"{\"flavor\":\"slack\"}", NULL, 0,
     "config/outreach.yaml:20: transport \"hook\": missing url (or to: naming the contact "
     "attribute that holds each contact's webhook url)"},
    {"{\"flavor\":\"slack\",\"url\":\"ftp://x.example/?access_token=tok3n\"}", NULL, 0,
     "config/outreach.yaml:23: transport \"hook\": url must start with https:// or http:// and "
     "hold no blanks"},
    {"{\"flavor\":\"slack\",\"url\":\"https://x.example/tok3n\"}", "slack_url", 0,
     "config/outreach.yaml:23: transport \"hook\": url is not used: to: names the contact "
     "attribute that holds each contact's webhook url"},
    {"{\"flavor\":\"slack\",\"url\":\"https://x.example/tok3n\",\"format\":\"html\"}", NULL, 0,
     "config/outreach.yaml:26: transport \"hook\": format must be markdown or text, not \"html\""},
    {"{\"flavor\":\"slack\",\"url\":\"https://x.example/tok3n\",\"secret_env\":"
     "\"WEBHOOK_TEST_SECRET\"}",
     NULL, 0,
     "config/outreach.yaml:24: transport \"hook\": secret_env is for flavors feishu, dingtalk "
     "and generic"},
    {"{\"flavor\":\"dingtalk\",\"url\":\"https://oapi.dingtalk.com/robot/send?access_token=tok3n\","
     "\"secret_env\":\"WEBHOOK_TEST_UNSET\"}",
     NULL, 0,
     "config/outreach.yaml:24: transport \"hook\": secret_env names WEBHOOK_TEST_UNSET, which is "
     "not set in the environment"},
    {"{\"flavor\":\"dingtalk\",\"url\":\"https://oapi.dingtalk.com/robot/send?access_token=tok3n\","
     "\"secret_env\":\"WEBHOOK_TEST_UNSET\"}",
     NULL, TRANSPORT_CHECK, NULL},
    {"{\"flavor\":\"generic\",\"url\":\"http://127.0.0.1:9/in\",\"secret_env\":"
     "\"WEBHOOK_TEST_SECRET\",\"format\":\"text\",\"title\":\"t\",\"concurrency\":8,"
     "\"timeout\":\"2s\"}",
     NULL, 0, NULL},
    {"{\"flavor\":\"generic\",\"url\":\"http://127.0.0.1:9/in\",\"concurrency\":0}", NULL, 0,
     "config/outreach.yaml:20: transport \"hook\": concurrency must be an integer from 1 to 64"},
    {"{\"flavor\":\"generic\",\"url\":\"http://127.0.0.1:9/in\",\"timeout\":\"soon\"}", NULL, 0,
     "config/outreach.yaml:20: transport \"hook\": timeout must be a duration such as 10s or "
     "500ms (at most 1d)"},
    {"{\"flavor\":\"generic\",\"url\":\"http://127.0.0.1:9/in\",\"ca_file\":\"/nonexistent/"
     "ca.pem\"}",
     NULL, 0,
     "config/outreach.yaml:20: transport \"hook\": cannot read ca_file \"/nonexistent/ca.pem\""},
    {"{\"flavor\":\"teams\",\"url\":\"https://x.example/tok3n\",\"chat_id\":\"-100\"}", NULL, 0,
     "config/outreach.yaml:25: transport \"hook\": chat_id is for flavor telegram"},
    {"{\"flavor\":\"telegram\",\"token_env\":\"WEBHOOK_TEST_TOKEN\",\"chat_id\":-1001234567890}",
     NULL, 0, NULL},
    {"{\"flavor\":\"telegram\",\"token_env\":\"WEBHOOK_TEST_TOKEN\",\"chat_id\":\"@acme_vip\"}",
     NULL, 0, NULL},
    {"{\"flavor\":\"telegram\",\"token_env\":\"WEBHOOK_TEST_TOKEN\"}", "telegram_chat_id", 0, NULL},
    {"{\"flavor\":\"telegram\",\"url\":\"http://127.0.0.1:9/bottok3n/sendMessage\"}",
     "telegram_chat_id", 0, NULL},
    {"{\"flavor\":\"telegram\",\"token_env\":\"WEBHOOK_TEST_TOKEN\"}", NULL, 0,
     "config/outreach.yaml:20: transport \"hook\": a telegram transport needs chat_id (a group) "
     "or to: (the contact field holding the chat id)"},
    {"{\"flavor\":\"telegram\",\"chat_id\":\"-100\"}", NULL, 0,
     "config/outreach.yaml:20: transport \"hook\": a telegram transport needs token_env (the "
     "variable holding the bot token) or url"},
    {"{\"flavor\":\"telegram\",\"token_env\":\"WEBHOOK_TEST_BADTOKEN\",\"chat_id\":\"-100\"}", NULL,
     0,
     "config/outreach.yaml:20: transport \"hook\": token_env names a variable that does not hold "
     "a bot token"},
    {"{\"flavor\":\"telegram\",\"token_env\":\"WEBHOOK_TEST_TOKEN\",\"chat_id\":\"group\"}", NULL,
     0,
     "config/outreach.yaml:25: transport \"hook\": chat_id must be a telegram chat id (a number, "
     "or @channel)"},
    {"{\"flavor\":\"telegram\",\"token_env\":\"WEBHOOK_TEST_TOKEN\",\"chat_id\":\"-100\"}",
     "telegram_chat_id", 0,
     "config/outreach.yaml:25: transport \"hook\": chat_id is for a group chat; this transport "
     "sends to each contact's telegram_chat_id"},
};

static void test_options(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(options) / sizeof(*options); i++) {
		json_error_t je;
		f->conf.opts = json_loads(options[i].opts, 0, &je);
		assert_non_null(f->conf.opts);
		f->conf.to = (char *)options[i].to;
		struct err e;
		err_clear(&e);
		struct transport *t = transport_create(&f->cfg, &f->conf, options[i].flags, &e);
		if (!options[i].err) {
			if (!t)
				fail_msg("options %zu: %s", i, e.msg);
			transport_free(t);
		} else {
			if (t)
				fail_msg("options %zu: created, want \"%s\"", i, options[i].err);
			assert_string_equal(e.msg, options[i].err);
			assert_null(strstr(e.msg, "tok3n"));
			assert_null(strstr(e.msg, "SECunit"));
			assert_null(strstr(e.msg, "ABC-def"));
		}
		json_decref(f->conf.opts);
	}
	f->conf.to = NULL;
}

/* a personal message that cannot be built fails without any network */
static void test_deliver_invalid(void **state)
{
	struct fixture *f = *state;
	f->conf.opts = json_pack("{s:s}", "flavor", "discord");
	f->conf.to = "discord_url";
	struct err e;
	err_clear(&e);
	struct transport *t = transport_create(&f->cfg, &f->conf, 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	char *long_text = make_text("x", 2001);
	struct message m[3];
	memset(m, 0, sizeof(m));
	m[0] = (struct message){.send_id = 1,
				.channel = CHANNEL_CHAT,
				.to = "discord.com/api/webhooks/1/secret-token",
				.text = "hi"};
	m[1] = (struct message){.send_id = 2,
				.channel = CHANNEL_CHAT,
				.to = "https://discord.example/api/webhooks/1/secret-token",
				.text = long_text};
	m[2] = (struct message){.send_id = 3, .channel = CHANNEL_CHAT, .to = NULL, .text = "hi"};
	const struct message *mp[3] = {&m[0], &m[1], &m[2]};
	struct delivery d[3];
	assert_int_equal(transport_deliver(t, mp, 3, NOW, d), 0);
	assert_int_equal(d[0].status, DELIVERY_FAIL);
	assert_string_equal(d[0].reason, "invalid webhook url");
	assert_int_equal(d[1].status, DELIVERY_FAIL);
	assert_string_equal(d[1].reason, "too long: 2001 characters, discord takes 2000");
	assert_int_equal(d[2].status, DELIVERY_FAIL);
	assert_string_equal(d[2].reason, "message has no recipient");
	for (int i = 0; i < 3; i++)
		assert_null(strstr(d[i].reason, "secret-token"));
	free(long_text);
	transport_free(t);
	json_decref(f->conf.opts);
	f->conf.to = NULL;
}

/* a server that is not there: DEFER, and the reason names no url */
static void test_deliver_connect(void **state)
{
	struct fixture *f = *state;
	f->conf.opts = json_pack("{s:s, s:s, s:s, s:s}", "flavor", "dingtalk", "url",
				 "http://127.0.0.1:9/robot/send?access_token=tok3n-in-query",
				 "secret_env", "WEBHOOK_TEST_SECRET", "timeout", "2s");
	struct err e;
	err_clear(&e);
	struct transport *t = transport_create(&f->cfg, &f->conf, 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	struct message m = {.send_id = 9, .channel = CHANNEL_CHAT, .text = "你好"};
	const struct message *mp = &m;
	struct delivery d;
	assert_int_equal(transport_deliver(t, &mp, 1, NOW, &d), 0);
	assert_int_equal(d.status, DELIVERY_DEFER);
	assert_null(strstr(d.reason, "tok3n"));
	assert_null(strstr(d.reason, "access_token"));
	assert_null(strstr(d.reason, "SECunit"));
	transport_free(t);
	json_decref(f->conf.opts);
}

/* a loopback server for one batch: each connection gets one answer,
 * {"id":"r<send_id>"} from the request's body, then is closed */
struct server {
	int fd, port, n; /* n: connections to serve */
	char paths[8][64];
};

static void *serve(void *arg)
{
	struct server *s = arg;
	for (int k = 0; k < s->n; k++) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			break;
		char req[8192];
		size_t len = 0;
		long want = -1;
		for (;;) {
			ssize_t r = read(c, req + len, sizeof(req) - 1 - len);
			if (r <= 0)
				break;
			len += (size_t)r;
			req[len] = '\0';
			char *eoh = strstr(req, "\r\n\r\n");
			if (eoh && want < 0) {
				char *cl = strcasestr(req, "\r\ncontent-length:");
				want = (long)(eoh + 4 - req) + (cl ? strtol(cl + 17, NULL, 10) : 0);
			}
			if (want >= 0 && (long)len >= want)
				break;
		}
		sscanf(req, "POST %63s", s->paths[k < 8 ? k : 7]);
		char *sid = strstr(req, "\"send_id\":");
		char body[64], resp[256];
		snprintf(body, sizeof(body), "{\"id\":\"r%ld\"}",
			 sid ? strtol(sid + 10, NULL, 10) : 0L);
		int n = snprintf(resp, sizeof(resp),
				 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
				 strlen(body), body);
		assert_int_equal(write(c, resp, (size_t)n), n);
		close(c);
	}
	return NULL;
}

/* one batch, valid and invalid messages mixed: each delivery lines up
 * with its message */
static void test_deliver_batch(void **state)
{
	struct fixture *f = *state;
	struct server s = {.n = 3};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s.fd >= 0);
	assert_int_equal(bind(s.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s.fd, 16), 0);
	assert_int_equal(getsockname(s.fd, (struct sockaddr *)&a, &al), 0);
	s.port = ntohs(a.sin_port);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, serve, &s), 0);

	f->conf.opts = json_pack("{s:s, s:s, s:s}", "flavor", "generic", "secret_env",
				 "WEBHOOK_TEST_SECRET", "timeout", "5s");
	f->conf.to = "hook_url";
	struct err e;
	err_clear(&e);
	struct transport *t = transport_create(&f->cfg, &f->conf, 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	char u[3][80];
	for (int i = 0; i < 3; i++)
		snprintf(u[i], sizeof(u[i]), "http://127.0.0.1:%d/c%d/tok", s.port, i + 1);
	struct message m[5] = {
	    {.send_id = 11, .channel = CHANNEL_CHAT, .to = u[0], .text = "一"},
	    {.send_id = 12, .channel = CHANNEL_CHAT, .to = "mailto:x@example.com", .text = "二"},
	    {.send_id = 13, .channel = CHANNEL_CHAT, .to = u[1], .text = "三"},
	    {.send_id = 14, .channel = CHANNEL_CHAT, .to = u[2], .text = "\n"},
	    {.send_id = 15, .channel = CHANNEL_CHAT, .to = u[2], .text = "五"},
	};
	const struct message *mp[5] = {&m[0], &m[1], &m[2], &m[3], &m[4]};
	struct delivery d[5];
	assert_int_equal(transport_deliver(t, mp, 5, NOW, d), 0);
	pthread_join(th, NULL);
	close(s.fd);
	assert_int_equal(d[0].status, DELIVERY_OK);
	assert_string_equal(d[0].provider_id, "r11");
	assert_int_equal(d[1].status, DELIVERY_FAIL);
	assert_string_equal(d[1].reason, "invalid webhook url");
	assert_int_equal(d[2].status, DELIVERY_OK);
	assert_string_equal(d[2].provider_id, "r13");
	assert_int_equal(d[3].status, DELIVERY_FAIL);
	assert_string_equal(d[3].reason, "empty message");
	assert_int_equal(d[4].status, DELIVERY_OK);
	assert_string_equal(d[4].provider_id, "r15");
	/* each went to its contact's own url */
	int seen = 0;
	for (int k = 0; k < 3; k++)
		seen |= strcmp(s.paths[k], "/c1/tok") == 0   ? 1
			: strcmp(s.paths[k], "/c2/tok") == 0 ? 2
			: strcmp(s.paths[k], "/c3/tok") == 0 ? 4
							     : 8;
	assert_int_equal(seen, 7);
	transport_free(t);
	json_decref(f->conf.opts);
	f->conf.to = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flavor_names),
	    cmocka_unit_test(test_payloads),
	    cmocka_unit_test(test_payload_details),
	    cmocka_unit_test(test_build_errors),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_telegram_html),
	    cmocka_unit_test(test_title),
	    cmocka_unit_test(test_feishu_sign),
	    cmocka_unit_test(test_dingtalk_sign),
	    cmocka_unit_test(test_generic_sign),
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test_setup_teardown(test_options, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deliver_invalid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deliver_connect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deliver_batch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
