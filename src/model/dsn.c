/* dsn.c - bounce and complaint reports read from mail (dsn.h).
 *
 * How: the message is copied with LF line ends, its header fields parsed
 * (unfolded), and its MIME tree walked (multipart bodies split at their
 * boundary lines, base64 and quoted-printable bodies decoded) looking for
 * the report part and the original message beside it. The report's body
 * is itself header-like groups of fields separated by blank lines: the
 * first about the message, then one per recipient (RFC 3464 section 2),
 * or one group for ARF (RFC 5965 section 3.1).
 *
 * Security: the input is mail from anyone. Every walk is bounded (depth
 * MAX_DEPTH, MAX_PARTS parts, MAX_FIELDS header fields per part), every
 * scan moves forward, values kept are cut, stripped of controls and made
 * valid UTF-8 (they go into JSON, the store and error lines), and
 * nothing here decides anything: a bounce token found is only a candidate
 * until the caller verifies its signature (track.h).
 */
#include "dsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hash.h"
#include "utf8.h"
#include "timeutil.h"
#include "xmalloc.h"

#define MAX_DEPTH 8
#define MAX_PARTS 200
#define MAX_FIELDS 500
#define MAX_RCPTS 100
#define VALUE_MAX 300

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ieq_n(const char *a, size_t n, const char *b)
{
	size_t k = strlen(b);
	if (n != k)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int ieq(const char *a, const char *b)
{
	return ieq_n(a, strlen(a), b);
}

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* ---- header fields ---------------------------------------------------- */

struct field {
	char *name;
	char *value; /* unfolded, without surrounding white space */
	size_t len;  /* of value */
};

struct fields {
	struct field *v;
	size_t n, cap;
};

static void fields_release(struct fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].value);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

/* trim - s[0, n) without surrounding white space (and CR) as a new string */
static char *trim_dup(const char *s, size_t n)
{
	while (n && (is_wsp((unsigned char)*s) || *s == '\r')) {
		s++;
		n--;
	}
	while (n && (is_wsp((unsigned char)s[n - 1]) || s[n - 1] == '\r'))
		n--;
	return xstrndup(s, n);
}

/* parse_fields - the header fields at p (LF line ends) up to the first
 * empty line; *body is where the body starts (n when none). Lines that are
 * no field are skipped; continuation lines are joined with one space. */
static void parse_fields(const char *p, size_t n, struct fields *f, size_t *body)
{
	size_t i = 0;
	struct buf v = BUF_INIT;
	memset(f, 0, sizeof(*f));
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - p) : n;
		size_t next = nl ? e + 1 : n;
		if (e == i || (e == i + 1 && p[i] == '\r')) { /* the empty line */
			i = next;
			break;
		}
		if (is_wsp((unsigned char)p[i])) {
			if (f->n && f->v[f->n - 1].len < 64 * 1024) { /* a continuation */
				struct field *last = &f->v[f->n - 1];
				char *more = trim_dup(p + i, e - i);
				buf_reset(&v);
				buf_puts(&v, last->value); /* never NULL data, even when empty */
				if (*last->value && *more)
					buf_putc(&v, ' ');
				buf_puts(&v, more);
				free(more);
				free(last->value); /* at most 64 KiB and a line: each is bounded */
				last->value = xstrdup(v.data);
				last->len = v.len;
			}
			i = next;
			continue;
		}
		const char *colon = memchr(p + i, ':', e - i);
		size_t k = colon ? (size_t)(colon - p) : e;
		int ok = colon && k > i;
		for (size_t q = i; ok && q < k; q++)
			ok = p[q] > 0x20 && p[q] < 0x7f;
		if (ok && f->n < MAX_FIELDS) {
			if (f->n == f->cap) {
				f->cap = f->cap ? f->cap * 2 : 16;
				f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
			}
			f->v[f->n].name = xstrndup(p + i, k - i);
			f->v[f->n].value = trim_dup(p + k + 1, e - k - 1);
			f->v[f->n].len = strlen(f->v[f->n].value);
			f->n++;
		}
		i = next;
	}
	buf_release(&v);
	*body = i;
}

