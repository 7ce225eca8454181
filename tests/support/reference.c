/*
 * reference.c — the obviously-correct model of SPEC section 4 (see
 * reference.h). Written for clarity, not speed: every rule of the SPEC is
 * one visible step, in the SPEC's own words where possible.
 */
#include "reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

double ref_distance_m(double lat1, double lon1, double lat2, double lon2)
{
    /* SPEC 2: a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2); d = 2R·asin(√a) */
    double phi1 = lat1 * M_PI / 180.0, phi2 = lat2 * M_PI / 180.0;
    double dphi = (lat2 - lat1) * M_PI / 180.0, dlambda = (lon2 - lon1) * M_PI / 180.0;
    double s1 = sin(dphi / 2.0), s2 = sin(dlambda / 2.0);
    double a = s1 * s1 + cos(phi1) * cos(phi2) * s2 * s2;
    if (a > 1.0)
        a = 1.0;
    return 2.0 * REF_EARTH_RADIUS_M * asin(sqrt(a));
}

int64_t ref_days_from_civil(int64_t y, int m, int d)
{
    /* H. Hinnant's days_from_civil */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void ref_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yy + (mm <= 2);
    *m = mm;
    *d = dd;
}

int64_t ref_epoch(int y, int m, int d, int hh, int mm, int ss)
{
    return ref_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

void ref_format_time(int64_t t, char *buf)
{
    int64_t days = floor_div(t, 86400), sec = t - days * 86400, y;
    int m, d;
    ref_civil_from_days(days, &y, &m, &d);
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d, (int)(sec / 3600),
             (int)(sec / 60 % 60), (int)(sec % 60));
    memcpy(buf, tmp, 20);
    buf[20] = '\0';
}

void ref_format_radius(double r, char *buf)
{
    snprintf(buf, 32, "%.2f", r);
    char *dot = strchr(buf, '.');
    if (!dot)
        return;
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
}

static int cmp_double(double a, double b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

/* The order of SPEC 4.1 within a subscriber, with the subscriber first so
 * that each subscriber's events are contiguous, and the operator of a point
 * event last: it is part of an event's identity (SPEC 3.2) but not of the
 * order (two such events have the same disk, so their order is moot). Two
 * events comparing equal are the same event. */
static int cmp_event(const ref_event *a, const ref_event *b)
{
    int c = strcmp(a->msisdn, b->msisdn);
    if (c)
        return c;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->is_cell != b->is_cell)
        return a->is_cell ? -1 : 1; /* cell events first */
    if (a->is_cell) {
        c = strcmp(a->op, b->op); /* strcmp compares bytes as unsigned char */
        if (c)
            return c;
        return strcmp(a->cell, b->cell);
    }
    if ((c = cmp_double(a->lat, b->lat)) != 0)
        return c;
    if ((c = cmp_double(a->lon, b->lon)) != 0)
        return c;
    if ((c = cmp_double(a->acc, b->acc)) != 0)
        return c;
    return strcmp(a->op, b->op);
}

static int cmp_event_q(const void *a, const void *b)
{
    return cmp_event(a, b);
}

