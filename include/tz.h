/* tz.h - IANA time zones through ICU */
#ifndef OUTREACH_TZ_H
#define OUTREACH_TZ_H
#include <stdint.h>

/* tz_valid - 1 when zone is a known IANA system zone (ICU silently falls
 * back to GMT for unknown ones: this checks ucal_getCanonicalTimeZoneID's
 * isSystemID), else 0 */
int tz_valid(const char *zone);

/* Local wall-clock fields of an instant in a zone. */
struct tz_local {
	int year, month, day;   /* month 1-12 */
	int hour, minute, second;
	int wday;               /* 0 = Sunday */
	int utc_offset;         /* seconds east of UTC, DST included */
};

/* tz_localtime - fields of t in zone; 0 ok, -1 unknown zone */
int tz_localtime(const char *zone, int64_t t, struct tz_local *out);
/* tz_mktime - the instant of a local wall-clock time in zone; a time in a
 * DST gap resolves to the instant after the gap, an ambiguous one to the
 * first. 0 ok, -1 unknown zone */
int tz_mktime(const char *zone, const struct tz_local *in, int64_t *out);

#endif
