/* test_sms.c - SMS segment counting: a table of texts with known answers
 *
 * Texts are built from repeated pieces ("a" x 161), so the table states
 * the arithmetic it checks; the boundaries are 160/153 septets and 70/67
 * UTF-16 units, and the cases around a part boundary that a plain
 * division gets wrong (an escape pair or a surrogate pair that would be
 * split).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "sms.h"

#define EMOJI "\xF0\x9F\x98\x80" /* U+1F600, a surrogate pair in UTF-16 */
#define EURO "\xE2\x82\xAC"	 /* U+20AC, in the GSM extension table */

struct piece {
	const char *s;
	int times;
};

struct row {
	const char *name;
	struct piece p[4]; /* up to four pieces, each repeated */
	int segments;
	enum sms_encoding enc;
};

static const struct row rows[] = {
    {"empty", {{"", 0}}, 0, SMS_GSM7},
    {"ascii 1", {{"a", 1}}, 1, SMS_GSM7},
    {"ascii 160", {{"a", 160}}, 1, SMS_GSM7},
    {"ascii 161", {{"a", 161}}, 2, SMS_GSM7},
    {"ascii 306", {{"a", 306}}, 2, SMS_GSM7},
    {"ascii 307", {{"a", 307}}, 3, SMS_GSM7},
    {"ascii 459", {{"a", 459}}, 3, SMS_GSM7},
    {"ascii 460", {{"a", 460}}, 4, SMS_GSM7},
    {"gsm basic set",
     {{"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
       "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
       1}},
     1,
     SMS_GSM7},
    {"chinese 1", {{"中", 1}}, 1, SMS_UCS2},
    {"chinese 70", {{"中", 70}}, 1, SMS_UCS2},
    {"chinese 71", {{"中", 71}}, 2, SMS_UCS2},
    {"chinese 134", {{"中", 134}}, 2, SMS_UCS2},
    {"chinese 135", {{"中", 135}}, 3, SMS_UCS2},
    {"chinese mixed with ascii 70", {{"【Acme】感谢您的订单", 1}, {"x", 58}}, 1, SMS_UCS2},
    {"chinese mixed with ascii 71", {{"【Acme】感谢您的订单", 1}, {"x", 59}}, 2, SMS_UCS2},
    /* the euro sign takes an escape: 159 + 2 = 161 septets */
    {"one euro in 160 chars", {{"a", 159}, {EURO, 1}}, 2, SMS_GSM7},
    {"one euro in 159 chars", {{"a", 158}, {EURO, 1}}, 1, SMS_GSM7},
    {"extension chars 80", {{"[", 80}}, 1, SMS_GSM7},
    {"extension chars 81", {{"{", 81}}, 2, SMS_GSM7},
    {"every extension char", {{"^{}\\[~]|" EURO "\f", 1}}, 1, SMS_GSM7},
    {"form feed counts 2", {{"\f", 80}, {"a", 1}}, 2, SMS_GSM7},
    /* 152 + 2 + 152 = 306 septets, yet the euro cannot straddle parts */
    {"escape pair not split", {{"a", 152}, {EURO, 1}, {"a", 152}}, 3, SMS_GSM7},
    {"escape pair fits", {{"a", 151}, {EURO, 1}, {"a", 153}}, 2, SMS_GSM7},
    {"grave accent is not gsm", {{"a", 69}, {"`", 1}}, 1, SMS_UCS2},
    {"grave accent 71", {{"a", 70}, {"`", 1}}, 2, SMS_UCS2},
    {"c cedilla lower is not gsm", {{"ç", 1}}, 1, SMS_UCS2},
    {"emoji alone", {{EMOJI, 1}}, 1, SMS_UCS2},
    {"emoji counts 2: 70 units", {{"中", 68}, {EMOJI, 1}}, 1, SMS_UCS2},
    {"emoji counts 2: 71 units", {{"中", 69}, {EMOJI, 1}}, 2, SMS_UCS2},
    /* 66 + 2 + 66 = 134 units, but the pair cannot straddle parts */
    {"surrogate pair not split", {{"中", 66}, {EMOJI, 1}, {"中", 66}}, 3, SMS_UCS2},
    {"surrogate pair fits", {{"中", 65}, {EMOJI, 1}, {"中", 67}}, 2, SMS_UCS2},
    {"emoji in ascii", {{"a", 67}, {EMOJI, 1}}, 1, SMS_UCS2},
    {"invalid byte", {{"\xFF", 1}, {"a", 69}}, 1, SMS_UCS2},
    {"invalid byte 71", {{"\xFF", 1}, {"a", 70}}, 2, SMS_UCS2},
    {"truncated sequence", {{"\xE4\xB8", 1}}, 1, SMS_UCS2},
    {"truncated sequence at 70", {{"中", 69}, {"\xE4\xB8", 1}}, 2, SMS_UCS2},
    {"overlong slash", {{"\xC0\xAF", 35}}, 1, SMS_UCS2},
    {"overlong slash 71", {{"\xC0\xAF", 35}, {"a", 1}}, 2, SMS_UCS2},
    {"utf-16 surrogate in utf-8", {{"\xED\xA0\x80", 1}}, 1, SMS_UCS2},
    {"lone continuation", {{"a", 10}, {"\x80", 1}}, 1, SMS_UCS2},
};

