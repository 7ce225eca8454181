/*
 * tzone.h — local time in a named zone (internal).
 *
 * Night hours, quiet hours and the dates printed in messages are local
 * (configuration `timezone`, default Europe/Moscow). These use the C
 * library's zone database through TZ, which is process-wide state: a
 * mutex makes one conversion at a time, so they may be called from any
 * thread; nothing else in the process may set TZ.
 */
#ifndef CT_TZONE_H
#define CT_TZONE_H

#include <stdint.h>

/* Seconds east of UTC in `zone` at instant t. */
long ct__tz_offset(const char *zone, int64_t t);

/* The local date of t: "DD.MM.YYYY" (dotted) or "YYYY-MM-DD"; buf >= 11. */
void ct__tz_date(const char *zone, int64_t t, int dotted, char *buf);

/* Minutes after local midnight at t (0..1439). */
int ct__tz_minute(const char *zone, int64_t t);

/* How many seconds of [from, to) fall in local night hours 00:00-06:00. */
int64_t ct__tz_night_seconds(const char *zone, int64_t from, int64_t to);

/* The same with the zone's offset at `from` (ct__tz_offset) given: for a
 * caller that walks many intervals through the same days. */
int64_t ct__tz_night_seconds_at(long offset, int64_t from, int64_t to);

#endif
