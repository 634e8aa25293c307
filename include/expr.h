/* expr.h - segment expressions: parsed once, evaluated per contact at `now`.
 *
 * Grammar (INTERFACE.md): numbers (123, 4.5), strings ("a" or 'a'), true,
 * false, null, attribute names (letters, digits, _ and dots: spend_12m,
 * vip_since), computed attributes stats.NAME (stats.h: stats.spend_12m,
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
 *
 * `stats.` is a namespace: a name stats.NAME of a known stat is that stat,
 * never an attribute (contact imports refuse an attribute called "stats");
 * another stats.x is an attribute name like any, so null. A call of an
 * unknown function (`cnt(purchase, 30d)`) parses, with any arguments, and
 * is null: `check` warns about it (expr_foreach_ref), and a contact is
 * simply not in a segment through it.
 */
#ifndef OUTREACH_EXPR_H
#define OUTREACH_EXPR_H
#include <jansson.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct stats_conf;

/* What an expression can ask about one contact. All MUST be set but stats. */
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
	/* stats - the RFM thresholds for stats.rfm*, borrowed; MAY be NULL
	 * (the defaults) */
	const struct stats_conf *stats;
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
 * leaves it), and so for the stats built on them (stats.h), so that
 * contacts are re-evaluated rarely. Returns 0, or -1 with e set when a
 * callback failed. */
int expr_eval(const struct expr *x, const struct expr_env *env, int64_t now, int *result,
	      int64_t *next_change, struct err *e);

/* expr_foreach_ref - what the expression reads, for check's warnings: kind
 * 'a' an attribute name (also an unknown "stats.x"), 'e' an event type,
 * 's' a computed attribute ("stats.spend_12m"), 'f' the name of an unknown
 * function (whose arguments are not visited). In source order. */
void expr_foreach_ref(const struct expr *x, void (*fn)(void *ud, char kind, const char *name),
		      void *ud);

/* expr_explain - evaluate x as expr_eval does (*result) and append to out
 * one line saying why: the terms that decide the result, each written out
 * again (normalized: "count(purchase, 30d) > 0") and followed by the values
 * it saw in parentheses, "stats.frequency_change <= -0.5 (-0.67)". Of an
 * `and` or `or`, the operands whose truth is the result's are shown (the
 * true ones of a true `or`, the false ones of a false `and`, else all),
 * joined by the operator; numbers are rounded to 2 decimals, times are
 * RFC 3339, strings quoted. It asks about every operand, also those
 * expr_eval may skip once the result is settled. Returns 0, or -1 with e
 * set when a callback failed (out then holds a part). */
int expr_explain(const struct expr *x, const struct expr_env *env, int64_t now, int *result,
		 struct buf *out, struct err *e);

#endif
