/* transport.c - the registry of transport kinds, the thin wrappers, and
 * the threads that run deliveries behind a queue.
 *
 * Every kind is a const struct transport_ops listed in kinds[]. Callers go
 * through transport_deliver, where the arguments and the ops' answers are
 * checked and each delivery is traced at debug level (no addresses).
 *
 * Asynchronous delivery, as Postfix's qmgr hands mail to delivery agents:
 * transport_submit puts a job on the transport's queue; the transport's
 * threads (started on the first submit, as many as the kind's `threads`)
 * each take up to `batch` jobs, call deliver once for them, and push the
 * finished jobs onto the caller's completion queue, whose condition
 * variable wakes transport_collect. A kind with 0 threads delivers inline.
 * The worker thread alone touches the store; these threads touch only the
 * network and the jobs they hold.
 *
 * Acks: a kind with deliver_acked pushes each job back the moment its
 * outcome is known (transport_ack) and, on a held queue, blocks that
 * connection in transport_ack_wait until the worker has committed the
 * outcome and called transport_recorded. Each thread has one struct
 * transport_acks, reused from call to call: a slot per message, OPEN ->
 * BACK (with the caller) -> RECORDED, under the struct's mutex. A call
 * ends only when none of its slots is BACK any more, so the thread's next
 * call (which may reuse a kept-alive connection) never overtakes a
 * record, and a slot is never reused while a job still points at it.
 */
#include "transport.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "pii.h"
#include "timeutil.h"
#include "xmalloc.h"

static const struct transport_ops *const kinds[] = {
    &transport_outbox,
    &transport_http,
    &transport_webhook,
    &transport_smtp,
};

struct transport_done {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct transport_job *head, *tail;
	int hold; /* transport_done_hold: connections wait for the records */
	int running; /* threads in a call for q that wait for no record */
	int active;  /* threads in a call for q */
};

enum ack_state { ACK_OPEN, ACK_BACK, ACK_RECORDED };

struct ack_slot {
	struct transport_acks *a;
	enum ack_state state;
};

struct transport_acks {
	struct transport *t;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a slot became RECORDED */
	struct qlink **ls; /* the call's jobs; NULL once acked */
	const struct message **ms;
	struct delivery *ds;
	struct ack_slot *slots;
	size_t n;
	int stop; /* the caller gave an outcome up: send nothing more */
	struct transport_done *q; /* the call's first job's queue: its running count */
};

/* how long a collector on a held queue waits, once something came back,
 * for the threads still at work to come back too: one commit for them all */
#define LINGER_US 1000

struct qlink {
	struct transport_job *job;
	struct transport_done *q;
	struct qlink *next;
};

struct transport {
	const struct transport_ops *ops;
	const struct transport_conf *conf; /* borrowed from the config */
	void *state;
	int nthreads;
	size_t batch;
	/* the job queue: each entry carries the completion queue it goes back to */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct qlink *queue, **queue_tail;
	pthread_t *threads;
	int started, stopping;
};


static const char *const status_names[] = {"ok", "defer", "fail"};

static const struct transport_ops *kind_find(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(*kinds); i++)
		if (strcmp(kinds[i]->kind, kind) == 0)
			return kinds[i];
	return NULL;
}

int transport_kind_known(const char *kind)
{
	return kind_find(kind) != NULL;
}

/* ---- the simulated kind: accepts everything, touches nothing ---- */

static int sim_create(const struct config *cfg, const struct transport_conf *conf, int flags,
		      void **state, struct err *e)
{
	(void)cfg, (void)conf, (void)flags, (void)e;
	*state = NULL;
	return 0;
}

static int sim_deliver(void *state, const struct message *const *m, size_t n, int64_t now,
		       struct delivery *d)
{
	(void)state, (void)m, (void)now;
	for (size_t i = 0; i < n; i++)
		transport_set(&d[i], DELIVERY_OK, "simulated", "simulated: nothing was sent");
	return 0;
}

static int sim_threads(void *state)
{
	(void)state;
	return 0;
}

static void sim_free(void *state)
{
	(void)state;
}

static const struct transport_ops transport_simulated = {
    .kind = "simulated",
    .create = sim_create,
    .deliver = sim_deliver,
    .threads = sim_threads,
    .free = sim_free,
};

