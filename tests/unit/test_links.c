/* test_links.c - link and open tracking (links.h): a table of messages
 * with the exact rewritten text and HTML and the URLs recorded, then the
 * properties: tokens verify, a second pass changes nothing, the limit on
 * links, a base URL with a trailing slash, the config switch and its check,
 * and store_links_add keeping the first recording.
 *
 * In the table "{N}" stands for BASE/c/TOKEN of link N and "{o}" for the
 * open pixel's <img>, both computed with track.h (so the table states
 * where links go, and test_tokens checks the tokens themselves).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "diag.h"
#include "links.h"
#include "store.h"
#include "store_track.h"
#include "track.h"
#include "xmalloc.h"

#define BASE "https://t.example.com"
#define SECRET "s3cret"
#define SEND 42

struct row {
	const char *name;
	enum channel_kind ch;
	const char *text, *html;
	const char *want_text, *want_html;
	const char *urls[8];
};

static const struct row rows[] = {
    {"bare url, the full stop after it is not part of it", CHANNEL_EMAIL,
     "Visit https://shop.example.com/a?x=1&y=2.\n", NULL, "Visit {1}.\n", NULL,
     {"https://shop.example.com/a?x=1&y=2"}},
    {"chinese text and punctuation around a url", CHANNEL_EMAIL,
     "请访问https://example.cn/o/123，谢谢。链接：https://example.cn/a。\n", NULL,
     "请访问{1}，谢谢。链接：{2}。\n", NULL, {"https://example.cn/o/123", "https://example.cn/a"}},
    {"a url in chinese brackets and quotes", CHANNEL_SMS,
     "【Acme】订单详情（https://m.example.cn/d?id=9）“https://m.example.cn/h”", NULL,
     "【Acme】订单详情（{1}）“{2}”", NULL,
     {"https://m.example.cn/d?id=9", "https://m.example.cn/h"}},
    {"parentheses: balanced ones stay in the url", CHANNEL_EMAIL,
     "(see https://en.wikipedia.org/wiki/Foo_(bar)) and (https://a.example.com/x).", NULL,
     "(see {1}) and ({2}).", NULL,
     {"https://en.wikipedia.org/wiki/Foo_(bar)", "https://a.example.com/x"}},
    {"trailing punctuation, quotes and emphasis", CHANNEL_CHAT,
     "**https://a.example.com/b**, 'https://c.example.com/d'; https://e.example.com/?q=1!", NULL,
     "**{1}**, '{2}'; {3}!", NULL,
     {"https://a.example.com/b", "https://c.example.com/d", "https://e.example.com/?q=1"}},
    {"markdown targets; labels and images as they are", CHANNEL_CHAT,
     "[订单](https://shop.example.com/o/1) ![logo](https://cdn.example.com/l.png) "
     "[https://label.example.com](https://t2.example.com/x_(y)) [x](<https://p.example.com/a b>)",
     NULL,
     "[订单]({1}) ![logo](https://cdn.example.com/l.png) [https://label.example.com]({2}) "
     "[x](<{3}>)",
     NULL,
     {"https://shop.example.com/o/1", "https://t2.example.com/x_(y)",
      "https://p.example.com/a b"}},
    {"markdown: a target with a title, a bracket that is no link", CHANNEL_CHAT,
     "[a](https://a.example.com/ \"title\") [not a link] https://b.example.com/", NULL,
     "[a]({1} \"title\") [not a link] {2}", NULL,
     {"https://a.example.com/", "https://b.example.com/"}},
    {"markdown: what is not a link is text, its urls bare ones", CHANNEL_CHAT,
     "[a](https://u.example.com/x [b [c](https://v.example.com/) "
     "[d](x https://w.example.com/)",
     NULL, "[a]({1} [b [c]({2}) [d](x {3})", NULL,
     {"https://u.example.com/x", "https://v.example.com/", "https://w.example.com/"}},
    {"our own links (unsubscribe, survey) are never rewritten", CHANNEL_EMAIL,
     "Unsubscribe: https://t.example.com/u/u42.0.abc\nSurvey: HTTPS://T.EXAMPLE.COM/s/s42.0.x\n"
     "Not ours: https://t.example.com.evil.example/x\n",
     NULL,
     "Unsubscribe: https://t.example.com/u/u42.0.abc\nSurvey: HTTPS://T.EXAMPLE.COM/s/s42.0.x\n"
     "Not ours: {1}\n",
     NULL, {"https://t.example.com.evil.example/x"}},
    {"uppercase scheme; what is not a url", CHANNEL_EMAIL,
     "HTTPS://EXAMPLE.COM/A xhttps://no.example.com http:// https:// x ftp://f.example.com",
     NULL, "{1} xhttps://no.example.com http:// https:// x ftp://f.example.com", NULL,
     {"HTTPS://EXAMPLE.COM/A"}},
    /* rewriting these would take brackets or an unclosed "(" out of the
     * text and change what is a markdown link on a second pass (found by
     * fuzz_links): they stay as written, untracked */
    {"a bare url with a bracket or an unclosed parenthesis stays as it is", CHANNEL_CHAT,
     "http://[::1]:8080/p [a https://[::1]/x ](https://y.example.com/) "
     "https://a.example.com/x(y https://b.example.com/ok",
     NULL,
     "http://[::1]:8080/p [a https://[::1]/x ]({1}) https://a.example.com/x(y {2}", NULL,
     {"https://y.example.com/", "https://b.example.com/ok"}},
    {"one index per url: text first, then html; &amp; decoded", CHANNEL_EMAIL,
     "A https://a.example.com/p?q=1&r=2 B https://b.example.com/ A https://a.example.com/p?q=1&r=2",
     "<a href=\"https://a.example.com/p?q=1&amp;r=2\">A</a><A HREF='https://c.example.com/'>C</a>"
     "<a href=\"https://b.example.com/\">B</a>",
     "A {1} B {2} A {1}", "<a href=\"{1}\">A</a><A HREF='{3}'>C</a><a href=\"{2}\">B</a>{o}",
     {"https://a.example.com/p?q=1&r=2", "https://b.example.com/", "https://c.example.com/"}},
    {"html: only <a href>; pixel before </body>", CHANNEL_EMAIL, NULL,
     "<html><body><img src=\"https://cdn.example.com/i.png\">"
     "<a href=\"mailto:x@example.com\">m</a><a href=\"tel:+8613800138000\">t</a>"
     "<script>var u = \"<a href='https://evil.example.com/'>\"; if (a < b) {}</script>"
     "<STYLE>a{background:url(https://cdn.example.com/bg)}</STYLE>"
     "<!-- <a href=\"https://c.example.com/\"> -->"
     "<a href=\"https://t.example.com/u/u42.0.abc\">退订</a>"
     "<p>https://bare.example.com/ 在正文里</p><link href=\"https://l.example.com/\">"
     "<area href=\"https://area.example.com/\"><abbr href=\"https://abbr.example.com/\">"
     "<a class=x href=https://unq.example.com/a?b=1&amp;c=2>u</a></BODY></html>",
     NULL,
     "<html><body><img src=\"https://cdn.example.com/i.png\">"
     "<a href=\"mailto:x@example.com\">m</a><a href=\"tel:+8613800138000\">t</a>"
     "<script>var u = \"<a href='https://evil.example.com/'>\"; if (a < b) {}</script>"
     "<STYLE>a{background:url(https://cdn.example.com/bg)}</STYLE>"
     "<!-- <a href=\"https://c.example.com/\"> -->"
     "<a href=\"https://t.example.com/u/u42.0.abc\">退订</a>"
     "<p>https://bare.example.com/ 在正文里</p><link href=\"https://l.example.com/\">"
     "<area href=\"https://area.example.com/\"><abbr href=\"https://abbr.example.com/\">"
     "<a class=x href=\"{1}\">u</a>{o}</BODY></html>",
     {"https://unq.example.com/a?b=1&c=2"}},
    {"html: quotes inside attributes, newlines, entities, spaces, data-href", CHANNEL_EMAIL,
     NULL,
     "<a title=\"x > y\" data-href=\"https://d.example.com/\"\n  href=\" https://s.example.com/ \">"
     "</a><a href='https://q.example.com/?q=%E4%B8%AD&#x26;x=&#39;1&#39;&#38y=&copy=2&nbsp;'>q</a>"
     "<a href=\"https://z.example.com/\" href=\"https://second.example.com/\">z</a>"
     "<title><a href=\"https://title.example.com/\"></title><textarea><a href=\"https://ta.example.com/\">"
     "</textarea>",
     NULL,
     "<a title=\"x > y\" data-href=\"https://d.example.com/\"\n  href=\"{1}\">"
     "</a><a href='{2}'>q</a>"
     "<a href=\"{3}\" href=\"https://second.example.com/\">z</a>"
     "<title><a href=\"https://title.example.com/\"></title><textarea><a href=\"https://ta.example.com/\">"
     "</textarea>{o}",
     {"https://s.example.com/", "https://q.example.com/?q=%E4%B8%AD&x='1'&y=&copy=2\xC2\xA0",
      "https://z.example.com/"}},
    {"html: line ends inside an href go (as in browsers), other controls stay untracked",
     CHANNEL_EMAIL, NULL,
     "<a href=\"https://l.example.com/a\n\tb\r\n\">l</a><a href=\"https://c.example.com/&#1;x\">c</a>"
     "<a href=\"https://c.example.com/&#10;y\">d</a>",
     NULL, "<a href=\"{1}\">l</a><a href=\"https://c.example.com/&#1;x\">c</a><a href=\"{2}\">d</a>{o}",
     {"https://l.example.com/ab", "https://c.example.com/y"}},
    {"html: a cut-off tag and a lone < are left as they are, no pixel", CHANNEL_EMAIL, NULL,
     "<p>1 < 2</p><a href=\"https://ok.example.com/\">ok</a><a href=\"https://cut.example.com/",
     NULL, "<p>1 < 2</p><a href=\"{1}\">ok</a><a href=\"https://cut.example.com/",
     {"https://ok.example.com/"}},
    {"a script, a comment or a tag left open: no pixel at the end", CHANNEL_EMAIL, NULL,
     "<p>x</p><script>var a = 1;", NULL, "<p>x</p><script>var a = 1;", {NULL}},
    {"an open comment, but a </body> before it", CHANNEL_EMAIL, NULL,
     "<p>x</p></body><!-- x", NULL, "<p>x</p>{o}</body><!-- x", {NULL}},
    {"html that already has our pixel gets no second one", CHANNEL_EMAIL, NULL,
     "<p>x</p><img src=\"https://t.example.com/o/o42.0.abc\"></body>", NULL,
     "<p>x</p><img src=\"https://t.example.com/o/o42.0.abc\"></body>", {NULL}},
    {"sms: the text only, no pixel", CHANNEL_SMS, "Order https://shop.example.com/o/9, reply TD",
     NULL, "Order {1}, reply TD", NULL, {"https://shop.example.com/o/9"}},
    {"no links", CHANNEL_EMAIL, "你好，谢谢。", "<p>你好</p>", "你好，谢谢。", "<p>你好</p>{o}",
     {NULL}},
};

