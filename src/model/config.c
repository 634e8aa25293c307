/* config.c - config/outreach.yaml into struct config (libfyaml, jansson).
 *
 * Two passes. The first walks the libfyaml tree once and builds `doc`, the
 * whole file as JSON, and `lines`, JSON pointer -> 1-based line: a plain
 * scalar that looks like a number, a boolean or null (YAML 1.2 core schema)
 * becomes one, anything quoted or tagged !!str stays a string, ${NAME} is
 * expanded in every string value, aliases and `<<` merge keys are resolved.
 * The second pass reads the typed fields from doc alone and reports through
 * config_line(), so later modules can validate their own keys the same way.
 * Every problem is reported; none stops the load.
 *
 * Security: environment values are secrets. A message that quotes a value
 * quotes it as written in the file, never expanded. Template and transport
 * names end up in paths and URLs, so they are limited to [A-Za-z0-9_.-] and
 * may not start with a dot. Aliases are expanded with a node budget and a
 * depth limit, so a "billion laughs" or self-referencing file fails instead
 * of eating memory. Input that is not UTF-8 is refused before libfyaml sees
 * it (0.7.12 can loop forever on a malformed directive line).
 */
#include "config.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "buf.h"
#include "err.h"
#include "expr.h"
#include "log.h"
#include "sendtime.h"
#include "stats.h"
#include "timeutil.h"
#include "tz.h"
#include "where.h"
#include "xmalloc.h"

#define MAX_DEPTH 64	 /* nesting, aliases and merges included */
#define MAX_NODES 200000 /* nodes after alias expansion */
#define QSLOTS 8	 /* quoted strings alive in one message */
#define QLEN 128

#define DEFAULT_STORE "var/outreach.db"
#define DEFAULT_TEMPLATES "templates"
#define DEFAULT_TIMEZONE "UTC"
#define DEFAULT_BASE_URL "http://127.0.0.1:8080"
#define DEFAULT_SECRET_ENV "OUTREACH_SECRET"
#define DEFAULT_KEY_ENV "OUTREACH_KEY"
#define DEFAULT_GOAL_WITHIN (30 * 86400)

struct loader {
	const char *file;
	struct diag *d;
	struct config *c;
	json_t *raw;	/* pointer -> string as written, for values that had ${...} */
	json_t *tnames; /* every transport name declared, usable or not */
	json_t *snames; /* every segment name declared */
	size_t nodes;
	int too_big;			     /* the budget message was given */
	int alias_line;			     /* where the outermost alias being expanded is used */
	struct fy_node *open[MAX_DEPTH + 8]; /* collections being converted */
	int nopen;
	char q[QSLOTS][QLEN];
	int qnext;
};

static const char *const top_keys[] = {"store",	   "templates",	 "timezone", "tracking",
				       "policies", "transports", "segments", "campaigns",
				       "encrypt",  "log_pii",	 "stats",    "serve",
				       NULL};
static const char *const tracking_keys[] = {"base_url", "secret_env", NULL};
static const char *const campaign_keys[] = {"class",	   "trigger",	 "goal",
					    "holdout",	   "steps",	 "max_per_contact",
					    "reentry",	   "quiet_hours", "quiet_days",
					    "track",	   "send_hour",	 "survey",
					    NULL};
static const char *const trigger_keys[] = {"event", "segment", "every", "where", NULL};
static const char *const goal_keys[] = {"event", "within", NULL};
static const char *const step_keys[] = {"after",  "channels", "template", "variants",
					"expire", "unless",   "send_at",  "survey",
					NULL};
static const char *const stats_keys[] = {"rfm", NULL};
static const char *const serve_keys[] = {"user",	 "rate",    "burst",
					 "max_connections", "max_connections_per_ip",
					 "timeout", "trusted_proxies", NULL};
static const char *const rfm_keys[] = {"recency_days", "frequency", "monetary", NULL};
static const char *const transport_kinds[] = {"smtp", "http", "webhook", "outbox", NULL};

/* ---- messages ---- */

