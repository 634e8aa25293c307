/* transport.h - delivery agents, one const ops table per kind.
 *
 * A transport delivers messages and reports, for each, OK, DEFER or FAIL
 * with a code and a one-line reason (Postfix's delivery status). It never
 * retries, never reads the store, never applies policy: the worker owns
 * that. A kind implements `deliver` for a batch of messages, synchronously;
 * this module runs each transport's deliveries on its own threads (the
 * kind says how many) behind a queue, so the worker submits jobs and
 * collects finished ones without waiting on the network.
 *
 * At most one message per connection between the server's acceptance and
 * the caller's record (the crash window, docs/CRASH.md): a kind that keeps
 * connections implements `deliver_acked`, which hands each message's
 * outcome back as the server gives it (transport_ack) and waits, before
 * that connection carries another message, until the caller says the
 * outcome is recorded (transport_recorded). A kill then repeats at most
 * the one message per connection whose record was not yet committed.
 */
#ifndef OUTREACH_TRANSPORT_H
#define OUTREACH_TRANSPORT_H
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "message.h"

enum delivery_status {
	DELIVERY_OK = 0,    /* accepted by the next hop */
	DELIVERY_DEFER = 1, /* transient: try again later */
	DELIVERY_FAIL = 2,  /* permanent for this address and transport */
};

struct delivery {
	enum delivery_status status;
	char code[32];         /* "250", "550 5.1.1", "http 429", "timeout", "connect" */
	char reason[256];      /* one line, the server's words where there are any;
	                        * never a secret (no URL query, no password) */
	char provider_id[128]; /* the provider's message id, "" when none */
	int64_t retry_after;   /* seconds the server asked to wait, 0 = none */
	int hard_bounce;       /* FAIL only: the address itself is bad (SMTP 5.1.x
	                        * on the recipient); the worker suppresses it */
};

/* create flags */
#define TRANSPORT_CHECK 1 /* validate only (`outreach check`): secrets from the
                           * environment are not required, nothing is opened */
#define TRANSPORT_SIMULATE 2 /* `outreach plan`: a stand-in that accepts every
                              * message at once and sends nothing */

struct transport_acks; /* one deliver_acked call's link back to its caller */

struct transport_ops {
	const char *kind; /* "outbox", "smtp", ... */
	/* keys - MUST: the options this kind reads, NULL-terminated; with the
	 * ones every kind shares, any other key is refused by name and line */
	const char *const *keys;
	/* create - MUST: validate conf and allocate state. Errors name the
	 * option's config line: use transport_conf_err. MUST NOT connect
	 * anywhere. With TRANSPORT_CHECK set, *state MAY be left NULL. */
	int (*create)(const struct config *cfg, const struct transport_conf *conf, int flags,
		      void **state, struct err *e);
	/* deliver - MUST: deliver each of the n messages once and fill d[i]
	 * for each, whatever its status; d[] arrives zeroed. MAY deliver
	 * several at once and several over one connection or session. Calls
	 * run on up to `threads` threads at once, so anything in state that a
	 * call changes needs a lock. Messages are borrowed for the call.
	 * Returns 0 whenever every d[i] was filled; -1 only on a broken
	 * invariant. */
	int (*deliver)(void *state, const struct message *const *m, size_t n, int64_t now,
		       struct delivery *d);
	/* deliver_acked - MAY, in place of deliver (a kind sets exactly one):
	 * the same call, which besides MUST call transport_ack(a, i) as soon
	 * as d[i] is final (the server answered message i's data, or i will
	 * not be sent) and then touch neither m[i] nor d[i] again; and MUST
	 * NOT start another message on the connection that carried message i
	 * before transport_ack_wait(a, i) returned. When that returns -1 the
	 * caller is giving up (its store is gone): the kind starts no other
	 * message and fills every d[] not yet acked with DEFER. Messages not
	 * acked when the call returns are acked by the caller then. a is NULL
	 * on the synchronous path (transport_deliver): both calls then return
	 * at once. */
	int (*deliver_acked)(void *state, const struct message *const *m, size_t n, int64_t now,
			     struct delivery *d, struct transport_acks *a);
	/* threads - MAY: how many deliver calls may run at once (an SMTP
	 * session pool: `concurrency`); 0 runs deliver inline in the
	 * submitter's thread (outbox). NULL means 1. */
	int (*threads)(void *state);
	/* batch - MAY: the most messages one deliver call takes (a session's
	 * worth); NULL means 1. */
	size_t (*batch)(void *state);
	/* free - MUST: release state (NULL allowed) */
	void (*free)(void *state);
};

struct transport;

/* transport_kind_known - 1 when a kind is registered */
int transport_kind_known(const char *kind);
/* transport_create - find the kind's ops and create it; caller frees.
 * flags: TRANSPORT_CHECK or 0. Starts no thread until the first submit. */
struct transport *transport_create(const struct config *cfg, const struct transport_conf *conf,
				   int flags, struct err *e);
/* transport_deliver - deliver n messages now, in the caller's thread (the
 * wrapper where assertions and tracing live); d[] is filled. Nothing waits
 * for a record here: the caller has all the outcomes at once. */
