/* store_pii.c - personal data at rest: sealing names and addresses,
 * keyed hashes for lookups, key rotation, and forgetting a person.
 *
 * What a sealed store keeps (pii.h has the forms):
 *   contacts.name, email, phone       sealed; email_h, phone_h their hashes
 *   sends.address, inbound.sender     the hash only (they are looked up,
 *                                     never shown or sent to)
 *   suppressions.address              the hash
 *   inbound.text                      sealed
 *   reasons (send_log, attempts,      the address made "[address]"
 *   sends.reason, suppressions)
 * The meta table says which: pii = 'sealed', pii_key = the id of the key
 * the last rotation sealed under, pii_index = the index key, sealed. A
 * store in clear may still hold hashes: the suppressions of people it
 * forgot, under an index key kept in clear (pii_index_clear) until the
 * store is sealed.
 *
 * Rotation (store_pii_rotate) runs in one transaction: every sealed value
 * opens under the key it names (current or old) and is sealed again under
 * the current key; clear values are sealed, clear addresses hashed and
 * masked out of reasons. Hashes never change: the index key is only
 * sealed again. Forgetting (store_contact_forget) deletes the person's
 * rows everywhere and keeps the hash of every address they had as a
 * suppression; with SQLite's secure_delete and a WAL checkpoint that
 * truncates, the erased bytes are overwritten on disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "store_feedback.h"
#include "store_internal.h"

#define PAGE 500 /* rows read per statement while rotating */

static int is_sqlite(const struct store *s)
{
	return strcmp(s->ops->name, "sqlite") == 0;
}

/* ---- the helpers store.c and friends use ---- */

char *pii_in(struct store *s, const char *label, const char *v)
{
	if (!v)
		return NULL;
	return s->keys ? pii_seal(s->keys, label, v) : xstrdup(v);
}

int pii_out(struct store *s, const char *label, const char *v, char **out, struct err *e)
{
	return pii_open(s->keys, label, v, out, e);
}

const char *addr_hash(struct store *s, const char *addr, char buf[PII_HASH_LEN + 1])
{
	if (!addr || !s->have_idx)
		return NULL;
	pii_hash(s->idx, addr, buf);
	return buf;
}

const char *addr_form(struct store *s, const char *addr, char buf[PII_HASH_LEN + 1])
{
	return s->keys ? addr_hash(s, addr, buf) : addr;
}

char *pii_redact(struct store *s, const char *text, const char *addr)
{
	if (!s->keys || pii_hashed(addr))
		return text ? xstrdup(text) : NULL;
	return pii_mask(text, addr);
}

/* has_data - whether any table that holds personal data has a row */
static int has_data(struct store *s, int *yes, struct err *e)
{
	static const char *const q[] = {
		"SELECT 1 FROM contacts LIMIT 1", "SELECT 1 FROM sends LIMIT 1",
		"SELECT 1 FROM suppressions LIMIT 1", "SELECT 1 FROM inbound LIMIT 1"};
	*yes = 0;
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]) && !*yes; i++) {
		struct store_stmt *st = prep(s, q[i], e);
		if (!st)
			return -1;
		int rc = step(s, st, e);
		done(s, st);
		if (rc < 0)
			return -1;
		*yes = rc == 1;
	}
	return 0;
}

/* index_key_load - the index key from meta into s (sealed or in clear) */
static int index_key_load(struct store *s, const char *sealed, const char *clear, struct err *e)
{
	char *hex = NULL;
	if (sealed) {
		if (!s->keys)
			return err_set(e, "store is encrypted: set encrypt: true and its key in the "
					  "environment");
		char kid[PII_KID_LEN + 1] = "?";
		pii_sealed_kid(sealed, kid);
		if (pii_open(s->keys, "meta.pii_index", sealed, &hex, e) < 0)
			return err_set(e, "the store is sealed under key %s, and neither the current "
					  "key (%s) nor an old one opens it: give that key as the "
					  "current or an old one (_OLD)", kid, pii_key_id(s->keys));
	} else if (clear) {
		hex = xstrdup(clear);
	} else {
		return 0;
	}
	int rc = pii_unhex(hex, s->idx);
	OPENSSL_cleanse(hex, strlen(hex));
	free(hex);
	if (rc < 0)
		return err_set(e, "store's index key is malformed");
	s->have_idx = 1;
	return 0;
}