/* expand - s with {N} and {o} replaced; caller frees */
static char *expand(const char *s)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	for (; *s; s++) {
		if (s[0] == '{' && s[1] >= '1' && s[1] <= '9' && s[2] == '}') {
			char *u = track_url(BASE, SECRET, 'c', SEND, s[1] - '0');
			buf_puts(&b, u);
			free(u);
			s += 2;
		} else if (s[0] == '{' && s[1] == 'o' && s[2] == '}') {
			char *u = track_url(BASE, SECRET, 'o', SEND, 0);
			buf_printf(&b,
				   "<img src=\"%s\" width=\"1\" height=\"1\" alt=\"\" "
				   "style=\"display:none\">",
				   u);
			free(u);
			s += 2;
		} else {
			buf_putc(&b, *s);
		}
	}
	return buf_detach(&b);
}

static void check_row(const struct row *r)
{
	struct rendered m = {0};
	struct links l;
	m.text = (char *)r->text;
	m.html = (char *)r->html;
	links_rewrite(&m, r->ch, BASE, SECRET, SEND, &l);
	if (r->want_text) {
		char *w = expand(r->want_text);
		if (!l.text || strcmp(l.text, w) != 0)
			fail_msg("%s: text\n got: %s\nwant: %s", r->name, l.text, w);
		free(w);
	} else {
		assert_null(l.text);
	}
	if (r->want_html) {
		char *w = expand(r->want_html);
		if (!l.html || strcmp(l.html, w) != 0)
			fail_msg("%s: html\n got: %s\nwant: %s", r->name, l.html, w);
		free(w);
	} else {
		assert_null(l.html);
	}
	size_t n = 0;
	while (n < 8 && r->urls[n])
		n++;
	if (l.n != n)
		fail_msg("%s: %zu urls, want %zu (first: %s)", r->name, l.n, n,
			 l.n ? l.urls[0] : "-");
	for (size_t i = 0; i < n; i++)
		if (strcmp(l.urls[i], r->urls[i]) != 0)
			fail_msg("%s: url %zu is \"%s\", want \"%s\"", r->name, i + 1, l.urls[i],
				 r->urls[i]);
	/* a second pass finds nothing more to do */
	struct rendered m2 = {0};
	struct links l2;
	m2.text = l.text;
	m2.html = l.html;
	links_rewrite(&m2, r->ch, BASE, SECRET, SEND, &l2);
	if (l.text && strcmp(l.text, l2.text) != 0)
		fail_msg("%s: second pass changed the text: %s", r->name, l2.text);
	if (l.html && strcmp(l.html, l2.html) != 0)
		fail_msg("%s: second pass changed the html: %s", r->name, l2.html);
	assert_int_equal(l2.n, 0);
	links_release(&l2);
	links_release(&l);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_row(&rows[i]);
}

