/*
 * hotspots.c — where the cases met (ct_hotspots_find, docs/AREA.md 3).
 *
 * A per-case trace asks who met this case; an outbreak investigator also
 * asks where cases met each other: possible transmission sites. The
 * answer is built from the cases' own presences only (SPEC 4.2, from
 * their subscriber sections, scan.h), so it reads a few hundred intervals
 * per case, not the store:
 *
 *   for every pair of cases (a, b), every pair of presences (i of a, j of
 *   b) that overlap in time inside both windows and [from, to), and are
 *   co-located (SPEC 4.4, distance D):
 *       near = |P_i ∩ P_j| * P(within D | disk_i, disk_j)   (RISK.md 2)
 *   is added to the more precise of the two places (the smaller disk: a
 *   cell, or the grid square of a GPS fix), split by UTC hour.
 *
 * A row is (place, hour) with at least min_cases distinct cases among its
 * pairs; its score is the sum of near: the expected seconds that case
 * pairs spent within D of each other there. Two cases in a 300 m cell for
 * an hour score 0.16 s, two GPS fixes of 10 m at one table 132 s: small,
 * precise places come first, as they should. For the rows
 * returned, the other subscribers present that hour are counted with the
 * area query's scan (scan.h), kept to the place itself: everyone else at
 * the same cell, or with a fix in the same square, for at least
 * others_min_stay_s.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cases.h"
#include "db.h"
#include "error.h"
#include "geo.h"
#include "proximity.h"
#include "scan.h"
#include "textparse.h"
#include "u32map.h"

#define HOUR 3600
#define M_PER_DEG (6371008.8 * M_PI / 180.0)

void ct_hotspot_query_default(ct_hotspot_query *q)
{
    *q = (ct_hotspot_query){.min_cases = 2, .resolution_m = 50.0, .limit = 20,
                            .others_min_stay_s = 900, .count_others = 1};
}

/* A place: a cell (its loc), or a grid square (row, col). */
typedef struct place_key {
    uint32_t is_cell;
    uint32_t loc;
    int64_t row, col;
} place_key;

/* One pair's near seconds at a place in an hour. */
typedef struct contribution {
    place_key place;
    int64_t hour;
    uint32_t a, b; /* case indices, a < b */
    double near_s;
} contribution;

typedef struct finder {
    ct_db *db;
    const ct_hotspot_query *q;
    ct_params p;
    ct__case_row *cases;
    size_t n_cases;
    ct__case_interval **ivs; /* per case */
    size_t *n_ivs;
    contribution *contrib;
    size_t n_contrib, cap_contrib;
} finder;

/* ---- places ---------------------------------------------------------------------- */

static double square_dlat(double resolution_m)
{
    return resolution_m / M_PER_DEG;
}

static double square_dlon(double resolution_m, double lat_centre)
{
    double c = cos(lat_centre * M_PI / 180.0);
    return square_dlat(resolution_m) / (c > 1e-6 ? c : 1e-6);
}

/* The place of an interval: its cell, or the square holding its point. */
static place_key place_of(const finder *f, const ct__case_interval *iv)
{
    if (iv->loc != CT_LOC_NONE)
        return (place_key){1, iv->loc, 0, 0};
    double dlat = square_dlat(f->q->resolution_m);
    int64_t row = (int64_t)floor(iv->lat / dlat);
    int64_t col = (int64_t)floor(iv->lon / square_dlon(f->q->resolution_m, ((double)row + 0.5) * dlat));
    return (place_key){0, CT_LOC_NONE, row, col};
}

static int cmp_place(const place_key *x, const place_key *y)
{
    if (x->is_cell != y->is_cell)
        return x->is_cell > y->is_cell ? -1 : 1;
    if (x->loc != y->loc)
        return x->loc < y->loc ? -1 : 1;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    return x->col < y->col ? -1 : x->col > y->col;
}

/* ---- pairs of cases ----------------------------------------------------------------- */

static void add_contribution(finder *f, place_key place, int64_t hour, uint32_t a, uint32_t b,
                             double near_s)
{
    CT_GROW(f->contrib, f->n_contrib + 1, f->cap_contrib);
    f->contrib[f->n_contrib++] = (contribution){place, hour, a, b, near_s};
}

/* A cell's position in (operator name, cell_id) bytewise order. */
static uint32_t cell_rank(const finder *f, uint32_t loc)
{
    const ct_cell *c = ct__catalog_cell(f->db->cat, loc);
    return c ? c->rank : UINT32_MAX;
}

