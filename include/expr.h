/* expr.h - segment expressions: parsed once, evaluated per contact at `now`.
 *
 * Grammar (INTERFACE.md): numbers (123, 4.5), strings ("a" or 'a'), true,
 * false, null, attribute names (letters, digits, _ and dots: spend_12m,
 * stats.rfm), == != < <= > >=, and or not, parentheses, and the functions
 *   count(TYPE, WINDOW)        events of TYPE in the last WINDOW
 *   sum(TYPE.FIELD, WINDOW)    sum of data.FIELD over those events
 *   last(TYPE)                 time of the latest TYPE event (null if none)
 *   days_since(TIME)           whole days from TIME to now (null if TIME null)
 * WINDOW is a duration literal like 30d, 12h, 90m. A missing attribute is
 * null and every comparison with null is false (so `not (x > 1)` is true
 * when x is null), but for the null tests: `==` is true when both sides are
 * null (`x == null`: x is missing or null), and `x != null` when x is not.
 * Strings compare with strings, numbers with numbers, times (from last)
 * with times, booleans only by == and !=; a mismatch is false as with null.
 * and/or/not take anything but true as false. days_since takes a time, an
 * RFC 3339 string or epoch seconds; anything else gives null. An event
 * dated after now is a new event when it falls due: next_change does not
 * foresee it.
 */
#ifndef OUTREACH_EXPR_H
#define OUTREACH_EXPR_H
#include <jansson.h>
#include <stdint.h>

#include "err.h"

/* What an expression can ask about one contact. All MUST be set. */
struct expr_env {
	void *ud;
	/* attr - the attribute's value, borrowed, or NULL when missing */
	json_t *(*attr)(void *ud, const char *name);
	/* count - events of type in [now - window, now]; also the earliest
	 * `at` among them in *oldest (TIME_NEVER if none). 0 ok, -1 error */
	int (*count)(void *ud, const char *type, int64_t since, int64_t now, int64_t *n,
		     int64_t *oldest);
	/* sum - sum of the numeric data.FIELD over the same events */
	int (*sum)(void *ud, const char *type, const char *field, int64_t since, int64_t now,
		   double *total, int64_t *oldest);
	/* last - latest `at` of an event of type at or before now; 1 when none */
	int (*last)(void *ud, const char *type, int64_t now, int64_t *at);
};

struct expr;

/* expr_parse - compile src. On error returns NULL and e holds
 * "column N: message" (1-based column of the offending token). */
struct expr *expr_parse(const char *src, struct err *e);
void expr_free(struct expr *x);

/* expr_eval - evaluate as a condition at now. *result is 1 or 0 (null and
 * non-boolean values are 0). *next_change is the earliest instant > now at
 * which the result may differ through the passing of time alone (no new
 * event, no attribute change), or TIME_NEVER when nothing in it depends on
 * time. It MUST never be later than the true change; it SHOULD be exact for
 * days_since(...) compared with a constant (the instant the comparison
 * flips) and for count/sum windows (when the oldest event in the window
 * leaves it), so that contacts are re-evaluated rarely. Returns 0, or -1
 * with e set when a callback failed. */
int expr_eval(const struct expr *x, const struct expr_env *env, int64_t now, int *result,
	      int64_t *next_change, struct err *e);

/* expr_foreach_ref - every attribute name and every event type the
 * expression reads (for check's warnings): kind is 'a' or 'e'. */
void expr_foreach_ref(const struct expr *x, void (*fn)(void *ud, char kind, const char *name),
		      void *ud);

#endif
