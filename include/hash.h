/* hash.h - stable hashes (the same on every run, host and worker) */
#ifndef OUTREACH_HASH_H
#define OUTREACH_HASH_H
#include <stddef.h>
#include <stdint.h>

/* hash64 - FNV-1a 64-bit of n bytes */
uint64_t hash64(const void *p, size_t n);
/* hash_unit - a stable value in [0, 1) for the string key */
double hash_unit(const char *key);
/* sha256_hex - lowercase hex SHA-256 of n bytes into out[65] */
void sha256_hex(const void *p, size_t n, char out[65]);
/* hmac_sha256_hex - lowercase hex HMAC-SHA256 into out[65] */
void hmac_sha256_hex(const char *key, const void *p, size_t n, char out[65]);

#endif
