/* diag.h - a list of "FILE:LINE: message" problems, for check and imports */
#ifndef OUTREACH_DIAG_H
#define OUTREACH_DIAG_H
#include <stddef.h>

struct diag {
	char **msgs;   /* each a full line without newline, "warning: " prefixed for warnings */
	size_t n;
	int errors;
	int warnings;
};

void diag_init(struct diag *d);
void diag_release(struct diag *d);
/* diag_error / diag_warn - add a formatted line; file and line go in front
 * ("FILE:LINE: ", or "FILE: " when line <= 0) */
void diag_error(struct diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* diag_print - every line to stderr */
void diag_print(const struct diag *d);

#endif
