/* policy_quiet.c - quiet hours and quiet days in the contact's own zone.
 *
 * A window "21:00-09:00" is a set of minutes of the local day; when start
 * is after end it wraps over midnight. Quiet days (weekdays, dates) are
 * whole local days. The first allowed instant is found by walking forward
 * in local time: out of a quiet day to the next local midnight, out of a
 * window to its end, converting each local wall-clock target back to an
 * instant with ICU (tz_mktime), so DST changes move the answer with the
 * clocks: a window ending at 09:00 ends at 09:00 local on both sides of a
 * transition, and a target inside a DST gap resolves to the instant after
 * it.
 */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tz.h"
#include "xmalloc.h"

#define WALK_MAX 800 /* steps: more than two years of quiet days */

static int parse_hhmm(const char *s, int *min)
{
	int h, m, n = 0;
	if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2 || n != 5 || h < 0 || h > 24 || m < 0 ||
	    m > 59 || (h == 24 && m != 0))
		return -1;
	*min = h * 60 + m;
	return 0;
}

static const char *const wday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
static const char *const wday_full[] = {"sunday",   "monday", "tuesday", "wednesday",
					"thursday", "friday", "saturday"};

/* parse_window - "HH:MM-HH:MM" */
static int parse_window(const char *hours, struct quiet_window *w, struct err *e)
{
	char a[8], b[8];
	const char *dash = strchr(hours, '-');
	if (!dash || dash - hours != 5 || strlen(dash + 1) != 5)
		return err_set(e, "bad quiet hours \"%s\" (want HH:MM-HH:MM)", hours);
	memcpy(a, hours, 5);
	a[5] = '\0';
	memcpy(b, dash + 1, 5);
	b[5] = '\0';
	if (parse_hhmm(a, &w->start) < 0 || parse_hhmm(b, &w->end) < 0)
		return err_set(e, "bad quiet hours \"%s\" (want HH:MM-HH:MM)", hours);
	if (w->start == w->end || (w->start % 1440) == (w->end % 1440))
		return err_set(e, "quiet hours \"%s\" are empty (start equals end)", hours);
	w->start %= 1440;
	w->end %= 1440;
	return 0;
}

/* minutes - the window as a set of minutes of the day, in m[] */
static void minutes(const struct quiet_window *w, unsigned char *m)
{
	for (int x = w->start; x != w->end; x = (x + 1) % 1440)
		m[x] = 1;
}

int quiet_parse(json_t *hours, json_t *days, struct quiet *q, struct err *e)
{
	memset(q, 0, sizeof(*q));
	if (hours && json_is_string(hours)) {
		if (parse_window(json_string_value(hours), &q->win[0], e) < 0)
			return -1;
		q->nwin = 1;
	} else if (hours && json_is_array(hours)) {
		size_t k;
		json_t *v;
		if (json_array_size(hours) > QUIET_WINDOWS_MAX)
			return err_set(e, "at most %d quiet hours windows", QUIET_WINDOWS_MAX);
		unsigned char seen[1440] = {0};
		json_array_foreach(hours, k, v) {
			if (!json_is_string(v))
				return err_set(e, "quiet_hours[%zu] must be a string HH:MM-HH:MM", k);
			if (parse_window(json_string_value(v), &q->win[k], e) < 0)
				return -1;
			unsigned char m[1440] = {0};
			minutes(&q->win[k], m);
			for (int x = 0; x < 1440; x++) {
				if (m[x] && seen[x])
					return err_set(e, "quiet hours \"%s\" overlap an earlier window",
						       json_string_value(v));
				seen[x] |= m[x];
			}
			q->nwin++;
		}
	} else if (hours && !json_is_null(hours)) {
		return err_set(e, "quiet_hours must be \"HH:MM-HH:MM\" or a list of them");
	}
	if (days && !json_is_array(days))
		return err_set(e, "quiet_days must be a list of weekdays and YYYY-MM-DD dates");
	size_t i;
	json_t *v;
	json_array_foreach(days, i, v) {
		const char *s = json_string_value(v);
		if (!s) {
			quiet_release(q);
			return err_set(e, "quiet_days[%zu] must be a string", i);
		}
		if (strcasecmp(s, "weekends") == 0) {
			q->weekdays |= 1u << 0 | 1u << 6;
			continue;
		}
		int w = -1;
		for (int k = 0; k < 7; k++)
			if (strcasecmp(s, wday_names[k]) == 0 || strcasecmp(s, wday_full[k]) == 0)
				w = k;
		if (w >= 0) {
			q->weekdays |= 1u << w;
			continue;
		}
		struct quiet_date d;
		int n = 0;
		if (sscanf(s, "%4d-%2d-%2d%n", &d.year, &d.month, &d.day, &n) != 3 ||
		    n != (int)strlen(s) || n != 10 || d.month < 1 || d.month > 12 || d.day < 1 ||
		    d.day > 31) {
			quiet_release(q);
			return err_set(e, "quiet_days[%zu]: \"%s\" is neither a weekday nor YYYY-MM-DD",
				       i, s);
		}
		q->dates = xrealloc(q->dates, (q->ndates + 1) * sizeof(*q->dates));
		q->dates[q->ndates++] = d;
	}
	if (q->weekdays == 0x7f) {
		quiet_release(q);
		return err_set(e, "quiet_days leave no day to send on");
	}
	return 0;
}

