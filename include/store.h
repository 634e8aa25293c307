/* store.h - everything outreach keeps: contacts, events, segments,
 * enrollments, scheduled sends and their history, attempts, suppressions,
 * workers. One API; the backend (SQLite, later PostgreSQL) is chosen by the
 * URL. Every function returns 0 on success and -1 with e set on failure
 * unless it says otherwise. Strings handed in are borrowed; strings and
 * rows handed out are owned by the caller (free with the matching _release).
 */
#ifndef OUTREACH_STORE_H
#define OUTREACH_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "contact.h"
#include "err.h"

#define STORE_SCHEMA_VERSION 6

struct store;

/* store_open - connect (no schema check); NULL with e set on failure */
struct store *store_open(const char *url, struct err *e);
void store_close(struct store *s);
/* store_url_shown - url for messages: a password in it becomes "***"
 * (caller frees) */
char *store_url_shown(const char *url);
const char *store_backend(const struct store *s);
/* store_migrate - bring the schema to STORE_SCHEMA_VERSION; idempotent */
int store_migrate(struct store *s, int *from, int *to, struct err *e);
/* store_ready - fails unless the schema is exactly this binary's version */
int store_ready(struct store *s, struct err *e);

/* ---- personal data at rest (pii.h; store_pii.c says what is kept how) ---- */
#define STORE_PII_RUN 0	   /* the store must agree with the config already */
#define STORE_PII_ROTATE 1 /* any state: `keys rotate` is about to set it right */
struct pii_keys;
/* store_pii_attach - from now on seal names and addresses under keys
 * (taken, freed by the store; NULL: encryption off) and open the store's
 * index key. With STORE_PII_RUN it fails when the store does not agree:
 * sealed but no keys, keys that do not open it, or keys on a store that
 * holds data in clear (an empty one is sealed at once). */
int store_pii_attach(struct store *s, struct pii_keys *keys, int mode, struct err *e);
/* store_pii_setup - store_pii_attach with the keys from $key_env (and
 * $key_env_OLD) when encrypt, else none: -2 with e set when the keys are
 * missing or malformed (a config problem), -1 when the store disagrees */
int store_pii_setup(struct store *s, int encrypt, const char *key_env, int mode, struct err *e);
/* store_pii_sealed - 1 when values are sealed (keys attached) */
int store_pii_sealed(struct store *s);
/* store_pii_key_id - the id of the key values are sealed under now, or
 * NULL (borrowed) */
const char *store_pii_key_id(struct store *s);
/* store_pii_rotate - in one transaction: every sealed value sealed again
 * under the current key, clear names sealed and clear addresses hashed
 * (and masked out of reasons); *changed counts the rows rewritten */
int store_pii_rotate(struct store *s, int64_t *changed, struct err *e);
/* store_contact_forget - erase contact id and everything about them
 * (events, enrollments, sends and their history, links, inbound, segments,
 * subscriptions), keeping only the keyed hash of each address they had
 * as a suppression, in one transaction, then store_scrub. *found 0 (and
 * nothing done) when there is no such contact */
int store_contact_forget(struct store *s, const char *id, int64_t now, int *found,
			 struct err *e);
/* store_contacts_each - fn for every contact in id order, opened, a page
 * of ids at a time (constant memory); fn returns -1 to stop (with e set) */
int store_contacts_each(struct store *s, int (*fn)(void *ud, const struct contact *c),
			void *ud, struct err *e);
/* store_scrub - overwrite what deletes left on disk: SQLite checkpoints
 * and truncates its WAL (deletes run with secure_delete), PostgreSQL
 * VACUUMs the tables a forget touches. Outside a transaction. */
int store_scrub(struct store *s, struct err *e);

/* Write transactions; store_rollback is safe outside one. */
int store_begin(struct store *s, struct err *e);
int store_commit(struct store *s, struct err *e);
void store_rollback(struct store *s);
/* Wake workers sleeping in store_wait (new events); wait returns 1 when woken */
void store_notify(struct store *s);
int store_wait(struct store *s, int64_t timeout_ms);

/* ---- contacts ---- */
/* store_contact_upsert - insert or update by id: given fields replace,
 * absent ones (NULL, -1) are kept, attributes are merged; marks the contact
 * for segment evaluation at now */
int store_contact_upsert(struct store *s, const struct contact *c, int64_t now, struct err *e);
/* store_contact_get - 0 found (out filled), 1 not found */
int store_contact_get(struct store *s, const char *id, struct contact *out, struct err *e);
/* store_contacts_get - store_contact_get for n ids at once (duplicates
 * allowed), in a statement per 32: found[i] 1 and out[i] filled (caller
 * releases) when ids[i] exists, else 0 */
