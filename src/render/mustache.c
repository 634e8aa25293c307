/* mustache.c - the Mustache renderer: parse once into a flat token list,
 * render by walking it against a stack of jansson values.
 *
 * The parser copies the source, then scans it for the current open
 * delimiter; each tag becomes one token. A section token records the index
 * just past its body, so the list needs no tree and freeing it or listing
 * its names needs no recursion. Standalone tags (sections, inverted,
 * comments, partials, set delimiters alone on their line) take their line's
 * whitespace and newline with them; a standalone partial keeps that
 * whitespace as the indentation prepended to each line of its source.
 *
 * Truthiness: false, null, a missing name, an empty list and an empty
 * string are falsey; 0 and {} are truthy.
 *
 * Security: templates and partials may be hostile. Rendering recurses once
 * per section or partial level and fails beyond MAX_DEPTH, so a partial
 * that includes itself ends with an error; parsing does not recurse. Data
 * is only read, and every byte of text and values is copied by length, so
 * NUL bytes and any UTF-8 pass through unchanged.
 */
#include "mustache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"
#include "xmalloc.h"

#define MAX_DEPTH 64

enum tok_type { TOK_TEXT, TOK_VAR, TOK_RAW, TOK_JSON, TOK_SECTION, TOK_INVERTED, TOK_PARTIAL };

struct tok {
	enum tok_type type;
	int line;	  /* 1-based line of the tag's open delimiter */
	int in_section;	  /* inside a section or inverted section */
	const char *text; /* TOK_TEXT: bytes in src; TOK_PARTIAL: indentation */
	size_t len;
	char *name; /* tags: the trimmed name, NUL-terminated */
	size_t end; /* sections: index of the first token after the body */
};

struct mustache {
	char *name; /* for error messages */
	char *src;  /* private copy; text tokens point into it */
	struct tok *tok;
	size_t ntok, cap;
};

