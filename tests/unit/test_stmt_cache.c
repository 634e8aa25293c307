/* test_stmt_cache.c - the backends' statement cache: found by SQL pointer,
 * and a statement handed out stays where it is while the table grows */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../src/store/stmt_cache.h"

static int freed;
static void count_free(void *p)
{
	freed++;
	free(p);
}

static void test_grow_keeps_statements(void **state)
{
	(void)state;
	struct stmt_cache c = {0};
	static char sql[1000][8]; /* 1000 distinct "SQL" pointers */
	int *first = malloc(sizeof(int));
	*first = 42;
	assert_null(stmt_cache_get(&c, sql[0]));
	stmt_cache_put(&c, sql[0], first);
	for (int i = 1; i < 1000; i++) {
		int *v = malloc(sizeof(int));
		*v = i;
		stmt_cache_put(&c, sql[i], v);
		/* the first one is still the same allocation, as a caller holds it */
		assert_ptr_equal(stmt_cache_get(&c, sql[0]), first);
	}
	assert_true(c.cap >= 2000);
	for (int i = 1; i < 1000; i++)
		assert_int_equal(*(int *)stmt_cache_get(&c, sql[i]), i);
	assert_int_equal(*first, 42);
	char other;
	assert_null(stmt_cache_get(&c, &other));
	stmt_cache_free(&c, count_free);
	assert_int_equal(freed, 1000);
	assert_null(stmt_cache_get(&c, sql[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_keeps_statements),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