static void problem(struct loader *ld, int warn, int line, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void problem(struct loader *ld, int warn, int line, const char *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *sep = ctx && *ctx ? ": " : "";
	if (warn)
		diag_warn(ld->d, ld->file, line, "%s%s%s", ctx ? ctx : "", sep, msg);
	else
		diag_error(ld->d, ld->file, line, "%s%s%s", ctx ? ctx : "", sep, msg);
}

/* qn - s (n bytes) in double quotes for a one-line message: escaped, cut
 * short when long; the result lives until QSLOTS more calls */
static const char *qn(struct loader *ld, const char *s, size_t n)
{
	char *out = ld->q[ld->qnext];
	size_t o = 0;
	ld->qnext = (ld->qnext + 1) % QSLOTS;
	out[o++] = '"';
	for (size_t i = 0; s && i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char tmp[8];
		size_t k = 0;
		if (ch == '"' || ch == '\\') {
			tmp[k++] = '\\';
			tmp[k++] = (char)ch;
		} else if (ch == '\n') {
			tmp[k++] = '\\';
			tmp[k++] = 'n';
		} else if (ch < 0x20 || ch == 0x7f) {
			k = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
		} else {
			tmp[k++] = (char)ch;
		}
		if (o + k + 5 > QLEN) {
			/* do not leave half a UTF-8 character before the dots */
			while (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
				o--;
			if (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
				o--;
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, tmp, k);
		o += k;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static const char *q(struct loader *ld, const char *s)
{
	return qn(ld, s, s ? strlen(s) : 0);
}

/* ---- JSON pointers ---- */

static void ptr_push(struct buf *p, const char *key, size_t n)
{
	buf_putc(p, '/');
	for (size_t i = 0; i < n; i++) {
		if (key[i] == '~')
			buf_puts(p, "~0");
		else if (key[i] == '/')
			buf_puts(p, "~1");
		else
			buf_putc(p, key[i]);
	}
}

static void ptr_key(struct buf *p, const char *key)
{
	ptr_push(p, key, strlen(key));
}

static void ptr_index(struct buf *p, size_t i)
{
	buf_printf(p, "/%zu", i);
}

static void ptr_pop(struct buf *p, size_t mark)
{
	p->len = mark;
	if (p->data)
		p->data[mark] = '\0';
}

static int at_line(struct loader *ld, const struct buf *p)
{
	return config_line(ld->c, buf_cstr(p));
}

static int key_line(struct loader *ld, struct buf *p, const char *key)
{
	size_t mark = p->len;
	ptr_key(p, key);
	int line = at_line(ld, p);
	ptr_pop(p, mark);
	return line;
}

/* qv - value v found at p/key, quoted for a message: strings as written in
 * the file (so no expanded secret), anything else as compact JSON */
static const char *qv(struct loader *ld, struct buf *p, const char *key, const json_t *v)
{
	size_t mark = p->len;
	if (key)
		ptr_key(p, key);
	json_t *raw = json_object_get(ld->raw, buf_cstr(p));
	ptr_pop(p, mark);
	if (raw)
		return qn(ld, json_string_value(raw), json_string_length(raw));
	if (json_is_string(v))
		return qn(ld, json_string_value(v), json_string_length(v));
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	const char *r = q(ld, s ? s : "?");
	free(s);
	return r;
}

/* ---- pass 1: YAML to JSON with lines ---- */

static int node_line(struct fy_node *fyn, int fallback, int depth)
{
	if (!fyn || depth > MAX_DEPTH)
		return fallback;
	struct fy_token *t = fy_node_get_scalar_token(fyn);
	if (t) {
		const struct fy_mark *m = fy_token_start_mark(t);
		return m ? m->line + 1 : fallback;
	}
	void *it = NULL;
	if (fy_node_is_mapping(fyn)) {
		struct fy_node_pair *pr = fy_node_mapping_iterate(fyn, &it);
		return pr ? node_line(fy_node_pair_key(pr), fallback, depth + 1) : fallback;
	}
	if (fy_node_is_sequence(fyn))
		return node_line(fy_node_sequence_iterate(fyn, &it), fallback, depth + 1);
	return fallback;
}

static int match_digits(const char *s, size_t n, size_t *i)
{
	size_t start = *i;
	while (*i < n && isdigit((unsigned char)s[*i]))
		(*i)++;
	return (int)(*i - start);
}

/* is_float - [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static int is_float(const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	int before = match_digits(s, n, &i), after = 0;
	if (i < n && s[i] == '.') {
		i++;
		after = match_digits(s, n, &i);
	}
	if (before + after == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (!match_digits(s, n, &i))
			return 0;
	}
	return i == n;
}

/* plain_value - a plain scalar as null, bool or number (YAML 1.2 core
 * schema), or NULL when it is a string */
static json_t *plain_value(const char *s, size_t n)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	if (n == 0)
		return json_null();
	if (n > 64 || memchr(s, '\0', n))
		return NULL;
	char tmp[72];
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	for (int i = 0; nulls[i]; i++)
		if (strcmp(tmp, nulls[i]) == 0)
			return json_null();
	for (int i = 0; trues[i]; i++)
		if (strcmp(tmp, trues[i]) == 0)
			return json_true();
	for (int i = 0; falses[i]; i++)
		if (strcmp(tmp, falses[i]) == 0)
			return json_false();
	char *end;
	size_t i = 0;
	if (tmp[i] == '-' || tmp[i] == '+')
		i++;
	if (i < n && match_digits(tmp, n, &i) && i == n) {
		errno = 0;
		long long v = strtoll(tmp, &end, 10);
		if (errno == 0 && *end == '\0')
			return json_integer(v);
		double d = strtod(tmp, &end);
		return isfinite(d) ? json_real(d) : NULL;
	}
	if (n > 2 && tmp[0] == '0' && (tmp[1] == 'x' || tmp[1] == 'o')) {
		int base = tmp[1] == 'x' ? 16 : 8;
		for (i = 2; i < n; i++)
			if (base == 16 ? !isxdigit((unsigned char)tmp[i])
				       : (tmp[i] < '0' || tmp[i] > '7'))
				return NULL;
		errno = 0;
		long long v = strtoll(tmp + 2, &end, base);
		return errno == 0 && *end == '\0' ? json_integer(v) : NULL;
	}
	if (is_float(tmp, n)) {
		double d = strtod(tmp, &end);
		return isfinite(d) && *end == '\0' ? json_real(d) : NULL;
	}
	return NULL;
}

/* env_expand - s with every ${NAME} replaced by the variable (empty and a
 * warning when unset) into out; 1 when anything was replaced */
static int env_expand(struct loader *ld, const char *s, size_t n, int line, struct buf *out)
{
	int changed = 0;
	size_t i = 0;
	buf_append(out, "", 0);
	while (i < n) {
		if (s[i] == '$' && i + 2 < n && s[i + 1] == '{' &&
		    (isalpha((unsigned char)s[i + 2]) || s[i + 2] == '_')) {
			size_t j = i + 3;
			while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '_'))
				j++;
			if (j < n && s[j] == '}') {
				char *name = xstrndup(s + i + 2, j - i - 2);
				const char *val = getenv(name);
				if (val)
					buf_puts(out, val);
				else
					problem(ld, 1, line, NULL,
						"environment variable %s is not set", name);
				free(name);
				changed = 1;
				i = j + 1;
				continue;
			}
		}
		buf_putc(out, s[i++]);
	}
	return changed;
}

static int is_str_tagged(struct fy_node *fyn)
{
	size_t n;
	const char *tag = fy_node_get_tag(fyn, &n);
	if (!tag)
		return 0;
	return (n == 21 && memcmp(tag, "tag:yaml.org,2002:str", 21) == 0) ||
	       (n == 5 && memcmp(tag, "!!str", 5) == 0);
}

static json_t *scalar_to_json(struct loader *ld, struct fy_node *fyn, struct buf *p, int line)
{
	size_t n = 0;
	const char *s = fy_node_get_scalar(fyn, &n);
	if (!s) {
		s = "";
		n = 0;
	}
	if (fy_node_get_style(fyn) == FYNS_PLAIN && !is_str_tagged(fyn)) {
		json_t *v = plain_value(s, n);
		if (v)
			return v;
	}
	struct buf out = BUF_INIT;
	int changed = env_expand(ld, s, n, line, &out);
	json_t *v = json_stringn(buf_cstr(&out), out.len);
	buf_release(&out);
	if (!v) {
		problem(ld, 0, line, NULL, "string is not valid UTF-8");
		return json_string("");
	}
	if (changed) {
		json_t *raw = json_stringn(s, n);
		if (raw)
			json_object_set_new(ld->raw, buf_cstr(p), raw);
	}
	return v;
}

static int budget(struct loader *ld, int line, int depth)
{
	if (++ld->nodes <= MAX_NODES && depth <= MAX_DEPTH)
		return 0;
	if (!ld->too_big)
		problem(ld, 0, ld->alias_line ? ld->alias_line : line, NULL, "%s",
			depth > MAX_DEPTH ? "nesting too deep (recursive alias?)"
					  : "too many nodes after expanding aliases");
	ld->too_big = 1;
	return -1;
}

static json_t *to_json(struct loader *ld, struct fy_node *fyn, struct buf *p, int line, int depth);

/* is_open - fyn is being converted further up: an alias to it recurses */
static int is_open(struct loader *ld, struct fy_node *fyn)
{
	for (int i = 0; i < ld->nopen; i++)
		if (ld->open[i] == fyn)
			return 1;
	return 0;
}

static void push_open(struct loader *ld, struct fy_node *fyn)
{
	if (ld->nopen >= (int)(sizeof(ld->open) / sizeof(ld->open[0])))
		log_panic("config: conversion stack overflow");
	ld->open[ld->nopen++] = fyn;
}

static int is_merge_key(struct fy_node *k)
{
	size_t n;
	const char *s;
	if (!k || !fy_node_is_scalar(k) || fy_node_is_alias(k) ||
	    fy_node_get_style(k) != FYNS_PLAIN)
		return 0;
	s = fy_node_get_scalar(k, &n);
	return s && n == 2 && memcmp(s, "<<", 2) == 0;
}

static void map_into(struct loader *ld, json_t *o, struct fy_node *map, struct buf *p, int line,
		     int depth);

/* merge - a `<<` value: one mapping or a list of them, the earlier winning;
 * keys already in o (explicit ones) always win */
static void merge(struct loader *ld, json_t *o, struct fy_node *v, struct buf *p, int line,
		  int depth)
{
	if (budget(ld, line, depth))
		return;
	if (v && fy_node_is_alias(v))
		v = fy_node_resolve_alias(v);
	if (v && fy_node_is_mapping(v)) {
		map_into(ld, o, v, p, line, depth + 1);
		return;
	}
	if (v && fy_node_is_sequence(v)) {
		void *it = NULL;
		struct fy_node *item;
		while ((item = fy_node_sequence_iterate(v, &it))) {
			int il = node_line(item, line, 0);
			if (fy_node_is_alias(item))
				item = fy_node_resolve_alias(item);
			if (item && fy_node_is_mapping(item))
				map_into(ld, o, item, p, il, depth + 1);
			else
				problem(ld, 0, il, NULL,
					"<< takes a mapping or a list of mappings");
		}
		return;
	}
	problem(ld, 0, line, NULL, "<< takes a mapping or a list of mappings");
}

static void map_into(struct loader *ld, json_t *o, struct fy_node *map, struct buf *p, int line,
		     int depth)
{
	void *it = NULL;
	struct fy_node_pair *pr;
	if (budget(ld, line, depth))
		return;
	if (is_open(ld, map)) {
		problem(ld, 0, line, NULL, "recursive alias");
		return;
	}
	push_open(ld, map);
	while ((pr = fy_node_mapping_iterate(map, &it))) {
		struct fy_node *k = fy_node_pair_key(pr), *v = fy_node_pair_value(pr);
		if (is_merge_key(k))
			continue;
		int kl = node_line(k, line, 0);
		if (k && fy_node_is_alias(k))
			k = fy_node_resolve_alias(k);
		size_t klen = 0;
		const char *key = k && fy_node_is_scalar(k) ? fy_node_get_scalar(k, &klen) : NULL;
		if (!k)
			key = "";
		if (!key) {
			problem(ld, 0, kl, NULL, "mapping keys must be strings");
			continue;
		}
		json_t *check = json_stringn(key, klen);
		if (!check || memchr(key, '\0', klen)) {
			problem(ld, 0, kl, NULL, "mapping key is not valid UTF-8 text");
			json_decref(check);
			continue;
		}
		json_decref(check);
		if (json_object_getn(o, key, klen))
			continue; /* a merged key that an explicit one overrides */
		size_t mark = p->len;
		ptr_push(p, key, klen);
		/* a collection or block scalar is where its key is; another
		 * scalar is where it is, maybe on the next line */
		int vl = kl;
		if (v && fy_node_is_scalar(v) && !fy_node_is_alias(v) &&
		    fy_node_get_style(v) != FYNS_LITERAL && fy_node_get_style(v) != FYNS_FOLDED)
			vl = node_line(v, kl, 0);
		json_object_setn_new(o, key, klen, to_json(ld, v, p, vl, depth + 1));
		ptr_pop(p, mark);
	}
	it = NULL;
	while ((pr = fy_node_mapping_iterate(map, &it)))
		if (is_merge_key(fy_node_pair_key(pr)))
			merge(ld, o, fy_node_pair_value(pr), p,
			      node_line(fy_node_pair_key(pr), line, 0), depth + 1);
	ld->nopen--;
}

/* to_json - fyn (NULL: an empty value) at pointer p, first seen at line */
static json_t *to_json(struct loader *ld, struct fy_node *fyn, struct buf *p, int line, int depth)
{
	if (budget(ld, line, depth))
		return json_null();
	json_object_set_new(ld->c->lines, buf_cstr(p), json_integer(line));
	if (!fyn)
		return json_null();
	if (fy_node_is_alias(fyn)) {
		struct fy_node *target = fy_node_resolve_alias(fyn);
		if (!target) {
			problem(ld, 0, line, NULL, "alias to an unknown anchor");
			return json_null();
		}
		if (is_open(ld, target)) {
			problem(ld, 0, line, NULL, "recursive alias");
			return json_null();
		}
		int outer = ld->alias_line;
		if (!outer)
			ld->alias_line = line;
		json_t *v = to_json(ld, target, p, line, depth + 1);
		ld->alias_line = outer;
		return v;
	}
	switch (fy_node_get_type(fyn)) {
	case FYNT_SCALAR:
		return scalar_to_json(ld, fyn, p, line);
	case FYNT_SEQUENCE: {
		json_t *a = json_array();
		void *it = NULL;
		struct fy_node *item;
		size_t i = 0;
		push_open(ld, fyn);
		while ((item = fy_node_sequence_iterate(fyn, &it))) {
			size_t mark = p->len;
			ptr_index(p, i++);
			json_array_append_new(
			    a, to_json(ld, item, p, node_line(item, line, 0), depth + 1));
			ptr_pop(p, mark);
		}
		ld->nopen--;
		return a;
	}
	case FYNT_MAPPING: {
		json_t *o = json_object();
		map_into(ld, o, fyn, p, line, depth);
		return o;
	}
	}
	return json_null();
}

/* ---- pass 2: typed fields ---- */

static int in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

static void check_keys(struct loader *ld, json_t *o, struct buf *p, const char *const *known)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		if (!in_list(k, known))
			problem(ld, 1, key_line(ld, p, k), NULL, "unknown key %s", q(ld, k));
	}
}

