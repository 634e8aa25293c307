/* log.c - plain one-line logging to stderr */
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
	fprintf(stderr, "outreach: %s: ", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
