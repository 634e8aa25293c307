/* str.h - small string helpers that do not follow the locale */
#ifndef OUTREACH_STR_H
#define OUTREACH_STR_H

/* str_ieq - equal ignoring ASCII case (strcasecmp follows the locale) */
int str_ieq(const char *a, const char *b);
/* str_trimmed - a copy without surrounding spaces and tabs; caller frees */
char *str_trimmed(const char *s);

#endif
