/* httpd_limit.c - per-client limits of `serve`: who the client is (its
 * address, or behind a trusted proxy the address X-Forwarded-For names)
 * and a token bucket per client address for the request rate.
 *
 * How: a client is a 16-byte key: an IPv4 address as IPv4-mapped IPv6, an
 * IPv6 address cut to its /64 (one customer's line holds a whole /64, so
 * per-address buckets would let one line rotate through billions). The
 * buckets live in a fixed table (HTTPD_LIMIT_SLOTS) under one mutex, found
 * by a salted hash and a short linear probe; when the probe window is full
 * the least recently seen entry in it is reused. Memory is therefore
 * bounded whatever the number of addresses; a reused entry starts full, so
 * eviction can only let a client through, never lock one out.
 *
 * Security: X-Forwarded-For is anyone's to write, so it is read only when
 * the peer is one of serve.trusted_proxies, and then from the right: the
 * first address that is not a trusted proxy is the client (entries to its
 * left were written by the client and are ignored). The hash is salted
 * per process so that nobody can aim addresses at one probe window.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "hash.h"
#include "httpd.h"
#include "xmalloc.h"

#define PROBE 16 /* slots looked at for one key */

struct slot {
	unsigned char key[16];
	int used;
	double tokens;
	double seen; /* last refill, monotonic seconds */
};

struct httpd_limiter {
	double rate, burst;
	size_t nslots; /* a power of two */
	struct slot *slots;
	unsigned char salt[16];
	pthread_mutex_t lock;
};

struct httpd_limiter *httpd_limiter_create(double rate, double burst, size_t slots)
{
	struct httpd_limiter *l = xcalloc(1, sizeof(*l));
	l->rate = rate;
	l->burst = burst < 1 ? 1 : burst;
	l->nslots = PROBE;
	while (l->nslots < slots)
		l->nslots *= 2;
	l->slots = xcalloc(l->nslots, sizeof(*l->slots));
	if (getrandom(l->salt, sizeof(l->salt), 0) != (ssize_t)sizeof(l->salt)) {
		/* no entropy source: the table still works, only predictably */
		memset(l->salt, 0x5a, sizeof(l->salt));
	}
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void httpd_limiter_free(struct httpd_limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l->slots);
	free(l);
}

int httpd_limiter_take(struct httpd_limiter *l, const unsigned char key[16], double now)
{
	if (l->rate <= 0)
		return 0;
	unsigned char in[32];
	memcpy(in, l->salt, 16);
	memcpy(in + 16, key, 16);
	size_t h = (size_t)hash64(in, sizeof(in)) & (l->nslots - 1);
	pthread_mutex_lock(&l->lock);
	struct slot *s = NULL, *oldest = NULL;
	for (size_t i = 0; i < PROBE; i++) {
		struct slot *x = &l->slots[(h + i) & (l->nslots - 1)];
		if (x->used && memcmp(x->key, key, 16) == 0) {
			s = x;
			break;
		}
		if (!oldest || !x->used || (oldest->used && x->seen < oldest->seen))
			oldest = x;
	}
	if (!s) {
		s = oldest;
		memcpy(s->key, key, 16);
		s->used = 1;
		s->tokens = l->burst;
		s->seen = now;
	}
	if (now > s->seen) {
		s->tokens += (now - s->seen) * l->rate;
		if (s->tokens > l->burst)
			s->tokens = l->burst;
		s->seen = now;
	}
	int wait = 0;
	if (s->tokens >= 1) {
		s->tokens -= 1;
	} else {
		double secs = (1 - s->tokens) / l->rate;
		wait = secs < 1 ? 1 : (int)ceil(secs);
	}
	pthread_mutex_unlock(&l->lock);
	return wait;
}

/* ---- client addresses ---- */

/* addr16 - a socket address as 16 bytes (IPv4 mapped); -1 other families */
static int addr16(const struct sockaddr *sa, unsigned char out[16])
{
	if (!sa)
		return -1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &v4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(out, &v6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

static int is_v4(const unsigned char a[16])
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a, mapped, 12) == 0;
}

/* parse16 - n bytes of text as an address ("1.2.3.4", "2001:db8::1",
 * "[2001:db8::1]", "[2001:db8::1]:443", "1.2.3.4:443"); -1 when not one */
static int parse16(const char *s, size_t n, unsigned char out[16])
{
	char t[64];
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n && *s == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return -1;
		n = (size_t)(close - s - 1);
		s++;
	} else if (memchr(s, '.', n) && memchr(s, ':', n)) {
		n = (size_t)((const char *)memchr(s, ':', n) - s); /* v4 with a port */
	}
	if (n == 0 || n >= sizeof(t))
		return -1;
	memcpy(t, s, n);
	t[n] = '\0';
	struct in_addr v4;
	if (inet_pton(AF_INET, t, &v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, t, out) == 1 ? 0 : -1;
}

struct httpd_proxies {
	size_t n;
	struct {
		unsigned char addr[16];
		int bits; /* of the 128 */
	} net[];
};

struct httpd_proxies *httpd_proxies_create(char *const *list, size_t n, struct err *e)
{
	struct httpd_proxies *p = xcalloc(1, sizeof(*p) + n * sizeof(p->net[0]));
	for (size_t i = 0; i < n; i++) {
		const char *s = list[i], *slash = strchr(s, '/');
		size_t len = slash ? (size_t)(slash - s) : strlen(s);
		long bits = -1;
		if (parse16(s, len, p->net[i].addr) < 0 || (slash && !slash[1])) {
			free(p);
			err_set(e, "serve.trusted_proxies: \"%s\" is not an address", s);
			return NULL;
		}
		int v4 = memchr(s, ':', len) == NULL;
		if (slash) {
			char *end;
			bits = strtol(slash + 1, &end, 10);
			if (*end || bits < 0 || bits > (v4 ? 32 : 128)) {
				free(p);
				err_set(e, "serve.trusted_proxies: \"%s\": bad prefix length", s);
				return NULL;
			}
		}
		p->net[i].bits = bits < 0 ? 128 : (int)(v4 ? 96 + bits : bits);
	}
	p->n = n;
	return p;
}

void httpd_proxies_free(struct httpd_proxies *p)
{
	free(p);
}

static int trusted(const struct httpd_proxies *p, const unsigned char a[16])
{
	for (size_t i = 0; p && i < p->n; i++) {
		int bits = p->net[i].bits, whole = bits / 8, rest = bits % 8;
		if (memcmp(a, p->net[i].addr, (size_t)whole) != 0)
			continue;
		if (rest) {
			unsigned char mask = (unsigned char)(0xff << (8 - rest));
			if ((a[whole] & mask) != (p->net[i].addr[whole] & mask))
				continue;
		}
		return 1;
	}
	return 0;
}

int httpd_client_key(const struct sockaddr *peer, const char *xff,
		     const struct httpd_proxies *proxies, unsigned char key[16])
{
	unsigned char a[16];
	if (addr16(peer, a) < 0)
		return -1;
	if (xff && trusted(proxies, a)) {
		/* from the right: each hop appended the address it saw */
		size_t end = strlen(xff);
		while (end > 0) {
			size_t start = end;
			while (start > 0 && xff[start - 1] != ',')
				start--;
			unsigned char hop[16];
			if (parse16(xff + start, end - start, hop) < 0)
				break; /* garbage: the last good hop stands */
			memcpy(a, hop, 16);
			if (!trusted(proxies, hop))
				break;
			end = start ? start - 1 : 0;
		}
	}
	memcpy(key, a, 16);
	if (!is_v4(key))
		memset(key + 8, 0, 8); /* a /64 is one client */
	return 0;
}