void quiet_describe(const struct quiet *q, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < q->nwin && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%02d:%02d-%02d:%02d", i ? ", " : "",
				      q->win[i].start / 60, q->win[i].start % 60, q->win[i].end / 60,
				      q->win[i].end % 60);
	for (int d = 0; d < 7 && n < size; d++)
		if (q->weekdays & (1u << d))
			n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", wday_names[d]);
	for (size_t i = 0; i < q->ndates && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%04d-%02d-%02d", n ? ", " : "",
				      q->dates[i].year, q->dates[i].month, q->dates[i].day);
}

void quiet_release(struct quiet *q)
{
	free(q->dates);
	q->dates = NULL;
	q->ndates = 0;
}

static int quiet_day(const struct quiet *q, const struct tz_local *l)
{
	if (q->weekdays & (1u << l->wday))
		return 1;
	for (size_t i = 0; i < q->ndates; i++)
		if (q->dates[i].year == l->year && q->dates[i].month == l->month &&
		    q->dates[i].day == l->day)
			return 1;
	return 0;
}

/* in_window - the window holding minute min, or NULL */
static const struct quiet_window *in_window(const struct quiet *q, int min)
{
	for (size_t i = 0; i < q->nwin; i++) {
		const struct quiet_window *w = &q->win[i];
		if (w->start < w->end ? min >= w->start && min < w->end
				      : min >= w->start || min < w->end)
			return w;
	}
	return NULL;
}

/* local_at - the instant of local date l plus days_ahead days at minute min */
static int local_at(const char *zone, const struct tz_local *l, int days_ahead, int min,
		    int64_t *out)
{
	struct tz_local x = {.year = l->year, .month = l->month, .day = l->day + days_ahead,
			     .hour = min / 60, .minute = min % 60};
	return tz_mktime(zone, &x, out); /* ICU normalises day overflow */
}

int quiet_allowed_at(const struct quiet *q, const char *zone, int64_t t, int64_t *out)
{
	for (int step = 0; step < WALK_MAX; step++) {
		struct tz_local l;
		if (tz_localtime(zone, t, &l) < 0)
			return -1;
		int min = l.hour * 60 + l.minute;
		int64_t next;
		const struct quiet_window *w;
		if (quiet_day(q, &l)) {
			if (local_at(zone, &l, 1, 0, &next) < 0)
				return -1;
		} else if ((w = in_window(q, min))) {
			/* to the window's end: today, or tomorrow when it wraps */
			int ahead = w->start > w->end && min >= w->start ? 1 : 0;
			if (local_at(zone, &l, ahead, w->end, &next) < 0)
				return -1;
		} else {
			*out = t;
			return 0;
		}
		if (next <= t)
			next = t + 60; /* a repeated hour: move on by a minute */
		t = next;
	}
	return -1;
}
