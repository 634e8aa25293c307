/* httpd_api.c - the machine-facing endpoints: inbound SMS and email
 * replies, delivery receipts, the events and contacts API, /healthz and
 * /metrics (Prometheus text format 0.0.4).
 *
 * How: fields come from a JSON object or a urlencoded form
 * (httpd_fields); model/feedback.c matches and records. Answers are JSON:
 * {"status": ...} on success, {"error": reason} on a 4xx.
 *
 * Security: the /api endpoints are checked for its bearer token in httpd.c before
 * anything here runs; /inbound and /dlr too when OUTREACH_INBOUND_TOKEN
 * is set. Answers say what happened, never which contact matched.
 * /metrics shows counts only (no addresses, no ids).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "feedback.h"
#include "httpd_internal.h"
#include "store_feedback.h"

static void result_json(struct httpd_resp *rs, int rc, const struct feedback_result *r,
			const struct err *e)
{
	if (rc < 0) {
		httpd_fail(rs, e->msg);
	} else if (rc == FEEDBACK_BAD) {
		httpd_json_error(rs, 400, e->msg);
	} else if (rc == FEEDBACK_NOT_FOUND) {
		httpd_json_error(rs, 404, "unknown message id");
	} else {
		int unmatched = strcmp(r->kind, "unmatched") == 0;
		httpd_json(rs, unmatched ? 202 : 200,
			   json_pack("{s:s, s:b}", "status", r->kind, "recorded", r->recorded));
	}
}

/* fields - the request's fields, or an answer already given (returns -1) */
static int fields(const struct httpd_req *rq, struct httpd_resp *rs, const char *const *names,
		  size_t n, char **vals)
{
	struct err e = {{0}};
	int code = httpd_fields(rq, names, n, vals, &e);
	if (code) {
		httpd_json_error(rs, code, e.msg);
		return -1;
	}
	return 0;
}

static void free_vals(char **vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(vals[i]);
}

void httpd_inbound_sms(struct httpd *h, struct store *s, const struct httpd_req *rq,
		       struct httpd_resp *rs)
{
	static const char *const names[] = {"from", "text"};
	char *v[2];
	(void)h;
	if (fields(rq, rs, names, 2, v) < 0)
		return;
	struct feedback_result r;
	struct err e = {{0}};
	int rc = feedback_sms(s, v[0], v[1], rq->now, &r, &e);
	result_json(rs, rc, &r, &e);
	feedback_result_release(&r);
	free_vals(v, 2);
}

void httpd_inbound_email(struct httpd *h, struct store *s, const struct httpd_req *rq,
			 struct httpd_resp *rs)
{
	static const char *const names[] = {"from", "subject", "text", "in_reply_to"};
	char *v[4];
	(void)h;
	if (fields(rq, rs, names, 4, v) < 0)
		return;
	struct feedback_result r;
	struct err e = {{0}};
	int rc = feedback_email(s, v[0], v[1], v[2], v[3], rq->now, &r, &e);
	result_json(rs, rc, &r, &e);
	feedback_result_release(&r);
	free_vals(v, 4);
}

void httpd_dlr(struct httpd *h, struct store *s, const char *transport, const struct httpd_req *rq,
	       struct httpd_resp *rs)
{
	static const char *const names[] = {"message_id", "status"};
	char *v[2];
	if (!config_transport(h->cfg, transport)) {
		httpd_json_error(rs, 404, "unknown transport");
		return;
	}
	if (fields(rq, rs, names, 2, v) < 0)
		return;
	struct feedback_result r;
	struct err e = {{0}};
	int rc = feedback_receipt(s, transport, v[0], v[1], rq->now, &r, &e);
	result_json(rs, rc, &r, &e);
	feedback_result_release(&r);
	free_vals(v, 2);
}

/* api_json - the API takes JSON only */
static int api_json(const struct httpd_req *rq, struct httpd_resp *rs)
{
	if (rq->content_type && *rq->content_type &&
	    !httpd_media_is(rq->content_type, "application/json")) {
		httpd_json_error(rs, 415, "unsupported content type (application/json)");
		return -1;
	}
	return 0;
}

void httpd_api_events(struct httpd *h, struct store *s, const struct httpd_req *rq,
		      struct httpd_resp *rs)
{
	(void)h;
	if (api_json(rq, rs) < 0)
		return;
	size_t n, added;
	struct err e = {{0}};
	int rc = feedback_api_events(s, rq->body, rq->len, rq->now, &n, &added, &e);
	if (rc < 0)
		httpd_fail(rs, e.msg);
	else if (rc == FEEDBACK_BAD)
		httpd_json_error(rs, 400, e.msg);
	else
		httpd_json(rs, 200,
			   json_pack("{s:s, s:I, s:I, s:I}", "status", "ok", "records",
				     (json_int_t)n, "added", (json_int_t)added, "duplicates",
				     (json_int_t)(n - added)));
}

void httpd_api_contacts(struct httpd *h, struct store *s, const struct httpd_req *rq,
			struct httpd_resp *rs)
{
	(void)h;
	if (api_json(rq, rs) < 0)
		return;
	size_t n;
	struct err e = {{0}};
	int rc = feedback_api_contacts(s, rq->body, rq->len, rq->now, &n, &e);
	if (rc < 0)
		httpd_fail(rs, e.msg);
	else if (rc == FEEDBACK_BAD)
		httpd_json_error(rs, 400, e.msg);
	else
		httpd_json(rs, 200,
			   json_pack("{s:s, s:I}", "status", "ok", "records", (json_int_t)n));
}

