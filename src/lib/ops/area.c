/*
 * area.c — who was in a place at a time (ct_area_query, docs/AREA.md).
 *
 * The question a per-case trace cannot answer: an outbreak investigator
 * names a venue (a disk, or a cell) and a time window, and asks for every
 * phone that was there long enough. The answer is built from SPEC 4's own
 * presences, so it is exact and reproducible like a trace:
 *
 *   present(x) = sum over x's presences P_j whose disk meets the area
 *                (dist(centre_j, centre) <= radius + r_j) of |P_j ∩ [from, to)|
 *
 * and x is listed when present(x) >= min_stay_s (and > 0). The candidate
 * scan is the trace's (scan.h): the catalogue's grid for cells, the tile
 * sections for points, nothing else of the store. Beside the net, each
 * row carries expected_inside_s, the same seconds weighted by the share
 * of the phone's disk that lies inside the area (the geometry of the
 * contact risk, RISK.md section 2, with the area as the other disk and no
 * distance): a 2 km cell that touches a 50 m cafe counts for little.
 *
 * Numbers are masked ("7999***0001") unless `reveal` is asked; the order
 * is that of the whole numbers either way. A query wider than 50 km or
 * longer than 31 days returns a good part of a city: it needs `force`,
 * and the audit log records it as such.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "area.h"
#include "db.h"
#include "error.h"
#include "fixedsum.h"
#include "scan.h"
#include "textparse.h"
#include "u32map.h"

/* One subscriber's presence in the area so far (u32map.h: key first). */
typedef struct presence_sum {
    uint32_t sub;
    uint32_t pad;
    int64_t total, first, last;
    double min_radius;
    ct_fixed_sum expected; /* seconds expected inside, in any order (fixedsum.h) */
} presence_sum;

static void add_presence(void *ud, uint32_t sub, int64_t start, int64_t end, double radius,
                         double inside_p, const ct__where *where)
{
    (void)where;
    int added;
    presence_sum *p = ct__u32map_put(ud, sub, &added);
    if (added) {
        p->first = start;
        p->last = end;
        p->min_radius = radius;
    }
    p->total += end - start;
    ct__fixed_add(&p->expected, (double)(end - start) * inside_p);
    if (start < p->first)
        p->first = start;
    if (end > p->last)
        p->last = end;
    if (radius < p->min_radius)
        p->min_radius = radius;
}

static ct_code check_query(const ct_area *q, const ct_params *p, ct_err *err)
{
    ct_code rc = ct_params_check(p, err);
    if (rc)
        return rc;
    if (q->to <= q->from)
        return ct__fail(err, CT_EINVAL, "the window is empty: --to must be after --from");
    if (q->min_stay_s < 0)
        return ct__fail(err, CT_EINVAL, "the minimum stay must be 0 or more seconds");
    if (!q->force && q->to - q->from > CT_AREA_SPAN_MAX_S)
        return ct__fail(err, CT_EINVAL,
                        "a window longer than 31 days returns much of a city; "
                        "it needs --force (and is audited as such)");
    if (q->op || q->cell_id)
        return q->op && q->cell_id ? CT_OK
                                   : ct__fail(err, CT_EINVAL, "a cell needs its operator and id");
    if (!(q->lat >= -90.0 && q->lat <= 90.0 && q->lon >= -180.0 && q->lon <= 180.0))
        return ct__fail(err, CT_EINVAL, "the centre is not on the globe (lat -90..90, lon -180..180)");
    if (!(q->radius_m > 0.0 && q->radius_m <= 20037508.0))
        return ct__fail(err, CT_EINVAL, "the radius must be above 0 and at most half the globe");
    return CT_OK;
}

/* The disk asked about: the query's, or its cell's. */
static ct_code area_disk(ct_db *db, const ct_area *q, ct__disk_scan *scan, ct_err *err)
{
    if (!q->op) {
        scan->lat = q->lat;
        scan->lon = q->lon;
        scan->radius = q->radius_m;
    } else {
        uint32_t op;
        ct_code rc = ct__catalog_operator(db->cat, q->op, 0, &op, err);
        if (rc == CT_ENOTFOUND)
            return ct__fail(err, CT_ENOTFOUND, "no operator '%s' in the catalogue", q->op);
        if (rc)
            return rc;
        uint32_t loc = ct__catalog_find_cell(db->cat, op, q->cell_id, strlen(q->cell_id));
        const ct_cell *cell = loc == CT_LOC_NONE ? NULL : ct__catalog_cell(db->cat, loc);
        if (!cell)
            return ct__fail(err, CT_ENOTFOUND, "operator %s has no cell '%s'", q->op, q->cell_id);
        scan->lat = cell->lat;
        scan->lon = cell->lon;
        scan->radius = cell->radius;
    }
    if (!q->force && scan->radius > CT_AREA_RADIUS_MAX_M)
        return ct__fail(err, CT_EINVAL,
                        "an area wider than 50 km returns much of a city; "
                        "it needs --force (and is audited as such)");
    return CT_OK;
}

/* present_s descending, then the number as text (the CSV order). */
static int cmp_presence(const void *a, const void *b)
{
    const ct_presence *x = a, *y = b;
    if (x->present_s != y->present_s)
        return x->present_s > y->present_s ? -1 : 1;
    return strcmp(x->msisdn, y->msisdn);
}

