/* test_str.c - str_show and str_show_bare: what a hostile value becomes in
 * an error line (found by fuzz_import: jansson's "near '...'" text held the
 * file's raw control bytes) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "str.h"

static void test_show(void **state)
{
	(void)state;
	static const struct {
		const char *in, *quoted, *bare;
	} cases[] = {
	    {"plain", "\"plain\"", "plain"},
	    {"say \"hi\" \\o/", "\"say \\\"hi\\\" \\\\o/\"", "say \"hi\" \\o/"},
	    {"a\nb\r\tc", "\"a\\nb\\r\\tc\"", "a\\nb\\r\\tc"},
	    {"\x1b[31mred\x7f", "\"\\x1b[31mred\\x7f\"", "\\x1b[31mred\\x7f"},
	    /* U+009B (CSI as a C1 control) and a lone 0x9b byte */
	    {"x\xc2\x9b"
	     "2J\x9b",
	     "\"x\\xc2\\x9b2J\\x9b\"", "x\\xc2\\x9b2J\\x9b"},
	    /* cut sequences and bytes that never start UTF-8 */
	    {"\xe4\xb8 \xff\xc0\x80", "\"\\xe4\\xb8 \\xff\\xc0\\x80\"",
	     "\\xe4\\xb8 \\xff\\xc0\\x80"},
	    /* good UTF-8 stays: U+00A0, 中文, an emoji */
	    {"\xc2\xa0\xe4\xb8\xad\xe6\x96\x87\xf0\x9f\x98\x80",
	     "\"\xc2\xa0\xe4\xb8\xad\xe6\x96\x87\xf0\x9f\x98\x80\"",
	     "\xc2\xa0\xe4\xb8\xad\xe6\x96\x87\xf0\x9f\x98\x80"},
	    {"", "\"\"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shown sh;
		assert_string_equal(str_show(&sh, cases[i].in), cases[i].quoted);
		assert_string_equal(str_show_bare(&sh, cases[i].in), cases[i].bare);
	}
}

static void test_show_cut(void **state)
{
	(void)state;
	char in[200], want[300];
	struct shown sh;
	/* 70 bytes of 0x9b: 64 shown, each as \x9b, then "..." */
	memset(in, 0x9b, 70);
	in[70] = '\0';
	want[0] = '"';
	for (int i = 0; i < 64; i++)
		memcpy(want + 1 + 4 * i, "\\x9b", 4);
	memcpy(want + 1 + 4 * 64, "\"...", 5);
	assert_string_equal(str_show(&sh, in), want);
	/* never cut inside a character: "ab" then three-byte characters, the
	 * 21st at bytes 62..64 across the limit, is cut before it */
	memcpy(in, "ab", 2);
	for (int i = 0; i < 22; i++)
		memcpy(in + 2 + 3 * i, "\xe4\xb8\xad", 3);
	in[68] = '\0';
	str_show(&sh, in);
	size_t n = strlen(sh.s);
	assert_string_equal(sh.s + n - 4, "\"...");
	assert_int_equal(n, 1 + 62 + 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_show),
					   cmocka_unit_test(test_show_cut)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
