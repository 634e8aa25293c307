/* str.h - small string helpers that do not follow the locale */
#ifndef OUTREACH_STR_H
#define OUTREACH_STR_H

/* str_ieq - equal ignoring ASCII case (strcasecmp follows the locale) */
int str_ieq(const char *a, const char *b);
/* str_trimmed - a copy without surrounding spaces and tabs; caller frees */
char *str_trimmed(const char *s);

/* str_html_entity - the HTML entity that stands for byte c in text or a
 * quoted attribute value (& < > " '), or NULL when c stands for itself */
const char *str_html_entity(unsigned char c);

#define STR_SHOW_MAX 64 /* bytes of a value quoted in a message */

/* A value prepared for a message: quoted, escaped, cut at STR_SHOW_MAX. */
struct shown {
	char s[STR_SHOW_MAX * 4 + 16];
};

/* str_show - s quoted for an error line: " and \ escaped, \n \r \t and
 * other controls (C1 too) and bytes that are not UTF-8 as escapes, cut at
 * STR_SHOW_MAX bytes on a UTF-8 boundary with "..." after; returns sh->s */
const char *str_show(struct shown *sh, const char *s);
/* str_show_bare - the same without the quotes (and " and \ as they are),
 * for a library's message that quotes input itself (jansson's "near '...'") */
const char *str_show_bare(struct shown *sh, const char *s);

#endif
