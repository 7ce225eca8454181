/*
 * dayruns.c — decoding a day's runs together, and the merged view that
 * readers get for a day of several runs (see dayruns.h).
 *
 * The merged view is built the way a seal builds a day: every event of
 * every run, sorted into SPEC 4.1 order and encoded. So a reader of a day
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

ct_code ct__day_decode(const ct_store *st, const ct_store_day *d, int verify_all, ct_event **ev_out,
                       uint32_t *n_out, ct_point **pts_out, uint32_t *np_out, uint32_t *run_first,
                       ct_err *err)
{
    /* every run opened and checked first: the arrays are sized from the
     * files' own counts (bounded by their sizes), not from the manifest */
    ct_segment seg[CT_DAY_RUNS_MAX];
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
    ct_event *ev = NULL;
    ct_point *pts = NULL;
    size_t n = 0, np = 0;
    if (!rc) {
        ev = ct__calloc((size_t)total + 1, sizeof *ev);
        pts = ct__calloc((size_t)total_pts + 1, sizeof *pts);
    }
    for (uint32_t r = 0; r < d->n_runs && !rc; r++) {
        run_first[r] = (uint32_t)n;
        ct_event *one = NULL;
        ct_point *one_pts = NULL;
        uint32_t n_one = 0, np_one = 0;
        rc = ct__seg_decode(&seg[r], &one, &n_one, &one_pts, &np_one, err);
        if (rc)
            break;
        for (uint32_t i = 0; i < n_one; i++) {
            ev[n + i] = one[i];
            if (one[i].kind)
                ev[n + i].place += (uint32_t)np;
        }
        ct__copy(pts + np, one_pts, (size_t)np_one * sizeof *pts);
        n += n_one;
        np += np_one;
        ct__free(one);
        ct__free(one_pts);
    }
    for (uint32_t r = 0; r < opened && r < d->n_runs; r++)
        ct__seg_close(&seg[r]);
    if (rc) {
        ct__free(ev);
        ct__free(pts);
        return rc;
    }
    run_first[d->n_runs] = (uint32_t)n;
    *ev_out = ev;
    *n_out = (uint32_t)n;
    *pts_out = pts;
    *np_out = (uint32_t)np;
    return CT_OK;
}

ct_code ct__day_merged(const ct_store *st, const ct_store_day *d, int verify_all,
                       const ct_catalog *cat, ct_event **ev, uint32_t *n, ct_point **pts,
                       ct_err *err)
{
    uint32_t np, run_first[CT_DAY_RUNS_MAX + 1];
    ct_code rc = ct__day_decode(st, d, verify_all, ev, n, pts, &np, run_first, err);
    /* the runs hold no event twice (ingest.c drops known ones); the sort
     * removes nothing then, and would if a damaged store did */
    if (!rc)
        *n = ct__seal_sort_unique(*ev, *n, *pts, cat);
    return rc;
}

ct_code ct__day_merge_in_memory(const ct_store *st, const ct_store_day *d, const ct_catalog *cat,
                                ct_segment *seg, ct_err *err)
{
    ct_event *ev;
    ct_point *pts;
    uint32_t n;
    ct_code rc = ct__day_merged(st, d, 0, cat, &ev, &n, &pts, err);
    if (rc)
        return rc;
    rc = ct__seg_in_memory(d->day, ev, n, pts, seg, err);
    ct__free(ev);
    ct__free(pts);
    return rc;
}
