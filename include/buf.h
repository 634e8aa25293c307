/* buf.h - growable byte buffer, always NUL-terminated (Redis's sds, simpler) */
#ifndef OUTREACH_BUF_H
#define OUTREACH_BUF_H
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated once anything was appended; may be NULL before */
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_init(struct buf *b);
void buf_release(struct buf *b);              /* frees data, leaves b empty */
void buf_reset(struct buf *b);                /* len = 0, keeps memory */
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_detach - return the string (never NULL, caller frees) and empty b */
char *buf_detach(struct buf *b);
/* buf_cstr - the contents as a string, "" when empty; borrowed */
const char *buf_cstr(const struct buf *b);

#endif