/* get - the first field named name, or NULL */
static const char *get(const struct fields *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (ieq(f->v[i].name, name))
			return f->v[i].value;
	return NULL;
}

/* ---- Content-Type ----------------------------------------------------- */

/* content_type - "type/subtype" in lower case into t (text/plain when
 * absent), and the parameter named param (unquoted) into pv, or "" */
static void content_type(const char *ct, char *t, size_t tn, const char *param, char *pv, size_t pn)
{
	size_t k = 0;
	pv[0] = '\0';
	if (!ct || !*ct)
		ct = "text/plain";
	while (*ct && *ct != ';' && !is_wsp((unsigned char)*ct) && k + 1 < tn)
		t[k++] = (char)lower((unsigned char)*ct++);
	t[k] = '\0';
	while (*ct) {
		const char *semi = strchr(ct, ';');
		if (!semi)
			return;
		ct = semi + 1;
		while (is_wsp((unsigned char)*ct))
			ct++;
		size_t nl = strcspn(ct, "=; \t");
		int match = ieq_n(ct, nl, param);
		ct += nl;
		while (is_wsp((unsigned char)*ct))
			ct++;
		if (*ct != '=')
			continue;
		ct++;
		while (is_wsp((unsigned char)*ct))
			ct++;
		size_t o = 0;
		if (*ct == '"') {
			for (ct++; *ct && *ct != '"'; ct++) {
				if (*ct == '\\' && ct[1])
					ct++;
				if (match && o + 1 < pn)
					pv[o++] = *ct;
			}
			if (*ct == '"')
				ct++;
		} else {
			for (; *ct && *ct != ';' && !is_wsp((unsigned char)*ct); ct++)
				if (match && o + 1 < pn)
					pv[o++] = *ct;
		}
		if (match) {
			pv[o] = '\0';
			return;
		}
	}
}

/* ---- transfer encodings ----------------------------------------------- */

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static void decode_b64(const char *p, size_t n, struct buf *out)
{
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '=')
			break;
		int v = b64val((unsigned char)p[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (char)((acc >> bits) & 0xFF));
		}
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void decode_qp(const char *p, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '=') {
			buf_putc(out, p[i]);
			continue;
		}
		if (i + 1 < n && p[i + 1] == '\n') { /* a soft line break */
			i++;
			continue;
		}
		int a = i + 2 < n ? hexval((unsigned char)p[i + 1]) : -1;
		int b = i + 2 < n ? hexval((unsigned char)p[i + 2]) : -1;
		if (a < 0 || b < 0) {
			buf_putc(out, '=');
			continue;
		}
		buf_putc(out, (char)(a * 16 + b));
		i += 2;
	}
}

/* ---- the walk --------------------------------------------------------- */

struct walk {
	int parts;
	struct buf report;   /* the report part's body, decoded */
	int report_kind;     /* 0 none, 'd' delivery-status, 'f' feedback-report */
	struct buf original; /* the original message or its header */
	int have_original;
	char *multipart_report; /* report-type of a multipart/report seen */
};

/* body_decoded - the body of a part, decoded by its transfer encoding */
static void body_decoded(const struct fields *f, const char *p, size_t n, struct buf *out)
{
	const char *cte = get(f, "Content-Transfer-Encoding");
	buf_puts(out, "");
	if (cte && ieq_n(cte, strcspn(cte, " \t;("), "base64")) {
		decode_b64(p, n, out);
		/* a decoded body may carry CRLF again */
		size_t o = 0;
		for (size_t i = 0; i < out->len; i++)
			if (!(out->data[i] == '\r' && i + 1 < out->len && out->data[i + 1] == '\n'))
				out->data[o++] = out->data[i];
		out->len = o;
		out->data[o] = '\0';
	} else if (cte && ieq_n(cte, strcspn(cte, " \t;("), "quoted-printable")) {
		decode_qp(p, n, out);
	} else {
		buf_append(out, p, n);
	}
}

