/* stmt_cache.c - prepared statements by SQL pointer (see stmt_cache.h) */
#include "stmt_cache.h"

#include <stdint.h>
#include <stdlib.h>

#include "xmalloc.h"

static size_t slot_of(const struct stmt_cache *c, const char *key)
{
	size_t i = (size_t)(((uintptr_t)key >> 3) * 11400714819323198485ull) & (c->cap - 1);
	while (c->keys[i] && c->keys[i] != key)
		i = (i + 1) & (c->cap - 1);
	return i;
}

void *stmt_cache_get(const struct stmt_cache *c, const char *key)
{
	if (!c->cap)
		return NULL;
	size_t i = slot_of(c, key);
	return c->keys[i] ? c->vals[i] : NULL;
}

void stmt_cache_put(struct stmt_cache *c, const char *key, void *val)
{
	if ((c->used + 1) * 2 > c->cap) {
		struct stmt_cache old = *c;
		c->cap = old.cap ? old.cap * 2 : 256;
		c->keys = xcalloc(c->cap, sizeof(*c->keys));
		c->vals = xcalloc(c->cap, sizeof(*c->vals));
		for (size_t i = 0; i < old.cap; i++)
			if (old.keys[i]) {
				size_t j = slot_of(c, old.keys[i]);
				c->keys[j] = old.keys[i];
				c->vals[j] = old.vals[i];
			}
		free(old.keys);
		free(old.vals);
	}
	size_t i = slot_of(c, key);
	c->keys[i] = key;
	c->vals[i] = val;
	c->used++;
}

void stmt_cache_free(struct stmt_cache *c, void (*fn)(void *val))
{
	for (size_t i = 0; i < c->cap; i++)
		if (c->keys[i])
			fn(c->vals[i]);
	free(c->keys);
	free(c->vals);
	c->keys = NULL;
	c->vals = NULL;
	c->cap = c->used = 0;
}