/* index_key_new - a random index key in s (not yet stored) */
static int index_key_new(struct store *s, struct err *e)
{
	if (pii_random(s->idx, PII_KEY_LEN) < 0)
		return err_set(e, "no random bytes for the index key (OpenSSL)");
	s->have_idx = 1;
	return 0;
}

/* seal_meta - record that the store is sealed under the current key */
static int seal_meta(struct store *s, struct err *e)
{
	char hex[2 * PII_KEY_LEN + 1];
	pii_hex(s->idx, hex);
	char *sealed = pii_seal(s->keys, "meta.pii_index", hex);
	OPENSSL_cleanse(hex, sizeof(hex));
	int rc = store_meta_set(s, "pii", "sealed", e) < 0 || store_meta_set(s, "pii_index", sealed, e) < 0 ||
			 store_meta_set(s, "pii_index_clear", NULL, e) < 0 ||
			 store_meta_set(s, "pii_key", pii_key_id(s->keys), e) < 0
		 ? -1
		 : 0;
	free(sealed);
	return rc;
}

int store_pii_attach(struct store *s, struct pii_keys *keys, int mode, struct err *e)
{
	pii_keys_free(s->keys);
	s->keys = keys;
	s->have_idx = 0;
	char *state = NULL, *sealed = NULL, *clear = NULL, *kid = NULL;
	int rc = -1, data = 0;
	if (store_meta_get(s, "pii", &state, e) < 0 || store_meta_get(s, "pii_index", &sealed, e) < 0 ||
	    store_meta_get(s, "pii_index_clear", &clear, e) < 0 || store_meta_get(s, "pii_key", &kid, e) < 0)
		goto out;
	int is_sealed = state && strcmp(state, "sealed") == 0;
	if (is_sealed && !keys) {
		err_set(e, "store is encrypted: set encrypt: true and its key in the environment");
		goto out;
	}
	if (index_key_load(s, is_sealed ? sealed : NULL, is_sealed ? NULL : clear, e) < 0)
		goto out;
	if (!keys || is_sealed || mode == STORE_PII_ROTATE) {
		rc = 0;
		goto out;
	}
	/* encrypt: true on a store in clear: an empty one is sealed now,
	 * one with data waits for `keys rotate` */
	if (has_data(s, &data, e) < 0)
		goto out;
	if (data) {
		err_set(e, "store holds personal data in clear: run `outreach keys rotate` to "
			   "encrypt it (encrypt: true)");
		goto out;
	}
	if (store_begin(s, e) < 0)
		goto out;
	if ((!s->have_idx && index_key_new(s, e) < 0) || seal_meta(s, e) < 0) {
		store_rollback(s);
		goto out;
	}
	rc = store_commit(s, e);
out:
	if (rc < 0) {
		s->keys = NULL;
		pii_keys_free(keys);
		s->have_idx = 0;
	}
	free(state);
	free(sealed);
	free(clear);
	free(kid);
	return rc;
}

int store_pii_setup(struct store *s, int encrypt, const char *key_env, int mode, struct err *e)
{
	struct pii_keys *k = NULL;
	if (encrypt && !(k = pii_keys_from_env(key_env, e)))
		return -2;
	return store_pii_attach(s, k, mode, e);
}

int store_pii_sealed(struct store *s)
{
	return s->keys != NULL;
}

const char *store_pii_key_id(struct store *s)
{
	return s->keys ? pii_key_id(s->keys) : NULL;
}

/* ---- rotation ---- */

/* fresh - v is NULL or already sealed under the current key */
static int fresh(struct store *s, const char *v)
{
	char kid[PII_KID_LEN + 1];
	return !v || (pii_sealed_kid(v, kid) == 0 && strcmp(kid, pii_key_id(s->keys)) == 0);
}

/* reseal - v (clear or sealed under any key) sealed under the current key
 * into *out; NULL for NULL */
