/* links.c - link and open tracking at render time (links.h).
 *
 * How: one pass over the text (or markdown) and one over the HTML, each
 * copying the input to a buffer and replacing link targets on the way.
 * Text is scanned for http(s):// at a word start and for markdown
 * [label](target); HTML is tokenized just enough to find tags, their
 * attributes and their end (quotes respected, as a browser's tokenizer
 * does), comments, and the raw text of script, style, title and textarea,
 * which is copied untouched. Only the first href of an <a> start tag is
 * looked at; its value is entity-decoded before it is judged and stored.
 * The distinct URLs get indexes in order of first appearance.
 *
 * Security: the recipient's link is replaced by a signed token that names
 * only the send and the index; the URL itself goes to the store, and
 * `serve` redirects to nothing else (no open redirect). The new href is
 * written HTML-escaped, so a base URL with a quote cannot break out of the
 * attribute. Input is untrusted (contact data rendered into the template):
 * every scan is bounded by the input's length and never backs up, so the
 * work is linear; at most LINKS_MAX distinct links are tracked.
 */
#include "links.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "str.h"
#include "track.h"
#include "xmalloc.h"

struct rw {
	const char *base;
	size_t nbase; /* without trailing slashes */
	const char *secret;
	int64_t send_id;
	char **urls;
	size_t n, cap;
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/* is_space - HTML's ASCII whitespace */
static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* prefix_ieq - the n bytes at s start with the word w, ignoring ASCII case */
static int prefix_ieq(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);
	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (lower((unsigned char)s[i]) != w[i])
			return 0;
	return 1;
}

/* http_len - length of "http://" or "https://" (any case) at s when a host
 * follows, else 0 */
static size_t http_len(const char *s, size_t n)
{
	size_t k = prefix_ieq(s, n, "http://") ? 7 : prefix_ieq(s, n, "https://") ? 8 : 0;
	if (!k || k >= n || !(is_alnum((unsigned char)s[k]) || s[k] == '['))
		return 0;
	return k;
}

/* ours - u starts with the tracking base URL: already a tracked link */
static int ours(const struct rw *r, const char *u, size_t n)
{
	if (!r->nbase || n < r->nbase)
		return 0;
	for (size_t i = 0; i < r->nbase; i++)
		if (lower((unsigned char)u[i]) != lower((unsigned char)r->base[i]))
			return 0;
	return n == r->nbase || strchr("/?#", u[r->nbase]) != NULL;
}

/* link_index - the index of url (1-based), a new one when first seen; 0
 * when LINKS_MAX distinct links are already tracked */
static int link_index(struct rw *r, const char *u, size_t n)
{
	for (size_t i = 0; i < r->n; i++)
		if (strlen(r->urls[i]) == n && memcmp(r->urls[i], u, n) == 0)
			return (int)i + 1;
	if (r->n >= LINKS_MAX)
		return 0;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->urls = xrealloc(r->urls, r->cap * sizeof(*r->urls));
	}
	r->urls[r->n++] = xstrndup(u, n);
	return (int)r->n;
}

/* put_escaped - s HTML-escaped for an attribute value */
static void put_escaped(struct buf *out, const char *s)
{
	for (; *s; s++) {
		const char *ent = str_html_entity((unsigned char)*s);
		if (ent)
			buf_puts(out, ent);
		else
			buf_putc(out, *s);
	}
}

/* tracked - the tracked URL for link idx; caller frees */
static char *tracked(const struct rw *r, char kind, int idx)
{
	char *tok = track_token(r->secret, kind, r->send_id, idx);
	char *u = xasprintf("%.*s/%c/%s", (int)r->nbase, r->base, kind, tok);
	free(tok);
	return u;
}

/* trackable - an http(s) URL of someone else's, without controls (it
 * becomes a Location header when followed) */
static int trackable(const struct rw *r, const char *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] < 0x20 || u[i] == 0x7f)
			return 0;
	return http_len(u, n) && !ours(r, u, n);
}

/* replace - put the tracked form of url u (n bytes) into out, or u itself
 * when it is not to be tracked */
