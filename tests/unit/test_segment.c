/*
 * test_segment.c — day segments and sealing: the writer and reader agree,
 * every index finds what it should, SPEC 4.1 order and deduplication hold,
 * and damaged files are refused with an error, never read.
 */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "alloc.h"
#include "catalog.h"
#include "radix.h"
#include "seal.h"
#include "dayruns.h"
#include "segment.h"
#include "store.h"
#include "testutil.h"

/* A day of random events over a few subscribers, cells and points. */
static uint32_t make_events(uint64_t *seed, ct_event *ev, ct_point *pts, uint32_t n, uint32_t *np)
{
    *np = 0;
    for (uint32_t i = 0; i < n; i++) {
        ev[i].sub = (uint32_t)(tu_rand(seed) % 50);
        ev[i].tod = (uint32_t)(tu_rand(seed) % 300) * 288; /* many ties */
        if (tu_rand(seed) % 3 == 0) {
            pts[*np] = (ct_point){tu_uniform(seed, 55.7, 55.8), tu_uniform(seed, 37.5, 37.7),
                                  tu_uniform(seed, 1, 3000), 1, 0};
            if (*np % 2) { /* decimal coordinates, as feeds give them: coded as integers */
                pts[*np].lat = round(pts[*np].lat * 1e6) / 1e6;
                pts[*np].lon = round(pts[*np].lon * 1e7) / 1e7;
                pts[*np].acc = round(pts[*np].acc);
            }
            ev[i].place = (*np)++;
            ev[i].kind = 1;
        } else {
            ev[i].place = (uint32_t)(tu_rand(seed) % 40);
            ev[i].kind = 0;
        }
    }
    return n;
}

/* Every listed cell's posting lists are exactly, hour by hour, the
 * subscribers (S0 indexes, ascending, once each) with an event there that
 * hour; a cell without events has none; and each subscriber's places
 * (ct__seg_sub_places) are its events' seconds and cells, to the first at
 * or after `until`. ev: the segment's events in S0 order. */
static void check_cells(const ct_segment *seg, const ct_event *ev, uint32_t n, const uint32_t *locs,
                        size_t n_locs)
{
    uint32_t *index = ct__calloc((size_t)n + 1, sizeof *index); /* each event's S0 index */
    for (uint32_t i = 0, s = 0; i < n; i++) {
        if (i > 0 && ev[i].sub != ev[i - 1].sub)
            s++;
        index[i] = s;
    }
    for (size_t k = 0; k < n_locs; k++) {
        uint32_t loc = locs[k], cell = ct__seg_cell_index(seg, loc), at_loc = 0;
        for (uint32_t i = 0; i < n; i++)
            at_loc += !ev[i].kind && ev[i].place == loc;
        if (!at_loc) {
            assert_int_equal(cell, seg->n_cells);
            continue;
        }
        assert_true(cell < seg->n_cells);
        assert_int_equal(seg->celldir[cell].loc, loc);
        for (uint32_t h = 0; h < CT_SEG_POSTING_LISTS; h++) {
            ct_postings p;
            uint32_t got_index, want_from = 0;
            ct__seg_postings(seg, cell, h, &p);
            for (;;) {
                /* the next subscriber (in S0 order) with an event here this hour */
                uint32_t want = UINT32_MAX;
                for (uint32_t i = want_from; i < n && want == UINT32_MAX; i++)
                    if (!ev[i].kind && ev[i].place == loc && ev[i].tod / CT_SEG_POSTING_S == h)
                        want = index[i];
                int got = ct__seg_postings_next(&p, &got_index);
                if (want == UINT32_MAX) {
                    assert_int_equal(got, 0);
                    break;
                }
                assert_int_equal(got, 1);
                assert_int_equal(got_index, want);
                while (want_from < n && index[want_from] <= want)
                    want_from++;
            }
        }
    }
    ct_sub_place *places = NULL;
    size_t cap = 0, got_n;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        while (j < n && ev[j].sub == ev[i].sub)
            j++;
        const uint32_t untils[] = {CT_DAY_S, ev[i].tod, ev[(i + j) / 2].tod + 1};
        for (size_t u = 0; u < 3; u++) {
            got_n = 0;
            assert_int_equal(ct__seg_sub_places(seg, index[i], 0, untils[u], &places, &cap, &got_n), 0);
            size_t want_n = 0;
            while (i + want_n < j && (want_n == 0 || ev[i + want_n - 1].tod < untils[u]))
                want_n++;
            assert_int_equal(got_n, want_n);
            for (size_t q = 0; q < got_n; q++) {
                assert_int_equal(places[q].tod, ev[i + q].tod);
                assert_int_equal(places[q].loc, ev[i + q].kind ? CT_LOC_NONE : ev[i + q].place);
            }
        }
        /* a read from a later second: the same events from there on */
        const uint32_t froms[] = {1, ev[i].tod, ev[(i + j) / 2].tod, ev[(i + j) / 2].tod + 1,
                                  ev[j - 1].tod, CT_DAY_S - 1};
        for (size_t f = 0; f < sizeof froms / sizeof froms[0]; f++) {
            uint32_t until = froms[f] + 7200, skip = i;
            got_n = 0;
            assert_int_equal(ct__seg_sub_places(seg, index[i], froms[f], until, &places, &cap, &got_n), 0);
            while (skip < j && ev[skip].tod < froms[f])
                skip++;
            size_t want_n = 0;
            while (skip + want_n < j && (want_n == 0 || ev[skip + want_n - 1].tod < until))
                want_n++;
            assert_int_equal(got_n, want_n);
            for (size_t q = 0; q < got_n; q++) {
                assert_int_equal(places[q].tod, ev[skip + q].tod);
                assert_int_equal(places[q].loc, ev[skip + q].kind ? CT_LOC_NONE : ev[skip + q].place);
            }
        }
        i = j;
    }
    ct__free(places);
    ct__free(index);
}

