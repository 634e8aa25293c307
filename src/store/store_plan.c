/* store_plan.c - the queries `plan` and `suppress` need that store.h lacks,
 * run with the sqlite3 C API straight on the store's SQLite file.
 *
 * plan reads the send_log of its own snapshot (always SQLite), so these
 * open the file read-only; `suppress --list` reads the live store the same
 * way, and `suppress --remove` opens it read-write for one short DELETE
 * transaction, waiting on a busy database as the backend does. Each of
 * these is one statement that belongs in store.c on struct store; they
 * live here only until the store API has them (see store_plan.h).
 * SQL is prepared with bound parameters only.
 */
#include "store_plan.h"

#include <sqlite3.h>
#include <string.h>

#define BUSY_MS 5000

const char *store_plan_file(const char *url)
{
	if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
		return NULL;
	return strncmp(url, "sqlite://", 9) == 0 ? url + 9 : url;
}

/* db_open - a connection to path; NULL with e set */
static sqlite3 *db_open(const char *path, int write, struct err *e)
{
	sqlite3 *h = NULL;
	int flags = write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &h, flags, NULL) != SQLITE_OK) {
		err_set(e, "store %s: cannot open: %s", path,
			h ? sqlite3_errmsg(h) : "out of memory");
		sqlite3_close(h);
		return NULL;
	}
	sqlite3_busy_timeout(h, BUSY_MS);
	return h;
}

static int db_fail(sqlite3 *h, const char *path, struct err *e)
{
	return err_set(e, "store %s: %s", path, sqlite3_errmsg(h));
}

static sqlite3_stmt *prep(sqlite3 *h, const char *path, const char *sql, struct err *e)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		db_fail(h, path, e);
		return NULL;
	}
	return st;
}

static const char *col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int store_plan_last_change(const char *path, int64_t *id, struct err *e)
{
	sqlite3 *h = db_open(path, 0, e);
	if (!h)
		return -1;
	int rc = -1;
	sqlite3_stmt *st = prep(h, path, "SELECT COALESCE(MAX(id), 0) FROM send_log", e);
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (st) {
		db_fail(h, path, e);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc;
}

int store_plan_changes(const char *path, int64_t after_id, int64_t since,
		       void (*fn)(void *ud, const struct plan_change *c), void *ud, struct err *e)
{
	sqlite3 *h = db_open(path, 0, e);
	if (!h)
		return -1;
	sqlite3_stmt *st =
	    prep(h, path,
		 "SELECT l.send_id, l.at, l.state, s.campaign, s.contact_id, s.channel "
		 "FROM send_log l JOIN sends s ON s.id = l.send_id "
		 "WHERE l.id > ? AND l.at >= ? ORDER BY l.send_id, l.id",
		 e);
	int rc = st ? 0 : -1, r;
	if (st) {
		sqlite3_bind_int64(st, 1, after_id);
		sqlite3_bind_int64(st, 2, since);
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			struct plan_change c = {
			    .send_id = sqlite3_column_int64(st, 0),
			    .at = sqlite3_column_int64(st, 1),
			    .state = col(st, 2),
			    .campaign = col(st, 3),
			    .contact = col(st, 4),
			    .channel = col(st, 5),
			};
			fn(ud, &c);
		}
		if (r != SQLITE_DONE)
			rc = db_fail(h, path, e);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc;
}

int store_plan_suppressions(const char *url, void (*fn)(void *ud, const struct suppression *s),
			    void *ud, struct err *e)
{
	const char *path = store_plan_file(url);
	if (!path)
		return err_set(e, "this build reads the suppression list from SQLite stores only");
	sqlite3 *h = db_open(path, 0, e);
	if (!h)
		return -1;
	sqlite3_stmt *st = prep(
	    h, path, "SELECT address, channel, reason, at FROM suppressions ORDER BY address", e);
	int rc = st ? 0 : -1, r;
	if (st) {
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			struct suppression s = {
			    .address = col(st, 0),
			    .channel = col(st, 1),
			    .reason = col(st, 2),
			    .at = sqlite3_column_int64(st, 3),
			};
			fn(ud, &s);
		}
		if (r != SQLITE_DONE)
			rc = db_fail(h, path, e);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc;
}

int store_plan_unsuppress(const char *url, char *const *addresses, size_t n, int *removed,
			  struct err *e)
{
	const char *path = store_plan_file(url);
	if (!path)
		return err_set(e, "this build removes suppressions from SQLite stores only");
	sqlite3 *h = db_open(path, 1, e);
	if (!h)
		return -1;
	int rc = -1;
	sqlite3_stmt *st = NULL;
	if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(h, path, e);
		goto out;
	}
	st = prep(h, path, "DELETE FROM suppressions WHERE address = ?", e);
	if (!st)
		goto rollback;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, addresses[i], -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE) {
			db_fail(h, path, e);
			goto rollback;
		}
		removed[i] = sqlite3_changes(h) > 0;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(h, path, e);
		goto rollback;
	}
	rc = 0;
	goto out;
rollback:
	sqlite3_finalize(st);
	st = NULL;
	sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
out:
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc;
}
