/* tz.c - IANA time zones through ICU's C calendar API
 *
 * A zone name is valid only when ucal_getCanonicalTimeZoneID calls it a
 * system ID: ucal_open itself quietly falls back to GMT for names it does not
 * know, and custom IDs like "GMT+08:00" are not IANA zones. Calendars are
 * proleptic Gregorian (like timegm) with the wall-time rules of tz.h: a
 * skipped local time resolves to the first valid one after the gap, a
 * repeated one to its first occurrence.
 *
 * Opened calendars are kept in a small round-robin cache keyed by zone name,
 * since this runs once per contact. The cache is static and unlocked: NOT
 * thread-safe; threads must not share it (each worker process is single-threaded).
 */
#include "tz.h"

#include <math.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define TZ_NAME_MAX 64 /* longest IANA name is ~32 bytes */
#define TZ_CACHE 16

struct tz_slot {
	char name[TZ_NAME_MAX + 1];
	UCalendar *cal;
};

static struct tz_slot tz_cache[TZ_CACHE];
static unsigned tz_next; /* round-robin victim */

/* to_uchar - zone name as UTF-16; -1 when empty, too long or not ASCII */
static int to_uchar(const char *zone, UChar *out, int32_t cap, int32_t *len)
{
	size_t n = zone ? strlen(zone) : 0;
	if (n == 0 || n > TZ_NAME_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)zone[i];
		if (c <= 0x20 || c >= 0x7f)
			return -1;
	}
	UErrorCode st = U_ZERO_ERROR;
	u_strFromUTF8(out, cap, len, zone, (int32_t)n, &st);
	return U_FAILURE(st) ? -1 : 0;
}

static int is_system_zone(const UChar *id, int32_t len)
{
	UChar canon[TZ_NAME_MAX * 2];
	UBool sys = 0;
	UErrorCode st = U_ZERO_ERROR;
	ucal_getCanonicalTimeZoneID(id, len, canon, (int32_t)(sizeof(canon) / sizeof(canon[0])),
				    &sys, &st);
	return U_SUCCESS(st) && sys;
}

/* tz_calendar - the cached calendar for zone, opening it on a miss; NULL
 * when the zone is unknown. Borrowed: valid until TZ_CACHE other zones. */
static UCalendar *tz_calendar(const char *zone)
{
	UChar id[TZ_NAME_MAX + 1];
	int32_t len = 0;

	if (to_uchar(zone, id, TZ_NAME_MAX + 1, &len) < 0)
		return NULL;
	for (int i = 0; i < TZ_CACHE; i++)
		if (tz_cache[i].cal && strcmp(tz_cache[i].name, zone) == 0)
			return tz_cache[i].cal;
	if (!is_system_zone(id, len))
		return NULL;

	UErrorCode st = U_ZERO_ERROR;
	UCalendar *cal = ucal_open(id, len, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st) || !cal)
		return NULL;
	/* pure Gregorian, as timegm(), instead of Julian before 1582 */
	ucal_setGregorianChange(cal, -INFINITY, &st);
	st = U_ZERO_ERROR;
	ucal_setAttribute(cal, UCAL_LENIENT, 1);
	ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
	ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);

	struct tz_slot *s = &tz_cache[tz_next];
	tz_next = (tz_next + 1) % TZ_CACHE;
	if (s->cal)
		ucal_close(s->cal);
	s->cal = cal;
	memcpy(s->name, zone, strlen(zone) + 1);
	return cal;
}

int tz_valid(const char *zone)
{
	return tz_calendar(zone) != NULL;
}

int tz_localtime(const char *zone, int64_t t, struct tz_local *out)
{
	UCalendar *cal = tz_calendar(zone);
	UErrorCode st = U_ZERO_ERROR;

	if (!cal)
		return -1;
	ucal_setMillis(cal, (UDate)t * 1000.0, &st);
	out->year = ucal_get(cal, UCAL_EXTENDED_YEAR, &st);
	out->month = ucal_get(cal, UCAL_MONTH, &st) + 1;
	out->day = ucal_get(cal, UCAL_DATE, &st);
	out->hour = ucal_get(cal, UCAL_HOUR_OF_DAY, &st);
	out->minute = ucal_get(cal, UCAL_MINUTE, &st);
	out->second = ucal_get(cal, UCAL_SECOND, &st);
	out->wday = ucal_get(cal, UCAL_DAY_OF_WEEK, &st) - UCAL_SUNDAY;
	out->utc_offset =
	    (ucal_get(cal, UCAL_ZONE_OFFSET, &st) + ucal_get(cal, UCAL_DST_OFFSET, &st)) / 1000;
	return U_FAILURE(st) ? -1 : 0;
}

int tz_mktime(const char *zone, const struct tz_local *in, int64_t *out)
{
	UCalendar *cal = tz_calendar(zone);
	UErrorCode st = U_ZERO_ERROR;

	if (!cal)
		return -1;
	/* clear first: the cached calendar still holds the last call's fields,
	 * milliseconds included. Out-of-range fields carry over, as in mktime. */
	ucal_clear(cal);
	ucal_set(cal, UCAL_EXTENDED_YEAR, in->year);
	ucal_set(cal, UCAL_MONTH, in->month - 1);
	ucal_set(cal, UCAL_DATE, in->day);
	ucal_set(cal, UCAL_HOUR_OF_DAY, in->hour);
	ucal_set(cal, UCAL_MINUTE, in->minute);
	ucal_set(cal, UCAL_SECOND, in->second);
	UDate ms = ucal_getMillis(cal, &st);
	if (U_FAILURE(st))
		return -1;
	*out = (int64_t)floor(ms / 1000.0);
	return 0;
}
