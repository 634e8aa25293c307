/* test_confint.c - Wilson and Newcombe intervals against published values:
 * Wilson (1927) as tabulated by Newcombe (1998a) and R's contingencytables
 * (13/16: 0.5699 to 0.9341); Newcombe (1998b, Statistics in Medicine 17,
 * 873-890, table II, method 10) for differences, and contingencytables'
 * Newcombe_hybrid_score_CI_2x2 (7/34 - 1/34: 0.0189 to 0.3404). Values are
 * given to 4 decimals, so each is checked to half a unit of the last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include <cmocka.h>

#include "confint.h"

#define NEAR(got, want)                                                                            \
	do {                                                                                       \
		if (fabs((got) - (want)) > 0.00005)                                                \
			fail_msg("%s: got %.6f, want %.4f (case %zu)", #got, (got), (want), i);    \
	} while (0)

static void test_wilson(void **state)
{
	static const struct {
		int64_t x, n;
		double lo, hi;
	} cases[] = {
	    {0, 10, 0.0000, 0.2775},   {5, 10, 0.2366, 0.7634},	 {50, 100, 0.4038, 0.5962},
	    {13, 16, 0.5699, 0.9341},  {10, 10, 0.7225, 1.0000}, {81, 263, 0.2553, 0.3662},
	    {15, 148, 0.0624, 0.1605}, {0, 20, 0.0000, 0.1611},	 {1, 29, 0.0061, 0.1718},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double lo = -9, hi = -9;
		assert_int_equal(confint_wilson(cases[i].x, cases[i].n, CONFINT_Z95, &lo, &hi), 0);
		NEAR(lo, cases[i].lo);
		NEAR(hi, cases[i].hi);
		/* the observed rate is always inside */
		double p = (double)cases[i].x / (double)cases[i].n;
		assert_true(lo <= p && p <= hi);
	}
	/* the ends are exact */
	double lo, hi;
	assert_int_equal(confint_wilson(0, 1000, CONFINT_Z95, &lo, &hi), 0);
	assert_true(lo == 0);
	assert_int_equal(confint_wilson(1000, 1000, CONFINT_Z95, &lo, &hi), 0);
	assert_true(hi == 1);
	/* a wider z, a wider interval */
	double lo2, hi2;
	assert_int_equal(confint_wilson(5, 10, CONFINT_Z95, &lo, &hi), 0);
	assert_int_equal(confint_wilson(5, 10, 2.576, &lo2, &hi2), 0);
	assert_true(lo2 < lo && hi2 > hi);
}

static void test_wilson_none(void **state)
{
	double lo = 7, hi = 7;
	(void)state;
	assert_int_equal(confint_wilson(0, 0, CONFINT_Z95, &lo, &hi), -1);
	assert_int_equal(confint_wilson(3, 2, CONFINT_Z95, &lo, &hi), -1);
	assert_int_equal(confint_wilson(-1, 2, CONFINT_Z95, &lo, &hi), -1);
	assert_true(lo == 7 && hi == 7);
}

static void test_newcombe(void **state)
{
	static const struct {
		int64_t x1, n1, x2, n2;
		double lo, hi;
	} cases[] = {
	    /* Newcombe 1998, table II, examples (a) to (h), method 10 */
	    {56, 70, 48, 80, 0.0524, 0.3339},
	    {9, 10, 3, 10, 0.1705, 0.8090},
	    {6, 7, 2, 7, 0.0582, 0.8062},
	    {5, 56, 0, 29, -0.0381, 0.1926},
	    {0, 10, 0, 20, -0.1611, 0.2775},
	    {0, 10, 0, 10, -0.2775, 0.2775},
	    {10, 10, 0, 20, 0.6791, 1.0000},
	    {10, 10, 0, 10, 0.6075, 1.0000},
	    /* contingencytables: Perondi et al. (2004) */
	    {7, 34, 1, 34, 0.0189, 0.3404},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double lo = -9, hi = -9;
		assert_int_equal(confint_newcombe(cases[i].x1, cases[i].n1, cases[i].x2,
						  cases[i].n2, CONFINT_Z95, &lo, &hi),
				 0);
		NEAR(lo, cases[i].lo);
		NEAR(hi, cases[i].hi);
	}
	/* swapping the groups mirrors the interval */
	double lo, hi, lo2, hi2;
	assert_int_equal(confint_newcombe(56, 70, 48, 80, CONFINT_Z95, &lo, &hi), 0);
	assert_int_equal(confint_newcombe(48, 80, 56, 70, CONFINT_Z95, &lo2, &hi2), 0);
	assert_true(fabs(lo + hi2) < 1e-12 && fabs(hi + lo2) < 1e-12);
	/* no interval when a group is empty */
	assert_int_equal(confint_newcombe(1, 10, 0, 0, CONFINT_Z95, &lo, &hi), -1);
	assert_int_equal(confint_newcombe(0, 0, 1, 10, CONFINT_Z95, &lo, &hi), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wilson),
	    cmocka_unit_test(test_wilson_none),
	    cmocka_unit_test(test_newcombe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
