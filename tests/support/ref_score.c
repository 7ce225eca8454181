/*
 * ref_score.c — the obviously-correct model of the risk evidence (see
 * ref_score.h). Every step is one rule of docs/RISK.md section 3, in
 * its order, with plain loops and no index: nothing here is fast.
 */
#include "ref_score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_AMBIGUITY_M 1e-6

/* ---- RISK.md 2: the probability of being within D -------------------------------- */

static double ref_lens(double r1, double r2, double d)
{
    if (d >= r1 + r2)
        return 0.0;
    if (d <= fabs(r1 - r2)) {
        double m = r1 < r2 ? r1 : r2;
        return M_PI * m * m;
    }
    double a1 = acos(fmin(1.0, fmax(-1.0, (d * d + r1 * r1 - r2 * r2) / (2 * d * r1))));
    double a2 = acos(fmin(1.0, fmax(-1.0, (d * d + r2 * r2 - r1 * r1) / (2 * d * r2))));
    double k = (-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2);
    return r1 * r1 * a1 + r2 * r2 * a2 - 0.5 * sqrt(fmax(0.0, k));
}

/* Length of the circle of radius s (centred at A's centre) inside disk B. */
static double arc_in_b(double s, double d, double rb)
{
    if (s <= 0)
        return 0;
    if (s + d <= rb)
        return 2 * M_PI * s;
    if (s >= d + rb || s <= d - rb)
        return 0;
    return 2 * s * acos(fmin(1.0, fmax(-1.0, (s * s + d * d - rb * rb) / (2 * s * d))));
}

/* Tanh-sinh quadrature of f over [u, v]: the endpoint square roots of
 * lens and arc cost it nothing. */
static double tanh_sinh(double u, double v, double ra, double rb, double d, double dmax)
{
    const double h = 1.0 / 32;
    double mid = (u + v) / 2, half = (v - u) / 2, sum = 0;
    for (int k = -160; k <= 160; k++) {
        double t = k * h, sh = M_PI / 2 * sinh(t), ch = cosh(sh);
        double x = tanh(sh), w = M_PI / 2 * cosh(t) / (ch * ch);
        double s = mid + half * x;
        if (s <= u || s >= v)
            continue;
        sum += w * ref_lens(ra, dmax, s) * arc_in_b(s, d, rb);
    }
    return sum * h * half;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double ref_near_probability(double d, double ra, double rb, double dmax)
{
    if (ra > rb) {
        double t = ra;
        ra = rb;
        rb = t;
    }
    /* integral over y in B of |A ∩ disk(y, D)|, by the distance s of y
     * from A's centre, split where an integrand changes form */
    double lo = fmax(0.0, d - rb), hi = fmin(ra + dmax, d + rb);
    if (hi <= lo)
        return 0;
    double cuts[7] = {lo, hi, fabs(ra - dmax), ra + dmax, rb - d, fabs(d - rb), d + rb};
    qsort(cuts, 7, sizeof *cuts, cmp_d);
    double sum = 0, from = lo;
    for (int i = 0; i < 7; i++) {
        double to = fmin(cuts[i], hi);
        if (to > from) {
            sum += tanh_sinh(from, to, ra, rb, d, dmax);
            from = to;
        }
    }
    double p = sum / (M_PI * ra * ra * M_PI * rb * rb);
    return p > 1 ? 1 : p;
}

/* ---- the case's intervals, visits and places ------------------------------------------ */

typedef struct r_iv {
    int64_t start, end;
    const ref_item *at; /* the event whose place it is */
    int visit, transition;
} r_iv;

static int same_place(const ref_item *a, const ref_item *b)
{
    if (a->ev.is_cell != b->ev.is_cell)
        return 0;
    if (a->ev.is_cell)
        return !strcmp(a->ev.op, b->ev.op) && !strcmp(a->ev.cell, b->ev.cell);
    return a->lat == b->lat && a->lon == b->lon && a->r == b->r;
}

static int64_t presence_end(const ref_item *it, const ref_params *p)
{
    int64_t end = it->p_start + p->max_presence_s;
    return it->p_next < end ? it->p_next : end;
}

/* Within r_a + r_b of each other, noting decisions near the threshold. */
static int overlapping_disks(const ref_item *a, const ref_item *b, size_t *ambiguous)
{
    double d = ref_distance_m(a->lat, a->lon, b->lat, b->lon), thr = a->r + b->r;
    if (fabs(d - thr) <= REF_AMBIGUITY_M)
        (*ambiguous)++;
    return d <= thr;
}

static r_iv *case_intervals(const ref_store *s, const ref_case *c, const ref_params *p,
                            int64_t w0, int64_t w1, size_t *n)
{
    r_iv *iv = calloc(s->n + 1, sizeof *iv);
    *n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const ref_item *it = &s->items[i];
        if (strcmp(it->ev.msisdn, c->msisdn))
            continue;
        int64_t a = it->p_start > w0 ? it->p_start : w0, e = presence_end(it, p);
        int64_t b = e < w1 ? e : w1;
        if (b <= a)
            continue;
        if (*n && same_place(iv[*n - 1].at, it) && iv[*n - 1].end == a) {
            iv[*n - 1].end = b; /* touching, same place: one interval */
            continue;
        }
        iv[(*n)++] = (r_iv){a, b, it, 0, 0};
    }
    return iv;
}

