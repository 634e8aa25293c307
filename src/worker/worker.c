/* worker.c - the dispatch loop.
 *
 * Each pass: release the claims of dead workers on this host, turn new
 * events into scheduled sends, evaluate contacts whose segments may have
 * changed, then claim a batch of due sends (transactional first) under a
 * lease and handle each: still wanted? (expired, cancelled by `unless`,
 * contact gone) -> reachable channel in the step's order (address,
 * suppression, consent) -> render -> deliver -> record, each send in its
 * own short transaction. The worker owns retries and backoff; transports
 * only deliver. Without --once it sleeps until the next due time or until
 * an import wakes it, and on SIGTERM finishes the send in hand, gives back
 * the rest of its batch and returns.
 */
#include "worker.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "links.h"
#include "log.h"
#include "pii.h"
#include "policy.h"
#include "render.h"
#include "sms.h"
#include "stats.h"
#include "schedule.h"
#include "store_track.h"
#include "timeutil.h"
#include "track.h"
#include "transport.h"
#include "xmalloc.h"

struct worker {
	struct store *s;
	const struct config *cfg;
	const struct worker_opts *o;
	struct transport **tr; /* by cfg->transports index */
	struct renderer *r;
	char owner[160];
	char host[128];
	const char *secret;
	struct worker_totals *t;
	int *max_attempts;          /* by transport index */
	struct transport_done *done; /* where delivered jobs come back */
	int inflight;               /* jobs submitted and not yet back */
	struct policy *pol;
	int pol_caps;               /* any caps: mark sends that pass */
	struct job *ready;          /* past every policy, submitted after the commit */
	struct job **ready_tail;
	struct job *finished;       /* recorded in the open transaction, freed at commit */
	struct transport_job *unrecorded; /* came back, not yet recorded (store down) */
	struct transport_job *acked;      /* came back and acknowledged (store_ack_add), */
	struct transport_job **acked_tail; /* their full record to come */
	int nacked;
	int64_t acked_since;              /* ms: when the oldest of them came back */
	int window;                 /* the most sends in flight at once */
	int draining;
	int64_t *giveback;          /* claims not on the wire whose release failed */
	size_t ngiveback, capgiveback;
};

/* a store that fails is tried again after 1 s, doubling up to 30 s: `run`
 * rides out a database restart; `run --once` gives up after a minute;
 * outcomes waiting to be recorded when stopping wait 30 s more */
#define RETRY_MAX_S 30
#define ONCE_PATIENCE_MS 60000
#define DRAIN_PATIENCE_S 30

#define WINDOW_MAX 20000