/* get_str - the string o[key] into *out: 1 found, 0 absent or null,
 * -1 another type (reported) */
static int get_str(struct loader *ld, const char *ctx, json_t *o, struct buf *p, const char *key,
		   const char **out)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		problem(ld, 0, key_line(ld, p, key), ctx, "%s must be a string", key);
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

/* env_name_ok - s can name an environment variable */
static int env_name_ok(const char *s)
{
	int ok = *s != '\0' && !isdigit((unsigned char)*s);
	for (const char *x = s; *x; x++)
		if (!isalnum((unsigned char)*x) && *x != '_')
			ok = 0;
	return ok;
}

/* get_duration - o[key] as seconds: 1 found, 0 absent, -1 bad (reported) */
static int get_duration(struct loader *ld, const char *ctx, json_t *o, struct buf *p,
			const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) == 0) {
		*out = 0;
		return 1;
	}
	if (json_is_string(v) && duration_parse(json_string_value(v), out) == 0)
		return 1;
	problem(ld, 0, key_line(ld, p, key), ctx, "bad duration %s for %s (use 30m, 24h, 7d)",
		qv(ld, p, key, v), key);
	return -1;
}

/* name_ok - a name that becomes a path or URL component */
static int name_ok(const char *s)
{
	if (!*s || *s == '.')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static int segment_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !isdigit((unsigned char)*s) && *s != '_' &&
		    *s != '-')
			return 0;
	return 1;
}

/* decimal - s is [0-9]+(\.[0-9]+)? exactly; its value in *out */
static int decimal(const char *s, size_t n, double *out)
{
	size_t i = 0;
	char tmp[40];
	if (n == 0 || n >= sizeof(tmp) || !match_digits(s, n, &i))
		return -1;
	if (i < n && s[i] == '.') {
		i++;
		if (!match_digits(s, n, &i))
			return -1;
	}
	if (i != n)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	*out = strtod(tmp, NULL);
	return 0;
}

int config_percent(const json_t *v, double *out)
{
	double x;
	if (json_is_number(v)) {
		x = json_number_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (n > 0 && s[n - 1] == '%') {
			if (decimal(s, n - 1, &x))
				return -1;
			x /= 100;
		} else if (decimal(s, n, &x)) {
			return -1;
		}
	} else {
		return -1;
	}
	if (!isfinite(x) || x < 0 || x > 1)
		return -1;
	*out = x;
	return 0;
}

/* str_list - a string or a list of strings at o[key] into a fresh array;
 * 1 found, 0 absent, -1 bad (reported). check, when set, is called for
 * each name with its pointer in p. */
static int str_list(struct loader *ld, const char *ctx, json_t *o, struct buf *p, const char *key,
		    char ***out, size_t *nout,
		    void (*check)(struct loader *, const char *ctx, const char *name,
				  struct buf *p))
{
	json_t *v = json_object_get(o, key);
	size_t mark = p->len;
	*out = NULL;
	*nout = 0;
	if (!v || json_is_null(v))
		return 0;
	ptr_key(p, key);
	if (json_is_string(v)) {
		*out = xcalloc(1, sizeof(**out));
		(*out)[(*nout)++] = xstrdup(json_string_value(v));
		if (check)
			check(ld, ctx, json_string_value(v), p);
		ptr_pop(p, mark);
		return 1;
	}
	if (!json_is_array(v)) {
		problem(ld, 0, at_line(ld, p), ctx, "%s must be a name or a list of names", key);
		ptr_pop(p, mark);
		return -1;
	}
	size_t i;
	json_t *item;
	int rc = 1;
	*out = xcalloc(json_array_size(v) + 1, sizeof(**out));
	json_array_foreach(v, i, item)
	{
		size_t m2 = p->len;
		ptr_index(p, i);
		if (!json_is_string(item)) {
			problem(ld, 0, at_line(ld, p), ctx, "%s must list names, not %s", key,
				qv(ld, p, NULL, item));
			rc = -1;
		} else {
			(*out)[(*nout)++] = xstrdup(json_string_value(item));
			if (check)
				check(ld, ctx, json_string_value(item), p);
		}
		ptr_pop(p, m2);
	}
	ptr_pop(p, mark);
	return rc;
}

static void check_channel(struct loader *ld, const char *ctx, const char *name, struct buf *p)
{
	if (!json_object_get(ld->tnames, name))
		problem(ld, 0, at_line(ld, p), ctx, "unknown transport %s in channels",
			q(ld, name));
}

static void load_tracking(struct loader *ld, json_t *root, struct buf *p)
{
	struct config *c = ld->c;
	json_t *t = json_object_get(root, "tracking");
	const char *s;
	size_t mark = p->len;
	if (!t || json_is_null(t))
		return;
	ptr_key(p, "tracking");
	if (!json_is_object(t)) {
		problem(ld, 0, at_line(ld, p), NULL, "tracking must be a mapping");
		ptr_pop(p, mark);
		return;
	}
	check_keys(ld, t, p, tracking_keys);
	if (get_str(ld, "tracking", t, p, "base_url", &s) > 0) {
		if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
			problem(ld, 0, key_line(ld, p, "base_url"), NULL,
				"tracking.base_url %s must start with http:// or https://",
				qv(ld, p, "base_url", json_object_get(t, "base_url")));
		else
			c->tracking_base_url = xstrdup(s);
	}
	if (get_str(ld, "tracking", t, p, "secret_env", &s) > 0) {
		if (!env_name_ok(s))
			problem(ld, 0, key_line(ld, p, "secret_env"), NULL,
				"tracking.secret_env %s is not an environment variable name",
				qv(ld, p, "secret_env", json_object_get(t, "secret_env")));
		else
			c->tracking_secret_env = xstrdup(s);
	}
	ptr_pop(p, mark);
}