struct parser {
	struct mustache *t;
	const char *s; /* t->src */
	size_t len;
	size_t lpos; /* line is the line number at offset lpos */
	int line;
	const char *otag, *ctag;
	size_t olen, clen;
	size_t *open; /* indexes of the section tokens not yet closed */
	size_t nopen, capopen;
	struct err *e;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* line_at - the 1-based line of offset off; offsets only move forward */
static int line_at(struct parser *p, size_t off)
{
	for (; p->lpos < off; p->lpos++)
		if (p->s[p->lpos] == '\n')
			p->line++;
	return p->line;
}

static struct tok *tok_add(struct parser *p, enum tok_type type, int line)
{
	struct mustache *t = p->t;
	if (t->ntok == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->tok = xrealloc(t->tok, t->cap * sizeof(*t->tok));
	}
	struct tok *k = &t->tok[t->ntok++];
	memset(k, 0, sizeof(*k));
	k->type = type;
	k->line = line;
	k->in_section = p->nopen > 0;
	return k;
}

static void text_add(struct parser *p, size_t from, size_t to)
{
	if (to <= from)
		return;
	struct tok *k = tok_add(p, TOK_TEXT, 0);
	k->text = p->s + from;
	k->len = to - from;
}

/* trim - strip whitespace from both ends of [*b, *n) */
static void trim(const char **b, size_t *n)
{
	while (*n && is_space(**b)) {
		(*b)++;
		(*n)--;
	}
	while (*n && is_space((*b)[*n - 1]))
		(*n)--;
}

/* find_close - the offset of the close delimiter at or after from, or
 * len when there is none; with lead, the delimiter must follow that byte,
 * and the returned offset is the lead's (for "}}}" after "{{{") */
static size_t find_close(const struct parser *p, size_t from, char lead)
{
	size_t at = from;
	while (at < p->len) {
		const char *q = memmem(p->s + at, p->len - at, p->ctag, p->clen);
		if (!q)
			return p->len;
		size_t off = (size_t)(q - p->s);
		if (!lead)
			return off;
		if (off > from && p->s[off - 1] == lead)
			return off - 1;
		at = off + 1;
	}
	return p->len;
}

static int name_ok(const char *b, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (is_space(b[i]))
			return 0;
	return 1;
}

/* set_delims - apply "=<% %>=" content (without the equals signs) */
static int set_delims(struct parser *p, const char *b, size_t n, int line)
{
	trim(&b, &n);
	size_t i = 0;
	while (i < n && !is_space(b[i]))
		i++;
	const char *o = b, *c = b + i;
	size_t on = i, cn = n - i;
	trim(&c, &cn);
	if (!on || !cn || !name_ok(c, cn) || memchr(o, '=', on) || memchr(c, '=', cn))
		return err_set(p->e, "%s:%d: invalid set delimiters tag", p->t->name, line);
	p->otag = o;
	p->olen = on;
	p->ctag = c;
	p->clen = cn;
	return 0;
}

/* standalone - whether the tag [at, end) is alone on its line; if so, set
 * *ls to the line's start and *next to the start of the following line */
static int standalone(const struct parser *p, size_t at, size_t end, size_t text_start, size_t *ls,
		      size_t *next)
{
	size_t b = at;
	while (b > text_start && is_blank(p->s[b - 1]))
		b--;
	if (b > 0 && p->s[b - 1] != '\n')
		return 0;
	size_t q = end;
	while (q < p->len && is_blank(p->s[q]))
		q++;
	if (q < p->len && p->s[q] == '\r' && q + 1 < p->len && p->s[q + 1] == '\n')
		q += 2;
	else if (q < p->len && p->s[q] == '\n')
		q++;
	else if (q < p->len)
		return 0;
	*ls = b;
	*next = q;
	return 1;
}

/* parse_tag - handle the tag whose open delimiter is at offset at; on
 * success *pos is where the text after the tag starts */
static int parse_tag(struct parser *p, size_t at, size_t *pos)
{
	int line = line_at(p, at);
	size_t cs = at + p->olen;
	char type = cs < p->len ? p->s[cs] : '\0';
	char lead = type == '{' ? '}' : '\0';
	if (type != '\0' && strchr("#^/!>=&{", type))
		cs++;
	else
		type = '\0';
	size_t ce = find_close(p, cs, lead);
	if (ce >= p->len)
		return err_set(p->e, "%s:%d: unclosed tag", p->t->name, line);
	size_t end = ce + (lead ? 1 : 0) + p->clen;
	const char *b = p->s + cs;
	size_t n = ce - cs;
	if (type == '=') {
		if (n == 0 || b[n - 1] != '=')
			return err_set(p->e, "%s:%d: invalid set delimiters tag", p->t->name, line);
		n--;
	} else if (type != '!') {
		trim(&b, &n);
	}

	size_t ls = 0, next = 0;
	int alone =
	    type != '\0' && strchr("#^/!>=", type) && standalone(p, at, end, *pos, &ls, &next);
	text_add(p, *pos, alone ? ls : at);
	*pos = alone ? next : end;

	enum tok_type tt = TOK_VAR;
	switch (type) {
	case '!':
		return 0;
	case '=':
		return set_delims(p, b, n, line);
	case '#':
		tt = TOK_SECTION;
		break;
	case '^':
		tt = TOK_INVERTED;
		break;
	case '>':
		tt = TOK_PARTIAL;
		break;
	case '&':
	case '{':
		tt = TOK_RAW;
		break;
	case '/':
		if (!p->nopen)
			return err_set(p->e, "%s:%d: unexpected close tag \"%.*s\"", p->t->name,
				       line, (int)n, b);
		struct tok *sec = &p->t->tok[p->open[p->nopen - 1]];
		if (strlen(sec->name) != n || memcmp(sec->name, b, n) != 0)
			return err_set(p->e,
				       "%s:%d: close tag \"%.*s\" does not match section \"%s\" "
				       "opened on line %d",
				       p->t->name, line, (int)n, b, sec->name, sec->line);
		sec->end = p->t->ntok;
		p->nopen--;
		return 0;
	default:
		if (n > 5 && memcmp(b, "json", 4) == 0 && is_space(b[4])) {
			tt = TOK_JSON;
			b += 5;
			n -= 5;
			trim(&b, &n);
		}
		break;
	}
	if (!name_ok(b, n))
		return err_set(p->e, "%s:%d: %s tag name \"%.*s\"", p->t->name, line,
			       n ? "invalid" : "empty", (int)n, b);
	struct tok *k = tok_add(p, tt, line);
	k->name = xstrndup(b, n);
	if (tt == TOK_PARTIAL && alone) {
		k->text = p->s + ls;
		k->len = at - ls;
	}
	if (tt == TOK_SECTION || tt == TOK_INVERTED) {
		if (p->nopen == p->capopen) {
			p->capopen = p->capopen ? p->capopen * 2 : 8;
			p->open = xrealloc(p->open, p->capopen * sizeof(*p->open));
		}
		p->open[p->nopen++] = p->t->ntok - 1;
	}
	return 0;
}

struct mustache *mustache_parse(const char *src, size_t len, const char *name, struct err *e)
{
	struct mustache *t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name ? name : "template");
	t->src = xmalloc(len + 1);
	if (len)
		memcpy(t->src, src, len);
	t->src[len] = '\0';