/* every tracked link's token verifies to (c, send, its index), and the
 * pixel's to (o, send, 0); with another secret none does */
static void test_tokens(void **state)
{
	(void)state;
	struct rendered m = {0};
	struct links l;
	m.text = "一 https://a.example.com/ 二 https://b.example.com/";
	m.html = "<body><a href=\"https://c.example.com/\">c</a></body>";
	links_rewrite(&m, CHANNEL_EMAIL, BASE "/", SECRET, SEND, &l);
	assert_int_equal(l.n, 3);
	const char *p = l.text;
	int seen = 0;
	struct buf all = BUF_INIT;
	buf_printf(&all, "%s %s", l.text, l.html);
	for (p = all.data; (p = strstr(p, BASE "/")) != NULL; seen++) {
		p += strlen(BASE "/");
		char kind = p[0];
		assert_true(kind == 'c' || kind == 'o');
		assert_int_equal(p[1], '/');
		p += 2;
		size_t k = strcspn(p, " \"<");
		char *tok = xstrndup(p, k);
		char tk;
		int64_t id;
		int link;
		assert_int_equal(track_verify(SECRET, tok, &tk, &id, &link), 0);
		assert_int_equal(tk, kind);
		assert_int_equal(id, SEND);
		if (kind == 'c')
			assert_true(link >= 1 && link <= 3);
		else
			assert_int_equal(link, 0);
		assert_int_equal(track_verify("other", tok, &tk, &id, &link), -1);
		free(tok);
	}
	assert_int_equal(seen, 4); /* a, b, c and the pixel; no "//" from the slash */
	assert_null(strstr(all.data, BASE "//"));
	buf_release(&all);
	links_release(&l);
}

