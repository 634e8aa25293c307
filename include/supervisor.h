/* supervisor.h - `run --workers N`: N worker processes under one parent that
 * restarts a crashed one, forwards SIGTERM/SIGINT and waits for the drain.
 * The supervisor itself holds no store connection and sends nothing; the
 * children cooperate through the store like independent `run` processes. */
#ifndef OUTREACH_SUPERVISOR_H
#define OUTREACH_SUPERVISOR_H

#include "worker.h"

#define SUPERVISOR_MAX 256 /* the most children one supervisor runs */

struct supervisor_opts {
	int n;    /* children, 1 to SUPERVISOR_MAX */
	int once; /* each child runs once: a clean exit is final, not restarted */
};

/* supervisor_child - the body of one child, called in the child right after
 * fork with the signal mask and dispositions back to the defaults (the
 * function installs its own handlers). It MUST NOT use any store handle or
 * thread opened before the fork. It returns the child's exit status and MAY
 * fill *t (zeroed), which is passed back to the supervisor and summed. */
typedef int (*supervisor_child)(void *arg, struct worker_totals *t);

/* supervisor_run - fork o->n children running fn(arg) and watch them until
 * they are done. A child that dies by a signal, or that exits non-zero
 * without --once, or exits at all when no stop was asked for, is restarted
 * after a backoff (1 s doubling to 30 s, reset once a child stayed up a
 * minute); one that dies within 1 s of its start 5 times in a row makes the
 * supervisor give up: it stops the others and returns 1. SIGTERM and SIGINT
 * are forwarded to every child, restarts stop, and the supervisor waits for
 * all of them. Logs one line per unexpected death, naming the pid and the
 * signal or status. Returns the process exit status: with once, the worst
 * final status of the children (0 when all exited cleanly); after a signal,
 * 0 when every child drained cleanly, else 1. *sum (zeroed first) holds the
 * totals of the children that returned normally; *stopped is set when a
 * signal ended the run. Must be called with no threads running. */
int supervisor_run(const struct supervisor_opts *o, supervisor_child fn, void *arg,
		   struct worker_totals *sum, int *stopped);

#endif
