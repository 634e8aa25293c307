/* http_client.c - concurrent HTTP requests over libcurl's multi interface
 *
 * A client owns one CURLM handle for its whole life, so the multi
 * handle's connection cache keeps connections alive from one run to the
 * next (HTTP/1.1 keep-alive; HTTP/2 multiplexing over TLS where the server
 * offers it, CURLPIPE_MULTIPLEX with PIPEWAIT on https so that concurrent
 * requests share a connection rather than open new ones). http_client_run adds at
 * most `concurrency` easy handles at a time and adds the next one as each
 * finishes; CURLMOPT_MAX_TOTAL_CONNECTIONS and MAXCONNECTS keep the
 * connections, open and cached, within the same bound.
 *
 * Sent once: libcurl silently resends a request on a fresh connection
 * when a reused one dies before any answer. That is right when the
 * request never left (the server had closed the idle connection) and
 * wrong when the server got it and died before answering: an SMS gateway
 * would send the text twice. A debug callback counts the bytes really
 * written for the request, and the pre-request callback, called before
 * every (re)send, refuses a resend once any byte went out; the request
 * then fails with HTTP_ERR_NETWORK and the worker defers it.
 *
 * Security: certificate verification is always on unless the caller asks
 * (tests only); only http and https are allowed and redirects are never
 * followed (a gateway's 3xx is a failure, not an invitation to send the
 * body elsewhere). curl's error messages can hold the URL, whose path and
 * query may carry tokens: every error is scrubbed of the URL and its
 * parts before it leaves this file. Header values with CR or LF are
 * refused before anything is sent. Responses are capped at 64 KiB.
 */
#include "http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "xmalloc.h"

#define BODY_CAP (64 * 1024)
#define RETRY_AFTER_MAX (30 * 86400)
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L

struct http_client {
	CURLM *multi;
	int concurrency;
	long timeout_ms;
	long connect_timeout_ms;
	char *ca_file;
	int insecure;
};

/* one request in flight */
struct xfer {
	CURL *easy;
	struct curl_slist *hdrs;
	const struct http_request *req;
	struct http_response *out;
	struct buf body;
	char errbuf[CURL_ERROR_SIZE];
	int sends;	/* pre-request callbacks so far */
	size_t written; /* request bytes written to a connection */
	int resend_refused;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		log_panic("curl_global_init failed");
}

struct http_client *http_client_create(const struct http_client_opts *o)
{
	pthread_once(&global_once, global_init);
	struct http_client *c = xcalloc(1, sizeof(*c));
	c->concurrency = o->concurrency > 0 ? o->concurrency : 1;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms =
	    o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	c->ca_file = xstrdup(o->ca_file);
	c->insecure = o->insecure;
	c->multi = curl_multi_init();
	if (!c->multi)
		log_panic("curl_multi_init failed");
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->concurrency);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->concurrency);
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_multi_cleanup(c->multi);
	free(c->ca_file);
	free(c);
}

void http_response_release(struct http_response *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

/* ---- callbacks ---- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	size_t room = x->body.len < BODY_CAP ? BODY_CAP - x->body.len : 0;
	if (n > room)
		x->out->truncated = 1;
	buf_append(&x->body, p, n < room ? n : room);
	return n; /* the rest is read and dropped, so the connection stays usable */
}

int64_t http_retry_after_parse(const char *v, int64_t now)
{
	if (!v)
		return 0;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!*v)
		return 0;
	int64_t secs;
	if (*v >= '0' && *v <= '9') {
		char *end;
		unsigned long long n = strtoull(v, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end)
			return 0;
		secs = n > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (int64_t)n;
	} else {
		time_t t = curl_getdate(v, NULL);
		if (t == (time_t)-1)
			return 0;
		secs = (int64_t)t - now;
	}
	if (secs <= 0)
		return 0;
	return secs > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : secs;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		x->out->retry_after = 0; /* a new response (after 1xx) */
	} else if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		char v[128];
		size_t k = n - (sizeof(name) - 1);
		if (k >= sizeof(v))
			k = sizeof(v) - 1;
		memcpy(v, p + sizeof(name) - 1, k);
		v[k] = '\0';
		v[strcspn(v, "\r\n")] = '\0';
		x->out->retry_after = http_retry_after_parse(v, (int64_t)time(NULL));
	}
	return n;
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
	(void)h;
	(void)data;
	struct xfer *x = ud;
	if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT)
		x->written += size;
	return 0;
}