static void load_transport(struct loader *ld, const char *name, json_t *v, struct buf *p)
{
	struct config *c = ld->c;
	int line = at_line(ld, p);
	char ctx[QLEN + 16];
	const char *kind, *chan, *to;
	snprintf(ctx, sizeof(ctx), "transport %s", q(ld, name));

	json_object_set_new(ld->tnames, name, json_true());
	if (!name_ok(name))
		problem(ld, 0, line, NULL,
			"bad transport name %s (use letters, digits, _, - and .)", q(ld, name));
	if (!json_is_object(v)) {
		problem(ld, 0, line, NULL, "%s must be a mapping", ctx);
		return;
	}
	int r = get_str(ld, ctx, v, p, "kind", &kind);
	if (r == 0)
		problem(ld, 0, line, ctx, "missing kind (smtp, http, webhook or outbox)");
	else if (r > 0 && !in_list(kind, transport_kinds))
		problem(ld, 0, key_line(ld, p, "kind"), ctx,
			"unknown kind %s (use smtp, http, webhook or outbox)",
			qv(ld, p, "kind", json_object_get(v, "kind")));
	if (r <= 0 || !in_list(kind, transport_kinds))
		return;

	int channel = strcmp(kind, "smtp") == 0	     ? CHANNEL_EMAIL
		      : strcmp(kind, "http") == 0    ? CHANNEL_SMS
		      : strcmp(kind, "webhook") == 0 ? CHANNEL_CHAT
						     : -1;
	r = get_str(ld, ctx, v, p, "channel", &chan);
	if (r > 0) {
		int k = channel_parse(chan);
		if (k < 0)
			problem(ld, 0, key_line(ld, p, "channel"), ctx,
				"unknown channel %s (use email, sms or chat)",
				qv(ld, p, "channel", json_object_get(v, "channel")));
		else if (strcmp(kind, "smtp") == 0 && k != CHANNEL_EMAIL)
			problem(ld, 0, key_line(ld, p, "channel"), ctx,
				"an smtp transport serves channel email, not %s", chan);
		else
			channel = k;
	} else if (r == 0 && channel < 0) {
		problem(ld, 0, line, ctx, "an outbox transport needs channel: email, sms or chat");
	}
	if (channel < 0)
		return;

	r = get_str(ld, ctx, v, p, "to", &to);
	if (r > 0 && !*to) {
		problem(ld, 0, key_line(ld, p, "to"), ctx, "to must name a contact field");
		r = -1;
	}
	struct transport_conf *t = &c->transports[c->ntransports++];
	t->name = xstrdup(name);
	t->kind = xstrdup(kind);
	t->channel = (enum channel_kind)channel;
	if (r > 0)
		t->to = xstrdup(to);
	else if (channel == CHANNEL_EMAIL)
		t->to = xstrdup("email");
	else if (channel == CHANNEL_SMS)
		t->to = xstrdup("phone");
	t->opts = v;
	t->pointer = xstrdup(buf_cstr(p));
	t->line = line;
}

static void load_transports(struct loader *ld, json_t *root, struct buf *p)
{
	json_t *ts = json_object_get(root, "transports"), *v;
	const char *name;
	size_t mark = p->len;
	if (!ts || json_is_null(ts))
		return;
	ptr_key(p, "transports");
	if (!json_is_object(ts)) {
		problem(ld, 0, at_line(ld, p), NULL,
			"transports must be a mapping of name to transport");
		ptr_pop(p, mark);
		return;
	}
	ld->c->transports = xcalloc(json_object_size(ts) + 1, sizeof(*ld->c->transports));
	json_object_foreach(ts, name, v)
	{
		size_t m2 = p->len;
		ptr_key(p, name);
		load_transport(ld, name, v, p);
		ptr_pop(p, m2);
	}
	ptr_pop(p, mark);
}

static void load_segments(struct loader *ld, json_t *root, struct buf *p)
{
	struct config *c = ld->c;
	json_t *ss = json_object_get(root, "segments"), *v;
	const char *name;
	size_t mark = p->len;
	if (!ss || json_is_null(ss))
		return;
	ptr_key(p, "segments");
	if (!json_is_object(ss)) {
		problem(ld, 0, at_line(ld, p), NULL,
			"segments must be a mapping of name to expression");
		ptr_pop(p, mark);
		return;
	}
	c->segments = xcalloc(json_object_size(ss) + 1, sizeof(*c->segments));
	json_object_foreach(ss, name, v)
	{
		size_t m2 = p->len;
		ptr_key(p, name);
		int line = at_line(ld, p);
		json_object_set_new(ld->snames, name, json_true());
		if (!segment_name_ok(name))
			problem(ld, 0, line, NULL,
				"bad segment name %s (use lowercase letters, digits, _ and -)",
				q(ld, name));
		char *src = NULL;
		if (json_is_string(v))
			src = xstrdup(json_string_value(v));
		else if (json_is_number(v) || json_is_boolean(v))
			src = json_dumps(v, JSON_ENCODE_ANY);
		if (!src) {
			problem(ld, 0, line, NULL, "segment %s must be an expression", q(ld, name));
			ptr_pop(p, m2);
			continue;
		}
		struct segment_conf *s = &c->segments[c->nsegments++];
		struct err e;
		err_clear(&e);
		s->name = xstrdup(name);
		s->source = xstrdup(src);
		free(src);
		s->line = line;
		s->expr = expr_parse(s->source, &e);
		if (!s->expr)
			problem(ld, 0, line, NULL, "segment %s: %s", q(ld, name), e.msg);
		ptr_pop(p, m2);
	}
	ptr_pop(p, mark);
}

/* load_where - each field of a trigger's where: a plain value, or a
 * mapping of operators (where.h) each with a fitting operand; every bad
 * one reported at its line. 0 when all are good. */
static int load_where(struct loader *ld, const char *ctx, json_t *where, struct buf *p)
{
	size_t mark = p->len;
	const char *field;
	json_t *cond;
	int bad = 0;
	ptr_key(p, "where");
	json_object_foreach(where, field, cond)
	{
		if (!json_is_object(cond))
			continue;
		size_t m2 = p->len;
		ptr_key(p, field);
		if (json_object_size(cond) == 0) {
			problem(ld, 0, at_line(ld, p), ctx,
				"trigger where %s: an empty mapping (give operators like {lte: 6})",
				q(ld, field));
			bad = 1;
		}
		const char *name;
		json_t *v;
		json_object_foreach(cond, name, v)
		{
			struct err e = {{0}};
			int op = where_op_parse(name);
			if (op < 0) {
				problem(ld, 0, key_line(ld, p, name), ctx,
					"trigger where %s: unknown operator %s (use %s; to match a "
					"mapping, {eq: {...}})",
					q(ld, field), q(ld, name), where_op_list());
				bad = 1;
			} else if (where_check_op((enum where_op)op, v, &e) < 0) {
				problem(ld, 0, key_line(ld, p, name), ctx,
					"trigger where %s: %s, not %s", q(ld, field), e.msg,
					qv(ld, p, name, v));
				bad = 1;
			}
		}
		ptr_pop(p, m2);
	}
	ptr_pop(p, mark);
	return bad ? -1 : 0;
}

