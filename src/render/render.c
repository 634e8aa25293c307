/* render.c - template lookup, compile cache and rendering of one message.
 *
 * email.txt is split at its first blank line into header lines and a body
 * before rendering; each header value is rendered on its own and any CR or
 * LF a value brings in becomes a space, so contact data can never inject a
 * header. Values are escaped per output: none in .txt/.md, HTML in .html.
 */
#include "render.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "mustache.h"
#include "timeutil.h"
#include "xmalloc.h"

struct tmpl_header {
	char *name;
	struct mustache *value;
};

struct tmpl {
	char *path;
	struct mustache *body;
	struct tmpl_header *headers; /* email.txt only */
	size_t nheaders;
	int is_email_txt;
	char err[512]; /* a compile error, reported on every use */
};

struct uses {
	char *name, *root;
	enum channel_kind kind;
	int yes;
};

/* One answer of exists(), kept until render_refresh: the lookup of the
 * most specific file tries several paths for every message. */
struct seen {
	char *path;
	int yes;
};

struct seen_set {
	struct seen *v; /* open addressing, at most half full */
	size_t cap, used;
};

struct renderer {
	char *dir;
	struct tmpl *cache;
	size_t n, cap;
	struct uses *uses; /* render_uses answers, each found once */
	size_t nuses;
	struct seen_set *seen; /* a pointer: render_find's renderer is const */
};

struct renderer *renderer_create(const char *dir)
{
	struct renderer *r = xcalloc(1, sizeof(*r));
	r->dir = xstrdup(dir);
	r->seen = xcalloc(1, sizeof(*r->seen));
	return r;
}

static void seen_clear(struct seen_set *ss)
{
	for (size_t i = 0; i < ss->cap; i++)
		free(ss->v[i].path);
	free(ss->v);
	memset(ss, 0, sizeof(*ss));
}

void render_refresh(struct renderer *r)
{
	seen_clear(r->seen);
}

static void tmpl_release(struct tmpl *t)
{
	free(t->path);
	mustache_free(t->body);
	for (size_t i = 0; i < t->nheaders; i++) {
		free(t->headers[i].name);
		mustache_free(t->headers[i].value);
	}
	free(t->headers);
}