static void replace(struct rw *r, const char *u, size_t n, int html, struct buf *out)
{
	int idx = trackable(r, u, n) ? link_index(r, u, n) : 0;
	if (!idx) {
		buf_append(out, u, n);
		return;
	}
	char *t = tracked(r, 'c', idx);
	if (html)
		put_escaped(out, t);
	else
		buf_puts(out, t);
	free(t);
}

/* ---- text and markdown ------------------------------------------------ */

/* url_char - may be inside a bare URL (RFC 3986 characters and a few
 * others seen in the wild; never space, controls, non-ASCII or brackets,
 * so that rewriting a URL never changes what is a markdown label) */
static int url_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("<>\"`{}|\\^[]", c);
}

/* bare_end - the end of the bare URL that starts at i (after a scheme of
 * k bytes) */
static size_t bare_end(const char *s, size_t n, size_t i, size_t k)
{
	size_t e = i + k;
	if (e < n && s[e] == '[') { /* an IPv6 literal */
		size_t v = e + 1;
		while (v < n && (is_alnum((unsigned char)s[v]) || s[v] == ':' || s[v] == '.'))
			v++;
		e = v < n && s[v] == ']' ? v + 1 : e;
	}
	while (e < n && url_char((unsigned char)s[e]))
		e++;
	for (;;) {
		if (e <= i)
			break;
		char c = s[e - 1];
		if (strchr(".,;:!?'*_~", c)) {
			e--;
			continue;
		}
		if (c == ')') {
			int depth = 0;
			for (size_t p = i; p < e; p++)
				depth += s[p] == '(' ? 1 : s[p] == ')' ? -1 : 0;
			if (depth < 0) {
				e--;
				continue;
			}
		}
		break;
	}
	return e;
}

/* bare_rewritable - a bare URL may be rewritten only when taking it out
 * changes nothing for the markdown around it: its parentheses open before
 * they close and all close (target_end counts them), and it holds no
 * bracket (an IPv6 literal; md_link's label ends at one). Such a URL is
 * left as it is, untracked, so that a second pass finds the same links. */
static int bare_rewritable(const char *u, size_t n)
{
	int depth = 0;
	for (size_t i = 0; i < n && depth >= 0; i++) {
		if (u[i] == '[' || u[i] == ']')
			return 0;
		depth += u[i] == '(' ? 1 : u[i] == ')' ? -1 : 0;
	}
	return depth == 0;
}

/* target_end - the end of a markdown link target starting at i: at white
 * space, a bracket or the ) that closes it */
static size_t target_end(const char *s, size_t n, size_t i)
{
	int depth = 0;
	size_t e = i;
	for (; e < n; e++) {
		unsigned char c = (unsigned char)s[e];
		if (c <= 0x20 || c == 0x7f || c == '[' || c == ']')
			break;
		if (c == '(')
			depth++;
		else if (c == ')' && depth-- == 0)
			break;
	}
	return e;
}