int ref_prepare(const ref_cell *cells, size_t ncells, const ref_event *ev, size_t nev,
                ref_store *out)
{
    out->items = NULL;
    out->n = 0;
    ref_event *sorted = malloc((nev ? nev : 1) * sizeof *sorted);
    ref_item *items = calloc(nev ? nev : 1, sizeof *items);
    if (!sorted || !items) {
        free(sorted);
        free(items);
        return -1;
    }
    memcpy(sorted, ev, nev * sizeof *ev);
    qsort(sorted, nev, sizeof *sorted, cmp_event_q);

    size_t n = 0;
    for (size_t i = 0; i < nev; i++) {
        if (i > 0 && cmp_event(&sorted[i - 1], &sorted[i]) == 0)
            continue; /* SPEC 3.2: an identical event is stored once */
        ref_item *it = &items[n++];
        it->ev = sorted[i];
        if (sorted[i].is_cell) {
            /* SPEC 3.1: the current geometry (last upsert) applies */
            const ref_cell *found = NULL;
            for (size_t k = 0; k < ncells; k++)
                if (strcmp(cells[k].op, sorted[i].op) == 0 &&
                    strcmp(cells[k].id, sorted[i].cell) == 0)
                    found = &cells[k];
            if (!found) {
                fprintf(stderr, "reference: unknown cell %s/%s\n", sorted[i].op, sorted[i].cell);
                free(sorted);
                free(items);
                return -1;
            }
            it->lat = found->lat;
            it->lon = found->lon;
            it->r = found->radius_m;
        } else {
            it->lat = sorted[i].lat;
            it->lon = sorted[i].lon;
            it->r = sorted[i].acc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        items[i].p_start = items[i].ev.ts;
        items[i].p_next = INT64_MAX;
        if (i + 1 < n && strcmp(items[i + 1].ev.msisdn, items[i].ev.msisdn) == 0)
            items[i].p_next = items[i + 1].ev.ts;
    }
    free(sorted);
    out->items = items;
    out->n = n;
    return 0;
}

void ref_store_free(ref_store *s)
{
    if (!s)
        return;
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

static int64_t max3(int64_t a, int64_t b, int64_t c)
{
    int64_t m = a > b ? a : b;
    return m > c ? m : c;
}

static int64_t min3(int64_t a, int64_t b, int64_t c)
{
    int64_t m = a < b ? a : b;
    return m < c ? m : c;
}

static int cmp_contact(const void *pa, const void *pb)
{
    const ref_contact *a = pa, *b = pb;
    if (a->exposure_s != b->exposure_s)
        return a->exposure_s > b->exposure_s ? -1 : 1;
    return strcmp(a->msisdn, b->msisdn);
}

int ref_trace(const ref_store *s, const ref_case *c, const ref_params *p, double ambiguity_m,
              ref_result *out)
{
    out->items = NULL;
    out->n = 0;
    out->ambiguous = 0;
    ref_contact *res = calloc(s->n ? s->n : 1, sizeof *res);
    if (!res)
        return -1;

    /* SPEC 4.5: W = [onset - before, end) */
    int64_t w_start = c->onset - p->before_s;
    int64_t w_end = c->has_isolated ? c->isolated : c->onset + p->after_s;

    size_t nres = 0;
    size_t g = 0;
    while (g < s->n) {
        /* one subscriber x: items [g, h) */
        size_t h = g;
        while (h < s->n && strcmp(s->items[h].ev.msisdn, s->items[g].ev.msisdn) == 0)
            h++;
        if (strcmp(s->items[g].ev.msisdn, c->msisdn) != 0) {
            int64_t x = 0, first = INT64_MAX, last = INT64_MIN;
            double min_r = INFINITY;
            for (size_t i = 0; i < s->n; i++) {
                const ref_item *a = &s->items[i];
                if (strcmp(a->ev.msisdn, c->msisdn) != 0)
                    continue; /* i ranges over the events of the case */
                /* SPEC 4.2: P_i = [t_i, min(t_{i+1}, t_i + max_presence)) */
                int64_t a_end = a->p_start + p->max_presence_s;
                if (a->p_next < a_end)
                    a_end = a->p_next;
                for (size_t j = g; j < h; j++) {
                    const ref_item *b = &s->items[j];
                    int64_t b_end = b->p_start + p->max_presence_s;
                    if (b->p_next < b_end)
                        b_end = b->p_next;
                    int64_t lo = max3(a->p_start, b->p_start, w_start);
                    int64_t hi = min3(a_end, b_end, w_end);
                    double d = ref_distance_m(a->lat, a->lon, b->lat, b->lon);
                    double thr = a->r + b->r + p->distance_m;
                    if (hi > lo && fabs(d - thr) <= ambiguity_m)
                        out->ambiguous++;
                    if (!(d <= thr))
                        continue; /* SPEC 4.4: not co-located */
                    if (hi <= lo)
                        continue; /* |P_i ∩ P_j ∩ W| = 0 */
                    x += hi - lo;
                    if (lo < first)
                        first = lo;
                    if (hi > last)
                        last = hi;
                    if (a->r + b->r < min_r)
                        min_r = a->r + b->r;
                }
            }
            /* SPEC 4.7; an exposure of 0 has no contact instant, so it is
             * never a contact, even with min_exposure 0. */
            if (x > 0 && x >= p->min_exposure_s) {
                ref_contact *ct = &res[nres++];
                memcpy(ct->msisdn, s->items[g].ev.msisdn, sizeof ct->msisdn);
                ct->exposure_s = x;
                ct->first = first;
                ct->last = last;
                ct->min_radius_m = min_r;
            }
        }
        g = h;
    }
    qsort(res, nres, sizeof *res, cmp_contact);
    out->items = res;
    out->n = nres;
    return 0;
}

void ref_result_free(ref_result *r)
{
    if (!r)
        return;
    free(r->items);
    r->items = NULL;
    r->n = 0;
}

char *ref_result_csv(const char *case_id, const ref_result *r)
{
    size_t cap = 128 + r->n * (REF_ID_MAX + 128);
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t len = (size_t)snprintf(buf, cap,
                                  "case_id,msisdn,exposure_s,first_contact,last_contact,"
                                  "min_radius_m\n");
    for (size_t i = 0; i < r->n; i++) {
        char f[32], l[32], rad[32];
        ref_format_time(r->items[i].first, f);
        ref_format_time(r->items[i].last, l);
        ref_format_radius(r->items[i].min_radius_m, rad);
        len += (size_t)snprintf(buf + len, cap - len, "%s,%s,%lld,%s,%s,%s\n", case_id,
                                r->items[i].msisdn, (long long)r->items[i].exposure_s, f, l, rad);
    }
    return buf;
}

/* ---- area queries ---------------------------------------------------------- */

double ref_lens_area(double r1, double r2, double d)
{
    /* the textbook formula: two circular segments cut by the common chord */
    if (d >= r1 + r2)
        return 0.0;
    if (d <= fabs(r1 - r2)) {
        double r = r1 < r2 ? r1 : r2;
        return M_PI * r * r;
    }
    double c1 = (d * d + r1 * r1 - r2 * r2) / (2.0 * d * r1);
    double c2 = (d * d + r2 * r2 - r1 * r1) / (2.0 * d * r2);
    c1 = c1 > 1.0 ? 1.0 : c1 < -1.0 ? -1.0 : c1;
    c2 = c2 > 1.0 ? 1.0 : c2 < -1.0 ? -1.0 : c2;
    double a1 = acos(c1), a2 = acos(c2);
    return r1 * r1 * (a1 - sin(2.0 * a1) / 2.0) + r2 * r2 * (a2 - sin(2.0 * a2) / 2.0);
}

static int cmp_presence(const void *pa, const void *pb)
{
    const ref_presence *a = pa, *b = pb;
    if (a->present_s != b->present_s)
        return a->present_s > b->present_s ? -1 : 1;
    return strcmp(a->msisdn, b->msisdn);
}

int ref_area(const ref_store *s, const ref_area_q *q, double ambiguity_m, ref_area_result *out)
{
    out->items = calloc(s->n ? s->n : 1, sizeof *out->items);
    out->n = 0;
    out->ambiguous = 0;
    if (!out->items)
        return -1;
    size_t g = 0;
    while (g < s->n) {
        size_t h = g; /* one subscriber: items [g, h) */
        while (h < s->n && strcmp(s->items[h].ev.msisdn, s->items[g].ev.msisdn) == 0)
            h++;
        ref_presence pr;
        memset(&pr, 0, sizeof pr);
        pr.first = INT64_MAX;
        pr.last = INT64_MIN;
        pr.min_radius_m = INFINITY;
        for (size_t j = g; j < h; j++) {
            const ref_item *b = &s->items[j];
            int64_t b_end = b->p_start + q->max_presence_s; /* SPEC 4.2 */
            if (b->p_next < b_end)
                b_end = b->p_next;
            int64_t lo = b->p_start > q->from ? b->p_start : q->from;
            int64_t hi = b_end < q->to ? b_end : q->to;
            double d = ref_distance_m(q->lat, q->lon, b->lat, b->lon);
            double thr = q->radius + b->r;
            if (hi > lo && fabs(d - thr) <= ambiguity_m)
                out->ambiguous++;
            if (!(d <= thr) || hi <= lo)
                continue;
            pr.present_s += hi - lo;
            if (lo < pr.first)
                pr.first = lo;
            if (hi > pr.last)
                pr.last = hi;
            if (b->r < pr.min_radius_m)
                pr.min_radius_m = b->r;
            double share = ref_lens_area(q->radius, b->r, d) / (M_PI * b->r * b->r);
            pr.expected_inside_s += (double)(hi - lo) * (share > 1.0 ? 1.0 : share);
        }
        if (pr.present_s > 0 && pr.present_s >= q->min_stay) {
            memcpy(pr.msisdn, s->items[g].ev.msisdn, sizeof pr.msisdn);
            out->items[out->n++] = pr;
        }
        g = h;
    }
    qsort(out->items, out->n, sizeof *out->items, cmp_presence);
    return 0;
}

void ref_area_result_free(ref_area_result *r)
{
    if (!r)
        return;
    free(r->items);
    r->items = NULL;
    r->n = 0;
}

/* ---- hotspots ------------------------------------------------------------------ */

static int64_t ref_end_of(const ref_item *it, int64_t max_presence)
{
    int64_t e = it->p_start + max_presence;
    return it->p_next < e ? it->p_next : e;
}

double ref_hotspots_total(const ref_store *s, const ref_case *cases, size_t n_cases,
                          const ref_params *p, int64_t from, int64_t to,
                          double (*near_p)(double, double, double, double), double ambiguity_m,
                          size_t *ambiguous)
{
    double total = 0.0;
    *ambiguous = 0;
    for (size_t a = 0; a < n_cases; a++)
        for (size_t b = a + 1; b < n_cases; b++) {
            const ref_case *ca = &cases[a], *cb = &cases[b];
            if (strcmp(ca->msisdn, cb->msisdn) == 0)
                continue; /* one person registered twice */
            /* SPEC 4.5 for both, and the query's window */
            int64_t lo_w = max3(ca->onset - p->before_s, cb->onset - p->before_s, from);
            int64_t hi_w = min3(ca->has_isolated ? ca->isolated : ca->onset + p->after_s,
                                cb->has_isolated ? cb->isolated : cb->onset + p->after_s, to);
            for (size_t i = 0; i < s->n; i++) {
                const ref_item *x = &s->items[i];
                if (strcmp(x->ev.msisdn, ca->msisdn) != 0)
                    continue;
                for (size_t j = 0; j < s->n; j++) {
                    const ref_item *y = &s->items[j];
                    if (strcmp(y->ev.msisdn, cb->msisdn) != 0)
                        continue;
                    int64_t lo = max3(x->p_start, y->p_start, lo_w);
                    int64_t hi = min3(ref_end_of(x, p->max_presence_s),
                                      ref_end_of(y, p->max_presence_s), hi_w);
                    if (hi <= lo)
                        continue;
                    double d = ref_distance_m(x->lat, x->lon, y->lat, y->lon);
                    double thr = x->r + y->r + p->distance_m;
                    if (fabs(d - thr) <= ambiguity_m)
                        (*ambiguous)++;
                    if (d <= thr)
                        total += (double)(hi - lo) * near_p(d, x->r, y->r, p->distance_m);
                }
            }
        }
    return total;
}