static void load_trigger(struct loader *ld, struct campaign_conf *cc, const char *ctx, json_t *o,
			 struct buf *p)
{
	json_t *t = json_object_get(o, "trigger");
	size_t mark = p->len;
	const char *ev, *seg;
	if (!t || json_is_null(t)) {
		problem(ld, 0, cc->line, ctx, "missing trigger (event: TYPE or segment: NAME)");
		return;
	}
	ptr_key(p, "trigger");
	int line = at_line(ld, p);
	if (!json_is_object(t)) {
		problem(ld, 0, line, ctx,
			"trigger must be a mapping like {event: purchase} or {segment: vip}");
		ptr_pop(p, mark);
		return;
	}
	check_keys(ld, t, p, trigger_keys);
	int re = get_str(ld, ctx, t, p, "event", &ev);
	int rs = get_str(ld, ctx, t, p, "segment", &seg);
	if (re > 0 && !*ev) {
		problem(ld, 0, key_line(ld, p, "event"), ctx, "trigger event must not be empty");
		re = -1;
	}
	if (re > 0 && rs > 0)
		problem(ld, 0, line, ctx, "trigger names both an event and a segment (give one)");
	else if (re == 0 && rs == 0)
		problem(ld, 0, line, ctx, "trigger needs event: TYPE or segment: NAME");
	if (re > 0)
		cc->trigger_event = xstrdup(ev);
	if (rs > 0) {
		if (!json_object_get(ld->snames, seg))
			problem(ld, 0, key_line(ld, p, "segment"), ctx, "unknown segment %s",
				q(ld, seg));
		cc->trigger_segment = xstrdup(seg);
	}
	int64_t every = 0;
	int rv = get_duration(ld, ctx, t, p, "every", &every);
	if (rv > 0 && every <= 0) {
		problem(ld, 0, key_line(ld, p, "every"), ctx,
			"trigger every must be longer than 0");
	} else if (rv > 0 && rs == 0) {
		problem(ld, 0, key_line(ld, p, "every"), ctx, "trigger every needs a segment");
	} else if (rv > 0) {
		cc->trigger_every = every;
	}
	json_t *where = json_object_get(t, "where");
	if (where && !json_is_null(where)) {
		int wl = key_line(ld, p, "where");
		if (!json_is_object(where))
			problem(ld, 0, wl, ctx, "trigger where must be a mapping of data fields");
		else if (re == 0)
			problem(ld, 0, wl, ctx, "trigger where applies to event triggers only");
		else if (load_where(ld, ctx, where, p) == 0)
			cc->trigger_where = where;
	}
	ptr_pop(p, mark);
}

static void load_goal(struct loader *ld, struct campaign_conf *cc, const char *ctx, json_t *o,
		      struct buf *p)
{
	json_t *g = json_object_get(o, "goal");
	size_t mark = p->len;
	const char *ev;
	if (!g || json_is_null(g))
		return;
	ptr_key(p, "goal");
	int line = at_line(ld, p);
	if (!json_is_object(g)) {
		problem(ld, 0, line, ctx,
			"goal must be a mapping like {event: purchase, within: 30d}");
		ptr_pop(p, mark);
		return;
	}
	check_keys(ld, g, p, goal_keys);
	int r = get_str(ld, ctx, g, p, "event", &ev);
	if (r == 0 || (r > 0 && !*ev))
		problem(ld, 0, line, ctx, "goal needs an event");
	else if (r > 0)
		cc->goal_event = xstrdup(ev);
	cc->goal_within = DEFAULT_GOAL_WITHIN;
	int64_t within;
	int rw = get_duration(ld, ctx, g, p, "within", &within);
	if (rw > 0 && within <= 0)
		problem(ld, 0, key_line(ld, p, "within"), ctx, "goal within must be longer than 0");
	else if (rw > 0)
		cc->goal_within = within;
	ptr_pop(p, mark);
}

static void load_holdout(struct loader *ld, struct campaign_conf *cc, const char *ctx, json_t *o,
			 struct buf *p)
{
	json_t *h = json_object_get(o, "holdout");
	double x;
	if (!h || json_is_null(h))
		return;
	int line = key_line(ld, p, "holdout");
	if (config_percent(h, &x))
		problem(ld, 0, line, ctx, "bad holdout %s (use 10%% or 0.1)",
			qv(ld, p, "holdout", h));
	else if (x > 0.5)
		problem(ld, 0, line, ctx, "holdout %s is over 50%%", qv(ld, p, "holdout", h));
	else
		cc->holdout = x;
}

/* load_survey - `survey: nps | csat` of a campaign or step into *out */
static void load_survey(struct loader *ld, const char *ctx, json_t *o, struct buf *p,
			enum survey_scale *out)
{
	const char *v;
	if (get_str(ld, ctx, o, p, "survey", &v) <= 0)
		return;
	if (strcmp(v, "nps") == 0)
		*out = SURVEY_NPS;
	else if (strcmp(v, "csat") == 0)
		*out = SURVEY_CSAT;
	else
		problem(ld, 0, key_line(ld, p, "survey"), ctx,
			"unknown survey %s (use nps: 0 to 10, or csat: 1 to 5)",
			qv(ld, p, "survey", json_object_get(o, "survey")));
}

static int template_ok(struct loader *ld, const char *ctx, const char *name, int line)
{
	if (name_ok(name))
		return 1;
	problem(ld, 0, line, ctx, "bad template name %s (use letters, digits, _, - and .)",
		q(ld, name));
	return 0;
}

static void load_variants(struct loader *ld, struct step_conf *s, const char *ctx, json_t *vs,
			  struct buf *p)
{
	size_t mark = p->len;
	const char *name;
	json_t *v;
	double sum = 0;
	int bad = 0;
	ptr_key(p, "variants");
	int line = at_line(ld, p);
	if (!json_is_object(vs) || json_object_size(vs) == 0) {
		problem(ld, 0, line, ctx, "variants must map template names to shares like 50%%");
		ptr_pop(p, mark);
		return;
	}
	s->variants = xcalloc(json_object_size(vs), sizeof(*s->variants));
	json_object_foreach(vs, name, v)
	{
		size_t m2 = p->len;
		double x;
		ptr_key(p, name);
		int vl = at_line(ld, p);
		if (!template_ok(ld, ctx, name, vl)) {
			bad = 1;
		} else if (config_percent(v, &x) || x <= 0) {
			problem(ld, 0, vl, ctx, "bad share %s for variant %s (use 50%% or 0.5)",
				qv(ld, p, NULL, v), q(ld, name));
			bad = 1;
		} else {
			s->variants[s->nvariants].template = xstrdup(name);
			s->variants[s->nvariants++].share = x;
			sum += x;
		}
		ptr_pop(p, m2);
	}
	if (!bad && fabs(sum - 1.0) > 0.001)
		problem(ld, 0, line, ctx, "variant shares add up to %g%%, not 100%%", sum * 100);
	ptr_pop(p, mark);
}

/* load_send_at - a step's `send_at`: best, or a local time "HH:MM" */
static void load_send_at(struct loader *ld, struct step_conf *s, const char *ctx, json_t *st,
			 struct buf *p)
{
	json_t *v = json_object_get(st, "send_at");
	const char *str = json_string_value(v);
	if (!v || json_is_null(v))
		return;
	if (str && strcmp(str, "best") == 0)
		s->send_at = SEND_AT_BEST;
	else if (str && sendtime_parse_clock(str, &s->send_minute) == 0)
		s->send_at = SEND_AT_CLOCK;
	else
		problem(ld, 0, key_line(ld, p, "send_at"), ctx,
			"bad send_at %s (use best or a local time like \"20:00\")",
			qv(ld, p, "send_at", v));
}

static void load_step(struct loader *ld, struct campaign_conf *cc, json_t *st, struct buf *p,
		      size_t i)
{
	struct step_conf *s = &cc->steps[cc->nsteps++];
	char ctx[QLEN + 48];
	const char *tpl;
	s->index = (int)i;
	s->line = at_line(ld, p);
	snprintf(ctx, sizeof(ctx), "campaign %s step %zu", q(ld, cc->name), i + 1);
	if (!json_is_object(st)) {
		problem(ld, 0, s->line, NULL, "%s must be a mapping", ctx);
		return;
	}
	check_keys(ld, st, p, step_keys);
	get_duration(ld, ctx, st, p, "after", &s->after);
	get_duration(ld, ctx, st, p, "expire", &s->expire);
	int r = str_list(ld, ctx, st, p, "channels", &s->channels, &s->nchannels, check_channel);
	if (r == 0 || (r > 0 && s->nchannels == 0))
		problem(ld, 0, r == 0 ? s->line : key_line(ld, p, "channels"), ctx,
			"needs channels: a list of transports");
	int rt = get_str(ld, ctx, st, p, "template", &tpl);
	json_t *vs = json_object_get(st, "variants");
	if (vs && json_is_null(vs))
		vs = NULL;
	if (rt != 0 && vs)
		problem(ld, 0, s->line, ctx, "give template or variants, not both");
	else if (rt == 0 && !vs)
		problem(ld, 0, s->line, ctx, "needs a template (or variants)");
	if (rt > 0 && template_ok(ld, ctx, tpl, key_line(ld, p, "template")))
		s->template = xstrdup(tpl);
	if (vs)
		load_variants(ld, s, ctx, vs, p);
	str_list(ld, ctx, st, p, "unless", &s->unless, &s->nunless, NULL);
	load_send_at(ld, s, ctx, st, p);
	load_survey(ld, ctx, st, p, &s->survey);
}