static void roundtrip(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("seg");
    uint64_t seed = 7;
    enum { N = 5000 };
    ct_event *ev = ct__calloc(N, sizeof *ev);
    ct_point *pts = ct__calloc(N, sizeof *pts);
    uint32_t np, n = make_events(&seed, ev, pts, N, &np);
    n = ct__seal_sort_unique(ev, n, pts, NULL);
    char path[4200];
    snprintf(path, sizeof path, "%s/d1.seg", dir);
    uint64_t size;
    uint32_t crc;
    ct_err err;
    assert_int_equal(ct__seg_write(path, 18000, ev, n, pts, &size, &crc, &err), CT_OK);
    ct_segment seg;
    assert_int_equal(ct__seg_open(path, 1, &seg, &err), CT_OK);
    assert_int_equal(seg.n_events, n);
    assert_true(seg.day == 18000);
    /* every subscriber's events come back in order, with their places */
    for (uint32_t i = 0; i < n;) {
        ct_sub_cursor c;
        ct_event e;
        ct_point pt;
        assert_true(ct__seg_sub_open(&seg, ev[i].sub, &c));
        uint32_t j = i;
        while (ct__seg_sub_next(&c, &e, &pt) == 1) {
            assert_true(j < n && ev[j].sub == ev[i].sub);
            assert_int_equal(e.tod, ev[j].tod);
            assert_int_equal(e.kind, ev[j].kind);
            if (e.kind)
                assert_memory_equal(&pt, &pts[ev[j].place], 24);
            else
                assert_int_equal(e.place, ev[j].place);
            j++;
        }
        assert_true(j == n || ev[j].sub != ev[i].sub);
        i = j;
    }
    /* every cell's postings, hour by hour, and every subscriber's places */
    uint32_t locs[41];
    for (uint32_t loc = 0; loc < 41; loc++)
        locs[loc] = loc; /* 40 has no events */
    check_cells(&seg, ev, n, locs, 41);
    uint32_t cell_events = 0;
    for (uint32_t i = 0; i < n; i++)
        cell_events += !ev[i].kind;
    assert_int_equal(cell_events, seg.n_cell_events);
    assert_int_equal(seg.version, 3);
    /* every point is in exactly one tile, with exact coordinates; a cursor
     * for part k of 3 over [from, until) gives exactly the points of
     * subscribers k modulo 3 in that window, the same, though it steps over
     * the others' coordinates */
    uint32_t tile_events = 0, part_events = 0, window_events = 0;
    for (uint32_t t = 0; t < seg.n_tiles; t++) {
        ct_place_cursor c;
        ct_place_entry e;
        ct__seg_tile_seek(&seg, t, 0, CT_DAY_S, 0, 1, &c);
        while (ct__seg_place_next(&c, &e) == 1) {
            int found = 0;
            for (uint32_t i = 0; i < n && !found; i++)
                found = ev[i].kind && ev[i].sub == e.sub && ev[i].tod == e.tod &&
                        memcmp(&pts[ev[i].place], &e.pt, 24) == 0;
            assert_true(found);
            tile_events++;
        }
        /* and one from a second on and to another, walked whole and cut */
        const uint32_t from = 3600 * (t % 8), until = from + 7200;
        for (uint32_t part = 0; part < 3; part++) {
            ct_place_cursor all, mine;
            ct_place_entry a, m;
            ct__seg_tile_seek(&seg, t, 0, CT_DAY_S, 0, 1, &all);
            ct__seg_tile_seek(&seg, t, from, until, part, 3, &mine);
            while (ct__seg_place_next(&all, &a) == 1) {
                if (a.sub % 3 != part || a.tod < from || a.tod >= until)
                    continue;
                assert_int_equal(ct__seg_place_next(&mine, &m), 1);
                assert_int_equal(m.sub, a.sub);
                assert_int_equal(m.tod, a.tod);
                assert_int_equal(m.gap, a.gap);
                assert_memory_equal(&m.pt, &a.pt, 24);
                part_events++;
            }
            assert_int_equal(ct__seg_place_next(&mine, &m), 0);
            assert_int_equal(ct__seg_place_next(&mine, &m), 0); /* and stays at its end */
        }
        ct_place_cursor whole;
        ct_place_entry w;
        ct__seg_tile_seek(&seg, t, 0, CT_DAY_S, 0, 1, &whole);
        while (ct__seg_place_next(&whole, &w) == 1)
            window_events += w.tod >= from && w.tod < until;
    }
    assert_int_equal(tile_events, seg.n_points);
    assert_int_equal(part_events, window_events);
    assert_true(window_events > 0 && window_events < seg.n_points);
    /* decode gives back exactly the events */
    ct_event *back;
    ct_point *bpts;
    uint32_t bn, bnp;
    assert_int_equal(ct__seg_decode(&seg, &back, &bn, &bpts, &bnp, &err), CT_OK);
    assert_int_equal(bn, n);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(back[i].sub, ev[i].sub);
        assert_int_equal(back[i].tod, ev[i].tod);
        assert_int_equal(back[i].kind, ev[i].kind);
        if (back[i].kind)
            assert_memory_equal(&bpts[back[i].place], &pts[ev[i].place], 24);
        else
            assert_int_equal(back[i].place, ev[i].place);
    }
    ct__free(back);
    ct__free(bpts);
    ct__seg_close(&seg);
    ct__free(ev);
    ct__free(pts);
    tu_rmtree(dir);
    free(dir);
}

