/* store_feedback.c - the queries `serve` needs: sends found by provider id,
 * Message-ID or address; a message's links; inbound messages; receipts
 * changing a send's state; counts for /metrics.
 *
 * Same dialect as store.c (`?` placeholders, shared SQL), prepared
 * statements only. Lookups go through the indexes schema version 4 added
 * (sends.provider_id, sends(address, sent_at), events_send) or the
 * existing ones (sends.message_id, contacts.email, contacts.phone); none
 * scans a table per request. A receipt's UPDATE names the states it may
 * move a send from, so a late or repeated receipt changes nothing.
 */
#include "store_feedback.h"

#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* one_text - step st for one text column: 0 found (*out owned), 1 none */
static int one_text(struct store *s, struct store_stmt *st, char **out, struct err *e)
{
	int rc = step(s, st, e);
	if (rc == 1)
		*out = cdup(s, st, 0);
	done(s, st);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

int store_send_has_event(struct store *s, int64_t send_id, const char *type, struct err *e)
{
	struct store_stmt *st =
	    prep(s, "SELECT id FROM events WHERE send_id = ? AND type = ? LIMIT 1", e);
	if (!st)
		return -1;
	int64_t id;
	bint(s, st, 1, send_id);
	btxt(s, st, 2, type);
	return one_id(s, st, &id, e);
}

int store_link_get(struct store *s, int64_t send_id, int idx, char **url, struct err *e)
{
	struct store_stmt *st = prep(s, "SELECT url FROM links WHERE send_id = ? AND idx = ?", e);
	if (!st)
		return -1;
	bint(s, st, 1, send_id);
	bint(s, st, 2, idx);
	return one_text(s, st, url, e);
}

int store_send_by_provider(struct store *s, const char *transport, const char *provider_id,
			   int64_t *id, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT id FROM sends WHERE provider_id = ? AND transport = ? ORDER BY id DESC LIMIT 1",
		e);
	if (!st)
		return -1;
	btxt(s, st, 1, provider_id);
	btxt(s, st, 2, transport);
	return one_id(s, st, id, e);
}

int store_send_by_message_id(struct store *s, const char *message_id, int64_t *id,
			     struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT id FROM sends WHERE message_id = ? ORDER BY id DESC LIMIT 1", e);
	if (!st)
		return -1;
	btxt(s, st, 1, message_id);
	return one_id(s, st, id, e);
}

int store_send_latest_to(struct store *s, const char *channel, const char *address, int64_t *id,
			 char **contact, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT id, contact_id FROM sends WHERE address = ? AND channel = ? "
		"AND sent_at IS NOT NULL ORDER BY sent_at DESC, id DESC LIMIT 1", e);
	if (!st)
		return -1;
	char f[PII_HASH_LEN + 1];
	btxt(s, st, 1, addr_form(s, address, f));
	btxt(s, st, 2, channel);
	int rc = step(s, st, e);
	if (rc == 1) {
		*id = cint(s, st, 0);
		*contact = cdup(s, st, 1);
	}
	done(s, st);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

int store_send_latest_of(struct store *s, const char *contact, const char *channel, int64_t *id,
			 struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT id FROM sends WHERE contact_id = ? AND channel = ? AND sent_at IS NOT NULL "
		"ORDER BY sent_at DESC, id DESC LIMIT 1", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	btxt(s, st, 2, channel);
	return one_id(s, st, id, e);
}

int store_contact_by_phone(struct store *s, const char *phone, char **id, struct err *e)
{
	char h[PII_HASH_LEN + 1];
	struct store_stmt *st = s->keys
		? prep(s, "SELECT id FROM contacts WHERE phone_h = ? ORDER BY id LIMIT 1", e)
		: prep(s, "SELECT id FROM contacts WHERE phone = ? ORDER BY id LIMIT 1", e);
	if (!st)
		return -1;
	btxt(s, st, 1, addr_form(s, phone, h));
	return one_text(s, st, id, e);
}

