/*
 * sim_venues.c — the simulator's venues and who was inside them: the
 * truth an area query (docs/AREA.md) is measured against.
 *
 * venues.csv lists every venue (offices, classes, shops, cafes) with a
 * disk that holds its whole floor: the people of sim_sched.c stand at
 * (anchor + local position), and each type's local positions stay in a
 * known rectangle, so the disk is that rectangle's circumscribed circle.
 * visits.csv lists every cafe visit: who, from when to when. Both are
 * true positions, never the operators' feeds.
 *
 * ct_sim_busiest_evening reads them back and finds the cafe and evening
 * (18:00 to 24:00 UTC, the simulator's clock) with the most visitors who
 * stayed at least min_stay: the place of an Itaewon-style query, with the
 * numbers truly inside to score its answer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "celltrace_sim.h"
#include "csv.h"
#include "error.h"
#include "sim_venues.h"
#include "textparse.h"

#define DAY 86400
#define EVENING_FROM (18 * 3600)

/* Each venue type's floor in local metres [0, w] x [0, h] (sim_sched.c's
 * *_spot functions stay inside it). */
static const struct floor {
    const char *name;
    double w, h;
} FLOORS[] = {
    [SIM_V_OFFICE] = {"office", 40.0, 30.0},
    [SIM_V_CLASS] = {"class", 40.0, 10.0},
    [SIM_V_SHOP] = {"shop", 30.0, 20.0},
    [SIM_V_CAFE] = {"cafe", 13.0, 13.0},
};

ct_code ct__sim_venues_write(const sim_world *w, const char *path, ct_err *err)
{
    sim_out *o;
    ct_code rc = ct__sim_out_open(path, CT_SIM_COMPRESS_NONE, &o, err);
    if (rc)
        return rc;
    ct__sim_out_puts(o, "venue_id,type,lat,lon,radius_m,district\n");
    for (size_t v = 0; v < w->nvenues; v++) {
        const sim_venue *ve = &w->venues[v];
        const struct floor *f = &FLOORS[ve->type];
        sim_xy centre = {ve->pos.x + f->w / 2, ve->pos.y + f->h / 2};
        double lat, lon;
        ct__sim_world_latlon(w, centre, &lat, &lon);
        char *b = ct__sim_out_reserve(o, 160);
        int n = snprintf(b, 160, "V%zu,%s,%.7f,%.7f,%.1f,%u\n", v, f->name, lat, lon,
                         ceil(hypot(f->w, f->h) / 2 * 10) / 10, ve->district);
        ct__sim_out_commit(o, (size_t)n);
    }
    return ct__sim_out_close(o, NULL, err);
}

/* One GeoJSON position, [lon, lat], of plane point q. */
static void put_position(sim_out *o, const sim_world *w, sim_xy q)
{
    double lat, lon;
    ct__sim_world_latlon(w, q, &lat, &lon);
    char *b = ct__sim_out_reserve(o, 64);
    ct__sim_out_commit(o, (size_t)snprintf(b, 64, "[%.6f,%.6f]", lon, lat));
}

ct_code ct__sim_geography_write(const sim_world *w, const char *path, ct_err *err)
{
    sim_out *o;
    ct_code rc = ct__sim_out_open(path, CT_SIM_COMPRESS_NONE, &o, err);
    if (rc)
        return rc;
    ct__sim_out_puts(o, "{\"type\":\"FeatureCollection\",\"features\":[\n");
    int first = 1;
    /* districts: the squares that hold at least one household or venue */
    for (int iy = 0; iy < w->dgrid; iy++)
        for (int ix = 0; ix < w->dgrid; ix++) {
            const sim_district *d = &w->districts[iy * w->dgrid + ix];
            if (!d->nhh && !d->nshop && !d->ncafe)
                continue;
            double x0 = ix * SIM_DISTRICT_M - w->r_out, y0 = iy * SIM_DISTRICT_M - w->r_out;
            sim_xy ring[5] = {{x0, y0}, {x0 + SIM_DISTRICT_M, y0},
                              {x0 + SIM_DISTRICT_M, y0 + SIM_DISTRICT_M},
                              {x0, y0 + SIM_DISTRICT_M}, {x0, y0}};
            char head[160];
            snprintf(head, sizeof head,
                     "%s{\"type\":\"Feature\",\"properties\":{\"kind\":\"district\","
                     "\"name\":\"%d\",\"households\":%u},\"geometry\":{\"type\":\"Polygon\","
                     "\"coordinates\":[[",
                     first ? "" : ",\n", iy * w->dgrid + ix, d->nhh);
            ct__sim_out_puts(o, head);
            for (int k = 0; k < 5; k++) {
                if (k)
                    ct__sim_out_puts(o, ",");
                put_position(o, w, ring[k]);
            }
            ct__sim_out_puts(o, "]]}}");
            first = 0;
        }
    /* metro: four lines through the centre, a station every SIM_STATION_M */
    for (int l = 0; l < 4; l++) {
        char head[200];
        snprintf(head, sizeof head,
                 "%s{\"type\":\"Feature\",\"properties\":{\"kind\":\"metro\",\"name\":"
                 "\"%d\"},\"geometry\":{\"type\":\"LineString\",\"coordinates\":[",
                 first ? "" : ",\n", l + 1);
        ct__sim_out_puts(o, head);
        put_position(o, w, ct__sim_world_line_point(w, l, -w->line_half));
        ct__sim_out_puts(o, ",");
        put_position(o, w, ct__sim_world_line_point(w, l, w->line_half));
        ct__sim_out_puts(o, "]}}");
        first = 0;
        for (int32_t s = -w->line_half; s <= w->line_half; s += SIM_STATION_M) {
            if (l && s == 0)
                continue; /* the centre is one station of all four lines */
            snprintf(head, sizeof head,
                     ",\n{\"type\":\"Feature\",\"properties\":{\"kind\":\"station\","
                     "\"line\":\"%d\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":",
                     l + 1);
            ct__sim_out_puts(o, head);
            put_position(o, w, ct__sim_world_line_point(w, l, s));
            ct__sim_out_puts(o, "}}");
        }
    }
    ct__sim_out_puts(o, "\n]}\n");
    return ct__sim_out_close(o, NULL, err);
}

