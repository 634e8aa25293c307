/* err.h - one-line error messages passed up to the caller (git's error()) */
#ifndef OUTREACH_ERR_H
#define OUTREACH_ERR_H

struct err {
	char msg[512];
};

/* err_set - format the message into e (NULL allowed) and return -1 */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* err_prefix - prepend "PREFIX: " to the current message; returns -1 */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);

#endif