int store_contacts_get(struct store *s, char *const *ids, size_t n, struct contact *out,
		       int *found, struct err *e);
/* store_subscription_set - per channel kind and class ("marketing",
 * "transactional", "all"); subscribed 0 or 1 */
int store_subscription_set(struct store *s, const char *contact, const char *channel,
			   const char *cls, int subscribed, const char *source, int64_t now,
			   struct err *e);
/* store_subscription_allows - *ok = 0 when the contact left that channel
 * for the class (or altogether) */
int store_subscription_allows(struct store *s, const char *contact, const char *channel,
			      enum msg_class cls, int *ok, struct err *e);
/* store_suppressed - *why = reason (caller frees) or NULL when not suppressed */
int store_suppressed(struct store *s, const char *address, char **why, struct err *e);
int store_suppress(struct store *s, const char *address, const char *channel, const char *reason,
		   int64_t now, struct err *e);

/* store_attr_keys - the attribute names found on (up to 10,000) contacts;
 * *ncontacts how many contacts were looked at */
int store_attr_keys(struct store *s, char ***keys, size_t *n, int64_t *ncontacts, struct err *e);
/* store_subscriptions_of - fn(channel, class, subscribed) for each row */
int store_subscriptions_of(struct store *s, const char *contact,
			   void (*fn)(void *ud, const char *channel, const char *cls, int subscribed),
			   void *ud, struct err *e);

/* ---- events ---- */
/* store_event_add - insert unless the same event is there (its "id", or the
 * same contact, type, time and data); *inserted 0 for a duplicate. Fails
 * with "unknown contact" when the contact does not exist. */
int store_event_add(struct store *s, const struct event *ev, int64_t now, int64_t *id,
		    int *inserted, struct err *e);
struct event_row {
	int64_t id;
	struct event ev;
};
/* store_events_pending - up to limit events not yet processed by a worker */
int store_events_pending(struct store *s, int limit, struct event_row **out, size_t *n,
			 struct err *e);
int store_event_done(struct store *s, int64_t id, struct err *e);
/* store_event_take - in a transaction: 1 when event id is still to be
 * processed and is now this transaction's (another worker skips it until
 * commit), 0 when another worker has it or has processed it, -1 on failure */
int store_event_take(struct store *s, int64_t id, struct err *e);
/* store_event_get - 0 found, 1 not found */
int store_event_get(struct store *s, int64_t id, struct event *out, struct err *e);
/* store_events_get - store_event_get for n ids at once (0: none asked):
 * found[i] 1 and out[i] filled (caller releases) when ids[i] exists */
int store_events_get(struct store *s, const int64_t *ids, size_t n, struct event *out, int *found,
		     struct err *e);
void event_rows_free(struct event_row *r, size_t n);
/* Aggregates over one contact's events with since <= at <= until. */
int store_event_count(struct store *s, const char *contact, const char *type, int64_t since,
		      int64_t until, int64_t *n, int64_t *oldest, struct err *e);
int store_event_sum(struct store *s, const char *contact, const char *type, const char *field,
		    int64_t since, int64_t until, double *total, int64_t *oldest, struct err *e);
/* store_event_last - 0 found (*at), 1 none */
int store_event_last(struct store *s, const char *contact, const char *type, int64_t until,
		     int64_t *at, struct err *e);
/* store_event_between - the first event of one of types with after < at <= until:
 * 0 found (*type_out owned, *at), 1 none */
int store_event_between(struct store *s, const char *contact, char *const *types, size_t ntypes,
			int64_t after, int64_t until, char **type_out, int64_t *at,
			struct err *e);

/* store_event_types - every event type the store holds, sorted (names
 * owned: strv_free); for check's warnings */
int store_event_types(struct store *s, char ***types, size_t *n, struct err *e);

/* ---- segments ---- */
/* store_contacts_to_eval - ids of up to limit contacts due for segment evaluation */
int store_contacts_to_eval(struct store *s, int64_t now, int limit, char ***ids, size_t *n,
			   struct err *e);
/* store_contact_eval_at - when next to evaluate (TIME_NEVER: only on change) */
int store_contact_eval_at(struct store *s, const char *contact, int64_t next, struct err *e);
/* store_segments_of - the contact's current segments (names owned) */
int store_segments_of(struct store *s, const char *contact, char ***names, size_t *n,
		      struct err *e);
/* store_segments_of_each - store_segments_of for n contacts at once:
 * names[i] (owned: strv_free(names[i], counts[i])) and counts[i] filled
 * for every i, even on failure */
int store_segments_of_each(struct store *s, char *const *contacts, size_t n, char ***names,
			   size_t *counts, struct err *e);
int store_segment_set(struct store *s, const char *contact, const char *segment, int member,
		      int64_t now, struct err *e);
