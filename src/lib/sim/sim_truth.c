/*
 * sim_truth.c — exact contact minutes, comparing only people who share a
 * space.
 *
 * Per day: (1) the cases whose window meets the day list the spaces they
 * are in during it; (2) every other segment in one of those spaces
 * becomes an entry (space, t0, t1, person, segment); the street, which
 * everyone walks, is filtered further by 10-minute slots in which some
 * case walks; (3) entries are sorted by (space, t0) and each case segment
 * scans its space's entries that overlap it in time, sampling whole
 * minutes of the overlap. The result is exactly the brute force over all
 * pairs and all minutes, because people in different spaces are never
 * near by definition; the unit test checks that.
 *
 * minutes(c, x) lives in an open-addressing hash keyed (c << 32 | x),
 * which holds only pairs that were ever near: memory grows with contacts,
 * not with days.
 */
#include "sim_truth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "sim_out.h"

#define DAY 86400
#define SLOT 600
#define SLOTS (DAY / SLOT)
#define EMPTY UINT64_MAX

typedef struct entry {
    uint64_t space;
    int64_t t0, t1;
    uint32_t person;
    const sim_seg *seg;
} entry;

struct sim_truth {
    const sim_world *w;
    uint64_t *keys;
    uint32_t *mins;
    size_t cap, used;
    /* per-day scratch */
    uint64_t *spaces;
    size_t spaces_cap;
    entry *ents;
    size_t nents, ents_cap;
    unsigned char street_slot[SLOTS];
};

sim_truth *ct__sim_truth_new(const sim_world *w)
{
    sim_truth *t = ct__calloc(1, sizeof *t);
    t->w = w;
    t->cap = 1024;
    t->keys = ct__malloc(t->cap * sizeof *t->keys);
    t->mins = ct__calloc(t->cap, sizeof *t->mins);
    memset(t->keys, 0xff, t->cap * sizeof *t->keys);
    return t;
}

void ct__sim_truth_free(sim_truth *t)
{
    if (!t)
        return;
    ct__free(t->keys);
    ct__free(t->mins);
    ct__free(t->spaces);
    ct__free(t->ents);
    ct__free(t);
}

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    return k ^ (k >> 33);
}

static size_t slot_of(const uint64_t *keys, size_t cap, uint64_t k)
{
    size_t i = mix(k) & (cap - 1);
    while (keys[i] != EMPTY && keys[i] != k)
        i = (i + 1) & (cap - 1);
    return i;
}

static void grow(sim_truth *t)
{
    size_t ncap = t->cap * 2;
    uint64_t *nk = ct__malloc(ncap * sizeof *nk);
    uint32_t *nm = ct__calloc(ncap, sizeof *nm);
    memset(nk, 0xff, ncap * sizeof *nk);
    for (size_t i = 0; i < t->cap; i++) {
        if (t->keys[i] == EMPTY)
            continue;
        size_t j = slot_of(nk, ncap, t->keys[i]);
        nk[j] = t->keys[i];
        nm[j] = t->mins[i];
    }
    ct__free(t->keys);
    ct__free(t->mins);
    t->keys = nk;
    t->mins = nm;
    t->cap = ncap;
}

static void add_minutes(sim_truth *t, uint32_t c, uint32_t x, uint32_t m)
{
    if (!m)
        return;
    if ((t->used + 1) * 2 > t->cap)
        grow(t);
    uint64_t k = (uint64_t)c << 32 | x;
    size_t i = slot_of(t->keys, t->cap, k);
    if (t->keys[i] == EMPTY) {
        t->keys[i] = k;
        t->used++;
    }
    t->mins[i] += m;
}

uint32_t ct__sim_truth_minutes(const sim_truth *t, uint32_t c, uint32_t x)
{
    size_t i = slot_of(t->keys, t->cap, (uint64_t)c << 32 | x);
    return t->keys[i] == EMPTY ? 0 : t->mins[i];
}

/* ---- one day ------------------------------------------------------------- */

static int interesting(const sim_seg *s)
{
    return s->kind != SIM_SEG_CAR;
}

/* The case's part of a segment inside its window: [*a, *b), 0 if empty. */
static int clip(const sim_case *c, const sim_seg *s, int64_t *a, int64_t *b)
{
    *a = s->t0 > c->w0 ? s->t0 : c->w0;
    *b = s->t1 < c->w1 ? s->t1 : c->w1;
    return *a < *b && interesting(s);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void collect_spaces(sim_truth *t, int64_t day0, const sim_seg *segs, const size_t *off,
                           size_t *nspaces)
{
    size_t n = 0;
    memset(t->street_slot, 0, sizeof t->street_slot);
    for (size_t k = 0; k < t->w->ncases; k++) {
        const sim_case *c = &t->w->cases[k];
        for (size_t j = off[c->person]; j < off[c->person + 1]; j++) {
            int64_t a, b;
            if (!clip(c, &segs[j], &a, &b))
                continue;
            if (SIM_SPACE_TYPE(segs[j].space) == SIM_SP_STREET)
                for (int64_t s = (a - day0) / SLOT; s <= (b - 1 - day0) / SLOT; s++)
                    t->street_slot[s] = 1;
            CT_GROW(t->spaces, n + 1, t->spaces_cap);
            t->spaces[n++] = segs[j].space;
        }
    }
    if (n > 1) /* t->spaces is NULL until the first space: qsort must not see it */
        qsort(t->spaces, n, sizeof *t->spaces, cmp_u64);
    *nspaces = n;
}

static int in_spaces(const sim_truth *t, size_t n, const sim_seg *s, int64_t day0)
{
    if (SIM_SPACE_TYPE(s->space) == SIM_SP_STREET) {
        for (int64_t k = (s->t0 - day0) / SLOT; k <= (s->t1 - 1 - day0) / SLOT; k++)
            if (t->street_slot[k])
                return 1;
        return 0;
    }
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->spaces[mid] < s->space)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && t->spaces[lo] == s->space;
}