void renderer_free(struct renderer *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		tmpl_release(&r->cache[i]);
	free(r->cache);
	for (size_t i = 0; i < r->nuses; i++) {
		free(r->uses[i].name);
		free(r->uses[i].root);
	}
	free(r->uses);
	seen_clear(r->seen);
	free(r->seen);
	free(r->dir);
	free(r);
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static size_t seen_hash(const char *p)
{
	size_t h = 14695981039346656037u;
	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211u;
	return h;
}

/* exists_seen - exists(), answered from r's set until render_refresh */
static int exists_seen(const struct renderer *r, const char *path)
{
	struct seen_set *ss = r->seen;
	if (ss->used * 2 >= ss->cap) {
		struct seen_set n = {xcalloc(ss->cap ? ss->cap * 2 : 64, sizeof(struct seen)),
				     ss->cap ? ss->cap * 2 : 64, ss->used};
		for (size_t i = 0; i < ss->cap; i++) {
			if (!ss->v[i].path)
				continue;
			size_t k = seen_hash(ss->v[i].path) & (n.cap - 1);
			while (n.v[k].path)
				k = (k + 1) & (n.cap - 1);
			n.v[k] = ss->v[i];
		}
		free(ss->v);
		*ss = n;
	}
	size_t k = seen_hash(path) & (ss->cap - 1);
	for (; ss->v[k].path; k = (k + 1) & (ss->cap - 1))
		if (strcmp(ss->v[k].path, path) == 0)
			return ss->v[k].yes;
	ss->v[k].path = xstrdup(path);
	ss->v[k].yes = exists(path);
	ss->used++;
	return ss->v[k].yes;
}

static char *slurp(const char *path, size_t *len, struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		err_set(e, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	struct buf b = BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return buf_detach(&b);
}

/* locales - "zh-CN" gives "zh-CN" and "zh"; out holds up to 2 */
static size_t locales(const char *locale, char out[2][32])
{
	size_t n = 0;
	if (!locale || !*locale)
		return 0;
	snprintf(out[n++], 32, "%s", locale);
	size_t k = strcspn(locale, "-_");
	if (locale[k] && k > 0 && k < 32)
		snprintf(out[n++], 32, "%.*s", (int)k, locale);
	return n;
}

static char *try_path(const struct renderer *r, const char *name, const char *kind,
		      const char *seg, const char *loc, const char *ext)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s/%s/%s", r->dir, name, kind);
	if (seg)
		buf_printf(&b, ".%s", seg);
	if (loc)
		buf_printf(&b, ".%s", loc);
	buf_printf(&b, ".%s", ext);
	if (exists_seen(r, b.data))
		return buf_detach(&b);
	buf_release(&b);
	return NULL;
}

char *render_find(const struct renderer *r, const char *name, enum channel_kind kind,
		  char *const *segments, size_t nseg, const char *locale, const char *ext,
		  const char **segment_used)
{
	char locs[2][32];
	size_t nl = locales(locale, locs);
	const char *k = channel_name(kind);
	char *p;
	*segment_used = NULL;
	for (size_t s = 0; s < nseg; s++) {
		for (size_t l = 0; l < nl; l++)
			if ((p = try_path(r, name, k, segments[s], locs[l], ext))) {
				*segment_used = segments[s];
				return p;
			}
		if ((p = try_path(r, name, k, segments[s], NULL, ext))) {
			*segment_used = segments[s];
			return p;
		}
	}
	for (size_t l = 0; l < nl; l++)
		if ((p = try_path(r, name, k, NULL, locs[l], ext)))
			return p;
	return try_path(r, name, k, NULL, NULL, ext);
}

/* split_headers - header lines of an email.txt source; *body_off where the body starts */
static int split_headers(struct tmpl *t, const char *src, size_t len, struct err *e)
{
	size_t pos = 0;
	int line = 1;
	while (pos < len) {
		const char *nl = memchr(src + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - src) : len;
		size_t l = end - pos;
		if (l && src[pos + l - 1] == '\r')
			l--;
		if (l == 0) {
			pos = end + 1;
			break;
		}
		const char *colon = memchr(src + pos, ':', l);
		size_t nlen = colon ? (size_t)(colon - (src + pos)) : 0;
		for (size_t i = 0; i < nlen; i++)
			if (!isalnum((unsigned char)src[pos + i]) && src[pos + i] != '-')
				nlen = 0;
		if (!nlen)
			return err_set(e, "%s:%d: expected a header line (Name: value) or a blank line",
				       t->path, line);
		const char *v = colon + 1;
		while (v < src + pos + l && (*v == ' ' || *v == '\t'))
			v++;
		struct mustache *m = mustache_parse(v, (size_t)(src + pos + l - v), t->path, e);
		if (!m)
			return err_prefix(e, "%s:%d: header", t->path, line);
		t->headers = xrealloc(t->headers, (t->nheaders + 1) * sizeof(*t->headers));
		t->headers[t->nheaders].name = xstrndup(src + pos, nlen);
		t->headers[t->nheaders++].value = m;
		pos = nl ? end + 1 : len;
		line++;
	}
	int has_subject = 0;
	for (size_t i = 0; i < t->nheaders; i++)
		if (strcasecmp(t->headers[i].name, "Subject") == 0)
			has_subject = 1;
	if (!has_subject)
		return err_set(e, "%s:1: missing Subject: header line", t->path);
	/* the body keeps its line numbers in errors: compile it with the
	 * header lines blanked out as comments */
	struct buf b = BUF_INIT;
	for (int i = 1; i < line; i++)
		buf_puts(&b, "{{!}}\n");
	size_t off = b.len;
	buf_append(&b, src + pos, len - pos);
	struct mustache *whole = mustache_parse(b.data, b.len, t->path, e);
	mustache_free(whole);
	if (!whole) {
		buf_release(&b);
		return -1;
	}
	t->body = mustache_parse(b.data + off, b.len - off, t->path, e);
	buf_release(&b);
	return t->body ? 0 : -1;
}

/* load - the compiled template for path, from the cache */
static struct tmpl *load(struct renderer *r, const char *path, int email_txt)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->cache[i].path, path) == 0)
			return &r->cache[i];
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->cache = xrealloc(r->cache, r->cap * sizeof(*r->cache));
	}
	struct tmpl *t = &r->cache[r->n++];
	memset(t, 0, sizeof(*t));
	t->path = xstrdup(path);
	t->is_email_txt = email_txt;
	struct err e = {{0}};
	size_t len;
	char *src = slurp(path, &len, &e);
	if (src) {
		if (email_txt)
			split_headers(t, src, len, &e);
		else
			t->body = mustache_parse(src, len, path, &e);
	}
	free(src);
	if (!t->body && !e.msg[0])
		err_set(&e, "%s: cannot compile", path);
	if (!t->body || e.msg[0])
		snprintf(t->err, sizeof(t->err), "%s", e.msg);
	return t;
}

