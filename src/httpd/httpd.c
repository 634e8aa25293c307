/* httpd.c - the server: libmicrohttpd set-up and limits, routing, the
 * store connection pool, request bodies, responses, and the counters
 * /metrics reports.
 *
 * How: libmicrohttpd runs its own polling threads (a pool of
 * HTTPD_THREADS). on_request gathers one request's body into a buffer
 * (refusing a declared length over HTTPD_BODY_MAX at once with 413, and
 * dropping the rest of a longer chunked body), then httpd_handle routes
 * it. A request borrows a store connection from the pool for its
 * handler only; connections are opened on demand and kept, so there is
 * at most one per request in progress and none is used by two threads.
 *
 * Security: every request comes from anyone on the network. Tokens are
 * checked by HMAC before anything is looked up (httpd_track.c); secrets
 * (tokens, the API bearer) are compared in constant time and never
 * logged; logs name the endpoint, never the path (it holds a token).
 * Responses are never cached (Cache-Control: no-store), never sniffed,
 * never send a Referer onwards, and pages get a strict CSP.
 */
#include "httpd.h"

#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "httpd_internal.h"
#include "log.h"
#include "timeutil.h"
#include "utf8.h"
#include "xmalloc.h"

const char *const httpd_ep_names[EP_N] = {
    "open", "click",	  "unsubscribe",  "survey",  "inbound_sms", "inbound_email",
    "dlr",  "api_events", "api_contacts", "healthz", "metrics",	    "other",
};

const double httpd_dur_bounds[HTTPD_NBUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05,
						 0.1,	0.25,  0.5,  1,	    5};

/* ---- responses ---- */

void httpd_resp_release(struct httpd_resp *rs)
{
	buf_release(&rs->body);
	free(rs->location);
	memset(rs, 0, sizeof(*rs));
}

void httpd_text(struct httpd_resp *rs, int code, const char *fmt, ...)
{
	va_list ap;
	char line[512];
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	rs->code = code;
	rs->content_type = "text/plain; charset=utf-8";
	buf_reset(&rs->body);
	buf_puts(&rs->body, line);
	buf_putc(&rs->body, '\n');
}

void httpd_json(struct httpd_resp *rs, int code, void *o)
{
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	rs->code = code;
	rs->content_type = "application/json";
	buf_reset(&rs->body);
	buf_puts(&rs->body, text ? text : "{}");
	buf_putc(&rs->body, '\n');
	free(text);
}

void httpd_json_error(struct httpd_resp *rs, int code, const char *msg)
{
	json_t *o = json_object();
	json_t *m = json_string(msg);
	json_object_set_new(o, "error", m ? m : json_string("invalid request"));
	httpd_json(rs, code, o);
}

void httpd_fail(struct httpd_resp *rs, const char *msg)
{
	log_error("serve: %s: %s", rs->endpoint ? rs->endpoint : "request", msg);
	httpd_text(rs, 503, "store unavailable, try again later");
}

int httpd_token_eq(const char *given, const char *want)
{
	/* digests of both: the comparison does not depend on where they
	 * differ, nor on the length of the secret */
	char a[65], b[65];
	if (!given || !want)
		return 0;
	sha256_hex(given, strlen(given), a);
	sha256_hex(want, strlen(want), b);
	return CRYPTO_memcmp(a, b, 64) == 0;
}

/* ---- request bodies ---- */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

int httpd_media_is(const char *content_type, const char *type)
{
	if (!content_type)
		return 0;
	const char *p = content_type;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, ";");
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	size_t k = strlen(type);
	if (n == k) {
		size_t i = 0;
		while (i < n && lower((unsigned char)p[i]) == type[i])
			i++;
		if (i == n)
			return 1;
	}
	/* application/problem+json, application/vnd.x+json */
	if (strcmp(type, "application/json") == 0 && n > 5 && strncmp(p, "application/", 12) == 0) {
		const char *suf = p + n - 5;
		return lower(suf[0]) == '+' && lower(suf[1]) == 'j' && lower(suf[2]) == 's' &&
		       lower(suf[3]) == 'o' && lower(suf[4]) == 'n';
	}
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* form_decode - n bytes of a urlencoded key or value: + and %XX decoded;
 * NULL when an escape is bad or decodes to NUL */
