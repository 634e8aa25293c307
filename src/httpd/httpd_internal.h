/* httpd_internal.h - shared by httpd.c (server, routing, limits, metrics
 * counters), httpd_track.c (/o /c /u /s) and httpd_api.c (inbound,
 * receipts, API, health, metrics). Not for anything outside src/httpd/. */
#ifndef OUTREACH_HTTPD_INTERNAL_H
#define OUTREACH_HTTPD_INTERNAL_H
#include <pthread.h>
#include <stdint.h>

#include "httpd.h"
#include "store.h"

/* The endpoints, as /metrics labels them. */
enum httpd_ep {
	EP_OPEN,
	EP_CLICK,
	EP_UNSUB,
	EP_SURVEY,
	EP_SMS,
	EP_EMAIL,
	EP_DLR,
	EP_EVENTS,
	EP_CONTACTS,
	EP_HEALTHZ,
	EP_METRICS,
	EP_OTHER,
	EP_N
};
extern const char *const httpd_ep_names[EP_N];

#define HTTPD_LIMIT_SLOTS 16384 /* client addresses the rate limiter remembers */
#define HTTPD_CODES 600	  /* status codes counted: 100..599 */
#define HTTPD_NBUCKETS 10 /* request duration histogram */
extern const double httpd_dur_bounds[HTTPD_NBUCKETS];

struct httpd_metrics {
	pthread_mutex_t lock;
	uint64_t requests[EP_N][HTTPD_CODES];
	uint64_t dur[EP_N][HTTPD_NBUCKETS + 1]; /* not cumulative; [NBUCKETS] = +Inf */
	double dur_sum[EP_N];
	uint64_t dur_count[EP_N];
};

struct httpd {
	const struct config *cfg;
	char *secret;	     /* the tracking HMAC key */
	char *api_token;     /* NULL: the API is disabled */
	char *inbound_token; /* NULL: inbound and receipts are open */
	int64_t clock_offset;
	/* store connections not in use */
	pthread_mutex_t pool_lock;
	struct store **pool;
	size_t npool, cappool;
	struct MHD_Daemon *daemon;
	int port;
	struct httpd_limiter *limiter;	/* requests per client address */
	struct httpd_proxies *proxies; /* serve.trusted_proxies; NULL: none */
	struct httpd_metrics m;
};

/* Endpoint handlers: s is this request's own connection. */
void httpd_track(struct httpd *h, struct store *s, char kind, const struct httpd_req *rq,
		 struct httpd_resp *rs);
void httpd_inbound_sms(struct httpd *h, struct store *s, const struct httpd_req *rq,
		       struct httpd_resp *rs);
void httpd_inbound_email(struct httpd *h, struct store *s, const struct httpd_req *rq,
			 struct httpd_resp *rs);
/* httpd_dlr - transport is the path's last part */
void httpd_dlr(struct httpd *h, struct store *s, const char *transport, const struct httpd_req *rq,
	       struct httpd_resp *rs);
void httpd_api_events(struct httpd *h, struct store *s, const struct httpd_req *rq,
		      struct httpd_resp *rs);
void httpd_api_contacts(struct httpd *h, struct store *s, const struct httpd_req *rq,
			struct httpd_resp *rs);
void httpd_healthz(struct httpd *h, struct store *s, const struct httpd_req *rq,
		   struct httpd_resp *rs);
void httpd_metrics(struct httpd *h, struct store *s, const struct httpd_req *rq,
		   struct httpd_resp *rs);

/* ---- responses ---- */

/* httpd_text - a text/plain response: the formatted line and a newline */
void httpd_text(struct httpd_resp *rs, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* httpd_json - a JSON response; takes o */
void httpd_json(struct httpd_resp *rs, int code, void *o);
/* httpd_json_error - {"error": msg} with code */
void httpd_json_error(struct httpd_resp *rs, int code, const char *msg);
/* httpd_fail - a store failure: logged with the endpoint, 503 to the client */
void httpd_fail(struct httpd_resp *rs, const char *msg);

/* ---- request bodies ---- */

/* httpd_fields - the named fields of a JSON object or a urlencoded form
 * (by Content-Type; without one, a body starting with { is JSON): vals[i]
 * owned, NULL when absent (JSON: a string, or an integer as its decimal
 * text, or null). 0 ok; else the HTTP status to answer (400 malformed or
 * a field of another type, 415 another media type) with e saying why. */
int httpd_fields(const struct httpd_req *rq, const char *const *names, size_t n, char **vals,
		 struct err *e);
/* httpd_form_get - the value of name in an application/x-www-form-urlencoded
 * body (first occurrence; + and %XX decoded): 0 found (*out owned), 1
 * absent, -1 malformed (a bad escape, a NUL) */
int httpd_form_get(const char *body, size_t len, const char *name, char **out);
/* httpd_media_is - the Content-Type's media type is type (case ignored,
 * parameters ignored); a "+json" suffix counts as application/json */
int httpd_media_is(const char *content_type, const char *type);
/* httpd_token_eq - constant-time comparison of a presented secret */
int httpd_token_eq(const char *given, const char *want);

#endif
