/* test_mime.c - mime_build golden files, decoding round trips, injection
 *
 * Each tests/data/mime/NAME.in is a JSON message (the fields of struct
 * message, "headers" as [[name, value], ...], "now" as RFC 3339); NAME.out
 * is the exact expected output. Besides the byte comparison every golden
 * output is decoded here (RFC 2047 words, quoted-printable) and, when
 * /usr/bin/python3 exists, by Python's email package, and must give back
 * the input text exactly. OUTREACH_GOLDEN_UPDATE=1 rewrites the .out files
 * (review the diff before keeping it). Run from the project root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "mime.h"
#include "timeutil.h"
#include "xmalloc.h"

#define DATA_DIR "tests/data/mime/"
#define PYTHON "/usr/bin/python3"

/* ---- helpers ---- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	*len = b.len;
	return buf_detach(&b);
}

/* crlf - s with every LF (or CRLF) as CRLF, as a body decodes to */
static char *crlf(const char *s)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	for (; s && *s; s++) {
		if (*s == '\r' && s[1] == '\n')
			continue;
		if (*s == '\n')
			buf_putc(&b, '\r');
		buf_putc(&b, *s);
	}
	return buf_detach(&b);
}

static char *b64_decode(const char *s, size_t n, size_t *outlen)
{
	unsigned char *out = xmalloc(n / 4 * 3 + 4);
	assert_int_equal(n % 4, 0);
	int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	assert_true(r >= 0);
	/* EVP_DecodeBlock counts the padding as zero bytes */
	size_t len = (size_t)r;
	if (n >= 1 && s[n - 1] == '=')
		len--;
	if (n >= 2 && s[n - 2] == '=')
		len--;
	out[len] = '\0';
	*outlen = len;
	return (char *)out;
}

static int utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t k;
		if (p[i] < 0x80)
			k = 1;
		else if (p[i] >= 0xc2 && p[i] <= 0xdf)
			k = 2;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			k = 3;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			k = 4;
		else
			return 0;
		if (i + k > n)
			return 0;
		for (size_t j = 1; j < k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

/* rfc2047_decode - unfolded header text with B encoded-words decoded;
 * whitespace between two encoded-words is dropped. Every word must be at
 * most 75 characters and decode to complete UTF-8 on its own. */
static char *rfc2047_decode(const char *s)
{
	struct buf b = BUF_INIT;
	int prev_word = 0;
	buf_puts(&b, "");
	while (*s) {
		if (s[0] == '=' && s[1] == '?') {
			assert_true(strncmp(s, "=?UTF-8?B?", 10) == 0);
			const char *end = strstr(s + 10, "?=");
			assert_non_null(end);
			assert_true(end + 2 - s <= 75);
			size_t n;
			char *d = b64_decode(s + 10, (size_t)(end - (s + 10)), &n);
			assert_true(utf8_valid((unsigned char *)d, n));
			buf_append(&b, d, n);
			free(d);
			s = end + 2;
			prev_word = 1;
			continue;
		}
		if (*s == ' ' || *s == '\t') {
			const char *w = s;
			while (*w == ' ' || *w == '\t')
				w++;
			if (!(prev_word && w[0] == '=' && w[1] == '?'))
				buf_append(&b, s, (size_t)(w - s));
			s = w;
			continue;
		}
		buf_putc(&b, *s++);
		prev_word = 0;
	}
	return buf_detach(&b);
}

static char *qp_decode(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '=') {
			buf_putc(&b, s[i]);
			continue;
		}
		if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
			continue;
		}
		assert_true(i + 2 < n);
		char hex[3] = {s[i + 1], s[i + 2], 0};
		assert_true(strspn(hex, "0123456789ABCDEF") == 2);
		buf_putc(&b, (char)strtol(hex, NULL, 16));
		i += 2;
	}
	return buf_detach(&b);
}

/* A parsed entity: unfolded headers and the raw body. */
struct entity {
	char *names[32];
	char *values[32];
	size_t n;
	const char *body;
	size_t body_len;
};