static int pid_alive(int pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

static int64_t clock_now(const struct worker *w)
{
	return w->o->now ? w->o->now : time_now();
}

/* address - the contact's address for a transport, or NULL */
static char *address_of(const struct contact *c, const char *field)
{
	const char *v = contact_field(c, field);
	if (v)
		return *v ? xstrdup(v) : NULL;
	json_t *a = json_object_get(c->attrs, field);
	if (json_is_string(a) && json_string_length(a))
		return xstrdup(json_string_value(a));
	if (json_is_integer(a))
		return xasprintf("%lld", (long long)json_integer_value(a));
	return NULL;
}

static int64_t backoff(int64_t send_id, int attempt, int64_t retry_after)
{
	int64_t d = 60;
	for (int i = 1; i < attempt && d < 6 * 3600; i++)
		d *= 2;
	if (d > 6 * 3600)
		d = 6 * 3600;
	/* deterministic jitter of +-20%, so that runs with --now repeat */
	char key[48];
	snprintf(key, sizeof(key), "%lld/%d", (long long)send_id, attempt);
	d = d * 4 / 5 + (int64_t)(hash_unit(key) * (double)(d * 2 / 5));
	return retry_after > d ? retry_after : d;
}

/* finish - record a send's state; 1 when another worker owns it now */
static int finish(struct worker *w, const struct send_row *row, struct send_update *u,
		  int64_t now, struct err *e)
{
	int rc = store_send_update(w->s, row->id, w->owner, u, now, e);
	if (rc == 1)
		log_warn("send %lld: lease lost before recording %s; another worker owns it",
			 (long long)row->id, u->state);
	return rc;
}

/* sorted_segments - the contact's segments in config order (for template lookup) */
static size_t sorted_segments(const struct config *cfg, char **have, size_t n, char **out)
{
	size_t k = 0;
	for (size_t i = 0; i < cfg->nsegments; i++)
		for (size_t j = 0; j < n; j++)
			if (strcmp(cfg->segments[i].name, have[j]) == 0)
				out[k++] = have[j];
	return k;
}

/* domain_of - the domain of the From address, for Message-IDs; caller frees */
static char *domain_of(const char *from)
{
	const char *at = from ? strrchr(from, '@') : NULL;
	if (!at || !at[1])
		return xstrdup("outreach.invalid");
	return xstrndup(at + 1, strcspn(at + 1, "> \t\"'"));
}

/* A job is one claimed send on its way through the channels of its step:
 * it holds everything a fall-through to the next channel needs (the
 * contact, the render context) and the message in flight, whose strings it
 * owns, until the transport hands it back. */
struct job {
	struct transport_job tj; /* first: the transport's handle on us */
	struct send_row row;
	const struct campaign_conf *cc;
	const struct step_conf *sc;
	struct contact c;
	int have_c;
	char **segs, **ordered;
	size_t nsegs, nord;
	struct event ev;
	int have_ev;
	json_t *ctx;
	int have_stats; /* ctx has "stats" */
	char *unsub, *survey, *token;
	struct buf reasons; /* why earlier channels were passed over */
	int attempted;
	size_t chan;        /* the channel in flight */
	int tk;             /* its transport's index */
	struct job *next_ready;
	const struct transport_conf *tc;
	struct rendered m;
	int have_m;
	char *addr, *key, *msgid; /* key: the address as the store may hold it */
	int segments;
	struct message msg;
	struct job *next_finished;
	int64_t *counter; /* the total to count it in once its record is committed */
	int back;	  /* came back from its transport with an outcome to record */
};

static void job_flight_release(struct job *j)
{
	if (j->have_m)
		rendered_release(&j->m);
	j->have_m = 0;
	free(j->addr);
	free(j->key);
	free(j->msgid);
	j->addr = j->key = j->msgid = NULL;
	j->tc = NULL;
}

static void job_free(struct job *j)
{
	transport_recorded(&j->tj, 0); /* its connection waits no more */
	job_flight_release(j);
	if (j->ctx)
		json_decref(j->ctx);
	if (j->have_ev)
		event_release(&j->ev);
	if (j->have_c)
		contact_release(&j->c);
	free(j->unsub);
	free(j->survey);
	free(j->token);
	free(j->ordered);
	strv_free(j->segs, j->nsegs);
	buf_release(&j->reasons);
	send_row_release(&j->row);
	free(j);
}

/* job_finish - record the send's final state for this pass; j is freed
 * (and counted) when the transaction commits, see settle() */
static int job_finish(struct worker *w, struct job *j, struct send_update *u, int64_t now,
		      int64_t *counter, struct err *e)
{
	int rc = finish(w, &j->row, u, now, e);
	j->counter = rc == 0 ? counter : NULL;
	j->next_finished = w->finished;
	w->finished = j;
	return rc < 0 ? -1 : 0;
}

static void reason_add(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason_add(struct job *j, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_printf(&j->reasons, "%s%s", j->reasons.len ? "; " : "", tmp);
}

static int transport_index(const struct worker *w, const struct transport_conf *tc)
{
	for (size_t k = 0; tc && k < w->cfg->ntransports; k++)
		if (&w->cfg->transports[k] == tc)
			return (int)k;
	return -1;
}

enum { HOLD_QUIET = 1, HOLD_CAP = 2, HOLD_RATE = 3 };

/* policies - may this send go through transport k at now? 0 yes (and it
 * is marked and its rate tokens taken), else the HOLD_ kind with the
 * instant it may go and why. Runs inside the pass's write transaction, so
 * check and mark are one step for every worker on the store. */
static int policies(struct worker *w, struct job *j, const struct transport_conf *tc, int k,
		    int64_t now, int64_t *until, char *why, size_t n, struct err *e)
{
	char ts[32];
	const char *level;
	size_t ci = (size_t)(j->cc - w->cfg->campaigns);
	const struct quiet *q = policy_quiet_for(w->pol, ci, (size_t)k, &level);
	if (q) {
		const char *zone = j->c.timezone && *j->c.timezone ? j->c.timezone : w->cfg->timezone;
		if (quiet_allowed_at(q, zone, now, until) < 0) {
			*until = now;
			log_warn("send %lld: quiet hours cannot be evaluated in zone %s; sending",
				 (long long)j->row.id, zone);
		} else if (*until > now) {
			char desc[160];
			quiet_describe(q, desc, sizeof(desc));
			time_format(*until, ts, sizeof(ts));
			snprintf(why, n, "quiet hours (%s, %s) in %s until %s", desc, level, zone, ts);
			return HOLD_QUIET;
		}
	}
	const struct cap_rule *caps[4];
	size_t nc = policy_caps(w->pol, j->row.priority, caps, 4);
	for (size_t i = 0; i < nc; i++) {
		const struct cap_rule *c = caps[i];
		int64_t t, allow = now;
		char d1[16], d2[16];
		int rc;
		if (c->max) {
			rc = store_cap_nth(w->s, j->row.contact, c->scope, now - c->per, j->row.id, now,
					   (int)c->max - 1, &t, e);
			if (rc < 0)
				return -1;
			if (rc == 0 && t + c->per > allow)
				allow = t + c->per;
		}
		if (c->min_gap) {
			rc = store_cap_nth(w->s, j->row.contact, c->scope, now - c->min_gap, j->row.id,
					   now, 0, &t, e);
			if (rc < 0)
				return -1;
			if (rc == 0 && t + c->min_gap > allow)
				allow = t + c->min_gap;
		}
		if (allow > now) {
			*until = allow;
			time_format(allow, ts, sizeof(ts));
			duration_format(c->per, d1, sizeof(d1));
			duration_format(c->min_gap, d2, sizeof(d2));
			if (c->max && c->min_gap)
				snprintf(why, n, "capped by %s (max %lld per %s, min_gap %s) until %s",
					 c->name, (long long)c->max, d1, d2, ts);
			else if (c->max)
				snprintf(why, n, "capped by %s (max %lld per %s) until %s", c->name,
					 (long long)c->max, d1, ts);
			else
				snprintf(why, n, "capped by %s (min_gap %s) until %s", c->name, d2, ts);
			return HOLD_CAP;
		}
	}
	int64_t now_ms = w->o->now ? now * 1000 : time_now_ms(), wait = 0;
	char key[400];
	const struct rate_rule *r;
	const char *at = j->addr && tc->channel == CHANNEL_EMAIL ? strrchr(j->addr, '@') : NULL;
	if (at && (r = policy_domain_rate(w->pol, (size_t)k, at + 1))) {
		snprintf(key, sizeof(key), "domain:%s:%s", tc->name, at + 1);
		for (char *p = key; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (store_rate_take(w->s, key, r->per_sec, r->burst, now_ms, &wait, e) < 0)
			return -1;
		if (wait) {
			*until = now + (wait + 999) / 1000;
			snprintf(why, n, "rate limited: %s to %s at %s", tc->name, at + 1, r->text);
			return HOLD_RATE;
		}
	}
	if ((r = policy_rate(w->pol, (size_t)k))) {
		snprintf(key, sizeof(key), "transport:%s", tc->name);
		if (store_rate_take(w->s, key, r->per_sec, r->burst, now_ms, &wait, e) < 0)
			return -1;
		if (wait) {
			*until = now + (wait + 999) / 1000;
			snprintf(why, n, "rate limited: %s at %s", tc->name, r->text);
			return HOLD_RATE;
		}
	}
	if (w->pol_caps && store_send_passed(w->s, j->row.id, now, e) < 0)
		return -1;
	return 0;
}

/* hold - a policy holds the send until `until`: deferred (not an attempt),
 * or, when that is past its expiry, expired (quiet hours) or suppressed
 * (caps, rates) */
static int hold(struct worker *w, struct job *j, int kind, int64_t until, const char *pwhy,
		int64_t now, struct err *e)
{
	char why[768];
	struct send_update u = {0};
	if (j->row.expire_at != TIME_NEVER && until >= j->row.expire_at) {
		char ts[32];
		time_format(j->row.expire_at, ts, sizeof(ts));
		snprintf(why, sizeof(why), "%s, past its expiry at %s", pwhy, ts);
		u.state = kind == HOLD_QUIET ? "expired" : "suppressed";
		u.reason = why;
		return job_finish(w, j, &u, now,
				  kind == HOLD_QUIET ? &w->t->expired : &w->t->suppressed, e);
	}
	u.state = "deferred";
	u.due_at = until;
	u.reason = pwhy;
	return job_finish(w, j, &u, now, &w->t->held, e);
}

/* flush - submit what passed the policies, once their marks are committed */
static void flush(struct worker *w)
{
	struct job *j = w->ready;
	w->ready = NULL;
	w->ready_tail = &w->ready;
	while (j) {
		struct job *next = j->next_ready;
		transport_submit(w->tr[j->tk], &j->tj, w->done);
		j = next;
	}
}

/* step_uses - 1 when the template of j's step reads root on any of the
 * step's channels: the render context is built once for all of them */
static int step_uses(struct worker *w, const struct job *j, const char *root)
{
	for (size_t i = 0; i < j->sc->nchannels; i++) {
		const struct transport_conf *tc = config_transport(w->cfg, j->sc->channels[i]);
		if (tc && render_uses(w->r, j->row.template, tc->channel, root))
			return 1;
	}
	return 0;
}

/* advance - try the step's channels from j->chan on: the first one the
 * contact can be reached on is rendered and submitted (1: in flight);
 * when none is left the send is recorded failed or suppressed (0). */
static int advance(struct worker *w, struct job *j, int64_t now, struct err *e)
{
	const struct step_conf *sc = j->sc;
	const struct campaign_conf *cc = j->cc;
	char why[1024];
	for (; j->chan < sc->nchannels; j->chan++) {
		const struct transport_conf *tc = config_transport(w->cfg, sc->channels[j->chan]);
		int k = transport_index(w, tc);
		if (k < 0 || !w->tr[k]) {
			reason_add(j, "%s: not configured", sc->channels[j->chan]);
			continue;
		}
		const char *ch = channel_name(tc->channel);
		j->addr = tc->to ? address_of(&j->c, tc->to) : NULL;
		if (tc->to && !j->addr) {
			reason_add(j, "%s: no %s", tc->name, tc->to);
			continue;
		}
		j->key = contact_address_key(j->addr);
		char *sup = NULL;
		int ok = 1;
		if (j->key && store_suppressed(w->s, j->key, &sup, e) < 0)
			return -1;
		if (sup) {
			reason_add(j, "%s: address suppressed (%s)", tc->name, sup);
			free(sup);
			job_flight_release(j);
			continue;
		}
		if (store_subscription_allows(w->s, j->row.contact, ch, cc->cls, &ok, e) < 0)
			return -1;
		if (!ok) {
			reason_add(j, "%s: unsubscribed from %s %s", tc->name,
				   cc->cls == CLASS_MARKETING ? "marketing" : "all", ch);
			job_flight_release(j);
			continue;
		}
		int64_t until;
		char pwhy[512];
		int kind = policies(w, j, tc, k, now, &until, pwhy, sizeof(pwhy), e);
		if (kind < 0)
			return -1;
		if (kind > 0) {
			job_flight_release(j);
			return hold(w, j, kind, until, pwhy, now, e);
		}
		if (!j->ctx)
			j->ctx = render_context(&j->c, j->have_ev ? &j->ev : NULL, j->ordered, j->nord,
						j->nord ? j->ordered[0] : NULL, cc->name,
						j->row.step + 1,
						cc->cls == CLASS_MARKETING ? j->unsub : NULL, j->survey);
		/* stats cost a dozen queries: only for templates that read them */
		if (!j->have_stats && render_uses(w->r, j->row.template, tc->channel, "stats")) {
			if (stats_context(w->s, &w->cfg->stats, j->row.contact, now, j->ctx, e) < 0)
				return -1;
			j->have_stats = 1;
		}
		struct err re = {{0}};
		j->attempted = 1;
		if (render_message(w->r, j->row.template, tc->channel, j->ordered, j->nord,
				   j->c.locale, j->ctx, &j->m, &re) < 0) {
			log_error("send %lld: %s", (long long)j->row.id, re.msg);
			reason_add(j, "%s: %s", tc->name, re.msg);
			job_flight_release(j);
			if (store_attempt_add(w->s, j->row.id, now, tc->name, "fail", "template", re.msg,
					      e) < 0)
				return -1;
			continue;
		}
		j->have_m = 1;
		if (j->m.segment)
			json_object_set_new(j->ctx, "segment", json_string(j->m.segment));
		if (links_tracking_on(w->cfg, cc->name, tc)) {
			/* links to /c/TOKEN and the open pixel; the originals in
			 * this transaction, for the redirect */
			struct links l;
			links_rewrite(&j->m, tc->channel, w->cfg->tracking_base_url, w->secret,
				      j->row.id, &l);
			links_take(&l, &j->m);
			int lrc = store_links_add(w->s, j->row.id, l.urls, l.n, e);
			links_release(&l);
			if (lrc < 0)
				return -1;
		}
		/* the bounce token is the smtp return path's ({token}, VERP) */
		if (tc->channel == CHANNEL_EMAIL && !j->token)
			j->token = track_token(w->secret, 'b', j->row.id, 0);
		json_t *from = json_object_get(tc->opts, "from");
		const char *from_s = json_is_string(from) ? json_string_value(from) : NULL;
		j->tc = tc;
		if (tc->channel == CHANNEL_EMAIL) {
			char key[64], hex[65];
			int kn = snprintf(key, sizeof(key), "%lld/%lld", (long long)j->row.id,
					  (long long)j->row.created_at);
			sha256_hex(key, (size_t)kn, hex);
			char *dom = domain_of(from_s);
			j->msgid = xasprintf("<outreach.%lld.%.12s@%s>", (long long)j->row.id, hex, dom);
			free(dom);
		}
		j->segments = tc->channel == CHANNEL_SMS && j->m.text
				      ? sms_segments(j->m.text, strlen(j->m.text), NULL)
				      : 0;
		j->msg = (struct message){
		    .send_id = j->row.id,
		    .channel = tc->channel,
		    .to = j->addr,
		    .to_name = j->c.name,
		    .from = from_s ? from_s : "outreach <outreach@localhost>",
		    .subject = j->m.subject,
		    .text = j->m.text,
		    .html = j->m.html,
		    .message_id = j->msgid,
		    .unsubscribe_url = cc->cls == CLASS_MARKETING ? j->unsub : NULL,
		    .token = j->token,
		    .marketing = cc->cls == CLASS_MARKETING,
		    .campaign = cc->name,
		    .step = j->row.step + 1,
		    .headers = j->m.headers,
		    .nheaders = j->m.nheaders,
		};
		j->tj = (struct transport_job){.m = &j->msg, .now = now, .cookie = j};
		j->tk = k;
		j->next_ready = NULL;
		*w->ready_tail = j;
		w->ready_tail = &j->next_ready;
		w->inflight++;
		return 1;
	}
	snprintf(why, sizeof(why), "%s%s", j->attempted ? "" : "no reachable channel: ",
		 j->reasons.len ? j->reasons.data : "no channels");
	struct send_update u = {.state = j->attempted ? "failed" : "suppressed", .reason = why};
	return job_finish(w, j, &u, now, j->attempted ? &w->t->failed : &w->t->suppressed, e);
}

/* What a batch reads for all its sends at once, by the send's index:
 * its contact, its triggering event and the contact's segments. */
struct prefetch {
	struct contact *c;
	int *have_c;
	struct event *ev;
	int *have_ev;
	char ***segs;
	size_t *nsegs;
	size_t n;
};

static void prefetch_release(struct prefetch *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->have_c[i])
			contact_release(&p->c[i]);
		if (p->have_ev[i])
			event_release(&p->ev[i]);
		strv_free(p->segs[i], p->nsegs[i]);
	}
	free(p->c);
	free(p->have_c);
	free(p->ev);
	free(p->have_ev);
	free(p->segs);
	free(p->nsegs);
	memset(p, 0, sizeof(*p));
}

/* prefetch - read the batch's contacts, events and segments in a few
 * statements instead of three per send (p is released by the caller) */
static int prefetch(struct worker *w, const struct send_row *rows, size_t n, struct prefetch *p,
		    struct err *e)
{
	char **ids = xcalloc(n + 1, sizeof(*ids));
	int64_t *evs = xcalloc(n + 1, sizeof(*evs));
	for (size_t i = 0; i < n; i++) {
		ids[i] = rows[i].contact;
		evs[i] = rows[i].event_id;
	}
	p->n = n;
	p->c = xcalloc(n + 1, sizeof(*p->c));
	p->have_c = xcalloc(n + 1, sizeof(*p->have_c));
	p->ev = xcalloc(n + 1, sizeof(*p->ev));
	p->have_ev = xcalloc(n + 1, sizeof(*p->have_ev));
	p->segs = xcalloc(n + 1, sizeof(*p->segs));
	p->nsegs = xcalloc(n + 1, sizeof(*p->nsegs));
	int rc = 0;
	if (store_contacts_get(w->s, ids, n, p->c, p->have_c, e) < 0 ||
	    store_events_get(w->s, evs, n, p->ev, p->have_ev, e) < 0 ||
	    store_segments_of_each(w->s, ids, n, p->segs, p->nsegs, e) < 0)
		rc = -1;
	free(ids);
	free(evs);
	return rc;
}

/* start - take a claimed send (the row, and its contact, event and
 * segments from p, move into the job): still wanted? Then on to its first
 * reachable channel. */
static int start(struct worker *w, struct send_row *row, struct prefetch *p, size_t pi,
		 int64_t now, struct err *e)
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->row = *row;
	memset(row, 0, sizeof(*row));
	j->reasons = (struct buf)BUF_INIT;
	struct send_update u = {0};
	char why[512];
	int rc;
	j->have_c = p->have_c[pi];
	if (j->have_c) {
		j->c = p->c[pi];
		p->have_c[pi] = 0;
	}
	j->segs = p->segs[pi];
	j->nsegs = p->nsegs[pi];
	p->segs[pi] = NULL;
	p->nsegs[pi] = 0;
	if (!j->have_c) {
		u.state = "cancelled";
		u.reason = "contact no longer exists";
		return job_finish(w, j, &u, now, &w->t->cancelled, e);
	}
	j->cc = config_campaign(w->cfg, j->row.campaign);
	if (!j->cc || j->row.step >= (int)j->cc->nsteps) {
		u.state = "cancelled";
		u.reason = "campaign or step no longer in the config";
		return job_finish(w, j, &u, now, &w->t->cancelled, e);
	}
	j->sc = &j->cc->steps[j->row.step];
	if (j->row.expire_at != TIME_NEVER && now >= j->row.expire_at) {
		char at[32];
		time_format(j->row.expire_at, at, sizeof(at));
		snprintf(why, sizeof(why), "expired at %s before it could be sent", at);
		u.state = "expired";
		u.reason = why;
		return job_finish(w, j, &u, now, &w->t->expired, e);
	}
	char *type = NULL;
	int64_t at;
	rc = store_event_between(w->s, j->row.contact, j->sc->unless, j->sc->nunless,
				 j->row.trigger_at, now, &type, &at, e);
	if (rc < 0) {
		job_free(j);
		return -1;
	}
	if (rc == 0) {
		char ts[32];
		time_format(at, ts, sizeof(ts));
		snprintf(why, sizeof(why), "%s at %s", type, ts);
		free(type);
		u.state = "cancelled";
		u.reason = why;
		return job_finish(w, j, &u, now, &w->t->cancelled, e);
	}
	if (j->c.do_not_contact) {
		u.state = "suppressed";
		u.reason = "contact is marked do_not_contact";
		return job_finish(w, j, &u, now, &w->t->suppressed, e);
	}
	j->ordered = xcalloc(j->nsegs + 1, sizeof(*j->ordered));
	j->nord = sorted_segments(w->cfg, j->segs, j->nsegs, j->ordered);
	j->have_ev = p->have_ev[pi];
	if (j->have_ev) {
		j->ev = p->ev[pi];
		p->have_ev[pi] = 0;
	}
	/* each signed url costs an HMAC: only those a message can carry (the
	 * bounce token is signed in advance(), for email only) */
	if (j->cc->cls == CLASS_MARKETING)
		j->unsub = track_url(w->cfg->tracking_base_url, w->secret, 'u', j->row.id, 0);
	if (step_uses(w, j, "survey_url"))
		j->survey = track_url(w->cfg->tracking_base_url, w->secret, 's', j->row.id, 0);
	return advance(w, j, now, e) < 0 ? -1 : 0;
}

