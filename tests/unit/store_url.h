/* store_url.h - the store a unit test opens: SQLite as the test says, or,
 * when OUTREACH_TEST_PG names a PostgreSQL database (`make test` starts a
 * throwaway cluster: tests/pgtmp.sh), a fresh schema of its own in that
 * database, so that the same tests run on both backends. */
#ifndef OUTREACH_TEST_STORE_URL_H
#define OUTREACH_TEST_STORE_URL_H
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* test_store_url - sqlite (":memory:" or a path) unless OUTREACH_TEST_PG is
 * set; then the URL of a new empty schema (valid until the next 8 calls) */
static inline const char *test_store_url(const char *sqlite)
{
	static char urls[8][600];
	static int n;
	const char *pg = getenv("OUTREACH_TEST_PG");
	if (!pg || !*pg)
		return sqlite;
	char schema[64];
	snprintf(schema, sizeof(schema), "t%ld_%d", (long)getpid(), n);
	PGconn *c = PQconnectdb(pg);
	char sql[200];
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "test_store_url: %s", PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	PQfinish(c);
	char *u = urls[n++ % 8];
	snprintf(u, sizeof(urls[0]), "%s%soptions=-csearch_path%%3D%s", pg, strchr(pg, '?') ? "&" : "?",
		 schema);
	return u;
}

#endif
