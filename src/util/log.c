/* log.c - plain one-line logging to stderr
 *
 * Each line goes out in one write, so that the lines of processes sharing
 * a stderr (`run --workers N`: the supervisor and its children) never
 * interleave mid-line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static enum log_level min_level = LOG_INFO;
static const char *names[] = {"debug", "info", "warning", "error"};

enum log_level log_get_level(void)
{
	return min_level;
}

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
	char line[4096];
	va_list again;
	va_copy(again, ap);
	int p = snprintf(line, sizeof(line), "outreach: %s: ", level);
	int m = p >= 0 && (size_t)p < sizeof(line)
			? vsnprintf(line + p, sizeof(line) - (size_t)p, fmt, ap)
			: -1;
	if (m >= 0 && (size_t)p + (size_t)m + 1 < sizeof(line)) {
		line[p + m] = '\n';
		fwrite(line, 1, (size_t)p + (size_t)m + 1, stderr); /* unbuffered: one write */
	} else {
		/* longer than a line should ever be: in pieces */
		fprintf(stderr, "outreach: %s: ", level);
		vfprintf(stderr, fmt, again);
		fputc('\n', stderr);
	}
	va_end(again);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl < min_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(names[lvl], fmt, ap);
	va_end(ap);
}

void log_fatal(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("error", fmt, ap);
	va_end(ap);
	exit(code);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("panic", fmt, ap);
	va_end(ap);
	abort();
}

static int pii_allowed;

void log_set_pii(int allowed)
{
	pii_allowed = allowed;
}

int log_pii(void)
{
	return pii_allowed;
}
