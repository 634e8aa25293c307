/* sms.h - SMS segment counting (3GPP TS 23.038) */
#ifndef OUTREACH_SMS_H
#define OUTREACH_SMS_H
#include <stddef.h>

enum sms_encoding { SMS_GSM7 = 0, SMS_UCS2 = 1 };

/* sms_segments - the number of segments text (UTF-8) takes: GSM-7 when
 * every character is in the GSM 03.38 default alphabet or its extension
 * table (extension characters count twice), 160 septets in one segment or
 * 153 per segment when concatenated; else UCS-2, 70 UTF-16 units or 67 per
 * segment (characters outside the BMP count twice). 0 for an empty text.
 * *enc (MAY be NULL) receives the encoding. Invalid UTF-8 counts as UCS-2,
 * one unit per byte. */
int sms_segments(const char *text, size_t len, enum sms_encoding *enc);

#endif
