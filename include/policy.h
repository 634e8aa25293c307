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

#include "diag.h"
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

/* ---- the policy set of a config (policy.c) ---- */

struct config;

enum cap_scope { CAP_ALL = -1, CAP_TRANSACTIONAL = 0, CAP_MARKETING = 1 }; /* = send priority */

struct cap_rule {
	const char *name;    /* "marketing", "transactional", "all" */
	enum cap_scope scope;
	int64_t max, per;    /* at most max sends in any `per` seconds; max 0: none */
	int64_t min_gap;     /* seconds between two sends; 0: none */
};

struct rate_rule {
	double per_sec;      /* tokens a second; 0: no limit */
	double burst;        /* bucket size */
	char text[32];       /* as written, for reasons ("50/s") */
};

struct policy;

/* policy_create - the policies of cfg: policies.quiet_hours/quiet_days and
 * the same keys on each campaign and transport (the most specific wins),
 * policies.caps, and each transport's rate, burst and domain_rate. Every
 * problem goes to d as FILE:LINE; NULL when there was any. */
struct policy *policy_create(const struct config *cfg, struct diag *d);
void policy_free(struct policy *p);
/* policy_quiet_for - the quiet rule for campaign ci through transport ti
 * (indexes in the config), NULL when none; *level "transport", "campaign"
 * or "policies" */
const struct quiet *policy_quiet_for(const struct policy *p, size_t ci, size_t ti,
				     const char **level);
/* policy_caps - the caps that apply to a send of this priority (0
 * transactional, 1 marketing): its class's and `all`; returns how many */
size_t policy_caps(const struct policy *p, int priority, const struct cap_rule **out, size_t max);
/* policy_rate - transport ti's rate, NULL when none */
const struct rate_rule *policy_rate(const struct policy *p, size_t ti);
/* policy_domain_rate - the rate for recipient domain dom on transport ti,
 * NULL when none */
const struct rate_rule *policy_domain_rate(const struct policy *p, size_t ti, const char *dom);
/* rate_parse - "50/s", "600/m", "1000/h", "5000/d" (a positive number per
 * unit) into r, burst as given (0: one second's worth, at least 1) */
int rate_parse(const char *s, double burst, struct rate_rule *r, struct err *e);

#endif
