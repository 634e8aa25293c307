/* store_internal.h - for the store's own files (store.c, store_*.c):
 * the handle and thin wrappers over the backend's ops table, so that the
 * domain queries can live in several files and still reach a backend only
 * through these. Not for anything outside src/store/. */
#ifndef OUTREACH_STORE_INTERNAL_H
#define OUTREACH_STORE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "pii.h"
#include "store.h"
#include "store_backend.h"
#include "xmalloc.h"

struct store {
	const struct store_ops *ops;
	void *db;
	int in_tx;
	int locked; /* the bookkeeping lock is held (until commit/rollback) */
	struct pii_keys *keys; /* personal data is sealed under these (NULL: in clear) */
	unsigned char idx[PII_KEY_LEN]; /* the index key of the keyed hashes */
	int have_idx;
};

/* FOR_UPDATE - sql, with FOR UPDATE SKIP LOCKED where the backend has row
 * locks (both are static strings: statements are cached by pointer) */
#define FOR_UPDATE(s, sql) ((s)->ops->row_locks ? sql " FOR UPDATE SKIP LOCKED" : sql)

/* book_lock - take the store-wide bookkeeping lock once per transaction
 * before reading what another worker may be deciding at the same moment
 * (caps, rate buckets, enrollment limits); a no-op on SQLite, whose write
 * transactions are serialized already */
static inline int book_lock(struct store *s, struct err *e)
{
	if (!s->ops->lock || s->locked)
		return 0;
	if (s->ops->lock(s->db, e) < 0)
		return -1;
	s->locked = s->in_tx;
	return 0;
}


/* Thin wrappers: the ops table is reached only through these. */
#define OPS (s->ops)
static inline struct store_stmt *prep(struct store *s, const char *sql, struct err *e)
{
	return OPS->prepare(s->db, sql, e);
}
static inline void bint(struct store *s, struct store_stmt *st, int i, int64_t v)
{
	OPS->bind_int(st, i, v);
}
static inline void btxt(struct store *s, struct store_stmt *st, int i, const char *v)
{
	OPS->bind_text(st, i, v);
}
static inline int step(struct store *s, struct store_stmt *st, struct err *e)
{
	return OPS->step(st, e);
}
static inline int64_t cint(struct store *s, struct store_stmt *st, int i)
{
	return OPS->col_int(st, i);
}
static inline const char *ctxt(struct store *s, struct store_stmt *st, int i)
{
	return OPS->col_text(st, i);
}
static inline char *cdup(struct store *s, struct store_stmt *st, int i)
{
	return xstrdup(OPS->col_text(st, i));
}
static inline int cnull(struct store *s, struct store_stmt *st, int i)
{
	return OPS->col_null(st, i);
}
static inline void done(struct store *s, struct store_stmt *st)
{
	OPS->reset(st);
}
/* run - step a statement that returns no rows */
static inline int run(struct store *s, struct store_stmt *st, struct err *e)
{
	int rc = step(s, st, e);
	done(s, st);
	return rc < 0 ? -1 : 0;
}

/* run_changed - run (a statement without rows) and say how many rows it
 * changed: -1 on failure, else the count */
static inline int64_t run_changed(struct store *s, struct store_stmt *st, struct err *e)
{
	int rc = step(s, st, e);
	int64_t changed = OPS->changes(st);
	done(s, st);
	return rc < 0 ? -1 : changed;
}

/* rows - step st to the end, filling one element of size bytes per row
 * with fill; *out is owned by the caller even on failure (with *n filled) */
static inline int rows(struct store *s, struct store_stmt *st, size_t size,
		void (*fill)(struct store *s, struct store_stmt *st, void *slot), void **out,
		size_t *n, struct err *e)
{
	char *v = NULL;
	size_t cap = 0;
	int rc;
	*n = 0;
	while ((rc = step(s, st, e)) == 1) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * size);
		}
		fill(s, st, v + (*n)++ * size);
	}
	done(s, st);
	*out = v;
	return rc < 0 ? -1 : 0;
}

/* one_id - step st (bound) for one integer column: 0 found, 1 none (*id
 * then 0), -1 on failure */
static inline int one_id(struct store *s, struct store_stmt *st, int64_t *id, struct err *e)
{
	int rc = step(s, st, e);
	*id = rc == 1 ? cint(s, st, 0) : 0;
	done(s, st);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

/* store_meta_get - meta's value for key into *out (NULL when absent) */
int store_meta_get(struct store *s, const char *key, char **out, struct err *e);
/* store_meta_set - set meta's key to value; NULL deletes it */
int store_meta_set(struct store *s, const char *key, const char *value, struct err *e);

/* ---- personal data (store_pii.c) ---- */

/* pii_in - v as the store keeps it in the column label: sealed when the
 * store is, else a copy; NULL for NULL (caller frees) */
char *pii_in(struct store *s, const char *label, const char *v);
/* pii_out - a stored value of column label in clear into *out (NULL for
 * NULL); -1 with e set when it does not open */
int pii_out(struct store *s, const char *label, const char *v, char **out, struct err *e);
/* addr_form - an address as sends and inbound keep it and are searched
 * by: its keyed hash when the store is sealed, else addr itself (buf
 * holds the hash; NULL for NULL) */
const char *addr_form(struct store *s, const char *addr, char buf[PII_HASH_LEN + 1]);
/* addr_hash - addr's keyed hash into buf when the store has an index key
 * (sealed, or a person was forgotten), else NULL */
const char *addr_hash(struct store *s, const char *addr, char buf[PII_HASH_LEN + 1]);
/* pii_redact - text (a reason) with every occurrence of addr, in any case,
 * made "[address]" when the store is sealed; a copy, NULL for NULL */
char *pii_redact(struct store *s, const char *text, const char *addr);

/* store_log_state - one row of a send's history (send_log) */
int store_log_state(struct store *s, int64_t id, int64_t now, const char *state,
		    const char *reason, struct err *e);

#endif