static ct_code collect(ct_db *db, const ct_u32map *sums, const ct_area *q, int numbers,
                       ct_presences *out, ct_err *err)
{
    int64_t min_stay = q->min_stay_s;
    out->items = ct__calloc(sums->n + 1, sizeof *out->items);
    for (size_t i = 0; i < sums->cap; i++) {
        const presence_sum *p = ct__u32map_at(sums, i);
        if (p->sub == CT_U32MAP_EMPTY || p->total <= 0 || p->total < min_stay)
            continue;
        ct_presence *r = &out->items[out->n++];
        *r = (ct_presence){.subscriber = p->sub, .present_s = p->total, .first_seen = p->first,
                           .last_seen = p->last, .min_radius_m = p->min_radius,
                           .expected_inside_s = ct__fixed_value(&p->expected)};
        ct_code rc = numbers ? ct__subdict_number(db->subs, p->sub, r->msisdn, err) : CT_OK;
        if (rc)
            return rc;
    }
    if (!numbers) /* by subscriber id: no number to order by */
        return CT_OK;
    qsort(out->items, out->n, sizeof *out->items, cmp_presence);
    for (size_t i = 0; !q->reveal && i < out->n; i++) {
        char masked[24]; /* at most 4 + 3 + 4 characters for a number */
        ct__mask_msisdn(out->items[i].msisdn, strlen(out->items[i].msisdn), masked);
        masked[sizeof out->items[i].msisdn - 1] = '\0';
        memcpy(out->items[i].msisdn, masked, sizeof out->items[i].msisdn);
    }
    return CT_OK;
}

/* The audit record's object: what was asked, without personal data. */
static void describe(const ct_area *q, const ct__disk_scan *scan, char *buf, size_t cap)
{
    char from[21], to[21];
    ct__format_time(q->from, from);
    ct__format_time(q->to, to);
    if (q->op)
        snprintf(buf, cap, "cell %s:%s %s..%s min-stay %lld", q->op, q->cell_id, from, to,
                 (long long)q->min_stay_s);
    else
        snprintf(buf, cap, "%.7f,%.7f r=%.2f m %s..%s min-stay %lld", scan->lat, scan->lon,
                 scan->radius, from, to, (long long)q->min_stay_s);
}

static int over_limits(const ct_area *q, const ct__disk_scan *scan)
{
    return scan->radius > CT_AREA_RADIUS_MAX_M || q->to - q->from > CT_AREA_SPAN_MAX_S;
}

static ct_code area_query(ct_db *db, const ct_area *q, const ct_params *p, int numbers,
                          ct_presences **out, ct_err *err)
{
    ct_params params;
    if (p)
        params = *p;
    else
        ct_params_default(&params);
    *out = NULL;
    ct__disk_scan scan = {.from = q->from, .to = q->to, .max_presence_s = params.max_presence_s,
                          .fn = add_presence};
    ct_code rc = check_query(q, &params, err);
    if (!rc)
        rc = area_disk(db, q, &scan, err);
    if (rc)
        return rc;
    ct_u32map sums;
    ct__u32map_init(&sums, sizeof(presence_sum));
    scan.ud = &sums;
    ct__db_segments_release(db);
    /* readers take no lock: read again when a writer replaced a segment
     * under us (as run_trace does) */
    for (int attempt = 0;; attempt++) {
        int vanished = 0;
        rc = ct__scan_disk(db, &scan, &vanished, err);
        if (!vanished || attempt == 3 || db->writable)
            break;
        ct__u32map_free(&sums);
        ct__u32map_init(&sums, sizeof(presence_sum));
        rc = ct__db_reload(db, err);
        if (rc)
            break;
    }
    ct_presences *res = ct__calloc(1, sizeof *res);
    res->lat = scan.lat;
    res->lon = scan.lon;
    res->radius_m = scan.radius;
    res->candidates = scan.candidates;
    res->overlaps = scan.overlaps;
    if (!rc)
        rc = collect(db, &sums, q, numbers, res, err);
    ct__u32map_free(&sums);
    if (!rc) {
        char object[400], what[48];
        describe(q, &scan, object, sizeof object);
        snprintf(what, sizeof what, "area%s%s%s", over_limits(q, &scan) ? " --force" : "",
                 numbers && q->reveal ? " --reveal" : "", numbers ? "" : " (no numbers)");
        rc = ct__audit(db, what, object, res->n, err);
    }
    if (rc) {
        ct_presences_free(res);
        return rc;
    }
    *out = res;
    return CT_OK;
}

ct_code ct_area_query(ct_db *db, const ct_area *q, const ct_params *p, ct_presences **out,
                      ct_err *err)
{
    return area_query(db, q, p, 1, out, err);
}

ct_code ct__area_presences(ct_db *db, const ct_area *q, const ct_params *p, ct_presences **out,
                           ct_err *err)
{
    return area_query(db, q, p, 0, out, err);
}

void ct_presences_free(ct_presences *ps)
{
    if (!ps)
        return;
    ct__free(ps->items);
    ct__free(ps);
}
