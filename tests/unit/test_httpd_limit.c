/* test_httpd_limit.c - serve's per-client limits: the token bucket with
 * time passed in (burst, refill, Retry-After seconds, one client not
 * slowing another, a full table forgetting the oldest), who the client is
 * (IPv6 /64, X-Forwarded-For only from trusted proxies, read from the
 * right), and the serve: config keys with their defaults and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "httpd.h"

static void key4(const char *a, unsigned char k[16])
{
	memset(k, 0, 10);
	k[10] = k[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, a, k + 12), 1);
}

static void test_bucket(void **state)
{
	(void)state;
	struct httpd_limiter *l = httpd_limiter_create(2, 3, 64);
	unsigned char a[16], b[16];
	key4("192.0.2.1", a);
	key4("192.0.2.2", b);
	double t = 1000;
	for (int i = 0; i < 3; i++)
		assert_int_equal(httpd_limiter_take(l, a, t), 0);
	assert_int_equal(httpd_limiter_take(l, a, t), 1);	/* 0.5 s at 2/s: 1 */
	assert_int_equal(httpd_limiter_take(l, b, t), 0);	/* another client */
	assert_int_equal(httpd_limiter_take(l, a, t + 0.5), 0); /* one token back */
	assert_int_equal(httpd_limiter_take(l, a, t + 0.5), 1);
	assert_int_equal(httpd_limiter_take(l, a, t + 100), 0); /* refilled to the burst */
	assert_int_equal(httpd_limiter_take(l, a, t + 100), 0);
	assert_int_equal(httpd_limiter_take(l, a, t + 100), 0);
	assert_int_equal(httpd_limiter_take(l, a, t + 100), 1);
	httpd_limiter_free(l);
	/* a slow rate: Retry-After in whole seconds */
	l = httpd_limiter_create(0.1, 1, 16);
	assert_int_equal(httpd_limiter_take(l, a, t), 0);
	assert_int_equal(httpd_limiter_take(l, a, t), 10);
	assert_int_equal(httpd_limiter_take(l, a, t + 4), 6);
	httpd_limiter_free(l);
	/* no rate: never limited */
	l = httpd_limiter_create(0, 1, 16);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(httpd_limiter_take(l, a, t), 0);
	httpd_limiter_free(l);
}

static void test_table_full(void **state)
{
	(void)state;
	/* 16 slots, 5000 clients: memory stays bounded, and a client that
	 * was forgotten starts again with a full bucket (never locked out) */
	struct httpd_limiter *l = httpd_limiter_create(1, 1, 16);
	unsigned char k[16];
	char a[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(a, sizeof(a), "10.%d.%d.1", i / 250, i % 250);
		key4(a, k);
		assert_int_equal(httpd_limiter_take(l, k, 1000 + i * 1e-6), 0);
	}
	key4("10.0.0.1", k);
	assert_int_equal(httpd_limiter_take(l, k, 1001), 0);
	assert_int_equal(httpd_limiter_take(l, k, 1001), 1);
	httpd_limiter_free(l);
}

static void sa4(const char *a, struct sockaddr_in *s)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &s->sin_addr), 1);
}

static const char *shown(const unsigned char k[16], char *out)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(k, mapped, 12) == 0)
		return inet_ntop(AF_INET, k + 12, out, INET6_ADDRSTRLEN);
	return inet_ntop(AF_INET6, k, out, INET6_ADDRSTRLEN);
}

static void test_client_key(void **state)
{
	(void)state;
	char *list[] = {"10.0.0.0/8", "192.0.2.7", "2001:db8:ffff::/48"};
	struct err e = {{0}};
	struct httpd_proxies *p = httpd_proxies_create(list, 3, &e);
	assert_non_null(p);
	static const struct {
		const char *peer, *xff, *want;
	} cases[] = {
	    {"203.0.113.5", NULL, "203.0.113.5"},
	    {"203.0.113.5", "198.51.100.1", "203.0.113.5"}, /* untrusted peer: ignored */
	    {"10.1.2.3", NULL, "10.1.2.3"},
	    {"10.1.2.3", "198.51.100.1", "198.51.100.1"},
	    {"10.1.2.3", "1.1.1.1, 198.51.100.1", "198.51.100.1"},   /* the left is the client's */
	    {"10.1.2.3", "198.51.100.1, 192.0.2.7", "198.51.100.1"}, /* past a second proxy */
	    {"10.1.2.3", "198.51.100.1, 10.9.9.9, 192.0.2.7", "198.51.100.1"},
	    {"10.1.2.3", "garbage, 192.0.2.7", "192.0.2.7"}, /* the last good hop */
	    {"10.1.2.3", "", "10.1.2.3"},
	    {"10.1.2.3", "198.51.100.1:4711", "198.51.100.1"},
	    {"10.1.2.3", "[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::"}, /* a /64 */
	    {"192.0.2.8", "198.51.100.1", "192.0.2.8"},			  /* /32: not trusted */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_in s;
		unsigned char k[16];
		char got[INET6_ADDRSTRLEN];
		sa4(cases[i].peer, &s);
		assert_int_equal(httpd_client_key((struct sockaddr *)&s, cases[i].xff, p, k), 0);
		if (strcmp(shown(k, got), cases[i].want) != 0)
			fail_msg("peer %s xff \"%s\": client %s, want %s", cases[i].peer,
				 cases[i].xff ? cases[i].xff : "(none)", got, cases[i].want);
	}
	/* an IPv6 peer inside a trusted /48; and two addresses of one /64 are one client */
	struct sockaddr_in6 s6 = {0};
	unsigned char k1[16], k2[16];
	char got[INET6_ADDRSTRLEN];
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:ffff:1::9", &s6.sin6_addr);
	assert_int_equal(httpd_client_key((struct sockaddr *)&s6, "198.51.100.3", p, k1), 0);
	assert_string_equal(shown(k1, got), "198.51.100.3");
	inet_pton(AF_INET6, "2001:db8:5:6:aaaa::1", &s6.sin6_addr);
	assert_int_equal(httpd_client_key((struct sockaddr *)&s6, NULL, p, k1), 0);
	inet_pton(AF_INET6, "2001:db8:5:6:bbbb::2", &s6.sin6_addr);
	assert_int_equal(httpd_client_key((struct sockaddr *)&s6, NULL, NULL, k2), 0);
	assert_memory_equal(k1, k2, 16);
	httpd_proxies_free(p);
	char *bad[] = {"10.0.0.0/40"};
	assert_null(httpd_proxies_create(bad, 1, &e));
}