static int render_into(struct mustache *m, json_t *ctx, enum mustache_escape esc, struct buf *out,
		       struct err *e)
{
	struct mustache_opts o = {esc, NULL, NULL};
	return mustache_render(m, ctx, &o, out, e);
}

void rendered_release(struct rendered *m)
{
	free(m->subject);
	free(m->text);
	free(m->html);
	for (size_t i = 0; i < m->nheaders; i++) {
		free((char *)m->headers[i].name);
		free((char *)m->headers[i].value);
	}
	free(m->headers);
	free(m->path);
	free(m->segment);
	memset(m, 0, sizeof(*m));
}

static char *one_line(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return s;
}

int render_message(struct renderer *r, const char *name, enum channel_kind kind,
		   char *const *segments, size_t nseg, const char *locale, json_t *ctx,
		   struct rendered *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	const char *seg = NULL;
	char *path = render_find(r, name, kind, segments, nseg, locale,
				 kind == CHANNEL_CHAT ? "md" : "txt", &seg);
	if (!path && kind == CHANNEL_CHAT)
		path = render_find(r, name, kind, segments, nseg, locale, "txt", &seg);
	if (!path)
		return err_set(e, "template %s: no file %s/%s/%s.%s", name, r->dir, name,
			       channel_name(kind), kind == CHANNEL_CHAT ? "md" : "txt");
	out->path = path;
	out->segment = xstrdup(seg);
	struct tmpl *t = load(r, path, kind == CHANNEL_EMAIL);
	if (t->err[0]) {
		err_set(e, "%s", t->err);
		goto fail;
	}
	struct buf b = BUF_INIT;
	if (render_into(t->body, ctx, MUSTACHE_ESC_NONE, &b, e) < 0) {
		buf_release(&b);
		goto fail;
	}
	out->text = buf_detach(&b);
	for (size_t i = 0; i < t->nheaders; i++) {
		if (render_into(t->headers[i].value, ctx, MUSTACHE_ESC_NONE, &b, e) < 0) {
			buf_release(&b);
			goto fail;
		}
		char *v = one_line(buf_detach(&b));
		if (strcasecmp(t->headers[i].name, "Subject") == 0) {
			free(out->subject);
			out->subject = v;
			continue;
		}
		out->headers = xrealloc(out->headers, (out->nheaders + 1) * sizeof(*out->headers));
		out->headers[out->nheaders].name = xstrdup(t->headers[i].name);
		out->headers[out->nheaders++].value = v;
	}
	if (kind == CHANNEL_EMAIL) {
		/* the HTML alternative with the same qualifiers as the text */
		size_t pl = strlen(path);
		char *hp = xstrdup(path);
		memcpy(hp + pl - 3, "htm", 3);
		char *html = xasprintf("%sl", hp);
		free(hp);
		if (exists_seen(r, html)) {
			struct tmpl *h = load(r, html, 0);
			if (h->err[0]) {
				err_set(e, "%s", h->err);
				free(html);
				goto fail;
			}
			if (render_into(h->body, ctx, MUSTACHE_ESC_HTML, &b, e) < 0) {
				buf_release(&b);
				free(html);
				goto fail;
			}
			out->html = buf_detach(&b);
		}
		free(html);
	}
	return 0;
fail:
	rendered_release(out);
	return -1;
}