/* the options every kind shares: the config's own and the policies' */
static const char *const common_keys[] = {"kind", "channel", "to", "max_attempts", "rate", "burst",
					  "domain_rate", "quiet_hours", "quiet_days", "track", NULL};

static int in_keys(const char *const *keys, const char *k)
{
	for (size_t i = 0; keys && keys[i]; i++)
		if (strcmp(keys[i], k) == 0)
			return 1;
	return 0;
}

/* check_keys - refuse an option neither the kind nor the worker reads (a
 * typo would otherwise be ignored in silence) */
static int check_keys(const struct config *cfg, const struct transport_conf *conf,
		      const struct transport_ops *ops, struct err *e)
{
	const char *k;
	json_t *v;
	json_object_foreach(conf->opts, k, v) {
		(void)v;
		if (in_keys(common_keys, k) || in_keys(ops->keys, k))
			continue;
		struct buf b = BUF_INIT;
		for (size_t i = 0; ops->keys && ops->keys[i]; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", ops->keys[i]);
		transport_conf_err(cfg, conf, k, e, "unknown option \"%.60s\" for kind %s (it takes %s)",
				   k, ops->kind, buf_cstr(&b));
		buf_release(&b);
		return -1;
	}
	return 0;
}

struct transport *transport_create(const struct config *cfg, const struct transport_conf *conf,
				   int flags, struct err *e)
{
	assert(conf);
	const struct transport_ops *ops =
	    flags & TRANSPORT_SIMULATE ? &transport_simulated : kind_find(conf->kind);
	if (!ops) {
		transport_conf_err(cfg, conf, "kind", e, "unknown kind \"%s\"",
				   conf->kind ? conf->kind : "");
		return NULL;
	}
	if (!(flags & TRANSPORT_SIMULATE) && check_keys(cfg, conf, ops, e) < 0)
		return NULL;
	void *state = NULL;
	if (ops->create(cfg, conf, flags, &state, e) < 0)
		return NULL;
	struct transport *t = xcalloc(1, sizeof(*t));
	t->ops = ops;
	t->conf = conf;
	t->state = state;
	t->nthreads = ops->threads ? ops->threads(state) : 1;
	t->batch = ops->batch ? ops->batch(state) : 1;
	if (t->nthreads < 0)
		t->nthreads = 0;
	if (t->batch < 1)
		t->batch = 1;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->queue_tail = &t->queue;
	return t;
}

static void check_delivery(const struct transport *t, const struct message *m, struct delivery *d)
{
	if (!(d->status == DELIVERY_OK || d->status == DELIVERY_DEFER ||
	      d->status == DELIVERY_FAIL))
		log_panic("transport \"%s\": bad delivery status %d", t->conf->name, (int)d->status);
	d->code[sizeof(d->code) - 1] = '\0';
	d->reason[sizeof(d->reason) - 1] = '\0';
	d->provider_id[sizeof(d->provider_id) - 1] = '\0';
	if (!d->code[0])
		snprintf(d->code, sizeof(d->code), "%s", status_names[d->status]);
	if (log_get_level() > LOG_DEBUG)
		return;
	/* the server's words may name the recipient: not in the log unless
	 * log_pii allows it */
	char *why = log_pii() ? NULL : pii_mask(d->reason, m->to);
	log_debug("send %lld: transport \"%s\" (%s): %s %s%s%s", (long long)m->send_id,
		  t->conf->name, t->ops->kind, status_names[d->status], d->code,
		  d->reason[0] ? ": " : "", why ? why : d->reason);
	free(why);
}

int transport_deliver(struct transport *t, const struct message *const *m, size_t n,
		      int64_t now, struct delivery *d)
{
	assert(t && t->ops && m && d);
	if (n == 0)
		return 0;
	memset(d, 0, n * sizeof(*d));
	int rc = t->ops->deliver_acked ? t->ops->deliver_acked(t->state, m, n, now, d, NULL)
				       : t->ops->deliver(t->state, m, n, now, d);
	if (rc < 0) {
		log_error("transport \"%s\": deliver failed", t->conf->name);
		for (size_t i = 0; i < n; i++)
			transport_set(&d[i], DELIVERY_DEFER, "internal",
				      "transport \"%s\" failed internally", t->conf->name);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		check_delivery(t, m[i], &d[i]);
	return 0;
}

const struct transport_conf *transport_conf(const struct transport *t)
{
	return t->conf;
}

size_t transport_capacity(const struct transport *t)
{
	return (size_t)(t->nthreads > 0 ? t->nthreads : 1) * t->batch;
}

/* ---- completion queue ---- */

struct transport_done *transport_done_create(void)
{
	struct transport_done *q = xcalloc(1, sizeof(*q));
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	return q;
}

void transport_done_hold(struct transport_done *q)
{
	q->hold = 1;
}

void transport_done_free(struct transport_done *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}

static void done_push(struct transport_done *q, struct transport_job *j)
{
	pthread_mutex_lock(&q->mu);
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	/* a collector waits for the first job, or lingers on running */
	if (q->head == j || q->running * 2 <= q->active)
		pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* running_add - a thread of q starts or stops working without waiting for
 * a record; the collector lingers while any does */
static void running_add(struct transport_done *q, int d, int active)
{
	pthread_mutex_lock(&q->mu);
	q->running += d;
	q->active += active;
	if (q->running * 2 <= q->active && q->head)
		pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void deadline_after(struct timespec *ts, long us)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += us / 1000000;
	ts->tv_nsec += (us % 1000000) * 1000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

struct transport_job *transport_collect(struct transport_done *q, int timeout_ms)
{
	pthread_mutex_lock(&q->mu);
	if (!q->head && timeout_ms > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!q->head)
			if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) != 0)
				break;
	}
	if (q->head && q->hold && q->running * 2 > q->active) {
		/* group commit: the threads still at work are about to come back
		 * (or are slow: then not more than LINGER_US) */
		struct timespec ts;
		deadline_after(&ts, LINGER_US);
		while (q->running * 2 > q->active)
			if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) != 0)
				break;
	}
	struct transport_job *list = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->mu);
	return list;
}