/* Postings and places with subscriber ids and gaps wide enough to take
 * every varint length; subscriber lookups work on sparse ids. */
static void postings_with_sparse_ids(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("segbatch");
    uint64_t seed = 11;
    enum { N = 20000 };
    ct_event *ev = ct__calloc(N, sizeof *ev);
    for (uint32_t i = 0; i < N; i++) {
        uint64_t kind = tu_rand(&seed) % 3; /* dense low ids, sparse ones, dense high ids */
        ev[i].sub = (uint32_t)(kind == 0   ? tu_rand(&seed) % 1000
                               : kind == 1 ? tu_rand(&seed) % (1u << 22)
                                           : (1u << 22) - 1 - tu_rand(&seed) % 1000);
        ev[i].tod = (uint32_t)(tu_rand(&seed) % CT_DAY_S);
        ev[i].place = (uint32_t)(tu_rand(&seed) % 6);
    }
    uint32_t n = ct__seal_sort_unique(ev, N, NULL, NULL);
    char path[4200];
    snprintf(path, sizeof path, "%s/d.seg", dir);
    uint64_t size;
    uint32_t crc;
    ct_err err;
    assert_int_equal(ct__seg_write(path, 7, ev, n, NULL, &size, &crc, &err), CT_OK);
    ct_segment seg;
    assert_int_equal(ct__seg_open(path, 1, &seg, &err), CT_OK);
    /* sparse ids: the probe of ct__seg_sub_open must still find each one,
     * at its first event, and no id in between */
    for (uint32_t i = 0; i < n; i++) {
        ct_sub_cursor sc;
        ct_event first;
        ct_point pt;
        if (i > 0 && ev[i - 1].sub == ev[i].sub)
            continue;
        assert_true(ct__seg_sub_open(&seg, ev[i].sub, &sc));
        assert_int_equal(ct__seg_sub_next(&sc, &first, &pt), 1);
        assert_int_equal(first.tod, ev[i].tod);
        if (i > 0 && ev[i - 1].sub + 1 < ev[i].sub)
            assert_false(ct__seg_sub_open(&seg, ev[i].sub - 1, &sc));
    }
    ct_sub_cursor none;
    assert_false(ct__seg_sub_open(&seg, ev[n - 1].sub + 1, &none));
    /* postings of busy cells with ids of every varint length */
    uint32_t locs[] = {0, 1, 2, 3, 4, 5, 6};
    check_cells(&seg, ev, n, locs, 7);
    ct__seg_close(&seg);
    ct__free(ev);
    tu_rmtree(dir);
    free(dir);
}