/* Two co-located presences of cases a and b over [lo, hi). */
static void meet(finder *f, uint32_t a, uint32_t b, const ct__case_interval *x,
                 const ct__case_interval *y, int64_t lo, int64_t hi, double dist)
{
    double p = ct__near_probability(dist, x->radius, y->radius, f->p.contact_distance_m);
    /* the more precise place; on a tie a cell, then the cell first in
     * (operator, cell_id) order; two fixes: the first case's (by case_id) */
    const ct__case_interval *at = x;
    int x_cell = x->loc != CT_LOC_NONE, y_cell = y->loc != CT_LOC_NONE;
    if (y->radius < x->radius || (y->radius == x->radius && y_cell > x_cell) ||
        (y->radius == x->radius && y_cell && x_cell && cell_rank(f, y->loc) < cell_rank(f, x->loc)))
        at = y;
    place_key place = place_of(f, at);
    for (int64_t h = lo - ((lo % HOUR) + HOUR) % HOUR; h < hi; h += HOUR) {
        int64_t s = (lo > h ? lo : h), e = (hi < h + HOUR ? hi : h + HOUR);
        add_contribution(f, place, h, a, b, (double)(e - s) * p);
    }
}

/* Both cases' intervals are in time order and disjoint: one sweep. */
static void meet_pair(finder *f, uint32_t a, uint32_t b)
{
    const ct__case_interval *x = f->ivs[a], *y = f->ivs[b];
    size_t i = 0, j = 0, nx = f->n_ivs[a], ny = f->n_ivs[b];
    while (i < nx && j < ny) {
        int64_t lo = x[i].start > y[j].start ? x[i].start : y[j].start;
        int64_t hi = x[i].end < y[j].end ? x[i].end : y[j].end;
        if (hi > lo) {
            double dist = ct__distance_m(x[i].lat, x[i].lon, y[j].lat, y[j].lon);
            if (dist <= x[i].radius + y[j].radius + f->p.contact_distance_m)
                meet(f, a, b, &x[i], &y[j], lo, hi, dist);
        }
        if (x[i].end < y[j].end)
            i++;
        else
            j++;
    }
}

/* ---- rows ------------------------------------------------------------------------------ */

static int cmp_contribution(const void *a, const void *b)
{
    const contribution *x = a, *y = b;
    int c = cmp_place(&x->place, &y->place);
    if (c)
        return c;
    return x->hour < y->hour ? -1 : x->hour > y->hour;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* A row being built: its contributions [first, first + n). */
typedef struct row {
    ct_hotspot h;
    place_key place;
    uint32_t *cases; /* case indices, sorted, distinct */
    size_t n;
} row;

static void describe_place(const finder *f, place_key k, ct_hotspot *h)
{
    h->is_cell = (int)k.is_cell;
    if (k.is_cell) {
        const ct_cell *cell = ct__catalog_cell(f->db->cat, k.loc);
        const char *op = cell ? ct__catalog_operator_name(f->db->cat, cell->op) : NULL;
        snprintf(h->place, sizeof h->place, "%s:%s", op ? op : "?",
                 cell && cell->cell_id ? cell->cell_id : "?");
        h->lat = cell ? cell->lat : 0.0;
        h->lon = cell ? cell->lon : 0.0;
        h->radius_m = cell ? cell->radius : 0.0;
        return;
    }
    double dlat = square_dlat(f->q->resolution_m), dlon;
    h->lat = ((double)k.row + 0.5) * dlat;
    dlon = square_dlon(f->q->resolution_m, h->lat);
    h->lon = ((double)k.col + 0.5) * dlon;
    /* the disk through the square's farthest corners (those towards the
     * equator: the square is a little wider there than M), and a cm more,
     * so that the scan for the others present misses none of its fixes */
    double to_pole = ct__distance_m(h->lat, h->lon, h->lat + dlat / 2, h->lon + dlon / 2);
    double to_equator = ct__distance_m(h->lat, h->lon, h->lat - dlat / 2, h->lon + dlon / 2);
    h->radius_m = (to_pole > to_equator ? to_pole : to_equator) + 0.01;
    snprintf(h->place, sizeof h->place, "grid:%.6f/%.6f", h->lat, h->lon);
}

/* Contributions [i, j) share a place and an hour: one row. */
static row make_row(const finder *f, size_t i, size_t j)
{
    row r;
    memset(&r, 0, sizeof r);
    r.cases = ct__malloc(2 * (j - i) * sizeof *r.cases);
    for (size_t k = i; k < j; k++) {
        r.cases[r.n++] = f->contrib[k].a;
        r.cases[r.n++] = f->contrib[k].b;
        r.h.score += f->contrib[k].near_s;
    }
    qsort(r.cases, r.n, sizeof *r.cases, cmp_u32);
    size_t m = 0;
    for (size_t k = 0; k < r.n; k++)
        if (!m || r.cases[m - 1] != r.cases[k])
            r.cases[m++] = r.cases[k];
    r.n = m;
    r.h.hour = f->contrib[i].hour;
    r.h.n_cases = m;
    r.place = f->contrib[i].place;
    describe_place(f, f->contrib[i].place, &r.h);
    return r;
}

static int cmp_row(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->h.score != y->h.score)
        return x->h.score > y->h.score ? -1 : 1;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    int c = strcmp(x->h.place, y->h.place);
    if (c)
        return c;
    return x->h.hour < y->h.hour ? -1 : x->h.hour > y->h.hour;
}