static char *form_decode(const char *p, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '+') {
			out[o++] = ' ';
		} else if (p[i] == '%') {
			int hi = i + 2 < n ? hexval((unsigned char)p[i + 1]) : -1;
			int lo = i + 2 < n ? hexval((unsigned char)p[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (p[i] == '\0') {
			free(out);
			return NULL;
		} else {
			out[o++] = p[i];
		}
	}
	out[o] = '\0';
	return out;
}

int httpd_form_get(const char *body, size_t len, const char *name, char **out)
{
	size_t i = 0;
	*out = NULL;
	while (i < len) {
		size_t end = i;
		while (end < len && body[end] != '&')
			end++;
		size_t eq = i;
		while (eq < end && body[eq] != '=')
			eq++;
		if (end > i) {
			char *key = form_decode(body + i, eq - i);
			if (!key)
				return -1;
			int match = strcmp(key, name) == 0;
			free(key);
			if (match) {
				*out = eq < end ? form_decode(body + eq + 1, end - eq - 1)
						: xstrdup("");
				return *out ? 0 : -1;
			}
		}
		i = end + 1;
	}
	return 1;
}

/* form_check - every pair of the form decodes (so garbage is a 400 even
 * when the fields asked for are fine) */
static int form_check(const char *body, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && body[end] != '&')
			end++;
		char *pair = form_decode(body + i, end - i);
		if (!pair)
			return -1;
		free(pair);
		i = end + 1;
	}
	return 0;
}

int httpd_fields(const struct httpd_req *rq, const char *const *names, size_t n, char **vals,
		 struct err *e)
{
	for (size_t i = 0; i < n; i++)
		vals[i] = NULL;
	int json;
	if (httpd_media_is(rq->content_type, "application/json"))
		json = 1;
	else if (httpd_media_is(rq->content_type, "application/x-www-form-urlencoded"))
		json = 0;
	else if (rq->content_type && *rq->content_type) {
		err_set(e, "unsupported content type (application/json or "
			   "application/x-www-form-urlencoded)");
		return 415;
	} else {
		size_t k = 0;
		while (k < rq->len && strchr(" \t\r\n", rq->body[k]))
			k++;
		json = k < rq->len && rq->body[k] == '{';
	}
	if (!json) {
		if (memchr(rq->body, '\0', rq->len) || form_check(rq->body, rq->len) < 0) {
			err_set(e, "malformed form body");
			return 400;
		}
		for (size_t i = 0; i < n; i++) {
			if (httpd_form_get(rq->body, rq->len, names[i], &vals[i]) < 0) {
				err_set(e, "malformed form body");
				goto bad;
			}
		}
		return 0;
	}
	json_error_t je;
	json_t *o = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		err_set(e, "invalid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
		return 400;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		err_set(e, "expected a JSON object");
		return 400;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(o, names[i]);
		if (!v || json_is_null(v))
			continue;
		if (json_is_string(v))
			vals[i] = xstrdup(json_string_value(v));
		else if (json_is_integer(v))
			vals[i] = xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else {
			err_set(e, "%s: expected a string", names[i]);
			json_decref(o);
			goto bad;
		}
	}
	json_decref(o);
	return 0;
bad:
	for (size_t i = 0; i < n; i++) {
		free(vals[i]);
		vals[i] = NULL;
	}
	return 400;
}

/* ---- the store pool ---- */

static struct store *pool_get(struct httpd *h, struct err *e)
{
	struct store *s = NULL;
	pthread_mutex_lock(&h->pool_lock);
	if (h->npool)
		s = h->pool[--h->npool];
	pthread_mutex_unlock(&h->pool_lock);
	if (s)
		return s;
	s = store_open(h->cfg->store, e);
	if (s && (store_ready(s, e) < 0 ||
		  store_pii_setup(s, h->cfg->encrypt, h->cfg->encrypt_key_env, STORE_PII_RUN, e) < 0)) {
		store_close(s);
		s = NULL;
	}
	return s;
}

