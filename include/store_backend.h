/* store_backend.h - what a store backend implements (SQLite, PostgreSQL).
 *
 * The domain queries live once, in store.c, written in the SQL both engines
 * speak (`?` placeholders, INSERT ... ON CONFLICT, RETURNING). A backend
 * supplies the connection, statements, transactions, its schema migrations
 * and the wake-up channel between processes, as a const ops table (curl's
 * Curl_protocol, Postfix's dict_open_info[]).
 */
#ifndef OUTREACH_STORE_BACKEND_H
#define OUTREACH_STORE_BACKEND_H
#include <stdint.h>

#include "err.h"

struct store_stmt; /* a backend's prepared statement */

struct store_ops {
	const char *name; /* "sqlite" */
	/* accepts - MUST: 1 when this backend serves the URL or path */
	int (*accepts)(const char *url);
	/* open - MUST: connect; errors say what failed and where */
	int (*open)(const char *url, void **db, struct err *e);
	/* close - MUST: finalize cached statements, disconnect (NULL allowed) */
	void (*close)(void *db);
	/* exec - MUST: run SQL text without parameters or rows (DDL, several statements) */
	int (*exec)(void *db, const char *sql, struct err *e);
	/* begin/commit/rollback - MUST; write=1 takes the write lock at once */
	int (*begin)(void *db, int write, struct err *e);
	int (*commit)(void *db, struct err *e);
	void (*rollback)(void *db);
	/* prepare - MUST: a statement for sql, cached by the sql pointer (the
	 * caller passes static strings), reset and with bindings cleared */
	struct store_stmt *(*prepare)(void *db, const char *sql, struct err *e);
	/* bind_* - MUST: 1-based parameters */
	void (*bind_int)(struct store_stmt *st, int i, int64_t v);
	void (*bind_double)(struct store_stmt *st, int i, double v);
	void (*bind_text)(struct store_stmt *st, int i, const char *v); /* NULL binds NULL */
	/* step - MUST: 1 a row is ready, 0 done, -1 error (e set) */
	int (*step)(struct store_stmt *st, struct err *e);
	/* col_* - MUST: 0-based columns of the current row; text is borrowed until
	 * the next step/reset and is NULL for SQL NULL */
	int64_t (*col_int)(struct store_stmt *st, int i);
	double (*col_double)(struct store_stmt *st, int i);
	const char *(*col_text)(struct store_stmt *st, int i);
	int (*col_null)(struct store_stmt *st, int i);
	/* col_count - MUST: columns of the current row */
	int (*col_count)(struct store_stmt *st);
	/* changes - MUST: rows changed by the last completed statement */
	int64_t (*changes)(struct store_stmt *st);
	/* reset - MUST: done with the statement for now */
	void (*reset)(struct store_stmt *st);
	/* migrations - MUST: DDL per schema version, [0] = version 1, NULL-ended */
	const char *const *migrations;
	/* notify - MAY: wake processes waiting in wait() (new events) */
	void (*notify)(void *db);
	/* wait - MAY: sleep up to timeout_ms or until notified; 1 notified, 0 timeout */
	int (*wait)(void *db, int64_t timeout_ms);
	/* lock - MAY: take the store-wide bookkeeping lock until the transaction
	 * ends (caps, rate buckets, enrollment limits, migrations). A backend
	 * whose write transactions are already serialized (SQLite) has none */
	int (*lock)(void *db, struct err *e);
	/* row_locks - 1 when SELECT ... FOR UPDATE SKIP LOCKED is understood:
	 * claims then skip rows another worker is taking */
	int row_locks;
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

#endif
