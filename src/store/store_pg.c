/* store_pg.c - the store on PostgreSQL (libpq), for many workers on many
 * machines.
 *
 * The domain queries are the ones SQLite runs (store.c): `?` placeholders
 * are rewritten to $1..$n once per statement, which is then prepared on the
 * connection (PQprepare) at its first execution, with the parameter types
 * of that execution (bigint, double precision, text, or left to the server
 * for NULL). Results are fetched whole (PQexecPrepared), so statements
 * may be nested as they are on SQLite; the store's queries are batch-sized.
 *
 * Concurrency: transactions are READ COMMITTED. Claims take rows with
 * FOR UPDATE SKIP LOCKED (store.c asks for it through the dialect); the
 * bookkeeping that must see every worker's latest decision (caps, rate
 * buckets, enrollment limits, migrations) takes one transaction-scoped
 * advisory lock first (lock()), so limits hold across hosts. New events
 * wake sleeping workers with LISTEN/NOTIFY.
 *
 * A lost connection is reset at the next transaction or statement, and its
 * prepared statements are prepared again. Errors name the server as
 * user@host:port/db, never the password.
 */
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stmt_cache.h"
#include "store_backend.h"
#include "timeutil.h"
#include "xmalloc.h"

#define INT8OID 20
#define TEXTOID 25
#define FLOAT8OID 701
#define MAXPARAM 32
#define WAKE_CHANNEL "outreach_wake"

struct store_stmt {
	const char *key; /* the SQL as the caller wrote it (cache key) */
	char *sql;	 /* with $n placeholders */
	int nparam;
	unsigned name; /* prepared as "s<name>" when prepared != 0 */
	unsigned prepared_gen;
	char *val[MAXPARAM];
	unsigned int type[MAXPARAM];
	PGresult *res;
	int row; /* rows stepped so far */
	int64_t changes;
	struct pg_db *db;
};

struct pg_db {
	PGconn *c;
	char *where; /* user@host:port/db, for errors */
	unsigned gen; /* connection generation: statements re-prepare after a reset */
	unsigned next_name;
	int listening;
	struct stmt_cache cache;
};

/* first line of libpq's message, without its "ERROR:  " prefix */
static void pg_msg(const char *m, char *out, size_t len)
{
	if (!m || !*m)
		m = "unknown error";
	if (strncmp(m, "ERROR:  ", 8) == 0 || strncmp(m, "FATAL:  ", 8) == 0)
		m += 8;
	size_t n = strcspn(m, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(out, m, n);
	out[n] = '\0';
}

static int pg_err(struct pg_db *db, const PGresult *r, struct err *e, const char *what)
{
	char msg[400];
	/* the result's message, else the connection's (a lost connection) */
	pg_msg(r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(db->c), msg,
	       sizeof(msg));
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (PQstatus(db->c) == CONNECTION_BAD)
		return err_set(e, "store %s: connection lost: %s (nothing was changed)",
			       db->where, msg);
	if (state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0 ||
		      strcmp(state, "55P03") == 0))
		return err_set(e, "store %s locked: %s (nothing was changed)", db->where, msg);
	if (state && strcmp(state, "53100") == 0)
		return err_set(e, "store %s full: %s (free disk space; nothing was changed)", db->where,
			       msg);
	return err_set(e, "store %s: %s: %s", db->where, what, msg);
}

static int pg_accepts(const char *url)
{
	return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* "relation already exists, skipping" and the like */
}

/* session_setup - what every new or reset connection needs: no notices
 * on stderr, times in UTC */
static void session_setup(PGconn *c)
{
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	PQclear(PQexec(c, "SET client_min_messages = warning; SET TIME ZONE 'UTC'"));
}

/* pg_where - user@host:port/db of a connection (never the password) */
static char *pg_where(PGconn *c)
{
	const char *host = PQhost(c);
	return xasprintf("postgresql://%s@%s:%s/%s", PQuser(c) ? PQuser(c) : "",
			 host && *host == '/' ? "localhost" : host ? host : "", PQport(c) ? PQport(c) : "",
			 PQdb(c) ? PQdb(c) : "");
}

static int pg_open(const char *url, void **out, struct err *e)
{
	/* defaults first: the URL's own settings override them */
	const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
	const char *vals[] = {"10", "outreach", url, NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c)
		return err_set(e, "store postgresql: out of memory");
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[400], *where = pg_where(c);
		pg_msg(PQerrorMessage(c), msg, sizeof(msg));
		/* libpq repeats the server in its message; the reason is the tail */
		const char *why = strstr(msg, "failed: ");
		err_set(e, "store %s: cannot connect: %s", where, why ? why + 8 : msg);
		free(where);
		PQfinish(c);
		return -1;
	}
	session_setup(c);
	struct pg_db *db = xcalloc(1, sizeof(*db));
	db->c = c;
	db->where = pg_where(c);
	db->gen = 1;
	*out = db;
	return 0;
}