/* store_segment_sizes - calls fn for every segment with members */
int store_segment_sizes(struct store *s, void (*fn)(void *ud, const char *seg, int64_t n),
			void *ud, struct err *e);
void strv_free(char **v, size_t n);

/* ---- enrollments and sends ---- */
/* store_enroll - a contact entering a campaign on one trigger; *created 0
 * when that trigger already enrolled it (idempotent scheduling) */
int store_enroll(struct store *s, const char *campaign, const char *contact,
		 const char *trigger_ref, int64_t trigger_at, int64_t event_id, int holdout,
		 const char *variant, int64_t now, int64_t *id, int *created, struct err *e);

/* store_cap_nth - for frequency caps: the (nth+1)-th most recent time
 * contact was sent a message of this scope (-1 any, else the priority)
 * after since, counting sends in flight that passed the policies (as at
 * now), self excluded. 0 found (*t), 1 fewer than nth+1 such sends. */
int store_cap_nth(struct store *s, const char *contact, int scope, int64_t since, int64_t self,
		  int64_t now, int nth, int64_t *t, struct err *e);
/* store_send_passed - mark a claimed send as past every policy (so other
 * workers' caps count it while it is in flight); a claim clears it */
int store_send_passed(struct store *s, int64_t id, int64_t now, struct err *e);
/* store_rate_take - take one token from the bucket key (refilled at
 * per_sec up to burst, on the given clock in ms): *wait_ms 0 when taken,
 * else how long until one is there. Shared by every worker on the store;
 * call inside a write transaction. */
int store_rate_take(struct store *s, const char *key, double per_sec, double burst, int64_t now_ms,
		    int64_t *wait_ms, struct err *e);

/* store_enrollment_history - how often contact entered campaign, and the
 * latest trigger time (TIME_NEVER when never): max_per_contact, reentry */
int store_enrollment_history(struct store *s, const char *campaign, const char *contact,
			     int64_t *count, int64_t *last_trigger_at, struct err *e);

struct send_new {
	int64_t enrollment_id;
	const char *campaign;
	int step;
	const char *contact;
	int priority; /* 0 transactional, 1 marketing: lower is claimed first */
	int64_t due_at;
	int64_t expire_at; /* TIME_NEVER for none */
	int64_t trigger_at;
	const char *template;
};
/* store_send_schedule - idempotent by (enrollment, step) */
int store_send_schedule(struct store *s, const struct send_new *n, int64_t now, int64_t *id,
			int *created, struct err *e);

struct send_row {
	int64_t id, enrollment_id;
	char *campaign;
	int step;
	char *contact;
	int priority;
	char state[16];
	int64_t due_at, expire_at, trigger_at, created_at, sent_at;
	char *template, *channel, *transport, *address, *message_id, *provider_id, *reason;
	int attempts;
	int64_t event_id; /* the triggering event, 0 for a segment trigger */
	char *trigger_ref;
};
void send_rows_free(struct send_row *r, size_t n);
void send_row_release(struct send_row *r);

/* store_claim - lease up to limit due sends to owner until now + lease:
 * transactional first, then by due time; expired leases are taken over.
 * In its own transaction, or in the caller's when one is open (the claims
 * hold from its commit; hand nothing to a transport before it) */
int store_claim(struct store *s, const char *owner, int64_t now, int64_t lease, int limit,
		struct send_row **out, size_t *n, struct err *e);
/* store_send_get - 0 found, 1 not found */
int store_send_get(struct store *s, int64_t id, struct send_row *out, struct err *e);

struct send_update {
	const char *state;     /* the new state */
	int64_t due_at;        /* for deferred: when to try again; 0 = keep */
	const char *reason;    /* why (one line), logged in the history */
	const char *channel, *transport, *address, *message_id, *provider_id; /* NULL = keep */
	int segments;          /* SMS segments of the text sent; 0 = keep */
	/* an attempt to record, when attempt_status is set */
	const char *attempt_status; /* "ok", "defer", "fail" */
	const char *attempt_code, *attempt_reason;
};
/* store_send_update - apply u to a send owned by owner (NULL: any owner).
 * 0 done, 1 the send is no longer ours (lease lost): nothing changed */
int store_send_update(struct store *s, int64_t id, const char *owner, const struct send_update *u,
		      int64_t now, struct err *e);
/* store_ack_add - the server accepted send id: keep u (a "sent" update)
 * in the acks table at once, in a small write, so that if the worker dies
 * before store_send_update records it, the claim is finished as sent from
 * it (store_acks_recover) rather than released and sent again. Adding it
 * twice keeps the first. store_send_update drops it. */
int store_ack_add(struct store *s, int64_t id, const char *owner, const struct send_update *u,
		  int64_t now, struct err *e);