/* on_prereq - before every send of the request: the first always, a
 * resend only when nothing of the first reached the wire */
static int on_prereq(void *ud, char *ip, char *local_ip, int port, int local_port)
{
	(void)ip;
	(void)local_ip;
	(void)port;
	(void)local_port;
	struct xfer *x = ud;
	if (x->sends++ > 0 && x->written > 0) {
		x->resend_refused = 1;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

/* ---- errors without secrets ---- */

/* replace_all - every occurrence of piece in s by with */
static void replace_all(struct buf *s, const char *piece, const char *with)
{
	size_t pn = piece ? strlen(piece) : 0;
	if (pn < 2 || !s->len)
		return;
	struct buf o = BUF_INIT;
	const char *p = s->data;
	const char *hit;
	while ((hit = strstr(p, piece))) {
		buf_append(&o, p, (size_t)(hit - p));
		buf_puts(&o, with);
		p = hit + pn;
	}
	buf_puts(&o, p);
	buf_release(s);
	*s = o;
}

/* scrub - msg without the URL or any part of it that may hold a secret
 * (path, query, fragment, user, password), nor any other URL; the host
 * stays, it is what a reader needs */
static void scrub(char *msg, size_t cap, const char *url)
{
	struct buf s = BUF_INIT;
	buf_puts(&s, msg);
	CURLU *u = curl_url();
	static const CURLUPart parts[] = {CURLUPART_URL,      CURLUPART_PATH, CURLUPART_QUERY,
					  CURLUPART_FRAGMENT, CURLUPART_USER, CURLUPART_PASSWORD};
	if (url)
		replace_all(&s, url, "[url]");
	if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
		for (size_t i = 0; i < sizeof(parts) / sizeof(*parts); i++) {
			char *v = NULL;
			if (curl_url_get(u, parts[i], &v, 0) == CURLUE_OK && v &&
			    strcmp(v, "/") != 0)
				replace_all(&s, v,
					    parts[i] == CURLUPART_URL ? "[url]" : "[redacted]");
			curl_free(v);
		}
	}
	curl_url_cleanup(u);
	/* any other URL-looking token */
	struct buf o = BUF_INIT;
	const char *p = buf_cstr(&s);
	const char *hit;
	while ((hit = strstr(p, "://"))) {
		const char *start = hit;
		while (start > p && start[-1] != ' ' && start[-1] != '\'' && start[-1] != '"' &&
		       start[-1] != '(')
			start--;
		const char *end = hit + 3;
		while (*end && *end != ' ' && *end != '\'' && *end != '"' && *end != ')')
			end++;
		buf_append(&o, p, (size_t)(start - p));
		buf_puts(&o, "[url]");
		p = end;
	}
	buf_puts(&o, p);
	snprintf(msg, cap, "%s", buf_cstr(&o));
	buf_release(&o);
	buf_release(&s);
}

/* ---- requests ---- */

static int token_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!(*s > 32 && *s < 127) || strchr("()<>@,;:\\\"/[]?={}", *s))
			return 0;
	return 1;
}

static int value_ok(const char *s)
{
	for (; s && *s; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

/* url_ok - 1 for an absolute http URL with a host, 2 for https, else 0 */
static int url_ok(const char *url)
{
	int ok = 0;
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host)
		ok = strcmp(scheme, "http") == 0 ? 1 : strcmp(scheme, "https") == 0 ? 2 : 0;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static void refuse(struct xfer *x, const char *why)
{
	x->out->err = HTTP_ERR_INVALID;
	snprintf(x->out->error, sizeof(x->out->error), "%s", why);
}

/* start - set up the easy handle; -1 (out filled) when the request is
 * refused before sending */
static int start(struct http_client *c, struct xfer *x)
{
	const struct http_request *r = x->req;
	const char *method = r->method ? r->method : "POST";
	if (!token_ok(method)) {
		refuse(x, "invalid method");
		return -1;
	}
	int scheme = url_ok(r->url);
	if (!scheme) {
		refuse(x, "invalid url: not an absolute http or https URL");
		return -1;
	}
	for (size_t i = 0; i < r->nheaders; i++) {
		if (!token_ok(r->headers[i].name) || !value_ok(r->headers[i].value)) {
			refuse(x, "invalid header");
			return -1;
		}
		const char *v = r->headers[i].value ? r->headers[i].value : "";
		/* "Name;" is curl's way to send a header with an empty value */
		char *line = *v ? xasprintf("%s: %s", r->headers[i].name, v)
				: xasprintf("%s;", r->headers[i].name);
		x->hdrs = curl_slist_append(x->hdrs, line);
		free(line);
	}
	/* no 100-continue round trip: bodies are small */
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");

	CURL *h = curl_easy_init();
	if (!h)
		log_panic("curl_easy_init failed");
	x->easy = h;
	curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* over TLS, wait for the first connection's ALPN answer rather than
	 * open more: HTTP/2 then carries every request on one connection.
	 * Plain http is HTTP/1.1 here, and 7.88 would hold later requests
	 * until the first response came, so there it stays off. */
	curl_easy_setopt(h, CURLOPT_PIPEWAIT, scheme == 2 ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "outreach/1");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(h, CURLOPT_PREREQDATA, x);
	/* the debug callback sees what was written; it prints nothing */
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, x);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);

	const char *body = r->body ? r->body : "";
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "POST") == 0 || r->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	if (curl_multi_add_handle(c->multi, h) != CURLM_OK)
		log_panic("curl_multi_add_handle failed");
	return 0;
}