static void stmt_clear(struct store_stmt *st)
{
	for (int i = 0; i < st->nparam; i++) {
		free(st->val[i]);
		st->val[i] = NULL;
		st->type[i] = 0;
	}
	PQclear(st->res);
	st->res = NULL;
	st->row = 0;
}

static void stmt_free(void *p)
{
	struct store_stmt *s = p;
	stmt_clear(s);
	free(s->sql);
	free(s);
}

static void pg_close(void *p)
{
	struct pg_db *db = p;
	if (!db)
		return;
	stmt_cache_free(&db->cache, stmt_free);
	PQfinish(db->c);
	free(db->where);
	free(db);
}

/* alive - reset a lost connection before the next use; -1 when still down */
static int alive(struct pg_db *db, struct err *e)
{
	if (PQstatus(db->c) == CONNECTION_OK)
		return 0;
	PQreset(db->c);
	if (PQstatus(db->c) != CONNECTION_OK) {
		char msg[400];
		pg_msg(PQerrorMessage(db->c), msg, sizeof(msg));
		return err_set(e, "store %s: connection lost: %s", db->where, msg);
	}
	session_setup(db->c);
	db->gen++; /* every statement is prepared again */
	db->listening = 0;
	return 0;
}

static int pg_exec(void *p, const char *sql, struct err *e)
{
	struct pg_db *db = p;
	if (alive(db, e) < 0)
		return -1;
	PGresult *r = PQexec(db->c, sql);
	ExecStatusType s = PQresultStatus(r);
	int rc = 0;
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		rc = pg_err(db, r, e, "exec");
	PQclear(r);
	return rc;
}

static int pg_begin(void *p, int write, struct err *e)
{
	(void)write; /* rows are locked as they are written; see pg_lock() */
	return pg_exec(p, "BEGIN", e);
}

static int pg_commit(void *p, struct err *e)
{
	return pg_exec(p, "COMMIT", e);
}

static void pg_rollback(void *p)
{
	struct pg_db *db = p;
	if (PQstatus(db->c) == CONNECTION_OK && PQtransactionStatus(db->c) != PQTRANS_IDLE)
		PQclear(PQexec(db->c, "ROLLBACK"));
}

static int pg_lock(void *p, struct err *e)
{
	/* one key for the whole store: the bookkeeping it guards is short */
	return pg_exec(p, "SELECT pg_advisory_xact_lock(7310575183440027745)", e);
}

/* dollar - `?` outside quotes becomes $1..$n; NULL past MAXPARAM */
static char *dollar(const char *sql, int *n)
{
	size_t len = strlen(sql);
	size_t cap = len * 3 + 1;
	char *out = xmalloc(cap), *o = out;
	char quote = 0;
	*n = 0;
	for (const char *c = sql; *c; c++) {
		if (quote) {
			if (*c == quote)
				quote = 0;
		} else if (*c == '\'' || *c == '"') {
			quote = *c;
		} else if (*c == '?') {
			if (++*n > MAXPARAM) {
				free(out);
				return NULL;
			}
			o += snprintf(o, cap - (size_t)(o - out), "$%d", *n);
			continue;
		}
		*o++ = *c;
	}
	*o = '\0';
	return out;
}

static struct store_stmt *pg_prepare(void *p, const char *sql, struct err *e)
{
	struct pg_db *db = p;
	struct store_stmt *s = stmt_cache_get(&db->cache, sql);
	if (!s) {
		int n;
		char *text = dollar(sql, &n);
		if (!text) {
			err_set(e, "store %s: prepare: more than %d parameters", db->where, MAXPARAM);
			return NULL;
		}
		s = xcalloc(1, sizeof(*s));
		s->key = sql;
		s->sql = text;
		s->nparam = n;
		s->db = db;
		s->name = ++db->next_name;
		stmt_cache_put(&db->cache, sql, s);
	}
	stmt_clear(s);
	s->changes = 0;
	return s;
}

static void set_param(struct store_stmt *s, int i, char *v, unsigned int type)
{
	if (i < 1 || i > s->nparam) {
		free(v);
		return;
	}
	free(s->val[i - 1]);
	s->val[i - 1] = v;
	s->type[i - 1] = type;
}

static void pg_bind_int(struct store_stmt *s, int i, int64_t v)
{
	set_param(s, i, xasprintf("%lld", (long long)v), INT8OID);
}

static void pg_bind_double(struct store_stmt *s, int i, double v)
{
	set_param(s, i, xasprintf("%.17g", v), FLOAT8OID);
}

static void pg_bind_text(struct store_stmt *s, int i, const char *v)
{
	/* NULL stays untyped: it may stand for any column's value */
	set_param(s, i, v ? xstrdup(v) : NULL, v ? TEXTOID : 0);
}