/* mask_reason - a sealed store keeps no address in clear, also not in
 * the server's words: the recipient in the job's reason becomes
 * "[address]" (pii.h); more than once changes nothing */
static void mask_reason(struct worker *w, struct job *j)
{
	if (!store_pii_sealed(w->s) || !j->addr || !j->tj.d.reason[0])
		return;
	char *m = pii_mask(j->tj.d.reason, j->addr);
	snprintf(j->tj.d.reason, sizeof(j->tj.d.reason), "%s", m);
	free(m);
}

/* sent_update - the record of a job the server accepted, into u (its
 * reason in why, n bytes) */
static void sent_update(struct worker *w, struct job *j, char *why, size_t n,
			struct send_update *u)
{
	const struct transport_conf *tc = j->tc;
	const struct delivery *d = &j->tj.d;
	const char *ch = channel_name(tc->channel);
	mask_reason(w, j);
	snprintf(why, n, "%s via %s: %s", j->key && !store_pii_sealed(w->s) ? j->key : ch,
		 tc->name, d->reason[0] ? d->reason : "accepted");
	*u = (struct send_update){.state = "sent", .reason = why, .channel = ch,
				  .transport = tc->name, .address = j->key, .message_id = j->msgid,
				  .provider_id = d->provider_id[0] ? d->provider_id : NULL,
				  .segments = j->segments, .attempt_status = "ok",
				  .attempt_code = d->code, .attempt_reason = d->reason};
}