static int reseal(struct store *s, const char *label, const char *v, char **out, struct err *e)
{
	char *clear;
	*out = NULL;
	if (pii_open(s->keys, label, v, &clear, e) < 0)
		return -1;
	*out = pii_in(s, label, clear);
	if (clear)
		OPENSSL_cleanse(clear, strlen(clear));
	free(clear);
	return 0;
}

/* mask_reasons - the reasons of send id with addr made "[address]" */
static int mask_reasons(struct store *s, int64_t id, const char *addr, struct err *e)
{
	static const char *const q[] = {
		"UPDATE send_log SET reason = ? WHERE id = ?",
		"UPDATE attempts SET reason = ? WHERE id = ?",
		"UPDATE sends SET reason = ? WHERE id = ?",
	};
	static const char *const sel[] = {
		"SELECT id, reason FROM send_log WHERE send_id = ? AND reason IS NOT NULL",
		"SELECT id, reason FROM attempts WHERE send_id = ? AND reason IS NOT NULL",
		"SELECT id, reason FROM sends WHERE id = ? AND reason IS NOT NULL",
	};
	for (size_t t = 0; t < 3; t++) {
		struct store_stmt *st = prep(s, sel[t], e);
		if (!st)
			return -1;
		bint(s, st, 1, id);
		int64_t *ids = NULL;
		char **texts = NULL;
		size_t n = 0;
		int got;
		while ((got = step(s, st, e)) == 1) {
			ids = xrealloc(ids, (n + 1) * sizeof(*ids));
			texts = xrealloc(texts, (n + 1) * sizeof(*texts));
			ids[n] = cint(s, st, 0);
			texts[n++] = cdup(s, st, 1);
		}
		done(s, st);
		int rc = got < 0 ? -1 : 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			char *m = pii_mask(texts[i], addr);
			if (strcmp(m, texts[i]) != 0) {
				struct store_stmt *up = prep(s, q[t], e);
				if (!up)
					rc = -1;
				else {
					btxt(s, up, 1, m);
					bint(s, up, 2, ids[i]);
					rc = run(s, up, e);
				}
			}
			free(m);
		}
		for (size_t i = 0; i < n; i++)
			free(texts[i]);
		free(texts);
		free(ids);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* mask_contact - the reasons of every send of contact id with its email
 * and phone masked (a reason may name an address of another channel the
 * send tried first) */
static int mask_contact(struct store *s, const char *id, const char *email, const char *phone,
			struct err *e)
{
	struct store_stmt *st = prep(s, "SELECT id FROM sends WHERE contact_id = ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, id);
	int64_t *ids = NULL;
	size_t n = 0;
	int got;
	while ((got = step(s, st, e)) == 1) {
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = cint(s, st, 0);
	}
	done(s, st);
	int rc = got < 0 ? -1 : 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		if ((email && mask_reasons(s, ids[i], email, e) < 0) ||
		    (phone && mask_reasons(s, ids[i], phone, e) < 0))
			rc = -1;
	free(ids);
	return rc;
}

static int rotate_contacts(struct store *s, int64_t *changed, struct err *e)
{
	char *last = xstrdup("");
	int rc = 0;
	for (;;) {
		struct store_stmt *st = prep(s, "SELECT id, name, email, phone FROM contacts "
						"WHERE id > ? ORDER BY id LIMIT 500", e);
		if (!st) {
			rc = -1;
			break;
		}
		btxt(s, st, 1, last);
		struct row {
			char *id, *v[3];
		} *r = NULL;
		size_t n = 0, cap = 0;
		int got;
		while ((got = step(s, st, e)) == 1) {
			if (n == cap)
				r = xrealloc(r, (cap = cap ? 2 * cap : 64) * sizeof(*r));
			r[n].id = cdup(s, st, 0);
			for (int k = 0; k < 3; k++)
				r[n].v[k] = cnull(s, st, k + 1) ? NULL : cdup(s, st, k + 1);
			n++;
		}
		done(s, st);
		if (got < 0)
			rc = -1;
		static const char *const label[3] = {"contacts.name", "contacts.email",
						     "contacts.phone"};
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (fresh(s, r[i].v[0]) && fresh(s, r[i].v[1]) && fresh(s, r[i].v[2]))
				continue;
			char *nv[3] = {NULL, NULL, NULL}, *clear[3] = {NULL, NULL, NULL};
			char h[2][PII_HASH_LEN + 1];
			for (int k = 0; k < 3 && rc == 0; k++)
				if (pii_open(s->keys, label[k], r[i].v[k], &clear[k], e) < 0)
					rc = err_prefix(e, "contact %s", r[i].id);
				else
					nv[k] = pii_in(s, label[k], clear[k]);
			struct store_stmt *up = rc ? NULL : prep(s,
				"UPDATE contacts SET name = ?, email = ?, phone = ?, email_h = ?, "
				"phone_h = ? WHERE id = ?", e);
			if (!rc && !up)
				rc = -1;
			if (up) {
				for (int k = 0; k < 3; k++)
					btxt(s, up, k + 1, nv[k]);
				btxt(s, up, 4, clear[1] ? addr_hash(s, clear[1], h[0]) : NULL);
				btxt(s, up, 5, clear[2] ? addr_hash(s, clear[2], h[1]) : NULL);
				btxt(s, up, 6, r[i].id);
				if (run(s, up, e) < 0)
					rc = -1;
				else
					(*changed)++;
			}
			if (rc == 0 && ((r[i].v[1] && !pii_sealed(r[i].v[1])) ||
					(r[i].v[2] && !pii_sealed(r[i].v[2])))) {
				char *ek = contact_address_key(clear[1]);
				rc = mask_contact(s, r[i].id, ek, clear[2], e);
				free(ek);
			}
			for (int k = 0; k < 3; k++) {
				if (clear[k])
					OPENSSL_cleanse(clear[k], strlen(clear[k]));
				free(clear[k]);
				free(nv[k]);
			}
		}
		if (n) {
			free(last);
			last = xstrdup(r[n - 1].id);
		}
		for (size_t i = 0; i < n; i++) {
			free(r[i].id);
			for (int k = 0; k < 3; k++)
				free(r[i].v[k]);
		}
		free(r);
		if (rc < 0 || n < PAGE)
			break;
	}
	free(last);
	return rc;
}

static int rotate_sends(struct store *s, int64_t *changed, struct err *e)
{
	int64_t last = 0;
	for (;;) {
		struct store_stmt *st = prep(s,
			"SELECT id, address FROM sends WHERE id > ? AND address IS NOT NULL "
			"AND address NOT LIKE 'h1:%' ORDER BY id LIMIT 500", e);
		if (!st)
			return -1;
		bint(s, st, 1, last);
		int64_t *ids = NULL;
		char **addr = NULL;
		size_t n = 0;
		int got;
		while ((got = step(s, st, e)) == 1) {
			ids = xrealloc(ids, (n + 1) * sizeof(*ids));
			addr = xrealloc(addr, (n + 1) * sizeof(*addr));
			ids[n] = cint(s, st, 0);
			addr[n++] = cdup(s, st, 1);
		}
		done(s, st);
		int rc = got < 0 ? -1 : 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			char h[PII_HASH_LEN + 1];
			struct store_stmt *up = prep(s, "UPDATE sends SET address = ? WHERE id = ?", e);
			if (!up) {
				rc = -1;
				break;
			}
			btxt(s, up, 1, addr_hash(s, addr[i], h));
			bint(s, up, 2, ids[i]);
			rc = run(s, up, e) < 0 || mask_reasons(s, ids[i], addr[i], e) < 0 ? -1 : 0;
			(*changed)++;
		}
		if (n)
			last = ids[n - 1];
		for (size_t i = 0; i < n; i++)
			free(addr[i]);
		free(addr);
		free(ids);
		if (rc < 0)
			return -1;
		if (n < PAGE)
			return 0;
	}
}

