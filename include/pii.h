/* pii.h - personal data at rest: names and addresses sealed with
 * AES-256-GCM under a key from the environment, and a keyed hash
 * (HMAC-SHA256) that stands in for an address wherever one is only looked
 * up (sends, suppressions, inbound senders) or must outlive its owner (the
 * suppression of a forgotten person).
 *
 * Forms a stored value takes:
 *   clear               as given (encryption off)
 *   "enc1:KID:B64"      sealed: KID the 8 hex digits naming the key, B64 the
 *                       base64 of nonce (12) | ciphertext | tag (16); the
 *                       column's label is the additional data, so a value
 *                       moved to another column does not open
 *   "h1:HEX"            64 hex digits of HMAC-SHA256 under the store's
 *                       index key over the ASCII-lowercased value
 * Keys are 32 bytes written as 64 hex digits or base64. The index key is
 * random, made once per store and kept in it sealed (or in clear while
 * encryption is off), so rotating the data key never changes a hash.
 */
#ifndef OUTREACH_PII_H
#define OUTREACH_PII_H
#include <stddef.h>

#include "err.h"

#define PII_KEY_LEN 32
#define PII_KID_LEN 8 /* hex digits of a key id */
#define PII_HASH_LEN (3 + 64)

struct pii_keys;

/* pii_keys_from_env - the current key from $env and the older ones, for
 * reading what they sealed, from $env_OLD (separated by commas or spaces);
 * NULL with e set ("$OUTREACH_KEY is not set", "... is not 32 bytes ...")
 * naming the variable, never its value */
struct pii_keys *pii_keys_from_env(const char *env, struct err *e);
/* pii_keys_new - keys from raw bytes: cur, then nold older ones (tests) */
struct pii_keys *pii_keys_new(const unsigned char cur[PII_KEY_LEN],
			      const unsigned char (*old)[PII_KEY_LEN], size_t nold);
void pii_keys_free(struct pii_keys *k);
/* pii_key_id - the current key's id (PII_KID_LEN hex digits) */
const char *pii_key_id(const struct pii_keys *k);
/* pii_key_parse - 64 hex digits or base64 of 32 bytes into out; 0 or -1 */
int pii_key_parse(const char *text, unsigned char out[PII_KEY_LEN]);

/* pii_sealed, pii_hashed - whether v is in that form (NULL: no) */
int pii_sealed(const char *v);
int pii_hashed(const char *v);
/* pii_sealed_kid - the key id a sealed value names, into out (NUL-ended);
 * -1 when v is not sealed */
int pii_sealed_kid(const char *v, char out[PII_KID_LEN + 1]);

/* pii_seal - plain sealed under the current key with a fresh nonce, label
 * as additional data; NULL for NULL (caller frees) */
char *pii_seal(const struct pii_keys *k, const char *label, const char *plain);
/* pii_open - the clear text of v: a copy of v when it is not sealed, else
 * opened with whichever of the keys it names; NULL for NULL. -1 with e set
 * (no key with that id, or it fails to authenticate: altered, or another
 * column's) and *out NULL; 0 with *out owned by the caller */
int pii_open(const struct pii_keys *k, const char *label, const char *v, char **out,
	     struct err *e);
/* pii_hash - "h1:" and the HMAC of v lowercased under idx into out; v may
 * be hashed already (copied as it is) */
void pii_hash(const unsigned char idx[PII_KEY_LEN], const char *v, char out[PII_HASH_LEN + 1]);

/* pii_mask - a copy of text with every occurrence of addr (ASCII case
 * ignored) made "[address]"; a copy of text when addr is NULL or empty;
 * NULL for NULL */
char *pii_mask(const char *text, const char *addr);

/* pii_hex, pii_unhex - 32 bytes as 64 hex digits and back (0 or -1) */
void pii_hex(const unsigned char in[PII_KEY_LEN], char out[2 * PII_KEY_LEN + 1]);
int pii_unhex(const char *in, unsigned char out[PII_KEY_LEN]);
/* pii_random - n random bytes from OpenSSL's generator; 0 or -1 */
int pii_random(unsigned char *out, size_t n);

#endif