static void pool_put(struct httpd *h, struct store *s)
{
	pthread_mutex_lock(&h->pool_lock);
	if (h->npool == h->cappool) {
		h->cappool = h->cappool ? h->cappool * 2 : 8;
		h->pool = xrealloc(h->pool, h->cappool * sizeof(*h->pool));
	}
	h->pool[h->npool++] = s;
	pthread_mutex_unlock(&h->pool_lock);
}

/* ---- routing ---- */

static const struct route {
	const char *path; /* exact, or a prefix when it ends in '/' */
	const char *methods;
	enum httpd_ep ep;
} routes[] = {
    {"/o/", "GET HEAD", EP_OPEN},
    {"/c/", "GET HEAD", EP_CLICK},
    {"/u/", "GET HEAD POST", EP_UNSUB},
    {"/s/", "GET HEAD POST", EP_SURVEY},
    {"/inbound/sms", "POST", EP_SMS},
    {"/inbound/email", "POST", EP_EMAIL},
    {"/dlr/", "POST", EP_DLR},
    {"/api/events", "POST", EP_EVENTS},
    {"/api/contacts", "POST", EP_CONTACTS},
    {"/healthz", "GET HEAD", EP_HEALTHZ},
    {"/metrics", "GET HEAD", EP_METRICS},
};

static const struct route *route_of(const char *path)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const char *p = routes[i].path;
		size_t n = strlen(p);
		if (p[n - 1] == '/' ? strncmp(path, p, n) == 0 && path[n] && !strchr(path + n, '/')
				    : strcmp(path, p) == 0)
			return &routes[i];
	}
	return NULL;
}