/* complete - a job came back from its transport: record the outcome */
static int complete(struct worker *w, struct job *j, int64_t now, struct err *e)
{
	const struct transport_conf *tc = j->tc;
	const struct delivery *d = &j->tj.d;
	const char *ch = channel_name(tc->channel);
	char why[1024];
	struct send_update u;
	w->inflight--;
	if (d->status == DELIVERY_OK) {
		sent_update(w, j, why, sizeof(why), &u);
		return job_finish(w, j, &u, now, &w->t->sent, e);
	}
	mask_reason(w, j);
	if (d->status == DELIVERY_DEFER) {
		int attempts = j->row.attempts + 1;
		int64_t *counter = &w->t->deferred;
		int max = w->max_attempts[transport_index(w, tc)];
		if (attempts >= max) {
			snprintf(why, sizeof(why), "%s: %s %s (gave up after %d attempts)", tc->name,
				 d->code, d->reason, attempts);
			u = (struct send_update){.state = "failed", .reason = why};
			counter = &w->t->failed;
		} else {
			int64_t wait = backoff(j->row.id, attempts, d->retry_after);
			char ts[32];
			time_format(now + wait, ts, sizeof(ts));
			snprintf(why, sizeof(why), "%s: %s %s; retry %d at %s", tc->name, d->code,
				 d->reason, attempts + 1, ts);
			u = (struct send_update){.state = "deferred", .due_at = now + wait,
						 .reason = why};
		}
		u.channel = ch;
		u.transport = tc->name;
		u.address = j->key;
		u.attempt_status = "defer";
		u.attempt_code = d->code;
		u.attempt_reason = d->reason;
		return job_finish(w, j, &u, now, counter, e);
	}
	/* permanent for this channel: record, suppress a bad address, and
	 * fall through to the next channel. It was not delivered, so its
	 * connection need not wait for the commit. */
	transport_recorded(&j->tj, 0);
	reason_add(j, "%s: %s %s", tc->name, d->code, d->reason);
	if (store_attempt_add(w->s, j->row.id, now, tc->name, "fail", d->code, d->reason, e) < 0)
		goto fail;
	if (d->hard_bounce && j->key) {
		snprintf(why, sizeof(why), "hard bounce on send %lld: %s %s", (long long)j->row.id,
			 d->code, d->reason);
		if (store_suppress(w->s, j->key, ch, why, now, e) < 0)
			goto fail;
	}
	job_flight_release(j);
	j->chan++;
	return advance(w, j, now, e) < 0 ? -1 : 0;
fail:
	job_free(j);
	return -1;
}

