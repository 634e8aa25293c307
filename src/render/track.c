/* track.c - HMAC-signed link tokens.
 * Security: the MAC is compared in constant time; a token that does not
 * verify is rejected whole, so a forged or altered one records nothing. */
#include "track.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "xmalloc.h"

#define MAC_HEX 20

static void mac(const char *secret, char kind, int64_t send_id, int link, char out[MAC_HEX + 1])
{
	char msg[64], hex[65];
	int n = snprintf(msg, sizeof(msg), "%c.%lld.%d", kind, (long long)send_id, link);
	hmac_sha256_hex(secret ? secret : "", msg, (size_t)n, hex);
	memcpy(out, hex, MAC_HEX);
	out[MAC_HEX] = '\0';
}

char *track_token(const char *secret, char kind, int64_t send_id, int link)
{
	char m[MAC_HEX + 1];
	mac(secret, kind, send_id, link, m);
	return xasprintf("%c%lld.%d.%s", kind, (long long)send_id, link, m);
}

int track_verify(const char *secret, const char *token, char *kind, int64_t *send_id, int *link)
{
	if (!token || !strchr("ocusb", token[0]) || !token[0])
		return -1;
	char *end;
	const char *p = token + 1;
	if (*p < '0' || *p > '9')
		return -1;
	long long id = strtoll(p, &end, 10);
	if (*end != '.' || id <= 0)
		return -1;
	p = end + 1;
	if (*p < '0' || *p > '9')
		return -1;
	long l = strtol(p, &end, 10);
	if (*end != '.' || l < 0 || l > 100000)
		return -1;
	p = end + 1;
	if (strlen(p) != MAC_HEX)
		return -1;
	char m[MAC_HEX + 1];
	mac(secret, token[0], id, (int)l, m);
	if (CRYPTO_memcmp(m, p, MAC_HEX) != 0)
		return -1;
	*kind = token[0];
	*send_id = id;
	*link = (int)l;
	return 0;
}

char *track_url(const char *base_url, const char *secret, char kind, int64_t send_id, int link)
{
	char *tok = track_token(secret, kind, send_id, link);
	size_t n = strlen(base_url);
	while (n && base_url[n - 1] == '/')
		n--;
	char *u = xasprintf("%.*s/%c/%s", (int)n, base_url, kind, tok);
	free(tok);
	return u;
}
