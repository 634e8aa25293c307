/* diag.c - collected problems with file and line */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "xmalloc.h"

void diag_init(struct diag *d)
{
	d->msgs = NULL;
	d->n = 0;
	d->errors = d->warnings = 0;
}

void diag_release(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	diag_init(d);
}

static void vadd(struct diag *d, int warn, const char *file, int line, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	if (file && line > 0)
		buf_printf(&b, "%s:%d: ", file, line);
	else if (file)
		buf_printf(&b, "%s: ", file);
	if (warn)
		buf_puts(&b, "warning: ");
	char tmp[1024];
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	buf_puts(&b, tmp);
	d->msgs = xrealloc(d->msgs, (d->n + 1) * sizeof(*d->msgs));
	d->msgs[d->n++] = buf_detach(&b);
	if (warn)
		d->warnings++;
	else
		d->errors++;
}

void diag_error(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(d, 0, file, line, fmt, ap);
	va_end(ap);
}

void diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(d, 1, file, line, fmt, ap);
	va_end(ap);
}

void diag_print(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s\n", d->msgs[i]);
}