static struct config *load(const char *yaml, struct diag *d)
{
	diag_init(d);
	return config_load_mem("t.yaml", yaml, strlen(yaml), d);
}

static void test_config(void **state)
{
	(void)state;
	struct diag d;
	struct config *c = load("store: x.db\n", &d);
	assert_int_equal(d.errors, 0);
	assert_null(c->serve.user);
	assert_true(c->serve.rate == 50 && c->serve.burst == 100);
	assert_int_equal(c->serve.max_connections, 512);
	assert_int_equal(c->serve.max_connections_per_ip, 32);
	assert_int_equal(c->serve.timeout, 15);
	assert_int_equal(c->serve.ntrusted_proxies, 0);
	config_free(c);
	diag_release(&d);
	c = load("serve:\n  user: outreach\n  rate: 600/m\n  max_connections: 100\n"
		 "  max_connections_per_ip: 8\n  timeout: 30s\n  trusted_proxies: [127.0.0.1, "
		 "\"10.0.0.0/8\", \"::1\"]\n",
		 &d);
	assert_int_equal(d.errors, 0);
	assert_string_equal(c->serve.user, "outreach");
	assert_true(c->serve.rate == 10 && c->serve.burst == 20);
	assert_int_equal(c->serve.max_connections, 100);
	assert_int_equal(c->serve.max_connections_per_ip, 8);
	assert_int_equal(c->serve.timeout, 30);
	assert_int_equal(c->serve.ntrusted_proxies, 3);
	assert_string_equal(c->serve.trusted_proxies[1], "10.0.0.0/8");
	config_free(c);
	diag_release(&d);
	c = load("serve: {rate: off, burst: 7}\n", &d);
	assert_int_equal(d.errors, 0);
	assert_true(c->serve.rate == 0 && c->serve.burst == 7);
	config_free(c);
	diag_release(&d);
	static const struct {
		const char *yaml, *msg;
	} bad[] = {
	    {"serve: yes\n", "t.yaml:1: serve must be a mapping"},
	    {"serve:\n  rate: 5\n",
	     "t.yaml:2: serve: bad rate \"5\" (use 50/s, 600/m, 1000/h, or off)"},
	    {"serve:\n  rate: -1/s\n", "t.yaml:2: serve: bad rate \"-1/s\""},
	    {"serve:\n  burst: 0\n",
	     "t.yaml:2: serve: burst must be a whole number 1 to 1000000, not \"0\""},
	    {"serve:\n  max_connections: 0\n",
	     "t.yaml:2: serve: max_connections must be a whole number 1 to 65535, not \"0\""},
	    {"serve:\n  max_connections: 10\n  max_connections_per_ip: 11\n",
	     "t.yaml:3: serve: max_connections_per_ip (11) is over max_connections (10)"},
	    {"serve:\n  timeout: 0\n", "t.yaml:2: serve: timeout must be 1s to 1h, not \"0\""},
	    {"serve:\n  user: \"a b\"\n", "t.yaml:2: serve: user \"a b\" is not a user name"},
	    {"serve:\n  trusted_proxies: [1.2.3]\n",
	     "t.yaml:2: serve: trusted_proxies: \"1.2.3\" is not an IP address or ADDRESS/PREFIX"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = load(bad[i].yaml, &d);
		int found = 0;
		for (size_t j = 0; j < d.n; j++)
			if (strncmp(d.msgs[j], bad[i].msg, strlen(bad[i].msg)) == 0)
				found = 1;
		if (!found || d.errors == 0) {
			for (size_t j = 0; j < d.n; j++)
				print_message("  diag: %s\n", d.msgs[j]);
			fail_msg("%s: want \"%s\"", bad[i].yaml, bad[i].msg);
		}
		config_free(c);
		diag_release(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bucket),
	    cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_client_key),
	    cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
