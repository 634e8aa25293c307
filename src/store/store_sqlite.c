/* store_sqlite.c - the embedded default store: SQLite in WAL mode.
 *
 * Statements are prepared once per connection and cached by their SQL
 * pointer. Writers take the lock at BEGIN (BEGIN IMMEDIATE) so two workers
 * never deadlock upgrading a read lock; a busy database is waited on for
 * a few seconds, then reported. New events wake sleeping workers through a
 * FIFO beside the database file (Postfix's qmgr trigger), so `run` sleeps
 * without polling.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stmt_cache.h"
#include "store_backend.h"
#include "xmalloc.h"

struct store_stmt {
	const char *key;
	sqlite3_stmt *st;
	struct sqlite_db *db;
	int64_t changes;
};

struct sqlite_db {
	sqlite3 *h;
	char *path;
	char *fifo;
	int fifo_fd;
	struct stmt_cache cache;
};

static int sq_err(struct sqlite_db *db, struct err *e, const char *what)
{
	int code = sqlite3_extended_errcode(db->h) & 0xff;
	const char *msg = sqlite3_errmsg(db->h);
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return err_set(e, "store %s locked: %s (another process holds it; nothing was changed)",
			       db->path, msg);
	if (code == SQLITE_FULL)
		return err_set(e, "store %s full: %s (free disk space; nothing was changed)", db->path,
			       msg);
	if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM)
		return err_set(e, "store %s: %s", db->path, msg);
	return err_set(e, "store %s: %s: %s", db->path, what, msg);
}

static int sqlite_accepts(const char *url)
{
	/* a path, or sqlite://PATH; any other scheme is another backend's */
	return strncmp(url, "sqlite://", 9) == 0 || !strstr(url, "://");
}

static int sqlite_open(const char *url, void **out, struct err *e)
{
	struct sqlite_db *db = xcalloc(1, sizeof(*db));
	const char *path = strncmp(url, "sqlite://", 9) == 0 ? url + 9 : url;
	db->path = xstrdup(path);
	db->fifo_fd = -1;
	if (strcmp(path, ":memory:") != 0) {
		/* create the parent folder of a relative or absolute path */
		char *dir = xstrdup(path), *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			for (char *p = dir + 1; *p; p++)
				if (*p == '/') {
					*p = '\0';
					mkdir(dir, 0755);
					*p = '/';
				}
			mkdir(dir, 0755);
		}
		free(dir);
	}
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		err_set(e, "store %s: cannot open: %s", path,
			db->h ? sqlite3_errmsg(db->h) : "out of memory");
		sqlite3_close(db->h);
		free(db->path);
		free(db);
		return -1;
	}
	sqlite3_busy_timeout(db->h, 5000);
	char *msg = NULL;
	if (sqlite3_exec(db->h,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
			 "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
			 NULL, NULL, &msg) != SQLITE_OK) {
		err_set(e, "store %s: %s", path, msg ? msg : "cannot set up");
		sqlite3_free(msg);
		sqlite3_close(db->h);
		free(db->path);
		free(db);
		return -1;
	}
	if (strcmp(path, ":memory:") != 0)
		db->fifo = xasprintf("%s.wake", path);
	*out = db;
	return 0;
}

static void stmt_free(void *p)
{
	struct store_stmt *s = p;
	sqlite3_finalize(s->st);
	free(s);
}

static void sqlite_close(void *p)
{
	struct sqlite_db *db = p;
	if (!db)
		return;
	stmt_cache_free(&db->cache, stmt_free);
	sqlite3_close(db->h);
	if (db->fifo_fd >= 0)
		close(db->fifo_fd);
	free(db->fifo);
	free(db->path);
	free(db);
}

static int sqlite_exec(void *p, const char *sql, struct err *e)
{
	struct sqlite_db *db = p;
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sq_err(db, e, msg ? msg : "exec");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int sqlite_begin(void *p, int write, struct err *e)
{
	return sqlite_exec(p, write ? "BEGIN IMMEDIATE" : "BEGIN", e);
}

static int sqlite_commit(void *p, struct err *e)
{
	return sqlite_exec(p, "COMMIT", e);
}

static void sqlite_rollback(void *p)
{
	struct sqlite_db *db = p;
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

static struct store_stmt *sqlite_prepare(void *p, const char *sql, struct err *e)
{
	struct sqlite_db *db = p;
	struct store_stmt *s = stmt_cache_get(&db->cache, sql);
	if (!s) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
			sq_err(db, e, "prepare");
			return NULL;
		}
		s = xcalloc(1, sizeof(*s));
		s->key = sql;
		s->st = st;
		s->db = db;
		stmt_cache_put(&db->cache, sql, s);
	}
	sqlite3_reset(s->st);
	sqlite3_clear_bindings(s->st);
	s->changes = 0;
	return s;
}

