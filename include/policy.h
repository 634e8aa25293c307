/* policy.h - the rules that keep outreach from over-contacting anyone.
 *
 * Each rule answers for a send at instant `now`: allowed, or allowed from a
 * later instant (deferred), with a one-line reason. Time is passed in;
 * nothing here reads the clock or the store.
 */
#ifndef OUTREACH_POLICY_H
#define OUTREACH_POLICY_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* ---- quiet hours (policy_quiet.c) ---- */

struct quiet_date {
	int year, month, day;
};

#define QUIET_WINDOWS_MAX 8

struct quiet_window {
	int start, end; /* minutes after local midnight; start > end wraps midnight */
};

struct quiet {
	struct quiet_window win[QUIET_WINDOWS_MAX];
	size_t nwin;
	unsigned weekdays;    /* bit w set (0 = Sunday): the whole local day is quiet */
	struct quiet_date *dates; /* whole local days that are quiet */
	size_t ndates;
};

/* quiet_parse - hours: "HH:MM-HH:MM" or a list of them (a window may
 * cross midnight; windows may not overlap; NULL: none) and days: a list of
 * weekday names (mon..sun, monday..sunday, or "weekends") and dates
 * YYYY-MM-DD (NULL: none). e names the bad value. */
int quiet_parse(json_t *hours, json_t *days, struct quiet *q, struct err *e);
/* quiet_describe - "21:00-09:00, weekends" for reasons, into buf */
void quiet_describe(const struct quiet *q, char *buf, size_t size);
void quiet_release(struct quiet *q);
/* quiet_allowed_at - the first instant >= t that is outside q in zone:
 * t itself when t is allowed, else the first minute after the window or
 * the quiet day (DST gaps and repeated hours as ICU resolves them). 0, or
 * -1 for an unknown zone or a rule that never allows anything. */
int quiet_allowed_at(const struct quiet *q, const char *zone, int64_t t, int64_t *out);

#endif
