/* hash.c - FNV-1a for bucketing, SHA-256 and HMAC through OpenSSL */
#include "hash.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

uint64_t hash64(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	/* final avalanche so that short keys spread over the whole range */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

double hash_unit(const char *key)
{
	return (double)(hash64(key, strlen(key)) >> 11) / 9007199254740992.0;
}

static void hex(const unsigned char *d, unsigned n, char *out)
{
	static const char x[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = x[d[i] >> 4];
		out[2 * i + 1] = x[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	EVP_Digest(p, n, d, &dn, EVP_sha256(), NULL);
	hex(d, dn, out);
}

/* sha256_md - SHA-256 fetched once: OpenSSL 3's implicit fetch on every
 * HMAC() call cost three times the hashing itself (the worker signs
 * several tracking tokens per message) */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!sha256_md)
		log_panic("cannot fetch SHA256 from OpenSSL");
}

/* hmac_sha256_hex - RFC 2104 over the fetched digest: H(K^opad, H(K^ipad, m)) */
void hmac_sha256_hex(const char *key, const void *p, size_t n, char out[65])
{
	enum { BLOCK = 64, SMALL = 512 };
	unsigned char k[BLOCK] = {0}, inner[EVP_MAX_MD_SIZE], d[EVP_MAX_MD_SIZE];
	unsigned char small[BLOCK + SMALL];
	unsigned dn = 0;
	size_t kl = strlen(key);
	pthread_once(&sha256_once, sha256_fetch);
	if (kl > BLOCK)
		EVP_Digest(key, kl, k, &dn, sha256_md, NULL);
	else
		memcpy(k, key, kl);
	unsigned char *buf = n <= SMALL ? small : xmalloc(BLOCK + n);
	for (int i = 0; i < BLOCK; i++)
		buf[i] = k[i] ^ 0x36;
	if (n)
		memcpy(buf + BLOCK, p, n);
	EVP_Digest(buf, BLOCK + n, inner, &dn, sha256_md, NULL);
	if (buf != small)
		free(buf);
	unsigned char o[BLOCK + EVP_MAX_MD_SIZE];
	for (int i = 0; i < BLOCK; i++)
		o[i] = k[i] ^ 0x5c;
	memcpy(o + BLOCK, inner, dn);
	EVP_Digest(o, BLOCK + dn, d, &dn, sha256_md, NULL);
	hex(d, dn, out);
}