static void sort_order_and_duplicates(void **state)
{
    (void)state;
    ct_point pts[4] = {{55.0, 37.0, 5, 1, 0}, {55.0, 37.0, 5, 1, 0}, {54.9, 37.0, 5, 1, 0}, {55.0, 37.0, 5, 2, 0}};
    ct_event ev[] = {
        {2, 100, 0, 1}, /* point (55,37) op 1 */
        {1, 100, 7, 0}, /* cell 7 */
        {2, 100, 3, 0}, /* cell 3: cells first at the same second */
        {2, 100, 1, 1}, /* the same point again: a duplicate */
        {2, 100, 2, 1}, /* point with smaller lat: before (55,37) */
        {2, 100, 3, 0}, /* cell 3 again: a duplicate */
        {2, 99, 9, 0},
        {2, 100, 3, 1}, /* same point, other operator: a different event */
    };
    uint32_t n = ct__seal_sort_unique(ev, 8, pts, NULL);
    assert_int_equal(n, 6);
    assert_int_equal(ev[0].sub, 1);
    assert_true(ev[1].sub == 2 && ev[1].tod == 99);
    assert_true(ev[2].kind == 0 && ev[2].place == 3);
    assert_true(ev[3].kind == 1 && pts[ev[3].place].lat == 54.9);
    assert_true(ev[4].kind == 1 && pts[ev[4].place].op == 1);
    assert_true(ev[5].kind == 1 && pts[ev[5].place].op == 2);
}

/* A compaction merges a day's runs part by part (ct__seal_merge_unique)
 * instead of sorting the day: the result must be the sort's, duplicates
 * across parts removed, whatever the parts hold. */