/* ---- acks: outcomes one by one, connections held until recorded ---- */

void transport_ack(struct transport_acks *a, size_t i)
{
	if (!a)
		return;
	if (i >= a->n || a->slots[i].state != ACK_OPEN)
		log_panic("transport \"%s\": message %zu of %zu acked twice or out of range",
			  a->t->conf->name, i, a->n);
	struct qlink *l = a->ls[i];
	check_delivery(a->t, a->ms[i], &a->ds[i]);
	l->job->d = a->ds[i];
	/* the slot is BACK before the job is: the caller may record it at once */
	pthread_mutex_lock(&a->mu);
	if (l->q->hold) {
		a->slots[i].state = ACK_BACK;
		l->job->ack = &a->slots[i];
	} else {
		a->slots[i].state = ACK_RECORDED;
		l->job->ack = NULL;
	}
	pthread_mutex_unlock(&a->mu);
	a->ls[i] = NULL;
	done_push(l->q, l->job);
	free(l);
}

int transport_ack_wait(struct transport_acks *a, size_t i)
{
	if (!a)
		return 0;
	assert(i < a->n);
	pthread_mutex_lock(&a->mu);
	if (a->slots[i].state == ACK_OPEN)
		log_panic("transport \"%s\": waited for message %zu, which was not acked",
			  a->t->conf->name, i);
	int waited = a->slots[i].state == ACK_BACK;
	if (waited) {
		pthread_mutex_unlock(&a->mu);
		running_add(a->q, -1, 0);
		pthread_mutex_lock(&a->mu);
	}
	while (a->slots[i].state == ACK_BACK)
		pthread_cond_wait(&a->cv, &a->mu);
	int stop = a->stop;
	pthread_mutex_unlock(&a->mu);
	if (waited)
		running_add(a->q, 1, 0);
	return stop ? -1 : 0;
}

void transport_recorded(struct transport_job *job, int stop)
{
	struct ack_slot *slot = job->ack;
	if (!slot)
		return;
	job->ack = NULL;
	struct transport_acks *a = slot->a;
	pthread_mutex_lock(&a->mu);
	slot->state = ACK_RECORDED;
	if (stop)
		a->stop = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu); /* a belongs to its thread again from here */
}

static struct transport_acks *acks_create(struct transport *t)
{
	struct transport_acks *a = xcalloc(1, sizeof(*a));
	a->t = t;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->ls = xcalloc(t->batch, sizeof(*a->ls));
	a->ms = xcalloc(t->batch, sizeof(*a->ms));
	a->ds = xcalloc(t->batch, sizeof(*a->ds));
	a->slots = xcalloc(t->batch, sizeof(*a->slots));
	return a;
}