static size_t skip_blanks(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

/* md_link - is '[' at i the start of a markdown link [label](target) or
 * [label](target "title")? Then 1 with the target in [*ts, *te) (inside
 * its <> when it has them) and *end just after the ). A label holds no
 * brackets and no blank line, a target no brackets and a title no line
 * end (and at most 1000 bytes), so what counts as a link never depends on
 * a URL inside it, and each byte is looked at a bounded number of times. */
static int md_link(const char *s, size_t n, size_t i, size_t *ts, size_t *te, size_t *end)
{
	size_t k = i + 1;
	for (; k < n && s[k] != ']'; k++) {
		if (s[k] == '\\' && k + 1 < n && s[k + 1] != '\n') {
			k++;
			continue;
		}
		if (s[k] == '[' || (s[k] == '\n' && k + 1 < n && s[k + 1] == '\n'))
			return 0;
	}
	if (k + 1 >= n || s[k] != ']' || s[k + 1] != '(')
		return 0;
	k += 2;
	if (k < n && s[k] == '<') {
		size_t g = k + 1;
		while (g < n && s[g] != '>' && s[g] != '<' && s[g] != '\n')
			g++;
		if (g >= n || s[g] != '>')
			return 0;
		*ts = k + 1;
		*te = g;
		k = g + 1;
	} else {
		*ts = k;
		*te = k = target_end(s, n, k);
	}
	size_t w = skip_blanks(s, n, k);
	if (w > k && w < n && (s[w] == '"' || s[w] == '\'')) {
		size_t q = w + 1;
		while (q < n && q < w + 1000 && s[q] != s[w] && s[q] != '\n')
			q++;
		if (q >= n || s[q] != s[w])
			return 0;
		w = skip_blanks(s, n, q + 1);
	}
	if (w >= n || s[w] != ')')
		return 0;
	*end = w + 1;
	return 1;
}

static void rewrite_text(struct rw *r, const char *s, struct buf *out)
{
	size_t n = strlen(s), i = 0;
	buf_puts(out, "");
	while (i < n) {
		size_t ts, te, end;
		if (s[i] == '[' && md_link(s, n, i, &ts, &te, &end)) {
			/* the label and an image's target as they are */
			buf_append(out, s + i, ts - i);
			if (i > 0 && s[i - 1] == '!')
				buf_append(out, s + ts, te - ts);
			else
				replace(r, s + ts, te - ts, 0, out);
			buf_append(out, s + te, end - te);
			i = end;
			continue;
		}
		size_t k;
		if ((s[i] == 'h' || s[i] == 'H') &&
		    (i == 0 || !is_alnum((unsigned char)s[i - 1])) &&
		    (k = http_len(s + i, n - i)) != 0) {
			size_t e = bare_end(s, n, i, k);
			if (bare_rewritable(s + i, e - i))
				replace(r, s + i, e - i, 0, out);
			else
				buf_append(out, s + i, e - i);
			i = e;
			continue;
		}
		buf_putc(out, s[i++]);
	}
}

/* ---- HTML ------------------------------------------------------------- */

/* put_utf8 - code point c as UTF-8 (U+FFFD for what is not a character) */
static void put_utf8(struct buf *b, unsigned long c)
{
	char u[4];
	if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		c = 0xFFFD;
	if (c < 0x80) {
		buf_putc(b, (char)c);
	} else if (c < 0x800) {
		u[0] = (char)(0xC0 | (c >> 6));
		u[1] = (char)(0x80 | (c & 0x3F));
		buf_append(b, u, 2);
	} else if (c < 0x10000) {
		u[0] = (char)(0xE0 | (c >> 12));
		u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		u[2] = (char)(0x80 | (c & 0x3F));
		buf_append(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | (c >> 18));
		u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
		u[3] = (char)(0x80 | (c & 0x3F));
		buf_append(b, u, 4);
	}
}

/* decode_attr - an attribute value with character references decoded:
 * numeric ones (&#38; &#x26;, the ; optional as browsers allow) and the
 * named amp lt gt quot apos nbsp with their ; (others stay as written);
 * without surrounding HTML white space, and without tabs and line ends
 * inside (browsers drop them from URLs) */
static char *decode_attr(const char *s, size_t n)
{
	static const struct {
		const char *name;
		unsigned long c;
	} named[] = {{"amp;", '&'},  {"lt;", '<'},    {"gt;", '>'},
		     {"quot;", '"'}, {"apos;", '\''}, {"nbsp;", 0xA0}};
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	while (n && is_space((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && is_space((unsigned char)s[n - 1]))
		n--;
	for (size_t i = 0; i < n;) {
		if (s[i] != '&') {
			buf_putc(&b, s[i++]);
			continue;
		}
		size_t k = i + 1;
		if (k < n && s[k] == '#') {
			int hex = k + 1 < n && (s[k + 1] == 'x' || s[k + 1] == 'X');
			size_t d = k + 1 + (size_t)hex, e = d;
			unsigned long c = 0;
			while (e < n && e - d < 8 &&
			       ((s[e] >= '0' && s[e] <= '9') ||
				(hex &&
				 ((s[e] >= 'a' && s[e] <= 'f') || (s[e] >= 'A' && s[e] <= 'F'))))) {
				int v = s[e] <= '9' ? s[e] - '0'
						    : lower((unsigned char)s[e]) - 'a' + 10;
				c = c * (hex ? 16 : 10) + (unsigned long)v;
				e++;
			}
			if (e == d) {
				buf_putc(&b, s[i++]);
				continue;
			}
			put_utf8(&b, c);
			i = e < n && s[e] == ';' ? e + 1 : e;
			continue;
		}
		size_t m = 0;
		for (; m < sizeof(named) / sizeof(named[0]); m++)
			if (n - k >= strlen(named[m].name) &&
			    memcmp(s + k, named[m].name, strlen(named[m].name)) == 0)
				break;
		if (m == sizeof(named) / sizeof(named[0])) {
			buf_putc(&b, s[i++]);
			continue;
		}
		put_utf8(&b, named[m].c);
		i = k + strlen(named[m].name);
	}
	size_t o = 0; /* the URL parser's step: tabs and line ends go */
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] != '\t' && b.data[i] != '\n' && b.data[i] != '\r')
			b.data[o++] = b.data[i];
	b.len = o;
	b.data[o] = '\0';
	return buf_detach(&b);
}

/* find_ci - the first occurrence of w (lower case) in s[i, n), or n */
static size_t find_ci(const char *s, size_t n, size_t i, const char *w)
{
	for (; i < n; i++)
		if (lower((unsigned char)s[i]) == w[0] && prefix_ieq(s + i, n - i, w))
			return i;
	return n;
}

/* raw_end - where the raw text of element name ends: its end tag
 * "</name" followed by white space, / or >, or n */
static size_t raw_end(const char *s, size_t n, size_t i, const char *name)
{
	char w[16];
	int wl = snprintf(w, sizeof(w), "</%s", name);
	for (;;) {
		i = find_ci(s, n, i, w);
		if (i >= n)
			return n;
		size_t k = i + (size_t)wl;
		if (k >= n || is_space((unsigned char)s[k]) || s[k] == '/' || s[k] == '>')
			return i;
		i++;
	}
}

struct tag {
	size_t name, nname; /* the tag name */
	size_t gt;	    /* the closing > */
	size_t v, nv;	    /* the first href's value, when there is one */
	int has_href;
	char quote; /* its quote, or 0 when unquoted */
};

/* parse_tag - the tag starting with its name at p: attributes and the >
 * that ends it; -1 when the input ends first */
static int parse_tag(const char *s, size_t n, size_t p, struct tag *t)
{
	memset(t, 0, sizeof(*t));
	t->name = p;
	while (p < n && !is_space((unsigned char)s[p]) && s[p] != '/' && s[p] != '>')
		p++;
	t->nname = p - t->name;
	for (;;) {
		while (p < n && (is_space((unsigned char)s[p]) || s[p] == '/'))
			p++;
		if (p >= n)
			return -1;
		if (s[p] == '>') {
			t->gt = p;
			return 0;
		}
		size_t a = p++;
		while (p < n && !is_space((unsigned char)s[p]) && s[p] != '/' && s[p] != '>' &&
		       s[p] != '=')
			p++;
		size_t na = p - a;
		while (p < n && is_space((unsigned char)s[p]))
			p++;
		if (p >= n || s[p] != '=')
			continue;
		p++;
		while (p < n && is_space((unsigned char)s[p]))
			p++;
		if (p >= n)
			return -1;
		size_t v, nv;
		char q = 0;
		if (s[p] == '"' || s[p] == '\'') {
			q = s[p];
			const char *end = memchr(s + p + 1, q, n - p - 1);
			if (!end)
				return -1;
			v = p + 1;
			nv = (size_t)(end - s) - v;
			p = (size_t)(end - s) + 1;
		} else {
			v = p;
			while (p < n && !is_space((unsigned char)s[p]) && s[p] != '>')
				p++;
			nv = p - v;
		}
		if (!t->has_href && na == 4 && prefix_ieq(s + a, na, "href")) {
			t->has_href = 1;
			t->v = v;
			t->nv = nv;
			t->quote = q;
		}
	}
}

static int name_is(const char *s, const struct tag *t, const char *w)
{
	return t->nname == strlen(w) && prefix_ieq(s + t->name, t->nname, w);
}

/* rewrite_html - *body_at is where the last </body> starts in out, or
 * (size_t)-1; returns 1 when the document ends in text (not inside a tag,
 * a comment or a raw element), where more markup may follow */
static int rewrite_html(struct rw *r, const char *s, struct buf *out, size_t *body_at)
{
	static const char *const raw[] = {"script", "style", "title", "textarea"};
	size_t n = strlen(s), i = 0;
	int clean = 1;
	*body_at = (size_t)-1;
	buf_puts(out, "");
	while (i < n) {
		if (s[i] != '<') {
			const char *lt = memchr(s + i, '<', n - i);
			size_t e = lt ? (size_t)(lt - s) : n;
			buf_append(out, s + i, e - i);
			i = e;
			continue;
		}
		if (prefix_ieq(s + i, n - i, "<!--")) {
			size_t e = i + 4;
			/* "<!-->" and "<!--->" are empty comments */
			if (e < n && s[e] == '>')
				e += 1;
			else if (e + 1 < n && s[e] == '-' && s[e + 1] == '>')
				e += 2;
			else
				e = find_ci(s, n, e, "-->") + 3;
			if (e > n) {
				e = n;
				clean = 0;
			}
			buf_append(out, s + i, e - i);
			i = e;
			continue;
		}
		int end_tag = i + 1 < n && s[i + 1] == '/';
		size_t p = i + 1 + (size_t)end_tag;
		if (i + 1 < n && (s[i + 1] == '!' || s[i + 1] == '?' ||
				  (end_tag && p < n && !is_alpha((unsigned char)s[p])))) {
			/* a doctype, a processing instruction or a bogus comment:
			 * up to the next > */
			const char *gt = memchr(s + i, '>', n - i);
			size_t e = gt ? (size_t)(gt - s) + 1 : n;
			clean &= gt != NULL;
			buf_append(out, s + i, e - i);
			i = e;
			continue;
		}
		struct tag t;
		if (p >= n || !is_alpha((unsigned char)s[p])) {
			buf_putc(out, s[i++]); /* a lone < is text */
			continue;
		}
		if (parse_tag(s, n, p, &t) < 0) {
			/* cut short: the rest is not markup a client acts on */
			buf_append(out, s + i, n - i);
			clean = 0;
			break;
		}
		if (end_tag && name_is(s, &t, "body"))
			*body_at = out->len;
		if (!end_tag && t.has_href && name_is(s, &t, "a")) {
			char *u = decode_attr(s + t.v, t.nv);
			size_t nu = strlen(u);
			int idx = trackable(r, u, nu) ? link_index(r, u, nu) : 0;
			if (idx) {
				char *tu = tracked(r, 'c', idx);
				buf_append(out, s + i, t.v - i);
				if (!t.quote)
					buf_putc(out, '"');
				put_escaped(out, tu);
				if (!t.quote)
					buf_putc(out, '"');
				buf_append(out, s + t.v + t.nv, t.gt + 1 - (t.v + t.nv));
				free(tu);
			} else {
				buf_append(out, s + i, t.gt + 1 - i);
			}
			free(u);
		} else {
			buf_append(out, s + i, t.gt + 1 - i);
		}
		i = t.gt + 1;
		for (size_t k = 0; !end_tag && k < sizeof(raw) / sizeof(raw[0]); k++) {
			if (!name_is(s, &t, raw[k]))
				continue;
			size_t e = raw_end(s, n, i, raw[k]);
			buf_append(out, s + i, e - i);
			i = e;
			clean &= e < n;
		}
	}
	return clean;
}

/* add_pixel - the open pixel before the last </body>, or at the end when
 * the document ends in text, unless it already holds one of ours */
static char *add_pixel(struct rw *r, struct buf *html, size_t body_at, int clean)
{
	char *mark = xasprintf("%.*s/o/", (int)r->nbase, r->base);
	int have = strstr(html->data, mark) != NULL;
	free(mark);
	if (have || (body_at == (size_t)-1 && !clean))
		return buf_detach(html);
	char *u = tracked(r, 'o', 0);
	struct buf b = BUF_INIT;
	size_t at = body_at == (size_t)-1 ? html->len : body_at;
	buf_append(&b, html->data, at);
	buf_puts(&b, "<img src=\"");
	put_escaped(&b, u);
	buf_puts(&b, "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">");
	buf_append(&b, html->data + at, html->len - at);
	free(u);
	buf_release(html);
	return buf_detach(&b);
}

void links_rewrite(const struct rendered *m, enum channel_kind ch, const char *base_url,
		   const char *secret, int64_t send_id, struct links *out)
{
	struct rw r = {.base = base_url ? base_url : "", .secret = secret, .send_id = send_id};
	r.nbase = strlen(r.base);
	while (r.nbase && r.base[r.nbase - 1] == '/')
		r.nbase--;
	memset(out, 0, sizeof(*out));
	if (m->text) {
		struct buf b = BUF_INIT;
		rewrite_text(&r, m->text, &b);
		out->text = buf_detach(&b);
	}
	if (m->html) {
		struct buf b = BUF_INIT;
		size_t body_at;
		int clean = rewrite_html(&r, m->html, &b, &body_at);
		out->html =
		    ch == CHANNEL_EMAIL ? add_pixel(&r, &b, body_at, clean) : buf_detach(&b);
	}
	out->urls = r.urls;
	out->n = r.n;
}

void links_take(struct links *l, struct rendered *m)
{
	free(m->text);
	free(m->html);
	m->text = l->text;
	m->html = l->html;
	l->text = l->html = NULL;
}

void links_release(struct links *l)
{
	free(l->text);
	free(l->html);
	for (size_t i = 0; i < l->n; i++)
		free(l->urls[i]);
	free(l->urls);
	memset(l, 0, sizeof(*l));
}

/* ---- config ----------------------------------------------------------- */

int links_tracking_on(const struct config *cfg, const char *campaign,
		      const struct transport_conf *tc)
{
	json_t *c = json_object_get(json_object_get(cfg->doc, "campaigns"), campaign);
	json_t *v = json_object_get(c, "track");
	if (json_is_boolean(v))
		return json_is_true(v);
	v = tc ? json_object_get(tc->opts, "track") : NULL;
	if (json_is_boolean(v))
		return json_is_true(v);
	return tc && tc->channel == CHANNEL_EMAIL;
}

/* pointer_key - append "/" and key escaped for a JSON pointer (~0 ~1) */
static void pointer_key(struct buf *p, const char *key)
{
	buf_putc(p, '/');
	for (; *key; key++) {
		if (*key == '~')
			buf_puts(p, "~0");
		else if (*key == '/')
			buf_puts(p, "~1");
		else
			buf_putc(p, *key);
	}
}

static int check_track(const struct config *cfg, const char *group, const char *what,
		       const char *name, json_t *obj, struct diag *d)
{
	json_t *v = json_object_get(obj, "track");
	if (!v || json_is_boolean(v))
		return 0;
	struct buf p = BUF_INIT;
	pointer_key(&p, group);
	pointer_key(&p, name);
	pointer_key(&p, "track");
	diag_error(d, cfg->path, config_line(cfg, buf_cstr(&p)),
		   "%s \"%s\": track must be true or false", what, name);
	buf_release(&p);
	return 1;
}

int links_check_config(const struct config *cfg, struct diag *d)
{
	int bad = 0;
	const char *name;
	json_t *v;
	json_object_foreach(json_object_get(cfg->doc, "campaigns"), name, v)
	{
		bad += check_track(cfg, "campaigns", "campaign", name, v, d);
	}
	json_object_foreach(json_object_get(cfg->doc, "transports"), name, v)
	{
		bad += check_track(cfg, "transports", "transport", name, v, d);
	}
	return bad;
}