static enum http_error error_kind(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_ERR_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return HTTP_ERR_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return HTTP_ERR_TLS;
	default:
		return HTTP_ERR_NETWORK;
	}
}

static void finish(struct xfer *x, CURLcode rc)
{
	struct http_response *o = x->out;
	long status = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status >= 100) {
		o->status = status;
	} else {
		/* no complete response: whatever came is not an answer */
		o->status = 0;
		o->retry_after = 0;
		if (x->resend_refused) {
			o->err = HTTP_ERR_NETWORK;
			snprintf(o->error, sizeof(o->error),
				 "connection closed after the request was sent, before any "
				 "answer (not resent)");
		} else {
			o->err = rc == CURLE_OK ? HTTP_ERR_NETWORK : error_kind(rc);
			const char *words = x->errbuf[0]     ? x->errbuf
					    : rc == CURLE_OK ? "no response"
							     : curl_easy_strerror(rc);
			char *msg = status >= 100 ? xasprintf("HTTP %ld, then: %s", status, words)
						  : xstrdup(words);
			snprintf(o->error, sizeof(o->error), "%s", msg);
			free(msg);
			scrub(o->error, sizeof(o->error), x->req->url);
		}
		o->timed_out = o->err == HTTP_ERR_TIMEOUT;
	}
	o->body_len = x->body.len;
	o->body = buf_detach(&x->body);
}

static void release(struct http_client *c, struct xfer *x)
{
	if (x->easy) {
		curl_multi_remove_handle(c->multi, x->easy);
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
	}
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	buf_release(&x->body);
}

void http_client_run(struct http_client *c, const struct http_request *req, size_t n,
		     struct http_response *out)
{
	if (n == 0)
		return;
	struct xfer *xs = xcalloc(n, sizeof(*xs));
	size_t next = 0, active = 0, done = 0;
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		xs[i].req = &req[i];
		xs[i].out = &out[i];
	}
	while (done < n) {
		while (active < (size_t)c->concurrency && next < n) {
			struct xfer *x = &xs[next++];
			if (start(c, x) == 0) {
				active++;
			} else {
				x->out->body = xstrdup("");
				release(c, x);
				done++;
			}
		}
		if (active == 0)
			continue;
		int running = 0;
		CURLMcode mc = curl_multi_perform(c->multi, &running);
		if (mc != CURLM_OK)
			log_panic("curl_multi_perform: %s", curl_multi_strerror(mc));
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(c->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct xfer *x = NULL;
			CURLcode rc = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			finish(x, rc);
			release(c, x);
			active--;
			done++;
		}
		if (active > 0 && (next >= n || active >= (size_t)c->concurrency)) {
			mc = curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
			if (mc != CURLM_OK)
				log_panic("curl_multi_poll: %s", curl_multi_strerror(mc));
		}
	}
	free(xs);
}

/* ---- outcomes ---- */

/* body_words - the start of the body on one line: control characters and
 * runs of white space become one space, cut at a UTF-8 boundary */
