/* store_track.c - the links of each tracked message (store_track.h).
 *
 * One row per (send, index) in `links`; INSERT ... ON CONFLICT DO NOTHING,
 * so recording the links of a retried send again changes nothing. The URL
 * is the message's own link: it may carry the recipient's personal
 * parameters, so it is kept here and never logged.
 */
#include "store_track.h"

#include "store_internal.h"

int store_links_add(struct store *s, int64_t send_id, char *const *urls, size_t n,
		    struct err *e)
{
	if (!n)
		return 0;
	struct store_stmt *st = prep(s,
		"INSERT INTO links (send_id, idx, url) VALUES (?, ?, ?) "
		"ON CONFLICT (send_id, idx) DO NOTHING", e);
	if (!st)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bint(s, st, 1, send_id);
		bint(s, st, 2, (int64_t)i + 1);
		btxt(s, st, 3, urls[i]);
		if (run(s, st, e) < 0)
			return err_prefix(e, "send %lld: links", (long long)send_id);
	}
	return 0;
}
