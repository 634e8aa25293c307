/* transport_http.c - the http transport: SMS gateways reached over HTTP
 *
 * Each message becomes one request whose URL, header values and body are
 * Mustache templates parsed once at create and rendered per message with
 * to, text, send_id, campaign, step, segments and encoding (plus name,
 * to_name and the contact field named by `to:`, e.g. phone). The body is
 * escaped for its Content-Type (JSON by default; form values
 * percent-encoded), URL values are always percent-encoded, header values
 * are taken as they are and refused if they hold CR or LF. A deliver call
 * takes a batch (4 x concurrency) and runs it through one http_client,
 * which keeps connections alive between calls; the kind asks for one
 * thread, so the client is never shared. The batch goes out in waves of
 * `concurrency` requests (one per connection); each wave's outcomes go
 * back to the worker as it ends (deliver_acked), and the next wave waits
 * until they are recorded, so a crash repeats at most one request per
 * connection.
 *
 * Outcome: http_classify (2xx OK; 408/425/429/5xx, timeouts and connection
 * errors DEFER with Retry-After; other 4xx/3xx FAIL), then for a 2xx the
 * optional ok_pointer/ok_value check (gateways that answer 200 with an
 * error code) and the provider's message id at id_pointer. SMS segments
 * are counted (sms.h) and named in the reason; max_segments refuses a
 * longer text before anything is sent.
 *
 * Security: secrets reach this file only inside option values (${ENV}
 * expanded by the config loader): the URL and header values are never put
 * in a reason or a log, curl's errors are scrubbed of the URL
 * (http_client.c), and the server's words are scrubbed of the rendered
 * header values and of long URL query values and path segments, in case a
 * gateway echoes a key back.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "http_client.h"
#include "mustache.h"
#include "sms.h"
#include "transport.h"
#include "xmalloc.h"

#define DEFAULT_BODY "{\"to\": {{json to}}, \"text\": {{json text}}}"
#define DEFAULT_CONCURRENCY 8
#define DEFAULT_TIMEOUT_MS 10000L
#define DEFAULT_CONNECT_TIMEOUT_MS 5000L

enum body_kind { BODY_JSON, BODY_FORM, BODY_TEXT };

struct tpl_header {
	char *name;
	struct mustache *value;
};

struct http_transport {
	char *to_field; /* conf->to, also a template variable; MAY be NULL */
	char *method;
	struct mustache *url;
	struct tpl_header *headers;
	size_t nheaders;
	int has_content_type;
	struct mustache *body; /* NULL: no body (GET) */
	enum body_kind body_kind;
	char *id_pointer;
	char *ok_pointer;
	char *ok_value;
	int concurrency;
	int max_segments; /* 0: no limit */
	struct http_client *client;
	pthread_mutex_t mu; /* one deliver at a time on the client */
};

/* ---- create ---- */

/* the names a template may use */
static const char *const known_vars[] = {"to",	     "text",	 "send_id", "campaign", "step",
					 "segments", "encoding", "name",    "to_name",	NULL};

struct var_check {
	const char *to_field;
	const char *bad; /* the first unknown name */
	int bad_line;
	int partial;
};

static void check_var(void *ud, const char *name, int line, enum mustache_var_kind kind,
		      int in_section)
{
	struct var_check *vc = ud;
	if (vc->bad || vc->partial)
		return;
	if (kind == MUSTACHE_PARTIAL) {
		vc->partial = line;
		return;
	}
	if (in_section || strcmp(name, ".") == 0)
		return; /* may resolve against the section's value */
	size_t n = strcspn(name, ".");
	for (size_t i = 0; known_vars[i]; i++)
		if (strlen(known_vars[i]) == n && strncmp(known_vars[i], name, n) == 0)
			return;
	if (vc->to_field && strlen(vc->to_field) == n && strncmp(vc->to_field, name, n) == 0)
		return;
	vc->bad = name;
	vc->bad_line = line;
}

/* parse_tpl - compile an option's template; errors name the option's line
 * (key is the option's path under the transport, e.g. "headers/X-Key") */
