/* xmalloc.h - allocation that never returns NULL (Postfix's mymalloc) */
#ifndef OUTREACH_XMALLOC_H
#define OUTREACH_XMALLOC_H
#include <stddef.h>

/* Each aborts the process with a message on exhaustion; callers never check. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);            /* xstrdup(NULL) returns NULL */
char *xstrndup(const char *s, size_t n);
/* xasprintf - formatted string, caller frees */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