static int method_in(const char *method, const char *methods)
{
	size_t n = strlen(method);
	for (const char *p = methods; *p;) {
		size_t k = strcspn(p, " ");
		if (k == n && strncmp(p, method, n) == 0)
			return 1;
		p += k;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* bearer - the token of "Authorization: Bearer T", NULL when not one */
static const char *bearer(const char *auth)
{
	if (!auth)
		return NULL;
	while (*auth == ' ')
		auth++;
	if (strlen(auth) < 7)
		return NULL;
	for (int i = 0; i < 6; i++)
		if (lower((unsigned char)auth[i]) != "bearer"[i])
			return NULL;
	if (auth[6] != ' ')
		return NULL;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return *auth ? auth : NULL;
}

static double mono_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count(struct httpd *h, enum httpd_ep ep, int code, double secs)
{
	int b = 0;
	while (b < HTTPD_NBUCKETS && secs > httpd_dur_bounds[b])
		b++;
	pthread_mutex_lock(&h->m.lock);
	if (code >= 100 && code < HTTPD_CODES)
		h->m.requests[ep][code]++;
	h->m.dur[ep][b]++;
	h->m.dur_sum[ep] += secs;
	h->m.dur_count[ep]++;
	pthread_mutex_unlock(&h->m.lock);
}

static void dispatch(struct httpd *h, const struct route *r, const struct httpd_req *rq,
		     struct httpd_resp *rs)
{
	if (!method_in(rq->method, r->methods)) {
		rs->allow = r->methods[0] == 'G' && strchr(r->methods, 'P') ? "GET, HEAD, POST"
			    : r->methods[0] == 'G'			    ? "GET, HEAD"
									    : "POST";
		httpd_text(rs, 405, "method not allowed");
		return;
	}
	if (rq->len > HTTPD_BODY_MAX) {
		httpd_text(rs, 413, "request body over %d bytes", HTTPD_BODY_MAX);
		return;
	}
	if (r->ep == EP_EVENTS || r->ep == EP_CONTACTS) {
		if (!h->api_token) {
			httpd_text(rs, 503, "API disabled (set %s)", HTTPD_API_TOKEN_ENV);
			return;
		}
		if (!httpd_token_eq(bearer(rq->authorization), h->api_token)) {
			rs->bearer_challenge = 1;
			httpd_text(rs, 401, "missing or wrong bearer token");
			return;
		}
	}
	if ((r->ep == EP_SMS || r->ep == EP_EMAIL || r->ep == EP_DLR) && h->inbound_token) {
		const char *t = bearer(rq->authorization);
		if (!httpd_token_eq(t ? t : rq->token_arg, h->inbound_token)) {
			rs->bearer_challenge = 1;
			httpd_text(rs, 401, "missing or wrong token");
			return;
		}
	}
	struct err e = {{0}};
	struct store *s = pool_get(h, &e);
	if (!s) {
		httpd_fail(rs, e.msg);
		return;
	}
	switch (r->ep) {
	case EP_OPEN:
		httpd_track(h, s, 'o', rq, rs);
		break;
	case EP_CLICK:
		httpd_track(h, s, 'c', rq, rs);
		break;
	case EP_UNSUB:
		httpd_track(h, s, 'u', rq, rs);
		break;
	case EP_SURVEY:
		httpd_track(h, s, 's', rq, rs);
		break;
	case EP_SMS:
		httpd_inbound_sms(h, s, rq, rs);
		break;
	case EP_EMAIL:
		httpd_inbound_email(h, s, rq, rs);
		break;
	case EP_DLR:
		httpd_dlr(h, s, rq->path + strlen("/dlr/"), rq, rs);
		break;
	case EP_EVENTS:
		httpd_api_events(h, s, rq, rs);
		break;
	case EP_CONTACTS:
		httpd_api_contacts(h, s, rq, rs);
		break;
	case EP_HEALTHZ:
		httpd_healthz(h, s, rq, rs);
		break;
	case EP_METRICS:
		httpd_metrics(h, s, rq, rs);
		break;
	default:
		log_panic("httpd: endpoint %d has no handler", (int)r->ep);
	}
	store_rollback(s); /* a handler never leaves a transaction open; be sure */
	pool_put(h, s);
}

void httpd_handle(struct httpd *h, const struct httpd_req *rq, struct httpd_resp *rs)
{
	double t0 = mono_secs();
	memset(rs, 0, sizeof(*rs));
	const struct route *r = rq->path && rq->method ? route_of(rq->path) : NULL;
	rs->endpoint = httpd_ep_names[r ? r->ep : EP_OTHER];
	if (r)
		dispatch(h, r, rq, rs);
	else
		httpd_text(rs, 404, "not found");
	if (!rs->code)
		log_panic("httpd: %s answered nothing", rs->endpoint);
	count(h, r ? r->ep : EP_OTHER, rs->code, mono_secs() - t0);
	log_debug("serve: %s %s: %d", rq->method ? rq->method : "-", rs->endpoint, rs->code);
}

/* ---- set-up ---- */

static char *env_dup(const char *name)
{
	const char *v = name ? getenv(name) : NULL;
	return v && *v ? xstrdup(v) : NULL;
}

int httpd_check_secret(const struct config *cfg, struct err *e)
{
	const char *v = getenv(cfg->tracking_secret_env);
	if (v && *v)
		return 0;
	return err_set(e,
		       "serve: tracking secret $%s is not set (tracking.secret_env): refusing "
		       "to serve links nobody can verify",
		       cfg->tracking_secret_env);
}

struct httpd *httpd_create(const struct config *cfg, int *usage, struct err *e)
{
	*usage = 0;
	if (httpd_check_secret(cfg, e) < 0) {
		*usage = 1;
		return NULL;
	}
	struct httpd *h = xcalloc(1, sizeof(*h));
	h->cfg = cfg;
	h->secret = env_dup(cfg->tracking_secret_env);
	if (cfg->serve.ntrusted_proxies) {
		h->proxies = httpd_proxies_create(cfg->serve.trusted_proxies,
						  cfg->serve.ntrusted_proxies, e);
		if (!h->proxies) {
			*usage = 1;
			free(h->secret);
			free(h);
			return NULL;
		}
	}
	h->api_token = env_dup(HTTPD_API_TOKEN_ENV);
	h->inbound_token = env_dup(HTTPD_INBOUND_TOKEN_ENV);
	h->limiter = httpd_limiter_create(cfg->serve.rate, cfg->serve.burst, HTTPD_LIMIT_SLOTS);
	pthread_mutex_init(&h->pool_lock, NULL);
	pthread_mutex_init(&h->m.lock, NULL);
	struct store *s = pool_get(h, e);
	if (!s) {
		httpd_free(h);
		return NULL;
	}
	pool_put(h, s);
	return h;
}

int httpd_parse_listen(const char *listen, char **host, int *port, struct err *e)
{
	const char *colon, *hs = listen;
	size_t hn;
	*host = NULL;
	if (!listen || !*listen)
		return err_set(e, "--listen: empty (HOST:PORT)");
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':')
			return err_set(e, "--listen \"%s\": expected [ADDRESS]:PORT", listen);
		hs = listen + 1;
		hn = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon || strchr(listen, ':') != colon)
			return err_set(e, "--listen \"%s\": expected HOST:PORT", listen);
		hn = (size_t)(colon - listen);
	}
	const char *p = colon + 1;
	long v = 0;
	if (!*p || strlen(p) > 5)
		return err_set(e, "--listen \"%s\": the port must be 0 to 65535", listen);
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return err_set(e, "--listen \"%s\": the port must be 0 to 65535", listen);
		v = v * 10 + (*p - '0');
	}
	if (v > 65535 || hn == 0)
		return err_set(e, "--listen \"%s\": expected HOST:PORT with a port 0 to 65535",
			       listen);
	*host = xasprintf("%.*s", (int)hn, hs);
	*port = (int)v;
	return 0;
}