/* unrecorded - keep a job whose outcome the store could not take, to
 * record it again when the store answers: a message that went out is
 * never left to its lease, which would send it twice */
static void unrecorded(struct worker *w, struct job *j)
{
	j->tj.next = w->unrecorded;
	w->unrecorded = &j->tj;
}

/* nunrecorded - how many outcomes wait for the store (for messages) */
static int nunrecorded(const struct worker *w)
{
	int n = 0;
	for (const struct transport_job *t = w->unrecorded; t; t = t->next)
		n++;
	return n;
}

/* giveback_add - a claim of ours that is not on the wire and could not be
 * given back (the store failed): release it when the store answers, not
 * after its lease (nor never: a worker that stops cleanly is not reaped) */
static void giveback_add(struct worker *w, int64_t id)
{
	if (w->ngiveback == w->capgiveback) {
		w->capgiveback = w->capgiveback ? w->capgiveback * 2 : 64;
		w->giveback = xrealloc(w->giveback, w->capgiveback * sizeof(*w->giveback));
	}
	w->giveback[w->ngiveback++] = id;
}

/* release - give a claim back, or keep it to be given back later */
static void release(struct worker *w, int64_t id)
{
	struct err ignore;
	if (store_send_release(w->s, id, w->owner, &ignore) < 0)
		giveback_add(w, id);
}

