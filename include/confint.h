/* confint.h - 95% confidence intervals for goal rates and their
 * differences, as `report` shows them for experiments.
 *
 * Wilson's score interval for one proportion (Wilson 1927), and Newcombe's
 * hybrid score interval for the difference of two independent proportions
 * built from the two Wilson intervals (Newcombe 1998, method 10). Both
 * behave at small counts and at rates near 0 or 1, where the textbook
 * normal (Wald) interval collapses to a point or leaves [0, 1].
 */
#ifndef OUTREACH_CONFINT_H
#define OUTREACH_CONFINT_H
#include <stdint.h>

/* z for a two-sided 95% interval: the 0.975 quantile of the normal */
#define CONFINT_Z95 1.959963984540054

/* confint_wilson - the Wilson score interval of x successes in n trials
 * at z (CONFINT_Z95 for 95%) into [*lo, *hi], inside [0, 1]; 0 ok, -1
 * when there is none (n <= 0, x < 0 or x > n: *lo and *hi untouched) */
int confint_wilson(int64_t x, int64_t n, double z, double *lo, double *hi);

/* confint_newcombe - the interval of p1 - p2 (p1 = x1/n1, p2 = x2/n2)
 * by Newcombe's hybrid score method from the Wilson intervals at z into
 * [*lo, *hi], inside [-1, 1]; 0 ok, -1 when either proportion has no
 * interval */
int confint_newcombe(int64_t x1, int64_t n1, int64_t x2, int64_t n2, double z, double *lo,
		     double *hi);

#endif