static void walk(struct walk *w, const char *p, size_t n, int depth);

/* delimiter - the line at p (n bytes, without its LF) is "--boundary" or
 * "--boundary--", then only white space (RFC 2046 section 5.1.1) */
static int delimiter(const char *p, size_t n, const char *boundary, size_t bl)
{
	if (n < bl + 2 || p[0] != '-' || p[1] != '-' || memcmp(p + 2, boundary, bl) != 0)
		return 0;
	size_t k = bl + 2;
	if (k + 1 < n && p[k] == '-' && p[k + 1] == '-')
		k += 2;
	while (k < n && (is_wsp((unsigned char)p[k]) || p[k] == '\r'))
		k++;
	return k == n;
}

/* walk_multipart - each part between the boundary lines */
static void walk_multipart(struct walk *w, const char *p, size_t n, const char *boundary, int depth)
{
	size_t bl = strlen(boundary);
	size_t i = 0, start = 0;
	int open = 0;
	if (!bl)
		return;
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - p) : n;
		if (delimiter(p + i, e - i, boundary, bl)) {
			int close = e - i >= bl + 4 && p[i + bl + 2] == '-' && p[i + bl + 3] == '-';
			if (open) /* the part ends before the line end ahead of the delimiter */
				walk(w, p + start, i > start ? i - 1 - start : 0, depth + 1);
			if (close)
				return;
			open = 1;
			start = nl ? e + 1 : n;
		}
		i = nl ? e + 1 : n;
	}
	if (open && start < n) /* no closing delimiter: the last part runs to the end */
		walk(w, p + start, n - start, depth + 1);
}

static void walk(struct walk *w, const char *p, size_t n, int depth)
{
	if (depth > MAX_DEPTH || ++w->parts > MAX_PARTS)
		return;
	struct fields f;
	size_t body;
	char type[96], param[256];
	parse_fields(p, n, &f, &body);
	content_type(get(&f, "Content-Type"), type, sizeof(type), "boundary", param, sizeof(param));
	if (strncmp(type, "multipart/", 10) == 0) {
		if (strcmp(type, "multipart/report") == 0 && !w->multipart_report) {
			char rt[64];
			content_type(get(&f, "Content-Type"), type, sizeof(type), "report-type", rt,
				     sizeof(rt));
			w->multipart_report = xstrdup(rt);
		}
		walk_multipart(w, p + body, n - body, param, depth);
	} else if (!w->report_kind && (strcmp(type, "message/delivery-status") == 0 ||
				       strcmp(type, "message/global-delivery-status") == 0)) {
		w->report_kind = 'd';
		body_decoded(&f, p + body, n - body, &w->report);
	} else if (!w->report_kind && strcmp(type, "message/feedback-report") == 0) {
		w->report_kind = 'f';
		body_decoded(&f, p + body, n - body, &w->report);
	} else if (!w->have_original &&
		   (strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0 ||
		    strcmp(type, "text/rfc822-headers") == 0 ||
		    strcmp(type, "message/global-headers") == 0 ||
		    strcmp(type, "message/rfc822-headers") == 0)) {
		w->have_original = 1;
		body_decoded(&f, p + body, n - body, &w->original);
	}
	fields_release(&f);
}

/* ---- values ----------------------------------------------------------- */