static void sqlite_bind_int(struct store_stmt *s, int i, int64_t v)
{
	sqlite3_bind_int64(s->st, i, v);
}

static void sqlite_bind_double(struct store_stmt *s, int i, double v)
{
	sqlite3_bind_double(s->st, i, v);
}

static void sqlite_bind_text(struct store_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s->st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s->st, i);
}

static int sqlite_step(struct store_stmt *s, struct err *e)
{
	int rc = sqlite3_step(s->st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		s->changes = sqlite3_changes(s->db->h);
		return 0;
	}
	sq_err(s->db, e, "step");
	sqlite3_reset(s->st);
	return -1;
}

static int64_t sqlite_col_int(struct store_stmt *s, int i)
{
	return sqlite3_column_int64(s->st, i);
}

static double sqlite_col_double(struct store_stmt *s, int i)
{
	return sqlite3_column_double(s->st, i);
}

static const char *sqlite_col_text(struct store_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s->st, i);
}

static int sqlite_col_null(struct store_stmt *s, int i)
{
	return sqlite3_column_type(s->st, i) == SQLITE_NULL;
}

static int sqlite_col_count(struct store_stmt *s)
{
	return sqlite3_column_count(s->st);
}

static int64_t sqlite_changes(struct store_stmt *s)
{
	return s->changes;
}

static void sqlite_reset(struct store_stmt *s)
{
	sqlite3_reset(s->st);
}

/* sqlite_notify - one byte into the FIFO when somebody listens; never blocks */
static void sqlite_notify(void *p)
{
	struct sqlite_db *db = p;
	if (!db->fifo)
		return;
	int fd = open(db->fifo, O_WRONLY | O_NONBLOCK);
	if (fd < 0)
		return; /* no FIFO or no reader: nobody is asleep */
	ssize_t n = write(fd, "w", 1);
	(void)n;
	close(fd);
}

static int sqlite_wait(void *p, int64_t timeout_ms)
{
	struct sqlite_db *db = p;
	if (db->fifo && db->fifo_fd < 0) {
		if (mkfifo(db->fifo, 0600) < 0 && errno != EEXIST)
			db->fifo_fd = -1; /* fall back to sleeping in short steps */
		/* O_RDWR keeps a writer open so poll never sees EOF */
		db->fifo_fd = open(db->fifo, O_RDWR | O_NONBLOCK);
	}
	if (timeout_ms > 3600 * 1000)
		timeout_ms = 3600 * 1000;
	if (timeout_ms < 0)
		timeout_ms = 0;
	if (db->fifo_fd < 0) {
		usleep((useconds_t)(timeout_ms > 1000 ? 1000 : timeout_ms) * 1000);
		return 0;
	}
	struct pollfd pfd = {.fd = db->fifo_fd, .events = POLLIN};
	int rc = poll(&pfd, 1, (int)timeout_ms);
	if (rc > 0) {
		char drain[64];
		while (read(db->fifo_fd, drain, sizeof(drain)) > 0)
			;
		return 1;
	}
	return 0;
}

#include "store_sqlite_schema.h"

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.accepts = sqlite_accepts,
	.open = sqlite_open,
	.close = sqlite_close,
	.exec = sqlite_exec,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.prepare = sqlite_prepare,
	.bind_int = sqlite_bind_int,
	.bind_double = sqlite_bind_double,
	.bind_text = sqlite_bind_text,
	.step = sqlite_step,
	.col_int = sqlite_col_int,
	.col_double = sqlite_col_double,
	.col_text = sqlite_col_text,
	.col_null = sqlite_col_null,
	.col_count = sqlite_col_count,
	.changes = sqlite_changes,
	.reset = sqlite_reset,
	.migrations = sqlite_migrations,
	.notify = sqlite_notify,
	.wait = sqlite_wait,
};