static int listen_fd(int fd)
{
	return listen(fd, SOMAXCONN);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\r\n")] = '\0';
	log_debug("serve: libmicrohttpd: %s", line);
}

/* One connection's request in progress. */
struct conn {
	struct buf body;
	int too_big;
	int answered; /* a response was queued at the first call */
	double t0;
};

static enum MHD_Result queue(struct MHD_Connection *c, const struct httpd_resp *rs)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    rs->body.len, rs->body.data ? rs->body.data : (char *)"", MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				rs->content_type ? rs->content_type : "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (rs->html)
		MHD_add_response_header(r, "Content-Security-Policy",
					"default-src 'none'; style-src 'unsafe-inline'; "
					"form-action 'self'; frame-ancestors 'none'");
	if (rs->location)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, rs->location);
	if (rs->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rs->allow);
	if (rs->bearer_challenge)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (rs->retry_after > 0) {
		char secs[16];
		snprintf(secs, sizeof(secs), "%d", rs->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
	}
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)rs->code, r);
	MHD_destroy_response(r);
	return ret;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* too_long - a Content-Length over the limit (or not a number) */
static int too_long(const char *cl)
{
	if (!cl)
		return 0;
	size_t n = 0;
	for (const char *p = cl; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0; /* libmicrohttpd refuses a malformed one itself */
		n = n * 10 + (size_t)(*p - '0');
		if (n > HTTPD_BODY_MAX)
			return 1;
	}
	return 0;
}

/* xff_last - the value of the request's last X-Forwarded-For header (the
 * one the nearest proxy wrote), NULL when none */
static enum MHD_Result xff_each(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	(void)kind;
	if (key && value && strcasecmp(key, "X-Forwarded-For") == 0)
		*(const char **)cls = value;
	return MHD_YES;
}

/* over_rate - 0 when the client of c may make a request at now, else the
 * seconds it is to wait (serve.rate, serve.burst per client address) */