/* store_acks_recover - finish as sent (with an "ok" attempt and a history
 * line saying so) every send still `sending` that has an ack, and whose
 * worker is gone: owner's (a dead worker's), or, with owner NULL, any
 * whose lease ran out by now; *n how many. In the caller's transaction. */
int store_acks_recover(struct store *s, const char *owner, int64_t now, int *n, struct err *e);
/* store_attempt_add - record one delivery attempt without changing the send
 * (a permanent failure that falls through to the next channel) */
int store_attempt_add(struct store *s, int64_t id, int64_t now, const char *transport,
		      const char *status, const char *code, const char *reason, struct err *e);
/* store_send_release - give back a claimed send untouched (shutdown) */
int store_send_release(struct store *s, int64_t id, const char *owner, struct err *e);
/* store_sends_pending_of - ids of a contact's scheduled or deferred sends */
int store_sends_pending_of(struct store *s, const char *contact, struct send_row **out, size_t *n,
			   struct err *e);
/* store_sends_of - the contact's latest sends (newest first) */
int store_sends_of(struct store *s, const char *contact, int limit, struct send_row **out,
		   size_t *n, struct err *e);
/* store_events_of - the contact's latest events (newest first) */
int store_events_of(struct store *s, const char *contact, int limit, struct event_row **out,
		    size_t *n, struct err *e);
/* store_send_history - every state change: fn(at, state, reason) */
int store_send_history(struct store *s, int64_t id,
		       void (*fn)(void *ud, int64_t at, const char *state, const char *reason),
		       void *ud, struct err *e);
/* store_send_attempts - every attempt: fn(at, transport, status, code, reason) */
int store_send_attempts(struct store *s, int64_t id,
			void (*fn)(void *ud, int64_t at, const char *transport, const char *status,
				   const char *code, const char *reason),
			void *ud, struct err *e);
/* store_next_wakeup - the earliest due send or segment evaluation after
 * nothing is due now (TIME_NEVER when none) */
int store_next_wakeup(struct store *s, int64_t *at, struct err *e);
/* store_last_change - the id of the newest send_log row (0: none) */
int store_last_change(struct store *s, int64_t *id, struct err *e);
/* One state change of a send, with what plan groups it by (borrowed). */
struct send_change {
	int64_t send_id, at;
	const char *state, *campaign, *contact;
	const char *channel; /* NULL when no channel was picked */
};
/* store_changes - fn for every send_log row with id > after_id and at >=
 * since, by send, then in order */
int store_changes(struct store *s, int64_t after_id, int64_t since,
		  void (*fn)(void *ud, const struct send_change *c), void *ud, struct err *e);
/* One row of the suppression list (borrowed). */
struct suppression {
	const char *address;
	const char *channel; /* NULL when unknown */
	const char *reason;
	int64_t at;
};
/* store_suppressions - fn for every suppressed address, in address order */
int store_suppressions(struct store *s, void (*fn)(void *ud, const struct suppression *r), void *ud,
		       struct err *e);
/* store_unsuppress - take addresses off the list in one transaction;
 * removed[i] 1 when addresses[i] was on it */
int store_unsuppress(struct store *s, char *const *addresses, size_t n, int *removed,
		     struct err *e);
/* store_snapshot - a consistent copy of the whole store in a new SQLite
 * file at path (which must not exist), for `plan` to simulate on: SQLite
 * with VACUUM INTO, other backends table by table from one read-only
 * snapshot, streamed through a cursor */
int store_snapshot(struct store *s, const char *path, struct err *e);

/* ---- workers ---- */
int store_worker_register(struct store *s, const char *id, const char *host, int pid, int64_t now,
			  struct err *e);
int store_worker_stop(struct store *s, const char *id, struct err *e);
/* store_workers_reap - for every live worker on host whose process is gone
 * (alive(pid) == 0) release its claims at once; *released counts them */
int store_workers_reap(struct store *s, const char *host, int (*alive)(int pid), int64_t now,
		       int *released, struct err *e);

/* ---- reporting ---- */
struct report_row {
	const char *campaign;
	int step;
	const char *channel; /* "" when never picked */
	const char *template;
	const char *state;
	int64_t n;
};
/* store_report - counts of sends by campaign, step, channel, template and
 * state (campaign NULL: all; since: created at or after) */
int store_report(struct store *s, const char *campaign, int64_t since,
		 void (*fn)(void *ud, const struct report_row *r), void *ud, struct err *e);
/* store_holdout_counts - enrollments in a campaign: in holdout and treated */
int store_enrollment_counts(struct store *s, const char *campaign, int64_t since, int64_t *treated,
			    int64_t *holdout, struct err *e);

#endif