/* ---- others present ---------------------------------------------------------------------- */

typedef struct sub_seconds {
    uint32_t sub, pad;
    int64_t seconds;
} sub_seconds;

/* Presences at one place: the same cell, or a fix in the same square. */
typedef struct at_place {
    const finder *f;
    place_key place;
    ct_u32map seconds;
} at_place;

static void add_seconds(void *ud, uint32_t sub, int64_t start, int64_t end, double radius,
                        double inside_p, const ct__where *where)
{
    (void)inside_p;
    at_place *ap = ud;
    ct__case_interval iv = {.lat = where->lat, .lon = where->lon, .radius = radius,
                            .loc = where->loc};
    place_key k = place_of(ap->f, &iv);
    if (cmp_place(&k, &ap->place) != 0)
        return;
    int added;
    sub_seconds *s = ct__u32map_put(&ap->seconds, sub, &added);
    s->seconds += end - start;
}

/* The other subscribers at the row's place that hour: everyone else whose
 * presences were at the same cell, or had a fix in the same square, for
 * at least others_min_stay_s (the area scan of the place's disk, kept to
 * the place itself). */
static ct_code count_others(finder *f, row *r, int *vanished, ct_err *err)
{
    at_place ap = {f, r->place, {0}};
    ct__u32map_init(&ap.seconds, sizeof(sub_seconds));
    ct_u32map *seconds = &ap.seconds;
    ct__disk_scan scan = {.lat = r->h.lat, .lon = r->h.lon, .radius = r->h.radius_m,
                          .from = r->h.hour, .to = r->h.hour + HOUR,
                          .max_presence_s = f->p.max_presence_s, .fn = add_seconds, .ud = &ap};
    ct_code rc = ct__scan_disk(f->db, &scan, vanished, err);
    r->h.others_present = 0;
    for (size_t i = 0; !rc && i < seconds->cap; i++) {
        const sub_seconds *s = ct__u32map_at(seconds, i);
        if (s->sub == CT_U32MAP_EMPTY || s->seconds < f->q->others_min_stay_s || s->seconds <= 0)
            continue;
        int is_case = 0;
        for (size_t k = 0; k < r->n && !is_case; k++)
            is_case = f->cases[r->cases[k]].sub == s->sub;
        r->h.others_present += !is_case;
    }
    ct__u32map_free(seconds);
    return rc;
}

/* ---- the whole -------------------------------------------------------------------------------- */

static void finder_reset(finder *f)
{
    for (size_t i = 0; f->ivs && i < f->n_cases; i++)
        ct__free(f->ivs[i]);
    ct__free(f->ivs);
    ct__free(f->n_ivs);
    ct__free(f->contrib);
    f->ivs = NULL;
    f->n_ivs = NULL;
    f->contrib = NULL;
    f->n_contrib = f->cap_contrib = 0;
}

/* The cases' presences in their windows and [from, to). */
static ct_code load_presences(finder *f, size_t *in_range, int *vanished, ct_err *err)
{
    f->ivs = ct__calloc(f->n_cases + 1, sizeof *f->ivs);
    f->n_ivs = ct__calloc(f->n_cases + 1, sizeof *f->n_ivs);
    *in_range = 0;
    for (size_t i = 0; i < f->n_cases; i++) {
        const ct__case_row *c = &f->cases[i];
        int64_t w0 = c->onset - f->p.infectious_before_s;
        int64_t w1 = c->has_isolated ? c->isolated : c->onset + f->p.infectious_after_s;
        int64_t lo = w0 > f->q->from ? w0 : f->q->from, hi = w1 < f->q->to ? w1 : f->q->to;
        if (hi <= lo)
            continue;
        (*in_range)++;
        ct_code rc = ct__presences_of(f->db, c->sub, lo, hi, f->p.max_presence_s, &f->ivs[i],
                                      &f->n_ivs[i], vanished, err);
        if (rc)
            return rc;
    }
    return CT_OK;
}