void ct__sim_visits_header(sim_out *o)
{
    ct__sim_out_puts(o, "venue_id,msisdn,start,end\n");
}

void ct__sim_visits_day(sim_out *o, const sim_world *w, const sim_seg *segs, const size_t *off)
{
    for (uint64_t i = 0; i < w->n; i++)
        for (size_t k = off[i]; k < off[i + 1]; k++) {
            const sim_seg *s = &segs[k];
            if (s->kind != SIM_SEG_VENUE || w->venues[s->place].type != SIM_V_CAFE)
                continue;
            char t0[21], t1[21], *b = ct__sim_out_reserve(o, 128);
            ct__format_time(s->t0, t0);
            ct__format_time(s->t1, t1);
            int n = snprintf(b, 128, "V%u,+%llu,%s,%s\n", s->place,
                             (unsigned long long)w->people[i].msisdn, t0, t1);
            ct__sim_out_commit(o, (size_t)n);
        }
}

/* ---- reading them back ---------------------------------------------------------------- */

typedef struct visit {
    uint32_t venue;
    int64_t day;
    char msisdn[16];
    int64_t seconds; /* inside [day 18:00, day+1 00:00) */
} visit;

static int cmp_visit(const void *a, const void *b)
{
    const visit *x = a, *y = b;
    if (x->venue != y->venue)
        return x->venue < y->venue ? -1 : 1;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return strcmp(x->msisdn, y->msisdn);
}

static int64_t floor_day(int64_t t)
{
    return t >= 0 ? t / DAY : -((-t + DAY - 1) / DAY);
}

/* Parses one visits.csv row into v; 0, or -1 when it is not one. */
static int parse_visit(ct_csv *csv, const int *cols, visit *v)
{
    size_t l0, l1, l2, l3;
    const char *id = ct__csv_field(csv, cols[0], &l0), *num = ct__csv_field(csv, cols[1], &l1);
    const char *a = ct__csv_field(csv, cols[2], &l2), *b = ct__csv_field(csv, cols[3], &l3);
    int64_t t0, t1;
    uint64_t n, venue;
    if (l0 < 2 || id[0] != 'V' || ct__parse_u64(id + 1, l0 - 1, &venue) || venue > UINT32_MAX ||
        ct__parse_msisdn(num, l1, &n, v->msisdn) || ct__parse_time(a, l2, 0, &t0) ||
        ct__parse_time(b, l3, 0, &t1) || t1 < t0)
        return -1;
    v->venue = (uint32_t)venue;
    v->day = floor_day(t0);
    int64_t from = v->day * DAY + EVENING_FROM, to = (v->day + 1) * DAY;
    int64_t lo = t0 > from ? t0 : from, hi = t1 < to ? t1 : to;
    v->seconds = hi > lo ? hi - lo : 0;
    return 0;
}

