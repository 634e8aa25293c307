/* utf8.h - UTF-8 sequences */
#ifndef OUTREACH_UTF8_H
#define OUTREACH_UTF8_H
#include <stddef.h>

/* utf8_len - bytes of the well-formed UTF-8 sequence at p (at most n
 * bytes available), 0 when none starts there (a stray continuation byte,
 * C0/C1/F5-FF, or a sequence cut short or broken) */
size_t utf8_len(const unsigned char *p, size_t n);

#endif