/* Rows with enough cases, ranked, cut to the limit; others counted. */
static ct_code build_rows(finder *f, ct_hotspots *out, int *vanished, ct_err *err)
{
    if (f->n_contrib > 1) /* no case met another: contrib may be NULL, which qsort must not get */
        qsort(f->contrib, f->n_contrib, sizeof *f->contrib, cmp_contribution);
    row *rows = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < f->n_contrib;) {
        size_t j = i + 1;
        while (j < f->n_contrib && cmp_contribution(&f->contrib[i], &f->contrib[j]) == 0)
            j++;
        row r = make_row(f, i, j);
        if (r.n >= f->q->min_cases) {
            CT_GROW(rows, n + 1, cap);
            rows[n++] = r;
        } else {
            ct__free(r.cases);
        }
        i = j;
    }
    if (n > 1)
        qsort(rows, n, sizeof *rows, cmp_row);
    out->n_places = n;
    size_t keep = f->q->limit && f->q->limit < n ? f->q->limit : n;
    out->items = ct__calloc(keep + 1, sizeof *out->items);
    ct_code rc = CT_OK;
    for (size_t i = 0; i < n; i++) {
        if (i < keep && !rc && f->q->count_others)
            rc = count_others(f, &rows[i], vanished, err);
        else if (i < keep)
            rows[i].h.others_present = CT_OTHERS_NOT_COUNTED;
        if (i < keep && !rc) {
            ct_hotspot *h = &out->items[out->n++];
            *h = rows[i].h;
            h->case_ids = ct__calloc(rows[i].n, sizeof *h->case_ids);
            for (size_t k = 0; k < rows[i].n; k++)
                memcpy(h->case_ids[k], f->cases[rows[i].cases[k]].case_id, sizeof h->case_ids[k]);
        }
        ct__free(rows[i].cases);
    }
    ct__free(rows);
    return rc;
}

static ct_code find_once(finder *f, ct_hotspots *out, int *vanished, ct_err *err)
{
    ct_code rc = load_presences(f, &out->cases, vanished, err);
    for (uint32_t a = 0; !rc && a < f->n_cases; a++)
        for (uint32_t b = a + 1; b < f->n_cases; b++)
            if (f->cases[a].sub != f->cases[b].sub) /* one person, two registrations */
                meet_pair(f, a, b);
    if (!rc)
        rc = build_rows(f, out, vanished, err);
    return rc;
}

static ct_code check_query(const ct_hotspot_query *q, const ct_params *p, ct_err *err)
{
    ct_code rc = ct_params_check(p, err);
    if (rc)
        return rc;
    if (q->to <= q->from)
        return ct__fail(err, CT_EINVAL, "the window is empty: --to must be after --from");
    if (q->min_cases < 2)
        return ct__fail(err, CT_EINVAL, "a hotspot needs at least 2 cases");
    if (!(q->resolution_m >= 1.0 && q->resolution_m <= 10000.0))
        return ct__fail(err, CT_EINVAL, "the grid resolution must be 1 to 10000 metres");
    if (q->others_min_stay_s < 0)
        return ct__fail(err, CT_EINVAL, "the others' minimum stay must be 0 or more seconds");
    return CT_OK;
}

ct_code ct_hotspots_find(ct_db *db, const ct_hotspot_query *q, const ct_params *p,
                         ct_hotspots **out, ct_err *err)
{
    finder f;
    memset(&f, 0, sizeof f);
    f.db = db;
    f.q = q;
    if (p)
        f.p = *p;
    else
        ct_params_default(&f.p);
    *out = NULL;
    ct_code rc = check_query(q, &f.p, err);
    if (!rc)
        rc = ct__cases_all(db, &f.cases, &f.n_cases, err);
    if (rc)
        return rc;
    if (q->region) { /* only the cases registered in the region meet each other */
        size_t kept = 0;
        for (size_t i = 0; i < f.n_cases; i++)
            if (!strcmp(f.cases[i].region, q->region))
                f.cases[kept++] = f.cases[i];
        f.n_cases = kept;
    }
    ct_hotspots *res = NULL;
    ct__db_segments_release(db);
    for (int attempt = 0;; attempt++) {
        int vanished = 0;
        ct_hotspots_free(res);
        res = ct__calloc(1, sizeof *res);
        rc = find_once(&f, res, &vanished, err);
        finder_reset(&f);
        if (!vanished || attempt == 3 || db->writable)
            break;
        rc = ct__db_reload(db, err);
        if (rc)
            break;
    }
    ct__free(f.cases);
    if (!rc) {
        char from[21], to[21], what[200];
        ct__format_time(q->from, from);
        ct__format_time(q->to, to);
        snprintf(what, sizeof what, "%s..%s min-cases %u%s%s", from, to, q->min_cases,
                 q->region ? " region " : "", q->region ? q->region : "");
        rc = ct__audit(db, "hotspots", what, res->n, err);
    }
    if (rc) {
        ct_hotspots_free(res);
        return rc;
    }
    *out = res;
    return CT_OK;
}

void ct_hotspots_free(ct_hotspots *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        ct__free(h->items[i].case_ids);
    ct__free(h->items);
    ct__free(h);
}