static struct mustache *parse_tpl(const struct config *cfg, const struct transport_conf *conf,
				  const char *key, const char *what, const char *src, struct err *e)
{
	struct err pe;
	err_clear(&pe);
	struct mustache *t = mustache_parse(src, strlen(src), what, &pe);
	if (!t) {
		/* "WHAT:LINE: msg" -> "bad template in WHAT: msg (template line LINE)" */
		const char *msg = pe.msg;
		size_t wl = strlen(what);
		int tline = 0;
		if (strncmp(msg, what, wl) == 0 && msg[wl] == ':') {
			char *end;
			long l = strtol(msg + wl + 1, &end, 10);
			if (end != msg + wl + 1 && end[0] == ':' && end[1] == ' ') {
				tline = (int)l;
				msg = end + 2;
			}
		}
		if (tline > 1)
			transport_conf_err(cfg, conf, key, e,
					   "bad template in %s: %s (template line %d)", what, msg,
					   tline);
		else
			transport_conf_err(cfg, conf, key, e, "bad template in %s: %s", what, msg);
		return NULL;
	}
	struct var_check vc = {conf->to, NULL, 0, 0};
	mustache_foreach_var(t, check_var, &vc);
	if (vc.partial || vc.bad) {
		if (vc.partial)
			transport_conf_err(cfg, conf, key, e,
					   "bad template in %s: partials are not supported here",
					   what);
		else
			transport_conf_err(cfg, conf, key, e,
					   "unknown variable \"%s\" in %s (use to, text, send_id, "
					   "campaign, step, segments, encoding, name%s%s)",
					   vc.bad, what, conf->to ? ", " : "",
					   conf->to ? conf->to : "");
		mustache_free(t);
		return NULL;
	}
	return t;
}

static int token_char(int c)
{
	return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* json_pointer_escape - a key as one JSON pointer token (~0, ~1) */
static char *pointer_key(const char *prefix, const char *key)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, prefix);
	for (const char *p = key; *p; p++) {
		if (*p == '~')
			buf_puts(&b, "~0");
		else if (*p == '/')
			buf_puts(&b, "~1");
		else
			buf_putc(&b, *p);
	}
	return buf_detach(&b);
}

