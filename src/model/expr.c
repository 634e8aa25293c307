/* expr.c - segment expressions: parse once to a small tree, evaluate per contact
 *
 * A hand-written lexer and a recursive-descent parser (or < and < not <
 * comparison < primary) build the tree. The evaluator walks it and carries,
 * beside each value, the earliest instant after now at which that value may
 * change through time alone; `and`, `or`, `not` and comparisons combine those
 * so the caller learns when a contact needs looking at again.
 *
 * stats.NAME (stats.h) is a node of its own, computed by stats_value from
 * the same count/sum/last callbacks and carrying the same next-change
 * instants, so segments over stats are re-evaluated as rarely as those
 * over count() and days_since(). A call of an unknown function is kept as
 * a node that is null (check warns), so a typo does not stop the dispatcher.
 * expr_explain walks the tree again and writes out the deciding terms with
 * the values they saw.
 *
 * Null: a missing attribute, last() of no event and days_since() of a
 * non-time are null. `==` is true when both sides are null, and `x != null`
 * (the literal) is true when x is present; every other comparison with a null
 * is false. Object and array attributes count as null.
 *
 * Security: the source is untrusted config text. Nesting is bounded
 * (MAX_DEPTH) and `and`/`or` chains are flat lists, so recursion in parsing,
 * evaluating and freeing never depends on the input's length; messages quote
 * at most a short piece of the source, and non-printable bytes as hex.
 */
#include "expr.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "stats.h"
#include "timeutil.h"
#include "xmalloc.h"

#define MAX_DEPTH 64
#define DAY 86400
#define QUOTE_MAX 40
#define WINDOW_MAX 32
/* instants beyond +-TIME_LIMIT (31 million years) are not usable times */
#define TIME_LIMIT INT64_C(1000000000000000)

/* T_EQ to T_GE are the comparisons, in a row for is_cmp() */
enum tok {
	T_END,
	T_NUM,
	T_WORD,
	T_STR,
	T_IDENT,
	T_LP,
	T_RP,
	T_COMMA,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_AND,
	T_OR,
	T_NOT,
	T_TRUE,
	T_FALSE,
	T_NULL,
};

enum kind {
	N_NULL,
	N_BOOL,
	N_NUM,
	N_STR,
	N_ATTR,
	N_COUNT,
	N_SUM,
	N_LAST,
	N_DAYS,
	N_NOT,
	N_AND,
	N_OR,
	N_CMP,
	N_STAT, /* stats.NAME */
	N_CALL, /* an unknown function: null */
};

struct node {
	enum kind kind;
	enum tok op;	    /* N_CMP */
	double num;	    /* N_NUM; N_BOOL 0 or 1 */
	char *name;	    /* N_STR text, N_ATTR name, event type, N_CALL name */
	size_t len;	    /* N_STR length */
	char *field;	    /* N_SUM: the data field; N_CALL: the arguments' text */
	int64_t window;	    /* N_COUNT, N_SUM: seconds */
	size_t stat;	    /* N_STAT: the stats.h id */
	struct node **kids; /* operands, arguments */
	size_t nkids;
};

struct expr {
	struct node *root;
};

struct parser {
	const char *src;
	const char *pos;   /* where the next token starts */
	enum tok tok;	   /* the current token ... */
	const char *start; /* ... and its source text */
	size_t len;
	double num;	/* T_NUM */
	struct buf str; /* T_STR, unescaped */
	int depth;
	struct err *e;
};

static const struct {
	const char *name;
	enum kind kind;
} funcs[] = {
    {"count", N_COUNT},
    {"sum", N_SUM},
    {"last", N_LAST},
    {"days_since", N_DAYS},
};

static const struct {
	const char *word;
	enum tok tok;
} keywords[] = {
    {"and", T_AND},   {"or", T_OR},	  {"not", T_NOT},
    {"true", T_TRUE}, {"false", T_FALSE}, {"null", T_NULL},
};

/* ASCII only: <ctype.h> answers by locale */
static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_word(char c)
{
	return is_alpha(c) || is_digit(c) || c == '.';
}