static void entity_parse(const char *s, size_t len, struct entity *en)
{
	const char *p = s, *end = s + len;
	memset(en, 0, sizeof(*en));
	while (p < end) {
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			p += 2;
			break;
		}
		const char *colon = memchr(p, ':', (size_t)(end - p));
		assert_non_null(colon);
		struct buf v = BUF_INIT;
		buf_puts(&v, "");
		const char *q = colon + 1;
		for (;;) {
			const char *eol = strstr(q, "\r\n");
			assert_non_null(eol);
			buf_append(&v, q, (size_t)(eol - q));
			q = eol + 2;
			if (*q != ' ' && *q != '\t')
				break;
		}
		assert_true(en->n < 32);
		/* leading whitespace is not part of the value, folded or not */
		char *val = buf_detach(&v);
		size_t lead = strspn(val, " \t");
		memmove(val, val + lead, strlen(val + lead) + 1);
		en->names[en->n] = xstrndup(p, (size_t)(colon - p));
		en->values[en->n] = val;
		en->n++;
		p = q;
	}
	en->body = p;
	en->body_len = (size_t)(end - p);
}

static const char *entity_get(const struct entity *en, const char *name)
{
	for (size_t i = 0; i < en->n; i++)
		if (strcasecmp(en->names[i], name) == 0)
			return en->values[i];
	return NULL;
}

static void entity_release(struct entity *en)
{
	for (size_t i = 0; i < en->n; i++) {
		free(en->names[i]);
		free(en->values[i]);
	}
}

/* part_decode - the decoded body of a leaf entity */
static char *part_decode(const struct entity *en)
{
	const char *cte = entity_get(en, "Content-Transfer-Encoding");
	assert_non_null(cte);
	if (strcmp(cte, "quoted-printable") == 0) {
		/* every encoded line fits in 76 columns */
		const char *p = en->body, *end = en->body + en->body_len;
		while (p < end) {
			const char *eol = strstr(p, "\r\n");
			size_t n = eol && eol < end ? (size_t)(eol - p) : (size_t)(end - p);
			assert_true(n <= 76);
			if (n > 0)
				assert_true(p[n - 1] != ' ' && p[n - 1] != '\t');
			/* and each line holds whole UTF-8 characters */
			char *line = qp_decode(p, eol && eol < end ? n + 2 : n);
			assert_true(utf8_valid((unsigned char *)line, strlen(line)));
			free(line);
			p += n + 2;
		}
		return qp_decode(en->body, en->body_len);
	}
	assert_string_equal(cte, "7bit");
	return xstrndup(en->body, en->body_len);
}

/* ---- golden messages ---- */

struct golden {
	json_t *in;
	struct message m;
	struct header h[16];
	int64_t now;
};

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void golden_load(const char *name, struct golden *g)
{
	char path[256];
	json_error_t je;
	snprintf(path, sizeof(path), DATA_DIR "%s.in", name);
	memset(g, 0, sizeof(*g));
	g->in = json_load_file(path, 0, &je);
	if (!g->in)
		fail_msg("%s:%d: %s", path, je.line, je.text);
	json_t *o = g->in;
	assert_int_equal(time_parse(jstr(o, "now"), &g->now), 0);
	g->m.send_id = json_integer_value(json_object_get(o, "send_id"));
	g->m.channel = CHANNEL_EMAIL;
	g->m.to = jstr(o, "to");
	g->m.to_name = jstr(o, "to_name");
	g->m.from = jstr(o, "from");
	g->m.subject = jstr(o, "subject");
	g->m.text = jstr(o, "text");
	g->m.html = jstr(o, "html");
	g->m.message_id = jstr(o, "message_id");
	g->m.unsubscribe_url = jstr(o, "unsubscribe_url");
	g->m.marketing = json_is_true(json_object_get(o, "marketing"));
	g->m.campaign = jstr(o, "campaign");
	g->m.step = (int)json_integer_value(json_object_get(o, "step"));
	json_t *hs = json_object_get(o, "headers");
	size_t i;
	json_t *pair;
	json_array_foreach(hs, i, pair)
	{
		assert_true(i < 16);
		g->h[i].name = json_string_value(json_array_get(pair, 0));
		g->h[i].value = json_string_value(json_array_get(pair, 1));
		g->m.nheaders = i + 1;
	}
	g->m.headers = g->h;
}

