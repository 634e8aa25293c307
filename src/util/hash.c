/* hash.c - FNV-1a for bucketing, SHA-256 and HMAC through OpenSSL */
#include "hash.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

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

void hmac_sha256_hex(const char *key, const void *p, size_t n, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	HMAC(EVP_sha256(), key, (int)strlen(key), p, n, d, &dn);
	hex(d, dn, out);
}