int store_contact_by_email(struct store *s, const char *email, char **id, struct err *e)
{
	if (s->keys) {
		/* sealed: the hash is of the address lowercased already */
		char h[PII_HASH_LEN + 1];
		struct store_stmt *st =
			prep(s, "SELECT id FROM contacts WHERE email_h = ? ORDER BY id LIMIT 1", e);
		if (!st)
			return -1;
		btxt(s, st, 1, addr_hash(s, email, h));
		return one_text(s, st, id, e);
	}
	char *lower = xstrdup(email);
	for (char *p = lower; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	struct store_stmt *st = prep(s,
		"SELECT id FROM contacts WHERE email IN (?, ?) ORDER BY email = ? DESC, id LIMIT 1", e);
	if (!st) {
		free(lower);
		return -1;
	}
	btxt(s, st, 1, lower);
	btxt(s, st, 2, email);
	btxt(s, st, 3, lower);
	int rc = one_text(s, st, id, e);
	free(lower);
	return rc;
}

int store_inbound_add(struct store *s, const struct inbound *in, int64_t *id, struct err *e)
{
	struct store_stmt *st = prep(s,
		"INSERT INTO inbound (channel, sender, text, at, contact_id, send_id, kind) "
		"VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id", e);
	if (!st)
		return -1;
	char f[PII_HASH_LEN + 1];
	char *text = pii_in(s, "inbound.text", in->text);
	btxt(s, st, 1, in->channel);
	btxt(s, st, 2, addr_form(s, in->sender, f));
	btxt(s, st, 3, text);
	bint(s, st, 4, in->at);
	btxt(s, st, 5, in->contact);
	if (in->send_id > 0)
		bint(s, st, 6, in->send_id);
	else
		btxt(s, st, 6, NULL);
	btxt(s, st, 7, in->kind);
	int64_t got = 0;
	int rc = step(s, st, e);
	if (rc == 1) {
		got = cint(s, st, 0);
		rc = step(s, st, e);
	}
	done(s, st);
	free(text);
	if (rc < 0)
		return -1;
	if (id)
		*id = got;
	return 0;
}

int store_send_receipt(struct store *s, int64_t id, const char *state, const char *reason,
		       int64_t at, int64_t now, struct err *e)
{
	/* one statement per target state: the states it may come from are
	 * part of the SQL, so a race with another receipt cannot go back */
	const char *sql;
	if (strcmp(state, "delivered") == 0)
		sql = "UPDATE sends SET state = 'delivered', reason = ?, updated_at = ? "
		      "WHERE id = ? AND state = 'sent'";
	else if (strcmp(state, "bounced") == 0)
		sql = "UPDATE sends SET state = 'bounced', reason = ?, updated_at = ? "
		      "WHERE id = ? AND state IN ('sent', 'delivered')";
	else
		return err_set(e, "receipt state \"%s\": expected delivered or bounced", state);
	int own_tx = !s->in_tx;
	if (own_tx && store_begin(s, e) < 0)
		return -1;
	struct store_stmt *st = prep(s, sql, e);
	if (!st)
		goto fail;
	btxt(s, st, 1, reason);
	bint(s, st, 2, now);
	bint(s, st, 3, id);
	int64_t changed = run_changed(s, st, e);
	if (changed < 0)
		goto fail;
	if (changed == 0) {
		if (own_tx)
			store_rollback(s);
		return 1;
	}
	if (store_log_state(s, id, at, state, reason, e) < 0)
		goto fail;
	if (own_tx && store_commit(s, e) < 0)
		return -1;
	return 0;
fail:
	if (own_tx)
		store_rollback(s);
	return -1;
}

/* ---- counts ---- */

static int counts(struct store *s, const char *sql, int ncols,
		  void (*fn)(void *ud, const char *a, const char *b, int64_t n), void *ud,
		  struct err *e)
{
	struct store_stmt *st = prep(s, sql, e);
	if (!st)
		return -1;
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		const char *a = ctxt(s, st, 0);
		const char *b = ncols > 1 ? ctxt(s, st, 1) : NULL;
		fn(ud, a ? a : "", ncols > 1 ? (b ? b : "") : NULL, cint(s, st, ncols));
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_count_sends(struct store *s, void (*fn)(void *ud, const char *a, const char *b, int64_t n),
		      void *ud, struct err *e)
{
	return counts(s,
		      "SELECT state, COALESCE(transport, ''), COUNT(*) FROM sends "
		      "GROUP BY state, COALESCE(transport, '') ORDER BY 1, 2",
		      2, fn, ud, e);
}

int store_count_attempts(struct store *s,
			 void (*fn)(void *ud, const char *a, const char *b, int64_t n), void *ud,
			 struct err *e)
{
	return counts(s,
		      "SELECT status, transport, COUNT(*) FROM attempts GROUP BY status, transport "
		      "ORDER BY 1, 2",
		      2, fn, ud, e);
}

int store_count_events(struct store *s, void (*fn)(void *ud, const char *a, const char *b, int64_t n),
		       void *ud, struct err *e)
{
	return counts(s, "SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY 1", 1, fn, ud, e);
}

int store_queue_depth(struct store *s, int64_t now, int64_t *n, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT COUNT(*) FROM sends WHERE state IN ('scheduled', 'deferred') AND due_at <= ?",
		e);
	if (!st)
		return -1;
	bint(s, st, 1, now);
	*n = 0;
	return one_id(s, st, n, e) < 0 ? -1 : 0;
}

const int64_t store_lag_bounds[STORE_LAG_NBUCKETS] = {1,   5,    15,    60,    300,
						       900, 3600, 21600, 86400, 604800};

int store_send_lag(struct store *s, int64_t counts_out[STORE_LAG_NBUCKETS + 1], int64_t *sum,
		   int64_t *total, struct err *e)
{
	/* the bounds are written into the SQL (statements are cached by
	 * their text); keep them equal to store_lag_bounds */
	struct store_stmt *st = prep(s,
		"SELECT CASE WHEN d <= 1 THEN 0 WHEN d <= 5 THEN 1 WHEN d <= 15 THEN 2 "
		"WHEN d <= 60 THEN 3 WHEN d <= 300 THEN 4 WHEN d <= 900 THEN 5 "
		"WHEN d <= 3600 THEN 6 WHEN d <= 21600 THEN 7 WHEN d <= 86400 THEN 8 "
		"WHEN d <= 604800 THEN 9 ELSE 10 END AS b, COUNT(*), SUM(d) "
		"FROM (SELECT sent_at - due_at AS d FROM sends WHERE sent_at IS NOT NULL) AS x "
		"GROUP BY b", e);
	if (!st)
		return -1;
	memset(counts_out, 0, sizeof(int64_t) * (STORE_LAG_NBUCKETS + 1));
	*sum = *total = 0;
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		int64_t b = cint(s, st, 0);
		if (b < 0 || b > STORE_LAG_NBUCKETS)
			continue;
		counts_out[b] += cint(s, st, 1);
		*total += cint(s, st, 1);
		*sum += cint(s, st, 2);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}