/* fail - "column N: message", N counting UTF-8 characters up to at */
static int fail(struct parser *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, const char *at, const char *fmt, ...)
{
	char msg[256];
	size_t col = 1;
	va_list ap;

	for (const char *s = p->src; s < at; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			col++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(p->e, "column %zu: %s", col, msg);
}

/* utf8_len - length of the well-formed UTF-8 character at s, or 0 */
static size_t utf8_len(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = u[0] >= 0xF0 && u[0] <= 0xF4 ? 4 : u[0] >= 0xE0 ? 3 : u[0] >= 0xC2 ? 2 : 0;

	if (n == 0 || (n == 3 && u[0] == 0xE0 && u[1] < 0xA0) ||
	    (n == 3 && u[0] == 0xED && u[1] > 0x9F) || (n == 4 && u[0] == 0xF0 && u[1] < 0x90) ||
	    (n == 4 && u[0] == 0xF4 && u[1] > 0x8F))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((u[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

static int bad_char(struct parser *p, const char *s)
{
	static const char *const hint[] = {"=", "(use ==)",  "!", "(use != or not)",
					   "&", "(use and)", "|", "(use or)"};
	unsigned char c = (unsigned char)*s;
	size_t n;

	for (size_t i = 0; i < sizeof(hint) / sizeof(hint[0]); i += 2)
		if (*s == hint[i][0])
			return fail(p, s, "unexpected \"%c\" %s", *s, hint[i + 1]);
	if (c > 0x20 && c < 0x7F)
		return fail(p, s, "unexpected \"%c\"", *s);
	if ((n = utf8_len(s)) > 0)
		return fail(p, s, "unexpected character \"%.*s\"", (int)n, s);
	return fail(p, s, "unexpected byte 0x%02x", c);
}

static int lex_string(struct parser *p, const char *s)
{
	const char *t = s + 1;

	buf_reset(&p->str);
	buf_append(&p->str, "", 0); /* "" too needs storage to detach */
	for (; *t != *s; t++) {
		char c = *t;
		if (c == '\0')
			return fail(p, s, "unterminated string");
		if (c == '\\') {
			switch (*++t) {
			case '\\':
			case '"':
			case '\'':
				c = *t;
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			default:
				if (*t > 0x20 && *t < 0x7F)
					return fail(p, t - 1, "bad escape \"\\%c\"", *t);
				return fail(p, t - 1, "bad escape");
			}
		}
		buf_putc(&p->str, c);
	}
	p->tok = T_STR;
	p->pos = t + 1;
	return 0;
}

/* lex_number - 123, 4.5, -7; digits running into letters (30d, 10k) are a
 * T_WORD: a window where one is expected, an error elsewhere. Done by hand
 * because strtod() reads the decimal point by locale. */
static int lex_number(struct parser *p, const char *s)
{
	const char *t = s + (*s == '-');
	double m = 0;
	int frac = 0;

	while (is_digit(*t))
		m = m * 10 + (*t++ - '0');
	if (*t == '.' && is_digit(t[1]))
		for (t++; is_digit(*t); t++, frac++)
			m = m * 10 + (*t - '0');
	if (is_word(*t)) {
		while (is_word(*t))
			t++;
		p->tok = T_WORD;
	} else {
		p->num = (*s == '-' ? -m : m) / pow(10, frac);
		if (!isfinite(p->num))
			return fail(p, s, "number out of range");
		p->tok = T_NUM;
	}
	p->pos = t;
	return 0;
}

static int lex(struct parser *p)
{
	static const char ops[][3] = {"==", "!=", "<=", ">=", "<", ">", "(", ")", ","};
	static const enum tok optoks[] = {T_EQ, T_NE, T_LE, T_GE, T_LT, T_GT, T_LP, T_RP, T_COMMA};
	const char *s = p->pos;
	int r = 0;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	p->start = s;
	if (*s == '\0') {
		p->tok = T_END;
		p->pos = s;
	} else if (is_alpha(*s)) {
		for (p->pos = s; is_word(*p->pos); p->pos++)
			;
		p->tok = T_IDENT;
		for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
			if (strlen(keywords[i].word) == (size_t)(p->pos - s) &&
			    memcmp(keywords[i].word, s, p->pos - s) == 0)
				p->tok = keywords[i].tok;
	} else if (is_digit(*s) || (*s == '-' && is_digit(s[1]))) {
		r = lex_number(p, s);
	} else if (*s == '"' || *s == '\'') {
		r = lex_string(p, s);
	} else {
		size_t i;
		for (i = 0; i < sizeof(optoks) / sizeof(optoks[0]); i++)
			if (strncmp(s, ops[i], strlen(ops[i])) == 0)
				break;
		if (i == sizeof(optoks) / sizeof(optoks[0]))
			return bad_char(p, s);
		p->tok = optoks[i];
		p->pos = s + strlen(ops[i]);
	}
	p->len = p->pos - s;
	return r;
}

/* unexpected - complain about the current token */
static int unexpected(struct parser *p)
{
	if (p->tok == T_END)
		return fail(p, p->start, "unexpected end of expression");
	if (p->tok == T_STR)
		return fail(p, p->start, "unexpected string");
	return fail(p, p->start, "unexpected \"%.*s%s\"",
		    p->len > QUOTE_MAX ? QUOTE_MAX : (int)p->len, p->start,
		    p->len > QUOTE_MAX ? "..." : "");
}

static struct node *node_new(enum kind kind)
{
	struct node *n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	return n;
}

static void node_add(struct node *n, struct node *kid)
{
	if ((n->nkids & (n->nkids - 1)) == 0) /* 0, 1, 2, 4, ...: double */
		n->kids = xrealloc(n->kids, (n->nkids ? 2 * n->nkids : 1) * sizeof(*n->kids));
	n->kids[n->nkids++] = kid;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->field);
	free(n);
}

static struct node *parse_or(struct parser *p);

static int parse_window(struct parser *p, int64_t *window)
{
	char text[WINDOW_MAX + 1];

	if (p->tok != T_WORD && p->tok != T_NUM)
		return fail(p, p->start, "expected a window like 30d");
	if (p->len > WINDOW_MAX)
		return fail(p, p->start, "bad window \"%.*s...\" (use 30d, 12h, 90m)", WINDOW_MAX,
			    p->start);
	memcpy(text, p->start, p->len);
	text[p->len] = '\0';
	if (p->tok == T_NUM || duration_parse(text, window) < 0)
		return fail(p, p->start, "bad window \"%s\" (use 30d, 12h, 90m)", text);
	return lex(p);
}

/* parse_args - after "NAME(": count(TYPE, W), sum(TYPE.FIELD, W), last(TYPE),
 * days_since(EXPR), up to the closing parenthesis */
static int parse_args(struct parser *p, struct node *n)
{
	struct node *kid;

	if (n->kind == N_DAYS) {
		if (!(kid = parse_or(p)))
			return -1;
		node_add(n, kid);
		return 0;
	}
	if (n->kind == N_SUM) {
		const char *dot = p->tok == T_IDENT ? memchr(p->start, '.', p->len) : NULL;
		if (!dot || dot + 1 == p->start + p->len)
			return fail(p, p->start, "expected TYPE.FIELD like purchase.amount");
		n->name = xstrndup(p->start, dot - p->start);
		n->field = xstrndup(dot + 1, p->start + p->len - dot - 1);
	} else if (p->tok == T_IDENT) {
		n->name = xstrndup(p->start, p->len);
	} else {
		return fail(p, p->start, "expected an event type");
	}
	if (lex(p) < 0)
		return -1;
	if (n->kind == N_LAST)
		return 0;
	if (p->tok != T_COMMA)
		return fail(p, p->start, "expected ',' before the window");
	if (lex(p) < 0)
		return -1;
	return parse_window(p, &n->window);
}

/* parse_call - after "NAME(" of an unknown function: arguments as any
 * function takes them (expressions, windows, TYPE.FIELD), checked for
 * syntax and kept only as text; the call is null when evaluated */
static struct node *parse_call(struct parser *p, const char *at, size_t len)
{
	struct node *n = node_new(N_CALL), *kid;
	const char *args = p->start, *end;

	n->name = xstrndup(at, len);
	while (p->tok != T_RP) {
		if (p->tok == T_WORD) {
			if (lex(p) < 0)
				goto bad;
		} else {
			if (!(kid = parse_or(p)))
				goto bad;
			node_free(kid);
		}
		if (p->tok == T_COMMA) {
			if (lex(p) < 0)
				goto bad;
			if (p->tok == T_RP) {
				unexpected(p);
				goto bad;
			}
		} else if (p->tok != T_RP) {
			fail(p, p->start, "expected ',' or ')' after an argument");
			goto bad;
		}
	}
	for (end = p->start; end > args && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
					    end[-1] == '\r');
	     end--)
		;
	n->field = xstrndup(args, end - args);
	for (char *q = n->field; *q; q++)
		if (*q == '\n' || *q == '\r' || *q == '\t')
			*q = ' '; /* written back on one line */
	if (lex(p) < 0)
		goto bad;
	return n;
bad:
	node_free(n);
	return NULL;
}

/* stat_named - the stats.h id of "stats.NAME" (len bytes at s), or -1 */
static int stat_named(const char *s, size_t len)
{
	char name[64];

	if (len <= 6 || len - 6 >= sizeof(name) || memcmp(s, "stats.", 6) != 0)
		return -1;
	memcpy(name, s + 6, len - 6);
	name[len - 6] = '\0';
	return stats_find(name);
}

/* parse_name - an attribute, a stat, or a function call */
static struct node *parse_name(struct parser *p)
{
	const char *at = p->start;
	size_t len = p->len, f;
	struct node *n;
	int stat;

	for (f = 0; f < sizeof(funcs) / sizeof(funcs[0]); f++)
		if (strlen(funcs[f].name) == len && memcmp(funcs[f].name, at, len) == 0)
			break;
	if (lex(p) < 0)
		return NULL;
	if (p->tok != T_LP) {
		if (f < sizeof(funcs) / sizeof(funcs[0])) {
			fail(p, p->start, "expected '(' after %s", funcs[f].name);
			return NULL;
		}
		if ((stat = stat_named(at, len)) >= 0) {
			n = node_new(N_STAT);
			n->stat = (size_t)stat;
			return n;
		}
		n = node_new(N_ATTR);
		n->name = xstrndup(at, len);
		return n;
	}
	if (lex(p) < 0)
		return NULL;
	if (f == sizeof(funcs) / sizeof(funcs[0]))
		return parse_call(p, at, len);
	n = node_new(funcs[f].kind);
	if (parse_args(p, n) < 0 ||
	    (p->tok != T_RP && fail(p, p->start, "expected ')' after arguments")) || lex(p) < 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

static struct node *parse_primary(struct parser *p)
{
	struct node *n;

	switch (p->tok) {
	case T_IDENT:
		return parse_name(p);
	case T_NUM:
		n = node_new(N_NUM);
		n->num = p->num;
		break;
	case T_STR:
		n = node_new(N_STR);
		n->len = p->str.len;
		n->name = buf_detach(&p->str);
		break;
	case T_TRUE:
	case T_FALSE:
		n = node_new(N_BOOL);
		n->num = p->tok == T_TRUE;
		break;
	case T_NULL:
		n = node_new(N_NULL);
		break;
	case T_LP:
		if (lex(p) < 0 || !(n = parse_or(p)))
			return NULL;
		if (p->tok != T_RP) {
			fail(p, p->start, "expected ')'");
			node_free(n);
			return NULL;
		}
		break;
	case T_WORD:
		fail(p, p->start, "bad number \"%.*s%s\"",
		     p->len > QUOTE_MAX ? QUOTE_MAX : (int)p->len, p->start,
		     p->len > QUOTE_MAX ? "..." : "");
		return NULL;
	default:
		unexpected(p);
		return NULL;
	}
	if (lex(p) < 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

/* c OP x is x MIRRORED-OP c */
static const enum tok mirrored[] = {T_EQ, T_NE, T_GT, T_GE, T_LT, T_LE};

static int is_cmp(enum tok t)
{
	return t >= T_EQ && t <= T_GE;
}

static struct node *parse_cmp(struct parser *p)
{
	struct node *l = parse_primary(p), *r, *n;
	enum tok op = p->tok;

	if (!l || !is_cmp(op))
		return l;
	if (lex(p) < 0 || !(r = parse_primary(p))) {
		node_free(l);
		return NULL;
	}
	n = node_new(N_CMP);
	n->op = op;
	node_add(n, l);
	node_add(n, r);
	if (is_cmp(p->tok)) {
		fail(p, p->start, "comparisons do not chain (use and)");
		node_free(n);
		return NULL;
	}
	return n;
}

/* parse_not - every level of nesting passes through here: count it */
static struct node *parse_not(struct parser *p)
{
	struct node *n = NULL, *kid;

	if (p->depth >= MAX_DEPTH) {
		fail(p, p->start, "expression nested too deeply");
		return NULL;
	}
	p->depth++;
	if (p->tok != T_NOT) {
		n = parse_cmp(p);
	} else if (lex(p) == 0 && (kid = parse_not(p))) {
		n = node_new(N_NOT);
		node_add(n, kid);
	}
	p->depth--;
	return n;
}

/* parse_list - sub (op sub)*, as one flat node when there is an op */
static struct node *parse_list(struct parser *p, enum tok op, enum kind kind,
			       struct node *(*sub)(struct parser *))
{
	struct node *first = sub(p), *n, *kid;

	if (!first || p->tok != op)
		return first;
	n = node_new(kind);
	node_add(n, first);
	while (p->tok == op) {
		if (lex(p) < 0 || !(kid = sub(p))) {
			node_free(n);
			return NULL;
		}
		node_add(n, kid);
	}
	return n;
}

static struct node *parse_and(struct parser *p)
{
	return parse_list(p, T_AND, N_AND, parse_not);
}

static struct node *parse_or(struct parser *p)
{
	return parse_list(p, T_OR, N_OR, parse_and);
}

struct expr *expr_parse(const char *src, struct err *e)
{
	struct parser p = {.src = src, .pos = src, .e = e};
	struct node *root = NULL;
	struct expr *x;

	buf_init(&p.str);
	if (lex(&p) == 0 && (root = parse_or(&p)) && p.tok != T_END) {
		unexpected(&p);
		node_free(root);
		root = NULL;
	}
	buf_release(&p.str);
	if (!root)
		return NULL;
	x = xmalloc(sizeof(*x));
	x->root = root;
	return x;
}

void expr_free(struct expr *x)
{
	if (!x)
		return;
	node_free(x->root);
	free(x);
}

/* Evaluation */

enum vtype { V_NULL, V_BOOL, V_NUM, V_STR, V_TIME };

struct val {
	enum vtype type;
	int b;
	double num;
	int64_t time;
	const char *str; /* borrowed from the tree or the environment, or sbuf */
	size_t len;
	char sbuf[8]; /* a stat's string (stats.rfm): a val is never copied */
	int64_t next; /* earliest instant > now at which the value may change */
	int64_t base; /* days_since of a time that stays put: that time; else TIME_NEVER */
};

struct ctx {
	const struct expr_env *env;
	int64_t now;
	struct err *e;
};

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int truth(const struct val *v)
{
	return v->type == V_BOOL && v->b;
}

/* as_time - v as an instant: a time, epoch seconds, or an RFC 3339 string */
static int as_time(const struct val *v, int64_t *t)
{
	switch (v->type) {
	case V_TIME:
		*t = v->time;
		break;
	case V_NUM:
		if (!(fabs(v->num) <= (double)TIME_LIMIT))
			return -1;
		*t = (int64_t)floor(v->num);
		break;
	case V_STR:
		if (strlen(v->str) != v->len || time_parse(v->str, t) < 0)
			return -1;
		break;
	default:
		return -1;
	}
	return *t >= -TIME_LIMIT && *t <= TIME_LIMIT ? 0 : -1;
}

/* compare - a OP b under the null rules in the opening comment */
static int compare(enum tok op, const struct val *a, const struct val *b, int null_literal)
{
	int c;

	if (a->type == V_NULL || b->type == V_NULL) {
		if (op == T_EQ)
			return a->type == b->type;
		return op == T_NE && null_literal && a->type != b->type;
	}
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case V_NUM:
		if (isnan(a->num) || isnan(b->num))
			return 0;
		c = (a->num > b->num) - (a->num < b->num);
		break;
	case V_TIME:
		c = (a->time > b->time) - (a->time < b->time);
		break;
	case V_STR:
		c = memcmp(a->str, b->str, a->len < b->len ? a->len : b->len);
		if (c == 0)
			c = (a->len > b->len) - (a->len < b->len);
		break;
	default: /* booleans are equal or not, never ordered */
		if (op != T_EQ && op != T_NE)
			return 0;
		c = a->b != b->b;
		break;
	}
	switch (op) {
	case T_EQ:
		return c == 0;
	case T_NE:
		return c != 0;
	case T_LT:
		return c < 0;
	case T_LE:
		return c <= 0;
	case T_GT:
		return c > 0;
	case T_GE:
		return c >= 0;
	default:
		return 0;
	}
}

/* flip_at - when `days OP c` first differs from now, days being
 * days_since(base) at now. It only grows, by one at base + k*DAY, so the
 * answer is the first whole k past days at which the comparison flips. */
static int64_t flip_at(enum tok op, const struct val *days, double c)
{
	double d = days->num, k;

	switch (op) {
	case T_GT:
		k = d > c ? INFINITY : floor(c) + 1;
		break;
	case T_GE:
		k = d >= c ? INFINITY : ceil(c);
		break;
	case T_LT:
		k = d < c ? ceil(c) : INFINITY;
		break;
	case T_LE:
		k = d <= c ? floor(c) + 1 : INFINITY;
		break;
	default: /* == and != flip at c and at c + 1 */
		k = c != floor(c) || d > c ? INFINITY : d == c ? c + 1 : c;
		break;
	}
	if (!(k < 1e13)) /* also NaN; 1e13 days is past any real horizon */
		return TIME_NEVER;
	/* past the times expressions take (TIME_LIMIT) nothing is evaluated
	 * again: never, rather than an instant no evaluation can reach
	 * (found by fuzz_expr) */
	int64_t at = days->base + (int64_t)k * DAY;
	return at > TIME_LIMIT ? TIME_NEVER : at;
}

static void eval_attr(const struct node *n, const struct ctx *c, struct val *v)
{
	json_t *j = c->env->attr(c->env->ud, n->name);

	switch (j ? json_typeof(j) : JSON_NULL) {
	case JSON_STRING:
		v->type = V_STR;
		v->str = json_string_value(j);
		v->len = json_string_length(j);
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		v->type = V_NUM;
		v->num = json_number_value(j);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v->type = V_BOOL;
		v->b = json_is_true(j);
		break;
	default:
		break;
	}
}

/* lookup_failed - keep the callback's own message, if it left one */
static int lookup_failed(const struct node *n, const struct ctx *c)
{
	char w[32], what[160];

	duration_format(n->window, w, sizeof(w));
	if (n->kind == N_LAST)
		snprintf(what, sizeof(what), "last(%s)", n->name);
	else if (n->kind == N_COUNT)
		snprintf(what, sizeof(what), "count(%s, %s)", n->name, w);
	else
		snprintf(what, sizeof(what), "sum(%s.%s, %s)", n->name, n->field, w);
	if (c->e && c->e->msg[0])
		return err_prefix(c->e, "%s", what);
	return err_set(c->e, "%s: event lookup failed", what);
}

static int eval_events(const struct node *n, const struct ctx *c, struct val *v)
{
	const struct expr_env *env = c->env;
	int64_t since = c->now - n->window, count = 0, oldest = TIME_NEVER, at;
	double total = 0;
	int r;

	if (n->kind == N_LAST)
		r = env->last(env->ud, n->name, c->now, &at);
	else if (n->kind == N_COUNT)
		r = env->count(env->ud, n->name, since, c->now, &count, &oldest);
	else
		r = env->sum(env->ud, n->name, n->field, since, c->now, &total, &oldest);
	if (r < 0)
		return lookup_failed(n, c);
	if (n->kind == N_LAST) {
		if (r == 0) {
			v->type = V_TIME;
			v->time = at;
		}
		return 0;
	}
	v->type = V_NUM;
	v->num = n->kind == N_COUNT ? (double)count : total;
	/* the window is [now - window, now]: the oldest event leaves it at
	 * oldest + window + 1 */
	if (oldest != TIME_NEVER)
		v->next = oldest > INT64_MAX - n->window - 1
			      ? TIME_NEVER
			      : max64(oldest + n->window + 1, c->now + 1);
	return 0;
}

/* eval_stat - stats.NAME through stats_value, with its next change and,
 * for the days_since stats, the base flip_at needs */
static int eval_stat(const struct node *n, const struct ctx *c, struct val *v)
{
	struct stats_value sv;

	if (stats_value(n->stat, c->env, c->env->stats, c->now, &sv, c->e) < 0)
		return -1;
	v->next = max64(sv.next, c->now + 1);
	if (sv.type == STATS_NUM) {
		v->type = V_NUM;
		v->num = sv.num;
		v->base = sv.base;
	} else if (sv.type == STATS_STR) {
		v->type = V_STR;
		snprintf(v->sbuf, sizeof(v->sbuf), "%s", sv.str);
		v->str = v->sbuf;
		v->len = strlen(v->sbuf);
	}
	return 0;
}

static int eval(const struct node *n, const struct ctx *c, struct val *v)
{
	struct val a, b;
	int64_t t;

	*v = (struct val){.type = V_NULL, .next = TIME_NEVER, .base = TIME_NEVER};
	switch (n->kind) {
	case N_NULL:
		return 0;
	case N_BOOL:
		v->type = V_BOOL;
		v->b = n->num != 0;
		return 0;
	case N_NUM:
		v->type = V_NUM;
		v->num = n->num;
		return 0;
	case N_STR:
		v->type = V_STR;
		v->str = n->name;
		v->len = n->len;
		return 0;
	case N_ATTR:
		eval_attr(n, c, v);
		return 0;
	case N_COUNT:
	case N_SUM:
	case N_LAST:
		return eval_events(n, c, v);
	case N_STAT:
		return eval_stat(n, c, v);
	case N_CALL:
		return 0;
	case N_DAYS:
		if (eval(n->kids[0], c, &a) < 0)
			return -1;
		v->next = a.next;
		if (as_time(&a, &t) == 0) {
			int64_t d = (c->now - t) / DAY;
			if ((c->now - t) % DAY < 0)
				d--; /* floor, also for times ahead of now */
			v->type = V_NUM;
			v->num = (double)d;
			v->next = min64(a.next, t + (d + 1) * DAY);
			if (a.next == TIME_NEVER)
				v->base = t;
		}
		return 0;
	case N_NOT:
		if (eval(n->kids[0], c, &a) < 0)
			return -1;
		v->type = V_BOOL;
		v->b = !truth(&a);
		v->next = a.next;
		return 0;
	case N_CMP:
		if (eval(n->kids[0], c, &a) < 0 || eval(n->kids[1], c, &b) < 0)
			return -1;
		v->type = V_BOOL;
		v->b = compare(n->op, &a, &b,
			       n->kids[0]->kind == N_NULL || n->kids[1]->kind == N_NULL);
		v->next = min64(a.next, b.next);
		if (a.base != TIME_NEVER && b.type == V_NUM && b.next == TIME_NEVER)
			v->next = flip_at(n->op, &a, b.num);
		else if (b.base != TIME_NEVER && a.type == V_NUM && a.next == TIME_NEVER)
			v->next = flip_at(mirrored[n->op - T_EQ], &b, a.num);
		return 0;
	case N_AND:
	case N_OR: {
		/* A child with the deciding value (false for and, true for or)
		 * holds the result until it changes: the result stands until the
		 * last such child may change. Without one, any change counts. */
		int decider = n->kind == N_OR, decided = 0;
		int64_t hold = INT64_MIN, any = TIME_NEVER;
		for (size_t i = 0; i < n->nkids && hold != TIME_NEVER; i++) {
			if (eval(n->kids[i], c, &a) < 0)
				return -1;
			if (truth(&a) == decider) {
				decided = 1;
				hold = max64(hold, a.next);
			} else {
				any = min64(any, a.next);
			}
		}
		v->type = V_BOOL;
		v->b = decided ? decider : !decider;
		v->next = decided ? hold : any;
		return 0;
	}
	}
	log_panic("expr: bad node kind %d", (int)n->kind);
}

int expr_eval(const struct expr *x, const struct expr_env *env, int64_t now, int *result,
	      int64_t *next_change, struct err *e)
{
	struct ctx c = {env, now, e};
	struct val v;

	*result = 0;
	*next_change = TIME_NEVER;
	err_clear(e); /* so that a callback's message can be told from none */
	if (now < -TIME_LIMIT || now > TIME_LIMIT)
		return err_set(e, "expr: time %lld out of range", (long long)now);
	if (eval(x->root, &c, &v) < 0)
		return -1;
	if (v.next <= now)
		log_panic("expr: next change %lld not after now %lld", (long long)v.next,
			  (long long)now);
	*result = truth(&v);
	*next_change = v.next;
	return 0;
}

static void refs(const struct node *n, void (*fn)(void *ud, char kind, const char *name), void *ud)
{
	char full[80];

	if (n->kind == N_ATTR) {
		fn(ud, 'a', n->name);
	} else if (n->kind == N_STAT) {
		snprintf(full, sizeof(full), "stats.%s", stats_name(n->stat));
		fn(ud, 's', full);
	} else if (n->kind == N_CALL) {
		fn(ud, 'f', n->name);
	} else if (n->kind == N_COUNT || n->kind == N_SUM || n->kind == N_LAST) {
		fn(ud, 'e', n->name);
	}
	for (size_t i = 0; i < n->nkids; i++)
		refs(n->kids[i], fn, ud);
}

void expr_foreach_ref(const struct expr *x, void (*fn)(void *ud, char kind, const char *name),
		      void *ud)
{
	refs(x->root, fn, ud);
}

/* ---- explain ---- */

static int is_literal(const struct node *n)
{
	return n->kind == N_NULL || n->kind == N_BOOL || n->kind == N_NUM || n->kind == N_STR;
}

/* put_num - precise as a literal written back, else to 2 decimals */
static void put_num(struct buf *b, double x, int precise)
{
	if (isnan(x)) {
		buf_puts(b, "nan");
		return;
	}
	if (isinf(x)) {
		buf_puts(b, x > 0 ? "inf" : "-inf");
		return;
	}
	if (!precise && fabs(x) < 1e13)
		x = round(x * 100) / 100;
	if (x == floor(x) && fabs(x) < 1e15) {
		buf_printf(b, "%.0f", x == 0 ? 0.0 : x); /* never "-0" */
		return;
	}
	if (precise) {
		buf_printf(b, "%.15g", x);
		return;
	}
	char t[64];
	int n = snprintf(t, sizeof(t), "%.2f", x);
	while (n > 0 && t[n - 1] == '0')
		n--; /* 0.50 -> 0.5; x is not whole, so a digit stays after the point */
	buf_append(b, t, (size_t)n);
}

/* put_str - quoted as the lexer reads it; other control bytes as \xNN */
static void put_str(struct buf *b, const char *s, size_t len)
{
	buf_putc(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			buf_printf(b, "\\%c", ch);
		else if (ch == '\n')
			buf_puts(b, "\\n");
		else if (ch == '\t')
			buf_puts(b, "\\t");
		else if (ch < 0x20 || ch == 0x7f)
			buf_printf(b, "\\x%02x", ch);
		else
			buf_putc(b, (char)ch);
	}
	buf_putc(b, '"');
}

static void put_val(struct buf *b, const struct val *v)
{
	char t[32];

	switch (v->type) {
	case V_NULL:
		buf_puts(b, "null");
		break;
	case V_BOOL:
		buf_puts(b, v->b ? "true" : "false");
		break;
	case V_NUM:
		put_num(b, v->num, 0);
		break;
	case V_STR:
		put_str(b, v->str, v->len);
		break;
	case V_TIME:
		time_format(v->time, t, sizeof(t));
		buf_puts(b, t);
		break;
	}
}

/* prec - binding strength, for parentheses when writing a tree out */
static int prec(const struct node *n)
{
	switch (n->kind) {
	case N_OR:
		return 1;
	case N_AND:
		return 2;
	case N_NOT:
		return 3;
	case N_CMP:
		return 4;
	default:
		return 5;
	}
}

static const char *const op_text[] = {"==", "!=", "<", "<=", ">", ">="};

static void unparse(struct buf *b, const struct node *n);

/* unparse_in - kid of parent, in parentheses when it binds as loosely
 * (and a comparison under not, for the reader) */
static void unparse_in(struct buf *b, const struct node *parent, const struct node *kid)
{
	int wrap = prec(kid) <= prec(parent) || (parent->kind == N_NOT && kid->kind == N_CMP);

	if (wrap)
		buf_putc(b, '(');
	unparse(b, kid);
	if (wrap)
		buf_putc(b, ')');
}

/* unparse - n written out again: the source, normalized */
static void unparse(struct buf *b, const struct node *n)
{
	char w[32];

	switch (n->kind) {
	case N_NULL:
		buf_puts(b, "null");
		break;
	case N_BOOL:
		buf_puts(b, n->num ? "true" : "false");
		break;
	case N_NUM:
		put_num(b, n->num, 1);
		break;
	case N_STR:
		put_str(b, n->name, n->len);
		break;
	case N_ATTR:
		buf_puts(b, n->name);
		break;
	case N_STAT:
		buf_printf(b, "stats.%s", stats_name(n->stat));
		break;
	case N_CALL:
		buf_printf(b, "%s(%s)", n->name, n->field);
		break;
	case N_COUNT:
		duration_format(n->window, w, sizeof(w));
		buf_printf(b, "count(%s, %s)", n->name, w);
		break;
	case N_SUM:
		duration_format(n->window, w, sizeof(w));
		buf_printf(b, "sum(%s.%s, %s)", n->name, n->field, w);
		break;
	case N_LAST:
		buf_printf(b, "last(%s)", n->name);
		break;
	case N_DAYS:
		buf_puts(b, "days_since(");
		unparse(b, n->kids[0]);
		buf_putc(b, ')');
		break;
	case N_NOT:
		buf_puts(b, "not ");
		unparse_in(b, n, n->kids[0]);
		break;
	case N_CMP:
		unparse_in(b, n, n->kids[0]);
		buf_printf(b, " %s ", op_text[n->op - T_EQ]);
		unparse_in(b, n, n->kids[1]);
		break;
	case N_AND:
	case N_OR:
		for (size_t i = 0; i < n->nkids; i++) {
			if (i)
				buf_puts(b, n->kind == N_AND ? " and " : " or ");
			unparse_in(b, n, n->kids[i]);
		}
		break;
	}
}

/* explain - n's deciding terms and their values into b; *t its truth.
 * Under `not` or inside an `and`, a list of several terms is wrapped. */
static int explain(struct buf *b, const struct node *n, const struct ctx *c,
		   const struct node *parent, int *t)
{
	struct val v, a;

	if (n->kind == N_AND || n->kind == N_OR) {
		size_t shown = 0;
		int sub, wrap;
		struct buf part = BUF_INIT;
		if (eval(n, c, &v) < 0)
			return -1;
		*t = truth(&v);
		for (size_t i = 0; i < n->nkids; i++) {
			if (eval(n->kids[i], c, &a) < 0) {
				buf_release(&part);
				return -1;
			}
			if (truth(&a) != *t)
				continue;
			if (shown++)
				buf_puts(&part, n->kind == N_AND ? " and " : " or ");
			if (explain(&part, n->kids[i], c, n, &sub) < 0) {
				buf_release(&part);
				return -1;
			}
		}
		wrap = shown > 1 && parent && prec(parent) >= prec(n);
		if (wrap)
			buf_putc(b, '(');
		buf_append(b, buf_cstr(&part), part.len);
		if (wrap)
			buf_putc(b, ')');
		buf_release(&part);
		return 0;
	}
	if (n->kind == N_NOT) {
		const struct node *kid = n->kids[0];
		int wrap = prec(kid) < 5;
		buf_puts(b, "not ");
		if (wrap)
			buf_putc(b, '(');
		if (explain(b, kid, c, NULL, t) < 0)
			return -1;
		if (wrap)
			buf_putc(b, ')');
		*t = !*t;
		return 0;
	}
	if (eval(n, c, &v) < 0)
		return -1;
	*t = truth(&v);
	unparse(b, n);
	if (n->kind == N_CMP) {
		int shown = 0;
		for (size_t i = 0; i < 2; i++) {
			if (is_literal(n->kids[i]))
				continue;
			if (eval(n->kids[i], c, &a) < 0)
				return -1;
			buf_puts(b, shown++ ? ", " : " (");
			put_val(b, &a);
		}
		if (shown)
			buf_putc(b, ')');
	} else if (!is_literal(n)) {
		buf_puts(b, " (");
		put_val(b, &v);
		buf_putc(b, ')');
	}
	return 0;
}

int expr_explain(const struct expr *x, const struct expr_env *env, int64_t now, int *result,
		 struct buf *out, struct err *e)
{
	struct ctx c = {env, now, e};

	*result = 0;
	err_clear(e);
	if (now < -TIME_LIMIT || now > TIME_LIMIT)
		return err_set(e, "expr: time %lld out of range", (long long)now);
	return explain(out, x->root, &c, NULL, result);
}