static int over_rate(struct httpd *h, struct MHD_Connection *c, double now)
{
	if (h->cfg->serve.rate <= 0)
		return 0;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const char *xff = NULL;
	unsigned char key[16];
	if (h->proxies)
		MHD_get_connection_values(c, MHD_HEADER_KIND, xff_each, &xff);
	if (!ci || httpd_client_key(ci->client_addr, xff, h->proxies, key) < 0)
		return 0; /* not an IP peer: nothing to key a bucket on */
	return httpd_limiter_take(h->limiter, key, now);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;
	struct conn *cn = *con_cls;
	(void)version;
	if (!cn) {
		cn = xcalloc(1, sizeof(*cn));
		cn->t0 = mono_secs();
		*con_cls = cn;
		int wait = over_rate(h, c, cn->t0);
		if (wait || too_long(header(c, MHD_HTTP_HEADER_CONTENT_LENGTH))) {
			struct httpd_resp rs = {0};
			const struct route *r = route_of(url);
			enum httpd_ep ep = r ? r->ep : EP_OTHER;
			rs.endpoint = httpd_ep_names[ep];
			if (wait) {
				httpd_text(&rs, 429, "too many requests, try again in %d s", wait);
				rs.retry_after = wait;
			} else {
				httpd_text(&rs, 413, "request body over %d bytes", HTTPD_BODY_MAX);
			}
			cn->answered = 1;
			enum MHD_Result ret = queue(c, &rs);
			count(h, ep, rs.code, mono_secs() - cn->t0);
			httpd_resp_release(&rs);
			return ret;
		}
		return MHD_YES;
	}
	if (cn->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!cn->too_big && cn->body.len + *upload_data_size > HTTPD_BODY_MAX) {
			cn->too_big = 1;
			buf_release(&cn->body);
		}
		if (!cn->too_big)
			buf_append(&cn->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	struct httpd_resp rs;
	if (cn->too_big) {
		memset(&rs, 0, sizeof(rs));
		const struct route *r = route_of(url);
		enum httpd_ep ep = r ? r->ep : EP_OTHER;
		rs.endpoint = httpd_ep_names[ep];
		httpd_text(&rs, 413, "request body over %d bytes", HTTPD_BODY_MAX);
		count(h, ep, 413, mono_secs() - cn->t0);
	} else {
		struct httpd_req rq = {
		    .method = method,
		    .path = url,
		    .content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE),
		    .authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION),
		    .user_agent = header(c, MHD_HTTP_HEADER_USER_AGENT),
		    .accept_language = header(c, MHD_HTTP_HEADER_ACCEPT_LANGUAGE),
		    .token_arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token"),
		    .body = buf_cstr(&cn->body),
		    .len = cn->body.len,
		    .now = time_now() + h->clock_offset,
		};
		httpd_handle(h, &rq, &rs);
	}
	enum MHD_Result ret = queue(c, &rs);
	httpd_resp_release(&rs);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct conn *cn = *con_cls;
	if (!cn)
		return;
	buf_release(&cn->body);
	free(cn);
	*con_cls = NULL;
}

int httpd_bind(const char *listen, struct err *e)
{
	char *host, portbuf[8];
	int port;
	if (httpd_parse_listen(listen, &host, &port, e) < 0)
		return -1;
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	struct addrinfo hints = {0}, *ai = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	int gai = getaddrinfo(host, portbuf, &hints, &ai);
	free(host);
	if (gai != 0)
		return err_set(e, "--listen %s: %s", listen, gai_strerror(gai));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_set(e, "--listen %s: socket: %s", listen, strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen_fd(fd) < 0) {
		int err = errno;
		close(fd);
		freeaddrinfo(ai);
		return err_set(e, "--listen %s: cannot listen: %s", listen, strerror(err));
	}
	freeaddrinfo(ai);
	return fd;
}

int httpd_start(struct httpd *h, int fd, int64_t clock_offset, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		close(fd);
		return err_set(e, "serve: getsockname: %s", strerror(errno));
	}
	const struct serve_conf *sc = &h->cfg->serve;
	h->clock_offset = clock_offset;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* libmicrohttpd shares the connection limit out among the pool's
	 * threads: at least one each */
	unsigned maxconn = sc->max_connections < HTTPD_THREADS ? HTTPD_THREADS : sc->max_connections;
	h->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTPD_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)sc->timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_HEADER_MAX,
	    MHD_OPTION_CONNECTION_LIMIT, maxconn, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)sc->max_connections_per_ip, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_END);
	if (!h->daemon) {
		close(fd);
		return err_set(e, "serve: cannot start the server (libmicrohttpd)");
	}
	h->port = ss.ss_family == AF_INET6
		      ? ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port)
		      : ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
	return 0;
}

int httpd_listen(struct httpd *h, const char *listen, int64_t clock_offset, struct err *e)
{
	int fd = httpd_bind(listen, e);
	if (fd < 0)
		return -1;
	return httpd_start(h, fd, clock_offset, e);
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	for (size_t i = 0; i < h->npool; i++)
		store_close(h->pool[i]);
	free(h->pool);
	pthread_mutex_destroy(&h->pool_lock);
	pthread_mutex_destroy(&h->m.lock);
	free(h->secret);
	free(h->api_token);
	free(h->inbound_token);
	httpd_limiter_free(h->limiter);
	httpd_proxies_free(h->proxies);
	free(h);
}
