/* httpd.h - `outreach serve`: the tracking and feedback HTTP server
 * (libmicrohttpd). Endpoints (INTERFACE.md): /o /c /u /s with signed
 * tokens, /inbound/sms, /inbound/email, /dlr/TRANSPORT, /api/events,
 * /api/contacts, /healthz, /metrics.
 *
 * The server is two parts: httpd_handle, a plain function from a request
 * to a response that tests and the fuzz target call directly, and the
 * libmicrohttpd glue (httpd_listen, or httpd_bind then httpd_start) that
 * bounds each request (HTTPD_BODY_MAX bytes of body, serve.timeout seconds
 * idle, headers within HTTPD_HEADER_MAX), limits connections (in all and
 * per client address) and the request rate per client address (429 with
 * Retry-After), and hands it to httpd_handle on a pool of HTTPD_THREADS
 * threads.
 *
 * Privileges: started as root, `serve` binds its socket (httpd_bind), then
 * becomes serve.user (httpd_drop_privileges) before it opens the store or
 * reads a request; httpd_store_writable says whether that user can write
 * the store.
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

struct sockaddr;

#define HTTPD_BODY_MAX (1024 * 1024) /* bytes of a request body: more is 413 */
#define HTTPD_TIMEOUT 15	     /* seconds a connection may sit idle (default) */
#define HTTPD_HEADER_MAX (32 * 1024) /* bytes of request line and headers */
#define HTTPD_THREADS 4

/* Environment variables besides tracking.secret_env. */
#define HTTPD_API_TOKEN_ENV                                                                        \
	"OUTREACH_API_TOKEN" /* bearer token of the /api endpoints; unset: 503 */
/* "1": a serve started as root with no serve.user nor --user stays root
 * (with a warning) instead of becoming nobody */
#define HTTPD_ALLOW_ROOT_ENV "OUTREACH_SERVE_ALLOW_ROOT"
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
	int retry_after;      /* > 0: add Retry-After: that many seconds (429) */
	const char *endpoint; /* static: the metrics label ("open", "dlr", ...) */
};
void httpd_resp_release(struct httpd_resp *rs);

/* httpd_create - a server for cfg (borrowed: it must outlive the server).
 * Reads the tracking secret (getenv(cfg->tracking_secret_env): refuses to
 * start without it, e says so), the API and inbound tokens, and checks
 * that the store is ready. NULL with e set on failure; *usage 1 when the
 * failure is the user's to fix (a missing secret), 0 for a store failure. */
struct httpd *httpd_create(const struct config *cfg, int *usage, struct err *e);
/* httpd_check_secret - the tracking secret is set (httpd_create's first
 * check, for a caller that wants it before anything else); -1 with e set */
int httpd_check_secret(const struct config *cfg, struct err *e);
/* httpd_listen - start serving on "HOST:PORT" ("[::1]:8080"; port 0
 * picks a free one: see httpd_port). clock_offset is added to the wall
 * clock for every request (serve --now). httpd_bind then httpd_start. */
int httpd_listen(struct httpd *h, const char *listen, int64_t clock_offset, struct err *e);
/* httpd_bind - a listening socket (non-blocking, close-on-exec) bound to
 * "HOST:PORT"; the descriptor (caller closes, or hands it to httpd_start),
 * or -1 with e set. Needs no server: `serve` calls it before it gives up
 * root, for a port under 1024. */
int httpd_bind(const char *listen, struct err *e);
/* httpd_start - serve on fd from httpd_bind (takes it, also on failure)
 * with cfg's serve: limits; clock_offset as for httpd_listen */
int httpd_start(struct httpd *h, int fd, int64_t clock_offset, struct err *e);
/* httpd_port - the port listened on, 0 before httpd_listen */
int httpd_port(const struct httpd *h);
/* httpd_free - stop listening (waits for requests in progress), close
 * the store connections; NULL allowed */
void httpd_free(struct httpd *h);

/* httpd_handle - answer one request (no network): routing, methods,
 * authentication, then the endpoint. rs is filled; release it with
 * httpd_resp_release. Counted in /metrics. Thread-safe. */
void httpd_handle(struct httpd *h, const struct httpd_req *rq, struct httpd_resp *rs);

/* ---- privileges (httpd_priv.c) ---- */

/* httpd_drop_privileges - when the process runs as root: become user
 * (NULL: "nobody", or stay root when $OUTREACH_SERVE_ALLOW_ROOT is "1")
 * for good: its groups (initgroups), gid and uid, real, effective and
 * saved, and no new privileges by exec. Not root: nothing (a named user
 * other than the current one is logged and ignored). 0 ok;
 * -1 with e set and *usage 1 when the user does not exist or is uid 0
 * (the caller must not keep running as root), *usage 0 when the system
 * refused the change. */
int httpd_drop_privileges(const char *user, int *usage, struct err *e);
/* httpd_store_writable - the current user can read and write a SQLite
 * store (the file, its -wal and -shm when there, and its folder, where
 * SQLite makes them); 0 ok or not a SQLite store, -1 with e naming what
 * is not writable and by whom */
int httpd_store_writable(const char *store, struct err *e);

/* ---- per-client limits (httpd_limit.c) ---- */

/* A token bucket per client: rate requests a second, burst at once. */
struct httpd_limiter;
/* httpd_limiter_create - rate <= 0: no limit; slots bounds the clients
 * remembered (rounded up to a power of two); the least recently seen is
 * forgotten first (it then starts again with a full bucket) */
struct httpd_limiter *httpd_limiter_create(double rate, double burst, size_t slots);
void httpd_limiter_free(struct httpd_limiter *l); /* NULL allowed */
/* httpd_limiter_take - one request of client key (httpd_client_key) at
 * now (seconds on a monotonic clock, passed in): 0 allowed, else the
 * whole seconds (>= 1) until a request of that client will be. Thread-safe. */
int httpd_limiter_take(struct httpd_limiter *l, const unsigned char key[16], double now);

/* The peers whose X-Forwarded-For is believed (serve.trusted_proxies). */
struct httpd_proxies;
/* httpd_proxies_create - from "ADDRESS" or "ADDRESS/PREFIX" strings
 * (borrowed); NULL with e set when one is not an address */
struct httpd_proxies *httpd_proxies_create(char *const *list, size_t n, struct err *e);
void httpd_proxies_free(struct httpd_proxies *p); /* NULL allowed */
/* httpd_client_key - the client of a request as 16 bytes: the peer's
 * address, or when the peer is a trusted proxy the rightmost address of
 * xff (the last X-Forwarded-For header, NULL when none) that is not a
 * trusted proxy; IPv4 as IPv4-mapped IPv6, IPv6 cut to its /64. -1 for a
 * peer that is not IPv4 or IPv6. */
int httpd_client_key(const struct sockaddr *peer, const char *xff,
		     const struct httpd_proxies *proxies, unsigned char key[16]);

/* httpd_parse_listen - split "HOST:PORT" / "[V6]:PORT" into host (caller
 * frees) and port; -1 with e set when it is not one */
int httpd_parse_listen(const char *listen, char **host, int *port, struct err *e);

#endif
