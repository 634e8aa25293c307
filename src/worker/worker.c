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

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "log.h"
#include "render.h"
#include "schedule.h"
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
};

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

static int finish(struct worker *w, const struct send_row *row, struct send_update *u,
		  int64_t now, int64_t *counter, struct err *e)
{
	int rc = store_send_update(w->s, row->id, w->owner, u, now, e);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		log_warn("send %lld: lease lost before recording %s; another worker owns it",
			 (long long)row->id, u->state);
		return 0;
	}
	(*counter)++;
	return 0;
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

static int handle(struct worker *w, struct send_row *row, int64_t now, struct err *e)
{
	struct contact c;
	struct send_update u = {0};
	int rc = store_contact_get(w->s, row->contact, &c, e);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		u.state = "cancelled";
		u.reason = "contact no longer exists";
		return finish(w, row, &u, now, &w->t->cancelled, e);
	}
	const struct campaign_conf *cc = config_campaign(w->cfg, row->campaign);
	char why[512];
	int ret = 0;
	struct buf reasons = BUF_INIT;
	char **segs = NULL, **ordered = NULL;
	size_t nsegs = 0, nord = 0;
	json_t *ctx = NULL;
	struct event ev = {0};
	int have_ev = 0;
	char *unsub = NULL, *survey = NULL;

	if (!cc || row->step >= (int)cc->nsteps) {
		u.state = "cancelled";
		u.reason = "campaign or step no longer in the config";
		ret = finish(w, row, &u, now, &w->t->cancelled, e);
		goto out;
	}
	const struct step_conf *sc = &cc->steps[row->step];
	if (row->expire_at != TIME_NEVER && now >= row->expire_at) {
		char at[32];
		time_format(row->expire_at, at, sizeof(at));
		snprintf(why, sizeof(why), "expired at %s before it could be sent", at);
		u.state = "expired";
		u.reason = why;
		ret = finish(w, row, &u, now, &w->t->expired, e);
		goto out;
	}
	char *type = NULL;
	int64_t at;
	rc = store_event_between(w->s, row->contact, sc->unless, sc->nunless, row->trigger_at, now,
				 &type, &at, e);
	if (rc < 0) {
		ret = -1;
		goto out;
	}
	if (rc == 0) {
		char ts[32];
		time_format(at, ts, sizeof(ts));
		snprintf(why, sizeof(why), "%s at %s", type, ts);
		free(type);
		u.state = "cancelled";
		u.reason = why;
		ret = finish(w, row, &u, now, &w->t->cancelled, e);
		goto out;
	}
	if (c.do_not_contact) {
		u.state = "suppressed";
		u.reason = "contact is marked do_not_contact";
		ret = finish(w, row, &u, now, &w->t->suppressed, e);
		goto out;
	}
	if (store_segments_of(w->s, row->contact, &segs, &nsegs, e) < 0) {
		ret = -1;
		goto out;
	}
	ordered = xcalloc(nsegs + 1, sizeof(*ordered));
	nord = sorted_segments(w->cfg, segs, nsegs, ordered);
	if (row->event_id && (rc = store_event_get(w->s, row->event_id, &ev, e)) < 0) {
		ret = -1;
		goto out;
	}
	have_ev = row->event_id && rc == 0;
	unsub = track_url(w->cfg->tracking_base_url, w->secret, 'u', row->id, 0);
	survey = track_url(w->cfg->tracking_base_url, w->secret, 's', row->id, 0);

	int attempted = 0;
	for (size_t i = 0; i < sc->nchannels; i++) {
		const struct transport_conf *tc = config_transport(w->cfg, sc->channels[i]);
		struct transport *tr = NULL;
		for (size_t k = 0; tc && k < w->cfg->ntransports; k++)
			if (&w->cfg->transports[k] == tc)
				tr = w->tr[k];
		if (!tc || !tr) {
			buf_printf(&reasons, "%s%s: not configured", reasons.len ? "; " : "",
				   sc->channels[i]);
			continue;
		}
		const char *ch = channel_name(tc->channel);
		char *addr = tc->to ? address_of(&c, tc->to) : NULL;
		if (tc->to && !addr) {
			buf_printf(&reasons, "%s%s: no %s", reasons.len ? "; " : "", tc->name, tc->to);
			continue;
		}
		char *sup = NULL;
		int ok = 1;
		if (addr && store_suppressed(w->s, addr, &sup, e) < 0) {
			free(addr);
			ret = -1;
			goto out;
		}
		if (sup) {
			buf_printf(&reasons, "%s%s: address suppressed (%s)", reasons.len ? "; " : "",
				   tc->name, sup);
			free(sup);
			free(addr);
			continue;
		}
		if (store_subscription_allows(w->s, row->contact, ch, cc->cls, &ok, e) < 0) {
			free(addr);
			ret = -1;
			goto out;
		}
		if (!ok) {
			buf_printf(&reasons, "%s%s: unsubscribed from %s %s", reasons.len ? "; " : "",
				   tc->name, cc->cls == CLASS_MARKETING ? "marketing" : "all", ch);
			free(addr);
			continue;
		}
		if (!ctx)
			ctx = render_context(&c, have_ev ? &ev : NULL, ordered, nord,
					     nord ? ordered[0] : NULL, cc->name, row->step + 1,
					     cc->cls == CLASS_MARKETING ? unsub : NULL, survey);
		struct rendered m;
		struct err re = {{0}};
		attempted = 1;
		if (render_message(w->r, row->template, tc->channel, ordered, nord, c.locale, ctx, &m,
				   &re) < 0) {
			log_error("send %lld: %s", (long long)row->id, re.msg);
			buf_printf(&reasons, "%s%s: %s", reasons.len ? "; " : "", tc->name, re.msg);
			if (store_attempt_add(w->s, row->id, now, tc->name, "fail", "template", re.msg,
					      e) < 0) {
				free(addr);
				ret = -1;
				goto out;
			}
			free(addr);
			continue;
		}
		if (m.segment)
			json_object_set_new(ctx, "segment", json_string(m.segment));
		json_t *from = json_object_get(tc->opts, "from");
		const char *from_s = json_is_string(from) ? json_string_value(from) : NULL;
		char *msgid = NULL;
		if (tc->channel == CHANNEL_EMAIL) {
			char key[64], hex[65];
			int kn = snprintf(key, sizeof(key), "%lld/%lld", (long long)row->id,
					  (long long)row->created_at);
			sha256_hex(key, (size_t)kn, hex);
			char *dom = domain_of(from_s);
			msgid = xasprintf("<outreach.%lld.%.12s@%s>", (long long)row->id, hex, dom);
			free(dom);
		}
		struct message msg = {
			.send_id = row->id,
			.channel = tc->channel,
			.to = addr,
			.to_name = c.name,
			.from = from_s ? from_s : "outreach <outreach@localhost>",
			.subject = m.subject,
			.text = m.text,
			.html = m.html,
			.message_id = msgid,
			.unsubscribe_url = cc->cls == CLASS_MARKETING ? unsub : NULL,
			.marketing = cc->cls == CLASS_MARKETING,
			.campaign = cc->name,
			.step = row->step + 1,
			.headers = m.headers,
			.nheaders = m.nheaders,
		};
		struct delivery d = {0};
		const struct message *mp = &msg;
		transport_deliver(tr, &mp, 1, now, &d);
		rendered_release(&m);
		if (d.status == DELIVERY_OK) {
			snprintf(why, sizeof(why), "%s via %s: %s", addr ? addr : ch, tc->name,
				 d.reason[0] ? d.reason : "accepted");
			u = (struct send_update){.state = "sent", .reason = why, .channel = ch,
						 .transport = tc->name, .address = addr,
						 .message_id = msgid,
						 .provider_id = d.provider_id[0] ? d.provider_id : NULL,
						 .attempt_status = "ok", .attempt_code = d.code,
						 .attempt_reason = d.reason};
			ret = finish(w, row, &u, now, &w->t->sent, e);
			free(msgid);
			free(addr);
			goto out;
		}
		if (d.status == DELIVERY_DEFER) {
			int attempts = row->attempts + 1;
			int64_t *counter = &w->t->deferred;
			if (attempts >= w->o->max_attempts) {
				snprintf(why, sizeof(why), "%s: %s %s (gave up after %d attempts)",
					 tc->name, d.code, d.reason, attempts);
				u = (struct send_update){.state = "failed", .reason = why};
				counter = &w->t->failed;
			} else {
				int64_t wait = backoff(row->id, attempts, d.retry_after);
				char ts[32];
				time_format(now + wait, ts, sizeof(ts));
				snprintf(why, sizeof(why), "%s: %s %s; retry %d at %s", tc->name, d.code,
					 d.reason, attempts + 1, ts);
				u = (struct send_update){.state = "deferred", .due_at = now + wait,
							 .reason = why};
			}
			u.channel = ch;
			u.transport = tc->name;
			u.address = addr;
			u.attempt_status = "defer";
			u.attempt_code = d.code;
			u.attempt_reason = d.reason;
			ret = finish(w, row, &u, now, counter, e);
			free(msgid);
			free(addr);
			goto out;
		}
		/* permanent for this channel: record and fall through to the next */
		buf_printf(&reasons, "%s%s: %s %s", reasons.len ? "; " : "", tc->name, d.code, d.reason);
		rc = store_attempt_add(w->s, row->id, now, tc->name, "fail", d.code, d.reason, e);
		free(msgid);
		free(addr);
		if (rc < 0) {
			ret = -1;
			goto out;
		}
	}
	snprintf(why, sizeof(why), "%s%s", attempted ? "" : "no reachable channel: ",
		 reasons.len ? reasons.data : "no channels");
	u = (struct send_update){.state = attempted ? "failed" : "suppressed", .reason = why};
	ret = finish(w, row, &u, now, attempted ? &w->t->failed : &w->t->suppressed, e);