	struct parser p = {
	    .t = t,
	    .s = t->src,
	    .len = len,
	    .line = 1,
	    .otag = "{{",
	    .olen = 2,
	    .ctag = "}}",
	    .clen = 2,
	    .e = e,
	};
	size_t pos = 0;
	int rc = 0;
	for (;;) {
		const char *q = pos < len ? memmem(t->src + pos, len - pos, p.otag, p.olen) : NULL;
		if (!q) {
			text_add(&p, pos, len);
			break;
		}
		if ((rc = parse_tag(&p, (size_t)(q - t->src), &pos)) < 0)
			break;
	}
	if (rc == 0 && p.nopen) {
		struct tok *sec = &t->tok[p.open[p.nopen - 1]];
		rc = err_set(e, "%s:%d: unclosed section \"%s\"", t->name, sec->line, sec->name);
	}
	free(p.open);
	if (rc < 0) {
		mustache_free(t);
		return NULL;
	}
	return t;
}

void mustache_free(struct mustache *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ntok; i++)
		free(t->tok[i].name);
	free(t->tok);
	free(t->src);
	free(t->name);
	free(t);
}

void mustache_foreach_var(const struct mustache *t,
			  void (*fn)(void *ud, const char *name, int line,
				     enum mustache_var_kind kind, int in_section),
			  void *ud)
{
	static const enum mustache_var_kind kinds[] = {
	    [TOK_VAR] = MUSTACHE_VAR,		[TOK_RAW] = MUSTACHE_VAR,
	    [TOK_JSON] = MUSTACHE_VAR,		[TOK_SECTION] = MUSTACHE_SECTION,
	    [TOK_INVERTED] = MUSTACHE_INVERTED, [TOK_PARTIAL] = MUSTACHE_PARTIAL,
	};
	for (size_t i = 0; i < t->ntok; i++) {
		const struct tok *k = &t->tok[i];
		if (k->type != TOK_TEXT)
			fn(ud, k->name, k->line, kinds[k->type], k->in_section);
	}
}

/* Rendering */

struct render {
	const struct mustache_opts *o;
	struct buf *out;
	struct err *e;
	json_t *stack[MAX_DEPTH + 1]; /* contexts, innermost last */
	int nstack;
	int depth; /* sections and partials entered */
};

/* get_key - obj's member named by the n bytes at key (json_object_getn
 * is only in jansson 2.14) */
static json_t *get_key(json_t *obj, const char *key, size_t n)
{
	char small[128];
	if (!json_is_object(obj))
		return NULL;
	if (n < sizeof(small)) {
		memcpy(small, key, n);
		small[n] = '\0';
		return json_object_get(obj, small);
	}
	char *big = xstrndup(key, n);
	json_t *v = json_object_get(obj, big);
	free(big);
	return v;
}

/* lookup - resolve name against the context stack; NULL when missing */
static json_t *lookup(const struct render *r, const char *name)
{
	if (strcmp(name, ".") == 0)
		return r->stack[r->nstack - 1];
	size_t n = strcspn(name, ".");
	json_t *v = NULL;
	for (int i = r->nstack - 1; i >= 0 && !v; i--)
		v = get_key(r->stack[i], name, n);
	while (v && name[n] == '.') {
		name += n + 1;
		n = strcspn(name, ".");
		v = get_key(v, name, n);
	}
	return v;
}

static int truthy(const json_t *v)
{
	if (!v || json_is_false(v) || json_is_null(v))
		return 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	return 1;
}

/* escape_of - the replacement for byte c in the mode, or NULL to keep it */
static const char *escape_of(unsigned char c, enum mustache_escape esc, char u[8])
{
	if (esc == MUSTACHE_ESC_HTML)
		return str_html_entity(c);
	if (esc != MUSTACHE_ESC_JSON)
		return NULL;
	if (c == '"')
		return "\\\"";
	if (c == '\\')
		return "\\\\";
	if (c >= 0x20)
		return NULL;
	snprintf(u, 8, "\\u%04x", c);
	return u;
}

/* put_escaped - append s escaped for the mode, copying runs untouched */
static void put_escaped(struct buf *out, const char *s, size_t n, enum mustache_escape esc)
{
	size_t run = 0;
	char u[8];
	for (size_t i = 0; i < n; i++) {
		const char *rep = escape_of((unsigned char)s[i], esc, u);
		if (!rep)
			continue;
		buf_append(out, s + run, i - run);
		buf_puts(out, rep);
		run = i + 1;
	}
	buf_append(out, s + run, n - run);
}

/* put_real - the shortest of %.15g and %.17g that reads back as d */
static void put_real(char *num, size_t size, double d)
{
	snprintf(num, size, "%.15g", d);
	if (strtod(num, NULL) != d)
		snprintf(num, size, "%.17g", d);
	for (char *c = num; *c; c++)
		if (*c == ',') /* a decimal comma from the locale */
			*c = '.';
}

