/* sendtime.c - the local hour a contact reads at, and the next instant at
 * a local wall-clock time (sendtime.h).
 *
 * How: the next HH:MM is found by asking tz_mktime for that wall time on
 * the local date of `from`, then the following dates, and taking the first
 * result at or after `from`. ICU resolves a skipped time to the end of the
 * gap and a repeated one to its first occurrence; the second occurrence of
 * a repeated time is tried too (an offset change within the next hours
 * that lands on the same wall time), so "the first instant" holds on the
 * night the clocks fall back. Pure: no store, no clock.
 */
#include "sendtime.h"

#include "tz.h"

int sendtime_parse_clock(const char *s, int *minute)
{
	int h = 0, m, i = 0;
	if (!s)
		return -1;
	if (s[i] < '0' || s[i] > '9')
		return -1;
	h = s[i++] - '0';
	if (s[i] >= '0' && s[i] <= '9')
		h = h * 10 + (s[i++] - '0');
	if (s[i++] != ':')
		return -1;
	if (s[i] < '0' || s[i] > '5' || s[i + 1] < '0' || s[i + 1] > '9' || s[i + 2])
		return -1;
	m = (s[i] - '0') * 10 + (s[i + 1] - '0');
	if (h > 23)
		return -1;
	*minute = h * 60 + m;
	return 0;
}

int sendtime_count(const char *zone, const int64_t *at, size_t n, int hours[24])
{
	struct tz_local l;
	if (tz_localtime(zone, 0, &l) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (tz_localtime(zone, at[i], &l) == 0 && l.hour >= 0 && l.hour < 24)
			hours[l.hour]++;
	return 0;
}

int sendtime_best_hour(const int hours[24])
{
	int best = -1;
	long total = 0;
	for (int h = 0; h < 24; h++) {
		total += hours[h];
		if (hours[h] > 0 && (best < 0 || hours[h] > hours[best]))
			best = h;
	}
	return total >= SENDTIME_MIN_EVENTS ? best : -1;
}

/* same_wall - t's local time in zone is want's date, hour and minute */
static int same_wall(const char *zone, int64_t t, const struct tz_local *want)
{
	struct tz_local l;
	return tz_localtime(zone, t, &l) == 0 && l.year == want->year && l.month == want->month &&
	       l.day == want->day && l.hour == want->hour && l.minute == want->minute;
}

/* next_wall - the first instant >= from at local hour:minute; whole_hour:
 * any instant within that hour will do (from itself when it is in it) */
static int next_wall(const char *zone, int64_t from, int hour, int minute, int whole_hour,
		     int64_t *out)
{
	struct tz_local l;
	if (tz_localtime(zone, from, &l) < 0)
		return -1;
	if (l.hour == hour && (whole_hour || l.minute == minute)) {
		*out = from;
		return 0;
	}
	/* three dates: a zone may skip a whole local day (Samoa, 2011-12-30) */
	for (int d = 0; d < 3; d++) {
		struct tz_local want = {.year = l.year,
					.month = l.month,
					.day = l.day + d,
					.hour = hour,
					.minute = minute};
		int64_t c;
		if (tz_mktime(zone, &want, &c) < 0)
			return -1;
		if (c >= from) {
			*out = c;
			return 0;
		}
		/* the same wall time again, later that night (clocks fell back)? */
		struct tz_local at_c, later;
		if (tz_localtime(zone, c, &at_c) < 0 ||
		    tz_localtime(zone, c + 3 * 3600, &later) < 0)
			return -1;
		int64_t back = (int64_t)at_c.utc_offset - later.utc_offset;
		/* want's day may have carried over: compare with c's own date */
		if (back > 0 && c + back >= from && at_c.hour == hour && at_c.minute == minute &&
		    same_wall(zone, c + back, &at_c)) {
			*out = c + back;
			return 0;
		}
	}
	return -1;
}

int sendtime_at_minute(const char *zone, int64_t from, int minute, int64_t *out)
{
	if (minute < 0 || minute >= 24 * 60)
		return -1;
	return next_wall(zone, from, minute / 60, minute % 60, 0, out);
}

int sendtime_in_hour(const char *zone, int64_t from, int hour, int64_t *out)
{
	if (hour < 0 || hour > 23)
		return -1;
	return next_wall(zone, from, hour, 0, 1, out);
}

int sendtime_best(const int hours[24], int default_minute, const char *zone, int64_t from,
		  int64_t *out)
{
	int h = sendtime_best_hour(hours);
	if (h >= 0)
		return sendtime_in_hour(zone, from, h, out);
	return sendtime_at_minute(zone, from, default_minute, out);
}