static int parse_headers(const struct config *cfg, const struct transport_conf *conf,
			 struct http_transport *h, struct err *e)
{
	json_t *hs = conf->opts ? json_object_get(conf->opts, "headers") : NULL;
	if (!hs || json_is_null(hs))
		return 0;
	if (!json_is_object(hs))
		return transport_conf_err(cfg, conf, "headers", e,
					  "headers must be a mapping of header names to values");
	const char *name;
	json_t *v;
	h->headers = xcalloc(json_object_size(hs) + 1, sizeof(*h->headers));
	json_object_foreach(hs, name, v)
	{
		char *key = pointer_key("headers/", name);
		int bad = 0;
		for (const char *p = name; *p && !bad; p++)
			bad = !token_char((unsigned char)*p);
		if (!*name || bad) {
			transport_conf_err(cfg, conf, key, e, "bad header name \"%.60s\"", name);
			free(key);
			return -1;
		}
		if (strcasecmp(name, "Content-Length") == 0 ||
		    strcasecmp(name, "Transfer-Encoding") == 0 || strcasecmp(name, "Expect") == 0) {
			transport_conf_err(cfg, conf, key, e, "header %s is set by outreach", name);
			free(key);
			return -1;
		}
		if (!json_is_string(v) && !json_is_integer(v)) {
			transport_conf_err(cfg, conf, key, e, "header %s must be a string", name);
			free(key);
			return -1;
		}
		char num[32];
		const char *src = json_is_string(v) ? json_string_value(v) : num;
		if (json_is_integer(v))
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		if (strchr(src, '\r') || strchr(src, '\n')) {
			transport_conf_err(cfg, conf, key, e,
					   "header %s must be one line (no CR or LF)", name);
			free(key);
			return -1;
		}
		char *what = xasprintf("header %s", name);
		struct mustache *t = parse_tpl(cfg, conf, key, what, src, e);
		free(what);
		free(key);
		if (!t)
			return -1;
		h->headers[h->nheaders].name = xstrdup(name);
		h->headers[h->nheaders].value = t;
		h->nheaders++;
		if (strcasecmp(name, "Content-Type") == 0) {
			h->has_content_type = 1;
			/* the body's escaping follows its declared type */
			char *low = xstrdup(src);
			for (char *p = low; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			h->body_kind = strstr(low, "x-www-form-urlencoded") ? BODY_FORM
				       : strstr(low, "json")		    ? BODY_JSON
									    : BODY_TEXT;
			free(low);
		}
	}
	return 0;
}

static void http_free(void *state);

static int http_create(const struct config *cfg, const struct transport_conf *conf, int flags,
		       void **state, struct err *e)
{
	const char *url, *method, *body, *idp, *okp, *ca;
	long conc, maxseg, timeout, ctimeout;
	json_t *okv = conf->opts ? json_object_get(conf->opts, "ok_value") : NULL;

	if (transport_opt_str(cfg, conf, "url", &url, e) < 0 ||
	    transport_opt_str(cfg, conf, "method", &method, e) < 0 ||
	    transport_opt_str(cfg, conf, "id_pointer", &idp, e) < 0 ||
	    transport_opt_str(cfg, conf, "ok_pointer", &okp, e) < 0 ||
	    transport_opt_str(cfg, conf, "ca_file", &ca, e) < 0 ||
	    transport_opt_int(cfg, conf, "concurrency", DEFAULT_CONCURRENCY, 1, 256, &conc, e) <
		0 ||
	    transport_opt_int(cfg, conf, "max_segments", 0, 1, 20, &maxseg, e) < 0 ||
	    transport_opt_duration_ms(cfg, conf, "timeout", DEFAULT_TIMEOUT_MS, &timeout, e) < 0 ||
	    transport_opt_duration_ms(cfg, conf, "connect_timeout", DEFAULT_CONNECT_TIMEOUT_MS,
				      &ctimeout, e) < 0)
		return -1;
	/* body may be given empty (a request without one) */
	json_t *bv = conf->opts ? json_object_get(conf->opts, "body") : NULL;
	if (bv && !json_is_null(bv) && !json_is_string(bv))
		return transport_conf_err(cfg, conf, "body", e, "body must be a string");
	body = bv && json_is_string(bv) ? json_string_value(bv) : NULL;
	if (!url)
		return transport_conf_err(cfg, conf, NULL, e,
					  "missing url (the gateway's endpoint, a template)");
	if (!method)
		method = "POST";
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0)
		return transport_conf_err(cfg, conf, "method", e,
					  "unknown method \"%.20s\" (use GET, POST or PUT)",
					  method);
	if (strcmp(method, "GET") == 0 && body)
		return transport_conf_err(cfg, conf, "body", e,
					  "a GET request has no body: put the values in the url");
	if (idp && !http_json_pointer_valid(idp))
		return transport_conf_err(
		    cfg, conf, "id_pointer", e,
		    "id_pointer must be a JSON pointer such as /messages/0/id");
	if (okp && !http_json_pointer_valid(okp))
		return transport_conf_err(cfg, conf, "ok_pointer", e,
					  "ok_pointer must be a JSON pointer such as /code");
	if (okv && json_is_null(okv))
		okv = NULL;
	if (okp && !okv)
		return transport_conf_err(cfg, conf, "ok_pointer", e,
					  "ok_pointer needs ok_value (what the gateway answers on "
					  "success)");
	if (okv && !okp)
		return transport_conf_err(cfg, conf, "ok_value", e, "ok_value needs ok_pointer");
	if (okv && !json_is_string(okv) && !json_is_integer(okv) && !json_is_boolean(okv))
		return transport_conf_err(cfg, conf, "ok_value", e,
					  "ok_value must be a string, an integer or a boolean");
	if (ca && access(ca, R_OK) != 0)
		return transport_conf_err(cfg, conf, "ca_file", e, "cannot read ca_file \"%s\"",
					  ca);

	struct http_transport *h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	h->to_field = xstrdup(conf->to);
	h->method = xstrdup(method);
	h->concurrency = (int)conc;
	h->max_segments = (int)maxseg;
	h->id_pointer = xstrdup(idp);
	h->ok_pointer = xstrdup(okp);
	if (okv) {
		if (json_is_string(okv))
			h->ok_value = xstrdup(json_string_value(okv));
		else if (json_is_integer(okv))
			h->ok_value = xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(okv));
		else
			h->ok_value = xstrdup(json_is_true(okv) ? "true" : "false");
	}
	h->body_kind = BODY_JSON;
	if (!(h->url = parse_tpl(cfg, conf, "url", "url", url, e)) ||
	    parse_headers(cfg, conf, h, e) < 0) {
		http_free(h);
		return -1;
	}
	if (strcmp(method, "GET") != 0) {
		h->body = parse_tpl(cfg, conf, "body", "body", body ? body : DEFAULT_BODY, e);
		if (!h->body) {
			http_free(h);
			return -1;
		}
	}
	if (flags & TRANSPORT_CHECK) {
		http_free(h);
		return 0;
	}
	struct http_client_opts o = {.concurrency = h->concurrency,
				     .timeout_ms = timeout,
				     .connect_timeout_ms = ctimeout,
				     .ca_file = ca};
	h->client = http_client_create(&o);
	*state = h;
	return 0;
}