static void load_campaign(struct loader *ld, const char *name, json_t *o, struct buf *p)
{
	struct config *c = ld->c;
	int line = at_line(ld, p);
	char ctx[QLEN + 16];
	const char *cls;
	snprintf(ctx, sizeof(ctx), "campaign %s", q(ld, name));
	if (!*name)
		problem(ld, 0, line, NULL, "campaign name must not be empty");
	if (!json_is_object(o)) {
		problem(ld, 0, line, NULL, "%s must be a mapping", ctx);
		return;
	}
	struct campaign_conf *cc = &c->campaigns[c->ncampaigns++];
	cc->name = xstrdup(name);
	cc->line = line;
	cc->cls = CLASS_MARKETING;
	check_keys(ld, o, p, campaign_keys);
	if (get_str(ld, ctx, o, p, "class", &cls) > 0) {
		if (strcmp(cls, "transactional") == 0)
			cc->cls = CLASS_TRANSACTIONAL;
		else if (strcmp(cls, "marketing") != 0)
			problem(ld, 0, key_line(ld, p, "class"), ctx,
				"unknown class %s (use transactional or marketing)",
				qv(ld, p, "class", json_object_get(o, "class")));
	}
	load_trigger(ld, cc, ctx, o, p);
	load_goal(ld, cc, ctx, o, p);
	load_holdout(ld, cc, ctx, o, p);
	load_survey(ld, ctx, o, p, &cc->survey);
	json_t *mpc = json_object_get(o, "max_per_contact");
	if (mpc && !json_is_null(mpc)) {
		if (!json_is_integer(mpc) || json_integer_value(mpc) < 1 ||
		    json_integer_value(mpc) > 1000000)
			problem(ld, 0, key_line(ld, p, "max_per_contact"), ctx,
				"max_per_contact must be a whole number of at least 1, not %s",
				qv(ld, p, "max_per_contact", mpc));
		else
			cc->max_per_contact = (int)json_integer_value(mpc);
	}
	if (get_duration(ld, ctx, o, p, "reentry", &cc->reentry) > 0 && cc->reentry <= 0)
		problem(ld, 0, key_line(ld, p, "reentry"), ctx, "reentry must be longer than 0");
	cc->send_hour = SENDTIME_DEFAULT_MINUTE;
	json_t *sh = json_object_get(o, "send_hour");
	if (sh && !json_is_null(sh) &&
	    sendtime_parse_clock(json_string_value(sh), &cc->send_hour) != 0)
		problem(ld, 0, key_line(ld, p, "send_hour"), ctx,
			"bad send_hour %s (use a local time like \"10:00\")",
			qv(ld, p, "send_hour", sh));

	json_t *steps = json_object_get(o, "steps"), *st;
	size_t mark = p->len, i;
	if (!steps || json_is_null(steps) ||
	    (json_is_array(steps) && json_array_size(steps) == 0)) {
		problem(ld, 0, steps ? key_line(ld, p, "steps") : line, ctx,
			"needs at least one step");
		return;
	}
	if (!json_is_array(steps)) {
		problem(ld, 0, key_line(ld, p, "steps"), ctx, "steps must be a list");
		return;
	}
	ptr_key(p, "steps");
	cc->steps = xcalloc(json_array_size(steps), sizeof(*cc->steps));
	json_array_foreach(steps, i, st)
	{
		size_t m2 = p->len;
		ptr_index(p, i);
		load_step(ld, cc, st, p, i);
		ptr_pop(p, m2);
	}
	ptr_pop(p, mark);
	int best = 0;
	for (size_t k = 0; k < cc->nsteps; k++)
		best |= cc->steps[k].send_at == SEND_AT_BEST;
	if (sh && !json_is_null(sh) && !best)
		problem(ld, 1, key_line(ld, p, "send_hour"), ctx,
			"send_hour applies only to steps with send_at: best, and this campaign has none");
}

static void load_campaigns(struct loader *ld, json_t *root, struct buf *p)
{
	json_t *cs = json_object_get(root, "campaigns"), *v;
	const char *name;
	size_t mark = p->len;
	if (!cs || json_is_null(cs))
		return;
	ptr_key(p, "campaigns");
	if (!json_is_object(cs)) {
		problem(ld, 0, at_line(ld, p), NULL,
			"campaigns must be a mapping of name to campaign");
		ptr_pop(p, mark);
		return;
	}
	ld->c->campaigns = xcalloc(json_object_size(cs) + 1, sizeof(*ld->c->campaigns));
	json_object_foreach(cs, name, v)
	{
		size_t m2 = p->len;
		ptr_key(p, name);
		load_campaign(ld, name, v, p);
		ptr_pop(p, m2);
	}
	ptr_pop(p, mark);
}

/* load_privacy - `encrypt: true | false | {key_env: NAME}` and
 * `log_pii: true | false` */
static void load_privacy(struct loader *ld, json_t *root, struct buf *p)
{
	static const char *const encrypt_keys[] = {"key_env", NULL};
	json_t *v = json_object_get(root, "encrypt");
	if (json_is_object(v)) {
		size_t mark = p->len;
		ptr_key(p, "encrypt");
		check_keys(ld, v, p, encrypt_keys);
		const char *s;
		if (get_str(ld, "encrypt", v, p, "key_env", &s) > 0) {
			if (!env_name_ok(s))
				problem(ld, 0, key_line(ld, p, "key_env"), NULL,
					"encrypt.key_env %s is not an environment variable name",
					qv(ld, p, "key_env", json_object_get(v, "key_env")));
			else
				ld->c->encrypt_key_env = xstrdup(s);
		}
		ld->c->encrypt = 1;
		ptr_pop(p, mark);
	} else if (json_is_boolean(v)) {
		ld->c->encrypt = json_is_true(v);
	} else if (v && !json_is_null(v)) {
		problem(ld, 0, key_line(ld, p, "encrypt"), NULL,
			"encrypt must be true, false or {key_env: NAME}, not %s",
			qv(ld, p, "encrypt", v));
	}
	v = json_object_get(root, "log_pii");
	if (json_is_boolean(v))
		ld->c->log_pii = json_is_true(v);
	else if (v && !json_is_null(v))
		problem(ld, 0, key_line(ld, p, "log_pii"), NULL, "log_pii must be true or false, not %s",
			qv(ld, p, "log_pii", v));
}

static void top_string(struct loader *ld, json_t *root, struct buf *p, const char *key, char **out)
{
	const char *s;
	if (get_str(ld, NULL, root, p, key, &s) <= 0)
		return;
	if (!*s) {
		problem(ld, 0, key_line(ld, p, key), NULL, "%s must not be empty", key);
		return;
	}
	*out = xstrdup(s);
}

/* rfm_list - o[key], when there, as four ascending numbers >= 0 (whole
 * for days) into out; else out keeps the default */
static void rfm_list(struct loader *ld, json_t *o, struct buf *p, const char *key, int whole,
		     double *out)
{
	json_t *v = json_object_get(o, key);
	double t[4];
	size_t i;
	if (!v || json_is_null(v))
		return;
	for (i = 0; json_is_array(v) && json_array_size(v) == 4 && i < 4; i++) {
		json_t *x = json_array_get(v, i);
		t[i] = json_is_number(x) ? json_number_value(x) : -1;
		if (!isfinite(t[i]) || t[i] < 0 || (whole && t[i] != floor(t[i])) || t[i] > 1e12 ||
		    (i > 0 && t[i] <= t[i - 1]))
			break;
	}
	if (i < 4 || !json_is_array(v) || json_array_size(v) != 4) {
		problem(ld, 0, key_line(ld, p, key), "stats.rfm",
			"%s must be four ascending %snumbers, not %s", key, whole ? "whole " : "",
			qv(ld, p, key, v));
		return;
	}
	memcpy(out, t, sizeof(t));
}

/* load_stats - `stats: {rfm: {recency_days, frequency, monetary}}`, the
 * thresholds of the RFM scores (stats.h); the defaults for what is absent */