static int execute(struct store_stmt *s, struct err *e)
{
	struct pg_db *db = s->db;
	if (alive(db, e) < 0)
		return -1;
	char name[24];
	snprintf(name, sizeof(name), "s%u", s->name);
	if (s->prepared_gen != db->gen) {
		PGresult *r = PQprepare(db->c, name, s->sql, s->nparam, s->type);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			/* a statement the server does not take is outreach's bug:
			 * name it (SQL text holds no data) */
			char what[96];
			snprintf(what, sizeof(what), "prepare \"%.60s...\"", s->key);
			pg_err(db, r, e, what);
			PQclear(r);
			return -1;
		}
		PQclear(r);
		s->prepared_gen = db->gen;
	}
	s->res = PQexecPrepared(db->c, name, s->nparam, (const char *const *)s->val, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(s->res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pg_err(db, s->res, e, "step");
		PQclear(s->res);
		s->res = NULL;
		return -1;
	}
	s->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
	s->row = 0;
	return 0;
}

static int pg_step(struct store_stmt *s, struct err *e)
{
	if (!s->res && execute(s, e) < 0)
		return -1;
	if (s->row < PQntuples(s->res)) {
		s->row++;
		return 1;
	}
	return 0;
}

static const char *cell(struct store_stmt *s, int i)
{
	if (!s->res || s->row < 1 || i >= PQnfields(s->res) || PQgetisnull(s->res, s->row - 1, i))
		return NULL;
	return PQgetvalue(s->res, s->row - 1, i);
}

static int64_t pg_col_int(struct store_stmt *s, int i)
{
	const char *v = cell(s, i);
	if (!v)
		return 0;
	if (*v == 't' || *v == 'f') /* a boolean */
		return *v == 't';
	/* numeric and double results (SUM, AVG) truncate as SQLite's would */
	if (strpbrk(v, ".eE"))
		return (int64_t)strtod(v, NULL);
	return strtoll(v, NULL, 10);
}

static double pg_col_double(struct store_stmt *s, int i)
{
	const char *v = cell(s, i);
	return v ? strtod(v, NULL) : 0.0;
}

static const char *pg_col_text(struct store_stmt *s, int i)
{
	return cell(s, i);
}

static int pg_col_null(struct store_stmt *s, int i)
{
	return cell(s, i) == NULL;
}

static int pg_col_count(struct store_stmt *s)
{
	return s->res ? PQnfields(s->res) : 0;
}

static int64_t pg_changes(struct store_stmt *s)
{
	return s->changes;
}

static void pg_reset(struct store_stmt *s)
{
	PQclear(s->res);
	s->res = NULL;
	s->row = 0;
}

static void pg_notify(void *p)
{
	struct pg_db *db = p;
	if (PQstatus(db->c) == CONNECTION_OK)
		PQclear(PQexec(db->c, "NOTIFY " WAKE_CHANNEL));
}

static int pg_wait(void *p, int64_t timeout_ms)
{
	struct pg_db *db = p;
	struct err e = {{0}};
	if (timeout_ms > 3600 * 1000)
		timeout_ms = 3600 * 1000;
	if (timeout_ms < 0)
		timeout_ms = 0;
	if (alive(db, &e) < 0 || PQtransactionStatus(db->c) != PQTRANS_IDLE) {
		poll(NULL, 0, (int)(timeout_ms > 1000 ? 1000 : timeout_ms));
		return 0;
	}
	if (!db->listening) {
		PQclear(PQexec(db->c, "LISTEN " WAKE_CHANNEL));
		db->listening = 1;
	}
	int64_t until = time_now_ms() + timeout_ms;
	for (;;) {
		PQconsumeInput(db->c);
		PGnotify *n, *got = NULL;
		while ((n = PQnotifies(db->c)) != NULL) {
			PQfreemem(got);
			got = n;
		}
		if (got) {
			PQfreemem(got);
			return 1;
		}
		int64_t left = until - time_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd pfd = {.fd = PQsocket(db->c), .events = POLLIN};
		/* a signal ends the wait: the worker looks at its stop flag */
		if (pfd.fd < 0 || poll(&pfd, 1, (int)left) < 0)
			return 0;
		if (PQstatus(db->c) != CONNECTION_OK)
			return 0;
	}
}

#include "store_pg_schema.h"

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.accepts = pg_accepts,
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.prepare = pg_prepare,
	.bind_int = pg_bind_int,
	.bind_double = pg_bind_double,
	.bind_text = pg_bind_text,
	.step = pg_step,
	.col_int = pg_col_int,
	.col_double = pg_col_double,
	.col_text = pg_col_text,
	.col_null = pg_col_null,
	.col_count = pg_col_count,
	.changes = pg_changes,
	.reset = pg_reset,
	.migrations = pg_migrations,
	.notify = pg_notify,
	.wait = pg_wait,
	.lock = pg_lock,
	.row_locks = 1,
};
