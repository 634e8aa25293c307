/* test_pii.c - sealing and hashing personal data (pii.c): a value sealed
 * by an independent AES-256-GCM (Python's cryptography, the vector below)
 * opens; seal/open round trips; a changed byte, another column's label, a
 * key that is not given and a malformed value are refused; old keys open
 * what they sealed; keys parse from hex and base64; hashes are HMAC-SHA256
 * of the lowercased value; masking replaces every spelling of an address */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pii.h"

/* key bytes 0..31, nonce 0..11, "bob@example.com", label "contacts.email",
 * made with cryptography's AESGCM; key id = sha256("outreach pii key"|key)[:4] */
static const char vector[] =
	"enc1:9f0129b3:AAECAwQFBgcICQoLJW20W6Cdo3b9LfKl0oYVYxS5iVrtkLwv7ylz5BeLcg==";

static void key_of(unsigned char k[PII_KEY_LEN], int base)
{
	for (int i = 0; i < PII_KEY_LEN; i++)
		k[i] = (unsigned char)(base + i);
}

static void test_vector(void **state)
{
	(void)state;
	unsigned char k[PII_KEY_LEN];
	key_of(k, 0);
	struct pii_keys *ks = pii_keys_new(k, NULL, 0);
	assert_string_equal(pii_key_id(ks), "9f0129b3");
	char *out = NULL;
	struct err e;
	assert_int_equal(pii_open(ks, "contacts.email", vector, &out, &e), 0);
	assert_string_equal(out, "bob@example.com");
	free(out);
	/* another column's label does not open it */
	assert_int_equal(pii_open(ks, "contacts.phone", vector, &out, &e), -1);
	assert_null(out);
	assert_non_null(strstr(e.msg, "does not authenticate"));
	/* nor does it with one byte of the ciphertext changed */
	char bad[sizeof(vector)];
	memcpy(bad, vector, sizeof(vector));
	bad[30] = bad[30] == 'A' ? 'B' : 'A';
	assert_int_equal(pii_open(ks, "contacts.email", bad, &out, &e), -1);
	pii_keys_free(ks);
}

static void test_round_trip(void **state)
{
	(void)state;
	unsigned char k1[PII_KEY_LEN], k2[PII_KEY_LEN];
	key_of(k1, 1);
	key_of(k2, 2);
	struct pii_keys *a = pii_keys_new(k1, NULL, 0);
	const char *vals[] = {"", "李伟", "+8613800138001", "a much longer value, well past one "
							    "AES block of sixteen bytes"};
	struct err e;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		char *s1 = pii_seal(a, "contacts.name", vals[i]);
		char *s2 = pii_seal(a, "contacts.name", vals[i]);
		assert_true(pii_sealed(s1));
		assert_string_not_equal(s1, s2); /* a fresh nonce each time */
		assert_null(strstr(s1, vals[i][0] ? vals[i] : "\x01"));
		char *out;
		assert_int_equal(pii_open(a, "contacts.name", s1, &out, &e), 0);
		assert_string_equal(out, vals[i]);
		free(out);
		free(s1);
		free(s2);
	}
	assert_null(pii_seal(a, "x", NULL));
	char *out = (char *)1;
	assert_int_equal(pii_open(a, "x", NULL, &out, &e), 0);
	assert_null(out);
	/* a clear value comes back as it is */
	assert_int_equal(pii_open(a, "x", "plain", &out, &e), 0);
	assert_string_equal(out, "plain");
	free(out);

	/* rotation: b's current key is k2, k1 old: it opens both */
	char *old = pii_seal(a, "contacts.email", "ann@example.com");
	const unsigned char(*olds)[PII_KEY_LEN] = (const unsigned char(*)[PII_KEY_LEN])k1;
	struct pii_keys *b = pii_keys_new(k2, olds, 1);
	assert_int_equal(pii_open(b, "contacts.email", old, &out, &e), 0);
	assert_string_equal(out, "ann@example.com");
	free(out);
	char *neu = pii_seal(b, "contacts.email", "ann@example.com");
	char kid[PII_KID_LEN + 1];
	assert_int_equal(pii_sealed_kid(neu, kid), 0);
	assert_string_equal(kid, pii_key_id(b));
	/* a without k2 cannot open it, and says which key it needs */
	assert_int_equal(pii_open(a, "contacts.email", neu, &out, &e), -1);
	assert_non_null(strstr(e.msg, pii_key_id(b)));
	/* malformed */
	assert_int_equal(pii_open(a, "x", "enc1:zz", &out, &e), -1);
	assert_int_equal(pii_open(a, "x", "enc1:9f0129b3:!!!!", &out, &e), -1);
	free(old);
	free(neu);
	pii_keys_free(a);
	pii_keys_free(b);
}

