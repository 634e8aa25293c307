/* transport.c - the registry of transport kinds and the thin wrappers
 *
 * Every kind is a const struct transport_ops listed in kinds[]; callers go
 * through transport_deliver, where the arguments and the ops' answer are
 * checked and each delivery is traced at debug level (no addresses).
 */
#include "transport.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

static const struct transport_ops *const kinds[] = {
    &transport_outbox,
};

struct transport {
	const struct transport_ops *ops;
	const struct transport_conf *conf; /* borrowed from the config */
	void *state;
};

static const char *const status_names[] = {"ok", "defer", "fail"};

static const struct transport_ops *kind_find(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(*kinds); i++)
		if (strcmp(kinds[i]->kind, kind) == 0)
			return kinds[i];
	return NULL;
}

int transport_kind_known(const char *kind)
{
	return kind_find(kind) != NULL;
}

struct transport *transport_create(const struct config *cfg, const struct transport_conf *conf,
				   struct err *e)
{
	assert(conf);
	const struct transport_ops *ops = kind_find(conf->kind);
	if (!ops) {
		err_set(e, "transport \"%s\": unknown kind \"%s\"", conf->name ? conf->name : "",
			conf->kind ? conf->kind : "");
		return NULL;
	}
	void *state = NULL;
	if (ops->create(cfg, conf, &state, e) < 0)
		return NULL;
	struct transport *t = xcalloc(1, sizeof(*t));
	t->ops = ops;
	t->conf = conf;
	t->state = state;
	return t;
}

int transport_deliver(struct transport *t, const struct message *m, int64_t now, struct delivery *d)
{
	assert(t && t->ops && m && d);
	memset(d, 0, sizeof(*d));
	int rc = t->ops->deliver(t->state, m, now, d);
	if (rc < 0) {
		log_error("send %lld: transport \"%s\": deliver failed", (long long)m->send_id,
			  t->conf->name);
		return rc;
	}
	assert(d->status == DELIVERY_OK || d->status == DELIVERY_DEFER ||
	       d->status == DELIVERY_FAIL);
	d->code[sizeof(d->code) - 1] = '\0';
	d->reason[sizeof(d->reason) - 1] = '\0';
	d->provider_id[sizeof(d->provider_id) - 1] = '\0';
	log_debug("send %lld: transport \"%s\" (%s): %s %s%s%s", (long long)m->send_id,
		  t->conf->name, t->ops->kind, status_names[d->status], d->code,
		  d->reason[0] ? ": " : "", d->reason);
	return 0;
}

const struct transport_conf *transport_conf(const struct transport *t)
{
	return t->conf;
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	t->ops->free(t->state);
	free(t);
}