void httpd_healthz(struct httpd *h, struct store *s, const struct httpd_req *rq,
		   struct httpd_resp *rs)
{
	struct err e = {{0}};
	(void)h;
	(void)rq;
	if (store_ready(s, &e) < 0)
		httpd_fail(rs, e.msg);
	else
		httpd_text(rs, 200, "ok");
}

/* ---- /metrics ---- */

/* label - a label value escaped for the text format: \ " and newline */
static void label(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_putc(b, '\\');
		if (*v == '\n') {
			buf_puts(b, "\\n");
			continue;
		}
		buf_putc(b, *v);
	}
}

struct family {
	struct buf *b;
	const char *name, *la, *lb;
};

static void sample(void *ud, const char *a, const char *b, int64_t n)
{
	struct family *f = ud;
	buf_printf(f->b, "%s{%s=\"", f->name, f->la);
	label(f->b, a);
	if (f->lb) {
		buf_printf(f->b, "\",%s=\"", f->lb);
		label(f->b, b ? b : "");
	}
	buf_printf(f->b, "\"} %lld\n", (long long)n);
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void server_counts(struct httpd *h, struct buf *b)
{
	head(b, "outreach_http_requests_total", "counter",
	     "HTTP requests answered by this serve process, by endpoint and status code.");
	pthread_mutex_lock(&h->m.lock);
	for (int ep = 0; ep < EP_N; ep++)
		for (int code = 100; code < HTTPD_CODES; code++)
			if (h->m.requests[ep][code])
				buf_printf(
				    b,
				    "outreach_http_requests_total{endpoint=\"%s\",code=\"%d\"} "
				    "%llu\n",
				    httpd_ep_names[ep], code,
				    (unsigned long long)h->m.requests[ep][code]);
	head(b, "outreach_http_request_duration_seconds", "histogram",
	     "Time to answer an HTTP request, by endpoint.");
	for (int ep = 0; ep < EP_N; ep++) {
		if (!h->m.dur_count[ep])
			continue;
		uint64_t cum = 0;
		for (int i = 0; i <= HTTPD_NBUCKETS; i++) {
			cum += h->m.dur[ep][i];
			if (i < HTTPD_NBUCKETS)
				buf_printf(b,
					   "outreach_http_request_duration_seconds_bucket{endpoint="
					   "\"%s\",le=\"%g\"} %llu\n",
					   httpd_ep_names[ep], httpd_dur_bounds[i],
					   (unsigned long long)cum);
			else
				buf_printf(b,
					   "outreach_http_request_duration_seconds_bucket{endpoint="
					   "\"%s\",le=\"+Inf\"} %llu\n",
					   httpd_ep_names[ep], (unsigned long long)cum);
		}
		buf_printf(b, "outreach_http_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n",
			   httpd_ep_names[ep], h->m.dur_sum[ep]);
		buf_printf(b,
			   "outreach_http_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
			   httpd_ep_names[ep], (unsigned long long)h->m.dur_count[ep]);
	}
	pthread_mutex_unlock(&h->m.lock);
}

void httpd_metrics(struct httpd *h, struct store *s, const struct httpd_req *rq,
		   struct httpd_resp *rs)
{
	struct buf b = BUF_INIT;
	struct err e = {{0}};
	int64_t depth, lag[STORE_LAG_NBUCKETS + 1], sum, total;
	struct family f = {&b, "outreach_sends", "state", "transport"};
	head(&b, "outreach_sends", "gauge",
	     "Sends by state and transport (\"\" before one was picked).");
	int rc = store_count_sends(s, sample, &f, &e);
	if (rc == 0) {
		head(&b, "outreach_attempts_total", "counter",
		     "Delivery attempts by outcome (ok, defer, fail) and transport.");
		f = (struct family){&b, "outreach_attempts_total", "status", "transport"};
		rc = store_count_attempts(s, sample, &f, &e);
	}
	if (rc == 0) {
		head(&b, "outreach_events_total", "counter", "Events recorded, by type.");
		f = (struct family){&b, "outreach_events_total", "type", NULL};
		rc = store_count_events(s, sample, &f, &e);
	}
	if (rc == 0 && (rc = store_queue_depth(s, rq->now, &depth, &e)) == 0) {
		head(&b, "outreach_queue_depth", "gauge",
		     "Sends scheduled or deferred and due now (waiting for a worker).");
		buf_printf(&b, "outreach_queue_depth %lld\n", (long long)depth);
	}
	if (rc == 0 && (rc = store_send_lag(s, lag, &sum, &total, &e)) == 0) {
		head(&b, "outreach_send_lag_seconds", "histogram",
		     "Seconds from a send's last due time to its recorded sending (queue wait plus "
		     "delivery), over every send that went out.");
		int64_t cum = 0;
		for (int i = 0; i < STORE_LAG_NBUCKETS; i++) {
			cum += lag[i];
			buf_printf(&b, "outreach_send_lag_seconds_bucket{le=\"%lld\"} %lld\n",
				   (long long)store_lag_bounds[i], (long long)cum);
		}
		buf_printf(&b, "outreach_send_lag_seconds_bucket{le=\"+Inf\"} %lld\n",
			   (long long)total);
		buf_printf(&b, "outreach_send_lag_seconds_sum %lld\n", (long long)sum);
		buf_printf(&b, "outreach_send_lag_seconds_count %lld\n", (long long)total);
	}
	if (rc < 0) {
		buf_release(&b);
		httpd_fail(rs, e.msg);
		return;
	}
	server_counts(h, &b);
	rs->code = 200;
	rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
	buf_release(&rs->body);
	rs->body = b;
}