static void test_keys(void **state)
{
	(void)state;
	unsigned char k[PII_KEY_LEN], want[PII_KEY_LEN];
	key_of(want, 0);
	assert_int_equal(pii_key_parse("000102030405060708090a0b0c0d0e0f"
				       "101112131415161718191A1B1C1D1E1F", k), 0);
	assert_memory_equal(k, want, PII_KEY_LEN);
	assert_int_equal(pii_key_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", k), 0);
	assert_memory_equal(k, want, PII_KEY_LEN);
	assert_int_equal(pii_key_parse("00010203", k), -1);
	assert_int_equal(pii_key_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", k), -1);
	assert_int_equal(pii_key_parse("zz0102030405060708090a0b0c0d0e0f"
				       "101112131415161718191a1b1c1d1e1f", k), -1);
	struct err e;
	unsetenv("PII_TEST_KEY");
	assert_null(pii_keys_from_env("PII_TEST_KEY", &e));
	assert_non_null(strstr(e.msg, "$PII_TEST_KEY is not set"));
	setenv("PII_TEST_KEY", "not a key", 1);
	assert_null(pii_keys_from_env("PII_TEST_KEY", &e));
	assert_null(strstr(e.msg, "not a key")); /* never the value */
	setenv("PII_TEST_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
	setenv("PII_TEST_KEY_OLD", "1111111111111111111111111111111111111111111111111111111111111111, bad", 1);
	assert_null(pii_keys_from_env("PII_TEST_KEY", &e));
	assert_non_null(strstr(e.msg, "$PII_TEST_KEY_OLD: key 2"));
	setenv("PII_TEST_KEY_OLD", "1111111111111111111111111111111111111111111111111111111111111111", 1);
	struct pii_keys *ks = pii_keys_from_env("PII_TEST_KEY", &e);
	assert_non_null(ks);
	assert_string_equal(pii_key_id(ks), "9f0129b3");
	pii_keys_free(ks);
}

static void test_hash_mask(void **state)
{
	(void)state;
	unsigned char idx[PII_KEY_LEN];
	key_of(idx, 32);
	char h1[PII_HASH_LEN + 1], h2[PII_HASH_LEN + 1];
	pii_hash(idx, "Bob@Example.COM", h1);
	/* HMAC-SHA256(key 32..63, "bob@example.com"), from Python's hmac */
	assert_string_equal(h1, "h1:b43ae123c7dda92f008d8f8e2d78da9e92210ee3cf5b5ff8e58453b394246b4c");
	pii_hash(idx, h1, h2); /* a hash stays itself */
	assert_string_equal(h1, h2);
	assert_true(pii_hashed(h1));
	assert_false(pii_hashed("h1:short"));
	char *m = pii_mask("550 5.1.1 <Bob@Example.com>: user unknown; bob@example.com", "bob@example.com");
	assert_string_equal(m, "550 5.1.1 <[address]>: user unknown; [address]");
	free(m);
	m = pii_mask("x", "");
	assert_string_equal(m, "x");
	free(m);
	m = pii_mask("aaaa", "a");
	assert_string_equal(m, "[address][address][address][address]");
	free(m);
	assert_null(pii_mask(NULL, "a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vector),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_hash_mask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