static void http_free(void *state)
{
	struct http_transport *h = state;
	if (!h)
		return;
	http_client_free(h->client);
	mustache_free(h->url);
	mustache_free(h->body);
	for (size_t i = 0; i < h->nheaders; i++) {
		free(h->headers[i].name);
		mustache_free(h->headers[i].value);
	}
	free(h->headers);
	free(h->to_field);
	free(h->method);
	free(h->id_pointer);
	free(h->ok_pointer);
	free(h->ok_value);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* threads - one: the client runs many requests at once by itself */
static int http_threads(void *state)
{
	(void)state;
	return 1;
}

static size_t http_batch(void *state)
{
	const struct http_transport *h = state;
	return h ? (size_t)h->concurrency * 4 : 1;
}

/* ---- deliver ---- */

/* pct - s percent-encoded (RFC 3986 unreserved characters kept) */
static void pct(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf_putc(out, (char)c);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
}

/* encoded - a copy of the data whose strings are percent-encoded */
static json_t *encoded(json_t *data)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(data, k, v)
	{
		if (json_is_string(v)) {
			struct buf b = BUF_INIT;
			pct(&b, json_string_value(v), json_string_length(v));
			json_object_set_new(o, k, json_string(buf_cstr(&b)));
			buf_release(&b);
		} else {
			json_object_set(o, k, v);
		}
	}
	return o;
}

/* set_str - key = s in o; -1 when s is not UTF-8 */
static int set_str(json_t *o, const char *key, const char *s)
{
	json_t *v = json_string(s ? s : "");
	if (!v)
		return -1;
	json_object_set_new(o, key, v);
	return 0;
}

/* the strings of one request that may be secrets, for redact() */
struct secrets {
	char **v;
	size_t n;
};

static void secret_add(struct secrets *s, const char *p, size_t n)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = xstrndup(p, n);
}

