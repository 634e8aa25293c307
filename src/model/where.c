/* where.c - event trigger filters: plain equality and the comparison
 * operators eq, ne, lt, lte, gt, gte, in on an event's data (where.h).
 *
 * How: each field of `where` is looked up in the event's data; a plain
 * value is an eq, a mapping a list of operators that must all hold.
 * Numbers compare by value whether JSON integers or reals; strings by
 * bytes (strcmp); any other pairing is unequal and unordered. Nothing is
 * allocated. The data comes from strangers (serve records survey answers
 * and replies): it is only read, never evaluated.
 */
#include "where.h"

#include <string.h>

static const char *const op_names[WHERE_NOPS] = {"eq", "ne", "lt", "lte", "gt", "gte", "in"};

int where_op_parse(const char *name)
{
	for (int i = 0; i < WHERE_NOPS; i++)
		if (strcmp(op_names[i], name) == 0)
			return i;
	return -1;
}

const char *where_op_list(void)
{
	return "eq, ne, lt, lte, gt, gte, in";
}

int where_check_op(enum where_op op, const json_t *v, struct err *e)
{
	switch (op) {
	case WHERE_LT:
	case WHERE_LTE:
	case WHERE_GT:
	case WHERE_GTE:
		if (!json_is_number(v) && !json_is_string(v))
			return err_set(e, "%s needs a number or a string", op_names[op]);
		return 0;
	case WHERE_IN: {
		size_t i;
		json_t *x;
		if (!json_is_array(v) || json_array_size(v) == 0)
			return err_set(e, "in needs a list of values like [a, b]");
		json_array_foreach((json_t *)v, i, x)
		{
			if (json_is_object(x))
				return err_set(e, "in needs a list of plain values, not mappings");
		}
		return 0;
	}
	case WHERE_EQ:
	case WHERE_NE:
		return 0;
	default:
		return err_set(e, "unknown operator");
	}
}

/* equal - JSON equality, numbers by value */
static int equal(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return 0;
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	return json_equal((json_t *)a, (json_t *)b);
}

/* order - -1, 0, 1 comparing a with b, or 2 when they do not compare */
static int order(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return 2;
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		return x < y ? -1 : x > y ? 1 : 0;
	}
	if (json_is_string(a) && json_is_string(b)) {
		int c = strcmp(json_string_value(a), json_string_value(b));
		return c < 0 ? -1 : c > 0;
	}
	return 2;
}

static int op_holds(enum where_op op, const json_t *field, const json_t *v)
{
	int c;
	switch (op) {
	case WHERE_EQ:
		return equal(field, v);
	case WHERE_NE:
		return !equal(field, v);
	case WHERE_LT:
		return (c = order(field, v)) == -1;
	case WHERE_LTE:
		return (c = order(field, v)) == -1 || c == 0;
	case WHERE_GT:
		return (c = order(field, v)) == 1;
	case WHERE_GTE:
		return (c = order(field, v)) == 1 || c == 0;
	case WHERE_IN: {
		size_t i;
		json_t *x;
		if (!json_is_array(v))
			return 0;
		json_array_foreach((json_t *)v, i, x)
		{
			if (equal(field, x))
				return 1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

int where_matches(const json_t *where, const json_t *data)
{
	const char *k;
	json_t *cond;
	if (!where)
		return 1;
	json_object_foreach((json_t *)where, k, cond)
	{
		json_t *field = json_is_object(data) ? json_object_get(data, k) : NULL;
		if (!json_is_object(cond)) {
			if (!equal(field, cond))
				return 0;
			continue;
		}
		const char *name;
		json_t *v;
		json_object_foreach(cond, name, v)
		{
			int op = where_op_parse(name);
			if (op < 0 || !op_holds((enum where_op)op, field, v))
				return 0;
		}
	}
	return 1;
}
