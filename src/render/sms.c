/* sms.c - SMS segment counting (3GPP TS 23.038 and 23.040)
 *
 * A text goes as GSM-7 when every character is in the GSM 03.38 default
 * alphabet or its extension table (an extension character takes an escape
 * septet and its own: two), else as UCS-2 (UTF-16 units: a character
 * outside the BMP is a surrogate pair, two units). One segment holds 160
 * septets or 70 units; a concatenated message loses room to its user data
 * header: 153 septets or 67 units per part. Parts are counted by walking
 * the characters, because a part never splits an escape pair or a
 * surrogate pair (so 66 Chinese characters, an emoji and 66 more take
 * three parts, not two).
 *
 * Security: the input is untrusted bytes; the decoder is strict (no
 * overlong forms, no surrogates, nothing past U+10FFFF) and never reads
 * past len. Invalid bytes are counted, not rejected: one unit each, UCS-2.
 */
#include "sms.h"

#include <stdint.h>
#include <stdio.h>

#define GSM_SINGLE 160
#define GSM_PART 153
#define UCS2_SINGLE 70
#define UCS2_PART 67

/* gsm_width - septets a code point takes in GSM-7: 1 (default alphabet),
 * 2 (extension table), 0 (not representable) */
static int gsm_width(uint32_t c)
{
	/* the default alphabet's non-ASCII members, by their code point */
	static const uint16_t basic[] = {
	    0x00A3, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x00D8, 0x00F8,
	    0x00C5, 0x00E5, 0x0394, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, 0x03A3,
	    0x0398, 0x039E, 0x00C6, 0x00E6, 0x00DF, 0x00C9, 0x00A4, 0x00A1, 0x00C4, 0x00D6,
	    0x00D1, 0x00DC, 0x00A7, 0x00BF, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
	};
	if (c == '\n' || c == '\r')
		return 1;
	if (c == '\f' || c == '^' || c == '{' || c == '}' || c == '\\' || c == '[' || c == '~' ||
	    c == ']' || c == '|' || c == 0x20AC)
		return 2;
	if (c >= 0x20 && c < 0x7F)
		return c == '`' ? 0 : 1; /* the grave accent has no GSM form */
	for (size_t i = 0; i < sizeof(basic) / sizeof(*basic); i++)
		if (basic[i] == c)
			return 1;
	return 0;
}

/* utf8_next - decode one code point at s (n > 0 bytes left) into *cp;
 * returns its length, or 0 for an invalid byte (which the caller skips) */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char b = s[0];
	size_t len;
	uint32_t c, min;
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		len = 2;
		c = b & 0x1F;
		min = 0x80;
	} else if (b >= 0xE0 && b <= 0xEF) {
		len = 3;
		c = b & 0x0F;
		min = 0x800;
	} else if (b >= 0xF0 && b <= 0xF4) {
		len = 4;
		c = b & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* walk - parts counted character by character, so that no character is
 * split between two parts */
struct walk {
	int total; /* units (septets or UTF-16 units) in all */
	int parts; /* concatenated parts so far */
	int fill;  /* units in the current part */
};

static void walk_add(struct walk *w, int width, int part)
{
	w->total += width;
	if (w->parts == 0 || w->fill + width > part) {
		w->parts++;
		w->fill = 0;
	}
	w->fill += width;
}

int sms_segments(const char *text, size_t len, enum sms_encoding *enc)
{
	const unsigned char *s = (const unsigned char *)text;
	int gsm = 1;

	/* first pass: is every character GSM-7? */
	for (size_t i = 0; i < len && gsm;) {
		uint32_t c;
		size_t k = utf8_next(s + i, len - i, &c);
		if (k == 0 || gsm_width(c) == 0)
			gsm = 0;
		i += k ? k : 1;
	}
	if (enc)
		*enc = gsm ? SMS_GSM7 : SMS_UCS2;
	if (len == 0)
		return 0;

	struct walk w = {0, 0, 0};
	int single = gsm ? GSM_SINGLE : UCS2_SINGLE;
	int part = gsm ? GSM_PART : UCS2_PART;
	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t k = utf8_next(s + i, len - i, &c);
		int width;
		if (k == 0)
			width = 1; /* an invalid byte: one unit */
		else if (gsm)
			width = gsm_width(c);
		else
			width = c > 0xFFFF ? 2 : 1;
		walk_add(&w, width, part);
		i += k ? k : 1;
	}
	return w.total <= single ? 1 : w.parts;
}

const char *sms_encoding_name(enum sms_encoding enc)
{
	return enc == SMS_GSM7 ? "gsm7" : "ucs2";
}

int sms_limit(const char *text, size_t len, int max, char *reason, size_t n)
{
	enum sms_encoding enc;
	int segs = sms_segments(text, len, &enc);
	if (max <= 0 || segs <= max)
		return 0;
	if (reason && n)
		snprintf(reason, n, "%d segments (%s), max_segments is %d", segs,
			 sms_encoding_name(enc), max);
	return -1;
}