json_t *render_context(const struct contact *c, const struct event *ev, char *const *segments,
		       size_t nseg, const char *segment, const char *campaign, int step,
		       const char *unsubscribe_url, const char *survey_url)
{
	/* shallow copies: only their top levels change here, and nothing
	 * changes a context's nested values (a template only reads them) */
	json_t *ctx = c->attrs ? json_copy(c->attrs) : json_object();
	static const char *const fields[] = {"id", "name", "email", "phone", "timezone", "locale"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *f = contact_field(c, fields[i]);
		if (f)
			json_object_set_new(ctx, fields[i], json_string(f));
		else
			json_object_del(ctx, fields[i]);
	}
	if (ev) {
		json_t *o = ev->data ? json_copy(ev->data) : json_object();
		char at[32];
		time_format(ev->at, at, sizeof(at));
		json_object_set_new(o, "type", json_string(ev->type));
		json_object_set_new(o, "at", json_string(at));
		json_object_set_new(ctx, "event", o);
	}
	json_t *segs = json_array();
	for (size_t i = 0; i < nseg; i++)
		json_array_append_new(segs, json_string(segments[i]));
	json_object_set_new(ctx, "segments", segs);
	if (segment)
		json_object_set_new(ctx, "segment", json_string(segment));
	if (campaign)
		json_object_set_new(ctx, "campaign", json_string(campaign));
	json_object_set_new(ctx, "step", json_integer(step));
	if (unsubscribe_url)
		json_object_set_new(ctx, "unsubscribe_url", json_string(unsubscribe_url));
	if (survey_url)
		json_object_set_new(ctx, "survey_url", json_string(survey_url));
	return ctx;
}

/* ---- check ---- */

struct check_ud {
	int (*known)(void *ud, const char *var);
	void *ud;
	struct diag *d;
	const char *path;
	int line_offset;
};

static void check_var(void *p, const char *name, int line, enum mustache_var_kind kind,
		      int in_section)
{
	struct check_ud *u = p;
	if (in_section || kind == MUSTACHE_PARTIAL || strcmp(name, ".") == 0)
		return;
	char root[128];
	snprintf(root, sizeof(root), "%.*s", (int)strcspn(name, "."), name);
	if (!u->known(u->ud, root))
		diag_error(u->d, u->path, line + u->line_offset,
			   "unknown variable \"%s\" (no contact field, attribute or provided value)",
			   name);
}

static void check_file(struct renderer *r, const char *path, int email_txt,
		       int (*known)(void *, const char *), void *ud, struct diag *d)
{
	struct tmpl *t = load(r, path, email_txt);
	if (t->err[0]) {
		/* messages already start with the file name */
		diag_error(d, NULL, 0, "%s", t->err);
		return;
	}
	struct check_ud u = {known, ud, d, path, 0};
	for (size_t i = 0; i < t->nheaders; i++) {
		u.line_offset = (int)i;
		mustache_foreach_var(t->headers[i].value, check_var, &u);
	}
	u.line_offset = t->nheaders ? (int)t->nheaders + 1 : 0;
	mustache_foreach_var(t->body, check_var, &u);
}

#include <dirent.h>

