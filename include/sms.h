/* sms.h - SMS segment counting (3GPP TS 23.038) */
#ifndef OUTREACH_SMS_H
#define OUTREACH_SMS_H
#include <stddef.h>

enum sms_encoding { SMS_GSM7 = 0, SMS_UCS2 = 1 };

/* sms_segments - the number of segments text (UTF-8) takes: GSM-7 when
 * every character is in the GSM 03.38 default alphabet or its extension
 * table (extension characters count twice), 160 septets in one segment or
 * 153 per segment when concatenated; else UCS-2, 70 UTF-16 units or 67 per
 * segment (characters outside the BMP count twice). A part never splits an
 * extension character or a surrogate pair. 0 for an empty text. *enc (MAY
 * be NULL) receives the encoding. Invalid UTF-8 counts as UCS-2, one unit
 * per invalid byte. */
int sms_segments(const char *text, size_t len, enum sms_encoding *enc);

/* sms_encoding_name - "gsm7" or "ucs2" (static) */
const char *sms_encoding_name(enum sms_encoding enc);

/* sms_limit - 0 when text fits in max segments (max <= 0: no limit); else
 * -1, with "N segments (ENC), max_segments is M" written to reason (n
 * bytes, MAY be NULL). For the http transport's max_segments and `check`. */
int sms_limit(const char *text, size_t len, int max, char *reason, size_t n);

#endif