int transport_deliver(struct transport *t, const struct message *const *m, size_t n,
		      int64_t now, struct delivery *d);
const struct transport_conf *transport_conf(const struct transport *t);
/* transport_capacity - how many jobs keep every thread busy (threads x batch) */
size_t transport_capacity(const struct transport *t);
void transport_free(struct transport *t);

/* ---- asynchronous delivery: jobs, a completion queue ---- */

struct transport_job {
	const struct message *m; /* borrowed until the job comes back */
	int64_t now;             /* the clock the caller uses (for Date:) */
	void *cookie;            /* the caller's */
	struct delivery d;       /* filled when the job comes back */
	struct transport_job *next; /* the queues' link: not the caller's */
	void *ack;               /* the connection waiting for its record: not
	                          * the caller's (NULL: nothing waits) */
};

struct transport_done;

/* transport_done_create - the queue finished jobs come back on, shared by
 * any number of transports; caller frees (after the transports) */
struct transport_done *transport_done_create(void);
/* transport_done_hold - the caller of q records each outcome and calls
 * transport_recorded for every job that comes back on q: until it does,
 * the connection that carried the job sends nothing more. Without it,
 * nothing waits (tests, tools that record nothing). On a held queue,
 * transport_collect, once something came back, lingers (at most 1 ms)
 * until at least half of the transport threads at work wait for their
 * records, so that one commit serves them. Call before the first submit. */
void transport_done_hold(struct transport_done *q);
void transport_done_free(struct transport_done *q);

/* transport_submit - queue job on t; it comes back on q once delivered
 * (at once for a kind with 0 threads). Never blocks on the network. */
void transport_submit(struct transport *t, struct transport_job *job, struct transport_done *q);
/* transport_collect - finished jobs, oldest first, as a list linked by
 * next; waits up to timeout_ms (0: no wait) for the first. NULL if none.
 * Each job's outcome comes back as soon as its server gave it (a kind
 * with deliver_acked) or its call ended. */
struct transport_job *transport_collect(struct transport_done *q, int timeout_ms);
/* transport_recorded - on a queue made with transport_done_hold, the
 * caller MUST call this once for every job that came back, when its
 * outcome is committed to the store (or no longer needs to be: a
 * permanent failure was not delivered), and before the job is freed or
 * submitted again: the connection that carried it may then go on. Until
 * then that connection sends nothing more, so a caller that keeps
 * outcomes in memory while its store is away holds its connections too.
 * stop = 1: the caller gives the outcome up (its store never came back);
 * the connection sends nothing more in its call, whose other messages
 * come back DEFERred. A no-op for a job nothing waits on (a kind without
 * deliver_acked, a queue not held). */
void transport_recorded(struct transport_job *job, int stop);
/* transport_cancel_queued - take back the jobs of t that no thread has
 * started, as a list (for a clean SIGTERM); NULL if none */
struct transport_job *transport_cancel_queued(struct transport *t);

/* ---- helpers for kinds ---- */

/* transport_ack - in deliver_acked: d[i] is final; its job goes back to
 * the caller now. A no-op when a is NULL. Call once per message. */
void transport_ack(struct transport_acks *a, size_t i);
/* transport_ack_wait - in deliver_acked: wait until the caller recorded
 * message i (acked before); 0 then, -1 when the caller gives up (send
 * nothing more). Returns 0 at once when a is NULL. */
int transport_ack_wait(struct transport_acks *a, size_t i);

/* transport_conf_err - fill e with "FILE:LINE: transport \"NAME\": MSG",
 * the line of option `key` (NULL: the transport's own line); returns -1 */
int transport_conf_err(const struct config *cfg, const struct transport_conf *conf,
		       const char *key, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* transport_opt_str - the string option key, or NULL when absent; -1 (e
 * filled) when present but not a string or empty */
int transport_opt_str(const struct config *cfg, const struct transport_conf *conf,
		      const char *key, const char **out, struct err *e);
/* transport_opt_int - an integer option in [min, max], def when absent */
int transport_opt_int(const struct config *cfg, const struct transport_conf *conf,
		      const char *key, long def, long min, long max, long *out, struct err *e);
/* transport_opt_duration_ms - a duration option ("10s", "500ms", 30),
 * def_ms when absent */
int transport_opt_duration_ms(const struct config *cfg, const struct transport_conf *conf,
			      const char *key, long def_ms, long *out, struct err *e);
/* transport_secret - the value of the environment variable named by option
 * key_env (e.g. password_env). *out NULL when the option is absent. A
 * named variable that is unset or empty is an error unless flags has
 * TRANSPORT_CHECK. The value is borrowed from the environment and MUST
 * NOT be logged. */
int transport_secret(const struct config *cfg, const struct transport_conf *conf,
		     const char *key_env, int flags, const char **out, struct err *e);
/* transport_set - fill d (code and reason are one line, cut to fit) */
void transport_set(struct delivery *d, enum delivery_status st, const char *code,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

extern const struct transport_ops transport_outbox;
extern const struct transport_ops transport_smtp;
extern const struct transport_ops transport_http;
extern const struct transport_ops transport_webhook;

#endif