static ct_code read_visits(const char *dir, visit **out, size_t *n_out, ct_err *err)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/visits.csv", dir);
    ct_csv *csv;
    ct_code rc = ct__csv_open(path, NULL, &csv, err);
    if (rc)
        return rc;
    static const char *const names[] = {"venue_id", "msisdn", "start", "end"};
    int cols[4];
    rc = ct__csv_columns(csv, names, 4, 4, cols, err);
    visit *v = NULL;
    size_t n = 0, cap = 0;
    int got;
    const char *reason;
    while (!rc && (got = ct__csv_next(csv, &reason, err)) != CT_CSV_EOF) {
        if (got < 0)
            rc = err->code;
        else if (got == CT_CSV_BAD)
            rc = ct__fail(err, CT_EINVAL, "%s:%llu: %s", path,
                          (unsigned long long)ct__csv_line(csv), reason);
        else {
            CT_GROW(v, n + 1, cap);
            if (parse_visit(csv, cols, &v[n]) != 0)
                rc = ct__fail(err, CT_EINVAL, "%s:%llu: not a visit (venue_id,msisdn,start,end)",
                              path, (unsigned long long)ct__csv_line(csv));
            else
                n += v[n].seconds > 0; /* only evening seconds count */
        }
    }
    ct__csv_close(csv);
    if (rc) {
        ct__free(v);
        return rc;
    }
    *out = v;
    *n_out = n;
    return CT_OK;
}

/* The venue's disk from venues.csv. */
static ct_code read_venue(const char *dir, uint32_t venue, ct_sim_venue_query *q, ct_err *err)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/venues.csv", dir);
    ct_csv *csv;
    ct_code rc = ct__csv_open(path, NULL, &csv, err);
    if (rc)
        return rc;
    static const char *const names[] = {"venue_id", "lat", "lon", "radius_m"};
    int cols[4], got, found = 0;
    const char *reason;
    rc = ct__csv_columns(csv, names, 4, 4, cols, err);
    while (!rc && !found && (got = ct__csv_next(csv, &reason, err)) == CT_CSV_ROW) {
        size_t l[4];
        const char *f[4];
        for (int i = 0; i < 4; i++)
            f[i] = ct__csv_field(csv, cols[i], &l[i]);
        if (strcmp(f[0], q->venue_id) != 0)
            continue;
        found = !ct__parse_double(f[1], l[1], &q->lat) && !ct__parse_double(f[2], l[2], &q->lon) &&
                !ct__parse_double(f[3], l[3], &q->radius_m);
        if (!found)
            rc = ct__fail(err, CT_EINVAL, "%s:%llu: a bad row", path,
                          (unsigned long long)ct__csv_line(csv));
    }
    ct__csv_close(csv);
    if (!rc && !found)
        rc = ct__fail(err, CT_ENOTFOUND, "%s has no venue V%u", path, venue);
    return rc;
}

/* visits [i, j) are one (venue, evening): how many stayed >= min_stay
 * (a person's visits of the evening summed). */
static size_t stayers(const visit *v, size_t i, size_t j, int64_t min_stay)
{
    size_t count = 0;
    for (size_t k = i; k < j;) {
        size_t m = k;
        int64_t sum = 0;
        while (m < j && strcmp(v[m].msisdn, v[k].msisdn) == 0)
            sum += v[m++].seconds;
        count += sum >= min_stay;
        k = m;
    }
    return count;
}

ct_code ct_sim_busiest_evening(const char *sim_dir, int64_t min_stay_s, ct_sim_venue_query *out,
                               ct_err *err)
{
    memset(out, 0, sizeof *out);
    visit *v;
    size_t n;
    ct_code rc = read_visits(sim_dir, &v, &n, err);
    if (rc)
        return rc;
    if (n > 1) /* v is NULL when no visit has an evening second */
        qsort(v, n, sizeof *v, cmp_visit);
    size_t best_i = 0, best_j = 0, best = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].venue == v[i].venue && v[j].day == v[i].day)
            j++;
        size_t c = stayers(v, i, j, min_stay_s);
        if (c > best) {
            best = c;
            best_i = i;
            best_j = j;
        }
        i = j;
    }
    if (!best) {
        ct__free(v);
        return ct__fail(err, CT_ENOTFOUND, "no cafe evening with a visitor of %lld s or more",
                        (long long)min_stay_s);
    }
    snprintf(out->venue_id, sizeof out->venue_id, "V%u", v[best_i].venue);
    out->from = v[best_i].day * DAY + EVENING_FROM;
    out->to = (v[best_i].day + 1) * DAY;
    out->present = ct__calloc(best, sizeof *out->present);
    for (size_t k = best_i; k < best_j;) {
        size_t m = k;
        int64_t sum = 0;
        while (m < best_j && strcmp(v[m].msisdn, v[k].msisdn) == 0)
            sum += v[m++].seconds;
        if (sum >= min_stay_s)
            snprintf(out->present[out->n_present++], sizeof out->present[0], "%s", v[k].msisdn);
        k = m;
    }
    ct__free(v);
    rc = read_venue(sim_dir, (uint32_t)atoi(out->venue_id + 1), out, err);
    if (rc)
        ct_sim_venue_query_free(out);
    return rc;
}

void ct_sim_venue_query_free(ct_sim_venue_query *q)
{
    ct__free(q->present);
    q->present = NULL;
    q->n_present = 0;
}