/* LINKS_MAX distinct links are tracked, the next ones stay as they are */
static void test_limit(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 1; i <= LINKS_MAX + 3; i++)
		buf_printf(&b, "https://x.example.com/%d\n", i);
	buf_puts(&b, "https://x.example.com/1\n"); /* known: still tracked */
	struct rendered m = {0};
	struct links l;
	m.text = b.data;
	links_rewrite(&m, CHANNEL_EMAIL, BASE, SECRET, SEND, &l);
	assert_int_equal(l.n, LINKS_MAX);
	assert_string_equal(l.urls[LINKS_MAX - 1], "https://x.example.com/500");
	assert_non_null(strstr(l.text, "\nhttps://x.example.com/501\n"));
	assert_null(strstr(l.text, "https://x.example.com/1\n"));
	assert_null(strstr(l.text, "https://x.example.com/500\n"));
	links_release(&l);
	buf_release(&b);
}

static const char cfg_yaml[] =
    "store: ':memory:'\n"
    "templates: templates\n"
    "transports:\n"
    "  email: {kind: outbox, channel: email}\n"
    "  mail-off: {kind: outbox, channel: email, track: false}\n"
    "  sms: {kind: outbox, channel: sms}\n"
    "  sms-on: {kind: outbox, channel: sms, track: true}\n"
    "  chat: {kind: outbox, channel: chat}\n"
    "campaigns:\n"
    "  plain:\n"
    "    trigger: {event: purchase}\n"
    "    steps: [{after: 0h, channels: [email], template: t}]\n"
    "  on:\n"
    "    track: true\n"
    "    trigger: {event: purchase}\n"
    "    steps: [{after: 0h, channels: [sms], template: t}]\n"
    "  off:\n"
    "    track: false\n"
    "    trigger: {event: purchase}\n"
    "    steps: [{after: 0h, channels: [email], template: t}]\n";

