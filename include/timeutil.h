/* timeutil.h - instants as int64 seconds since the Unix epoch (UTC) */
#ifndef OUTREACH_TIMEUTIL_H
#define OUTREACH_TIMEUTIL_H
#include <stdint.h>
#include <stddef.h>

#define TIME_NEVER INT64_MAX

/* time_parse - RFC 3339 ("2026-03-01T09:30:00+08:00", "...Z", fractional
 * seconds dropped; a space may stand for T). Also accepts a bare date
 * "2026-03-01" as midnight UTC. Returns 0 or -1 on bad input. */
int time_parse(const char *s, int64_t *out);
/* time_format - "2026-03-01T01:30:00Z" into out (at least 32 bytes) */
void time_format(int64_t t, char *out, size_t n);
/* duration_parse - "30s" "15m" "24h" "7d" "2w" (a sum like "1d12h" too) to
 * seconds; "0" and "0h" are 0. Returns 0 or -1. */
int duration_parse(const char *s, int64_t *out);
/* duration_format - shortest exact form: "7d", "36h", "90s" */
void duration_format(int64_t secs, char *out, size_t n);
/* time_now - the wall clock; only the outermost layer calls it */
int64_t time_now(void);
/* time_now_ms - the wall clock in milliseconds (rate limits) */
int64_t time_now_ms(void);

/* time_days_from_civil / time_civil_from_days - a proleptic Gregorian date
 * and its day number (days since 1970-01-01), both ways */
int64_t time_days_from_civil(int64_t y, int m, int d);
void time_civil_from_days(int64_t z, int *y, int *m, int *d);

#endif
