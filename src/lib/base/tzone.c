/*
 * tzone.c — local time through the C library's zone database.
 *
 * TZ is set only when the zone differs from the last one set, so a loop
 * over thousands of events pays for tzset once. An interval is converted
 * with the offset at its start: presence intervals are at most a week and
 * usually an hour, and a zone's offset changes at most twice a year, so
 * the night hours of the rare interval that spans a change are off by at
 * most the change (documented in docs/NOTIFY.md).
 */
#include "tzone.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

long ct__tz_offset(const char *zone, int64_t t)
{
    return local_tm(zone, t).tm_gmtoff;
}

void ct__tz_date(const char *zone, int64_t t, int dotted, char *buf)
{
    struct tm tm = local_tm(zone, t);
    unsigned y = (unsigned)(tm.tm_year + 1900) % 10000u, m = (unsigned)(tm.tm_mon + 1) % 100u,
             d = (unsigned)tm.tm_mday % 100u;
    char tmp[40];
    if (dotted)
        snprintf(tmp, sizeof tmp, "%02u.%02u.%04u", d, m, y);
    else
        snprintf(tmp, sizeof tmp, "%04u-%02u-%02u", y, m, d);
    memcpy(buf, tmp, 10);
    buf[10] = '\0';
}

int ct__tz_minute(const char *zone, int64_t t)
{
    struct tm tm = local_tm(zone, t);
    return tm.tm_hour * 60 + tm.tm_min;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int64_t ct__tz_night_seconds(const char *zone, int64_t from, int64_t to)
{
    if (to <= from)
        return 0;
    long off = ct__tz_offset(zone, from);
    int64_t lf = from + off, lt = to + off, total = 0;
    for (int64_t d = floor_div(lf, 86400); d <= floor_div(lt - 1, 86400); d++) {
        int64_t ns = d * 86400, ne = ns + 6 * 3600;
        int64_t a = lf > ns ? lf : ns, b = lt < ne ? lt : ne;
        if (b > a)
            total += b - a;
    }
    return total;
}