static void merging_parts_is_sorting_them(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        enum { N = 3000 };
        uint64_t rng = seed;
        ct_event *ev = ct__calloc(N, sizeof *ev), *all = ct__calloc(2 * N, sizeof *all);
        ct_event *scratch = ct__calloc(2 * N, sizeof *scratch);
        ct_point *pts = ct__calloc(N, sizeof *pts);
        uint32_t np, n = make_events(&rng, ev, pts, N, &np);
        /* 1 to 5 parts, each some of the events (an event may be in
         * several parts: stored twice), each sorted alone */
        uint32_t parts = 1 + (uint32_t)(tu_rand(&rng) % 5), part_end[8], total = 0;
        for (uint32_t p = 0; p < parts; p++) {
            uint32_t first = total;
            for (uint32_t i = 0; i < n; i++)
                if (tu_rand(&rng) % parts == p || tu_rand(&rng) % 20 == 0)
                    all[total++] = ev[i];
            total = first + ct__seal_sort_unique(all + first, total - first, pts, NULL);
            part_end[p] = total;
        }
        ct_event *want = ct__calloc(total + 1, sizeof *want);
        memcpy(want, all, (size_t)total * sizeof *want);
        uint32_t n_want = ct__seal_sort_unique(want, total, pts, NULL);
        uint32_t n_got = ct__seal_merge_unique(all, part_end, parts, pts, NULL, scratch);
        assert_int_equal(n_got, n_want);
        assert_memory_equal(all, want, (size_t)n_want * sizeof *want);
        /* a part out of order (a damaged run) is refused, not merged */
        if (n_got > 2) {
            ct_event swap = all[0];
            all[0] = all[1];
            all[1] = swap;
            uint32_t one[1] = {n_got};
            assert_int_equal(ct__seal_merge_unique(all, one, 1, pts, NULL, scratch), UINT32_MAX);
        }
        ct__free(want);
        ct__free(ev);
        ct__free(all);
        ct__free(scratch);
        ct__free(pts);
    }
}

/* The cell postings are filed by loc id with one counter a cell: high
 * ids, busy cells, and the consuming writer give the bytes of the plain
 * one; an id past CT_SEG_LOCS_MAX is refused, not allocated. */
static void cells_by_loc_id(void **state)
{
    (void)state;
    enum { HIGH_LOC = (1u << 20) - 1 }; /* a catalogue of a million cells */
    char *dir = tu_tmpdir("segloc");
    uint64_t seed = 5;
    enum { N = 4000 };
    ct_event *ev = ct__calloc(N, sizeof *ev);
    for (uint32_t i = 0; i < N; i++) {
        ev[i].sub = (uint32_t)(tu_rand(&seed) % 300);
        ev[i].tod = (uint32_t)(tu_rand(&seed) % 50) * 1700; /* ties at a cell */
        ev[i].place = i % 3 ? (uint32_t)(tu_rand(&seed) % 4) : HIGH_LOC - (uint32_t)(tu_rand(&seed) % 3);
    }
    uint32_t n = ct__seal_sort_unique(ev, N, NULL, NULL);
    char plain[4200], taken[4200];
    snprintf(plain, sizeof plain, "%s/plain.seg", dir);
    snprintf(taken, sizeof taken, "%s/taken.seg", dir);
    uint64_t size, size2;
    uint32_t crc, crc2;
    ct_err err;
    assert_int_equal(ct__seg_write(plain, 3, ev, n, NULL, &size, &crc, &err), CT_OK);
    ct_event *copy = ct__calloc(n, sizeof *copy);
    memcpy(copy, ev, (size_t)n * sizeof *ev);
    assert_int_equal(ct__seg_write_consuming(taken, 3, copy, n, NULL, &size2, &crc2, &err), CT_OK);
    char *a = NULL, *b = NULL;
    size_t la, lb;
    assert_int_equal(ct__fs_read_file(plain, 1 << 24, &a, &la, &err), CT_OK);
    assert_int_equal(ct__fs_read_file(taken, 1 << 24, &b, &lb, &err), CT_OK);
    assert_true(la == lb && size == size2 && crc == crc2);
    assert_memory_equal(a, b, la);
    /* each busy cell's postings, by its loc id, and cells without events */
    ct_segment seg;
    assert_int_equal(ct__seg_open(plain, 1, &seg, &err), CT_OK);
    uint32_t locs[] = {0, 3, 4, HIGH_LOC - 3, HIGH_LOC - 2, HIGH_LOC, HIGH_LOC + 1};
    check_cells(&seg, ev, n, locs, sizeof locs / sizeof *locs);
    ct__seg_close(&seg);
    ev[0].place = CT_SEG_LOCS_MAX;
    copy = ct__calloc(n, sizeof *copy);
    memcpy(copy, ev, (size_t)n * sizeof *ev);
    assert_int_equal(ct__seg_write(plain, 3, ev, n, NULL, &size, &crc, &err), CT_ELIMIT);
    assert_int_equal(ct__seg_write_consuming(taken, 3, copy, n, NULL, &size, &crc, &err), CT_ELIMIT);
    ev[0].place = UINT32_MAX - 1; /* no wrap past the limit's check */
    assert_int_equal(ct__seg_write(plain, 3, ev, n, NULL, &size, &crc, &err), CT_ELIMIT);
    ct__free(a);
    ct__free(b);
    ct__free(ev);
    tu_rmtree(dir);
    free(dir);
}