/* giveback_flush - release the claims kept by giveback_add */
static int giveback_flush(struct worker *w, struct err *e)
{
	while (w->ngiveback > 0) {
		if (store_send_release(w->s, w->giveback[w->ngiveback - 1], w->owner, e) < 0)
			return -1;
		w->ngiveback--;
	}
	return 0;
}

/* settle - end the pass's or the collection's transaction: commit and
 * submit what passed the policies, or roll back and give back its claims
 * (outcomes that came back are kept to be recorded again) */
static int settle(struct worker *w, int rc, struct err *e)
{
	if (rc == 0 && store_commit(w->s, e) < 0)
		rc = -1;
	struct job *f = w->finished;
	w->finished = NULL;
	while (f) {
		struct job *next = f->next_finished;
		if (rc == 0 && f->counter)
			(*f->counter)++;
		if (rc < 0 && f->back) {
			w->inflight++;
			unrecorded(w, f);
		} else {
			if (rc < 0) /* its record was rolled back: still ours */
				giveback_add(w, f->row.id);
			job_free(f);
		}
		f = next;
	}
	if (rc == 0) {
		flush(w);
		return 0;
	}
	store_rollback(w->s);
	struct job *j = w->ready;
	w->ready = NULL;
	w->ready_tail = &w->ready;
	while (j) {
		struct job *next = j->next_ready;
		release(w, j->row.id);
		w->inflight--;
		job_free(j);
		j = next;
	}
	return -1;
}

static int stopping(const struct worker *w)
{
	return w->o->stop && *w->o->stop;
}

/* acknowledge - one small transaction with an ack row (store_ack_add)
 * for each job of list a server accepted; then their connections may go
 * on (transport_recorded): a crash from here on finishes them as sent */
static int acknowledge(struct worker *w, struct transport_job *list, struct err *e)
{
	int any = 0, rc = 0;
	int64_t now = w->o->now ? w->o->now : clock_now(w);
	for (struct transport_job *t = list; t && rc == 0; t = t->next) {
		struct job *j = t->cookie;
		if (j->tj.d.status != DELIVERY_OK)
			continue;
		if (!any && (rc = store_begin(w->s, e)) < 0)
			break;
		any = 1;
		char why[1024];
		struct send_update u;
		sent_update(w, j, why, sizeof(why), &u);
		rc = store_ack_add(w->s, j->row.id, w->owner, &u, now, e);
	}
	if (any && rc == 0)
		rc = store_commit(w->s, e);
	if (rc < 0) {
		store_rollback(w->s);
		return -1;
	}
	for (struct transport_job *t = list; t; t = t->next)
		transport_recorded(t, 0);
	return 0;
}

/* collect - take the jobs that came back (waiting up to timeout_ms) and
 * acknowledge them, then record them, with those acknowledged before and
 * those the store could not take, in one transaction once ACK_BATCH are
 * waiting, the oldest waited ACK_LINGER_MS, or nothing else is out */