out:
	if (ctx)
		json_decref(ctx);
	if (have_ev)
		event_release(&ev);
	free(unsub);
	free(survey);
	free(ordered);
	strv_free(segs, nsegs);
	buf_release(&reasons);
	contact_release(&c);
	return ret;
}

static void log_pass(const struct sched_stats *st, const struct worker_totals *before,
		     const struct worker_totals *t, size_t claimed)
{
	if (!claimed && !st->events && !st->evaluated)
		return;
	log_info("batch: %zu claimed, %lld sent, %lld deferred, %lld failed, %lld suppressed, "
		 "%lld expired, %lld cancelled; %d events, %d contacts evaluated, %d sends scheduled",
		 claimed, (long long)(t->sent - before->sent),
		 (long long)(t->deferred - before->deferred), (long long)(t->failed - before->failed),
		 (long long)(t->suppressed - before->suppressed),
		 (long long)(t->expired - before->expired),
		 (long long)(t->cancelled - before->cancelled), st->events, st->evaluated,
		 st->scheduled);
}

static int stopping(const struct worker *w)
{
	return w->o->stop && *w->o->stop;
}

/* pass - one round of scheduling and one batch; *busy when there was work */
static int pass(struct worker *w, int64_t now, int *busy, struct err *e)
{
	struct sched_stats st = {0};
	struct worker_totals before = *w->t;
	int more, released;
	*busy = 0;
	if (store_workers_reap(w->s, w->host, pid_alive, now, &released, e) < 0)
		return -1;
	if (released)
		log_info("released %d sends claimed by dead workers", released);
	do {
		if (schedule_events(w->s, w->cfg, now, 500, &more, &st, e) < 0)
			return -1;
	} while (more && !stopping(w));
	do {
		if (schedule_segments(w->s, w->cfg, now, 500, &more, &st, e) < 0)
			return -1;
	} while (more && !stopping(w));
	struct send_row *rows;
	size_t n;
	if (store_claim(w->s, w->owner, now, w->o->lease, w->o->batch, &rows, &n, e) < 0)
		return -1;
	w->t->claimed += (int64_t)n;
	int rc = 0;
	size_t i;
	for (i = 0; i < n && rc == 0 && !stopping(w); i++)
		rc = handle(w, &rows[i], w->o->now ? now : clock_now(w), e);
	/* give back what SIGTERM or an error left unhandled */
	struct err ignore;
	for (; i < n; i++)
		store_send_release(w->s, rows[i].id, w->owner, &ignore);
	send_rows_free(rows, n);
	log_pass(&st, &before, w->t, n);
	*busy = n > 0 || st.events > 0 || st.evaluated > 0;
	if (n == (size_t)w->o->batch)
		*busy = 2; /* a full batch: more is due at once */
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
	w.tr = xcalloc(cfg->ntransports + 1, sizeof(*w.tr));
	for (size_t i = 0; i < cfg->ntransports; i++) {
		w.tr[i] = transport_create(cfg, &cfg->transports[i], 0, e);
		if (!w.tr[i]) {
			rc = -1;
			goto out;
		}
	}
	w.r = renderer_create(cfg->templates);
	if (store_worker_register(s, w.owner, w.host, (int)getpid(), clock_now(&w), e) < 0) {
		rc = -1;
		goto out;
	}
	for (;;) {
		int busy;
		int64_t now = clock_now(&w);
		if ((rc = pass(&w, now, &busy, e)) < 0 || stopping(&w))
			break;
		if (busy)
			continue;
		if (o->once)
			break;
		int64_t next;
		if ((rc = store_next_wakeup(s, &next, e)) < 0)
			break;
		now = clock_now(&w);
		int64_t ms = next == TIME_NEVER ? 60000 : (next - now) * 1000;
		if (ms > 60000)
			ms = 60000;
		if (ms > 0)
			store_wait(s, ms);
	}
	struct err ignore;
	store_worker_stop(s, w.owner, &ignore);
out:
	for (size_t i = 0; i < cfg->ntransports; i++)
		transport_free(w.tr[i]);
	free(w.tr);
	renderer_free(w.r);
	return rc;
}