/* template_files - the names of the KIND.*.{txt,md,html} files in dir, sorted */
static size_t template_files(const char *dir, const char *k, char ***out)
{
	char **names = NULL;
	size_t n = 0, kl = strlen(k);
	DIR *dh = opendir(dir);
	struct dirent *de;
	while (dh && (de = readdir(dh))) {
		const char *dot = strrchr(de->d_name, '.');
		if (strncmp(de->d_name, k, kl) != 0 || de->d_name[kl] != '.' ||
		    (strcmp(dot, ".html") != 0 && strcmp(dot, ".txt") != 0 && strcmp(dot, ".md") != 0))
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	if (dh)
		closedir(dh);
	for (size_t i = 1; i < n; i++) /* insertion sort: a handful of names */
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	*out = names;
	return n;
}

static void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

struct uses_ud {
	const char *root;
	int yes;
};

static void uses_var(void *p, const char *name, int line, enum mustache_var_kind kind,
		     int in_section)
{
	struct uses_ud *u = p;
	size_t n = strcspn(name, ".");
	(void)line, (void)in_section;
	if (kind == MUSTACHE_PARTIAL)
		return;
	/* "." ({{json .}}) may be the whole context, every root in it */
	if (strcmp(name, ".") == 0 || (strlen(u->root) == n && strncmp(name, u->root, n) == 0))
		u->yes = 1;
}

int render_uses(struct renderer *r, const char *name, enum channel_kind kind, const char *root)
{
	for (size_t i = 0; i < r->nuses; i++)
		if (r->uses[i].kind == kind && strcmp(r->uses[i].root, root) == 0 &&
		    strcmp(r->uses[i].name, name ? name : "") == 0)
			return r->uses[i].yes;
	const char *k = channel_name(kind);
	char *dir = xasprintf("%s/%s", r->dir, name);
	char **names;
	size_t n = template_files(dir, k, &names);
	struct uses_ud u = {root, 0};
	for (size_t i = 0; i < n && !u.yes; i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		struct tmpl *t = load(r, p, kind == CHANNEL_EMAIL && strcmp(strrchr(p, '.'), ".html") != 0);
		if (!t->err[0]) {
			for (size_t h = 0; h < t->nheaders; h++)
				mustache_foreach_var(t->headers[h].value, uses_var, &u);
			mustache_foreach_var(t->body, uses_var, &u);
		}
		free(p);
	}
	names_free(names, n);
	free(dir);
	r->uses = xrealloc(r->uses, (r->nuses + 1) * sizeof(*r->uses));
	r->uses[r->nuses++] = (struct uses){xstrdup(name ? name : ""), xstrdup(root), kind, u.yes};
	return u.yes;
}

void render_each_bare(struct renderer *r, const char *name, enum channel_kind kind,
		      void (*fn)(void *ud, const char *path, const char *text), void *ud)
{
	const char *k = channel_name(kind);
	char *dir = xasprintf("%s/%s", r->dir, name);
	char **names;
	size_t n = template_files(dir, k, &names);
	json_t *empty = json_object();
	for (size_t i = 0; i < n; i++) {
		if (strcmp(strrchr(names[i], '.'), ".html") == 0)
			continue;
		char *p = xasprintf("%s/%s", dir, names[i]);
		struct tmpl *t = load(r, p, kind == CHANNEL_EMAIL);
		struct buf b = BUF_INIT;
		struct err e = {{0}};
		if (!t->err[0] && render_into(t->body, empty, MUSTACHE_ESC_NONE, &b, &e) == 0)
			fn(ud, p, buf_cstr(&b));
		buf_release(&b);
		free(p);
	}
	json_decref(empty);
	names_free(names, n);
	free(dir);
}

void render_check_template(const struct renderer *cr, const char *name, enum channel_kind kind,
			   int (*known)(void *ud, const char *var), void *ud, struct diag *d,
			   const char *cfg_file, int cfg_line)
{
	struct renderer *r = (struct renderer *)cr;
	const char *k = channel_name(kind);
	char *dir = xasprintf("%s/%s", r->dir, name);
	const char *ext = kind == CHANNEL_CHAT ? "md" : "txt";
	char *plain = xasprintf("%s/%s.%s", dir, k, ext);
	char *plain_txt = xasprintf("%s/%s.txt", dir, k);
	if (!exists(plain) && !exists(plain_txt))
		diag_error(d, cfg_file, cfg_line, "template \"%s\": missing %s (the %s fallback)", name,
			   plain, k);
	char **names;
	size_t n = template_files(dir, k, &names);
	for (size_t i = 0; i < n; i++) {
		const char *dot = strrchr(names[i], '.');
		char *p = xasprintf("%s/%s", dir, names[i]);
		check_file(r, p, kind == CHANNEL_EMAIL && strcmp(dot, ".html") != 0, known, ud, d);
		free(p);
	}
	names_free(names, n);
	free(plain);
	free(plain_txt);
	free(dir);
}