#define ACK_BATCH 200
#define ACK_LINGER_MS 50
static int collect(struct worker *w, int timeout_ms, int *got, struct err *e)
{
	if (w->acked) {
		int64_t left = w->acked_since + ACK_LINGER_MS - time_now_ms();
		if (left < timeout_ms)
			timeout_ms = left < 0 ? 0 : (int)left;
	}
	struct transport_job *list = transport_collect(w->done, w->unrecorded ? 0 : timeout_ms);
	int rc = 0;
	*got = 0;
	if (w->unrecorded) {
		struct transport_job *last = w->unrecorded;
		while (last->next)
			last = last->next;
		last->next = list;
		list = w->unrecorded;
		w->unrecorded = NULL;
	}
	if (list && acknowledge(w, list, e) < 0) {
		/* the store is away: keep them all, their connections held */
		while (list) {
			struct transport_job *next = list->next;
			(*got)++;
			unrecorded(w, list->cookie);
			list = next;
		}
		return -1;
	}
	if (list && !w->acked)
		w->acked_since = time_now_ms();
	while (list) {
		struct transport_job *next = list->next;
		list->next = NULL;
		*w->acked_tail = list;
		w->acked_tail = &list->next;
		w->nacked++;
		(*got)++;
		list = next;
	}
	if (!w->acked)
		return 0;
	if (w->nacked < ACK_BATCH && time_now_ms() - w->acked_since < ACK_LINGER_MS &&
	    w->inflight > w->nacked && !w->draining && !stopping(w))
		return 0;
	list = w->acked;
	w->acked = NULL;
	w->acked_tail = &w->acked;
	w->nacked = 0;
	/* one transaction for all that came back: a commit per send would
	 * cap the worker at the disk's commit rate */
	if (store_begin(w->s, e) < 0)
		rc = -1;
	while (list) {
		struct transport_job *next = list->next;
		struct job *j = list->cookie;
		/* a permanent failure moves on to the next channel: not kept */
		j->back = j->tj.d.status != DELIVERY_FAIL;
		if (rc == 0)
			rc = complete(w, j, w->o->now ? w->o->now : clock_now(w), e);
		else if (j->back)
			unrecorded(w, j); /* the store failed: record it next time */
		else {
			w->inflight--; /* failed here: its lease gives it back */
			job_free(j);
		}
		list = next;
	}
	return settle(w, rc, e);
}

/* nap - sleep ms, in short steps so that a signal to stop is seen */
static void nap(const struct worker *w, int64_t ms)
{
	int64_t until = time_now_ms() + ms;
	while (time_now_ms() < until && !(w->o->stop && *w->o->stop && !w->draining))
		poll(NULL, 0, 100);
}

/* drain - give back what no thread started, wait for what is in flight
 * and record it, waiting out a store that does not answer for a while */
static int drain(struct worker *w, struct err *e)
{
	for (size_t k = 0; k < w->cfg->ntransports; k++) {
		struct transport_job *l = w->tr[k] ? transport_cancel_queued(w->tr[k]) : NULL;
		while (l) {
			struct transport_job *next = l->next;
			struct job *j = l->cookie;
			release(w, j->row.id);
			w->inflight--;
			job_free(j);
			l = next;
		}
	}
	int rc = 0, got, fails = 0;
	w->draining = 1;
	while (w->inflight > 0) {
		if (collect(w, 1000, &got, e) == 0) {
			fails = 0;
			continue;
		}
		rc = -1;
		if (++fails == 1)
			log_warn("%s; %d outcomes kept until the store answers", e->msg, nunrecorded(w));
		if (fails < DRAIN_PATIENCE_S) {
			nap(w, 1000);
			continue;
		}
		/* give up: their leases will give the sends back */
		log_error("%d sends went out but the store did not take their outcome (%s): they are "
			  "sent again when their lease expires",
			  nunrecorded(w), e->msg);
		while (w->unrecorded) {
			struct transport_job *next = w->unrecorded->next;
			transport_recorded(w->unrecorded, 1); /* and send no more */
			job_free(w->unrecorded->cookie);
			w->inflight--;
			w->unrecorded = next;
		}
		if (w->inflight > 0)
			continue; /* still on the wire: wait for them too */
	}
	return rc;
}

static void log_pass(const struct sched_stats *st, const struct worker_totals *before,
		     const struct worker_totals *t, size_t claimed)
{
	if (!claimed && !st->events && !st->evaluated)
		return;
	log_info("batch: %zu claimed, %lld sent, %lld deferred, %lld failed, %lld suppressed, "
		 "%lld expired, %lld cancelled, %lld held; %d events, %d contacts evaluated, "
		 "%d sends scheduled",
		 claimed, (long long)(t->sent - before->sent),
		 (long long)(t->deferred - before->deferred), (long long)(t->failed - before->failed),
		 (long long)(t->suppressed - before->suppressed),
		 (long long)(t->expired - before->expired),
		 (long long)(t->cancelled - before->cancelled), (long long)(t->held - before->held),
		 st->events, st->evaluated,
		 st->scheduled);
}

/* pass - one round of scheduling, a claim that fills the window of sends
 * in flight, and the outcomes that came back; *busy when there was work */
static int pass(struct worker *w, int64_t now, int *busy, struct err *e)
{
	struct sched_stats st = {0};
	struct worker_totals before = *w->t;
	int more, released;
	*busy = 0;
	render_refresh(w->r); /* template files added since are seen from here on */
	if (store_workers_reap(w->s, w->host, pid_alive, now, &released, e) < 0)
		return -1;
	if (released)
		log_info("released %d sends claimed by dead workers", released);
	if (giveback_flush(w, e) < 0)
		return -1;
	do {
		if (schedule_events(w->s, w->cfg, now, 500, &more, &st, e) < 0)
			return -1;
	} while (more && !stopping(w));
	do {
		if (schedule_segments(w->s, w->cfg, now, 500, &more, &st, e) < 0)
			return -1;
	} while (more && !stopping(w));
	struct send_row *rows = NULL;
	size_t n = 0, i = 0;
	int room = w->window - w->inflight, rc = 0;
	if (room > w->o->batch)
		room = w->o->batch;
	if (room > 0 && !stopping(w)) {
		/* one write transaction for the batch: the claim, the policy
		 * checks and their marks are atomic for every worker, and one
		 * commit serves all; nothing is submitted before it (settle) */
		if (store_begin(w->s, e) < 0)
			return -1;
		if (store_claim(w->s, w->owner, now, w->o->lease, room, &rows, &n, e) < 0) {
			store_rollback(w->s);
			return -1;
		}
		struct prefetch pf = {0};
		if (n && prefetch(w, rows, n, &pf, e) < 0)
			rc = -1;
		for (i = 0; i < n && rc == 0 && !stopping(w); i++)
			rc = start(w, &rows[i], &pf, i, w->o->now ? now : clock_now(w), e);
		prefetch_release(&pf);
		if (rc == 0)
			rc = settle(w, rc, e);
		else
			settle(w, rc, &(struct err){{0}});
		if (rc == 0)
			w->t->claimed += (int64_t)n;
		/* give back what SIGTERM or an error left unstarted */
		for (; i < n; i++)
			release(w, rows[i].id);
		send_rows_free(rows, n);
	}
	int got = 0;
	if (rc == 0 && w->inflight > 0) {
		/* wait when there is nothing more to claim or no room for it */
		int wait = n < (size_t)room || w->inflight >= w->window ? 200 : 0;
		rc = collect(w, wait, &got, e);
		/* the connections wait for these records (transport_recorded):
		 * while there is no room for half a claim, record what comes back
		 * rather than run the pass's scheduling and claim in between */
		int more = got;
		while (rc == 0 && more > 0 && !stopping(w) && w->inflight > 0 &&
		       w->window - w->inflight < w->o->batch / 2) {
			rc = collect(w, 200, &more, e);
			got += more;
		}
	}
	log_pass(&st, &before, w->t, n);
	*busy = n > 0 || got > 0 || w->inflight > 0 || st.events > 0 || st.evaluated > 0;
	return rc;
}

