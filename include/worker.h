/* worker.h - the dispatcher: claim -> check -> pick channel -> render ->
 * deliver -> record, in short transactions, with leases on the same clock
 * as `now` so that a crashed worker's claims are taken over. */
#ifndef OUTREACH_WORKER_H
#define OUTREACH_WORKER_H
#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

struct worker_opts {
	int once;            /* handle all that is due at now, then return */
	int64_t now;         /* fixed clock (--now); 0 = the wall clock */
	int batch;           /* sends claimed per transaction (default 100) */
	int64_t lease;       /* seconds (default 300) */
	int max_attempts;    /* transient failures before `failed` (default 5) */
	int simulate;        /* every transport a stand-in that sends nothing (plan) */
	volatile sig_atomic_t *stop; /* set by SIGTERM: finish in-flight work, return */
};

struct worker_totals {
	int64_t claimed, sent, deferred, failed, suppressed, expired, cancelled;
	int64_t held; /* deferred by a policy (quiet hours, caps, rates): not an attempt */
};

/* worker_run - returns 0 on a clean finish, -1 with e set on a store or
 * start-up failure (a transport that cannot be created, ...) */
int worker_run(struct store *s, const struct config *cfg, const struct worker_opts *o,
	       struct worker_totals *t, struct err *e);

#endif
