/* http_client.h - concurrent HTTP requests over libcurl's multi interface.
 *
 * One client per transport, used by one thread at a time. Connections are
 * kept alive between runs (HTTP/1.1 keep-alive, HTTP/2 multiplexing where
 * the server offers it over TLS). Shared by the http and webhook kinds.
 */
#ifndef OUTREACH_HTTP_CLIENT_H
#define OUTREACH_HTTP_CLIENT_H
#include <stddef.h>
#include <stdint.h>

#include "message.h" /* struct header */
#include "transport.h"

struct http_client_opts {
	int concurrency;   /* requests in flight at once, >= 1 */
	long timeout_ms;   /* whole request; 0: 30 s */
	long connect_timeout_ms; /* 0: 10 s */
	const char *ca_file; /* MAY be NULL: the system's CAs */
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

struct http_response {
	long status;          /* 0 when no response came (see error) */
	char *body;           /* owned, NUL-terminated, capped at 64 KiB */
	size_t body_len;
	int64_t retry_after;  /* seconds from Retry-After, 0 when none */
	int timed_out;        /* 1: the request timed out */
	char error[256];      /* curl's words when status is 0; no URL query */
};

/* http_client_create - never fails on good opts; caller frees */
struct http_client *http_client_create(const struct http_client_opts *o);
void http_client_free(struct http_client *c);
/* http_client_run - perform the n requests, at most concurrency at once,
 * and fill out[i] for each; blocks until all are done. Caller releases
 * each out[i]. */
void http_client_run(struct http_client *c, const struct http_request *req, size_t n,
		     struct http_response *out);
void http_response_release(struct http_response *r);

/* http_classify - the common outcome of a response: 2xx OK; 408, 425, 429,
 * 5xx, timeouts and connection errors DEFER (with Retry-After); other 4xx
 * and 3xx FAIL. The reason holds the status and the start of the body on
 * one line. */
void http_classify(const struct http_response *r, struct delivery *d);

#endif
