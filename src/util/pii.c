/* pii.c - sealing personal data with AES-256-GCM and hashing addresses
 * with HMAC-SHA256 (OpenSSL's EVP and HMAC).
 *
 * A sealed value carries the id of its key (the first 4 bytes of
 * SHA-256("outreach pii key" | key), in hex), so values sealed before a
 * rotation still open while it runs, and a wrong key is named as such
 * rather than failing as corrupt data. Nonces are 12 random bytes per
 * value: with 2^32 values under one key the chance of a repeat stays below
 * 2^-32 (NIST SP 800-38D's bound for random nonces).
 *
 * Security: keys are wiped (OPENSSL_cleanse) when freed and never appear in
 * messages; an error names the environment variable, never its value.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "pii.h"
#include "xmalloc.h"

#define SEAL_PREFIX "enc1:"
#define HASH_PREFIX "h1:"
#define NONCE_LEN 12
#define TAG_LEN 16

struct pii_key {
	unsigned char k[PII_KEY_LEN];
	char id[PII_KID_LEN + 1];
};

struct pii_keys {
	struct pii_key *v; /* v[0] is the current key */
	size_t n;
};

static void key_id(const unsigned char k[PII_KEY_LEN], char out[PII_KID_LEN + 1])
{
	static const char tag[] = "outreach pii key";
	unsigned char buf[sizeof(tag) - 1 + PII_KEY_LEN], md[SHA256_DIGEST_LENGTH];
	memcpy(buf, tag, sizeof(tag) - 1);
	memcpy(buf + sizeof(tag) - 1, k, PII_KEY_LEN);
	SHA256(buf, sizeof(buf), md);
	OPENSSL_cleanse(buf, sizeof(buf));
	for (int i = 0; i < PII_KID_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void pii_hex(const unsigned char in[PII_KEY_LEN], char out[2 * PII_KEY_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < PII_KEY_LEN; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * PII_KEY_LEN] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int pii_unhex(const char *in, unsigned char out[PII_KEY_LEN])
{
	if (!in || strlen(in) != 2 * PII_KEY_LEN)
		return -1;
	for (int i = 0; i < PII_KEY_LEN; i++) {
		int hi = hexval((unsigned char)in[2 * i]), lo = hexval((unsigned char)in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* b64_decode - strict base64 (with padding) of at most cap bytes; the
 * length or -1 */
static int b64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	if (len == 0 || len % 4 || len / 4 * 3 > cap + 2)
		return -1;
	unsigned char *tmp = xmalloc(len / 4 * 3 + 1);
	int n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(tmp);
		return -1;
	}
	if (in[len - 1] == '=')
		n--;
	if (in[len - 2] == '=')
		n--;
	if ((size_t)n > cap) {
		free(tmp);
		return -1;
	}
	memcpy(out, tmp, (size_t)n);
	OPENSSL_cleanse(tmp, len / 4 * 3 + 1);
	free(tmp);
	return n;
}

int pii_key_parse(const char *text, unsigned char out[PII_KEY_LEN])
{
	if (!text)
		return -1;
	if (pii_unhex(text, out) == 0)
		return 0;
	unsigned char tmp[PII_KEY_LEN + 2];
	int n = b64_decode(text, strlen(text), tmp, sizeof(tmp));
	if (n != PII_KEY_LEN) {
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return -1;
	}
	memcpy(out, tmp, PII_KEY_LEN);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}

struct pii_keys *pii_keys_new(const unsigned char cur[PII_KEY_LEN],
			      const unsigned char (*old)[PII_KEY_LEN], size_t nold)
{
	struct pii_keys *k = xcalloc(1, sizeof(*k));
	k->v = xcalloc(1 + nold, sizeof(*k->v));
	memcpy(k->v[0].k, cur, PII_KEY_LEN);
	key_id(cur, k->v[0].id);
	k->n = 1;
	for (size_t i = 0; i < nold; i++) {
		memcpy(k->v[k->n].k, old[i], PII_KEY_LEN);
		key_id(old[i], k->v[k->n].id);
		k->n++;
	}
	return k;
}

struct pii_keys *pii_keys_from_env(const char *env, struct err *e)
{
	const char *cur = getenv(env);
	if (!cur || !*cur) {
		err_set(e, "$%s is not set (encrypt: true needs a 32-byte key: 64 hex digits or base64; "
			   "make one with `openssl rand -hex 32`)", env);
		return NULL;
	}
	unsigned char k[PII_KEY_LEN];
	if (pii_key_parse(cur, k) < 0) {
		err_set(e, "$%s is not a 32-byte key (64 hex digits or base64)", env);
		return NULL;
	}
	size_t cap = 4, n = 0;
	unsigned char(*old)[PII_KEY_LEN] = xcalloc(cap, sizeof(*old));
	char oldname[256];
	snprintf(oldname, sizeof(oldname), "%s_OLD", env);
	const char *o = getenv(oldname);
	int bad = 0;
	while (o && *o && !bad) {
		size_t skip = strspn(o, ", \t\n");
		o += skip;
		size_t len = strcspn(o, ", \t\n");
		if (!len)
			break;
		char one[128];
		if (len >= sizeof(one)) {
			bad = 1;
			break;
		}
		memcpy(one, o, len);
		one[len] = '\0';
		if (n == cap) {
			cap *= 2;
			old = xrealloc(old, cap * sizeof(*old));
		}
		if (pii_key_parse(one, old[n]) < 0)
			bad = 1;
		else
			n++;
		OPENSSL_cleanse(one, sizeof(one));
		o += len;
	}
	struct pii_keys *ks = NULL;
	if (bad)
		err_set(e, "$%s: key %zu is not a 32-byte key (64 hex digits or base64)", oldname,
			n + 1);
	else
		ks = pii_keys_new(k, (const unsigned char(*)[PII_KEY_LEN])old, n);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(old, cap * sizeof(*old));
	free(old);
	return ks;
}

void pii_keys_free(struct pii_keys *k)
{
	if (!k)
		return;
	OPENSSL_cleanse(k->v, k->n * sizeof(*k->v));
	free(k->v);
	free(k);
}

const char *pii_key_id(const struct pii_keys *k)
{
	return k->v[0].id;
}

int pii_sealed(const char *v)
{
	return v && strncmp(v, SEAL_PREFIX, sizeof(SEAL_PREFIX) - 1) == 0;
}

int pii_hashed(const char *v)
{
	return v && strncmp(v, HASH_PREFIX, sizeof(HASH_PREFIX) - 1) == 0 &&
	       strlen(v) == PII_HASH_LEN;
}

int pii_sealed_kid(const char *v, char out[PII_KID_LEN + 1])
{
	if (!pii_sealed(v))
		return -1;
	const char *p = v + sizeof(SEAL_PREFIX) - 1;
	if (strlen(p) < PII_KID_LEN + 1 || p[PII_KID_LEN] != ':')
		return -1;
	memcpy(out, p, PII_KID_LEN);
	out[PII_KID_LEN] = '\0';
	return 0;
}

/* gcm - one AES-256-GCM pass (enc 1 seals, 0 opens and checks tag); 0 or -1 */
static int gcm(int enc, const unsigned char *key, const unsigned char *nonce, const char *label,
	       const unsigned char *in, int len, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
			EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
			EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) == 1 &&
			(!label || EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)label,
						    (int)strlen(label)) == 1) &&
			(len == 0 || EVP_CipherUpdate(c, out, &n, in, len) == 1);
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(c, out + (len ? n : 0), &n) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

int pii_random(unsigned char *out, size_t n)
{
	return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
}

char *pii_seal(const struct pii_keys *k, const char *label, const char *plain)
{
	if (!plain)
		return NULL;
	size_t len = strlen(plain), raw = NONCE_LEN + len + TAG_LEN;
	unsigned char *b = xmalloc(raw);
	if (pii_random(b, NONCE_LEN) < 0 ||
	    gcm(1, k->v[0].k, b, label, (const unsigned char *)plain, (int)len, b + NONCE_LEN,
		b + NONCE_LEN + len) < 0) {
		/* OpenSSL without randomness or AES: nothing sensible to do */
		fprintf(stderr, "outreach: AES-256-GCM failed (OpenSSL)\n");
		abort();
	}
	size_t hdr = sizeof(SEAL_PREFIX) - 1 + PII_KID_LEN + 1;
	char *out = xmalloc(hdr + 4 * ((raw + 2) / 3) + 1);
	snprintf(out, hdr + 1, "%s%s:", SEAL_PREFIX, k->v[0].id);
	EVP_EncodeBlock((unsigned char *)out + hdr, b, (int)raw);
	free(b);
	return out;
}

int pii_open(const struct pii_keys *k, const char *label, const char *v, char **out,
	     struct err *e)
{
	*out = NULL;
	if (!v)
		return 0;
	if (!pii_sealed(v)) {
		*out = xstrdup(v);
		return 0;
	}
	char kid[PII_KID_LEN + 1];
	if (pii_sealed_kid(v, kid) < 0)
		return err_set(e, "a sealed %s is malformed", label);
	const struct pii_key *key = NULL;
	for (size_t i = 0; k && i < k->n && !key; i++)
		if (strcmp(k->v[i].id, kid) == 0)
			key = &k->v[i];
	if (!key)
		return err_set(e, "%s was sealed under key %s, which is neither the current key "
				  "nor an old one (set the key's _OLD variable)", label, kid);
	const char *b64 = v + sizeof(SEAL_PREFIX) - 1 + PII_KID_LEN + 1;
	size_t blen = strlen(b64);
	unsigned char *raw = xmalloc(blen / 4 * 3 + 3);
	int n = b64_decode(b64, blen, raw, blen / 4 * 3 + 2);
	if (n < NONCE_LEN + TAG_LEN) {
		free(raw);
		return err_set(e, "a sealed %s is malformed", label);
	}
	int len = n - NONCE_LEN - TAG_LEN;
	char *plain = xmalloc((size_t)len + 1);
	if (gcm(0, key->k, raw, label, raw + NONCE_LEN, len, (unsigned char *)plain,
		raw + NONCE_LEN + len) < 0) {
		free(raw);
		free(plain);
		return err_set(e, "a sealed %s does not authenticate under key %s (altered, or "
				  "moved from another field)", label, kid);
	}
	free(raw);
	plain[len] = '\0';
	if (strlen(plain) != (size_t)len) {
		free(plain);
		return err_set(e, "a sealed %s holds a NUL byte", label);
	}
	*out = plain;
	return 0;
}

void pii_hash(const unsigned char idx[PII_KEY_LEN], const char *v, char out[PII_HASH_LEN + 1])
{
	if (pii_hashed(v)) {
		memcpy(out, v, PII_HASH_LEN + 1);
		return;
	}
	size_t len = strlen(v);
	char *low = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		low[i] = (char)tolower((unsigned char)v[i]);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	HMAC(EVP_sha256(), idx, PII_KEY_LEN, (const unsigned char *)low, len, md, &mdlen);
	free(low);
	memcpy(out, HASH_PREFIX, sizeof(HASH_PREFIX) - 1);
	for (unsigned int i = 0; i < 32; i++)
		snprintf(out + sizeof(HASH_PREFIX) - 1 + 2 * i, 3, "%02x", md[i]);
}

char *pii_mask(const char *text, const char *addr)
{
	if (!text)
		return NULL;
	size_t alen = addr ? strlen(addr) : 0;
	if (!alen)
		return xstrdup(text);
	static const char mask[] = "[address]";
	char *out = xmalloc(strlen(text) * (sizeof(mask) - 1) / alen + strlen(text) + 1);
	size_t o = 0;
	for (const char *p = text; *p;) {
		if (strncasecmp(p, addr, alen) == 0) {
			memcpy(out + o, mask, sizeof(mask) - 1);
			o += sizeof(mask) - 1;
			p += alen;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return out;
}
