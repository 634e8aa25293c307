/* store_sendat.c - the opens and clicks send-time choice counts
 * (store_sendat.h).
 *
 * One range scan on the events(contact_id, type, at) index, in the SQL
 * SQLite and PostgreSQL share. events.data is JSON text; whether an open
 * was a machine's is read here with jansson rather than with either
 * engine's JSON functions, which differ. Any open or click counts, with or
 * without the send it answers (an import from an earlier mail system has
 * none): it still says when the person reads.
 */
#include "store_sendat.h"

#include <jansson.h>
#include <string.h>

#include "store_internal.h"

int store_sendat_times(struct store *s, const char *contact, int64_t since, int64_t until,
		       int64_t **at, size_t *n, struct err *e)
{
	size_t cap = 0;
	*at = NULL;
	*n = 0;
	struct store_stmt *st = prep(s,
		"SELECT at, data FROM events WHERE contact_id = ? AND type IN ('opened', 'clicked') "
		"AND at >= ? AND at <= ? ORDER BY at, id", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	bint(s, st, 2, since);
	bint(s, st, 3, until);
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		if (event_data_machine(ctxt(s, st, 1)))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			*at = xrealloc(*at, cap * sizeof(**at));
		}
		(*at)[(*n)++] = cint(s, st, 0);
	}
	done(s, st);
	return rc < 0 ? err_prefix(e, "contact %s: opens and clicks", contact) : 0;
}