static void acks_free(struct transport_acks *a)
{
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a->ls);
	free(a->ms);
	free(a->ds);
	free(a->slots);
	free(a);
}

/* call - one deliver call for the n jobs in a->ls: each job goes back as
 * soon as the kind acks it (or when the call returns), and the call ends
 * when every outcome it handed back is recorded */
static void call(struct transport *t, struct transport_acks *a, size_t n)
{
	a->n = n;
	a->stop = 0;
	for (size_t i = 0; i < n; i++) {
		a->ms[i] = a->ls[i]->job->m;
		a->slots[i] = (struct ack_slot){.a = a, .state = ACK_OPEN};
	}
	memset(a->ds, 0, n * sizeof(*a->ds));
	/* one clock per batch: the jobs of a batch were queued together */
	int64_t now = a->ls[0]->job->now;
	a->q = a->ls[0]->q;
	if (!t->ops->deliver_acked) {
		transport_deliver(t, a->ms, n, now, a->ds);
		for (size_t i = 0; i < n; i++) {
			a->ls[i]->job->d = a->ds[i];
			a->ls[i]->job->ack = NULL;
			done_push(a->ls[i]->q, a->ls[i]->job);
			free(a->ls[i]);
			a->ls[i] = NULL;
		}
		return;
	}
	running_add(a->q, 1, 1);
	int rc = t->ops->deliver_acked(t->state, a->ms, n, now, a->ds, a);
	if (rc < 0)
		log_error("transport \"%s\": deliver failed", t->conf->name);
	for (size_t i = 0; i < n; i++) {
		if (a->slots[i].state != ACK_OPEN)
			continue;
		if (rc < 0)
			transport_set(&a->ds[i], DELIVERY_DEFER, "internal",
				      "transport \"%s\" failed internally", t->conf->name);
		transport_ack(a, i);
	}
	running_add(a->q, -1, 0);
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < n; i++)
		while (a->slots[i].state == ACK_BACK)
			pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
	running_add(a->q, 0, -1);
}

/* ---- the transport's threads ---- */

static void *deliver_thread(void *arg)
{
	struct transport *t = arg;
	struct transport_acks *a = acks_create(t);
	for (;;) {
		size_t n = 0;
		pthread_mutex_lock(&t->mu);
		while (!t->queue && !t->stopping)
			pthread_cond_wait(&t->cv, &t->mu);
		if (!t->queue && t->stopping) {
			pthread_mutex_unlock(&t->mu);
			break;
		}
		struct qlink *l = t->queue;
		while (l && n < t->batch) {
			a->ls[n++] = l;
			l = l->next;
		}
		t->queue = l;
		if (!l)
			t->queue_tail = &t->queue;
		if (l)
			pthread_cond_signal(&t->cv); /* more for another thread */
		pthread_mutex_unlock(&t->mu);
		call(t, a, n);
	}
	acks_free(a);
	return NULL;
}

