/*
 * query.c — small read-only questions about the store that tracing runs
 * and reports ask: how fresh is a time range, and where was a subscriber.
 *
 * Both read day segments directly (no trace machinery). The version of a
 * range is the generation in the names of its live segment files: every
 * commit that rewrites a day gives its new file the next generation, so
 * the number grows exactly when the day's events change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "error.h"
#include "segment.h"

ct_code ct_data_version(ct_db *db, int64_t from, int64_t to, uint64_t *version, ct_err *err)
{
    (void)err;
    *version = 0;
    int64_t first = ct__day_of(from), last = ct__day_of(to - 1);
    for (uint32_t i = 0; i < db->store.n_days; i++) {
        const ct_store_day *d = &db->store.days[i];
        if (d->day < first || d->day > last)
            continue;
        uint64_t g = ct__store_day_generation(d);
        if (g > *version)
            *version = g;
    }
    return CT_OK;
}

/* Returns 1 when fn asked to stop, -1 when the stream is damaged. */
static int visit_day(ct_db *db, const ct_segment *seg, uint32_t sub, int64_t from, int64_t to,
                     ct_event_fn fn, void *ud)
{
    ct_sub_cursor c;
    ct_event ev;
    ct_point pt;
    int got;
    if (!ct__seg_sub_open(seg, sub, &c))
        return 0;
    while ((got = ct__seg_sub_next(&c, &ev, &pt)) == 1) {
        ct_place_event e;
        memset(&e, 0, sizeof e);
        e.ts = seg->day * CT_DAY_S + ev.tod;
        if (e.ts < from || e.ts >= to)
            continue;
        if (ev.kind) {
            e.is_point = 1;
            e.lat = pt.lat;
            e.lon = pt.lon;
            e.radius_m = pt.acc;
            e.operator_name = ct__catalog_operator_name(db->cat, pt.op);
        } else {
            const ct_cell *cell = ct__catalog_cell(db->cat, ev.place);
            if (!cell)
                continue;
            e.lat = cell->lat;
            e.lon = cell->lon;
            e.radius_m = cell->radius;
            e.region = cell->region;
            e.operator_name = ct__catalog_operator_name(db->cat, cell->op);
        }
        if (fn(ud, &e))
            return 1;
    }
    return got < 0 ? -1 : 0;
}

ct_code ct_subscriber_events(ct_db *db, uint32_t sub, int64_t from, int64_t to, ct_event_fn fn,
                             void *ud, ct_err *err)
{
    int64_t first = ct__day_of(from), last = ct__day_of(to - 1);
    for (uint32_t i = 0; i < db->store.n_days; i++) {
        int64_t day = db->store.days[i].day;
        if (day < first || day > last)
            continue;
        ct_code rc;
        const ct_segment *seg = ct__db_segment(db, day, &rc, err);
        if (!seg)
            return rc ? rc : ct__fail(err, CT_ENOTFOUND, "day %lld vanished", (long long)day);
        int stop = visit_day(db, seg, sub, from, to, fn, ud);
        if (stop < 0)
            return ct__fail(err, CT_ECORRUPT, "the segment of day %lld is damaged; run `celltrace check`",
                            (long long)day);
        if (stop)
            break;
    }
    return CT_OK;
}