/* check_wire - CRLF only, 7-bit clean, short header lines */
static void check_wire(const char *s, size_t len)
{
	int in_headers = 1;
	size_t line = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		assert_true(c != 0 && c < 0x80);
		if (c == '\r') {
			assert_true(i + 1 < len && s[i + 1] == '\n');
			continue;
		}
		if (c == '\n') {
			assert_true(i > 0 && s[i - 1] == '\r');
			if (line == 0)
				in_headers = 0;
			line = 0;
			continue;
		}
		line++;
		assert_true(line <= (in_headers ? 75u : 998u));
	}
	assert_true(len >= 2 && s[len - 2] == '\r' && s[len - 1] == '\n');
}

/* check_decodes - our own decoders give back subject, names and bodies */
static void check_decodes(const struct golden *g, const char *s, size_t len)
{
	struct entity top;
	entity_parse(s, len, &top);

	const char *subject = entity_get(&top, "Subject");
	if (g->m.subject) {
		assert_non_null(subject);
		char *d = rfc2047_decode(subject);
		assert_string_equal(d, g->m.subject);
		free(d);
	}

	const char *to = entity_get(&top, "To");
	assert_non_null(to);
	if (g->m.to_name) {
		const char *lt = strrchr(to, '<');
		assert_non_null(lt);
		char *want_addr = xasprintf("<%s>", g->m.to);
		assert_string_equal(lt, want_addr);
		free(want_addr);
		char *phrase = xstrndup(to, (size_t)(lt - to));
		size_t pl = strlen(phrase);
		while (pl > 0 && phrase[pl - 1] == ' ')
			phrase[--pl] = '\0';
		char *d;
		if (phrase[0] == '"') {
			struct buf b = BUF_INIT;
			buf_puts(&b, "");
			assert_true(pl >= 2 && phrase[pl - 1] == '"');
			for (size_t i = 1; i + 1 < pl; i++) {
				if (phrase[i] == '\\')
					i++;
				buf_putc(&b, phrase[i]);
			}
			d = buf_detach(&b);
		} else {
			d = rfc2047_decode(phrase);
		}
		assert_string_equal(d, g->m.to_name);
		free(d);
		free(phrase);
	}

	const char *ct = entity_get(&top, "Content-Type");
	assert_non_null(ct);
	if (!g->m.html) {
		assert_string_equal(ct, "text/plain; charset=UTF-8");
		char *d = part_decode(&top);
		char *want = crlf(g->m.text);
		size_t wl = strlen(want);
		/* a 7bit body is given a final line break when it lacks one */
		const char *cte = entity_get(&top, "Content-Transfer-Encoding");
		if (wl > 0 && want[wl - 1] != '\n' && strcmp(cte, "7bit") == 0) {
			char *w2 = xasprintf("%s\r\n", want);
			free(want);
			want = w2;
		}
		assert_string_equal(d, want);
		free(d);
		free(want);
		entity_release(&top);
		return;
	}

	const char *bp = strstr(ct, "boundary=\"");
	assert_non_null(bp);
	assert_true(strncmp(ct, "multipart/alternative;", 22) == 0);
	char *boundary = xstrndup(bp + 10, strcspn(bp + 10, "\""));
	char *delim = xasprintf("\r\n--%s", boundary);
	char *first = xasprintf("--%s\r\n", boundary);
	assert_true(strncmp(top.body, first, strlen(first)) == 0);
	const char *p1 = top.body + strlen(first);
	const char *e1 = strstr(p1, delim);
	assert_non_null(e1);
	assert_true(strncmp(e1 + strlen(delim), "\r\n", 2) == 0);
	const char *p2 = e1 + strlen(delim) + 2;
	const char *e2 = strstr(p2, delim);
	assert_non_null(e2);
	assert_string_equal(e2 + strlen(delim), "--\r\n");

	const char *want_src[2] = {g->m.text, g->m.html};
	const char *want_type[2] = {"text/plain; charset=UTF-8", "text/html; charset=UTF-8"};
	const char *ps[2] = {p1, p2}, *es[2] = {e1, e2};
	for (int k = 0; k < 2; k++) {
		struct entity part;
		entity_parse(ps[k], (size_t)(es[k] - ps[k]), &part);
		assert_string_equal(entity_get(&part, "Content-Type"), want_type[k]);
		assert_null(memmem(ps[k], (size_t)(es[k] - ps[k]), boundary, strlen(boundary)));
		char *d = part_decode(&part);
		char *want = crlf(want_src[k]);
		assert_string_equal(d, want);
		free(d);
		free(want);
		entity_release(&part);
	}
	free(boundary);
	free(delim);
	free(first);
	entity_release(&top);
}

