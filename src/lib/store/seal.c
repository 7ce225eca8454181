/*
 * seal.c — SPEC 4.1 order and duplicate removal for a day's events.
 *
 * Sorting is the heart of sealing, so it avoids a comparator for the
 * common case: events are first radix-sorted on a 64-bit key (subscriber,
 * second of day, cell/point) and only runs of equal keys — one phone with
 * several events in the same second — are ordered by the full rule, where
 * cells compare by their precomputed rank and points by coordinates.
 */
#include "seal.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "radix.h"

static uint64_t primary_key(const ct_event *e)
{
    return (uint64_t)e->sub << 32 | (uint64_t)e->tod << 1 | (e->kind & 1);
}

/* Events in primary_key order (radix.h). */
CT_RADIX_SORT_DEFINE(sort_by_primary_key, ct_event, primary_key)

static void radix_sort(ct_event *ev, uint32_t n)
{
    if (!CT_RADIX_NEEDS_SCRATCH(n)) {
        sort_by_primary_key(ev, NULL, n, 64, NULL);
        return;
    }
    ct_event *tmp = ct__calloc(n, sizeof *tmp);
    uint32_t *count = ct__calloc(CT_RADIX_BUCKETS, sizeof *count);
    sort_by_primary_key(ev, tmp, n, 64, count);
    ct__free(count);
    ct__free(tmp);
}

typedef struct tie_ctx {
    const ct_point *points;
    const ct_catalog *cat;
} tie_ctx;

static int cmp_double(double a, double b)
{
    return a < b ? -1 : a > b;
}

/* Full order of two events with the same (sub, tod, kind), each with
 * its own point array. */
static int cmp_tie_apart(const ct_catalog *cat, const ct_event *a, const ct_point *a_points,
                         const ct_event *b, const ct_point *b_points)
{
    if (!a->kind) {
        /* without a catalogue (unit tests) the loc id stands for the rank */
        const ct_cell *ca = cat ? ct__catalog_cell(cat, a->place) : NULL;
        const ct_cell *cb = cat ? ct__catalog_cell(cat, b->place) : NULL;
        uint32_t ra = ca ? ca->rank : a->place, rb = cb ? cb->rank : b->place;
        return ra < rb ? -1 : ra > rb;
    }
    const ct_point *pa = &a_points[a->place], *pb = &b_points[b->place];
    int c = cmp_double(pa->lat, pb->lat);
    if (!c)
        c = cmp_double(pa->lon, pb->lon);
    if (!c)
        c = cmp_double(pa->acc, pb->acc);
    if (!c)
        c = pa->op < pb->op ? -1 : pa->op > pb->op;
    return c;
}

/* Full SPEC 4.1 order of two events, each with its own point array. */
static int cmp_event_apart(const ct_catalog *cat, const ct_event *a, const ct_point *a_points,
                           const ct_event *b, const ct_point *b_points)
{
    uint64_t ka = primary_key(a), kb = primary_key(b);
    return ka < kb ? -1 : ka > kb ? 1 : cmp_tie_apart(cat, a, a_points, b, b_points);
}

static int cmp_tie(const tie_ctx *k, const ct_event *a, const ct_event *b)
{
    return cmp_tie_apart(k->cat, a, k->points, b, k->points);
}

/* Insertion sort of a short run of equal primary keys. */
static void sort_run(const tie_ctx *k, ct_event *ev, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        ct_event x = ev[i];
        uint32_t j = i;
        while (j > 0 && cmp_tie(k, &x, &ev[j - 1]) < 0) {
            ev[j] = ev[j - 1];
            j--;
        }
        ev[j] = x;
    }
}

/* A run can be long only for hostile input (many events of one phone in
 * one second); qsort keeps that O(n log n). */
static _Thread_local const tie_ctx *qsort_ctx; /* merged views are built on any thread */
static int cmp_tie_qsort(const void *a, const void *b)
{
    return cmp_tie(qsort_ctx, a, b);
}

uint32_t ct__seal_sort_unique(ct_event *ev, uint32_t n, const ct_point *points,
                              const ct_catalog *cat)
{
    tie_ctx k = {points, cat};
    radix_sort(ev, n);
    uint32_t out = 0;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        uint64_t key = primary_key(&ev[i]);
        while (j < n && primary_key(&ev[j]) == key)
            j++;
        if (j - i > 32) {
            qsort_ctx = &k;
            qsort(ev + i, j - i, sizeof *ev, cmp_tie_qsort);
        } else if (j - i > 1) {
            sort_run(&k, ev + i, j - i);
        }
        for (uint32_t m = i; m < j; m++)
            if (m == i || cmp_tie(&k, &ev[m], &ev[out - 1]) != 0)
                ev[out++] = ev[m];
        i = j;
    }
    return out;
}

uint32_t ct__seal_drop_known(ct_event *ev, uint32_t n, const ct_point *points, const ct_event *known,
                             uint32_t n_known, const ct_point *known_points, const ct_catalog *cat)
{
    uint32_t out = 0, j = 0;
    for (uint32_t i = 0; i < n; i++) {
        int c = 1;
        while (j < n_known) {
            c = cmp_event_apart(cat, &ev[i], points, &known[j], known_points);
            if (c <= 0)
                break;
            j++;
        }
        if (c == 0)
            j++; /* a stored event: not kept */
        else
            ev[out++] = ev[i];
    }
    return out;
}

/* Full SPEC 4.1 order of two events of one array. */
static int cmp_event(const tie_ctx *k, const ct_event *a, const ct_event *b)
{
    return cmp_event_apart(k->cat, a, k->points, b, k->points);
}

uint32_t ct__seal_merge_unique(ct_event *ev, const uint32_t *part_end, uint32_t parts,
                               const ct_point *points, const ct_catalog *cat, ct_event *scratch)
{
    tie_ctx k = {points, cat};
    for (uint32_t p = 0; p < parts; p++) /* each part strictly in order */
        for (uint32_t i = (p ? part_end[p - 1] : 0) + 1; i < part_end[p]; i++)
            if (cmp_event(&k, &ev[i - 1], &ev[i]) >= 0)
                return UINT32_MAX;
    /* merged part by part into what came before (parts are few: runs); an
     * event both sides hold is kept once. Each side is without duplicates,
     * so the result is too. */
    uint32_t n = parts ? part_end[0] : 0;
    for (uint32_t p = 1; p < parts; p++) {
        uint32_t i = 0, j = part_end[p - 1], end = part_end[p], out = 0;
        while (i < n && j < end) {
            int c = cmp_event(&k, &ev[j], &ev[i]);
            scratch[out++] = c < 0 ? ev[j++] : ev[i++];
            j += c == 0;
        }
        while (i < n)
            scratch[out++] = ev[i++];
        while (j < end)
            scratch[out++] = ev[j++];
        memcpy(ev, scratch, (size_t)out * sizeof *ev);
        n = out;
    }
    return n;
}