static void load_stats(struct loader *ld, json_t *root, struct buf *p)
{
	struct stats_conf *sc = &ld->c->stats;
	json_t *st = json_object_get(root, "stats"), *rfm;
	size_t mark = p->len;
	stats_conf_default(sc);
	if (!st || json_is_null(st))
		return;
	ptr_key(p, "stats");
	if (!json_is_object(st)) {
		problem(ld, 0, at_line(ld, p), NULL, "stats must be a mapping");
		ptr_pop(p, mark);
		return;
	}
	check_keys(ld, st, p, stats_keys);
	rfm = json_object_get(st, "rfm");
	if (rfm && !json_is_null(rfm)) {
		ptr_key(p, "rfm");
		if (!json_is_object(rfm)) {
			problem(ld, 0, at_line(ld, p), "stats", "rfm must be a mapping");
		} else {
			check_keys(ld, rfm, p, rfm_keys);
			rfm_list(ld, rfm, p, "recency_days", 1, sc->recency_days);
			rfm_list(ld, rfm, p, "frequency", 0, sc->frequency);
			rfm_list(ld, rfm, p, "monetary", 0, sc->monetary);
		}
	}
	ptr_pop(p, mark);
}

/* serve_rate - `rate:` as requests per second: "50/s", "600/m", "1000/h";
 * 0, "0" or "off" for no limit; -1 when it is none of these */
static int serve_rate(const json_t *v, double *out)
{
	if (json_is_integer(v) && json_integer_value(v) == 0) {
		*out = 0;
		return 0;
	}
	if (json_is_false(v)) {
		*out = 0;
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	const char *s = json_string_value(v);
	if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	const char *slash = strchr(s, '/');
	double n, unit;
	if (!slash || decimal(s, (size_t)(slash - s), &n) < 0)
		return -1;
	if (strcmp(slash, "/s") == 0)
		unit = 1;
	else if (strcmp(slash, "/m") == 0 || strcmp(slash, "/min") == 0)
		unit = 60;
	else if (strcmp(slash, "/h") == 0)
		unit = 3600;
	else
		return -1;
	if (n <= 0 || n > 1e6)
		return -1;
	*out = n / unit;
	return 0;
}

/* serve_count - o[key], when there, as a whole number lo..hi into *out */
static void serve_count(struct loader *ld, json_t *o, struct buf *p, const char *key, long lo,
			long hi, unsigned *out)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		problem(ld, 0, key_line(ld, p, key), "serve", "%s must be a whole number %ld to %ld, not %s",
			key, lo, hi, qv(ld, p, key, v));
		return;
	}
	*out = (unsigned)json_integer_value(v);
}

/* proxy_ok - an IPv4 or IPv6 address, or one with a /PREFIX */
static int proxy_ok(const char *s)
{
	char addr[64];
	unsigned char bin[16];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(addr))
		return 0;
	memcpy(addr, s, n);
	addr[n] = '\0';
	int v6 = strchr(addr, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
		return 0;
	if (!slash)
		return 1;
	size_t i = 0;
	double bits;
	const char *b = slash + 1;
	if (!match_digits(b, strlen(b), &i) || i != strlen(b) || i > 3 ||
	    decimal(b, i, &bits) < 0)
		return 0;
	return bits <= (v6 ? 128 : 32);
}

static void check_proxy(struct loader *ld, const char *ctx, const char *name, struct buf *p)
{
	if (!proxy_ok(name))
		problem(ld, 0, at_line(ld, p), ctx,
			"trusted_proxies: %s is not an IP address or ADDRESS/PREFIX", q(ld, name));
}

/* load_serve - `serve: {user, rate, burst, max_connections,
 * max_connections_per_ip, timeout, trusted_proxies}`: the server's user and
 * limits (struct serve_conf); the defaults for what is absent */
static void load_serve(struct loader *ld, json_t *root, struct buf *p)
{
	struct serve_conf *sc = &ld->c->serve;
	json_t *o = json_object_get(root, "serve"), *v;
	size_t mark = p->len;
	const char *s;
	int burst_given = 0;
	if (!o || json_is_null(o))
		goto defaults;
	ptr_key(p, "serve");
	if (!json_is_object(o)) {
		problem(ld, 0, at_line(ld, p), NULL, "serve must be a mapping");
		ptr_pop(p, mark);
		goto defaults;
	}
	check_keys(ld, o, p, serve_keys);
	if (get_str(ld, "serve", o, p, "user", &s) > 0) {
		int ok = *s != '\0' && *s != '-' && strlen(s) <= 32;
		for (const char *x = s; *x; x++)
			if (!isalnum((unsigned char)*x) && *x != '_' && *x != '-' && *x != '.')
				ok = 0;
		if (!ok)
			problem(ld, 0, key_line(ld, p, "user"), "serve", "user %s is not a user name",
				qv(ld, p, "user", json_object_get(o, "user")));
		else
			sc->user = xstrdup(s);
	}
	v = json_object_get(o, "rate");
	if (v && !json_is_null(v) && serve_rate(v, &sc->rate) < 0)
		problem(ld, 0, key_line(ld, p, "rate"), "serve",
			"bad rate %s (use 50/s, 600/m, 1000/h, or off)", qv(ld, p, "rate", v));
	v = json_object_get(o, "burst");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000000)
			problem(ld, 0, key_line(ld, p, "burst"), "serve",
				"burst must be a whole number 1 to 1000000, not %s",
				qv(ld, p, "burst", v));
		else {
			sc->burst = (double)json_integer_value(v);
			burst_given = 1;
		}
	}
	serve_count(ld, o, p, "max_connections", 1, 65535, &sc->max_connections);
	serve_count(ld, o, p, "max_connections_per_ip", 1, 65535, &sc->max_connections_per_ip);
	int64_t t;
	if (get_duration(ld, "serve", o, p, "timeout", &t) > 0) {
		if (t < 1 || t > 3600)
			problem(ld, 0, key_line(ld, p, "timeout"), "serve",
				"timeout must be 1s to 1h, not %s",
				qv(ld, p, "timeout", json_object_get(o, "timeout")));
		else
			sc->timeout = t;
	}
	str_list(ld, "serve", o, p, "trusted_proxies", &sc->trusted_proxies,
		 &sc->ntrusted_proxies, check_proxy);
	if (sc->max_connections_per_ip > sc->max_connections)
		problem(ld, 0, key_line(ld, p, "max_connections_per_ip"), "serve",
			"max_connections_per_ip (%u) is over max_connections (%u)",
			sc->max_connections_per_ip, sc->max_connections);
	ptr_pop(p, mark);
defaults:
	if (!burst_given)
		sc->burst = sc->rate * 2 < 1 ? 1 : ceil(sc->rate * 2);
}

static void load_root(struct loader *ld)
{
	struct config *c = ld->c;
	json_t *root = c->doc;
	struct buf p = BUF_INIT;
	buf_append(&p, "", 0);
	stats_conf_default(&c->stats);
	c->serve.rate = SERVE_RATE_DEFAULT;
	c->serve.max_connections = SERVE_MAX_CONNECTIONS_DEFAULT;
	c->serve.max_connections_per_ip = SERVE_MAX_PER_IP_DEFAULT;
	c->serve.timeout = SERVE_TIMEOUT_DEFAULT;
	if (json_is_object(root)) {
		check_keys(ld, root, &p, top_keys);
		top_string(ld, root, &p, "store", &c->store);
		top_string(ld, root, &p, "templates", &c->templates);
		top_string(ld, root, &p, "timezone", &c->timezone);
		if (c->timezone && !tz_valid(c->timezone)) {
			problem(ld, 0, key_line(ld, &p, "timezone"), NULL, "unknown time zone %s",
				qv(ld, &p, "timezone", json_object_get(root, "timezone")));
			free(c->timezone);
			c->timezone = NULL;
		}
		load_tracking(ld, root, &p);
		load_transports(ld, root, &p);
		load_segments(ld, root, &p);
		load_campaigns(ld, root, &p);
		load_stats(ld, root, &p);
		load_privacy(ld, root, &p);
	}
	load_serve(ld, json_is_object(root) ? root : NULL, &p);
	/* OUTREACH_STORE wins over store: (a password kept out of the file,
	 * one config pointed at another store) */
	const char *env_store = getenv("OUTREACH_STORE");
	if (env_store && *env_store) {
		free(c->store);
		c->store = xstrdup(env_store);
	}
	if (!c->store)
		c->store = xstrdup(DEFAULT_STORE);
	if (!c->templates)
		c->templates = xstrdup(DEFAULT_TEMPLATES);
	if (!c->timezone)
		c->timezone = xstrdup(DEFAULT_TIMEZONE);
	for (size_t i = 0; i < c->ncampaigns; i++)
		c->campaigns[i].timezone = c->timezone;
	if (!c->tracking_base_url)
		c->tracking_base_url = xstrdup(DEFAULT_BASE_URL);
	if (!c->tracking_secret_env)
		c->tracking_secret_env = xstrdup(DEFAULT_SECRET_ENV);
	if (!c->encrypt_key_env)
		c->encrypt_key_env = xstrdup(DEFAULT_KEY_ENV);
	buf_release(&p);
}

