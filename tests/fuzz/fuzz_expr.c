/* fuzz_expr.c - libFuzzer target for segment expressions
 *
 * The input, cut at its first NUL, is parsed; a parse error must say
 * "column N: ...". What parses is evaluated against a fixed contact, and the
 * result must hold at a few instants before the reported next_change; its
 * explanation must agree with the result and be one line.
 *
 *   make fuzz-build && build/fuzz/fuzz_expr tests/fuzz/corpus/expr/
 *   (make fuzz runs every target FUZZ_TIME seconds on a copy of its corpus)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "expr.h"
#include "timeutil.h"
#include "xmalloc.h"

#define DAY 86400
#define NOW INT64_C(1772323200) /* 2026-03-01T00:00:00Z */

static const struct {
	const char *type;
	int64_t ago;
	double amount;
} events[] = {
    {"purchase", 3 * DAY + 5, 120},
    {"purchase", 40 * DAY, 99000},
    {"purchase", 400 * DAY, 5},
    {"complaint", 29 * DAY + 7200, 0},
    {"visit", 0, 0},
    {"visit", 7 * DAY, 0},
};

static json_t *attrs;

static json_t *fz_attr(void *ud, const char *name)
{
	(void)ud;
	return json_object_get(attrs, name);
}

static int fz_events(const char *type, int64_t since, int64_t now, int64_t *n, double *total,
		     int64_t *oldest)
{
	*n = 0;
	*total = 0;
	*oldest = TIME_NEVER;
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		int64_t at = NOW - events[i].ago;
		if (strcmp(events[i].type, type) != 0 || at < since || at > now)
			continue;
		(*n)++;
		*total += events[i].amount;
		if (at < *oldest)
			*oldest = at;
	}
	return strcmp(type, "fail") == 0 ? -1 : 0;
}

static int fz_count(void *ud, const char *type, int64_t since, int64_t now, int64_t *n,
		    int64_t *oldest)
{
	double total;
	(void)ud;
	return fz_events(type, since, now, n, &total, oldest);
}

static int fz_sum(void *ud, const char *type, const char *field, int64_t since, int64_t now,
		  double *total, int64_t *oldest)
{
	int64_t n;
	(void)ud;
	(void)field;
	return fz_events(type, since, now, &n, total, oldest);
}

static int fz_last(void *ud, const char *type, int64_t now, int64_t *at)
{
	int found = 0;
	(void)ud;
	if (strcmp(type, "fail") == 0)
		return -1;
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (strcmp(events[i].type, type) == 0 && NOW - events[i].ago <= now &&
		    (!found || NOW - events[i].ago > *at)) {
			*at = NOW - events[i].ago;
			found = 1;
		}
	return !found;
}

static void fz_ref(void *ud, char kind, const char *name)
{
	(void)ud;
	if (!strchr("aesf", kind) || !name[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct expr_env env = {NULL, fz_attr, fz_count, fz_sum, fz_last, NULL};
	struct buf why = BUF_INIT;
	char *src = xmalloc(size + 1);
	struct err e = {""};
	struct expr *x;
	int64_t next, n2, probe[4];
	int r, r2;

	if (!attrs)
		attrs =
		    json_pack("{s:i, s:s, s:s, s:b, s:s, s:n, s:f, s:{s:i}}", "spend_12m", 150000,
			      "tier", "gold", "signup", "2026-01-15T00:00:00+08:00", "opted_in", 1,
			      "city", "上海", "gone", "born", 1772150400.5, "stats", "rfm", 3);
	memcpy(src, data, size);
	src[size] = '\0';
	x = expr_parse(src, &e);
	if (!x) {
		if (strncmp(e.msg, "column ", 7) != 0)
			abort();
		free(src);
		return 0;
	}
	expr_foreach_ref(x, fz_ref, NULL);
	if (expr_eval(x, &env, NOW, &r, &next, &e) == 0) {
		if ((r != 0 && r != 1) || next <= NOW)
			abort();
		probe[0] = NOW + 1;
		probe[1] = NOW + 3600;
		probe[2] = NOW + DAY;
		probe[3] = next == TIME_NEVER ? NOW + 3000 * DAY : next - 1;
		for (int i = 0; i < 4; i++)
			if (probe[i] < next &&
			    (expr_eval(x, &env, probe[i], &r2, &n2, &e) < 0 || r2 != r))
				abort(); /* next_change was late */
		/* explain looks at every operand, also those eval could skip:
		 * it may meet a failing lookup ("fail") that eval did not */
		if (expr_explain(x, &env, NOW, &r2, &why, &e) == 0 &&
		    (r2 != r || strchr(buf_cstr(&why), '\n')))
			abort();
	}
	buf_release(&why);
	expr_free(x);
	free(src);
	return 0;
}
