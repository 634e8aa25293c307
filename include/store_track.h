/* store_track.h - the store's side of link tracking: the links each
 * message held, so that a click redirects only to one of them. Same
 * conventions as store.h (0 ok, -1 with e set; strings borrowed). */
#ifndef OUTREACH_STORE_TRACK_H
#define OUTREACH_STORE_TRACK_H
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

/* store_links_add - record urls[i] as link i + 1 of send_id; a link
 * already recorded is kept (a retry renders the same links again).
 * Runs in the caller's transaction when there is one. */
int store_links_add(struct store *s, int64_t send_id, char *const *urls, size_t n,
		    struct err *e);

#endif