static int cmp_entry(const void *x, const void *y)
{
    const entry *a = x, *b = y;
    if (a->space != b->space)
        return a->space < b->space ? -1 : 1;
    if (a->t0 != b->t0)
        return a->t0 < b->t0 ? -1 : 1;
    return a->person < b->person ? -1 : a->person > b->person;
}

static int64_t collect_entries(sim_truth *t, int64_t day0, const sim_seg *segs, const size_t *off,
                               size_t nspaces)
{
    int64_t longest = 0;
    t->nents = 0;
    for (uint64_t i = 0; i < t->w->n; i++)
        for (size_t j = off[i]; j < off[i + 1]; j++) {
            const sim_seg *s = &segs[j];
            if (!interesting(s) || !in_spaces(t, nspaces, s, day0))
                continue;
            CT_GROW(t->ents, t->nents + 1, t->ents_cap);
            entry *e = &t->ents[t->nents++];
            e->space = s->space;
            e->t0 = s->t0;
            e->t1 = s->t1;
            e->person = (uint32_t)i;
            e->seg = s;
            if (s->t1 - s->t0 > longest)
                longest = s->t1 - s->t0;
        }
    if (t->nents > 1)
        qsort(t->ents, t->nents, sizeof *t->ents, cmp_entry);
    return longest;
}

static uint32_t near_minutes(const sim_truth *t, uint32_t cp, const sim_seg *cs, const entry *e,
                             int64_t a, int64_t b)
{
    int64_t lo = a > e->t0 ? a : e->t0, hi = b < e->t1 ? b : e->t1;
    double d = t->w->p->contact_distance_m;
    uint32_t m = 0;
    for (int64_t s = (lo + 59) / 60 * 60; s < hi; s += 60) {
        sim_pos pc, px;
        ct__sim_seg_pos(t->w, cp, cs, s, &pc);
        ct__sim_seg_pos(t->w, e->person, e->seg, s, &px);
        if (hypot(pc.lx - px.lx, pc.ly - px.ly) <= d)
            m++;
    }
    return m;
}

/* First entry with (space, t0) >= (space, from). */
static size_t lower_bound(const sim_truth *t, uint64_t space, int64_t from)
{
    size_t lo = 0, hi = t->nents;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const entry *e = &t->ents[mid];
        if (e->space < space || (e->space == space && e->t0 < from))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void case_segment(sim_truth *t, uint32_t k, const sim_seg *cs, int64_t longest)
{
    const sim_case *c = &t->w->cases[k];
    int64_t a, b;
    if (!clip(c, cs, &a, &b))
        return;
    for (size_t j = lower_bound(t, cs->space, a - longest); j < t->nents; j++) {
        const entry *e = &t->ents[j];
        if (e->space != cs->space || e->t0 >= b)
            break;
        if (e->person == c->person || e->t1 <= a)
            continue;
        add_minutes(t, k, e->person, near_minutes(t, c->person, cs, e, a, b));
    }
}

void ct__sim_truth_day(sim_truth *t, unsigned day, const sim_seg *segs, const size_t *off)
{
    int64_t day0 = t->w->p->start + (int64_t)day * DAY;
    size_t nspaces;
    collect_spaces(t, day0, segs, off, &nspaces);
    if (!nspaces)
        return;
    int64_t longest = collect_entries(t, day0, segs, off, nspaces);
    for (uint32_t k = 0; k < t->w->ncases; k++) {
        uint32_t cp = t->w->cases[k].person;
        for (size_t j = off[cp]; j < off[cp + 1]; j++)
            case_segment(t, k, &segs[j], longest);
    }
}

/* ---- output -------------------------------------------------------------- */

typedef struct pair {
    uint32_t c, x, m;
    uint64_t msisdn;
} pair;

static int cmp_pair(const void *x, const void *y)
{
    const pair *a = x, *b = y;
    if (a->c != b->c)
        return a->c < b->c ? -1 : 1;
    if (a->m != b->m)
        return a->m > b->m ? -1 : 1;
    return a->msisdn < b->msisdn ? -1 : a->msisdn > b->msisdn;
}

ct_code ct__sim_truth_write(const sim_truth *t, const char *path, uint64_t *pairs, ct_err *err)
{
    const ct_sim_params *p = t->w->p;
    pair *v = ct__malloc((t->used ? t->used : 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->keys[i] == EMPTY || (int64_t)t->mins[i] * 60 < p->min_exposure_s)
            continue;
        pair *q = &v[n++];
        q->c = (uint32_t)(t->keys[i] >> 32);
        q->x = (uint32_t)t->keys[i];
        q->m = t->mins[i];
        q->msisdn = t->w->people[q->x].msisdn;
    }
    qsort(v, n, sizeof *v, cmp_pair);
    sim_out *o;
    ct_code rc = ct__sim_out_open(path, CT_SIM_COMPRESS_NONE, &o, err);
    if (rc == CT_OK) {
        ct__sim_out_puts(o, "case_id,msisdn,minutes\n");
        for (size_t i = 0; i < n; i++) {
            char *b = ct__sim_out_reserve(o, 128);
            int k = snprintf(b, 128, "%s,%llu,%u\n", t->w->cases[v[i].c].id,
                             (unsigned long long)v[i].msisdn, v[i].m);
            ct__sim_out_commit(o, (size_t)k);
        }
        rc = ct__sim_out_close(o, NULL, err);
    }
    *pairs = n;
    ct__free(v);
    return rc;
}
