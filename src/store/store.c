/* store.c - the domain queries, written once for every backend.
 *
 * SQL here is the dialect SQLite and PostgreSQL share: `?` placeholders
 * (a backend that needs $1 rewrites them), INSERT ... ON CONFLICT DO
 * NOTHING, RETURNING. Each function is one short statement or one short
 * transaction; callers group imports in store_begin/store_commit.
 * All SQL goes through prepared statements.
 */
#include "store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "hash.h"
#include "store_backend.h"
#include "store_internal.h"
#include "timeutil.h"
#include "xmalloc.h"

static const struct store_ops *const backends[] = {
	&store_sqlite_ops,
	&store_pg_ops,
};

struct store *store_open(const char *url, struct err *e)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (!backends[i]->accepts(url))
			continue;
		struct store *s = xcalloc(1, sizeof(*s));
		s->ops = backends[i];
		if (s->ops->open(url, &s->db, e) < 0) {
			free(s);
			return NULL;
		}
		return s;
	}
	/* the scheme only: a URL may carry a password */
	const char *colon = strstr(url, "://");
	err_set(e, "store %.*s://...: no backend serves this URL (this build has: sqlite, postgresql)",
		colon ? (int)(colon - url) : 0, url);
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->ops->close(s->db);
	pii_keys_free(s->keys);
	OPENSSL_cleanse(s->idx, sizeof(s->idx));
	free(s);
}

char *store_url_shown(const char *url)
{
	const char *scheme = strstr(url, "://");
	if (!scheme)
		return xstrdup(url);
	const char *auth = scheme + 3;
	size_t alen = strcspn(auth, "/?#");
	const char *at = memrchr(auth, '@', alen);
	const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (!colon)
		return xstrdup(url);
	return xasprintf("%.*s:***%s", (int)(colon - url), url, at);
}

const char *store_backend(const struct store *s)
{
	return s->ops->name;
}

int store_begin(struct store *s, struct err *e)
{
	if (OPS->begin(s->db, 1, e) < 0)
		return -1;
	s->in_tx = 1;
	s->locked = 0;
	return 0;
}

int store_commit(struct store *s, struct err *e)
{
	s->in_tx = 0;
	s->locked = 0;
	if (OPS->commit(s->db, e) < 0) {
		OPS->rollback(s->db);
		return -1;
	}
	return 0;
}

void store_rollback(struct store *s)
{
	s->in_tx = 0;
	s->locked = 0;
	OPS->rollback(s->db);
}

void store_notify(struct store *s)
{
	if (OPS->notify)
		OPS->notify(s->db);
}

int store_wait(struct store *s, int64_t timeout_ms)
{
	if (OPS->wait)
		return OPS->wait(s->db, timeout_ms);
	return 0;
}

/* ---- meta ---- */