static void secrets_release(struct secrets *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* secrets_of_header - a value and each of its long words ("Bearer TOKEN") */
static void secrets_of_header(struct secrets *s, const char *name, const char *v)
{
	if (strcasecmp(name, "Content-Type") == 0 || strcasecmp(name, "Accept") == 0 ||
	    strcasecmp(name, "User-Agent") == 0)
		return;
	if (strlen(v) >= 8)
		secret_add(s, v, strlen(v));
	for (const char *p = v; *p;) {
		size_t w = strcspn(p, " \t,;=");
		if (w >= 8)
			secret_add(s, p, w);
		p += w;
		p += strspn(p, " \t,;=");
	}
}

/* secrets_of_url - query values of 8 bytes or more, path segments of 16 */
static void secrets_of_url(struct secrets *s, const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	p += strcspn(p, "/?#"); /* past the host */
	while (*p == '/') {
		p++;
		size_t w = strcspn(p, "/?#");
		if (w >= 16)
			secret_add(s, p, w);
		p += w;
	}
	if (*p != '?')
		return;
	p++;
	while (*p && *p != '#') {
		size_t w = strcspn(p, "&#");
		const char *eq = memchr(p, '=', w);
		if (eq && (size_t)(p + w - eq - 1) >= 8)
			secret_add(s, eq + 1, (size_t)(p + w - eq - 1));
		p += w;
		if (*p == '&')
			p++;
	}
}

/* redact - reason (cap bytes) with every secret replaced by a mark, in
 * one pass from the left (the longest secret first at each place), so
 * that no mark is ever searched again */
static void redact(char *reason, size_t cap, const struct secrets *s)
{
	if (!s->n)
		return;
	struct buf out = BUF_INIT;
	buf_puts(&out, "");
	for (const char *p = reason; *p;) {
		size_t best = 0;
		for (size_t i = 0; i < s->n; i++) {
			size_t pn = strlen(s->v[i]);
			if (pn > best && strncmp(p, s->v[i], pn) == 0)
				best = pn;
		}
		if (best) {
			buf_puts(&out, "[redacted]");
			p += best;
		} else {
			buf_putc(&out, *p++);
		}
	}
	size_t n = out.len < cap ? out.len : cap - 1;
	/* never end inside a UTF-8 character */
	if (n < out.len)
		while (n > 0 && ((unsigned char)out.data[n] & 0xC0) == 0x80)
			n--;
	memcpy(reason, out.data, n);
	reason[n] = '\0';
	buf_release(&out);
}

/* one message on its way */
struct pending {
	size_t idx; /* into m[] and d[] */
	char *url;
	struct header *hdrs;
	size_t nhdrs;
	char **hvals;
	char *body;
	size_t body_len;
	int segments;
	enum sms_encoding enc;
	struct secrets secrets;
};

static void pending_release(struct pending *p)
{
	free(p->url);
	for (size_t i = 0; i < p->nhdrs; i++)
		free(p->hvals[i]);
	free(p->hvals);
	free(p->hdrs);
	free(p->body);
	secrets_release(&p->secrets);
}

/* prepare - render one message's request; -1 with d filled (FAIL) when
 * it cannot be sent */
static int prepare(struct http_transport *h, const struct message *m, struct pending *p,
		   struct delivery *d)
{
	const char *text = m->text ? m->text : "";
	char why[200];
	p->segments = sms_segments(text, strlen(text), &p->enc);
	if (h->max_segments &&
	    sms_limit(text, strlen(text), h->max_segments, why, sizeof(why)) < 0) {
		transport_set(d, DELIVERY_FAIL, "too long", "%s", why);
		return -1;
	}
	if (h->to_field && (!m->to || !*m->to)) {
		transport_set(d, DELIVERY_FAIL, "invalid", "message has no recipient");
		return -1;
	}
	json_t *data = json_object();
	const char *bad = NULL;
	if (set_str(data, "to", m->to) < 0 ||
	    (h->to_field && set_str(data, h->to_field, m->to) < 0))
		bad = "the recipient";
	else if (set_str(data, "text", text) < 0)
		bad = "the text";
	else if (set_str(data, "name", m->to_name) < 0 || set_str(data, "to_name", m->to_name) < 0)
		bad = "the recipient's name";
	else if (set_str(data, "campaign", m->campaign) < 0)
		bad = "the campaign name";
	if (bad) {
		transport_set(d, DELIVERY_FAIL, "invalid", "%s is not valid UTF-8", bad);
		json_decref(data);
		return -1;
	}
	json_object_set_new(data, "send_id", json_integer(m->send_id));
	json_object_set_new(data, "step", json_integer(m->step));
	json_object_set_new(data, "segments", json_integer(p->segments));
	json_object_set_new(data, "encoding", json_string(sms_encoding_name(p->enc)));

	struct buf b = BUF_INIT;
	struct err e;
	err_clear(&e);
	struct mustache_opts plain = {MUSTACHE_ESC_NONE, NULL, NULL};
	json_t *enc = encoded(data);
	int rc = mustache_render(h->url, enc, &plain, &b, &e);
	p->url = buf_detach(&b);
	if (rc == 0) {
		p->hdrs = xcalloc(h->nheaders + 1, sizeof(*p->hdrs));
		p->hvals = xcalloc(h->nheaders + 1, sizeof(*p->hvals));
		for (size_t i = 0; i < h->nheaders && rc == 0; i++) {
			rc = mustache_render(h->headers[i].value, data, &plain, &b, &e);
			p->hvals[i] = buf_detach(&b);
			p->hdrs[i].name = h->headers[i].name;
			p->hdrs[i].value = p->hvals[i];
			p->nhdrs++;
			if (rc == 0 && strpbrk(p->hvals[i], "\r\n")) {
				transport_set(d, DELIVERY_FAIL, "invalid",
					      "invalid header %s: the value holds CR or LF",
					      h->headers[i].name);
				json_decref(enc);
				json_decref(data);
				return -1;
			}
			secrets_of_header(&p->secrets, h->headers[i].name, p->hvals[i]);
		}
		if (rc == 0 && h->body && !h->has_content_type) {
			p->hdrs[p->nhdrs].name = "Content-Type";
			p->hdrs[p->nhdrs].value = "application/json; charset=utf-8";
			p->nhdrs++;
		}
	}
	if (rc == 0 && h->body) {
		struct mustache_opts bo = {
		    h->body_kind == BODY_JSON ? MUSTACHE_ESC_JSON : MUSTACHE_ESC_NONE, NULL, NULL};
		rc = mustache_render(h->body, h->body_kind == BODY_FORM ? enc : data, &bo, &b, &e);
		p->body_len = b.len;
		p->body = buf_detach(&b);
	}
	json_decref(enc);
	json_decref(data);
	if (rc < 0) {
		transport_set(d, DELIVERY_FAIL, "template", "%s", e.msg);
		return -1;
	}
	secrets_of_url(&p->secrets, p->url);
	return 0;
}

/* judge - the outcome of one response */
static void judge(struct http_transport *h, const struct pending *p, const struct http_response *r,
		  struct delivery *d)
{
	http_classify(r, d);
	if (d->status == DELIVERY_OK && h->ok_pointer) {
		char got[128];
		if (http_response_field(r, h->ok_pointer, got, sizeof(got)) < 0 ||
		    strcmp(got, h->ok_value) != 0) {
			char reason[sizeof(d->reason)];
			snprintf(reason, sizeof(reason), "%s", d->reason);
			transport_set(d, DELIVERY_FAIL, "rejected", "%s", reason);
		}
	}
	if (d->status == DELIVERY_OK) {
		if (h->id_pointer && http_response_field(r, h->id_pointer, d->provider_id,
							 sizeof(d->provider_id)) < 0)
			d->provider_id[0] = '\0';
		/* the segments go in the reason ("HTTP 200 (2 segments, ucs2): ...")
		 * until the store has a column for them */
		char code[sizeof(d->code)], rest[sizeof(d->reason)];
		size_t hl = (size_t)snprintf(NULL, 0, "HTTP %ld", r->status);
		snprintf(code, sizeof(code), "%s", d->code);
		snprintf(rest, sizeof(rest), "%s", strlen(d->reason) > hl ? d->reason + hl : "");
		transport_set(d, DELIVERY_OK, code, "HTTP %ld (%d segment%s, %s)%s", r->status,
			      p->segments, p->segments == 1 ? "" : "s", sms_encoding_name(p->enc),
			      rest);
	}
	redact(d->reason, sizeof(d->reason), &p->secrets);
}

static int http_deliver(void *state, const struct message *const *m, size_t n, int64_t now,
			struct delivery *d, struct transport_acks *a)
{
	(void)now;
	struct http_transport *h = state;
	if (!h)
		return -1;
	struct pending *ps = xcalloc(n, sizeof(*ps));
	struct http_request *req = xcalloc(n, sizeof(*req));
	struct http_response *res = xcalloc(n, sizeof(*res));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct pending *p = &ps[k];
		memset(p, 0, sizeof(*p));
		p->idx = i;
		if (prepare(h, m[i], p, &d[i]) < 0) {
			pending_release(p);
			transport_ack(a, i); /* never sent: nothing to wait for */
			continue;
		}
		req[k] = (struct http_request){h->method, p->url,  p->hdrs,
					       p->nhdrs,  p->body, p->body_len};
		k++;
	}
	size_t wave = (size_t)h->concurrency, j = 0;
	int stop = 0;
	for (size_t w0 = 0; w0 < k && !stop; w0 += wave) {
		size_t cnt = k - w0 < wave ? k - w0 : wave;
		pthread_mutex_lock(&h->mu);
		http_client_run(h->client, req + w0, cnt, res + w0);
		pthread_mutex_unlock(&h->mu);
		for (j = w0; j < w0 + cnt; j++) {
			judge(h, &ps[j], &res[j], &d[ps[j].idx]);
			transport_ack(a, ps[j].idx);
		}
		/* the next wave reuses these connections: not before the records */
		for (j = w0; j < w0 + cnt; j++)
			if (transport_ack_wait(a, ps[j].idx) < 0)
				stop = 1;
	}
	for (; j < k; j++)
		transport_set(&d[ps[j].idx], DELIVERY_DEFER, "stopped",
			      "not sent: the worker stopped recording outcomes");
	for (j = 0; j < k; j++) {
		http_response_release(&res[j]);
		pending_release(&ps[j]);
	}
	free(ps);
	free(req);
	free(res);
	return 0;
}

static const char *const http_keys[] = {"url", "method", "headers", "body", "id_pointer", "ok_pointer", "ok_value", "concurrency", "timeout", "connect_timeout", "ca_file", "max_segments", NULL};

const struct transport_ops transport_http = {
    .kind = "http",
    .keys = http_keys,
    .create = http_create,
    .deliver_acked = http_deliver,
    .threads = http_threads,
    .batch = http_batch,
    .free = http_free,
};