/* valid_utf8 - n bytes at p are well-formed UTF-8 */
static int valid_utf8(const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len((const unsigned char *)p + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* one_line - v without controls (as spaces), runs of space as one, bytes
 * that are not UTF-8 as U+FFFD, cut at VALUE_MAX bytes between characters;
 * NULL for NULL or nothing left */
static char *one_line(const char *v)
{
	if (!v)
		return NULL;
	struct buf b = BUF_INIT;
	size_t n = strlen(v);
	for (size_t i = 0; i < n;) {
		const unsigned char *p = (const unsigned char *)v + i;
		size_t k = utf8_len(p, n - i);
		if (k == 1 && (*p < 0x20 || *p == 0x7f)) {
			if (b.len && b.data[b.len - 1] != ' ' && b.len < VALUE_MAX)
				buf_putc(&b, ' ');
			i++;
			continue;
		}
		if (k == 1 && *p == ' ' && (!b.len || b.data[b.len - 1] == ' ')) {
			i++;
			continue;
		}
		const char *put = k ? (const char *)p : "\xEF\xBF\xBD";
		size_t pn = k ? k : 3;
		if (b.len + pn > VALUE_MAX)
			break;
		buf_append(&b, put, pn);
		i += k ? k : 1;
	}
	while (b.len && b.data[b.len - 1] == ' ')
		b.len--;
	if (!b.len) {
		buf_release(&b);
		return NULL;
	}
	b.data[b.len] = '\0';
	return buf_detach(&b);
}

/* address_of - from "rfc822; Bob@X.com" or "<bob@x.com>" or a To field
 * ("Bob <bob@x.com>, ..."): the first addr-spec, or NULL */
static char *address_of(const char *v, int typed)
{
	if (!v)
		return NULL;
	if (typed) {
		const char *semi = strchr(v, ';');
		if (semi)
			v = semi + 1;
	}
	const char *lt = strchr(v, '<');
	const char *s = lt ? lt + 1 : v;
	while (is_wsp((unsigned char)*s))
		s++;
	size_t k = strcspn(s, lt ? ">" : " \t,;>");
	while (k && is_wsp((unsigned char)s[k - 1]))
		k--;
	if (!k || k > 320 || !memchr(s, '@', k) || !valid_utf8(s, k))
		return NULL;
	for (size_t i = 0; i < k; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
			return NULL;
	return xstrndup(s, k);
}

/* msgid_of - "<id@host>" from a Message-ID field; NULL when none */
static char *msgid_of(const char *v)
{
	if (!v)
		return NULL;
	const char *lt = strchr(v, '<');
	const char *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt && gt > lt + 1 && gt - lt < 998) {
		for (const char *q = lt + 1; q < gt; q++)
			if ((unsigned char)*q <= 0x20 || *q == 0x7f)
				return NULL;
		if (!valid_utf8(lt, (size_t)(gt - lt)))
			return NULL;
		return xstrndup(lt, (size_t)(gt - lt) + 1);
	}
	size_t k = strcspn(v, " \t");
	if (!k || k > 996 || !memchr(v, '@', k) || !valid_utf8(v, k))
		return NULL;
	for (size_t i = 0; i < k; i++)
		if ((unsigned char)v[i] < 0x21 || v[i] == 0x7f)
			return NULL;
	return xasprintf("<%.*s>", (int)k, v);
}

/* status_of - "d.ddd.ddd" at the start of v into out ("" when none) */
static void status_of(const char *v, char out[16])
{
	out[0] = '\0';
	if (!v)
		return;
	while (is_wsp((unsigned char)*v))
		v++;
	if ((v[0] != '2' && v[0] != '4' && v[0] != '5') || v[1] != '.')
		return;
	size_t i = 2, d = 0;
	while (v[i] >= '0' && v[i] <= '9' && d < 3)
		i++, d++;
	if (!d || v[i] != '.')
		return;
	size_t j = i + 1;
	d = 0;
	while (v[j] >= '0' && v[j] <= '9' && d < 3)
		j++, d++;
	if (!d || (v[j] >= '0' && v[j] <= '9'))
		return;
	memcpy(out, v, j);
	out[j] = '\0';
}

/* class_of_diag - 5 or 4 from an SMTP reply in a Diagnostic-Code ("smtp;
 * 550 5.1.1 ..."), else 0 */
static int class_of_diag(const char *v)
{
	if (!v)
		return 0;
	const char *semi = strchr(v, ';');
	const char *p = semi ? semi + 1 : v;
	while (is_wsp((unsigned char)*p))
		p++;
	if ((p[0] == '4' || p[0] == '5') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
	    p[2] <= '9')
		return p[0] - '0';
	return 0;
}

/* find_token - the first bounce token ("b" SEND "." LINK "." 20 hex) in v,
 * standing alone (no letter or digit either side); caller frees */
static char *find_token(const char *v)
{
	for (const char *p = v; p && *p; p++) {
		if (*p != 'b' || (p > v && ((p[-1] >= '0' && p[-1] <= '9') ||
					    (lower((unsigned char)p[-1]) >= 'a' &&
					     lower((unsigned char)p[-1]) <= 'z'))))
			continue;
		const char *q = p + 1;
		size_t d = strspn(q, "0123456789");
		if (!d || d > 18 || q[d] != '.')
			continue;
		q += d + 1;
		d = strspn(q, "0123456789");
		if (!d || d > 6 || q[d] != '.')
			continue;
		q += d + 1;
		d = strspn(q, "0123456789abcdef");
		if (d != 20 || (q[d] >= '0' && q[d] <= '9') ||
		    (lower((unsigned char)q[d]) >= 'a' && lower((unsigned char)q[d]) <= 'z'))
			continue;
		return xstrndup(p, (size_t)(q + d - p));
	}
	return NULL;
}

/* ---- report bodies ---------------------------------------------------- */

static void rcpt_push(struct dsn *d, const struct dsn_rcpt *r)
{
	d->rcpts = xrealloc(d->rcpts, (d->nrcpts + 1) * sizeof(*d->rcpts));
	d->rcpts[d->nrcpts++] = *r;
}

/* rcpt_kind - from Action, Status and Diagnostic-Code */
static enum dsn_kind rcpt_kind(const char *action, const char *status, const char *diag)
{
	int cls = status[0] ? status[0] - '0' : class_of_diag(diag);
	if (action &&
	    (ieq(action, "delivered") || ieq(action, "relayed") || ieq(action, "expanded")))
		return DSN_OTHER;
	if (action && ieq(action, "delayed"))
		return DSN_SOFT;
	if (!action && cls == 2)
		return DSN_OTHER;
	return cls == 5 ? DSN_HARD : DSN_SOFT;
}

/* groups - call fn with each blank-line separated group of fields */
static void groups(const char *p, size_t n, void (*fn)(void *ud, const struct fields *f, int k),
		   void *ud)
{
	size_t i = 0;
	int k = 0;
	while (i < n && k < MAX_RCPTS + 1) {
		/* blank lines between groups */
		while (i < n && (p[i] == '\n' || (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')))
			i += p[i] == '\r' ? 2 : 1;
		if (i >= n)
			break;
		struct fields f;
		size_t used;
		parse_fields(p + i, n - i, &f, &used);
		if (f.n)
			fn(ud, &f, k++);
		fields_release(&f);
		if (!used)
			break;
		i += used;
	}
}

static void ds_group(void *ud, const struct fields *f, int k)
{
	struct dsn *d = ud;
	const char *env = get(f, "Original-Envelope-Id");
	if (k == 0 && env && !d->envelope_id)
		d->envelope_id = one_line(env);
	if (k == 0 && !d->message_id) /* Gmail names the original here */
		d->message_id = msgid_of(get(f, "X-Original-Message-ID"));
	if (d->nrcpts >= MAX_RCPTS)
		return;
	if (!get(f, "Final-Recipient") && !get(f, "Original-Recipient") && !get(f, "Action") &&
	    !get(f, "Status"))
		return;
	struct dsn_rcpt r = {0};
	r.address = address_of(get(f, "Final-Recipient"), 1);
	if (!r.address)
		r.address = address_of(get(f, "Original-Recipient"), 1);
	const char *action = get(f, "Action");
	if (action) {
		char *a = one_line(action);
		if (a) {
			a[strcspn(a, " (;")] = '\0';
			for (char *q = a; *q; q++)
				*q = (char)lower((unsigned char)*q);
		}
		if (a && !*a) {
			free(a);
			a = NULL;
		}
		r.action = a;
	}
	status_of(get(f, "Status"), r.status);
	r.diagnostic = one_line(get(f, "Diagnostic-Code"));
	r.kind = rcpt_kind(r.action, r.status, r.diagnostic);
	rcpt_push(d, &r);
}

struct arf {
	struct dsn *d;
	const struct fields *orig;
};

static void arf_group(void *ud, const struct fields *f, int k)
{
	struct arf *a = ud;
	struct dsn *d = a->d;
	if (k > 0)
		return;
	const char *ft = get(f, "Feedback-Type");
	char *t = one_line(ft);
	if (t)
		t[strcspn(t, " ;(")] = '\0';
	if (!t || !*t) { /* required; an ARF without one is still a complaint */
		free(t);
		t = xstrdup("abuse");
	}
	for (char *q = t; *q; q++)
		*q = (char)lower((unsigned char)*q);
	d->feedback_type = t;
	enum dsn_kind kind = strcmp(t, "not-spam") == 0 ? DSN_OTHER : DSN_COMPLAINT;
	char *tok = find_token(get(f, "Original-Mail-From"));
	if (tok && !d->verp)
		d->verp = tok;
	else
		free(tok);
	for (size_t i = 0; i < f->n && d->nrcpts < MAX_RCPTS; i++) {
		if (!ieq(f->v[i].name, "Original-Rcpt-To"))
			continue;
		struct dsn_rcpt r = {.kind = kind};
		r.address = address_of(f->v[i].value, 0);
		rcpt_push(d, &r);
	}
	if (!d->nrcpts) { /* redacted: the original's To, else none */
		struct dsn_rcpt r = {.kind = kind};
		r.address = a->orig ? address_of(get(a->orig, "To"), 0) : NULL;
		rcpt_push(d, &r);
	}
}

/* ---- dates ------------------------------------------------------------ */

/* num - up to max digits at *p into *v; 0 when none */
static int num(const char **p, int max, int *v)
{
	int k = 0;
	*v = 0;
	while (**p >= '0' && **p <= '9' && k < max) {
		*v = *v * 10 + (**p - '0');
		(*p)++;
		k++;
	}
	return k;
}

static void skip_cfws(const char **p)
{
	for (;;) {
		while (is_wsp((unsigned char)**p) || **p == '\n' || **p == '\r')
			(*p)++;
		if (**p != '(')
			return;
		int depth = 0;
		do {
			if (**p == '(')
				depth++;
			else if (**p == ')')
				depth--;
			(*p)++;
		} while (**p && depth > 0);
	}
}

int64_t dsn_date(const char *s)
{
	static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
					     "jul", "aug", "sep", "oct", "nov", "dec"};
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {{"ut", 0},	    {"gmt", 0},	   {"z", 0},	  {"utc", 0},
		     {"est", -300}, {"edt", -240}, {"cst", -360}, {"cdt", -300},
		     {"mst", -420}, {"mdt", -360}, {"pst", -480}, {"pdt", -420}};
	const char *p = s;
	int day, year, hh, mm, ss = 0, month = -1;
	if (!p)
		return -1;
	skip_cfws(&p);
	if (lower((unsigned char)p[0]) >= 'a' && lower((unsigned char)p[0]) <= 'z') {
		while (lower((unsigned char)*p) >= 'a' && lower((unsigned char)*p) <= 'z')
			p++;
		skip_cfws(&p);
		if (*p == ',')
			p++;
		skip_cfws(&p);
	}
	if (!num(&p, 2, &day) || day < 1 || day > 31)
		return -1;
	skip_cfws(&p);
	for (int i = 0; i < 12; i++)
		if (lower((unsigned char)p[0]) == months[i][0] &&
		    lower((unsigned char)p[1]) == months[i][1] &&
		    lower((unsigned char)p[2]) == months[i][2])
			month = i + 1;
	if (month < 0)
		return -1;
	p += 3;
	skip_cfws(&p);
	int yd = num(&p, 4, &year);
	if (yd < 2)
		return -1;
	if (yd == 2)
		year += year < 50 ? 2000 : 1900;
	else if (yd == 3)
		year += 1900;
	skip_cfws(&p);
	if (!num(&p, 2, &hh) || *p != ':' || hh > 23)
		return -1;
	p++;
	if (!num(&p, 2, &mm) || mm > 59)
		return -1;
	if (*p == ':') {
		p++;
		if (!num(&p, 2, &ss) || ss > 60)
			return -1;
	}
	skip_cfws(&p);
	int off = 0;
	if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, z;
		p++;
		if (num(&p, 4, &z) != 4 || z % 100 > 59)
			return -1;
		off = sign * ((z / 100) * 60 + z % 100);
	} else {
		size_t k = 0;
		while (lower((unsigned char)p[k]) >= 'a' && lower((unsigned char)p[k]) <= 'z')
			k++;
		for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
			if (ieq_n(p, k, zones[i].name))
				off = zones[i].minutes;
		/* other zones are "-0000": unknown, taken as UTC (RFC 5322 4.3) */
	}
	int64_t t = time_days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss;
	return t - (int64_t)off * 60;
}

/* ---- the report ------------------------------------------------------- */

/* verp_from - a bounce token in the fields the report was addressed by */
static char *verp_from(const struct fields *f)
{
	static const char *const names[] = {"To",	   "Delivered-To",  "X-Original-To",
					    "Envelope-To", "X-Envelope-To", "X-Rcpt-To"};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		for (size_t i = 0; i < f->n; i++) {
			if (!ieq(f->v[i].name, names[k]))
				continue;
			char *t = find_token(f->v[i].value);
			if (t)
				return t;
		}
	return NULL;
}

void dsn_parse(const char *msg, size_t len, struct dsn *out)
{
	memset(out, 0, sizeof(*out));
	/* LF line ends, and no NUL in the middle */
	struct buf m = BUF_INIT;
	buf_puts(&m, "");
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
			continue;
		buf_putc(&m, msg[i] ? msg[i] : ' ');
	}
	struct fields top;
	size_t body;
	parse_fields(m.data, m.len, &top, &body);
	const char *own = get(&top, "Message-ID");
	char hex[65];
	if (own && *own)
		sha256_hex(own, strlen(own), hex);
	else
		sha256_hex(m.data, m.len, hex);
	memcpy(out->id, hex, 32);
	out->id[32] = '\0';
	if (!top.n) {
		snprintf(out->why, sizeof(out->why), "no header fields");
		goto done;
	}
	struct walk w = {0};
	w.report = (struct buf)BUF_INIT;
	w.original = (struct buf)BUF_INIT;
	walk(&w, m.data, m.len, 0);
	if (!w.report_kind) {
		snprintf(out->why, sizeof(out->why),
			 "no message/delivery-status or message/feedback-report part%s%s%s",
			 w.multipart_report ? " in a multipart/report (report-type " : "",
			 w.multipart_report ? (*w.multipart_report ? w.multipart_report : "none")
					    : "",
			 w.multipart_report ? ")" : "");
		goto out;
	}
	struct fields orig = {0};
	if (w.have_original) {
		size_t ob;
		parse_fields(w.original.data, w.original.len, &orig, &ob);
		out->message_id = msgid_of(get(&orig, "Message-ID"));
	}
	const char *date = get(&top, "Date");
	int64_t t = date ? dsn_date(date) : -1;
	out->date = t > 0 ? t : 0;
	out->verp = verp_from(&top);
	if (w.report_kind == 'd') {
		groups(w.report.data, w.report.len, ds_group, out);
		if (!out->verp)
			out->verp = find_token(w.report.data); /* X-Postfix-Sender and the like */
	} else {
		struct arf a = {out, w.have_original ? &orig : NULL};
		groups(w.report.data, w.report.len, arf_group, &a);
	}
	if (!out->verp && w.have_original)
		out->verp = find_token(get(&orig, "Return-Path"));
	if (!out->message_id && out->envelope_id)
		out->message_id = msgid_of(out->envelope_id);
	fields_release(&orig);
	if (!out->nrcpts) {
		snprintf(out->why, sizeof(out->why), "a %s without recipients",
			 w.report_kind == 'd' ? "delivery status notification"
					      : "complaint report");
		goto out;
	}
	out->kind = DSN_OTHER;
	for (size_t i = 0; i < out->nrcpts; i++) {
		enum dsn_kind k = out->rcpts[i].kind;
		if (k == DSN_COMPLAINT || (k == DSN_HARD && out->kind != DSN_COMPLAINT) ||
		    (k == DSN_SOFT && out->kind == DSN_OTHER))
			out->kind = k;
	}
out:
	buf_release(&w.report);
	buf_release(&w.original);
	free(w.multipart_report);
done:
	fields_release(&top);
	buf_release(&m);
	if (out->kind == DSN_NONE) {
		/* a report that is not one keeps nothing but why */
		char why[sizeof(out->why)], id[sizeof(out->id)];
		memcpy(why, out->why, sizeof(why));
		memcpy(id, out->id, sizeof(id));
		dsn_release(out);
		memcpy(out->why, why, sizeof(why));
		memcpy(out->id, id, sizeof(id));
	}
}

void dsn_release(struct dsn *d)
{
	for (size_t i = 0; i < d->nrcpts; i++) {
		free(d->rcpts[i].address);
		free(d->rcpts[i].action);
		free(d->rcpts[i].diagnostic);
	}
	free(d->rcpts);
	free(d->message_id);
	free(d->envelope_id);
	free(d->verp);
	free(d->feedback_type);
	memset(d, 0, sizeof(*d));
}

const char *dsn_kind_name(enum dsn_kind k)
{
	static const char *const names[] = {"none", "hard", "soft", "complaint", "other"};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "none";
}

/* ---- mbox ------------------------------------------------------------- */

/* from_line - a line "From " at p */
static int from_line(const char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

int dsn_mbox_each(const char *data, size_t len,
		  void (*fn)(void *ud, const char *msg, size_t n, int line), void *ud)
{
	struct buf m = BUF_INIT;
	size_t i = 0;
	int line = 0, start = 0, count = 0, in = 0, blank = 1;
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - data) + 1 : len;
		const char *p = data + i;
		size_t n = e - i;
		line++;
		if (blank && from_line(p, n)) {
			if (in) {
				/* the blank line before From_ belongs to the mbox */
				if (m.len && m.data[m.len - 1] == '\n')
					m.len--;
				if (m.len && m.data[m.len - 1] == '\r')
					m.len--;
				fn(ud, m.data ? m.data : "", m.len, start);
				count++;
			}
			buf_reset(&m);
			buf_puts(&m, "");
			in = 1;
			start = line;
		} else if (in) {
			size_t k = 0;
			while (k < n && p[k] == '>')
				k++;
			if (k && from_line(p + k, n - k))
				buf_append(&m, p + 1, n - 1);
			else
				buf_append(&m, p, n);
		}
		blank = n == 1 || (n == 2 && p[0] == '\r');
		i = e;
	}
	if (in) {
		fn(ud, m.data ? m.data : "", m.len, start);
		count++;
	}
	buf_release(&m);
	return count;
}
