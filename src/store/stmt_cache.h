/* stmt_cache.h - a backend's prepared statements, found by the address of
 * their SQL text (the store's queries are static strings), for the store
 * backends only. Open addressing on the pointer; each statement is its own
 * allocation, so a pointer handed out stays valid while the table grows
 * (a caller may hold one statement's rows while preparing another). */
#ifndef OUTREACH_STMT_CACHE_H
#define OUTREACH_STMT_CACHE_H
#include <stddef.h>

struct stmt_cache {
	const char **keys;
	void **vals;
	size_t cap, used;
};

/* stmt_cache_get - the statement cached under key, or NULL */
void *stmt_cache_get(const struct stmt_cache *c, const char *key);
/* stmt_cache_put - cache val under key (not yet there) */
void stmt_cache_put(struct stmt_cache *c, const char *key, void *val);
/* stmt_cache_free - call fn on every statement, then free the table */
void stmt_cache_free(struct stmt_cache *c, void (*fn)(void *val));

#endif
