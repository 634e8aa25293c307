/* confint.c - Wilson score intervals and Newcombe's interval for a
 * difference of proportions (confint.h).
 *
 * Wilson: the p whose score statistic |p^ - p| / sqrt(p(1-p)/n) equals z,
 * in closed form centre (p^ + z^2/2n) / (1 + z^2/n) plus or minus
 * z / (1 + z^2/n) * sqrt(p^(1-p^)/n + z^2/4n^2).
 * Newcombe (method 10): with (l1, u1), (l2, u2) the Wilson intervals,
 * d = p1 - p2 runs from d - sqrt((p1-l1)^2 + (u2-p2)^2) to
 * d + sqrt((u1-p1)^2 + (p2-l2)^2).
 * Pure arithmetic on counts: no allocation, no state.
 */
#include "confint.h"

#include <math.h>

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

int confint_wilson(int64_t x, int64_t n, double z, double *lo, double *hi)
{
	if (n <= 0 || x < 0 || x > n)
		return -1;
	double nn = (double)n, p = (double)x / nn, z2 = z * z;
	double d = 1 + z2 / nn;
	double centre = (p + z2 / (2 * nn)) / d;
	double half = z / d * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
	/* exact at the ends: 0/n starts at 0, n/n ends at 1 (no rounding) */
	*lo = x == 0 ? 0 : clamp(centre - half, 0, 1);
	*hi = x == n ? 1 : clamp(centre + half, 0, 1);
	return 0;
}

int confint_newcombe(int64_t x1, int64_t n1, int64_t x2, int64_t n2, double z, double *lo,
		     double *hi)
{
	double l1, u1, l2, u2;
	if (confint_wilson(x1, n1, z, &l1, &u1) < 0 || confint_wilson(x2, n2, z, &l2, &u2) < 0)
		return -1;
	double p1 = (double)x1 / (double)n1, p2 = (double)x2 / (double)n2, d = p1 - p2;
	*lo = clamp(d - sqrt((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2)), -1, 1);
	*hi = clamp(d + sqrt((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2)), -1, 1);
	return 0;
}
