/* claimloop.c - the bare store baseline for `make bench`: the statements
 * outreach's worker runs to claim a batch of due sends and to record
 * their outcomes, in a plain SQLite loop, nothing else.
 *
 * Run on a copy of a store that outreach itself filled (same schema, same
 * rows, same indexes), it claims in batches as store_claim does (expired
 * leases, then due sends by priority through the sends_due index, one
 * guarded UPDATE and one SELECT ... JOIN enrollments per send, one
 * transaction) and records each as sent in a second transaction (the
 * UPDATE of store_send_update, the attempts row and the send_log row), with
 * the pragmas of store_sqlite.c (WAL, synchronous=NORMAL, foreign keys,
 * temp_store=MEMORY) and statements prepared once. Prints one line:
 * "claimloop: N sends in S s: R sends/s (batch B)".
 *
 *   claimloop -d COPY.db -t NOW_EPOCH [-b 100]
 *
 * Keep the SQL here in step with src/store/store.c (store_claim,
 * store_send_update, store_attempt_add, store_log_state).
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sqlite3 *db;

static void die(const char *what)
{
	fprintf(stderr, "claimloop: %s: %s\n", what, sqlite3_errmsg(db));
	exit(1);
}

static sqlite3_stmt *prep(const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		die(sql);
	return st;
}

static void exec(const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die(sql);
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void run(sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die("step");
	done(st);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int64_t now = 0;
	int batch = 100, opt;
	while ((opt = getopt(argc, argv, "d:t:b:")) != -1) {
		if (opt == 'd')
			path = optarg;
		else if (opt == 't')
			now = strtoll(optarg, NULL, 10);
		else if (opt == 'b')
			batch = (int)strtol(optarg, NULL, 10);
		else
			path = NULL, optind = argc + 1;
	}
	if (!path || now <= 0 || batch < 1) {
		fprintf(stderr, "usage: claimloop -d STORE.db -t NOW_EPOCH [-b BATCH]\n");
		return 2;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		die("open");
	sqlite3_busy_timeout(db, 5000);
	exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
	     "PRAGMA temp_store=MEMORY;");
	const char *owner = "claimloop:1";
	const int64_t lease = 300;

	sqlite3_stmt *expired = prep("SELECT id FROM sends WHERE state = 'sending' AND lease_until "
				     "<= ? ORDER BY lease_until LIMIT ?");
	sqlite3_stmt *due = prep("SELECT id FROM sends WHERE state IN ('scheduled', 'deferred') AND "
				 "priority = ? AND due_at <= ? ORDER BY due_at, id LIMIT ?");
	sqlite3_stmt *take = prep(
	    "UPDATE sends SET state = 'sending', owner = ?, lease_until = ?, updated_at = ?, "
	    "passed_at = NULL WHERE id = ? AND (state IN ('scheduled', 'deferred') OR "
	    "(state = 'sending' AND lease_until <= ?))");
	sqlite3_stmt *row = prep(
	    "SELECT s.id, s.enrollment_id, s.campaign, s.step, s.contact_id, s.priority, s.state, "
	    "s.due_at, s.expire_at, s.trigger_at, s.created_at, s.sent_at, s.template, s.channel, "
	    "s.transport, s.address, s.message_id, s.provider_id, s.reason, s.attempts, "
	    "en.event_id, en.trigger_ref FROM sends s JOIN enrollments en ON en.id = "
	    "s.enrollment_id WHERE s.id = ? AND s.owner = ? AND s.state = 'sending'");
	sqlite3_stmt *rec = prep(
	    "UPDATE sends SET state = ?, due_at = CASE WHEN ? > 0 THEN ? ELSE due_at END, "
	    "reason = COALESCE(?, reason), channel = COALESCE(?, channel), "
	    "transport = COALESCE(?, transport), address = COALESCE(?, address), "
	    "message_id = COALESCE(?, message_id), provider_id = COALESCE(?, provider_id), "
	    "segments = CASE WHEN ? > 0 THEN ? ELSE segments END, "
	    "attempts = attempts + ?, owner = NULL, lease_until = NULL, updated_at = ?, "
	    "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END "
	    "WHERE id = ? AND (? IS NULL OR owner = ?)");
	sqlite3_stmt *att = prep("INSERT INTO attempts (send_id, at, transport, status, code, "
				 "reason) VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_stmt *log = prep("INSERT INTO send_log (send_id, at, state, reason) VALUES (?, ?, "
				 "?, ?)");

	int64_t *ids = malloc(sizeof(*ids) * (size_t)batch);
	long total = 0;
	double t0 = now_s();
	for (;;) {
		int n = 0;
		exec("BEGIN IMMEDIATE");
		sqlite3_bind_int64(expired, 1, now);
		sqlite3_bind_int(expired, 2, batch);
		while (sqlite3_step(expired) == SQLITE_ROW)
			ids[n++] = sqlite3_column_int64(expired, 0);
		done(expired);
		for (int prio = 0; prio <= 1 && n < batch; prio++) {
			sqlite3_bind_int(due, 1, prio);
			sqlite3_bind_int64(due, 2, now);
			sqlite3_bind_int(due, 3, batch - n);
			while (sqlite3_step(due) == SQLITE_ROW)
				ids[n++] = sqlite3_column_int64(due, 0);
			done(due);
		}
		for (int i = 0; i < n; i++) {
			sqlite3_bind_text(take, 1, owner, -1, SQLITE_STATIC);
			sqlite3_bind_int64(take, 2, now + lease);
			sqlite3_bind_int64(take, 3, now);
			sqlite3_bind_int64(take, 4, ids[i]);
			sqlite3_bind_int64(take, 5, now);
			run(take);
		}
		for (int i = 0; i < n; i++) {
			sqlite3_bind_int64(row, 1, ids[i]);
			sqlite3_bind_text(row, 2, owner, -1, SQLITE_STATIC);
			if (sqlite3_step(row) == SQLITE_ROW) /* read every column, as outreach does */
				for (int c = 0; c < sqlite3_column_count(row); c++)
					(void)sqlite3_column_text(row, c);
			done(row);
		}
		exec("COMMIT");
		if (n == 0)
			break;
		exec("BEGIN IMMEDIATE");
		for (int i = 0; i < n; i++) {
			char mid[64];
			snprintf(mid, sizeof(mid), "<%lld@bench.example>", (long long)ids[i]);
			sqlite3_bind_text(rec, 1, "sent", -1, SQLITE_STATIC);
			sqlite3_bind_int64(rec, 2, 0);
			sqlite3_bind_int64(rec, 3, 0);
			sqlite3_bind_text(rec, 4, "250 2.0.0 Ok: queued", -1, SQLITE_STATIC);
			sqlite3_bind_text(rec, 5, "email", -1, SQLITE_STATIC);
			sqlite3_bind_text(rec, 6, "t", -1, SQLITE_STATIC);
			sqlite3_bind_text(rec, 7, "c@example.com", -1, SQLITE_STATIC);
			sqlite3_bind_text(rec, 8, mid, -1, SQLITE_TRANSIENT);
			sqlite3_bind_null(rec, 9);
			sqlite3_bind_int64(rec, 10, 0);
			sqlite3_bind_int64(rec, 11, 0);
			sqlite3_bind_int64(rec, 12, 1);
			sqlite3_bind_int64(rec, 13, now);
			sqlite3_bind_text(rec, 14, "sent", -1, SQLITE_STATIC);
			sqlite3_bind_int64(rec, 15, now);
			sqlite3_bind_int64(rec, 16, ids[i]);
			sqlite3_bind_text(rec, 17, owner, -1, SQLITE_STATIC);
			sqlite3_bind_text(rec, 18, owner, -1, SQLITE_STATIC);
			run(rec);
			sqlite3_bind_int64(att, 1, ids[i]);
			sqlite3_bind_int64(att, 2, now);
			sqlite3_bind_text(att, 3, "t", -1, SQLITE_STATIC);
			sqlite3_bind_text(att, 4, "ok", -1, SQLITE_STATIC);
			sqlite3_bind_text(att, 5, "250", -1, SQLITE_STATIC);
			sqlite3_bind_text(att, 6, "250 2.0.0 Ok: queued", -1, SQLITE_STATIC);
			run(att);
			sqlite3_bind_int64(log, 1, ids[i]);
			sqlite3_bind_int64(log, 2, now);
			sqlite3_bind_text(log, 3, "sent", -1, SQLITE_STATIC);
			sqlite3_bind_text(log, 4, "250 2.0.0 Ok: queued", -1, SQLITE_STATIC);
			run(log);
		}
		exec("COMMIT");
		total += n;
	}
	double secs = now_s() - t0;
	printf("claimloop: %ld sends in %.3f s: %.0f sends/s (batch %d)\n", total, secs,
	       secs > 0 ? (double)total / secs : 0.0, batch);
	sqlite3_stmt *all[] = {expired, due, take, row, rec, att, log};
	for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++)
		sqlite3_finalize(all[i]);
	free(ids);
	sqlite3_close(db);
	return 0;
}