int worker_run(struct store *s, const struct config *cfg, const struct worker_opts *o,
	       struct worker_totals *t, struct err *e)
{
	struct worker w = {.s = s, .cfg = cfg, .o = o, .t = t};
	int rc = 0;
	memset(t, 0, sizeof(*t));
	gethostname(w.host, sizeof(w.host) - 1);
	snprintf(w.owner, sizeof(w.owner), "%s:%d", w.host, (int)getpid());
	w.secret = getenv(cfg->tracking_secret_env);
	if (!w.secret || !*w.secret) {
		log_warn("%s is not set: tracking and unsubscribe links are signed with an empty key",
			 cfg->tracking_secret_env);
		w.secret = "";
	}
	w.ready_tail = &w.ready;
	struct diag pd;
	diag_init(&pd);
	w.pol = policy_create(cfg, &pd);
	if (!w.pol) {
		err_set(e, "%s", pd.n ? pd.msgs[0] : "bad policies");
		diag_release(&pd);
		return -1;
	}
	diag_release(&pd);
	diag_init(&pd);
	if (links_check_config(cfg, &pd) > 0) {
		err_set(e, "%s", pd.msgs[0]);
		diag_release(&pd);
		policy_free(w.pol);
		return -1;
	}
	diag_release(&pd);
	{
		const struct cap_rule *cr[4];
		w.pol_caps = policy_caps(w.pol, 0, cr, 4) + policy_caps(w.pol, 1, cr, 4) > 0;
	}
	w.tr = xcalloc(cfg->ntransports + 1, sizeof(*w.tr));
	w.max_attempts = xcalloc(cfg->ntransports + 1, sizeof(*w.max_attempts));
	w.window = o->batch;
	for (size_t i = 0; i < cfg->ntransports; i++) {
		long max;
		w.tr[i] = transport_create(cfg, &cfg->transports[i],
					   o->simulate ? TRANSPORT_SIMULATE : 0, e);
		if (!w.tr[i] || transport_opt_int(cfg, &cfg->transports[i], "max_attempts",
						  o->max_attempts, 1, 100, &max, e) < 0) {
			rc = -1;
			goto out;
		}
		w.max_attempts[i] = (int)max;
		w.window += (int)transport_capacity(w.tr[i]);
	}
	if (w.window > WINDOW_MAX)
		w.window = WINDOW_MAX;
	w.acked_tail = &w.acked;
	w.done = transport_done_create();
	transport_done_hold(w.done); /* one message per connection unrecorded */
	w.r = renderer_create(cfg->templates);
	if (store_worker_register(s, w.owner, w.host, (int)getpid(), clock_now(&w), e) < 0) {
		rc = -1;
		goto out;
	}
	int64_t failing_since = 0;
	int delay = 1;
	for (;;) {
		int busy;
		int64_t now = clock_now(&w);
		rc = pass(&w, now, &busy, e);
		if (rc < 0 && !stopping(&w)) {
			/* the store is down or locked: nothing is lost meanwhile
			 * (claims stay leased, outcomes are kept); try again */
			int64_t t = time_now_ms();
			if (!failing_since)
				failing_since = t;
			if (o->once && t - failing_since > ONCE_PATIENCE_MS)
				break;
			log_warn("%s; trying again in %d s", e->msg, delay);
			nap(&w, (int64_t)delay * 1000);
			delay = delay * 2 > RETRY_MAX_S ? RETRY_MAX_S : delay * 2;
			continue;
		}
		if (rc < 0 || stopping(&w))
			break;
		if (failing_since) {
			log_info("store answers again");
			failing_since = 0;
			delay = 1;
		}
		if (busy)
			continue;
		if (o->once)
			break;
		int64_t next;
		if (store_next_wakeup(s, &next, e) < 0)
			next = clock_now(&w) + 1; /* the next pass says what failed */
		now = clock_now(&w);
		int64_t ms = next == TIME_NEVER ? 60000 : (next - now) * 1000;
		if (ms > 60000)
			ms = 60000;
		if (ms > 0)
			store_wait(s, ms);
	}
	if (drain(&w, rc < 0 ? &(struct err){{0}} : e) < 0)
		rc = -1;
	struct err ignore;
	if (giveback_flush(&w, &ignore) < 0)
		log_error("%zu claims could not be given back (%s): they wait for their lease",
			  w.ngiveback, ignore.msg);
	store_worker_stop(s, w.owner, &ignore);
out:
	for (size_t i = 0; i < cfg->ntransports; i++)
		transport_free(w.tr[i]);
	transport_done_free(w.done);
	policy_free(w.pol);
	free(w.tr);
	free(w.max_attempts);
	free(w.giveback);
	renderer_free(w.r);
	return rc;
}
