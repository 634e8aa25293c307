/* store_sendat.h - the store's side of send-time choice: when a contact
 * has opened and clicked before. Same conventions as store.h (0 ok, -1
 * with e set; strings borrowed, arrays handed out owned by the caller). */
#ifndef OUTREACH_STORE_SENDAT_H
#define OUTREACH_STORE_SENDAT_H
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

/* store_sendat_times - the instants of the contact's `opened` and `clicked`
 * events with since <= at <= until, oldest first, leaving out those whose
 * data says "machine": true (privacy proxies, link scanners): a person's
 * opens only. *at is the caller's to free (NULL when *n is 0), also on
 * failure. */
int store_sendat_times(struct store *s, const char *contact, int64_t since, int64_t until,
		       int64_t **at, size_t *n, struct err *e);

#endif