static void build(const struct row *r, struct buf *b)
{
	buf_reset(b);
	buf_puts(b, "");
	for (size_t i = 0; i < 4 && r->p[i].s; i++)
		for (int k = 0; k < r->p[i].times; k++)
			buf_puts(b, r->p[i].s);
}

static void test_table(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		build(&rows[i], &b);
		enum sms_encoding enc = (enum sms_encoding) - 1;
		int n = sms_segments(b.data, b.len, &enc);
		if (n != rows[i].segments || enc != rows[i].enc)
			fail_msg("%s: %d segments (%s), want %d (%s)", rows[i].name, n,
				 sms_encoding_name(enc), rows[i].segments,
				 sms_encoding_name(rows[i].enc));
		/* enc may be NULL */
		assert_int_equal(sms_segments(b.data, b.len, NULL), n);
	}
	buf_release(&b);
}

/* the length bounds the text: a NUL or bytes past len are not read */
static void test_length_bound(void **state)
{
	(void)state;
	const char text[] = "abc\0中中";
	enum sms_encoding enc;
	assert_int_equal(sms_segments(text, 3, &enc), 1);
	assert_int_equal(enc, SMS_GSM7);
	assert_int_equal(sms_segments(text, 4, &enc), 1);
	assert_int_equal(enc, SMS_UCS2); /* U+0000 is no GSM character */
	/* a multi-byte character cut by len is invalid, not read past */
	assert_int_equal(sms_segments("中", 2, &enc), 1);
	assert_int_equal(enc, SMS_UCS2);
	assert_int_equal(sms_segments("", 0, &enc), 0);
}

static void test_limit(void **state)
{
	(void)state;
	char reason[128];
	struct buf b = BUF_INIT;
	for (int i = 0; i < 71; i++)
		buf_puts(&b, "中");
	assert_int_equal(sms_limit(b.data, b.len, 2, reason, sizeof(reason)), 0);
	assert_int_equal(sms_limit(b.data, b.len, 0, reason, sizeof(reason)), 0);
	assert_int_equal(sms_limit(b.data, b.len, 1, reason, sizeof(reason)), -1);
	assert_string_equal(reason, "2 segments (ucs2), max_segments is 1");
	buf_reset(&b);
	for (int i = 0; i < 307; i++)
		buf_putc(&b, 'x');
	assert_int_equal(sms_limit(b.data, b.len, 2, reason, sizeof(reason)), -1);
	assert_string_equal(reason, "3 segments (gsm7), max_segments is 2");
	assert_int_equal(sms_limit(b.data, b.len, 2, NULL, 0), -1);
	assert_string_equal(sms_encoding_name(SMS_GSM7), "gsm7");
	assert_string_equal(sms_encoding_name(SMS_UCS2), "ucs2");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_length_bound),
	    cmocka_unit_test(test_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
