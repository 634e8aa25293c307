/* sendtime.h - send-time choice: when in the contact's own day a step goes
 * out (`send_at` on a step, `send_hour` on a campaign).
 *
 * Pure: callers hand in the contact's zone, the instants of its past opens
 * and clicks and the earliest instant the step may go; nothing here reads
 * the store or the clock. Local times go through tz.h (ICU), so DST moves
 * with the clocks. A local time that a DST change skips resolves to the
 * first instant after the gap; one that happens twice, to the first
 * occurrence still at or after the earliest instant.
 */
#ifndef OUTREACH_SENDTIME_H
#define OUTREACH_SENDTIME_H
#include <stddef.h>
#include <stdint.h>

#define SENDTIME_WINDOW (180 * 86400) /* opens and clicks counted: the last 180 days */
#define SENDTIME_MIN_EVENTS 2	      /* fewer than this: no best hour, the default */
#define SENDTIME_DEFAULT_MINUTE 600   /* `send_hour` when omitted: 10:00 */

/* sendtime_parse_clock - "HH:MM" or "H:MM", 00:00 to 23:59, as the minute
 * of the day (0..1439) in *minute; 0 ok, -1 anything else */
int sendtime_parse_clock(const char *s, int *minute);

/* sendtime_count - add the local hour in zone of each of the n instants in
 * at to hours[0..23]; 0 ok, -1 unknown zone (hours unchanged) */
int sendtime_count(const char *zone, const int64_t *at, size_t n, int hours[24]);

/* sendtime_best_hour - the hour (0..23) with the highest count, ties to the
 * earlier hour; -1 when the counts add up to fewer than SENDTIME_MIN_EVENTS */
int sendtime_best_hour(const int hours[24]);

/* sendtime_at_minute - into *out, the first instant >= from whose local
 * time in zone is minute (of the day, 0..1439): from itself when it is
 * within that minute, else the next HH:MM:00. 0 ok, -1 unknown zone or
 * minute out of range */
int sendtime_at_minute(const char *zone, int64_t from, int minute, int64_t *out);

/* sendtime_in_hour - into *out, the first instant >= from whose local hour
 * in zone is hour (0..23): from itself when it is within that hour, else
 * the next HH:00:00. 0 ok, -1 unknown zone or hour out of range */
int sendtime_in_hour(const char *zone, int64_t from, int hour, int64_t *out);

/* sendtime_best - `send_at: best`: into *out, the first instant >= from in
 * the contact's best hour (sendtime_best_hour of hours), or, with too
 * little history, at default_minute (sendtime_at_minute). 0 ok, -1 unknown
 * zone or default_minute out of range */
int sendtime_best(const int hours[24], int default_minute, const char *zone, int64_t from,
		  int64_t *out);

#endif
