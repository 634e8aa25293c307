/* store_plan.h - queries that `plan` and `suppress` need and store.h does
 * not have yet, run straight on an SQLite file (store_plan.c). Each is
 * meant to move into store.c, on struct store, once the store API takes
 * it; until then they serve the SQLite backend only. Every function
 * returns 0 on success and -1 with e set on failure. Strings handed to a
 * callback are borrowed for the duration of the call.
 */
#ifndef OUTREACH_STORE_PLAN_H
#define OUTREACH_STORE_PLAN_H
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* store_plan_file - the SQLite file a store URL names ("sqlite://P" or a
 * plain path), or NULL for another backend (postgresql://) */
const char *store_plan_file(const char *url);

/* store_plan_last_change - the id of the newest send_log row in the
 * SQLite file at path (0 when there is none); read-only */
int store_plan_last_change(const char *path, int64_t *id, struct err *e);

/* One state change of a send, with what plan groups it by. */
struct plan_change {
	int64_t send_id;
	int64_t at;
	const char *state; /* "sent", "deferred", "suppressed", ... */
	const char *campaign;
	const char *contact;
	const char *channel; /* the send's channel kind, NULL when none was picked */
};

/* store_plan_changes - fn for every send_log row of the SQLite file at path
 * with id > after_id and at >= since, ordered by send, then by time:
 * read-only */
int store_plan_changes(const char *path, int64_t after_id, int64_t since,
		       void (*fn)(void *ud, const struct plan_change *c), void *ud, struct err *e);

/* One row of the suppression list. */
struct suppression {
	const char *address;
	const char *channel; /* NULL when unknown */
	const char *reason;
	int64_t at;
};

/* store_plan_suppressions - fn for every suppressed address of the SQLite
 * store at url, in address order; read-only */
int store_plan_suppressions(const char *url, void (*fn)(void *ud, const struct suppression *s),
			    void *ud, struct err *e);

/* store_plan_unsuppress - take addresses[0..n) off the suppression list of
 * the SQLite store at url, in one transaction; removed[i] is 1 when
 * addresses[i] was on it (removed is caller-allocated, n elements) */
int store_plan_unsuppress(const char *url, char *const *addresses, size_t n, int *removed,
			  struct err *e);

#endif