/* A day's runs read as one (ct__day_merged): subscribers interleave
 * across runs, some events are in two runs; the day must be the sort of
 * them all. A run that does not match its manifest entry is refused. */
static void day_of_runs_is_merged(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("segruns");
    ct_store st = {.dir = dir};
    uint64_t seed = 21;
    enum { N = 6000, RUNS = 3 };
    ct_event *ev = ct__calloc(N, sizeof *ev), *part = ct__calloc(N, sizeof *part);
    ct_event *want = ct__calloc(RUNS * N, sizeof *want);
    ct_point *pts = ct__calloc(N, sizeof *pts);
    uint32_t np, n = make_events(&seed, ev, pts, N, &np), n_want = 0;
    ct_store_day d;
    ct_err err;
    for (uint32_t r = 0; r < RUNS; r++) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++) /* run r: subscribers r, r + 3, ... and some others' events */
            if (ev[i].sub % RUNS == r || tu_rand(&seed) % 10 == 0)
                part[k++] = ev[i];
        k = ct__seal_sort_unique(part, k, pts, NULL);
        memcpy(want + n_want, part, (size_t)k * sizeof *part);
        n_want += k;
        ct_store_run run = {.events = k};
        snprintf(run.file, sizeof run.file, "d4-g%u.seg", r + 1);
        char *path = ct__store_path(&st, run.file);
        assert_int_equal(ct__seg_write(path, 4, part, k, pts, &run.bytes, &run.crc, &err), CT_OK);
        ct__free(path);
        if (r == 0)
            ct__store_day_single(&d, 4, &run);
        else
            ct__store_day_add_run(&d, &run);
    }
    n_want = ct__seal_sort_unique(want, n_want, pts, NULL);
    assert_true(n_want < d.events); /* some events were in two runs */
    ct_event *got;
    ct_point *got_pts;
    uint32_t n_got;
    assert_int_equal(ct__day_merged(&st, &d, 1, NULL, &got, &n_got, &got_pts, NULL, &err), CT_OK);
    assert_int_equal(n_got, n_want);
    for (uint32_t i = 0; i < n_got; i++) {
        assert_true(got[i].sub == want[i].sub && got[i].tod == want[i].tod && got[i].kind == want[i].kind);
        if (got[i].kind)
            assert_memory_equal(&got_pts[got[i].place], &pts[want[i].place], sizeof *pts);
        else
            assert_int_equal(got[i].place, want[i].place);
    }
    ct__free(got);
    ct__free(got_pts);
    d.run[1].events++; /* the manifest says more than the file holds */
    assert_int_equal(ct__day_merged(&st, &d, 0, NULL, &got, &n_got, &got_pts, NULL, &err), CT_ECORRUPT);
    ct__free(ev);
    ct__free(part);
    ct__free(want);
    ct__free(pts);
    tu_rmtree(dir);
    free(dir);
}