/* ---- entry points ---- */

static void fy_quiet(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

/* yaml_errors - libfyaml's collected errors as "FILE:LINE: message" */
static void yaml_errors(struct fy_diag *fd, const char *name, struct diag *d)
{
	void *it = NULL;
	struct fy_diag_error *e;
	char last[512] = "";
	int lastline = -1, any = 0;
	while ((e = fy_diag_errors_iterate(fd, &it))) {
		if (e->type < FYET_ERROR || !e->msg)
			continue;
		if (e->line == lastline && strcmp(e->msg, last) == 0)
			continue;
		diag_error(d, name, e->line > 0 ? e->line : 0, "%s", e->msg);
		snprintf(last, sizeof(last), "%s", e->msg);
		lastline = e->line;
		any = 1;
	}
	if (!any)
		diag_error(d, name, 0, "cannot parse as YAML");
}

/* utf8_line - 0 when data is well-formed UTF-8 (no overlong forms, no
 * surrogates), else the 1-based line of the first bad byte */
static int utf8_line(const unsigned char *s, size_t n)
{
	int line = 1;
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp;
		if (c == '\n')
			line++;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return line;
		}
		if (n - i <= k)
			return line;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return line;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return line;
		i += k + 1;
	}
	return 0;
}

struct config *config_load_mem(const char *name, const char *data, size_t len, struct diag *d)
{
	/* checked before libfyaml sees it: 0.7.12 loops forever on some
	 * malformed bytes in a directive line */
	int bad = utf8_line((const unsigned char *)data, len);
	if (bad) {
		diag_error(d, name, bad, "not valid UTF-8");
		return NULL;
	}
	struct fy_diag_cfg dc;
	fy_diag_cfg_default(&dc);
	dc.fp = NULL;
	dc.output_fn = fy_quiet;
	dc.colorize = false;
	struct fy_diag *fd = fy_diag_create(&dc);
	if (!fd)
		log_panic("config: libfyaml: cannot create a diagnostic object");
	fy_diag_set_collect_errors(fd, true);

	struct fy_parse_cfg pc;
	memset(&pc, 0, sizeof(pc));
	pc.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE;
	pc.diag = fd;
	struct fy_parser *fyp = fy_parser_create(&pc);
	if (!fyp || fy_parser_set_string(fyp, len ? data : "", len))
		log_panic("config: libfyaml: cannot create a parser");
	/* an empty stream is an empty config; a second document is an error */
	struct fy_document *fyd = fy_parse_load_document(fyp), *more = NULL;
	if (fyd && !fy_parser_get_stream_error(fyp))
		more = fy_parse_load_document(fyp);
	if (fy_parser_get_stream_error(fyp)) {
		yaml_errors(fd, name, d);
		if (fyd)
			fy_parse_document_destroy(fyp, fyd);
		if (more)
			fy_parse_document_destroy(fyp, more);
		fy_parser_destroy(fyp);
		fy_diag_destroy(fd);
		return NULL;
	}

	struct config *c = xcalloc(1, sizeof(*c));
	struct loader ld;
	memset(&ld, 0, sizeof(ld));
	ld.file = name;
	ld.d = d;
	ld.c = c;
	ld.raw = json_object();
	ld.tnames = json_object();
	ld.snames = json_object();
	c->path = xstrdup(name);
	c->lines = json_object();

	struct buf p = BUF_INIT;
	buf_append(&p, "", 0);
	struct fy_node *root = fyd ? fy_document_root(fyd) : NULL;
	c->doc = to_json(&ld, root, &p, node_line(root, 1, 0), 0);
	if (json_is_null(c->doc)) {
		json_decref(c->doc); /* an empty file: every default */
		c->doc = json_object();
	} else if (!json_is_object(c->doc)) {
		problem(&ld, 0, config_line(c, ""), NULL, "the top level must be a mapping");
		json_decref(c->doc);
		c->doc = json_object();
	}
	if (more) {
		const struct fy_mark *m =
		    fy_document_state_start_mark(fy_document_get_document_state(more));
		problem(&ld, 0, m ? m->line + 1 : node_line(fy_document_root(more), 0, 0), NULL,
			"a second YAML document (only one is allowed)");
		fy_parse_document_destroy(fyp, more);
	}
	buf_release(&p);
	if (fyd)
		fy_parse_document_destroy(fyp, fyd);
	fy_parser_destroy(fyp);
	fy_diag_destroy(fd);

	load_root(&ld);
	json_decref(ld.raw);
	json_decref(ld.tnames);
	json_decref(ld.snames);
	return c;
}

struct config *config_load(const char *path, struct diag *d)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[8192];
	size_t n;
	if (!f) {
		diag_error(d, path, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	if (ferror(f)) {
		int saved = errno;
		fclose(f);
		buf_release(&b);
		diag_error(d, path, 0, "cannot read: %s", strerror(saved ? saved : EIO));
		return NULL;
	}
	fclose(f);
	struct config *c = config_load_mem(path, buf_cstr(&b), b.len, d);
	buf_release(&b);
	return c;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ntransports; i++) {
		struct transport_conf *t = &c->transports[i];
		free(t->name);
		free(t->kind);
		free(t->to);
		free((char *)t->pointer);
	}
	free(c->transports);
	for (size_t i = 0; i < c->nsegments; i++) {
		free(c->segments[i].name);
		free(c->segments[i].source);
		if (c->segments[i].expr)
			expr_free(c->segments[i].expr);
	}
	free(c->segments);
	for (size_t i = 0; i < c->ncampaigns; i++) {
		struct campaign_conf *cc = &c->campaigns[i];
		free(cc->name);
		free(cc->trigger_event);
		free(cc->trigger_segment);
		free(cc->goal_event);
		for (size_t j = 0; j < cc->nsteps; j++) {
			struct step_conf *s = &cc->steps[j];
			free_list(s->channels, s->nchannels);
			free(s->template);
			for (size_t k = 0; k < s->nvariants; k++)
				free(s->variants[k].template);
			free(s->variants);
			free_list(s->unless, s->nunless);
		}
		free(cc->steps);
	}
	free(c->campaigns);
	free(c->path);
	free(c->store);
	free(c->templates);
	free(c->timezone);
	free(c->tracking_base_url);
	free(c->tracking_secret_env);
	free(c->encrypt_key_env);
	free(c->serve.user);
	free_list(c->serve.trusted_proxies, c->serve.ntrusted_proxies);
	json_decref(c->doc);
	json_decref(c->lines);
	free(c);
}

int config_line(const struct config *c, const char *pointer)
{
	if (!c || !c->lines || !pointer)
		return 0;
	char *s = xstrdup(pointer);
	int line = 0;
	for (;;) {
		json_t *v = json_object_get(c->lines, s);
		if (v) {
			line = (int)json_integer_value(v);
			break;
		}
		char *slash = strrchr(s, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	free(s);
	return line;
}

const struct transport_conf *config_transport(const struct config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->ntransports; i++)
		if (strcmp(c->transports[i].name, name) == 0)
			return &c->transports[i];
	return NULL;
}

const struct segment_conf *config_segment(const struct config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->nsegments; i++)
		if (strcmp(c->segments[i].name, name) == 0)
			return &c->segments[i];
	return NULL;
}

const struct campaign_conf *config_campaign(const struct config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->ncampaigns; i++)
		if (strcmp(c->campaigns[i].name, name) == 0)
			return &c->campaigns[i];
	return NULL;
}

enum survey_scale config_survey(const struct config *c, const char *campaign, int step)
{
	const struct campaign_conf *cc = config_campaign(c, campaign);
	if (!cc)
		return SURVEY_NONE;
	if (step >= 0 && (size_t)step < cc->nsteps && cc->steps[step].survey != SURVEY_NONE)
		return cc->steps[step].survey;
	return cc->survey;
}

const char *config_survey_name(enum survey_scale s)
{
	return s == SURVEY_NPS ? "nps" : s == SURVEY_CSAT ? "csat" : NULL;
}