static void body_words(const char *body, size_t len, char *out, size_t n)
{
	size_t k = 0;
	int space = 0;
	if (n == 0)
		return;
	for (size_t i = 0; i < len && body; i++) {
		unsigned char ch = (unsigned char)body[i];
		if (ch < 0x20 || ch == 0x7F || ch == ' ') {
			space = k > 0;
			continue;
		}
		if (space) {
			if (k + 1 >= n)
				break;
			out[k++] = ' ';
			space = 0;
		}
		if (k + 1 >= n)
			break;
		out[k++] = (char)ch;
	}
	/* do not end inside a multi-byte character */
	size_t cut = k;
	while (cut > 0 && ((unsigned char)out[cut - 1] & 0xC0) == 0x80)
		cut--;
	if (cut > 0 && ((unsigned char)out[cut - 1] & 0x80)) {
		unsigned char lead = (unsigned char)out[cut - 1];
		size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
		if (k - (cut - 1) < need)
			k = cut - 1;
	}
	out[k] = '\0';
}

void http_classify(const struct http_response *r, struct delivery *d)
{
	char words[200];
	char code[32];
	if (r->status == 0) {
		static const char *const codes[] = {"network", "timeout", "connect",
						    "tls",     "network", "invalid"};
		enum http_error k = r->err;
		if (r->timed_out)
			k = HTTP_ERR_TIMEOUT;
		if ((unsigned)k >= sizeof(codes) / sizeof(*codes))
			k = HTTP_ERR_NETWORK;
		transport_set(d, k == HTTP_ERR_INVALID ? DELIVERY_FAIL : DELIVERY_DEFER, codes[k],
			      "%s", r->error[0] ? r->error : "no response");
		d->retry_after = 0;
		return;
	}
	body_words(r->body, r->body_len, words, sizeof(words));
	snprintf(code, sizeof(code), "http %ld", r->status);
	enum delivery_status st;
	if (r->status >= 200 && r->status <= 299)
		st = DELIVERY_OK;
	else if (r->status == 408 || r->status == 425 || r->status == 429 ||
		 (r->status >= 500 && r->status <= 599))
		st = DELIVERY_DEFER;
	else
		st = DELIVERY_FAIL;
	transport_set(d, st, code, "HTTP %ld%s%s", r->status, words[0] ? ": " : "", words);
	d->retry_after = st == DELIVERY_DEFER ? r->retry_after : 0;
}

/* ---- JSON pointers (RFC 6901) ---- */

int http_json_pointer_valid(const char *p)
{
	if (!p)
		return 0;
	if (!*p)
		return 1;
	if (*p != '/')
		return 0;
	for (; *p; p++)
		if (*p == '~' && p[1] != '0' && p[1] != '1')
			return 0;
	return 1;
}

json_t *http_json_pointer(json_t *doc, const char *p)
{
	if (!doc || !http_json_pointer_valid(p))
		return NULL;
	json_t *v = doc;
	struct buf tok = BUF_INIT;
	while (v && *p == '/') {
		p++;
		buf_reset(&tok);
		buf_puts(&tok, "");
		for (; *p && *p != '/'; p++) {
			if (*p == '~') {
				buf_putc(&tok, p[1] == '0' ? '~' : '/');
				p++;
			} else {
				buf_putc(&tok, *p);
			}
		}
		const char *t = buf_cstr(&tok);
		if (json_is_object(v)) {
			v = json_object_get(v, t);
		} else if (json_is_array(v)) {
			/* an index: digits, no leading zero */
			size_t tl = strlen(t);
			if (tl == 0 || strspn(t, "0123456789") != tl || (tl > 1 && t[0] == '0') ||
			    tl > 9) {
				v = NULL;
			} else {
				v = json_array_get(v, strtoul(t, NULL, 10));
			}
		} else {
			v = NULL;
		}
	}
	buf_release(&tok);
	return v;
}

int http_response_field(const struct http_response *r, const char *p, char *out, size_t n)
{
	if (n)
		out[0] = '\0';
	if (!r->body || !r->body_len)
		return -1;
	json_t *doc = json_loadb(r->body, r->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (!doc)
		return -1;
	json_t *v = http_json_pointer(doc, p);
	int rc = 0;
	if (json_is_string(v))
		snprintf(out, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, n, "%.17g", json_real_value(v));
	else if (json_is_true(v))
		snprintf(out, n, "true");
	else if (json_is_false(v))
		snprintf(out, n, "false");
	else if (json_is_null(v))
		snprintf(out, n, "null");
	else
		rc = -1;
	json_decref(doc);
	return rc;
}