static void test_config(void **state)
{
	(void)state;
	struct diag d;
	diag_init(&d);
	struct config *c = config_load_mem("t.yaml", cfg_yaml, strlen(cfg_yaml), &d);
	assert_non_null(c);
	const struct transport_conf *email = config_transport(c, "email");
	const struct transport_conf *off = config_transport(c, "mail-off");
	const struct transport_conf *sms = config_transport(c, "sms");
	const struct transport_conf *smson = config_transport(c, "sms-on");
	const struct transport_conf *chat = config_transport(c, "chat");
	assert_int_equal(links_tracking_on(c, "plain", email), 1);
	assert_int_equal(links_tracking_on(c, "plain", off), 0);
	assert_int_equal(links_tracking_on(c, "plain", sms), 0);
	assert_int_equal(links_tracking_on(c, "plain", smson), 1);
	assert_int_equal(links_tracking_on(c, "plain", chat), 0);
	/* the campaign's word wins over the transport's */
	assert_int_equal(links_tracking_on(c, "on", sms), 1);
	assert_int_equal(links_tracking_on(c, "on", off), 1);
	assert_int_equal(links_tracking_on(c, "off", email), 0);
	assert_int_equal(links_tracking_on(c, "off", smson), 0);
	assert_int_equal(links_tracking_on(c, "no-such-campaign", email), 1);
	assert_int_equal(links_check_config(c, &d), 0);
	config_free(c);
	diag_release(&d);
}

static void test_check(void **state)
{
	(void)state;
	static const char bad[] = "store: ':memory:'\n"
				  "templates: templates\n"
				  "transports:\n"
				  "  sms:\n"
				  "    kind: outbox\n"
				  "    channel: sms\n"
				  "    track: sometimes\n"
				  "campaigns:\n"
				  "  a/b:\n"
				  "    track: 1\n"
				  "    trigger: {event: purchase}\n"
				  "    steps: [{after: 0h, channels: [sms], template: t}]\n";
	struct diag d;
	diag_init(&d);
	struct config *c = config_load_mem("bad.yaml", bad, strlen(bad), &d);
	assert_non_null(c);
	diag_release(&d);
	diag_init(&d);
	assert_int_equal(links_check_config(c, &d), 2);
	assert_int_equal(d.errors, 2);
	int camp = 0, tr = 0;
	for (size_t i = 0; i < d.n; i++) {
		camp |= strcmp(d.msgs[i], "bad.yaml:10: campaign \"a/b\": track must be true or false") == 0;
		tr |= strcmp(d.msgs[i], "bad.yaml:7: transport \"sms\": track must be true or false") == 0;
	}
	if (!camp || !tr)
		fail_msg("check: %s | %s", d.msgs[0], d.n > 1 ? d.msgs[1] : "");
	/* a bad value counts as absent */
	assert_int_equal(links_tracking_on(c, "a/b", config_transport(c, "sms")), 0);
	config_free(c);
	diag_release(&d);
}

/* the links of a send, and a retry that records them again: the first
 * recording stays; read back with sqlite3 itself (the store has no reader
 * for links yet) */
static void test_store(void **state)
{
	(void)state;
	char path[] = "/tmp/test_links.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	struct err e = {{0}};
	struct store *s = store_open(path, &e);
	int from, to;
	assert_non_null(s);
	assert_int_equal(store_migrate(s, &from, &to, &e), 0);
	char *a[] = {"https://a.example.com/?q=中&x=1", "https://b.example.com/"};
	char *b[] = {"https://changed.example.com/", "https://b.example.com/",
		     "https://c.example.com/"};
	assert_int_equal(store_links_add(s, 7, a, 2, &e), 0);
	assert_int_equal(store_begin(s, &e), 0);
	assert_int_equal(store_links_add(s, 7, b, 3, &e), 0);
	assert_int_equal(store_commit(s, &e), 0);
	assert_int_equal(store_links_add(s, 8, NULL, 0, &e), 0);
	store_close(s);
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT send_id, idx, url FROM links ORDER BY send_id, idx",
					    -1, &st, NULL),
			 SQLITE_OK);
	const char *want[] = {"7 1 https://a.example.com/?q=中&x=1", "7 2 https://b.example.com/",
			      "7 3 https://c.example.com/"};
	size_t n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		char row[256];
		snprintf(row, sizeof(row), "%lld %d %s", (long long)sqlite3_column_int64(st, 0),
			 sqlite3_column_int(st, 1), (const char *)sqlite3_column_text(st, 2));
		assert_true(n < 3);
		assert_string_equal(row, want[n]);
		n++;
	}
	assert_int_equal(n, 3);
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