static int rotate_suppressions(struct store *s, int64_t *changed, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT address, channel, reason, at FROM suppressions WHERE address NOT LIKE 'h1:%'", e);
	if (!st)
		return -1;
	struct row {
		char *a, *ch, *why;
		int64_t at;
	} *r = NULL;
	size_t n = 0;
	int got;
	while ((got = step(s, st, e)) == 1) {
		r = xrealloc(r, (n + 1) * sizeof(*r));
		r[n].a = cdup(s, st, 0);
		r[n].ch = cnull(s, st, 1) ? NULL : cdup(s, st, 1);
		r[n].why = cdup(s, st, 2);
		r[n++].at = cint(s, st, 3);
	}
	done(s, st);
	int rc = got < 0 ? -1 : 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char h[PII_HASH_LEN + 1];
		char *why = pii_mask(r[i].why, r[i].a);
		struct store_stmt *ins = prep(s,
			"INSERT INTO suppressions (address, channel, reason, at) VALUES (?, ?, ?, ?) "
			"ON CONFLICT (address) DO NOTHING", e);
		if (ins) {
			btxt(s, ins, 1, addr_hash(s, r[i].a, h));
			btxt(s, ins, 2, r[i].ch);
			btxt(s, ins, 3, why);
			bint(s, ins, 4, r[i].at);
			rc = run(s, ins, e);
		} else {
			rc = -1;
		}
		free(why);
		struct store_stmt *del = rc ? NULL : prep(s, "DELETE FROM suppressions WHERE address = ?", e);
		if (!rc && !del)
			rc = -1;
		if (del) {
			btxt(s, del, 1, r[i].a);
			rc = run(s, del, e);
		}
		(*changed)++;
	}
	for (size_t i = 0; i < n; i++) {
		free(r[i].a);
		free(r[i].ch);
		free(r[i].why);
	}
	free(r);
	return rc;
}

