/* where.h - the `where:` filter of an event trigger: which events start a
 * campaign, by their data.
 *
 *   trigger: {event: survey_response, where: {score: {lte: 6}}}
 *
 * where maps data fields to conditions, and every one must hold. A plain
 * value (string, number, boolean, list) must equal the field; a mapping
 * holds operators, all of which must hold:
 *   eq V, ne V       equal / not equal (ne holds when the field is missing)
 *   lt, lte, gt, gte V   numbers with numbers, strings with strings (byte
 *                    order, so RFC 3339 times in one zone compare in time
 *                    order); another type, or a missing field, never holds
 *   in [V, ...]      equal to one of the list
 * Numbers are equal by value (6 and 6.0). To match a field holding a
 * mapping, write {eq: {...}}.
 */
#ifndef OUTREACH_WHERE_H
#define OUTREACH_WHERE_H
#include <jansson.h>

#include "err.h"

enum where_op {
	WHERE_EQ,
	WHERE_NE,
	WHERE_LT,
	WHERE_LTE,
	WHERE_GT,
	WHERE_GTE,
	WHERE_IN,
	WHERE_NOPS
};

/* where_op_parse - the operator named name ("lte"), or -1 */
int where_op_parse(const char *name);

/* where_op_list - "eq, ne, lt, lte, gt, gte, in", for messages */
const char *where_op_list(void);

/* where_check_op - 0 when v is an operand op takes (lt..gte: a number or
 * a string; in: a non-empty list of values that are not mappings; eq, ne:
 * anything), else -1 with e saying what op needs ("lte needs a number or
 * a string") */
int where_check_op(enum where_op op, const json_t *v, struct err *e);

/* where_matches - 1 when data (an object, or NULL for none) satisfies
 * every condition of where (NULL: no filter, always 1); an operator this
 * module does not know never holds (config validation refuses it first) */
int where_matches(const json_t *where, const json_t *data);

#endif