void transport_submit(struct transport *t, struct transport_job *job, struct transport_done *q)
{
	assert(t && job && job->m && q);
	if (t->nthreads == 0) {
		transport_deliver(t, &job->m, 1, job->now, &job->d);
		job->ack = NULL;
		done_push(q, job);
		return;
	}
	struct qlink *l = xcalloc(1, sizeof(*l));
	l->job = job;
	l->q = q;
	pthread_mutex_lock(&t->mu);
	if (!t->started) {
		t->threads = xcalloc((size_t)t->nthreads, sizeof(*t->threads));
		for (int i = 0; i < t->nthreads; i++)
			if (pthread_create(&t->threads[i], NULL, deliver_thread, t) != 0)
				log_panic("transport \"%s\": cannot start a thread", t->conf->name);
		t->started = 1;
	}
	*t->queue_tail = l;
	t->queue_tail = &l->next;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

struct transport_job *transport_cancel_queued(struct transport *t)
{
	pthread_mutex_lock(&t->mu);
	struct qlink *l = t->queue;
	t->queue = NULL;
	t->queue_tail = &t->queue;
	pthread_mutex_unlock(&t->mu);
	struct transport_job *head = NULL, **tail = &head;
	while (l) {
		struct qlink *next = l->next;
		*tail = l->job;
		l->job->next = NULL;
		tail = &l->job->next;
		free(l);
		l = next;
	}
	return head;
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	if (t->started) {
		pthread_mutex_lock(&t->mu);
		t->stopping = 1;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		for (int i = 0; i < t->nthreads; i++)
			pthread_join(t->threads[i], NULL);
		free(t->threads);
	}
	/* jobs never started are the caller's to have taken back */
	struct transport_job *left = transport_cancel_queued(t);
	if (left)
		log_warn("transport \"%s\": freed with queued jobs", t->conf->name);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	t->ops->free(t->state);
	free(t);
}

/* ---- helpers for kinds ---- */

int transport_conf_err(const struct config *cfg, const struct transport_conf *conf,
		       const char *key, struct err *e, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *name = conf->name ? conf->name : "";
	int line = 0;
	if (cfg && cfg->path) {
		if (key) {
			char *ptr = xasprintf("%s/%s", conf->pointer ? conf->pointer : "", key);
			line = config_line(cfg, ptr);
			free(ptr);
		}
		if (line <= 0)
			line = conf->line;
	}
	if (!cfg || !cfg->path)
		return err_set(e, "transport \"%s\": %s", name, msg);
	if (line > 0)
		return err_set(e, "%s:%d: transport \"%s\": %s", cfg->path, line, name, msg);
	return err_set(e, "%s: transport \"%s\": %s", cfg->path, name, msg);
}

static json_t *opt(const struct transport_conf *conf, const char *key)
{
	json_t *v = conf->opts ? json_object_get(conf->opts, key) : NULL;
	return v && !json_is_null(v) ? v : NULL;
}

int transport_opt_str(const struct config *cfg, const struct transport_conf *conf,
		      const char *key, const char **out, struct err *e)
{
	json_t *v = opt(conf, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return transport_conf_err(cfg, conf, key, e, "%s must be a non-empty string", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return transport_conf_err(cfg, conf, key, e, "%s must not contain NUL", key);
	*out = json_string_value(v);
	return 0;
}

int transport_opt_int(const struct config *cfg, const struct transport_conf *conf,
		      const char *key, long def, long min, long max, long *out, struct err *e)
{
	json_t *v = opt(conf, key);
	*out = def;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return transport_conf_err(cfg, conf, key, e, "%s must be an integer from %ld to %ld",
					  key, min, max);
	*out = (long)json_integer_value(v);
	return 0;
}

int transport_opt_duration_ms(const struct config *cfg, const struct transport_conf *conf,
			      const char *key, long def_ms, long *out, struct err *e)
{
	json_t *v = opt(conf, key);
	*out = def_ms;
	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 86400) {
		*out = (long)json_integer_value(v) * 1000;
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = strlen(s);
		char *end;
		if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
			long ms = strtol(s, &end, 10);
			if (end == s + n - 2 && ms > 0 && ms <= 86400000L) {
				*out = ms;
				return 0;
			}
		} else {
			int64_t secs;
			if (duration_parse(s, &secs) == 0 && secs > 0 && secs <= 86400) {
				*out = (long)secs * 1000;
				return 0;
			}
		}
	}
	return transport_conf_err(cfg, conf, key, e,
				  "%s must be a duration such as 10s or 500ms (at most 1d)", key);
}

int transport_secret(const struct config *cfg, const struct transport_conf *conf,
		     const char *key_env, int flags, const char **out, struct err *e)
{
	const char *name;
	*out = NULL;
	if (transport_opt_str(cfg, conf, key_env, &name, e) < 0)
		return -1;
	if (!name)
		return 0;
	const char *v = getenv(name);
	if ((!v || !*v) && !(flags & TRANSPORT_CHECK))
		return transport_conf_err(cfg, conf, key_env, e,
					  "%s names %s, which is not set in the environment",
					  key_env, name);
	*out = v && *v ? v : NULL;
	return 0;
}

void transport_set(struct delivery *d, enum delivery_status st, const char *code,
		   const char *fmt, ...)
{
	d->status = st;
	snprintf(d->code, sizeof(d->code), "%s", code ? code : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	/* one line: a server's multi-line answer is joined with spaces */
	for (char *p = d->reason; *p; p++)
		if (*p == '\r' || *p == '\n' || *p == '\t')
			*p = ' ';
	for (char *p = d->code; *p; p++)
		if (*p == '\r' || *p == '\n' || *p == '\t')
			*p = ' ';
}