static int rotate_inbound(struct store *s, int64_t *changed, struct err *e)
{
	int64_t last = 0;
	for (;;) {
		struct store_stmt *st = prep(s, "SELECT id, sender, text FROM inbound WHERE id > ? "
						"ORDER BY id LIMIT 500", e);
		if (!st)
			return -1;
		bint(s, st, 1, last);
		struct row {
			int64_t id;
			char *sender, *text;
		} *r = NULL;
		size_t n = 0;
		int got;
		while ((got = step(s, st, e)) == 1) {
			r = xrealloc(r, (n + 1) * sizeof(*r));
			r[n].id = cint(s, st, 0);
			r[n].sender = cdup(s, st, 1);
			r[n++].text = cnull(s, st, 2) ? NULL : cdup(s, st, 2);
		}
		done(s, st);
		int rc = got < 0 ? -1 : 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (pii_hashed(r[i].sender) && fresh(s, r[i].text))
				continue;
			char h[PII_HASH_LEN + 1], *text;
			if (reseal(s, "inbound.text", r[i].text, &text, e) < 0) {
				rc = err_prefix(e, "inbound %lld", (long long)r[i].id);
				break;
			}
			struct store_stmt *up =
				prep(s, "UPDATE inbound SET sender = ?, text = ? WHERE id = ?", e);
			if (up) {
				btxt(s, up, 1, addr_hash(s, r[i].sender, h));
				btxt(s, up, 2, text);
				bint(s, up, 3, r[i].id);
				rc = run(s, up, e);
			} else {
				rc = -1;
			}
			free(text);
			(*changed)++;
		}
		if (n)
			last = r[n - 1].id;
		for (size_t i = 0; i < n; i++) {
			free(r[i].sender);
			free(r[i].text);
		}
		free(r);
		if (rc < 0)
			return -1;
		if (n < PAGE)
			return 0;
	}
}

int store_pii_rotate(struct store *s, int64_t *changed, struct err *e)
{
	*changed = 0;
	if (!s->keys)
		return err_set(e, "keys rotate needs encrypt: true and the key in the environment");
	if (store_begin(s, e) < 0)
		return -1;
	if (book_lock(s, e) < 0 || (!s->have_idx && index_key_new(s, e) < 0) ||
	    rotate_contacts(s, changed, e) < 0 || rotate_sends(s, changed, e) < 0 ||
	    rotate_suppressions(s, changed, e) < 0 || rotate_inbound(s, changed, e) < 0 ||
	    seal_meta(s, e) < 0) {
		store_rollback(s);
		return -1;
	}
	return store_commit(s, e);
}