static void put_value(struct render *r, const json_t *v, enum mustache_escape esc)
{
	char num[64];
	const char *s = num;
	size_t n;
	switch (json_typeof(v)) {
	case JSON_STRING:
		s = json_string_value(v);
		n = json_string_length(v);
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		n = strlen(num);
		break;
	case JSON_REAL:
		put_real(num, sizeof(num), json_real_value(v));
		n = strlen(num);
		break;
	case JSON_TRUE:
		s = "true";
		n = 4;
		break;
	case JSON_FALSE:
		s = "false";
		n = 5;
		break;
	default: /* null, objects and lists: nothing ({{json x}} writes those) */
		return;
	}
	put_escaped(r->out, s, n, esc);
}

static int render_range(struct render *r, const struct mustache *t, size_t from, size_t to);

/* enter - account for one more level of nesting, or fail */
static int enter(struct render *r, const struct mustache *t, const struct tok *k)
{
	if (r->depth >= MAX_DEPTH)
		return err_set(r->e, "%s:%d: sections and partials nested deeper than %d", t->name,
			       k->line, MAX_DEPTH);
	r->depth++;
	return 0;
}

static int render_section(struct render *r, const struct mustache *t, size_t i)
{
	const struct tok *k = &t->tok[i];
	json_t *v = lookup(r, k->name);
	int rc = 0;
	if (k->type == TOK_INVERTED) {
		if (truthy(v))
			return 0;
		if (enter(r, t, k) < 0)
			return -1;
		rc = render_range(r, t, i + 1, k->end);
		r->depth--;
		return rc;
	}
	if (!truthy(v))
		return 0;
	if (enter(r, t, k) < 0)
		return -1;
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	for (size_t j = 0; j < n && rc == 0; j++) {
		r->stack[r->nstack++] = json_is_array(v) ? json_array_get(v, j) : v;
		rc = render_range(r, t, i + 1, k->end);
		r->nstack--;
	}
	r->depth--;
	return rc;
}

/* indent - src with ind prepended to each line (a final newline starts none) */
static char *indent(const char *src, const char *ind, size_t ilen, size_t *len)
{
	struct buf b = BUF_INIT;
	size_t n = strlen(src);
	int at_start = 1;
	for (size_t i = 0; i < n; i++) {
		if (at_start)
			buf_append(&b, ind, ilen);
		buf_putc(&b, src[i]);
		at_start = src[i] == '\n';
	}
	*len = b.len;
	return buf_detach(&b);
}

static int render_partial(struct render *r, const struct mustache *t, const struct tok *k)
{
	const char *src = r->o->partial ? r->o->partial(r->o->partial_ud, k->name) : NULL;
	if (!src)
		return 0;
	if (enter(r, t, k) < 0)
		return -1;
	char *ind = NULL;
	size_t len = strlen(src);
	if (k->len)
		src = ind = indent(src, k->text, k->len, &len);
	struct mustache *p = mustache_parse(src, len, k->name, r->e);
	free(ind);
	int rc = p ? render_range(r, p, 0, p->ntok) : -1;
	mustache_free(p);
	r->depth--;
	return rc;
}

static int render_range(struct render *r, const struct mustache *t, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const struct tok *k = &t->tok[i];
		json_t *v;
		switch (k->type) {
		case TOK_TEXT:
			buf_append(r->out, k->text, k->len);
			break;
		case TOK_VAR:
		case TOK_RAW:
			if ((v = lookup(r, k->name)))
				put_value(r, v,
					  k->type == TOK_RAW ? MUSTACHE_ESC_NONE : r->o->escape);
			break;
		case TOK_JSON:
			if ((v = lookup(r, k->name))) {
				char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
				if (s)
					buf_puts(r->out, s);
				free(s);
			}
			break;
		case TOK_SECTION:
		case TOK_INVERTED:
			if (render_section(r, t, i) < 0)
				return -1;
			i = k->end - 1;
			break;
		case TOK_PARTIAL:
			if (render_partial(r, t, k) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

int mustache_render(const struct mustache *t, json_t *data, const struct mustache_opts *o,
		    struct buf *out, struct err *e)
{
	static const struct mustache_opts defaults = {MUSTACHE_ESC_HTML, NULL, NULL};
	struct render r = {.o = o ? o : &defaults, .out = out, .e = e, .nstack = 1};
	r.stack[0] = data;
	buf_append(out, "", 0); /* out->data is a string even when nothing renders */
	return render_range(&r, t, 0, t->ntok);
}
