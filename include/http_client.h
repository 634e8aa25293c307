/* http_client.h - concurrent HTTP requests over libcurl's multi interface.
 *
 * One client per transport, used by one thread at a time. Connections are
 * kept alive between runs (HTTP/1.1 keep-alive, HTTP/2 multiplexing where
 * the server offers it over TLS). Shared by the http and webhook kinds.
 *
 * A request is sent at most once per run: libcurl's own silent retry on a
 * kept-alive connection that died is allowed only when not one byte of the
 * request had been written to it; otherwise the request fails with
 * HTTP_ERR_NETWORK and the caller defers it (the server may have acted).
 */
#ifndef OUTREACH_HTTP_CLIENT_H
#define OUTREACH_HTTP_CLIENT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "message.h" /* struct header */
#include "transport.h"

struct http_client_opts {
	int concurrency;   /* requests in flight at once, >= 1 */
	long timeout_ms;   /* whole request; 0: 30 s */
	long connect_timeout_ms; /* 0: 10 s */
	const char *ca_file; /* MAY be NULL: the system's CAs (copied) */
	int insecure;      /* 1: no certificate verification (tests only) */
};

struct http_request {
	const char *method; /* "POST" when NULL */
	const char *url;
	const struct header *headers;
	size_t nheaders;
	const char *body;
	size_t body_len;
};

/* why a request got no response (status 0) */
enum http_error {
	HTTP_ERR_NONE = 0,
	HTTP_ERR_TIMEOUT, /* connect or whole request timed out */
	HTTP_ERR_CONNECT, /* name not resolved, connection refused or unreachable */
	HTTP_ERR_TLS,     /* handshake or certificate verification failed */
	HTTP_ERR_NETWORK, /* the connection broke, or the answer was not HTTP */
	HTTP_ERR_INVALID, /* not sent: bad URL (not http/https), method or header */
};

struct http_response {
	long status;          /* 0 when no complete response came (see error) */
	char *body;           /* owned, NUL-terminated, capped at 64 KiB */
	size_t body_len;
	int64_t retry_after;  /* seconds from Retry-After, 0 when none */
	int timed_out;        /* 1: the request timed out */
	char error[256];      /* curl's words when status is 0; no URL, path or
	                       * query (they may hold secrets) */
	enum http_error err;  /* status 0: why */
	int truncated;        /* 1: the body was longer than the cap */
};

/* http_client_create - never fails on good opts; caller frees. Calls
 * curl_global_init once per process (thread-safe). Connects nowhere. */
struct http_client *http_client_create(const struct http_client_opts *o);
void http_client_free(struct http_client *c);
/* http_client_run - perform the n requests, at most concurrency at once,
 * and fill out[i] for each (out[] need not be zeroed); blocks until all
 * are done (each within timeout_ms). Requests are borrowed. Caller
 * releases each out[i]. */
void http_client_run(struct http_client *c, const struct http_request *req, size_t n,
		     struct http_response *out);
void http_response_release(struct http_response *r);

/* http_classify - the common outcome of a response: 2xx OK; 408, 425, 429,
 * 5xx, timeouts and connection errors DEFER (with Retry-After); other 4xx
 * and 3xx FAIL; a request that was not sent (HTTP_ERR_INVALID) FAIL. The
 * code is "http 429", "timeout", "connect", "tls", "network" or
 * "invalid"; the reason holds the status and the start of the body on one
 * line ("HTTP 429: slow down"), or curl's words. */
void http_classify(const struct http_response *r, struct delivery *d);

/* http_retry_after_parse - a Retry-After value (delay-seconds or an
 * HTTP-date) as seconds from now, capped at 30 days; 0 when absent,
 * invalid or in the past */
int64_t http_retry_after_parse(const char *value, int64_t now);

/* http_json_pointer_valid - 1 when p is an RFC 6901 JSON pointer ("" or
 * "/a/b~1c/0"; ~ only as ~0 or ~1) */
int http_json_pointer_valid(const char *p);
/* http_json_pointer - the value at pointer p in doc (borrowed), or NULL */
json_t *http_json_pointer(json_t *doc, const char *p);
/* http_response_field - the JSON scalar at pointer p in the response body,
 * as text (a string's value, a number's digits, true, false, null) into
 * out (n bytes, cut to fit). Returns 0, or -1 when the body is not JSON,
 * the pointer finds nothing, or the value is an object or array. */
int http_response_field(const struct http_response *r, const char *p, char *out, size_t n);

#endif