/* Visits (anchor = first interval of the visit) and transitions; returns
 * the anchors' interval indexes. */
static size_t assign_visits(r_iv *iv, size_t n, int64_t gap, size_t **anchor_of_visit,
                            size_t *ambiguous)
{
    size_t *anchors = calloc(n + 1, sizeof *anchors), nv = 0;
    for (size_t k = 0; k < n; k++) {
        iv[k].transition = k > 0 && !same_place(iv[k].at, iv[k - 1].at);
        int joins = k > 0 && iv[k].start - iv[k - 1].end <= gap &&
                    overlapping_disks(iv[k].at, iv[anchors[nv - 1]].at, ambiguous);
        if (!joins)
            anchors[nv++] = k;
        iv[k].visit = (int)nv - 1;
    }
    *anchor_of_visit = anchors;
    return nv;
}

static int *assign_places(const r_iv *iv, const size_t *anchors, size_t nv, size_t *ambiguous)
{
    int *place = calloc(nv + 1, sizeof *place);
    size_t *first_anchor = calloc(nv + 1, sizeof *first_anchor), np = 0;
    for (size_t v = 0; v < nv; v++) {
        size_t q = 0;
        while (q < np && !overlapping_disks(iv[anchors[v]].at, iv[first_anchor[q]].at, ambiguous))
            q++;
        if (q == np)
            first_anchor[np++] = anchors[v];
        place[v] = (int)q;
    }
    free(first_anchor);
    return place;
}

/* ---- episodes of every subscriber ------------------------------------------------------ */

typedef struct r_ep {
    int64_t seconds, night_s, first, last;
    double near_s, min_radius;
    unsigned kinds;
} r_ep;

static int64_t night_part(int64_t a, int64_t b, int64_t off)
{
    int64_t total = 0;
    for (int64_t t = a; t < b; t++) { /* one second at a time: obviously right */
        int64_t local = t + off, sod = ((local % 86400) + 86400) % 86400;
        total += sod < 6 * 3600;
    }
    return total;
}

static int cmp_evidence(const void *a, const void *b)
{
    return strcmp(((const ref_evidence *)a)->msisdn, ((const ref_evidence *)b)->msisdn);
}

