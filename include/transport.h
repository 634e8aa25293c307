/* transport.h - delivery agents, one const ops table per kind.
 *
 * A transport delivers one message and reports OK, DEFER or FAIL with a code
 * and a one-line reason (Postfix's delivery status). It never retries,
 * never reads the store, never applies policy: the worker owns that.
 */
#ifndef OUTREACH_TRANSPORT_H
#define OUTREACH_TRANSPORT_H
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "message.h"

enum delivery_status {
	DELIVERY_OK = 0,    /* accepted by the next hop */
	DELIVERY_DEFER = 1, /* transient: try again later */
	DELIVERY_FAIL = 2,  /* permanent for this address and transport */
};

struct delivery {
	enum delivery_status status;
	char code[32];         /* "250", "http 429", "io" */
	char reason[256];      /* one line, the server's words where there are any */
	char provider_id[128]; /* the provider's message id, "" when none */
	int64_t retry_after;   /* seconds the server asked to wait, 0 = none */
};

struct transport_ops {
	const char *kind; /* "outbox", "smtp", ... */
	/* create - MUST: validate conf (errors name the config line through
	 * config_line), allocate state. */
	int (*create)(const struct config *cfg, const struct transport_conf *conf, void **state,
		      struct err *e);
	/* deliver - MUST: deliver m once and fill d. Returns 0 whenever d was
	 * filled (whatever its status); -1 only on a broken invariant. */
	int (*deliver)(void *state, const struct message *m, int64_t now, struct delivery *d);
	/* free - MUST: release state (NULL allowed) */
	void (*free)(void *state);
};

struct transport;

/* transport_kind_known - 1 when a kind is registered */
int transport_kind_known(const char *kind);
/* transport_create - find the kind's ops and create it; caller frees */
struct transport *transport_create(const struct config *cfg, const struct transport_conf *conf,
				   struct err *e);
/* transport_deliver - the thin wrapper where assertions and tracing live */
int transport_deliver(struct transport *t, const struct message *m, int64_t now,
		      struct delivery *d);
const struct transport_conf *transport_conf(const struct transport *t);
void transport_free(struct transport *t);

extern const struct transport_ops transport_outbox;

#endif