/* ---- forgetting a person ---- */

/* forget_addr - keep addr (clear or hashed) only as a suppression hash */
static int forget_addr(struct store *s, const char *addr, const char *channel, int64_t now,
		       struct err *e)
{
	char h[PII_HASH_LEN + 1];
	addr_hash(s, addr, h);
	struct store_stmt *st = prep(s, "DELETE FROM suppressions WHERE address = ?", e);
	if (!st)
		return -1;
	btxt(s, st, 1, addr);
	if (run(s, st, e) < 0)
		return -1;
	st = prep(s, "INSERT INTO suppressions (address, channel, reason, at) VALUES (?, ?, ?, ?) "
		     "ON CONFLICT (address) DO UPDATE SET reason = excluded.reason", e);
	if (!st)
		return -1;
	btxt(s, st, 1, h);
	btxt(s, st, 2, channel);
	btxt(s, st, 3, "forgotten: the person asked to be erased");
	bint(s, st, 4, now);
	return run(s, st, e);
}

int store_contact_forget(struct store *s, const char *id, int64_t now, int *found,
			 struct err *e)
{
	static const char *const erase[] = {
		"DELETE FROM links WHERE send_id IN (SELECT id FROM sends WHERE contact_id = ?)",
		"DELETE FROM acks WHERE send_id IN (SELECT id FROM sends WHERE contact_id = ?)",
		"DELETE FROM send_log WHERE send_id IN (SELECT id FROM sends WHERE contact_id = ?)",
		"DELETE FROM attempts WHERE send_id IN (SELECT id FROM sends WHERE contact_id = ?)",
		"DELETE FROM inbound WHERE contact_id = ? OR send_id IN "
		"(SELECT id FROM sends WHERE contact_id = ?)",
		"DELETE FROM sends WHERE contact_id = ?",
		"DELETE FROM enrollments WHERE contact_id = ?",
		"DELETE FROM events WHERE contact_id = ?",
		"DELETE FROM contact_segments WHERE contact_id = ?",
		"DELETE FROM subscriptions WHERE contact_id = ?",
		"DELETE FROM contacts WHERE id = ?",
	};
	struct contact c;
	*found = 0;
	if (is_sqlite(s) && OPS->exec(s->db, "PRAGMA secure_delete = ON", e) < 0)
		return -1;
	if (store_begin(s, e) < 0)
		return -1;
	if (book_lock(s, e) < 0)
		goto fail;
	int rc = store_contact_get(s, id, &c, e);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		store_rollback(s);
		return 0;
	}
	*found = 1;
	if (!s->have_idx) {
		/* a store in clear that forgets for the first time: its index
		 * key is made now and kept in clear until the store is sealed */
		char hex[2 * PII_KEY_LEN + 1];
		if (index_key_new(s, e) < 0)
			goto fail_c;
		pii_hex(s->idx, hex);
		rc = store_meta_set(s, "pii_index_clear", hex, e);
		OPENSSL_cleanse(hex, sizeof(hex));
		if (rc < 0)
			goto fail_c;
	}
	char *ekey = contact_address_key(c.email);
	rc = (ekey && forget_addr(s, ekey, "email", now, e) < 0) ||
			     (c.phone && forget_addr(s, c.phone, "sms", now, e) < 0)
		     ? -1
		     : 0;
	free(ekey);
	if (rc < 0)
		goto fail_c;
	struct store_stmt *st =
		prep(s, "SELECT DISTINCT address, channel FROM sends WHERE contact_id = ? "
			"AND address IS NOT NULL", e);
	if (!st)
		goto fail_c;
	btxt(s, st, 1, id);
	char **addr = NULL, **chan = NULL;
	size_t n = 0;
	int got;
	while ((got = step(s, st, e)) == 1) {
		addr = xrealloc(addr, (n + 1) * sizeof(*addr));
		chan = xrealloc(chan, (n + 1) * sizeof(*chan));
		addr[n] = cdup(s, st, 0);
		chan[n++] = cnull(s, st, 1) ? NULL : cdup(s, st, 1);
	}
	done(s, st);
	rc = got < 0 ? -1 : 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = forget_addr(s, addr[i], chan[i], now, e);
	strv_free(addr, n);
	strv_free(chan, n);
	for (size_t i = 0; i < sizeof(erase) / sizeof(erase[0]) && rc == 0; i++) {
		if (!(st = prep(s, erase[i], e))) {
			rc = -1;
			break;
		}
		btxt(s, st, 1, id);
		if (strstr(erase[i], "OR send_id"))
			btxt(s, st, 2, id);
		rc = run(s, st, e);
	}
	if (rc < 0)
		goto fail_c;
	contact_release(&c);
	if (store_commit(s, e) < 0)
		return -1;
	return store_scrub(s, e);