/* check_python - the standard library's parser agrees, when there is one */
static void check_python(const struct golden *g, const char *path)
{
	static const char script[] =
	    "import email, json, sys\n"
	    "from email import policy\n"
	    "m = email.message_from_binary_file(open(sys.argv[1], \"rb\"), policy=policy.default)\n"
	    "def box(h):\n"
	    "    a = m[h].addresses[0]\n"
	    "    return [a.display_name, a.addr_spec]\n"
	    "r = {\"subject\": str(m[\"subject\"]) if m[\"subject\"] is not None else None,\n"
	    "     \"to\": box(\"to\"), \"from\": box(\"from\")}\n"
	    "p = m.get_body((\"plain\",))\n"
	    "r[\"text\"] = p.get_content() if p is not None else None\n"
	    "h = m.get_body((\"html\",))\n"
	    "r[\"html\"] = h.get_content() if h is not None else None\n"
	    "r[\"defects\"] = sum(len(x.defects) for x in m.walk())\n"
	    "sys.stdout.write(json.dumps(r))\n";
	if (access(PYTHON, X_OK) != 0)
		return;
	char *cmd = xasprintf(PYTHON " -c '%s' %s", script, path);
	FILE *f = popen(cmd, "r");
	free(cmd);
	assert_non_null(f);
	json_error_t je;
	json_t *r = json_loadf(f, 0, &je);
	assert_int_equal(pclose(f), 0);
	if (!r)
		fail_msg("python output: %s", je.text);

	assert_int_equal(json_integer_value(json_object_get(r, "defects")), 0);
	if (g->m.subject)
		assert_string_equal(jstr(r, "subject"), g->m.subject);
	json_t *to = json_object_get(r, "to");
	assert_string_equal(json_string_value(json_array_get(to, 0)),
			    g->m.to_name ? g->m.to_name : "");
	assert_string_equal(json_string_value(json_array_get(to, 1)), g->m.to);

	/* Python hands back text with the line ends as sent (CRLF) */
	const char *want_src[2] = {g->m.text, g->m.html};
	const char *key[2] = {"text", "html"};
	for (int k = 0; k < 2; k++) {
		if (!want_src[k]) {
			assert_true(json_is_null(json_object_get(r, key[k])));
			continue;
		}
		char *got = crlf(jstr(r, key[k]));
		char *want = crlf(want_src[k]);
		size_t gl = strlen(got), wl = strlen(want);
		/* a single 7bit part gained a final line break */
		if (gl == wl + 2 && !g->m.html && strcmp(got + wl, "\r\n") == 0)
			got[wl] = '\0';
		assert_string_equal(got, want);
		free(got);
		free(want);
	}
	json_decref(r);
}

static void golden_run(const char *name)
{
	struct golden g;
	struct buf out = BUF_INIT;
	struct err e;
	char path[256];

	golden_load(name, &g);
	err_clear(&e);
	if (mime_build(&g.m, g.now, &out, &e) != 0)
		fail_msg("%s: mime_build: %s", name, e.msg);

	snprintf(path, sizeof(path), DATA_DIR "%s.out", name);
	const char *upd = getenv("OUTREACH_GOLDEN_UPDATE");
	if (upd && strcmp(upd, "1") == 0) {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(out.data, 1, out.len, f), out.len);
		assert_int_equal(fclose(f), 0);
	}
	size_t wl = 0;
	char *want = slurp(path, &wl);
	if (!want)
		fail_msg("%s: cannot read", path);
	if (wl != out.len || memcmp(want, out.data, wl) != 0) {
		size_t i = 0;
		while (i < wl && i < out.len && want[i] == out.data[i])
			i++;
		char act[256];
		snprintf(act, sizeof(act), "/tmp/outreach-%s.actual", name);
		FILE *f = fopen(act, "wb");
		if (f) {
			fwrite(out.data, 1, out.len, f);
			fclose(f);
		}
		fail_msg("%s: output differs from %s at byte %zu (actual in %s)", name, path, i,
			 act);
	}
	check_wire(out.data, out.len);
	check_decodes(&g, out.data, out.len);
	check_python(&g, path);

	free(want);
	buf_release(&out);
	json_decref(g.in);
}

