/* httpd.h - `outreach serve`: the tracking and feedback HTTP server
 * (libmicrohttpd). Endpoints (INTERFACE.md): /o /c /u /s with signed
 * tokens, /inbound/sms, /inbound/email, /dlr/TRANSPORT, /api/events,
 * /api/contacts, /healthz, /metrics.
 *
 * The server is two parts: httpd_handle, a plain function from a request
 * to a response that tests and the fuzz target call directly, and the
 * libmicrohttpd glue (httpd_listen) that bounds each request (HTTPD_BODY_MAX
 * bytes of body, HTTPD_TIMEOUT seconds idle, headers within
 * HTTPD_HEADER_MAX) and hands it to httpd_handle on a pool of
 * HTTPD_THREADS threads.
 *
 * Store access: each request borrows a store connection of its own from a
 * pool (opened on demand, at most one per request in progress, kept for
 * the next), never shared between threads at once; SQLite's locking and
 * busy timeout order the writers.
 */
#ifndef OUTREACH_HTTPD_H
#define OUTREACH_HTTPD_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "err.h"

#define HTTPD_BODY_MAX (1024 * 1024) /* bytes of a request body: more is 413 */
#define HTTPD_TIMEOUT 15	     /* seconds a connection may sit idle */
#define HTTPD_HEADER_MAX (32 * 1024) /* bytes of request line and headers */
#define HTTPD_THREADS 4

/* Environment variables besides tracking.secret_env. */
#define HTTPD_API_TOKEN_ENV                                                                        \
	"OUTREACH_API_TOKEN" /* bearer token of the /api endpoints; unset: 503 */
#define HTTPD_INBOUND_TOKEN_ENV "OUTREACH_INBOUND_TOKEN" /* when set, /inbound and /dlr need it */

struct httpd;

/* One request (all borrowed). Header values are NULL when absent. */
struct httpd_req {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* without the query, percent-decoded */
	const char *content_type;
	const char *authorization;
	const char *user_agent;
	const char *accept_language;
	const char *token_arg; /* the query's `token=` (inbound auth), NULL when absent */
	const char *body;      /* NUL-terminated at len; "" when none */
	size_t len;
	int64_t now; /* the clock for this request */
};

/* One response. The body is a short reason for every 4xx and 5xx. */
struct httpd_resp {
	int code;
	const char *content_type; /* static */
	struct buf body;
	char *location;	      /* owned: a redirect's target */
	const char *allow;    /* static: for 405 */
	int bearer_challenge; /* 401: add WWW-Authenticate: Bearer */
	int html;	      /* add a Content-Security-Policy for pages */
	const char *endpoint; /* static: the metrics label ("open", "dlr", ...) */
};
void httpd_resp_release(struct httpd_resp *rs);

/* httpd_create - a server for cfg (borrowed: it must outlive the server).
 * Reads the tracking secret (getenv(cfg->tracking_secret_env): refuses to
 * start without it, e says so), the API and inbound tokens, and checks
 * that the store is ready. NULL with e set on failure; *usage 1 when the
 * failure is the user's to fix (a missing secret), 0 for a store failure. */
struct httpd *httpd_create(const struct config *cfg, int *usage, struct err *e);
/* httpd_listen - start serving on "HOST:PORT" ("[::1]:8080"; port 0
 * picks a free one: see httpd_port). clock_offset is added to the wall
 * clock for every request (serve --now). */
int httpd_listen(struct httpd *h, const char *listen, int64_t clock_offset, struct err *e);
/* httpd_port - the port listened on, 0 before httpd_listen */
int httpd_port(const struct httpd *h);
/* httpd_free - stop listening (waits for requests in progress), close
 * the store connections; NULL allowed */
void httpd_free(struct httpd *h);

/* httpd_handle - answer one request (no network): routing, methods,
 * authentication, then the endpoint. rs is filled; release it with
 * httpd_resp_release. Counted in /metrics. Thread-safe. */
void httpd_handle(struct httpd *h, const struct httpd_req *rq, struct httpd_resp *rs);

/* httpd_parse_listen - split "HOST:PORT" / "[V6]:PORT" into host (caller
 * frees) and port; -1 with e set when it is not one */
int httpd_parse_listen(const char *listen, char **host, int *port, struct err *e);

#endif