fail_c:
	contact_release(&c);
fail:
	store_rollback(s);
	return -1;
}

int store_scrub(struct store *s, struct err *e)
{
	if (is_sqlite(s))
		return OPS->exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", e);
	/* PostgreSQL: dead row versions stay in the table files until VACUUM
	 * reclaims them; run it on what a forget deletes from */
	return OPS->exec(s->db, "VACUUM contacts, events, sends, send_log, attempts, inbound, "
				"links, enrollments, subscriptions, contact_segments, suppressions", e);
}

/* ---- reading everything about people (export) ---- */

int store_contacts_each(struct store *s, int (*fn)(void *ud, const struct contact *c),
			void *ud, struct err *e)
{
	char *last = xstrdup("");
	int rc = 0;
	for (;;) {
		struct store_stmt *st = prep(s, "SELECT id FROM contacts WHERE id > ? "
						"ORDER BY id LIMIT 500", e);
		if (!st) {
			rc = -1;
			break;
		}
		btxt(s, st, 1, last);
		char **ids = NULL;
		size_t n = 0;
		int got;
		while ((got = step(s, st, e)) == 1) {
			ids = xrealloc(ids, (n + 1) * sizeof(*ids));
			ids[n++] = cdup(s, st, 0);
		}
		done(s, st);
		if (got < 0)
			rc = -1;
		/* the page's contacts in statements of 32 ids, not one by one */
		struct contact *c = xcalloc(n ? n : 1, sizeof(*c));
		int *found = xcalloc(n ? n : 1, sizeof(*found));
		if (rc == 0 && store_contacts_get(s, ids, n, c, found, e) < 0)
			rc = -1;
		for (size_t i = 0; i < n; i++) {
			if (found[i] && rc == 0 && fn(ud, &c[i]) < 0)
				rc = -1;
			if (found[i])
				contact_release(&c[i]);
		}
		free(c);
		free(found);
		if (n) {
			free(last);
			last = xstrdup(ids[n - 1]);
		}
		strv_free(ids, n);
		if (rc < 0 || n < PAGE)
			break;
	}
	free(last);
	return rc;
}

int store_inbound_of(struct store *s, const char *contact,
		     void (*fn)(void *ud, const struct inbound *in), void *ud, struct err *e)
{
	struct store_stmt *st = prep(s,
		"SELECT channel, sender, text, at, send_id, kind FROM inbound "
		"WHERE contact_id = ? ORDER BY id", e);
	if (!st)
		return -1;
	btxt(s, st, 1, contact);
	int rc;
	while ((rc = step(s, st, e)) == 1) {
		char *text;
		if (pii_out(s, "inbound.text", cnull(s, st, 2) ? NULL : ctxt(s, st, 2), &text, e) <
		    0) {
			rc = -1;
			break;
		}
		struct inbound in = {
		    .channel = ctxt(s, st, 0),
		    .sender = ctxt(s, st, 1),
		    .text = text,
		    .at = cint(s, st, 3),
		    .contact = contact,
		    .send_id = cnull(s, st, 4) ? 0 : cint(s, st, 4),
		    .kind = ctxt(s, st, 5),
		};
		fn(ud, &in);
		free(text);
	}
	done(s, st);
	return rc < 0 ? -1 : 0;
}
