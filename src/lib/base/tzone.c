/*
 * tzone.c — local time through the C library's zone database.
 *
 * TZ is set only when the zone differs from the last one set, so a loop
 * over thousands of events pays for tzset once. An interval is converted
 * with the offset at its start: presence intervals are at most a week and
 * usually an hour, and a zone's offset changes at most twice a year, so
 * the night hours of the rare interval that spans a change are off by at
 * most the change (documented in docs/NOTIFY.md). Offsets are remembered
 * per thread for a UTC day without a change (ct__tz_offset).
 */
#include "tzone.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "textparse.h"

static char current_zone[80];
/* TZ is process-wide: one conversion at a time (trace --jobs scores on
 * several threads, each asking for its case's offset once). */
static pthread_mutex_t zone_lock = PTHREAD_MUTEX_INITIALIZER;

static void use_zone(const char *zone)
{
    if (strcmp(current_zone, zone) == 0)
        return;
    char tz[84];
    snprintf(tz, sizeof tz, ":%s", zone);
    setenv("TZ", tz, 1);
    tzset();
    snprintf(current_zone, sizeof current_zone, "%s", zone);
}

static struct tm local_tm(const char *zone, int64_t t)
{
    pthread_mutex_lock(&zone_lock);
    use_zone(zone);
    time_t tt = (time_t)t;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    localtime_r(&tt, &tm);
    pthread_mutex_unlock(&zone_lock);
    return tm;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The offset is asked for again and again within one UTC day (the events
 * of a subscriber's day, night hours for each of them), and the C
 * library's conversion takes a process-wide lock and checks TZ each
 * time. Each thread keeps recent days whose offset was the same at their
 * first and their last second: no zone changes its offset twice within a
 * day and back (none of the 598 zones of tzdata does, 1800-2040). Dates
 * and minutes are t + that offset, which for the `right/` zones (leap
 * seconds counted) differs from localtime_r by the leap seconds. */
typedef struct day_offset {
    char zone[80];
    int64_t day;
    long offset;
    int valid;
} day_offset;

/* 64 days, by day number: a message names two (its last contact and
 * its quarantine end), which then do not evict each other, and a run's
 * home regions walk every subscriber through the same weeks of data, so
 * each of those days is converted once per thread, not once per
 * subscriber (three localtime_r under one lock each time, a tenth of a
 * run at 100k with four days) */
#define KNOWN_DAYS 64
static _Thread_local day_offset known_days[KNOWN_DAYS];

long ct__tz_offset(const char *zone, int64_t t)
{
    int64_t day = floor_div(t, 86400);
    day_offset *k = &known_days[(uint64_t)day % KNOWN_DAYS];
    if (k->valid && k->day == day && strcmp(k->zone, zone) == 0)
        return k->offset;
    long offset = local_tm(zone, t).tm_gmtoff;
    if (strlen(zone) < sizeof k->zone && local_tm(zone, day * 86400).tm_gmtoff == offset &&
        local_tm(zone, day * 86400 + 86399).tm_gmtoff == offset) {
        snprintf(k->zone, sizeof k->zone, "%s", zone);
        k->day = day;
        k->offset = offset;
        k->valid = 1;
    }
    return offset;
}

/* Local time is t + the zone's offset at t (tm_gmtoff), so the date and
 * the minute follow from the remembered offset without another
 * conversion: a run dates two of them per message. */
void ct__tz_date(const char *zone, int64_t t, int dotted, char *buf)
{
    int64_t local = t + ct__tz_offset(zone, t), yy;
    unsigned m, d;
    ct__civil_from_days(floor_div(local, 86400), &yy, &m, &d);
    unsigned y = (unsigned)(((yy % 10000) + 10000) % 10000);
    char tmp[40];
    if (dotted)
        snprintf(tmp, sizeof tmp, "%02u.%02u.%04u", d % 100u, m % 100u, y);
    else
        snprintf(tmp, sizeof tmp, "%04u-%02u-%02u", y, m % 100u, d % 100u);
    memcpy(buf, tmp, 10);
    buf[10] = '\0';
}

int ct__tz_minute(const char *zone, int64_t t)
{
    int64_t local = t + ct__tz_offset(zone, t);
    return (int)((local - floor_div(local, 86400) * 86400) / 60);
}

int64_t ct__tz_night_seconds(const char *zone, int64_t from, int64_t to)
{
    if (to <= from)
        return 0;
    return ct__tz_night_seconds_at(ct__tz_offset(zone, from), from, to);
}

int64_t ct__tz_night_seconds_at(long off, int64_t from, int64_t to)
{
    if (to <= from)
        return 0;
    int64_t lf = from + off, lt = to + off, total = 0;
    for (int64_t d = floor_div(lf, 86400); d <= floor_div(lt - 1, 86400); d++) {
        int64_t ns = d * 86400, ne = ns + 6 * 3600;
        int64_t a = lf > ns ? lf : ns, b = lt < ne ? lt : ne;
        if (b > a)
            total += b - a;
    }
    return total;
}