static void damaged_files_are_refused(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("segbad");
    uint64_t seed = 9;
    enum { N = 800 };
    ct_event ev[N];
    ct_point pts[N];
    uint32_t np, n = make_events(&seed, ev, pts, N, &np);
    n = ct__seal_sort_unique(ev, n, pts, NULL);
    char path[4200];
    snprintf(path, sizeof path, "%s/d.seg", dir);
    uint64_t size;
    uint32_t crc;
    ct_err err;
    assert_int_equal(ct__seg_write(path, 1, ev, n, pts, &size, &crc, &err), CT_OK);
    char *orig = NULL;
    size_t len;
    assert_int_equal(ct__fs_read_file(path, 1 << 24, &orig, &len, &err), CT_OK);
    /* the span from the header alone is the open's */
    ct_segment good;
    uint32_t from, to, span_from, span_to;
    assert_int_equal(ct__seg_open(path, 1, &good, &err), CT_OK);
    span_from = good.tod_from;
    span_to = good.tod_to;
    ct__seg_close(&good);
    assert_true(span_to > 0);
    assert_int_equal(ct__seg_read_span(path, &from, &to, &err), CT_OK);
    assert_int_equal(from, span_from);
    assert_int_equal(to, span_to);
    /* flip one byte at many places: header damage fails the open, body
     * damage fails the full check; the span read refuses any damage to
     * the header, and past it never gives another span */
    for (size_t off = 0; off < len; off += (off < 4096 ? 1 : 1 + len / 97)) {
        char *copy = ct__malloc(len);
        memcpy(copy, orig, len);
        copy[off] ^= 0x5a;
        assert_int_equal(ct__fs_write_file(path, copy, len, 0600, &err), CT_OK);
        ct_segment seg;
        assert_int_equal(ct__seg_open(path, 1, &seg, &err), CT_ECORRUPT);
        ct_code rc = ct__seg_read_span(path, &from, &to, &err);
        if (off < CT_SEG_HEADER) /* the header crc covers every byte of it */
            assert_int_equal(rc, CT_ECORRUPT);
        if (rc == CT_OK) {
            assert_int_equal(from, span_from);
            assert_int_equal(to, span_to);
        } else {
            assert_int_equal(rc, CT_ECORRUPT);
        }
        ct__free(copy);
    }
    /* truncated at any length */
    for (size_t cut = 0; cut < len; cut += 1 + len / 31) {
        assert_int_equal(ct__fs_write_file(path, orig, cut, 0600, &err), CT_OK);
        ct_segment seg;
        assert_int_not_equal(ct__seg_open(path, 0, &seg, &err), CT_OK);
        assert_int_equal(ct__seg_read_span(path, &from, &to, &err), CT_ECORRUPT);
    }
    unlink(path);
    assert_int_equal(ct__seg_read_span(path, &from, &to, &err), CT_ENOTFOUND);
    ct__free(orig);
    tu_rmtree(dir);
    free(dir);
}

/* The one radix sort (radix.h), below and above CT_RADIX_SMALL, against a
 * plain stable sort: qsort by (key, original position). */
typedef struct keyed {
    uint64_t key;
    uint64_t at; /* 64 bits: no padding for assert_memory_equal to trip on */
} keyed;
static uint64_t keyed_key(const keyed *k)
{
    return k->key;
}
CT_RADIX_SORT_DEFINE(sort_keyed, keyed, keyed_key)
static int by_key_then_position(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}
static void radix_sort_is_stable_at_every_size(void **state)
{
    (void)state;
    uint64_t seed = 7;
    enum { MAX = 300 };
    keyed a[MAX], want[MAX], tmp[MAX];
    uint32_t *count = ct__calloc(CT_RADIX_BUCKETS, sizeof *count);
    for (size_t n = 0; n <= MAX; n++) {
        for (int range = 0; range < 3; range++) {
            for (size_t i = 0; i < n; i++) {
                uint64_t r = tu_rand(&seed);
                /* few distinct keys (ties), 16-bit keys, and keys over all 64 bits */
                a[i].key = range == 0 ? r % 5 : range == 1 ? r % 65536 : r ^ (r << 29);
                a[i].at = i;
            }
            memcpy(want, a, n * sizeof *a);
            qsort(want, n, sizeof *want, by_key_then_position);
            int small = !CT_RADIX_NEEDS_SCRATCH(n);
            assert_int_equal(small, n < CT_RADIX_SMALL);
            sort_keyed(a, small ? NULL : tmp, n, 64, small ? NULL : count);
            assert_memory_equal(a, want, n * sizeof *a);
        }
    }
    ct__free(count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip),
        cmocka_unit_test(radix_sort_is_stable_at_every_size),
        cmocka_unit_test(postings_with_sparse_ids),
        cmocka_unit_test(sort_order_and_duplicates),
        cmocka_unit_test(merging_parts_is_sorting_them),
        cmocka_unit_test(cells_by_loc_id),
        cmocka_unit_test(day_of_runs_is_merged),
        cmocka_unit_test(damaged_files_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