int ref_score(const ref_store *s, const ref_case *c, const ref_params *p,
              const ref_score_params *sp, ref_score_result *out)
{
    memset(out, 0, sizeof *out);
    int64_t w0 = c->onset - p->before_s, w1 = c->has_isolated ? c->isolated : c->onset + p->after_s;
    size_t niv = 0, *anchors = NULL;
    r_iv *iv = case_intervals(s, c, p, w0, w1, &niv);
    size_t nv = assign_visits(iv, niv, sp->visit_gap_s, &anchors, &out->ambiguous);
    int *place = assign_places(iv, anchors, nv, &out->ambiguous);
    double *near_total = calloc(nv + 1, sizeof *near_total);
    /* subscribers: the distinct msisdns other than the case's */
    size_t nsub = 0;
    const char **subs = calloc(s->n + 1, sizeof *subs);
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].ev.msisdn, c->msisdn) &&
            (nsub == 0 || strcmp(subs[nsub - 1], s->items[i].ev.msisdn)))
            subs[nsub++] = s->items[i].ev.msisdn;
    r_ep *ep = calloc(nsub * (nv + 1) + 1, sizeof *ep);
    unsigned char *moved = calloc(nsub * (niv + 1) + 1, 1);
    for (size_t x = 0; x < nsub; x++)
        for (size_t i = 0; i < s->n; i++) {
            const ref_item *b = &s->items[i];
            if (strcmp(b->ev.msisdn, subs[x]))
                continue;
            for (size_t k = 0; k < niv; k++) {
                const ref_item *a = iv[k].at;
                int64_t lo = iv[k].start > b->p_start ? iv[k].start : b->p_start;
                int64_t e = presence_end(b, p), hi = iv[k].end < e ? iv[k].end : e;
                double d = ref_distance_m(a->lat, a->lon, b->lat, b->lon);
                double thr = a->r + b->r + p->distance_m;
                if (hi > lo && fabs(d - thr) <= REF_AMBIGUITY_M)
                    out->ambiguous++;
                if (hi <= lo || !(d <= thr))
                    continue;
                r_ep *q = &ep[x * (nv + 1) + (size_t)iv[k].visit];
                double np = ref_near_probability(d, a->r, b->r, p->distance_m);
                int64_t night = night_part(lo, hi, sp->utc_offset_s);
                if (!q->seconds) {
                    q->first = lo;
                    q->last = hi;
                    q->min_radius = a->r + b->r;
                }
                q->seconds += hi - lo;
                q->near_s += (double)(hi - lo) * np;
                q->night_s += night;
                q->first = lo < q->first ? lo : q->first;
                q->last = hi > q->last ? hi : q->last;
                q->min_radius = fmin(q->min_radius, a->r + b->r);
                q->kinds |= a->ev.is_cell && b->ev.is_cell ? 1 : a->ev.is_cell || b->ev.is_cell ? 2 : 4;
                int64_t dt = b->p_start - iv[k].start;
                if (iv[k].transition && dt <= sp->comove_window_s && dt >= -sp->comove_window_s)
                    moved[x * (niv + 1) + k] = 1;
            }
        }
    for (size_t x = 0; x < nsub; x++)
        for (size_t v = 0; v < nv; v++)
            near_total[v] += ep[x * (nv + 1) + v].near_s;
    out->items = calloc(nsub + 1, sizeof *out->items);
    double T = (double)p->min_exposure_s;
    for (size_t x = 0; x < nsub; x++) {
        ref_evidence ev;
        memset(&ev, 0, sizeof ev);
        snprintf(ev.msisdn, sizeof ev.msisdn, "%s", subs[x]);
        ev.first = INT64_MAX;
        ev.min_radius = INFINITY;
        for (size_t v = 0; v < nv; v++) {
            const r_ep *q = &ep[x * (nv + 1) + v];
            if (!q->seconds)
                continue;
            ev.episodes++;
            ev.exposure_s += q->seconds;
            ev.near_s += q->near_s;
            ev.night_s += q->night_s;
            ev.kinds |= q->kinds;
            ev.first = q->first < ev.first ? q->first : ev.first;
            ev.last = q->last > ev.last ? q->last : ev.last;
            ev.min_radius = fmin(ev.min_radius, q->min_radius);
            double share = near_total[v] > 0 ? q->near_s / near_total[v] : 0;
            ev.share_sum += share * (T > 0 && (double)q->seconds < T ? (double)q->seconds / T : 1.0);
            ev.share_max = fmax(ev.share_max, share);
        }
        if (!ev.episodes)
            continue;
        /* recurrence: days of the visits' starts, and places, each with >= T seconds */
        for (size_t v = 0; v < nv; v++) {
            int64_t day = (int64_t)floor((double)iv[anchors[v]].start / 86400.0), sec = 0;
            int first_of_day = 1;
            for (size_t u = 0; u < v; u++)
                if ((int64_t)floor((double)iv[anchors[u]].start / 86400.0) == day)
                    first_of_day = 0;
            if (!first_of_day)
                continue;
            for (size_t u = 0; u < nv; u++)
                if ((int64_t)floor((double)iv[anchors[u]].start / 86400.0) == day)
                    sec += ep[x * (nv + 1) + u].seconds;
            ev.days += sec > 0 && (double)sec >= T;
        }
        for (int q = 0; q <= (int)nv; q++) {
            int64_t sec = 0;
            for (size_t v = 0; v < nv; v++)
                if (place[v] == q)
                    sec += ep[x * (nv + 1) + v].seconds;
            ev.places += sec > 0 && (double)sec >= T;
        }
        for (size_t k = 0; k < niv; k++) {
            if (!moved[x * (niv + 1) + k])
                continue;
            unsigned sharers = 0;
            for (size_t y = 0; y < nsub; y++)
                sharers += moved[y * (niv + 1) + k];
            ev.comove_n++;
            ev.comove += 1.0 / sharers;
        }
        out->items[out->n++] = ev;
    }
    qsort(out->items, out->n, sizeof *out->items, cmp_evidence);
    free(iv);
    free(anchors);
    free(place);
    free(near_total);
    free(subs);
    free(ep);
    free(moved);
    return 0;
}

void ref_score_result_free(ref_score_result *r)
{
    if (!r)
        return;
    free(r->items);
    r->items = NULL;
    r->n = 0;
}