int store_meta_get(struct store *s, const char *key, char **out, struct err *e)
{
	*out = NULL;
	struct store_stmt *st = prep(s, "SELECT value FROM meta WHERE key = ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, key);
	int rc = step(s, st, e);
	if (rc == 1)
		*out = cdup(s, st, 0);
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_meta_set(struct store *s, const char *key, const char *value, struct err *e)
{
	struct store_stmt *st = value
		? prep(s, "INSERT INTO meta (key, value) VALUES (?, ?) "
			  "ON CONFLICT (key) DO UPDATE SET value = excluded.value", e)
		: prep(s, "DELETE FROM meta WHERE key = ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, key);
	if (value)
		btxt(s, st, 2, value);
	return run(s, st, e);
}

static int schema_version(struct store *s, int *v, struct err *e)
{
	/* the meta table may not exist yet: create it first (harmless) */
	if (OPS->exec(s->db, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
		      e) < 0)
		return -1;
	struct store_stmt *st = prep(s, "SELECT value FROM meta WHERE key = 'schema_version'", e);
	if (!st)
		return -1;
	int rc = step(s, st, e);
	*v = rc == 1 ? (int)strtol(ctxt(s, st, 0), NULL, 10) : 0;
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_migrate(struct store *s, int *from, int *to, struct err *e)
{
	int v;
	if (store_begin(s, e) < 0)
		return -1;
	if (book_lock(s, e) < 0 || schema_version(s, &v, e) < 0)
		goto fail;
	*from = v;
	if (v > STORE_SCHEMA_VERSION) {
		err_set(e, "store schema version %d is newer than this outreach (%d): upgrade outreach", v,
			STORE_SCHEMA_VERSION);
		goto fail;
	}
	for (; v < STORE_SCHEMA_VERSION && OPS->migrations[v]; v++) {
		if (OPS->exec(s->db, OPS->migrations[v], e) < 0) {
			err_prefix(e, "migration to version %d", v + 1);
			goto fail;
		}
	}
	char vs[16];
	snprintf(vs, sizeof(vs), "%d", v);
	if (store_meta_set(s, "schema_version", vs, e) < 0)
		goto fail;
	*to = v;
	return store_commit(s, e);
fail:
	store_rollback(s);
	return -1;
}

int store_ready(struct store *s, struct err *e)
{
	struct store_stmt *st = prep(s, "SELECT value FROM meta WHERE key = 'schema_version'", e);
	if (!st)
		return err_set(e, "store is not initialized: run `outreach init`");
	int rc = step(s, st, e);
	int v = rc == 1 ? (int)strtol(ctxt(s, st, 0), NULL, 10) : 0;
	done(s, st);
	/* no meta table: SQLite says so at prepare, PostgreSQL at the first step */
	if (rc < 0 && strstr(e->msg, "\"meta\" does not exist"))
		return err_set(e, "store is not initialized: run `outreach init`");
	if (rc < 0)
		return -1;
	if (v == 0)
		return err_set(e, "store is not initialized: run `outreach init`");
	if (v > STORE_SCHEMA_VERSION)
		return err_set(e, "store schema version %d is newer than this outreach (%d): upgrade outreach",
			       v, STORE_SCHEMA_VERSION);
	if (v < STORE_SCHEMA_VERSION)
		return err_set(e, "store schema version %d is older than this outreach (%d): run `outreach init`",
			       v, STORE_SCHEMA_VERSION);
	return 0;
}

void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- contacts ---- */

/* IN_LIST - the placeholders of a batch read: IN_MAX ids a statement,
 * the unused ones bound to NULL (the SQL text stays one cached string) */
#define IN_MAX 32
#define IN_Q4 "?, ?, ?, ?"
#define IN_LIST "(" IN_Q4 ", " IN_Q4 ", " IN_Q4 ", " IN_Q4 ", " IN_Q4 ", " IN_Q4 ", " IN_Q4 ", " IN_Q4 ")"

#define CONTACT_COLS "id, name, email, phone, timezone, locale, attrs, do_not_contact "

/* contact_from_row - a row of CONTACT_COLS into c, its name and
 * addresses opened when sealed; -1 with e set (c released) when one does
 * not open */
static int contact_from_row(struct store *s, struct store_stmt *st, struct contact *c,
			    struct err *e)
{
	memset(c, 0, sizeof(*c));
	c->id = cdup(s, st, 0);
	if (pii_out(s, "contacts.name", ctxt(s, st, 1), &c->name, e) < 0 ||
	    pii_out(s, "contacts.email", ctxt(s, st, 2), &c->email, e) < 0 ||
	    pii_out(s, "contacts.phone", ctxt(s, st, 3), &c->phone, e) < 0) {
		err_prefix(e, "contact %s", c->id);
		contact_release(c);
		memset(c, 0, sizeof(*c));
		return -1;
	}
	c->timezone = cdup(s, st, 4);
	c->locale = cdup(s, st, 5);
	c->attrs = json_loads(ctxt(s, st, 6), 0, NULL);
	if (!c->attrs)
		c->attrs = json_object();
	c->do_not_contact = (int)cint(s, st, 7);
	for (int k = 0; k < CHANNEL_NKINDS; k++)
		c->unsub[k] = -1;
	return 0;
}

int store_contact_get(struct store *s, const char *id, struct contact *c, struct err *e)
{
	struct store_stmt *st = prep(s, "SELECT " CONTACT_COLS "FROM contacts WHERE id = ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, id);
	int rc = step(s, st, e);
	if (rc == 1 && contact_from_row(s, st, c, e) < 0)
		rc = -1;
	done(s, st);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

int store_contacts_get(struct store *s, char *const *ids, size_t n, struct contact *out,
		       int *found, struct err *e)
{
	memset(found, 0, n * sizeof(*found));
	for (size_t off = 0; off < n; off += IN_MAX) {
		size_t m = n - off < IN_MAX ? n - off : IN_MAX;
		struct store_stmt *st =
			prep(s, "SELECT " CONTACT_COLS "FROM contacts WHERE id IN " IN_LIST, e);
		if (!st)
			return -1;
		for (size_t i = 0; i < IN_MAX; i++)
			btxt(s, st, (int)i + 1, i < m ? ids[off + i] : NULL);
		int rc;
		while ((rc = step(s, st, e)) == 1) {
			const char *id = ctxt(s, st, 0);
			for (size_t i = off; i < off + m; i++)
				if (!found[i] && ids[i] && strcmp(ids[i], id) == 0) {
					if (contact_from_row(s, st, &out[i], e) < 0) {
						rc = -1;
						break;
					}
					found[i] = 1;
				}
			if (rc < 0)
				break;
		}
		done(s, st);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int store_contact_upsert(struct store *s, const struct contact *c, int64_t now, struct err *e)
{
	struct contact old;
	int rc = store_contact_get(s, c->id, &old, e);
	if (rc < 0)
		return -1;
	json_t *attrs = rc == 0 ? json_incref(old.attrs) : json_object();
	if (c->attrs)
		json_object_update(attrs, c->attrs);
	char *atext = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(attrs);
	struct store_stmt *st = prep(s,
		"INSERT INTO contacts (id, name, email, phone, timezone, locale, attrs, do_not_contact, "
		"created_at, updated_at, seg_eval_at, email_h, phone_h) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
		"ON CONFLICT (id) DO UPDATE SET name = COALESCE(excluded.name, contacts.name), "
		"email = COALESCE(excluded.email, contacts.email), "
		"phone = COALESCE(excluded.phone, contacts.phone), "
		"email_h = COALESCE(excluded.email_h, contacts.email_h), "
		"phone_h = COALESCE(excluded.phone_h, contacts.phone_h), "
		"timezone = COALESCE(excluded.timezone, contacts.timezone), "
		"locale = COALESCE(excluded.locale, contacts.locale), attrs = excluded.attrs, "
		"do_not_contact = ?, updated_at = excluded.updated_at, seg_eval_at = excluded.seg_eval_at",
		e);
	if (!st) {
		free(atext);
		if (rc == 0)
			contact_release(&old);
		return -1;
	}
	int dnc = c->do_not_contact >= 0 ? c->do_not_contact : rc == 0 ? old.do_not_contact : 0;
	char *name = pii_in(s, "contacts.name", c->name);
	char *email = pii_in(s, "contacts.email", c->email);
	char *phone = pii_in(s, "contacts.phone", c->phone);
	char eh[PII_HASH_LEN + 1], ph[PII_HASH_LEN + 1];
	btxt(s, st, 1, c->id);
	btxt(s, st, 2, name);
	btxt(s, st, 3, email);
	btxt(s, st, 4, phone);
	btxt(s, st, 5, c->timezone);
	btxt(s, st, 6, c->locale);
	btxt(s, st, 7, atext);
	bint(s, st, 8, dnc);
	bint(s, st, 9, now);
	bint(s, st, 10, now);
	bint(s, st, 11, now);
	btxt(s, st, 12, s->keys ? addr_hash(s, c->email, eh) : NULL);
	btxt(s, st, 13, s->keys ? addr_hash(s, c->phone, ph) : NULL);
	bint(s, st, 14, dnc);
	int r = run(s, st, e);
	free(atext);
	free(name);
	free(email);
	free(phone);
	if (rc == 0)
		contact_release(&old);
	for (int k = 0; r == 0 && k < CHANNEL_NKINDS; k++)
		if (c->unsub[k] >= 0)
			r = store_subscription_set(s, c->id, channel_name(k), "marketing", !c->unsub[k],
						   "import", now, e);
	return r;
}

int store_subscription_set(struct store *s, const char *contact, const char *channel,
			   const char *cls, int subscribed, const char *source, int64_t now,
			   struct err *e)
{
	struct store_stmt *st = prep(s,
		"INSERT INTO subscriptions (contact_id, channel, class, subscribed, updated_at, source) "
		"VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (contact_id, channel, class) DO UPDATE SET "
		"subscribed = excluded.subscribed, updated_at = excluded.updated_at, source = excluded.source",
		e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	btxt(s, st, 2, channel);
	btxt(s, st, 3, cls);
	bint(s, st, 4, subscribed);
	bint(s, st, 5, now);
	btxt(s, st, 6, source);
	return run(s, st, e);
}

int store_subscription_allows(struct store *s, const char *contact, const char *channel,
			      enum msg_class cls, int *ok, struct err *e)
{
	struct store_stmt *st = prep(s,
		/* not `class IN ('all', ?)`: SQLite builds an ephemeral table for
		 * that list on every run; the key prefix finds the few rows */
		"SELECT COUNT(*) FROM subscriptions WHERE contact_id = ? AND channel = ? "
		"AND subscribed = 0 AND CASE class WHEN 'all' THEN 1 WHEN ? THEN 1 ELSE 0 END = 1", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	btxt(s, st, 2, channel);
	btxt(s, st, 3, cls == CLASS_MARKETING ? "marketing" : "transactional");
	int rc = step(s, st, e);
	*ok = rc == 1 && cint(s, st, 0) == 0;
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_suppressed(struct store *s, const char *address, char **why, struct err *e)
{
	*why = NULL;
	/* a store in clear keeps the suppressions of people it forgot as
	 * hashes: look for both forms */
	char f[PII_HASH_LEN + 1], h[PII_HASH_LEN + 1];
	struct store_stmt *st =
		prep(s, "SELECT reason FROM suppressions WHERE address IN (?, ?) LIMIT 1", e);
	if (!st)
		return -1;
	btxt(s, st, 1, addr_form(s, address, f));
	btxt(s, st, 2, addr_hash(s, address, h));
	int rc = step(s, st, e);
	if (rc == 1)
		*why = cdup(s, st, 0);
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_suppress(struct store *s, const char *address, const char *channel, const char *reason,
		   int64_t now, struct err *e)
{
	struct store_stmt *st = prep(s,
		"INSERT INTO suppressions (address, channel, reason, at) VALUES (?, ?, ?, ?) "
		"ON CONFLICT (address) DO NOTHING", e);
	if (!st)
		return -1;
	char f[PII_HASH_LEN + 1];
	char *why = pii_redact(s, reason, address);
	btxt(s, st, 1, addr_form(s, address, f));
	btxt(s, st, 2, channel);
	btxt(s, st, 3, why);
	bint(s, st, 4, now);
	int rc = run(s, st, e);
	free(why);
	return rc;
}

int store_attr_keys(struct store *s, char ***keys, size_t *n, int64_t *ncontacts, struct err *e)
{
	struct store_stmt *st = prep(s, "SELECT attrs FROM contacts LIMIT 10000", e);
	if (!st)
		return -1;
	json_t *all = json_object();
	int rc;
	*ncontacts = 0;
	while ((rc = step(s, st, e)) == 1) {
		json_t *a = json_loads(ctxt(s, st, 0), 0, NULL);
		const char *k;
		json_t *v;
		json_object_foreach(a, k, v) json_object_set(all, k, json_true());
		json_decref(a);
		(*ncontacts)++;
	}
	done(s, st);
	*keys = xcalloc(json_object_size(all) + 1, sizeof(char *));
	*n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(all, k, v) (*keys)[(*n)++] = xstrdup(k);
	json_decref(all);
	return rc < 0 ? -1 : 0;
}

int store_subscriptions_of(struct store *s, const char *contact,
			   void (*fn)(void *ud, const char *channel, const char *cls, int subscribed),
			   void *ud, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT channel, class, subscribed FROM subscriptions WHERE contact_id = ? "
		"ORDER BY channel, class", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	int rc;
	while ((rc = step(s, st, e)) == 1)
		fn(ud, ctxt(s, st, 0), ctxt(s, st, 1), (int)cint(s, st, 2));
	done(s, st);
	return rc < 0 ? -1 : 0;
}

/* ---- events ---- */

static char *event_dedup(const struct event *ev, const char *data)
{
	if (ev->ext_id)
		return xasprintf("id:%s", ev->ext_id);
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s\n%s\n%lld\n%s", ev->contact_id, ev->type, (long long)ev->at, data);
	char hex[65];
	sha256_hex(b.data, b.len, hex);
	buf_release(&b);
	return xasprintf("h:%s", hex);
}

int store_event_add(struct store *s, const struct event *ev, int64_t now, int64_t *id,
		    int *inserted, struct err *e)
{
	char *data = json_dumps(ev->data ? ev->data : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
	char *dedup = event_dedup(ev, data);
	int r = -1;
	*inserted = 0;
	struct store_stmt *st = prep(s, "SELECT 1 FROM contacts WHERE id = ?", e);
	if (!st)
		goto out;
	btxt(s, st, 1, ev->contact_id);
	int rc = step(s, st, e);
	done(s, st);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		err_set(e, "unknown contact \"%s\"", ev->contact_id);
		goto out;
	}
	st = prep(s,
		"INSERT INTO events (contact_id, type, at, data, dedup, recorded_at, send_id) "
		"VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup) DO NOTHING RETURNING id", e);
	if (!st)
		goto out;
	btxt(s, st, 1, ev->contact_id);
	btxt(s, st, 2, ev->type);
	bint(s, st, 3, ev->at);
	btxt(s, st, 4, data);
	btxt(s, st, 5, dedup);
	bint(s, st, 6, now);
	if (ev->send_id)
		bint(s, st, 7, ev->send_id);
	else
		btxt(s, st, 7, NULL);
	rc = step(s, st, e);
	if (rc == 1) {
		*inserted = 1;
		if (id)
			*id = cint(s, st, 0);
		step(s, st, e);
	}
	done(s, st);
	if (rc < 0)
		goto out;
	if (*inserted) {
		/* the contact's segments may change: evaluate at the event's time or now */
		st = prep(s, "UPDATE contacts SET seg_eval_at = CASE WHEN seg_eval_at IS NULL "
			     "OR seg_eval_at > ? THEN ? ELSE seg_eval_at END WHERE id = ?", e);
		if (!st)
			goto out;
		int64_t t = ev->at < now ? ev->at : now;
		bint(s, st, 1, t);
		bint(s, st, 2, t);
		btxt(s, st, 3, ev->contact_id);
		if (run(s, st, e) < 0)
			goto out;
	}
	r = 0;
out:
	free(data);
	free(dedup);
	return r;
}

static void event_from_row(struct store *s, struct store_stmt *st, int off, struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->contact_id = cdup(s, st, off);
	ev->type = cdup(s, st, off + 1);
	ev->at = cint(s, st, off + 2);
	ev->data = json_loads(ctxt(s, st, off + 3), 0, NULL);
	if (!ev->data)
		ev->data = json_object();
	ev->send_id = cnull(s, st, off + 4) ? 0 : cint(s, st, off + 4);
}

void event_rows_free(struct event_row *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		event_release(&r[i].ev);
	free(r);
}

static void fill_event(struct store *s, struct store_stmt *st, void *slot)
{
	struct event_row *r = slot;
	r->id = cint(s, st, 0);
	event_from_row(s, st, 1, &r->ev);
}

static int event_rows(struct store *s, struct store_stmt *st, struct event_row **out, size_t *n,
		      struct err *e)
{
	void *v;
	if (rows(s, st, sizeof(**out), fill_event, &v, n, e) < 0) {
		event_rows_free(v, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	*out = v;
	return 0;
}

int store_events_pending(struct store *s, int limit, struct event_row **out, size_t *n,
			 struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT id, contact_id, type, at, data, send_id FROM events WHERE processed = 0 "
		"ORDER BY id LIMIT ?", e);
	if (!st)
		return -1;
	bint(s, st, 1, limit);
	return event_rows(s, st, out, n, e);
}

int store_events_of(struct store *s, const char *contact, int limit, struct event_row **out,
		    size_t *n, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT id, contact_id, type, at, data, send_id FROM events WHERE contact_id = ? "
		"ORDER BY at DESC, id DESC LIMIT ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	bint(s, st, 2, limit);
	return event_rows(s, st, out, n, e);
}

int store_event_done(struct store *s, int64_t id, struct err *e)
{
	struct store_stmt *st = prep(s, "UPDATE events SET processed = 1 WHERE id = ?", e);
	if (!st)
		return -1;
	bint(s, st, 1, id);
	return run(s, st, e);
}

int store_event_take(struct store *s, int64_t id, struct err *e)
{
	struct store_stmt *st = prep(s, FOR_UPDATE(s,
		"SELECT id FROM events WHERE id = ? AND processed = 0"), e);
	if (!st)
		return -1;
	bint(s, st, 1, id);
	int64_t got;
	int rc = one_id(s, st, &got, e);
	return rc < 0 ? -1 : rc == 0;
}

int store_events_get(struct store *s, const int64_t *ids, size_t n, struct event *out, int *found,
		     struct err *e)
{
	memset(found, 0, n * sizeof(*found));
	for (size_t off = 0; off < n; off += IN_MAX) {
		size_t m = n - off < IN_MAX ? n - off : IN_MAX;
		struct store_stmt *st = prep(s,
			"SELECT id, contact_id, type, at, data, send_id FROM events WHERE id IN " IN_LIST,
			e);
		if (!st)
			return -1;
		for (size_t i = 0; i < IN_MAX; i++) {
			if (i < m && ids[off + i])
				bint(s, st, (int)i + 1, ids[off + i]);
			else
				btxt(s, st, (int)i + 1, NULL);
		}
		int rc;
		while ((rc = step(s, st, e)) == 1) {
			int64_t id = cint(s, st, 0);
			for (size_t i = off; i < off + m; i++)
				if (!found[i] && ids[i] == id) {
					event_from_row(s, st, 1, &out[i]);
					found[i] = 1;
				}
		}
		done(s, st);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int store_event_get(struct store *s, int64_t id, struct event *out, struct err *e)
{
	struct store_stmt *st =
		prep(s, "SELECT contact_id, type, at, data, send_id FROM events WHERE id = ?", e);
	if (!st)
		return -1;
	bint(s, st, 1, id);
	int rc = step(s, st, e);
	if (rc == 1)
		event_from_row(s, st, 0, out);
	done(s, st);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

int store_event_count(struct store *s, const char *contact, const char *type, int64_t since,
		      int64_t until, int64_t *n, int64_t *oldest, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT COUNT(*), MIN(at) FROM events WHERE contact_id = ? AND type = ? "
		"AND at >= ? AND at <= ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	btxt(s, st, 2, type);
	bint(s, st, 3, since);
	bint(s, st, 4, until);
	int rc = step(s, st, e);
	if (rc == 1) {
		*n = cint(s, st, 0);
		*oldest = cnull(s, st, 1) ? TIME_NEVER : cint(s, st, 1);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_event_sum(struct store *s, const char *contact, const char *type, const char *field,
		    int64_t since, int64_t until, double *total, int64_t *oldest, struct err *e)
{
	/* data is JSON text: read each row's field here, portable across engines */
	struct store_stmt *st = prep(s,
		"SELECT data, at FROM events WHERE contact_id = ? AND type = ? "
		"AND at >= ? AND at <= ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	btxt(s, st, 2, type);
	bint(s, st, 3, since);
	bint(s, st, 4, until);
	int rc;
	*total = 0;
	*oldest = TIME_NEVER;
	while ((rc = step(s, st, e)) == 1) {
		json_t *d = json_loads(ctxt(s, st, 0), 0, NULL);
		json_t *v = d ? json_object_get(d, field) : NULL;
		if (json_is_number(v))
			*total += json_number_value(v);
		else if (json_is_string(v))
			*total += strtod(json_string_value(v), NULL);
		int64_t at = cint(s, st, 1);
		if (at < *oldest)
			*oldest = at;
		json_decref(d);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_event_last(struct store *s, const char *contact, const char *type, int64_t until,
		     int64_t *at, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT MAX(at) FROM events WHERE contact_id = ? AND type = ? AND at <= ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	btxt(s, st, 2, type);
	bint(s, st, 3, until);
	int rc = step(s, st, e);
	int found = rc == 1 && !cnull(s, st, 0);
	if (found)
		*at = cint(s, st, 0);
	done(s, st);
	return rc < 0 ? -1 : found ? 0 : 1;
}

int store_event_between(struct store *s, const char *contact, char *const *types, size_t ntypes,
			int64_t after, int64_t until, char **type_out, int64_t *at, struct err *e)
{
	size_t best = ntypes;
	int64_t best_at = 0;
	for (size_t i = 0; i < ntypes; i++) {
		struct store_stmt *st = prep(s,
			"SELECT MIN(at) FROM events WHERE contact_id = ? AND type = ? AND at > ? AND at <= ?",
			e);
		if (!st)
			return -1;
		btxt(s, st, 1, contact);
		btxt(s, st, 2, types[i]);
		bint(s, st, 3, after);
		bint(s, st, 4, until);
		int rc = step(s, st, e);
		if (rc == 1 && !cnull(s, st, 0) && (best == ntypes || cint(s, st, 0) < best_at)) {
			best = i;
			best_at = cint(s, st, 0);
		}
		done(s, st);
		if (rc < 0)
			return -1;
	}
	if (best == ntypes)
		return 1;
	*type_out = xstrdup(types[best]);
	*at = best_at;
	return 0;
}

/* ---- segments ---- */

static void fill_string(struct store *s, struct store_stmt *st, void *slot)
{
	*(char **)slot = cdup(s, st, 0);
}

static int strings(struct store *s, struct store_stmt *st, char ***out, size_t *n, struct err *e)
{
	void *v;
	if (rows(s, st, sizeof(**out), fill_string, &v, n, e) < 0) {
		strv_free(v, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	*out = v;
	return 0;
}

int store_contacts_to_eval(struct store *s, int64_t now, int limit, char ***ids, size_t *n,
			   struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT id FROM contacts WHERE seg_eval_at IS NOT NULL AND seg_eval_at <= ? "
		"ORDER BY seg_eval_at LIMIT ?", e);
	if (!st)
		return -1;
	bint(s, st, 1, now);
	bint(s, st, 2, limit);
	return strings(s, st, ids, n, e);
}

int store_contact_eval_at(struct store *s, const char *contact, int64_t next, struct err *e)
{
	struct store_stmt *st = prep(s, "UPDATE contacts SET seg_eval_at = ? WHERE id = ?", e);
	if (!st)
		return -1;
	if (next == TIME_NEVER)
		btxt(s, st, 1, NULL);
	else
		bint(s, st, 1, next);
	btxt(s, st, 2, contact);
	return run(s, st, e);
}

int store_event_types(struct store *s, char ***types, size_t *n, struct err *e)
{
	struct store_stmt *st = prep(s, "SELECT DISTINCT type FROM events ORDER BY type", e);
	if (!st)
		return -1;
	return strings(s, st, types, n, e);
}

int store_segments_of(struct store *s, const char *contact, char ***names, size_t *n,
		      struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT segment FROM contact_segments WHERE contact_id = ? ORDER BY segment", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	return strings(s, st, names, n, e);
}

int store_segments_of_each(struct store *s, char *const *contacts, size_t n, char ***names,
			   size_t *counts, struct err *e)
{
	memset(names, 0, n * sizeof(*names));
	memset(counts, 0, n * sizeof(*counts));
	for (size_t off = 0; off < n; off += IN_MAX) {
		size_t m = n - off < IN_MAX ? n - off : IN_MAX;
		struct store_stmt *st = prep(s,
			"SELECT contact_id, segment FROM contact_segments WHERE contact_id IN " IN_LIST
			" ORDER BY contact_id, segment", e);
		if (!st)
			return -1;
		for (size_t i = 0; i < IN_MAX; i++)
			btxt(s, st, (int)i + 1, i < m ? contacts[off + i] : NULL);
		int rc;
		while ((rc = step(s, st, e)) == 1) {
			const char *id = ctxt(s, st, 0);
			for (size_t i = off; i < off + m; i++) {
				if (!contacts[i] || strcmp(contacts[i], id) != 0)
					continue;
				names[i] = xrealloc(names[i], (counts[i] + 1) * sizeof(**names));
				names[i][counts[i]++] = cdup(s, st, 1);
			}
		}
		done(s, st);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int store_segment_set(struct store *s, const char *contact, const char *segment, int member,
		      int64_t now, struct err *e)
{
	struct store_stmt *st = member
		? prep(s, "INSERT INTO contact_segments (contact_id, segment, since) VALUES (?, ?, ?) "
			  "ON CONFLICT (contact_id, segment) DO NOTHING", e)
		: prep(s, "DELETE FROM contact_segments WHERE contact_id = ? AND segment = ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	btxt(s, st, 2, segment);
	if (member)
		bint(s, st, 3, now);
	return run(s, st, e);
}

int store_segment_sizes(struct store *s, void (*fn)(void *ud, const char *seg, int64_t n),
			void *ud, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT segment, COUNT(*) FROM contact_segments GROUP BY segment ORDER BY segment", e);
	if (!st)
		return -1;
	int rc;
	while ((rc = step(s, st, e)) == 1)
		fn(ud, ctxt(s, st, 0), cint(s, st, 1));
	done(s, st);
	return rc < 0 ? -1 : 0;
}

/* ---- enrollments and sends ---- */

int store_enroll(struct store *s, const char *campaign, const char *contact,
		 const char *trigger_ref, int64_t trigger_at, int64_t event_id, int holdout,
		 const char *variant, int64_t now, int64_t *id, int *created, struct err *e)
{
	struct store_stmt *st = prep(s,
		"INSERT INTO enrollments (campaign, contact_id, trigger_ref, trigger_at, event_id, holdout, "
		"variant, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
		"ON CONFLICT (campaign, contact_id, trigger_ref) DO NOTHING RETURNING id", e);
	if (!st)
		return -1;
	btxt(s, st, 1, campaign);
	btxt(s, st, 2, contact);
	btxt(s, st, 3, trigger_ref);
	bint(s, st, 4, trigger_at);
	if (event_id)
		bint(s, st, 5, event_id);
	else
		btxt(s, st, 5, NULL);
	bint(s, st, 6, holdout);
	btxt(s, st, 7, variant);
	bint(s, st, 8, now);
	int rc = step(s, st, e);
	*created = rc == 1;
	if (rc == 1) {
		*id = cint(s, st, 0);
		step(s, st, e);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_cap_nth(struct store *s, const char *contact, int scope, int64_t since, int64_t self,
		  int64_t now, int nth, int64_t *t, struct err *e)
{
	if (book_lock(s, e) < 0)
		return -1;
	struct store_stmt *st = prep(s,
		"SELECT t FROM ("
		"SELECT sent_at AS t FROM sends WHERE contact_id = ? AND sent_at IS NOT NULL "
		"AND sent_at > ? AND (? < 0 OR priority = ?) "
		"UNION ALL "
		"SELECT ? AS t FROM sends WHERE contact_id = ? AND state = 'sending' "
		"AND passed_at IS NOT NULL AND id <> ? AND (? < 0 OR priority = ?)"
		") AS counted ORDER BY t DESC LIMIT 1 OFFSET ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	bint(s, st, 2, since);
	bint(s, st, 3, scope);
	bint(s, st, 4, scope);
	bint(s, st, 5, now);
	btxt(s, st, 6, contact);
	bint(s, st, 7, self);
	bint(s, st, 8, scope);
	bint(s, st, 9, scope);
	bint(s, st, 10, nth);
	int rc = step(s, st, e);
	if (rc == 1)
		*t = cint(s, st, 0);
	done(s, st);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

int store_send_passed(struct store *s, int64_t id, int64_t now, struct err *e)
{
	struct store_stmt *st = prep(s, "UPDATE sends SET passed_at = ? WHERE id = ?", e);
	if (!st)
		return -1;
	bint(s, st, 1, now);
	bint(s, st, 2, id);
	int rc = step(s, st, e);
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_rate_take(struct store *s, const char *key, double per_sec, double burst, int64_t now_ms,
		    int64_t *wait_ms, struct err *e)
{
	double tokens = burst;
	int64_t at = now_ms;
	if (book_lock(s, e) < 0)
		return -1;
	struct store_stmt *st = prep(s, "SELECT tokens, at_ms FROM rate_buckets WHERE key = ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, key);
	int rc = step(s, st, e);
	if (rc == 1) {
		tokens = OPS->col_double(st, 0);
		at = cint(s, st, 1);
	}
	done(s, st);
	if (rc < 0)
		return -1;
	/* refill for the time passed (a clock that went back refills nothing) */
	if (now_ms > at)
		tokens += (double)(now_ms - at) / 1000.0 * per_sec;
	if (tokens > burst)
		tokens = burst;
	*wait_ms = 0;
	if (tokens >= 1.0)
		tokens -= 1.0;
	else
		*wait_ms = (int64_t)((1.0 - tokens) / per_sec * 1000.0) + 1;
	st = prep(s,
		"INSERT INTO rate_buckets (key, tokens, at_ms) VALUES (?, ?, ?) "
		"ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, at_ms = excluded.at_ms", e);
	if (!st)
		return -1;
	btxt(s, st, 1, key);
	OPS->bind_double(st, 2, tokens);
	bint(s, st, 3, now_ms > at ? now_ms : at);
	rc = step(s, st, e);
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_enrollment_history(struct store *s, const char *campaign, const char *contact,
			     int64_t *count, int64_t *last_trigger_at, struct err *e)
{
	if (book_lock(s, e) < 0)
		return -1;
	struct store_stmt *st = prep(s,
		"SELECT COUNT(*), MAX(trigger_at) FROM enrollments WHERE campaign = ? AND contact_id = ?",
		e);
	if (!st)
		return -1;
	btxt(s, st, 1, campaign);
	btxt(s, st, 2, contact);
	int rc = step(s, st, e);
	*count = rc == 1 ? cint(s, st, 0) : 0;
	*last_trigger_at = rc == 1 && !cnull(s, st, 1) ? cint(s, st, 1) : TIME_NEVER;
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_log_state(struct store *s, int64_t id, int64_t now, const char *state,
		    const char *reason, struct err *e)
{
	struct store_stmt *st = prep(s,
		"INSERT INTO send_log (send_id, at, state, reason) VALUES (?, ?, ?, ?)", e);
	if (!st)
		return -1;
	bint(s, st, 1, id);
	bint(s, st, 2, now);
	btxt(s, st, 3, state);
	btxt(s, st, 4, reason);
	return run(s, st, e);
}

int store_send_schedule(struct store *s, const struct send_new *n, int64_t now, int64_t *id,
			int *created, struct err *e)
{
	struct store_stmt *st = prep(s,
		"INSERT INTO sends (enrollment_id, campaign, step, contact_id, priority, state, due_at, "
		"expire_at, trigger_at, template, created_at, updated_at) "
		"VALUES (?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?, ?, ?) "
		"ON CONFLICT (enrollment_id, step) DO NOTHING RETURNING id", e);
	if (!st)
		return -1;
	bint(s, st, 1, n->enrollment_id);
	btxt(s, st, 2, n->campaign);
	bint(s, st, 3, n->step);
	btxt(s, st, 4, n->contact);
	bint(s, st, 5, n->priority);
	bint(s, st, 6, n->due_at);
	if (n->expire_at == TIME_NEVER)
		btxt(s, st, 7, NULL);
	else
		bint(s, st, 7, n->expire_at);
	bint(s, st, 8, n->trigger_at);
	btxt(s, st, 9, n->template);
	bint(s, st, 10, now);
	bint(s, st, 11, now);
	int rc = step(s, st, e);
	int64_t sid = 0;
	*created = rc == 1;
	if (rc == 1) {
		sid = cint(s, st, 0);
		step(s, st, e);
	}
	done(s, st);
	if (rc < 0)
		return -1;
	if (id)
		*id = sid;
	if (*created) {
		char due[32], why[96];
		time_format(n->due_at, due, sizeof(due));
		snprintf(why, sizeof(why), "due %s", due);
		return store_log_state(s, sid, now, "scheduled", why, e);
	}
	return 0;
}

#define SEND_COLS                                                                                  \
	"s.id, s.enrollment_id, s.campaign, s.step, s.contact_id, s.priority, s.state, s.due_at, "    \
	"s.expire_at, s.trigger_at, s.created_at, s.sent_at, s.template, s.channel, s.transport, "    \
	"s.address, s.message_id, s.provider_id, s.reason, s.attempts, en.event_id, en.trigger_ref "

static void send_from_row(struct store *s, struct store_stmt *st, struct send_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = cint(s, st, 0);
	r->enrollment_id = cint(s, st, 1);
	r->campaign = cdup(s, st, 2);
	r->step = (int)cint(s, st, 3);
	r->contact = cdup(s, st, 4);
	r->priority = (int)cint(s, st, 5);
	snprintf(r->state, sizeof(r->state), "%s", ctxt(s, st, 6));
	r->due_at = cint(s, st, 7);
	r->expire_at = cnull(s, st, 8) ? TIME_NEVER : cint(s, st, 8);
	r->trigger_at = cint(s, st, 9);
	r->created_at = cint(s, st, 10);
	r->sent_at = cnull(s, st, 11) ? 0 : cint(s, st, 11);
	r->template = cdup(s, st, 12);
	r->channel = cdup(s, st, 13);
	r->transport = cdup(s, st, 14);
	r->address = cdup(s, st, 15);
	r->message_id = cdup(s, st, 16);
	r->provider_id = cdup(s, st, 17);
	r->reason = cdup(s, st, 18);
	r->attempts = (int)cint(s, st, 19);
	r->event_id = cnull(s, st, 20) ? 0 : cint(s, st, 20);
	r->trigger_ref = cdup(s, st, 21);
}

void send_row_release(struct send_row *r)
{
	free(r->campaign);
	free(r->contact);
	free(r->template);
	free(r->channel);
	free(r->transport);
	free(r->address);
	free(r->message_id);
	free(r->provider_id);
	free(r->reason);
	free(r->trigger_ref);
	memset(r, 0, sizeof(*r));
}

void send_rows_free(struct send_row *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		send_row_release(&r[i]);
	free(r);
}

static void fill_send(struct store *s, struct store_stmt *st, void *slot)
{
	send_from_row(s, st, slot);
}

static int send_rows(struct store *s, struct store_stmt *st, struct send_row **out, size_t *n,
		     struct err *e)
{
	void *v;
	if (rows(s, st, sizeof(**out), fill_send, &v, n, e) < 0) {
		send_rows_free(v, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	*out = v;
	return 0;
}

int store_send_get(struct store *s, int64_t id, struct send_row *out, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT " SEND_COLS "FROM sends s JOIN enrollments en ON en.id = s.enrollment_id "
		"WHERE s.id = ?", e);
	if (!st)
		return -1;
	bint(s, st, 1, id);
	int rc = step(s, st, e);
	if (rc == 1)
		send_from_row(s, st, out);
	done(s, st);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

static int collect_ids(struct store *s, struct store_stmt *st, int64_t **ids, size_t *n,
		       size_t *cap, struct err *e)
{
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*ids = xrealloc(*ids, *cap * sizeof(**ids));
		}
		(*ids)[(*n)++] = cint(s, st, 0);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

/* CLAIM_COLS - SEND_COLS without the join: a claim locks the rows it
 * reads (FOR UPDATE), and only the sends' rows are the claim's to lock */
#define CLAIM_COLS                                                                                 \
	"s.id, s.enrollment_id, s.campaign, s.step, s.contact_id, s.priority, s.state, s.due_at, "    \
	"s.expire_at, s.trigger_at, s.created_at, s.sent_at, s.template, s.channel, s.transport, "    \
	"s.address, s.message_id, s.provider_id, s.reason, s.attempts, "                              \
	"(SELECT en.event_id FROM enrollments en WHERE en.id = s.enrollment_id), "                    \
	"(SELECT en.trigger_ref FROM enrollments en WHERE en.id = s.enrollment_id) "

/* claim_rows - append the rows st finds to *v (the due sends, read
 * whole: the claim's UPDATE changes none of SEND_COLS but the state) */
static int claim_rows(struct store *s, struct store_stmt *st, struct send_row **v, size_t *n,
		      size_t *cap, struct err *e)
{
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*v = xrealloc(*v, *cap * sizeof(**v));
		}
		send_from_row(s, st, &(*v)[(*n)++]);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_claim(struct store *s, const char *owner, int64_t now, int64_t lease, int limit,
		struct send_row **out, size_t *n, struct err *e)
{
	struct send_row *v = NULL;
	size_t nv = 0, cap = 0, got = 0;
	int own_tx = !s->in_tx;
	*out = NULL;
	*n = 0;
	if (own_tx && store_begin(s, e) < 0)
		return -1;
	/* expired leases first: they are the oldest work; those a server
	 * accepted before their worker went are finished, not sent again */
	int acked;
	if (store_acks_recover(s, NULL, now, &acked, e) < 0)
		goto fail;
	struct store_stmt *st = prep(s, FOR_UPDATE(s,
		"SELECT " CLAIM_COLS "FROM sends s WHERE s.state = 'sending' AND s.lease_until <= ? "
		"ORDER BY s.lease_until LIMIT ?"), e);
	if (!st)
		goto fail;
	bint(s, st, 1, now);
	bint(s, st, 2, limit);
	if (claim_rows(s, st, &v, &nv, &cap, e) < 0)
		goto fail;
	size_t expired = nv;
	for (int prio = 0; prio <= 1 && (int)nv < limit; prio++) {
		st = prep(s, FOR_UPDATE(s,
			"SELECT " CLAIM_COLS "FROM sends s WHERE s.state IN ('scheduled', 'deferred') "
			"AND s.priority = ? AND s.due_at <= ? ORDER BY s.due_at, s.id LIMIT ?"), e);
		if (!st)
			goto fail;
		bint(s, st, 1, prio);
		bint(s, st, 2, now);
		bint(s, st, 3, limit - (int)nv);
		if (claim_rows(s, st, &v, &nv, &cap, e) < 0)
			goto fail;
	}
	for (size_t i = 0; i < nv; i++) {
		st = prep(s,
			"UPDATE sends SET state = 'sending', owner = ?, lease_until = ?, updated_at = ?, passed_at = NULL "
			"WHERE id = ? AND (state IN ('scheduled', 'deferred') OR "
			"(state = 'sending' AND lease_until <= ?))", e);
		if (!st)
			goto fail;
		btxt(s, st, 1, owner);
		bint(s, st, 2, now + lease);
		bint(s, st, 3, now);
		bint(s, st, 4, v[i].id);
		bint(s, st, 5, now);
		int64_t changed = run_changed(s, st, e);
		if (changed < 0)
			goto fail;
		if (changed == 0) {
			send_row_release(&v[i]); /* taken meanwhile: not ours */
			continue;
		}
		if (i < expired) {
			char why[160];
			snprintf(why, sizeof(why), "lease expired; taken over by %s", owner);
			if (store_log_state(s, v[i].id, now, "scheduled", why, e) < 0)
				goto fail;
		}
		snprintf(v[i].state, sizeof(v[i].state), "sending");
		if (got != i) {
			v[got] = v[i];
			memset(&v[i], 0, sizeof(v[i]));
		}
		got++;
	}
	if (own_tx && store_commit(s, e) < 0) {
		send_rows_free(v, nv);
		return -1;
	}
	for (size_t i = got; i < nv; i++)
		send_row_release(&v[i]);
	*out = v ? v : xcalloc(1, sizeof(*v));
	*n = got;
	return 0;
fail:
	send_rows_free(v, nv);
	if (own_tx)
		store_rollback(s);
	return -1;
}

int store_send_update(struct store *s, int64_t id, const char *owner, const struct send_update *u,
		      int64_t now, struct err *e)
{
	int own_tx = !s->in_tx;
	if (own_tx && store_begin(s, e) < 0)
		return -1;
	struct store_stmt *st = prep(s,
		"UPDATE sends SET state = ?, due_at = CASE WHEN ? > 0 THEN ? ELSE due_at END, "
		"reason = COALESCE(?, reason), channel = COALESCE(?, channel), "
		"transport = COALESCE(?, transport), address = COALESCE(?, address), "
		"message_id = COALESCE(?, message_id), provider_id = COALESCE(?, provider_id), "
		"segments = CASE WHEN ? > 0 THEN ? ELSE segments END, "
		"attempts = attempts + ?, owner = NULL, lease_until = NULL, updated_at = ?, "
		"sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END "
		"WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR owner = ?)", e);
	if (!st)
		goto fail;
	btxt(s, st, 1, u->state);
	bint(s, st, 2, u->due_at);
	bint(s, st, 3, u->due_at);
	btxt(s, st, 4, u->reason);
	btxt(s, st, 5, u->channel);
	btxt(s, st, 6, u->transport);
	char af[PII_HASH_LEN + 1];
	btxt(s, st, 7, addr_form(s, u->address, af));
	btxt(s, st, 8, u->message_id);
	btxt(s, st, 9, u->provider_id);
	bint(s, st, 10, u->segments);
	bint(s, st, 11, u->segments);
	bint(s, st, 12, u->attempt_status ? 1 : 0);
	bint(s, st, 13, now);
	btxt(s, st, 14, u->state);
	bint(s, st, 15, now);
	bint(s, st, 16, id);
	btxt(s, st, 17, owner);
	btxt(s, st, 18, owner);
	int64_t changed = run_changed(s, st, e);
	if (changed < 0)
		goto fail;
	if (changed == 0) {
		if (own_tx)
			store_rollback(s);
		return 1;
	}
	if (u->attempt_status && store_attempt_add(s, id, now, u->transport, u->attempt_status,
						   u->attempt_code, u->attempt_reason, e) < 0)
		goto fail;
	if (store_log_state(s, id, now, u->state, u->reason, e) < 0)
		goto fail;
	if (u->attempt_status && strcmp(u->attempt_status, "ok") == 0) {
		/* recorded: its acknowledgment (store_ack_add) is not needed */
		if (!(st = prep(s, "DELETE FROM acks WHERE send_id = ?", e)))
			goto fail;
		bint(s, st, 1, id);
		if (run(s, st, e) < 0)
			goto fail;
	}
	if (own_tx && store_commit(s, e) < 0)
		return -1;
	return 0;
fail:
	if (own_tx)
		store_rollback(s);
	return -1;
}

int store_attempt_add(struct store *s, int64_t id, int64_t now, const char *transport,
		      const char *status, const char *code, const char *reason, struct err *e)
{
	struct store_stmt *st = prep(s,
		"INSERT INTO attempts (send_id, at, transport, status, code, reason) "
		"VALUES (?, ?, ?, ?, ?, ?)", e);
	if (!st)
		return -1;
	bint(s, st, 1, id);
	bint(s, st, 2, now);
	btxt(s, st, 3, transport ? transport : "");
	btxt(s, st, 4, status);
	btxt(s, st, 5, code);
	btxt(s, st, 6, reason);
	return run(s, st, e);
}

int store_send_release(struct store *s, int64_t id, const char *owner, struct err *e)
{
	struct store_stmt *st = prep(s,
		"UPDATE sends SET state = 'scheduled', owner = NULL, lease_until = NULL "
		"WHERE id = ? AND owner = ? AND state = 'sending'", e);
	if (!st)
		return -1;
	bint(s, st, 1, id);
	btxt(s, st, 2, owner);
	return run(s, st, e);
}

int store_sends_pending_of(struct store *s, const char *contact, struct send_row **out, size_t *n,
			   struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT " SEND_COLS "FROM sends s JOIN enrollments en ON en.id = s.enrollment_id "
		"WHERE s.contact_id = ? AND s.state IN ('scheduled', 'deferred') ORDER BY s.id", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	return send_rows(s, st, out, n, e);
}

int store_sends_of(struct store *s, const char *contact, int limit, struct send_row **out,
		   size_t *n, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT " SEND_COLS "FROM sends s JOIN enrollments en ON en.id = s.enrollment_id "
		"WHERE s.contact_id = ? ORDER BY s.id DESC LIMIT ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	bint(s, st, 2, limit);
	return send_rows(s, st, out, n, e);
}

int store_send_history(struct store *s, int64_t id,
		       void (*fn)(void *ud, int64_t at, const char *state, const char *reason),
		       void *ud, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT at, state, reason FROM send_log WHERE send_id = ? ORDER BY id", e);
	if (!st)
		return -1;
	bint(s, st, 1, id);
	int rc;
	while ((rc = step(s, st, e)) == 1)
		fn(ud, cint(s, st, 0), ctxt(s, st, 1), ctxt(s, st, 2));
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_send_attempts(struct store *s, int64_t id,
			void (*fn)(void *ud, int64_t at, const char *transport, const char *status,
				   const char *code, const char *reason),
			void *ud, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT at, transport, status, code, reason FROM attempts WHERE send_id = ? ORDER BY id", e);
	if (!st)
		return -1;
	bint(s, st, 1, id);
	int rc;
	while ((rc = step(s, st, e)) == 1)
		fn(ud, cint(s, st, 0), ctxt(s, st, 1), ctxt(s, st, 2), ctxt(s, st, 3), ctxt(s, st, 4));
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_next_wakeup(struct store *s, int64_t *at, struct err *e)
{
	static const char *const sql[] = {
		"SELECT MIN(due_at) FROM sends WHERE state IN ('scheduled', 'deferred')",
		"SELECT MIN(lease_until) FROM sends WHERE state = 'sending'",
		"SELECT MIN(seg_eval_at) FROM contacts WHERE seg_eval_at IS NOT NULL",
	};
	*at = TIME_NEVER;
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		struct store_stmt *st = prep(s, sql[i], e);
		if (!st)
			return -1;
		int rc = step(s, st, e);
		if (rc == 1 && !cnull(s, st, 0) && cint(s, st, 0) < *at)
			*at = cint(s, st, 0);
		done(s, st);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int store_last_change(struct store *s, int64_t *id, struct err *e)
{
	struct store_stmt *st = prep(s, "SELECT COALESCE(MAX(id), 0) FROM send_log", e);
	if (!st)
		return -1;
	int rc = step(s, st, e);
	*id = rc == 1 ? cint(s, st, 0) : 0;
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_changes(struct store *s, int64_t after_id, int64_t since,
		  void (*fn)(void *ud, const struct send_change *c), void *ud, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT l.send_id, l.at, l.state, s.campaign, s.contact_id, s.channel "
		"FROM send_log l JOIN sends s ON s.id = l.send_id "
		"WHERE l.id > ? AND l.at >= ? ORDER BY l.send_id, l.id", e);
	if (!st)
		return -1;
	bint(s, st, 1, after_id);
	bint(s, st, 2, since);
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		struct send_change c = {
		    .send_id = cint(s, st, 0),
		    .at = cint(s, st, 1),
		    .state = ctxt(s, st, 2),
		    .campaign = ctxt(s, st, 3),
		    .contact = ctxt(s, st, 4),
		    .channel = cnull(s, st, 5) ? NULL : ctxt(s, st, 5),
		};
		fn(ud, &c);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_suppressions(struct store *s, void (*fn)(void *ud, const struct suppression *r), void *ud,
		       struct err *e)
{
	struct store_stmt *st =
		prep(s, "SELECT address, channel, reason, at FROM suppressions ORDER BY address", e);
	if (!st)
		return -1;
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		struct suppression r = {
		    .address = ctxt(s, st, 0),
		    .channel = cnull(s, st, 1) ? NULL : ctxt(s, st, 1),
		    .reason = ctxt(s, st, 2),
		    .at = cint(s, st, 3),
		};
		fn(ud, &r);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_unsuppress(struct store *s, char *const *addresses, size_t n, int *removed,
		     struct err *e)
{
	if (store_begin(s, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char f[PII_HASH_LEN + 1], h[PII_HASH_LEN + 1];
		struct store_stmt *st = prep(s, "DELETE FROM suppressions WHERE address IN (?, ?)", e);
		if (!st)
			goto fail;
		btxt(s, st, 1, addr_form(s, addresses[i], f));
		btxt(s, st, 2, addr_hash(s, addresses[i], h));
		int64_t changed = run_changed(s, st, e);
		if (changed < 0)
			goto fail;
		removed[i] = changed > 0;
	}
	return store_commit(s, e);
fail:
	store_rollback(s);
	return -1;
}

/* every table of the schema, in an order that satisfies its foreign keys */
static const char *const snapshot_tables[] = {
	"contacts", "subscriptions", "events", "contact_segments", "enrollments", "sends",
	"send_log", "attempts", "suppressions", "workers", "rate_buckets", "links", "inbound",
	"acks",
};

/* insert_sql - "INSERT INTO t VALUES (?, ...)" for table i with n columns:
 * built once and kept, since statements are cached by their SQL pointer */
static const char *insert_sql(size_t i, int n)
{
	static char *sql[sizeof(snapshot_tables) / sizeof(snapshot_tables[0])];
	static int cols[sizeof(snapshot_tables) / sizeof(snapshot_tables[0])];
	if (!sql[i] || cols[i] != n) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "INSERT INTO %s VALUES (", snapshot_tables[i]);
		for (int c = 0; c < n; c++)
			buf_puts(&b, c ? ", ?" : "?");
		buf_puts(&b, ")");
		/* never freed: a store may still cache a statement under the old pointer */
		sql[i] = buf_detach(&b);
		cols[i] = n;
	}
	return sql[i];
}

/* copy_table - stream table i of s (its cursor "snapshot_rows" open) into d */
static int copy_table(struct store *s, struct store *d, size_t i, struct err *e)
{
	for (;;) {
		struct store_stmt *st = prep(s, "FETCH 2000 FROM snapshot_rows", e);
		if (!st)
			return -1;
		int rc, got = 0;
		while ((rc = step(s, st, e)) == 1) {
			int n = OPS->col_count(st);
			struct store_stmt *ins = prep(d, insert_sql(i, n), e);
			if (!ins) {
				done(s, st);
				return -1;
			}
			for (int c = 0; c < n; c++)
				btxt(d, ins, c + 1, ctxt(s, st, c));
			if (run(d, ins, e) < 0) {
				done(s, st);
				return -1;
			}
			got++;
		}
		done(s, st);
		if (rc < 0)
			return -1;
		if (got == 0)
			return 0;
	}
}

int store_snapshot(struct store *s, const char *path, struct err *e)
{
	if (strcmp(OPS->name, "sqlite") == 0) {
		struct store_stmt *st = prep(s, "VACUUM INTO ?", e);
		if (!st)
			return -1;
		btxt(s, st, 1, path);
		int rc = step(s, st, e);
		done(s, st);
		return rc < 0 ? -1 : 0;
	}
	struct store *d = store_open(path, e);
	int from, to, rc = -1;
	if (!d || store_migrate(d, &from, &to, e) < 0 || store_begin(d, e) < 0)
		goto out;
	if (OPS->exec(s->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", e) < 0)
		goto out;
	for (size_t i = 0; i < sizeof(snapshot_tables) / sizeof(snapshot_tables[0]); i++) {
		char *declare = xasprintf("DECLARE snapshot_rows NO SCROLL CURSOR FOR SELECT * FROM %s",
					  snapshot_tables[i]);
		int bad = OPS->exec(s->db, declare, e) < 0 || copy_table(s, d, i, e) < 0 ||
			  OPS->exec(s->db, "CLOSE snapshot_rows", e) < 0;
		free(declare);
		if (bad) {
			err_prefix(e, "copying %s", snapshot_tables[i]);
			goto out;
		}
	}
	/* the copy opens as the store does: its personal data's state and
	 * sealed index key */
	struct store_stmt *st = prep(s, "SELECT key, value FROM meta WHERE key LIKE 'pii%'", e);
	int got = st ? 1 : -1;
	while (st && (got = step(s, st, e)) == 1)
		if (store_meta_set(d, ctxt(s, st, 0), ctxt(s, st, 1), e) < 0) {
			got = -1;
			break;
		}
	if (st)
		done(s, st);
	if (got < 0) {
		err_prefix(e, "copying meta");
		goto out;
	}
	rc = store_commit(d, e);
out:
	OPS->rollback(s->db); /* the read-only transaction */
	if (d && rc < 0)
		store_rollback(d);
	store_close(d);
	return rc;
}

/* ---- workers ---- */

int store_worker_register(struct store *s, const char *id, const char *host, int pid, int64_t now,
			  struct err *e)
{
	struct store_stmt *st = prep(s,
		"INSERT INTO workers (id, host, pid, started_at, seen_at) VALUES (?, ?, ?, ?, ?) "
		"ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, stopped = 0", e);
	if (!st)
		return -1;
	btxt(s, st, 1, id);
	btxt(s, st, 2, host);
	bint(s, st, 3, pid);
	bint(s, st, 4, now);
	bint(s, st, 5, now);
	return run(s, st, e);
}

int store_worker_stop(struct store *s, const char *id, struct err *e)
{
	struct store_stmt *st = prep(s, "UPDATE workers SET stopped = 1 WHERE id = ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, id);
	return run(s, st, e);
}

int store_workers_reap(struct store *s, const char *host, int (*alive)(int pid), int64_t now,
		       int *released, struct err *e)
{
	char **ids = NULL;
	int64_t *pids = NULL;
	size_t n = 0, cap = 0;
	int rc;
	*released = 0;
	struct store_stmt *st =
		prep(s, "SELECT id, pid FROM workers WHERE host = ? AND stopped = 0", e);
	if (!st)
		return -1;
	btxt(s, st, 1, host);
	while ((rc = step(s, st, e)) == 1) {
		if ((int)cint(s, st, 1) > 0 && alive((int)cint(s, st, 1)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			ids = xrealloc(ids, cap * sizeof(*ids));
			pids = xrealloc(pids, cap * sizeof(*pids));
		}
		pids[n] = cint(s, st, 1);
		ids[n++] = cdup(s, st, 0);
	}
	done(s, st);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		if ((rc = store_begin(s, e)) < 0)
			break;
		char why[160];
		snprintf(why, sizeof(why), "worker %s (pid %lld) died; claim released", ids[i],
			 (long long)pids[i]);
		int64_t *sids = NULL;
		size_t ns = 0, scap = 0;
		int acked = 0;
		/* what a server accepted is finished as sent, the rest released */
		rc = store_acks_recover(s, ids[i], now, &acked, e);
		st = rc < 0 ? NULL : prep(s, "SELECT id FROM sends WHERE owner = ? AND state = 'sending'", e);
		rc = st ? 0 : -1;
		if (rc == 0) {
			btxt(s, st, 1, ids[i]);
			rc = collect_ids(s, st, &sids, &ns, &scap, e);
		}
		for (size_t k = 0; rc == 0 && k < ns; k++) {
			st = prep(s, "UPDATE sends SET state = 'scheduled', owner = NULL, "
				     "lease_until = NULL WHERE id = ? AND state = 'sending'", e);
			rc = st ? 0 : -1;
			if (rc == 0) {
				bint(s, st, 1, sids[k]);
				rc = run(s, st, e);
			}
			if (rc == 0)
				rc = store_log_state(s, sids[k], now, "scheduled", why, e);
		}
		free(sids);
		if (rc == 0)
			rc = store_worker_stop(s, ids[i], e);
		if (rc == 0)
			rc = store_commit(s, e);
		else
			store_rollback(s);
		if (rc == 0)
			*released += (int)ns;
	}
out:
	strv_free(ids, n);
	free(pids);
	return rc < 0 ? -1 : 0;
}

/* ---- reporting ---- */

int store_report(struct store *s, const char *campaign, int64_t since,
		 void (*fn)(void *ud, const struct report_row *r), void *ud, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT campaign, step, COALESCE(channel, ''), COALESCE(template, ''), state, COUNT(*) "
		"FROM sends WHERE (CAST(? AS TEXT) IS NULL OR campaign = ?) AND created_at >= ? "
		"GROUP BY campaign, step, COALESCE(channel, ''), COALESCE(template, ''), state "
		"ORDER BY campaign, step, 3, 4, state", e);
	if (!st)
		return -1;
	btxt(s, st, 1, campaign);
	btxt(s, st, 2, campaign);
	bint(s, st, 3, since);
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		struct report_row r = {ctxt(s, st, 0), (int)cint(s, st, 1), ctxt(s, st, 2),
				       ctxt(s, st, 3), ctxt(s, st, 4), cint(s, st, 5)};
		fn(ud, &r);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}

int store_enrollment_counts(struct store *s, const char *campaign, int64_t since, int64_t *treated,
			    int64_t *holdout, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT COALESCE(SUM(CASE WHEN holdout = 0 THEN 1 ELSE 0 END), 0), "
		"COALESCE(SUM(holdout), 0) FROM enrollments WHERE campaign = ? AND created_at >= ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, campaign);
	bint(s, st, 2, since);
	int rc = step(s, st, e);
	if (rc == 1) {
		*treated = cint(s, st, 0);
		*holdout = cint(s, st, 1);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}
