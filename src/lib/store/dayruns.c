/*
 * dayruns.c — decoding a day's runs together, and the merged view that
 * readers get for a day of several runs (see dayruns.h).
 *
 * The merged view is built the way a seal builds a day: every event of
 * every run, in SPEC 4.1 order (the runs merged subscriber by
 * subscriber), encoded. So a reader of a day
 * with runs gets exactly the segment a one-shot ingest of the same
 * deliveries would have written, and nothing above the store needs to
 * know that runs exist. Its cost (a decode and an encode of the day, in
 * memory) is paid once per process and day version (db.c keeps it), and
 * only until the next merge (ingest.c) makes the day one file again.
 */
#include "dayruns.h"

#include <string.h>

#include "alloc.h"
#include "error.h"
#include "seal.h"

/* Every run of d opened (and with verify_all, checked whole) into seg,
 * and the arrays that take their events and points (*ev, *pts, new),
 * sized from the files' own counts (bounded by their sizes), not from the
 * manifest. On failure none is left open and nothing is allocated. */
static ct_code open_runs(const ct_store *st, const ct_store_day *d, int verify_all, ct_segment *seg,
                         ct_event **ev, ct_point **pts, ct_err *err)
{
    uint32_t opened = 0;
    uint64_t total = 0, total_pts = 0;
    ct_code rc = CT_OK;
    for (; opened < d->n_runs && !rc; opened++) {
        char *path = ct__store_path(st, d->run[opened].file);
        rc = ct__seg_open(path, verify_all, &seg[opened], err);
        ct__free(path);
        if (rc)
            break;
        if (seg[opened].day != d->day || seg[opened].n_events != d->run[opened].events)
            rc = ct__fail(err, CT_ECORRUPT, "%s does not match its manifest entry (day or events)",
                          d->run[opened].file);
        total += seg[opened].n_events;
        total_pts += seg[opened].n_points;
    }
    if (!rc && total >= UINT32_MAX)
        rc = ct__fail(err, CT_ECORRUPT, "day %lld: its runs hold too many events", (long long)d->day);
    if (rc) {
        for (uint32_t r = 0; r < opened; r++)
            ct__seg_close(&seg[r]);
        return rc;
    }
    *ev = ct__calloc((size_t)total + 1, sizeof **ev);
    *pts = ct__calloc((size_t)total_pts + 1, sizeof **pts);
    return CT_OK;
}

/* The runs merged subscriber by subscriber: each run lists its
 * subscribers in id order (S0), so the day's order is each subscriber's
 * events from every run that has them, merged (ct__seal_merge_unique).
 * No sort of the day and no second array of its size: the peak of a
 * compaction is the day's events once (issue 15, part 5). */
ct_code ct__day_merged(const ct_store *st, const ct_store_day *d, int verify_all,
                       const ct_catalog *cat, ct_event **ev_out, uint32_t *n_out, ct_point **pts_out,
                       uint32_t *np_out, ct_err *err)
{
    ct_segment seg[CT_DAY_RUNS_MAX];
    ct_event *ev, *scratch = NULL;
    ct_point *pts;
    ct_code rc = open_runs(st, d, verify_all, seg, &ev, &pts, err);
    if (rc)
        return rc;
    uint32_t next[CT_DAY_RUNS_MAX] = {0}, left[CT_DAY_RUNS_MAX], left_pts[CT_DAY_RUNS_MAX];
    uint32_t n = 0, np = 0, part_end[CT_DAY_RUNS_MAX];
    size_t scratch_cap = 0;
    for (uint32_t r = 0; r < d->n_runs; r++) {
        left[r] = seg[r].n_events;
        left_pts[r] = seg[r].n_points;
    }
    for (;;) {
        uint32_t sub = UINT32_MAX, parts = 0, first = n;
        for (uint32_t r = 0; r < d->n_runs; r++)
            if (next[r] < seg[r].n_subs && seg[r].subdir[next[r]].sub < sub)
                sub = seg[r].subdir[next[r]].sub;
        if (sub == UINT32_MAX)
            break;
        for (uint32_t r = 0; r < d->n_runs && !rc; r++) {
            if (next[r] >= seg[r].n_subs || seg[r].subdir[next[r]].sub != sub)
                continue;
            uint32_t got = 0, got_pts = 0;
            if (ct__seg_decode_sub(&seg[r], next[r]++, ev + n, left[r], pts + np, left_pts[r], np,
                                   &got, &got_pts))
                rc = ct__fail(err, CT_ECORRUPT, "%s: its subscriber section is damaged",
                              d->run[r].file);
            n += got;
            np += got_pts;
            left[r] -= got;
            left_pts[r] -= got_pts;
            part_end[parts++] = n - first;
        }
        if (rc)
            break;
        if (parts > 1 && n - first > scratch_cap) {
            ct__free(scratch);
            scratch_cap = (size_t)(n - first) * 2;
            scratch = ct__calloc(scratch_cap, sizeof *scratch);
        }
        /* one part too: its order is checked (a reader's view is made
         * without the full checksum check) */
        uint32_t kept = ct__seal_merge_unique(ev + first, part_end, parts, pts, cat, scratch);
        if (kept == UINT32_MAX) {
            rc = ct__fail(err, CT_ECORRUPT, "day %lld: subscriber %u's events in a run are out of order",
                          (long long)d->day, sub);
            break;
        }
        n = first + kept;
    }
    for (uint32_t r = 0; r < d->n_runs; r++) {
        if (!rc && (left[r] || left_pts[r]))
            rc = ct__fail(err, CT_ECORRUPT, "%s: its subscriber section is damaged", d->run[r].file);
        ct__seg_close(&seg[r]);
    }
    ct__free(scratch);
    if (rc) {
        ct__free(ev);
        ct__free(pts);
        return rc;
    }
    *ev_out = ev;
    *n_out = n;
    *pts_out = pts;
    if (np_out)
        *np_out = np;
    return CT_OK;
}

ct_code ct__day_merge_in_memory(const ct_store *st, const ct_store_day *d, const ct_catalog *cat,
                                ct_segment *seg, ct_err *err)
{
    ct_event *ev;
    ct_point *pts;
    uint32_t n;
    ct_code rc = ct__day_merged(st, d, 0, cat, &ev, &n, &pts, NULL, err);
    if (rc)
        return rc;
    rc = ct__seg_in_memory(d->day, ev, n, pts, seg, err); /* frees ev */
    ct__free(pts);
    return rc;
}