static void test_golden_ascii_plain(void **state)
{
	(void)state;
	golden_run("ascii_plain");
}

static void test_golden_chinese(void **state)
{
	(void)state;
	golden_run("chinese");
}

static void test_golden_long_subject(void **state)
{
	(void)state;
	golden_run("long_subject");
}

static void test_golden_multipart(void **state)
{
	(void)state;
	golden_run("multipart");
}

static void test_golden_qp_body(void **state)
{
	(void)state;
	golden_run("qp_body");
}

static void test_golden_marketing(void **state)
{
	(void)state;
	golden_run("marketing");
}

static void test_golden_quoted_name(void **state)
{
	(void)state;
	golden_run("quoted_name");
}

/* ---- table-driven unit tests ---- */

static struct message base_message(void)
{
	struct message m;
	memset(&m, 0, sizeof(m));
	m.send_id = 1;
	m.channel = CHANNEL_EMAIL;
	m.from = "Acme <care@example.com>";
	m.to = "alice@example.com";
	m.to_name = "Alice";
	m.subject = "Hello";
	m.text = "Hi\n";
	m.message_id = "<1@example.com>";
	m.campaign = "c";
	return m;
}

static void test_qp(void **state)
{
	(void)state;
	char a80[81], a76[78], a77[79], a74eq[77];
	memset(a80, 'a', 80);
	a80[80] = '\0';
	memset(a76, 'a', 76);
	a76[76] = '\n';
	a76[77] = '\0';
	memset(a77, 'a', 77);
	a77[77] = '\n';
	a77[78] = '\0';
	char a70eb[75], a70e[74];
	memset(a70eb, 'a', 70);
	memcpy(a70eb + 70, "\303\251b\n", 5);
	memset(a70e, 'a', 70);
	memcpy(a70e + 70, "\xc3\xa9\n", 4);
	memset(a74eq, 'a', 74);
	a74eq[74] = '=';
	a74eq[75] = '\n';
	a74eq[76] = '\0';
	struct {
		const char *in, *want;
	} cases[] = {
	    {"", ""},
	    {"plain\n", "plain\r\n"},
	    {"a=b\n", "a=3Db\r\n"},
	    {"trailing \n", "trailing=20\r\n"},
	    {"tab\t\r\n", "tab=09\r\n"},
	    {"two  spaces  \n", "two  spaces =20\r\n"},
	    {"no newline", "no newline=\r\n"},
	    {"end space ", "end space=20=\r\n"},
	    {"\xc3\xa9t\xc3\xa9\n", "=C3=A9t=C3=A9\r\n"},
	    {"lone\rcr\n", "lone=0Dcr\r\n"},
	    {"x\r\r\ny\n", "x=0D\r\ny\r\n"},
	    {"\n\n", "\r\n\r\n"},
	    {a80, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=\r\n"
		  "aaaaa=\r\n"},
	    {a76,
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"},
	    {a77, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=\r\n"
		  "aa\r\n"},
	    {a74eq,
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=\r\n"
	     "=3D\r\n"},
	    /* a UTF-8 sequence is not split by a soft break */
	    {a70eb, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=\r\n"
		    "=C3=A9b\r\n"},
	    {a70e,
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=C3=A9\r\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct buf out = BUF_INIT;
		mime_qp(cases[i].in, strlen(cases[i].in), &out);
		if (strcmp(buf_cstr(&out), cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, buf_cstr(&out));
		/* and it decodes back, line ends as CRLF */
		char *d = qp_decode(buf_cstr(&out), out.len);
		char *want = crlf(cases[i].in);
		assert_string_equal(d, want);
		free(d);
		free(want);
		buf_release(&out);
	}
}

static void test_encode_header_ascii(void **state)
{
	(void)state;
	struct {
		const char *name, *value, *want;
	} cases[] = {
	    {"Subject", "Hello world", "Subject: Hello world\r\n"},
	    {"Subject", "", "Subject:\r\n"},
	    {"X-Tab", "a\tb", "X-Tab: a\tb\r\n"},
	    {"Subject",
	     "The quick brown fox jumps over the lazy dog and keeps running far away from here",
	     "Subject: The quick brown fox jumps over the lazy dog and keeps running far\r\n"
	     " away from here\r\n"},
	    /* looks like an encoded-word: encoded so a reader shows it as is */
	    {"Subject", "=?x?=", "Subject: =?UTF-8?B?PT94Pz0=?=\r\n"},
	    /* CR and LF can never reach the wire raw */
	    {"Subject", "a\r\nBcc: x", "Subject: =?UTF-8?B?YQ0KQmNjOiB4?=\r\n"},
	    {"Subject", "\xe4\xbd\xa0\xe5\xa5\xbd", "Subject: =?UTF-8?B?5L2g5aW9?=\r\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct buf out = BUF_INIT;
		mime_encode_header(cases[i].name, cases[i].value, &out);
		if (strcmp(buf_cstr(&out), cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, buf_cstr(&out));
		buf_release(&out);
	}
}

/* every header name length and mix of 1- to 4-byte characters: words of
 * at most 75, lines of at most 75, whole characters per word, exact text */
static void test_encode_header_props(void **state)
{
	(void)state;
	const char *values[] = {
	    "\xe4\xb8\xad",
	    "\xe6\x84\x9f\xe8\xb0\xa2\xe6\x82\xa8\xe7\x9a\x84\xe8\xb4\xad\xe4\xb9\xb0 abc "
	    "\xf0\x9f\x8e\x81\xf0\x9f\x8e\x81\xf0\x9f\x8e\x81 \xc3\xa9\xc3\xa9 "
	    "\xe6\x84\x9f\xe8\xb0\xa2\xe6\x82\xa8\xe7\x9a\x84\xe8\xb4\xad\xe4\xb9\xb0"
	    "\xe6\x84\x9f\xe8\xb0\xa2\xe6\x82\xa8\xe7\x9a\x84\xe8\xb4\xad\xe4\xb9\xb0"
	    "\xe6\x84\x9f\xe8\xb0\xa2\xe6\x82\xa8\xe7\x9a\x84\xe8\xb4\xad\xe4\xb9\xb0",
	    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
	    " leading and trailing spaces \xc3\xa9  ",
	};
	char name[80];
	for (size_t v = 0; v < sizeof(values) / sizeof(*values); v++) {
		for (size_t nl = 1; nl <= 70; nl++) {
			memset(name, 'X', nl);
			name[nl] = '\0';
			struct buf out = BUF_INIT;
			mime_encode_header(name, values[v], &out);
			const char *s = buf_cstr(&out);
			/* lines */
			const char *p = s;
			while (*p) {
				const char *eol = strstr(p, "\r\n");
				assert_non_null(eol);
				assert_true(eol - p <= 75);
				assert_true(eol > p); /* no empty folded line */
				p = eol + 2;
				if (*p)
					assert_true(*p == ' ');
			}
			/* unfold, strip "NAME:", decode */
			struct entity en;
			char *msg = xasprintf("%s\r\n", s);
			entity_parse(msg, strlen(msg), &en);
			assert_int_equal(en.n, 1);
			assert_string_equal(en.names[0], name);
			char *d = rfc2047_decode(en.values[0]);
			assert_string_equal(d, values[v]);
			free(d);
			free(msg);
			entity_release(&en);
			buf_release(&out);
		}
	}
}

static void test_injection(void **state)
{
	(void)state;
	static const char *const bad[] = {"x\r\nBcc: evil@example.com", "x\nBcc: e@x", "x\r"};
	enum { F_FROM, F_TO, F_TO_NAME, F_SUBJECT, F_MSGID, F_UNSUB, F_HDR_VALUE, F_N };
	static const char *const want[F_N] = {"\"From\"",	"\"To\"",
					      "\"To\"",		"\"Subject\"",
					      "\"Message-ID\"", "\"List-Unsubscribe\"",
					      "\"Reply-To\""};
	for (size_t b = 0; b < sizeof(bad) / sizeof(*bad); b++) {
		for (int f = 0; f < F_N; f++) {
			struct message m = base_message();
			struct header h = {"Reply-To", "r@example.com"};
			m.marketing = 1;
			m.unsubscribe_url = "https://t.example.com/u/1";
			m.headers = &h;
			m.nheaders = 1;
			char *v = f == F_FROM ? xasprintf("A <a@example.com>%s", bad[b])
					      : xstrdup(bad[b]);
			switch (f) {
			case F_FROM:
				m.from = v;
				break;
			case F_TO:
				m.to = v;
				break;
			case F_TO_NAME:
				m.to_name = v;
				break;
			case F_SUBJECT:
				m.subject = v;
				break;
			case F_MSGID:
				m.message_id = v;
				break;
			case F_UNSUB:
				m.unsubscribe_url = v;
				break;
			case F_HDR_VALUE:
				h.value = v;
				break;
			}
			struct buf out = BUF_INIT;
			buf_puts(&out, "untouched");
			struct err e;
			err_clear(&e);
			assert_int_equal(mime_build(&m, 0, &out, &e), -1);
			if (!strstr(e.msg, want[f]) || !strstr(e.msg, "CR or LF"))
				fail_msg("field %d: message \"%s\"", f, e.msg);
			assert_string_equal(buf_cstr(&out), "untouched");
			buf_release(&out);
			free(v);
		}
	}
}

static void test_rejects(void **state)
{
	(void)state;
	struct {
		const char *from, *to, *hname, *hvalue, *url, *want;
	} cases[] = {
	    {NULL, "a@example.com", NULL, NULL, NULL, "missing From"},
	    {"", "a@example.com", NULL, NULL, NULL, "missing From"},
	    {"care@example.com", NULL, NULL, NULL, NULL, "missing To"},
	    {"care@example.com", "", NULL, NULL, NULL, "missing To"},
	    {"care@example.com", "a@example.com, b@example.com", NULL, NULL, NULL, "\"To\""},
	    {"care@example.com", "Bob <b@example.com>", NULL, NULL, NULL, "\"To\""},
	    {"care@example.com", "nobody", NULL, NULL, NULL, "\"To\""},
	    {"Acme Care", "a@example.com", NULL, NULL, NULL, "\"From\""},
	    {"care@example.com", "a@example.com", "Subject", "again", NULL, "\"Subject\""},
	    {"care@example.com", "a@example.com", "content-type", "text/html", NULL,
	     "\"content-type\""},
	    {"care@example.com", "a@example.com", "Bad Name", "x", NULL, "field name"},
	    {"care@example.com", "a@example.com", "X:Y", "x", NULL, "field name"},
	    {"care@example.com", "a@example.com", "Reply-To", "\xe5\xbc\xa0 <a@b>, <c@d>", NULL,
	     "\"Reply-To\""},
	    {"care@example.com", "a@example.com", NULL, NULL, "https://x/a b", "List-Unsubscribe"},
	    {"care@example.com", "a@example.com", NULL, NULL, "https://x/>", "List-Unsubscribe"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct message m = base_message();
		struct header h = {cases[i].hname, cases[i].hvalue};
		m.from = cases[i].from;
		m.to = cases[i].to;
		if (cases[i].hname) {
			m.headers = &h;
			m.nheaders = 1;
		}
		if (cases[i].url) {
			m.marketing = 1;
			m.unsubscribe_url = cases[i].url;
		}
		struct buf out = BUF_INIT;
		struct err e;
		err_clear(&e);
		if (mime_build(&m, 0, &out, &e) != -1)
			fail_msg("case %zu: accepted:\n%s", i, buf_cstr(&out));
		if (!strstr(e.msg, cases[i].want))
			fail_msg("case %zu: message \"%s\"", i, e.msg);
		assert_int_equal(out.len, 0);
		buf_release(&out);
	}
}

static int build_ok(const struct message *m, int64_t now, struct buf *out)
{
	struct err e;
	err_clear(&e);
	int rc = mime_build(m, now, out, &e);
	if (rc != 0)
		fail_msg("mime_build: %s", e.msg);
	return rc;
}

/* 998 octets on a line is still 7bit; 999 needs quoted-printable */
static void test_7bit_limit(void **state)
{
	(void)state;
	for (size_t n = 997; n <= 999; n++) {
		char *text = xmalloc(n + 2);
		memset(text, 'x', n);
		text[n] = '\n';
		text[n + 1] = '\0';
		struct message m = base_message();
		m.text = text;
		struct buf out = BUF_INIT;
		build_ok(&m, 0, &out);
		int qp =
		    strstr(buf_cstr(&out), "Content-Transfer-Encoding: quoted-printable") != NULL;
		assert_int_equal(qp, n > 998);
		check_wire(out.data, out.len);
		buf_release(&out);
		free(text);
	}
}

static void test_unsubscribe_only_marketing(void **state)
{
	(void)state;
	struct message m = base_message();
	m.unsubscribe_url = "https://t.example.com/u/1";
	for (int mk = 0; mk <= 1; mk++) {
		m.marketing = mk;
		struct buf out = BUF_INIT;
		build_ok(&m, 0, &out);
		const char *s = buf_cstr(&out);
		int has =
		    strstr(s, "\r\nList-Unsubscribe: <https://t.example.com/u/1>\r\n"
			      "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n") != NULL;
		assert_int_equal(has, mk);
		assert_int_equal(strstr(s, "List-Unsubscribe") != NULL, mk);
		buf_release(&out);
	}
	/* marketing without a URL: nothing to offer */
	m.marketing = 1;
	m.unsubscribe_url = NULL;
	struct buf out = BUF_INIT;
	build_ok(&m, 0, &out);
	assert_null(strstr(buf_cstr(&out), "List-Unsubscribe"));
	buf_release(&out);
}

static void test_message_id_and_date(void **state)
{
	(void)state;
	struct message m = base_message();
	struct buf out = BUF_INIT;
	m.send_id = 77;
	m.message_id = NULL;
	/* 2024-02-29T23:59:59Z, a Thursday */
	build_ok(&m, 1709251199, &out);
	assert_non_null(
	    strstr(buf_cstr(&out), "\r\nMessage-ID: <outreach.77.1709251199@example.com>\r\n"));
	assert_true(strncmp(buf_cstr(&out), "Date: Thu, 29 Feb 2024 23:59:59 +0000\r\n", 39) == 0);
	buf_reset(&out);
	m.message_id = "abc@example.com";
	build_ok(&m, 0, &out);
	assert_non_null(strstr(buf_cstr(&out), "\r\nMessage-ID: <abc@example.com>\r\n"));
	assert_true(strncmp(buf_cstr(&out), "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n", 39) == 0);
	buf_release(&out);
}

/* mime_build appends to what out already holds */
static void test_appends(void **state)
{
	(void)state;
	struct message m = base_message();
	struct buf out = BUF_INIT;
	buf_puts(&out, "X-Prefix: 1\r\n");
	build_ok(&m, 0, &out);
	assert_true(strncmp(buf_cstr(&out), "X-Prefix: 1\r\nDate: ", 19) == 0);
	buf_release(&out);
}

/* text that is only an empty string still makes a valid message */
static void test_empty_text(void **state)
{
	(void)state;
	struct message m = base_message();
	m.text = NULL;
	m.subject = NULL;
	struct buf out = BUF_INIT;
	build_ok(&m, 0, &out);
	const char *s = buf_cstr(&out);
	assert_null(strstr(s, "Subject"));
	assert_true(out.len > 4 && strcmp(s + out.len - 4, "\r\n\r\n") == 0);
	check_wire(out.data, out.len);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_ascii_plain),
	    cmocka_unit_test(test_golden_chinese),
	    cmocka_unit_test(test_golden_long_subject),
	    cmocka_unit_test(test_golden_multipart),
	    cmocka_unit_test(test_golden_qp_body),
	    cmocka_unit_test(test_golden_marketing),
	    cmocka_unit_test(test_golden_quoted_name),
	    cmocka_unit_test(test_qp),
	    cmocka_unit_test(test_encode_header_ascii),
	    cmocka_unit_test(test_encode_header_props),
	    cmocka_unit_test(test_injection),
	    cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_7bit_limit),
	    cmocka_unit_test(test_unsubscribe_only_marketing),
	    cmocka_unit_test(test_message_id_and_date),
	    cmocka_unit_test(test_appends),
	    cmocka_unit_test(test_empty_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
