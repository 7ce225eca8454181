/*
 * trace.c — the contacts of one case, exactly as SPEC section 4 defines.
 *
 * 1. The case's presence intervals: its events from max_presence_s before
 *    the infectious window W to its end, each P_i = [t_i, min(t_next,
 *    t_i + max_presence_s)), cut to W. t_next comes from the same day's
 *    subscriber section, or from the first event of a later day.
 *    Consecutive intervals at the same place that touch are joined.
 * 2. All the case's intervals are collected first. For each interval I
 *    (disk c, r) the candidates are events that started in
 *    (I.start - max_presence_s, I.end), so their presence can overlap I.
 *    Cells: the catalogue's grid gives the cells co-located with I's disk
 *    (once per distinct cell of the case). The (cell, interval) links are
 *    grouped by cell, and a cell's intervals whose windows overlap or
 *    touch form a run, read once over the union of their windows. Then
 *    day by day: each run's cell names, in its posting lists (segment.h),
 *    the subscribers with an event there in the hours of the run's window;
 *    each of them is decoded once from its own stream (S0 order, so the
 *    day's streams are read front to back) and every event of it at a
 *    run's cell, inside that run's window, is matched against the run's
 *    intervals (match_entry). Points come from the tile section, per
 *    interval, at every grid level, checked with the exact distance test.
 * 3. Each (case interval, candidate) pair is counted once: a candidate
 *    lives in exactly one day and one cell or tile; a cell's runs have
 *    disjoint windows, so an event is in at most one of them; a subscriber
 *    is decoded once a day; and an event meets each interval it reaches
 *    once (match_entry). Its overlap |P_i ∩ P_j ∩ W| is added to the
 *    candidate's subscriber in a hash map, with the earliest start, the
 *    latest end and the smallest r_a+r_b (a subscriber's consecutive
 *    overlaps summed first, the sums queued in small batches whose table
 *    slots are prefetched). Nothing summed depends on the order or the
 *    grouping of the overlaps: seconds are integers, and the scorer's
 *    expected seconds are summed in fixed point (fixedsum.h).
 * 4. Subscribers with X >= min_exposure_s (and X > 0) are the contacts;
 *    their numbers come from the vault, and the read is audited.
 * 5. On several threads (ct_set_trace_threads), steps 2 to 4 run in
 *    parts, each taking the candidates of the subscribers whose id is its
 *    number modulo the parts, as a cluster's shards take theirs: the same
 *    pairs, each counted once, summed by the one part that owns the
 *    subscriber; the contacts are then joined and sorted (trace_in_parts).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cases.h"
#include "celltrace_cluster.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "geo.h"
#include "proximity.h"
#include "risk.h"
#include "score.h"
#include "segment.h"
#include "subscribers.h"
#include "textparse.h"
#include "tzone.h"
#include "radix.h"
#include "scan.h"
#include "u32map.h"
#include "sqlvfs.h"

/* 32 bytes, two to a cache line: the table is probed once per overlap at
 * random, so its size decides how much of it stays in cache. total fits 32
 * bits because a subscriber's presences never overlap: X is at most the
 * span of the stored days (136 years would be needed to overflow). */
typedef struct exposure {
    uint32_t sub; /* the key (u32map.h): first */
    uint32_t total;
    int64_t first, last;
    double min_radius;
} exposure;

/* One overlap of a candidate's presence with a case interval. */
typedef struct overlap {
    int64_t start, end;
    double radius;
    double near_p; /* scoring: the probability of being within D */
    uint32_t sub;
    uint32_t iv;   /* scoring: the case interval */
    uint32_t kind; /* scoring: CT__KIND_* */
} overlap;

/* Consecutive overlaps of one subscriber (with scoring, of one visit of
 * the case) summed before they reach the table: a subscriber's overlaps
 * of a day come one after another, so the table is probed once for them
 * all, not once each. The sums are queued and their table slots
 * prefetched, so the cache misses of a batch are waited for together
 * instead of one by one. */
enum { OVERLAP_BATCH = 32 };
typedef struct overlap_sum {
    uint32_t sub; /* UINT32_MAX: no sum */
    uint32_t iv;  /* its first overlap's interval (scoring: the visit is iv's) */
    ct__episode_part part;
} overlap_sum;

/* A (case interval, candidate presence) pair as the trace matched it, kept
 * for the floor (ct_trace_floor): the kernel is then timed on these alone. */
typedef struct floor_pair {
    int64_t ts, end;
    double radius;
    uint32_t iv, sub;
} floor_pair;

enum { FLOOR_PAIRS_MAX = 32u << 20 }; /* 32 bytes each: 1 GiB */

typedef ct__case_interval case_interval;

/* The cells co-located with a disk; with scoring, also the probability
 * that a phone in each was within D of one in the disk. */
typedef struct colocated {
    uint32_t *locs;
    double *radii, *near_p;
    uint32_t n;
    size_t cap;
    int scoring;
    int inside; /* an area query: near_p is the share of the cell inside the disk */
    double d_max;
    const case_interval *query; /* the disk being asked about */
} colocated;

/* Cell loc is co-located with case interval iv; rsum = r_case + r_cell;
 * end is the interval's (copied: the scan's searches read it at every
 * candidate, and a run's links are then one array to search). */
typedef struct cell_link {
    uint32_t loc, iv;
    double rsum;
    double near_p;
    int64_t end;
} cell_link;

/* The cells co-located with one cell of the case: near.locs[first..+n). */
typedef struct near_range {
    uint32_t loc, first, n;
} near_range;

typedef struct tracer {
    ct_db *db;
    ct_params p;
    uint32_t case_sub;
    int64_t w_start, w_end;
    ct_u32map exp;   /* exposure by subscriber (u32map.h) */
    colocated near;  /* co-located cells, for all the case's cells in turn */
    case_interval *ivs; /* the case's intervals, in time order */
    size_t n_ivs, ivs_cap;
    case_interval pending; /* the case's interval being extended */
    int has_pending;
    overlap_sum queue[OVERLAP_BATCH];
    unsigned queued;
    overlap_sum summing; /* the sum being made */
    ct_contacts *out;
    struct floor_pair *pairs; /* trace --floor: every pair matched, kept */
    size_t n_pairs, cap_pairs;
    ct_err *err;
    ct_code failed;
    int stale; /* a segment names a cell newer than our catalogue */
    ct__scorer *scorer; /* NULL: a plain SPEC 4 trace */
    const ct_risk_opts *risk;
    ct__score_params risk_params;
    uint32_t explain_sub;   /* UINT32_MAX: no --explain */
    ct__overlap_detail *details; /* the explained subscriber's overlaps */
    size_t n_details, cap_details;
    const ct__disk_scan *area; /* an area query (scan.h): overlaps go to its fn */
    int floor;                 /* ct_trace_floor: keep every pair matched */
    uint32_t part, parts;      /* a trace on `parts` threads: this one's subscribers (ours) */
    const struct scan_days *days; /* a part: the only segments it reads (days_of_scan) */
} tracer;

/* What the calling thread of a trace on several threads looked up, before
 * its parts start, for each day they may read, [first, first + n): the
 * segment (NULL where the store has no such day), or the failure to open
 * it, and whether it names cells the catalogue lacks. A part meets these
 * only if it reads the day, as one thread would (day_segment). */
typedef struct day_lookup {
    const ct_segment *seg;
    ct_code rc;
    int stale;
    ct_err err; /* rc's message */
} day_lookup;

typedef struct scan_days {
    int64_t first;
    size_t n;
    day_lookup *day;
} scan_days;

/* Whether segment seg names cells imported after the catalogue was loaded. */
static int names_new_cells(const tracer *t, const ct_segment *seg)
{
    return seg->n_cells && seg->celldir[seg->n_cells - 1].loc >= ct__catalog_cell_count(t->db->cat);
}

/* Whether subscriber sub's candidates are this tracer's: a trace on
 * several threads splits them by subscriber (ct__sub_in_part), so that
 * every subscriber's overlaps are summed by one thread (trace_in_parts). */
static inline int ours(const tracer *t, uint32_t sub)
{
    return ct__sub_in_part(sub, t->part, t->parts);
}

/* ---- segments by day --------------------------------------------------------- */

static const ct_segment *day_segment(tracer *t, int64_t day)
{
    if (t->days && day >= 0) { /* a part of a trace on several threads: no lookup in the handle */
        if (day < t->days->first || day - t->days->first >= (int64_t)t->days->n) {
            if (!t->failed) /* days_of_scan's range is wrong: a bug */
                t->failed = ct__fail(t->err, CT_ECORRUPT, "internal error: a part of the trace read day"
                                     " %lld, which was not looked up for it", (long long)day);
            return NULL;
        }
        const day_lookup *d = &t->days->day[day - t->days->first];
        if (d->rc && !t->failed) {
            *t->err = d->err;
            t->failed = d->rc;
        }
        t->stale |= d->stale;
        return d->seg;
    }
    ct_code rc;
    const ct_segment *seg = day < 0 ? NULL : ct__db_segment_cells(t->db, day, &rc, t->err);
    if (!seg) {
        if (day >= 0 && rc && !t->failed)
            t->failed = rc;
        return NULL;
    }
    if (names_new_cells(t, seg))
        t->stale = 1; /* cells imported after we loaded the catalogue */
    return seg;
}

/* A stream of a segment that opened fine does not decode: the file was
 * damaged after it was written (sealing verifies every checksum). */
static void damaged(tracer *t, const ct_segment *seg)
{
    if (!t->failed)
        t->failed = ct__fail(t->err, CT_ECORRUPT,
                             "the segment of day %lld is damaged; run `celltrace check`",
                             (long long)seg->day);
}

/* End of presence of sub's event at ts whose gap is open (last of its day). */
static int64_t open_end(tracer *t, uint32_t sub, int64_t day, int64_t ts)
{
    int64_t cap = ts + t->p.max_presence_s;
    for (int64_t d = day + 1; d * CT_DAY_S < cap; d++) {
        const ct_segment *seg = day_segment(t, d);
        ct_sub_cursor c;
        ct_event e;
        ct_point pt;
        if (seg && ct__seg_sub_open(seg, sub, &c)) {
            if (ct__seg_sub_next(&c, &e, &pt) != 1) {
                damaged(t, seg);
                return cap;
            }
            int64_t next = d * CT_DAY_S + e.tod;
            return next < cap ? next : cap;
        }
    }
    return cap;
}

static int64_t presence_end(tracer *t, uint32_t sub, int64_t day, int64_t ts, uint32_t gap)
{
    if (gap == CT_GAP_OPEN)
        return open_end(t, sub, day, ts);
    return ts + (gap < t->p.max_presence_s ? (int64_t)gap : t->p.max_presence_s);
}

/* ---- exposures ----------------------------------------------------------------- */

static void add_exposure(tracer *t, uint32_t sub, const ct__episode_part *p)
{
    int added;
    exposure *e = ct__u32map_put(&t->exp, sub, &added);
    if (added) {
        e->first = p->first;
        e->last = p->last;
        e->min_radius = p->min_radius;
    }
    e->total += p->seconds;
    if (p->first < e->first)
        e->first = p->first;
    if (p->last > e->last)
        e->last = p->last;
    if (p->min_radius < e->min_radius)
        e->min_radius = p->min_radius;
}

static void drain_sums(tracer *t)
{
    for (unsigned i = 0; i < t->queued; i++) {
        const overlap_sum *q = &t->queue[i];
        if (t->scorer)
            ct__scorer_add_part(t->scorer, q->sub, q->iv, &q->part);
        else
            add_exposure(t, q->sub, &q->part);
    }
    t->queued = 0;
}

/* Queues the sum being made, if any. */
static void close_sum(tracer *t)
{
    overlap_sum *s = &t->summing;
    if (s->sub == UINT32_MAX)
        return;
    if (t->queued == OVERLAP_BATCH)
        drain_sums(t);
    t->queue[t->queued++] = *s;
    if (t->scorer)
        ct__scorer_prefetch(t->scorer, s->sub, s->iv);
    else if (t->exp.cap)
        __builtin_prefetch(ct__u32map_at(&t->exp, ct__u32map_home(&t->exp, s->sub)), 1);
    s->sub = UINT32_MAX;
}

/* Every overlap counted so far, into the table (or the scorer). */
static void flush_overlaps(tracer *t)
{
    close_sum(t);
    drain_sums(t);
}

/* Adds overlap o to the sum being made when it is of the same subscriber
 * (scoring: and the same visit); else queues that sum and starts o's. */
static void sum_overlap(tracer *t, const overlap *o)
{
    overlap_sum *s = &t->summing;
    t->out->overlaps++;
    if (s->sub != o->sub || (t->scorer && t->ivs[s->iv].visit != t->ivs[o->iv].visit)) {
        close_sum(t);
        s->sub = o->sub;
        s->iv = o->iv;
        ct__episode_part_start(&s->part, o->start, o->end, o->radius);
    } else {
        ct__episode_part_grow(&s->part, o->start, o->end, o->radius);
    }
    if (t->scorer)
        ct__scorer_part_note(t->scorer, &s->part, o->start, o->end, o->near_p, o->kind);
}

/* Where a candidate event was: a cell (loc), or a point. */
typedef struct place_ref {
    uint32_t loc;
    const ct_point *pt;
} place_ref;

/* The explained subscriber's overlap, kept with where it happened. */
static void keep_detail(tracer *t, const overlap *o, int64_t ts, place_ref where)
{
    CT_GROW(t->details, t->n_details + 1, t->cap_details);
    ct__overlap_detail *d = &t->details[t->n_details++];
    *d = (ct__overlap_detail){.iv = o->iv, .loc = where.loc, .kind = o->kind,
                              .visit = t->ivs[o->iv].visit, .seq = (uint32_t)t->n_details - 1,
                              .start = o->start,
                              .end = o->end, .event_ts = ts, .radius_sum = o->radius,
                              .near_p = o->near_p};
    if (where.pt) {
        d->lat = where.pt->lat;
        d->lon = where.pt->lon;
        d->radius = where.pt->acc;
        d->op = where.pt->op;
    }
}

/* Queues sub's presence [ts, end) cut to case interval iv, if not empty;
 * with scoring, near_p and kind weigh it and a shared move is noted. */
static void overlap_interval(tracer *t, uint32_t iv, uint32_t sub, int64_t ts, int64_t end,
                             double radius_sum, double near_p, uint32_t kind, place_ref where)
{
    const case_interval *ci = &t->ivs[iv];
    if (t->floor && t->n_pairs < FLOOR_PAIRS_MAX) {
        CT_GROW(t->pairs, t->n_pairs + 1, t->cap_pairs);
        t->pairs[t->n_pairs++] = (floor_pair){ts, end, radius_sum, iv, sub};
    } else if (t->floor && !t->failed) {
        t->failed = ct__fail(t->err, CT_EINVAL, "--floor keeps at most %u pairs (1 GiB); this case "
                             "has more", (unsigned)FLOOR_PAIRS_MAX);
    }
    int64_t a = ts > ci->start ? ts : ci->start, b = end < ci->end ? end : ci->end;
    if (b <= a)
        return;
    if (t->area) {
        t->out->overlaps++;
        ct__where at = {where.loc, where.pt ? where.pt->lat : 0.0, where.pt ? where.pt->lon : 0.0};
        t->area->fn(t->area->ud, sub, a, b, radius_sum, near_p, &at);
        return;
    }
    overlap o = {a, b, radius_sum, near_p, sub, iv, kind};
    sum_overlap(t, &o);
    if (!t->scorer)
        return;
    if (ct__scorer_is_move(t->scorer, ci, ts, t->risk_params.comove_window_s))
        ct__scorer_move(t->scorer, sub, iv);
    if (sub == t->explain_sub)
        keep_detail(t, &o, ts, where);
}

/* The earliest start of an event whose presence can reach an interval
 * that starts at `start`. */
static int64_t reach_from(const tracer *t, int64_t start)
{
    return start - t->p.max_presence_s + 1;
}

/* The times of day of `day` that fall in [from, to): [*lo, *hi). */
static void day_part(int64_t day, int64_t from, int64_t to, uint32_t *lo, uint32_t *hi)
{
    int64_t base = day * CT_DAY_S;
    *lo = from > base ? (uint32_t)(from - base) : 0;
    *hi = to - base < CT_DAY_S ? (uint32_t)(to - base) : CT_DAY_S;
}

/* A point candidate of another subscriber, co-located with interval iv
 * at centre distance dist. */
static void consider(tracer *t, uint32_t iv, uint32_t sub, int64_t day, const ct_place_entry *e,
                     double dist)
{
    if (sub == t->case_sub)
        return;
    t->out->candidates++;
    const case_interval *ci = &t->ivs[iv];
    int64_t ts = day * CT_DAY_S + e->tod;
    int64_t end = presence_end(t, sub, day, ts, e->gap);
    double near_p = 0.0, radius = ci->radius + e->pt.acc;
    uint32_t kind = ci->loc == CT_LOC_NONE ? CT__KIND_POINT_POINT : CT__KIND_CELL_POINT;
    if (t->area) {
        near_p = ct__inside_probability(dist, ci->radius, e->pt.acc);
        radius = e->pt.acc; /* the phone's own precision */
    } else if (t->scorer && end > ci->start && ts < ci->end) {
        near_p = ct__near_probability(dist, ci->radius, e->pt.acc, t->p.contact_distance_m);
    }
    overlap_interval(t, iv, sub, ts, end, radius, near_p, kind, (place_ref){CT_LOC_NONE, &e->pt});
}

/* ---- candidates ------------------------------------------------------------------ */

static void collect_near(void *ud, uint32_t loc, const ct_cell *cell)
{
    colocated *c = ud;
    size_t cap = c->cap, cap2 = c->cap;
    CT_GROW(c->locs, c->n + 1, cap);
    CT_GROW(c->near_p, c->n + 1, cap2);
    CT_GROW(c->radii, c->n + 1, c->cap);
    c->locs[c->n] = loc;
    c->radii[c->n] = cell->radius;
    double near_p = 0.0;
    if (c->scoring || c->inside) {
        double dist = ct__distance_m(c->query->lat, c->query->lon, cell->lat, cell->lon);
        near_p = c->inside ? ct__inside_probability(dist, c->query->radius, cell->radius)
                           : ct__near_probability(dist, c->query->radius, cell->radius, c->d_max);
    }
    c->near_p[c->n++] = near_p;
}

/* Appends the cells co-located with ci's disk to t->near. */
static void find_colocated_cells(tracer *t, const case_interval *ci)
{
    t->near.scoring = t->scorer != NULL;
    t->near.inside = t->area != NULL;
    t->near.d_max = t->p.contact_distance_m;
    t->near.query = ci;
    ct__catalog_colocated(t->db->cat, ci->lat, ci->lon, ci->radius, t->p.contact_distance_m,
                          collect_near, &t->near);
}

/* Orders (loc, interval) pairs by loc, then interval. */
static int cmp_link(const void *a, const void *b)
{
    const cell_link *x = a, *y = b;
    if (x->loc != y->loc)
        return x->loc < y->loc ? -1 : 1;
    return x->iv < y->iv ? -1 : x->iv > y->iv;
}

static const near_range *near_of(const near_range *r, size_t n, uint32_t loc)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].loc < loc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return &r[lo]; /* present: every cell of the case has a range */
}

static uint32_t link_loc(const cell_link *l)
{
    return l->loc;
}

CT_RADIX_SORT_DEFINE(sort_by_loc, cell_link, link_loc)

/* Links by cell, stably (radix.h): passes whose digit is the same for
 * every link are skipped, so the cost follows the links, not the size of
 * the catalogue. Returns links, sorted. */
static cell_link *sort_links_by_cell(cell_link *links, size_t n)
{
    if (!CT_RADIX_NEEDS_SCRATCH(n)) {
        sort_by_loc(links, NULL, n, 32, NULL);
        return links;
    }
    cell_link *tmp = ct__malloc((n + 1) * sizeof *tmp);
    uint32_t *count = ct__malloc(CT_RADIX_BUCKETS * sizeof *count);
    sort_by_loc(links, tmp, n, 32, count);
    ct__free(count);
    ct__free(tmp);
    return links;
}

/* Every (co-located cell, case interval) pair, grouped by cell and, within
 * a cell, in time order. The grid is asked once per distinct cell of the
 * case (a case goes back and forth between few cells) and once per point
 * interval. */
static cell_link *link_cells(tracer *t, size_t *n_links)
{
    cell_link *own = ct__malloc((t->n_ivs + 1) * sizeof *own); /* the case's cells */
    size_t n_own = 0;
    for (size_t i = 0; i < t->n_ivs; i++)
        if (t->ivs[i].loc != CT_LOC_NONE)
            own[n_own++] = (cell_link){t->ivs[i].loc, (uint32_t)i, 0, 0, t->ivs[i].end};
    qsort(own, n_own, sizeof *own, cmp_link);
    near_range *ranges = ct__malloc((n_own + 1) * sizeof *ranges);
    size_t n_ranges = 0;
    t->near.n = 0;
    for (size_t i = 0; i < n_own; i++) {
        if (n_ranges && ranges[n_ranges - 1].loc == own[i].loc)
            continue;
        uint32_t first = t->near.n;
        find_colocated_cells(t, &t->ivs[own[i].iv]);
        ranges[n_ranges++] = (near_range){own[i].loc, first, t->near.n - first};
    }
    ct__free(own);

    /* Links in interval order, then a stable sort by cell. */
    cell_link *links = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < t->n_ivs; i++) {
        const case_interval *ci = &t->ivs[i];
        uint32_t first, count;
        if (ci->loc != CT_LOC_NONE) {
            const near_range *r = near_of(ranges, n_ranges, ci->loc);
            first = r->first;
            count = r->n;
        } else {
            first = t->near.n;
            find_colocated_cells(t, ci);
            count = t->near.n - first;
        }
        CT_GROW(links, n + count, cap);
        for (uint32_t k = first; k < first + count; k++) {
            /* an area query reports the phone's own radius, a trace r_a + r_b */
            double radius = t->area ? t->near.radii[k] : ci->radius + t->near.radii[k];
            links[n++] = (cell_link){t->near.locs[k], (uint32_t)i, radius, t->near.near_p[k], ci->end};
        }
        if (ci->loc == CT_LOC_NONE)
            t->near.n = first; /* a point's cells are not asked again */
    }
    ct__free(ranges);
    *n_links = n;
    return sort_links_by_cell(links, n);
}

/* The first of a run's n intervals that ends after ts (n if none). The
 * search has no branch on the data: it runs once per candidate event,
 * and which half holds the answer is a coin toss the processor cannot
 * learn, so a branch on it is mispredicted half the time. */
static size_t first_not_ended(const cell_link *l, size_t n, int64_t ts)
{
    if (n == 0)
        return 0;
    const cell_link *base = l;
    while (n > 1) { /* the answer is in [base, base + n] */
        size_t half = n / 2;
        base = base[half].end <= ts ? base + half : base;
        n -= half;
    }
    return (size_t)(base - l) + (base->end <= ts);
}

/* An entry of cell `l->loc`: its overlaps with the run's n intervals,
 * from the first that has not ended before the entry's start. */
static void match_entry(tracer *t, const cell_link *l, size_t n, int64_t day, const ct_cell_entry *e)
{
    if (e->sub == t->case_sub)
        return;
    t->out->candidates++;
    int64_t ts = day * CT_DAY_S + e->tod;
    size_t at = first_not_ended(l, n, ts);
    if (at == n || t->ivs[l[at].iv].start >= ts + t->p.max_presence_s)
        return; /* between two of the case's visits: its presence cannot reach */
    int64_t end = presence_end(t, e->sub, day, ts, e->gap);
    for (size_t k = at; k < n; k++) {
        const case_interval *ci = &t->ivs[l[k].iv];
        if (ci->start >= end)
            break;
        uint32_t kind = ci->loc == CT_LOC_NONE ? CT__KIND_CELL_POINT : CT__KIND_CELL_CELL;
        overlap_interval(t, l[k].iv, e->sub, ts, end, l[k].rsum, l[k].near_p, kind,
                         (place_ref){l[k].loc, NULL});
    }
}

/* ---- candidates at cells ------------------------------------------------------------- */

/* A cell run: links of one cell whose intervals' windows (start -
 * max_presence_s, end) overlap or touch, scanned as one window [from, to). */
typedef struct cell_run {
    const cell_link *l;
    size_t n;
    int64_t from, to;
} cell_run;

static uint32_t u32_value(const uint32_t *v)
{
    return *v;
}

/* 8-bit digits: a pass scatters into 256 places, which stay in cache */
CT_RADIX_SORT_DEFINE_DIGITS(sort_u32, uint32_t, u32_value, 8)

/* The runs of one cell that reach into the day being scanned:
 * active[first..first + count), in time order; `day` says which day the
 * entry is for (a table by loc id, kept from day to day). */
typedef struct cell_runs_today {
    uint32_t day, first, count;
} cell_runs_today;

/* A run that reaches into the day, with its part of it [lo, hi). */
typedef struct active_run {
    uint32_t run, lo, hi;
} active_run;

/* What a scan of cells keeps from day to day (reused, so its memory is
 * touched once): the runs, those of the day and their cells, the
 * subscribers the day's postings name (marked once each), and one
 * subscriber's decoded day. */
typedef struct cell_scan {
    cell_run *runs;
    size_t n_runs, cap_runs;
    active_run *active;
    size_t n_active, cap_active;
    cell_runs_today *cells; /* by loc id */
    size_t n_cells;
    uint32_t day_stamp;
    uint32_t *subs, *tmp;
    size_t n_subs, cap_subs, cap_tmp;
    uint32_t *mark;
    uint32_t *from;  /* by S0 index: the earliest start of the windows that named it */
    uint32_t *until; /* by S0 index: the latest end of the windows that named it */
    size_t cap_mark;
    uint32_t stamp;
    ct_sub_place *ev;
    size_t n_ev, cap_ev;
} cell_scan;

/* The links of one cell: intervals whose windows (start - max_presence_s,
 * end) overlap or touch form one run. A cell's runs are therefore
 * disjoint, and they are added cell by cell in time order. */
static void add_cell_runs(tracer *t, cell_scan *cs, const cell_link *l, size_t n)
{
    for (size_t i = 0; i < n;) {
        int64_t from = reach_from(t, t->ivs[l[i].iv].start);
        int64_t to = t->ivs[l[i].iv].end;
        size_t j = i + 1;
        while (j < n && reach_from(t, t->ivs[l[j].iv].start) <= to)
            to = t->ivs[l[j++].iv].end; /* intervals are disjoint and in order */
        CT_GROW(cs->runs, cs->n_runs + 1, cs->cap_runs);
        cs->runs[cs->n_runs++] = (cell_run){l + i, j - i, from < 0 ? 0 : from, to};
        i = j;
    }
}

/* Marks, and lists once, the subscribers with an event at active run a's
 * cell in the hours its part of the day covers (S0 indexes). A posting
 * list names those with an event at the cell in its hour (FORMAT.md, S4),
 * so the events a run can match of a subscriber it names lie in the
 * hours that named it: the window to decode is that hour's part of the
 * run, not the whole run, which for a night at home is most of the day. */
static void collect_postings(tracer *t, cell_scan *cs, const ct_segment *seg, const active_run *a)
{
    uint32_t cell = ct__seg_cell_index(seg, cs->runs[a->run].l->loc);
    if (cell == seg->n_cells)
        return;
    for (uint32_t h = a->lo / CT_SEG_POSTING_S; h <= (a->hi - 1) / CT_SEG_POSTING_S; h++) {
        uint32_t lo = h * CT_SEG_POSTING_S, hi = lo + CT_SEG_POSTING_S;
        if (lo < a->lo)
            lo = a->lo;
        if (hi > a->hi)
            hi = a->hi;
        ct_postings p;
        uint32_t idx;
        int got;
        ct__seg_postings(seg, cell, h, &p);
        while ((got = ct__seg_postings_next(&p, &idx)) == 1) {
            if (cs->mark[idx] == cs->stamp) {
                if (lo < cs->from[idx])
                    cs->from[idx] = lo;
                if (hi > cs->until[idx])
                    cs->until[idx] = hi;
                continue;
            }
            cs->mark[idx] = cs->stamp;
            cs->from[idx] = lo;
            cs->until[idx] = hi;
            CT_GROW(cs->subs, cs->n_subs + 1, cs->cap_subs);
            cs->subs[cs->n_subs++] = idx;
        }
        if (got < 0) {
            damaged(t, seg);
            return;
        }
    }
}

/* One subscriber's events of the day from the earliest window that
 * named it on (cs->ev): each cell event inside the part of the day of a run of its
 * cell (at most one: a cell's runs are disjoint) is matched against that
 * run's intervals. Without `complete`, the last event decoded is only the
 * end of the one before it. */
static void match_day(tracer *t, cell_scan *cs, uint32_t sub, int64_t day, int complete)
{
    const ct_sub_place *evs = cs->ev;
    size_t n = cs->n_ev, last = complete ? n : n - 1;
    for (size_t i = 0; i < last; i++) {
        const ct_sub_place *ev = &evs[i];
        if (ev->loc >= cs->n_cells || cs->cells[ev->loc].day != cs->day_stamp)
            continue; /* a point, or a cell with no run today */
        const cell_runs_today *c = &cs->cells[ev->loc];
        for (uint32_t k = c->first; k < c->first + c->count; k++) {
            const active_run *a = &cs->active[k];
            if (ev->tod < a->lo)
                break; /* in time order */
            if (ev->tod >= a->hi)
                continue;
            const cell_run *run = &cs->runs[a->run];
            ct_cell_entry e = {sub, ev->tod, i + 1 < n ? evs[i + 1].tod - ev->tod : CT_GAP_OPEN};
            match_entry(t, run->l, run->n, day, &e);
            break;
        }
    }
}

/* One day of the runs: the subscribers their postings name, in S0 order
 * (so their streams are read front to back), each decoded once, its
 * events at the runs' cells matched. */
static void scan_day(tracer *t, cell_scan *cs, int64_t day)
{
    const ct_segment *seg = NULL;
    cs->n_active = 0;
    for (uint32_t r = 0; r < cs->n_runs; r++) {
        const cell_run *run = &cs->runs[r];
        if (ct__day_of(run->from) > day || ct__day_of(run->to - 1) < day)
            continue;
        if (!seg && !(seg = day_segment(t, day)))
            return;
        uint32_t lo, hi;
        day_part(day, run->from, run->to, &lo, &hi);
        if (lo >= hi)
            continue;
        CT_GROW(cs->active, cs->n_active + 1, cs->cap_active);
        cs->active[cs->n_active++] = (active_run){r, lo, hi};
    }
    if (!cs->n_active)
        return;
    if (seg->n_subs > cs->cap_mark) {
        ct__free(cs->mark);
        ct__free(cs->from);
        ct__free(cs->until);
        cs->cap_mark = seg->n_subs;
        cs->mark = ct__calloc(cs->cap_mark, sizeof *cs->mark);
        cs->from = ct__calloc(cs->cap_mark, sizeof *cs->from);
        cs->until = ct__calloc(cs->cap_mark, sizeof *cs->until);
        cs->stamp = 0;
    }
    if (++cs->stamp == 0) { /* wrapped: every mark is stale again */
        memset(cs->mark, 0, cs->cap_mark * sizeof *cs->mark);
        cs->stamp = 1;
    }
    if (++cs->day_stamp == 0) {
        memset(cs->cells, 0, cs->n_cells * sizeof *cs->cells);
        cs->day_stamp = 1;
    }
    cs->n_subs = 0;
    for (uint32_t k = 0; k < cs->n_active; k++) { /* runs come by cell, each cell's in time order */
        uint32_t loc = cs->runs[cs->active[k].run].l->loc;
        if (loc >= cs->n_cells) { /* loc ids are the catalogue's: its size, once */
            size_t cells = ct__catalog_cell_count(t->db->cat);
            size_t n = loc >= cells ? (size_t)loc + 1 : cells;
            cs->cells = ct__reallocarray(cs->cells, n, sizeof *cs->cells);
            memset(cs->cells + cs->n_cells, 0, (n - cs->n_cells) * sizeof *cs->cells);
            cs->n_cells = n;
        }
        cell_runs_today *c = &cs->cells[loc];
        if (c->day != cs->day_stamp)
            *c = (cell_runs_today){cs->day_stamp, k, 0};
        c->count++;
        collect_postings(t, cs, seg, &cs->active[k]);
    }
    if (CT_RADIX_NEEDS_SCRATCH(cs->n_subs)) {
        uint32_t count[256];
        CT_GROW(cs->tmp, cs->n_subs, cs->cap_tmp);
        sort_u32(cs->subs, cs->tmp, cs->n_subs, 32, count);
    } else {
        sort_u32(cs->subs, NULL, cs->n_subs, 32, NULL);
    }
    for (size_t i = 0; i < cs->n_subs && !t->failed; i++) {
        uint32_t idx = cs->subs[i];
        if (!ours(t, seg->subdir[idx].sub))
            continue;
        /* its events before `from` or after `until` are in no window that named it */
        uint32_t from = cs->from[idx], until = cs->until[idx];
        cs->n_ev = 0;
        if (ct__seg_sub_places(seg, idx, from, until, &cs->ev, &cs->cap_ev, &cs->n_ev)) {
            damaged(t, seg);
            return;
        }
        int complete = cs->n_ev == 0 || cs->ev[cs->n_ev - 1].tod < until;
        match_day(t, cs, seg->subdir[idx].sub, day, complete);
    }
}

/* Links grouped by cell (in cell order): each cell's runs (cs->runs),
 * and the days they reach, [*first, *last] (none if first > last). */
static void build_runs(tracer *t, cell_scan *cs, const cell_link *links, size_t n, int64_t *first,
                       int64_t *last)
{
    *first = INT64_MAX;
    *last = INT64_MIN;
    cs->n_runs = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && links[j].loc == links[i].loc)
            j++;
        add_cell_runs(t, cs, links + i, j - i);
        i = j;
    }
    for (size_t r = 0; r < cs->n_runs; r++) {
        if (ct__day_of(cs->runs[r].from) < *first)
            *first = ct__day_of(cs->runs[r].from);
        if (ct__day_of(cs->runs[r].to - 1) > *last)
            *last = ct__day_of(cs->runs[r].to - 1);
    }
}

static void cell_scan_init(cell_scan *cs)
{
    memset(cs, 0, sizeof *cs);
}

static void cell_scan_free(cell_scan *cs)
{
    ct__free(cs->runs);
    ct__free(cs->active);
    ct__free(cs->cells);
    ct__free(cs->subs);
    ct__free(cs->tmp);
    ct__free(cs->mark);
    ct__free(cs->from);
    ct__free(cs->until);
    ct__free(cs->ev);
}

static void scan_tile(tracer *t, uint32_t iv, const ct_segment *seg, uint32_t tile, uint32_t lo,
                      uint32_t hi)
{
    const case_interval *ci = &t->ivs[iv];
    ct_place_cursor c;
    ct_place_entry e;
    int got;
    ct__seg_tile_seek(seg, tile, lo, hi, t->part, t->parts, &c); /* only our subscribers' */
    while ((got = ct__seg_place_next(&c, &e)) == 1) {
        const ct_point *p = &e.pt;
        double dist = ct__distance_m(ci->lat, ci->lon, p->lat, p->lon);
        if (dist <= ci->radius + p->acc + t->p.contact_distance_m)
            consider(t, iv, e.sub, seg->day, &e, dist);
    }
    if (got < 0)
        damaged(t, seg);
}

static void scan_points(tracer *t, uint32_t iv, const ct_segment *seg, uint32_t lo, uint32_t hi)
{
    const case_interval *ci = &t->ivs[iv];
    ct_grid_span spans[CT_GRID_SPANS_MAX];
    if (!seg->n_points)
        return;
    for (unsigned level = 0; level < CT_GRID_LEVELS; level++) {
        if (seg->level_radius[level] <= 0)
            continue;
        double reach = ci->radius + t->p.contact_distance_m + seg->level_radius[level];
        unsigned n = ct__grid_query(level, ci->lat, ci->lon, reach, spans);
        for (unsigned s = 0; s < n; s++)
            for (uint32_t tile = ct__seg_tile_lower(seg, spans[s].lo);
                 tile < seg->n_tiles && seg->tiledir[tile].key <= spans[s].hi; tile++)
                scan_tile(t, iv, seg, tile, lo, hi);
    }
}

/* The point candidates of one case interval. */
static void scan_interval_points(tracer *t, uint32_t iv)
{
    const case_interval *ci = &t->ivs[iv];
    int64_t from = reach_from(t, ci->start);
    if (from < 0)
        from = 0;
    for (int64_t day = ct__day_of(from); day <= ct__day_of(ci->end - 1); day++) {
        const ct_segment *seg = day_segment(t, day);
        if (!seg)
            continue;
        uint32_t lo, hi;
        day_part(day, from, ci->end, &lo, &hi);
        scan_points(t, iv, seg, lo, hi);
    }
}

/* Scoring: the visits from *next on that ended by `limit` (the scan has
 * matched every event before it) get their point intervals scanned and
 * are closed, in order. */
static void close_ended_visits(tracer *t, uint32_t *next, int64_t limit)
{
    uint32_t n_visits, first = *next;
    const ct__visit *visits = ct__scorer_visits(t->scorer, &n_visits);
    for (; *next < n_visits && visits[*next].end <= limit && !t->failed; (*next)++)
        for (uint32_t i = visits[*next].first_iv; i < visits[*next].first_iv + visits[*next].n_iv; i++)
            scan_interval_points(t, i);
    if (*next > first) {
        flush_overlaps(t);
        ct__scorer_close_visits(t->scorer, *next);
    }
}

/* Each cell's runs, then day by day the subscribers their postings name,
 * each decoded from its own stream once a day, for all the case's
 * intervals it reaches. A subscriber's matches come in time order rather
 * than cell by cell; nothing it adds up depends on that order (exposure
 * seconds are integers, near seconds are summed in fixed point). With
 * scoring, the sums are keyed by (subscriber, visit), and after each day
 * the visits that have ended by its end are closed (score.c), so that
 * the scorer holds the episodes of about a day's visits at a time. */
static void scan_all_cells(tracer *t)
{
    size_t n;
    int64_t first, last;
    uint32_t next = 0; /* scoring: the first visit not closed */
    cell_link *links = link_cells(t, &n);
    cell_scan cs;
    cell_scan_init(&cs);
    build_runs(t, &cs, links, n, &first, &last);
    for (int64_t day = first; day <= last && !t->failed; day++) {
        scan_day(t, &cs, day);
        if (t->scorer)
            close_ended_visits(t, &next, (day + 1) * CT_DAY_S);
    }
    if (t->scorer)
        close_ended_visits(t, &next, INT64_MAX);
    cell_scan_free(&cs);
    ct__free(links);
}

/* ---- the case's own intervals ------------------------------------------------------ */

/* The case's presence at event e (next: the following event of the day,
 * or NULL), cut to the window; 0 when empty. */
static int interval_of(tracer *t, const ct_segment *seg, const ct_event *e, const ct_point *pt,
                       const ct_event *next, case_interval *ci)
{
    int64_t ts = seg->day * CT_DAY_S + e->tod;
    int64_t stop = next ? seg->day * CT_DAY_S + next->tod : open_end(t, t->case_sub, seg->day, ts);
    if (stop > ts + t->p.max_presence_s)
        stop = ts + t->p.max_presence_s;
    int64_t start = ts > t->w_start ? ts : t->w_start, end = stop < t->w_end ? stop : t->w_end;
    if (end <= start)
        return 0;
    if (e->kind) {
        *ci = (case_interval){.start = start, .end = end, .lat = pt->lat, .lon = pt->lon,
                              .radius = pt->acc, .loc = CT_LOC_NONE, .op = pt->op};
        return 1;
    }
    const ct_cell *cell = ct__catalog_cell(t->db->cat, e->place);
    if (!cell) {
        t->stale = 1;
        return 0;
    }
    *ci = (case_interval){.start = start, .end = end, .lat = cell->lat, .lon = cell->lon,
                          .radius = cell->radius, .loc = e->place, .op = cell->op};
    return 1;
}

static int same_place(const case_interval *a, const case_interval *b)
{
    if (a->loc != b->loc)
        return 0;
    return a->loc != CT_LOC_NONE ||
           (a->lat == b->lat && a->lon == b->lon && a->radius == b->radius);
}

/* Keeps the interval being extended, if any. */
static void case_interval_flush(tracer *t)
{
    if (t->has_pending) {
        t->out->case_intervals++;
        CT_GROW(t->ivs, t->n_ivs + 1, t->ivs_cap);
        t->ivs[t->n_ivs++] = t->pending;
        t->has_pending = 0;
    }
}

/* Consecutive case events at the same place with no hole between their
 * presences form one interval: a candidate's overlap with the union is the
 * sum of its overlaps with the parts, and one interval is cheaper to
 * match than many. */
static void case_interval_push(tracer *t, const case_interval *ci)
{
    if (t->has_pending && same_place(&t->pending, ci) && t->pending.end == ci->start) {
        t->pending.end = ci->end;
        return;
    }
    case_interval_flush(t);
    t->pending = *ci;
    t->has_pending = 1;
}

/* Each event of the case's day, with the one after it (for its presence). */
static void trace_case_day(tracer *t, const ct_segment *seg)
{
    ct_sub_cursor c;
    ct_event cur, next;
    ct_point cur_pt, next_pt;
    if (!ct__seg_sub_open(seg, t->case_sub, &c))
        return;
    int got = ct__seg_sub_next(&c, &cur, &cur_pt);
    while (got == 1) {
        got = ct__seg_sub_next(&c, &next, &next_pt);
        case_interval ci;
        if (got >= 0 && interval_of(t, seg, &cur, &cur_pt, got == 1 ? &next : NULL, &ci))
            case_interval_push(t, &ci);
        cur = next;
        cur_pt = next_pt;
    }
    if (got < 0)
        damaged(t, seg);
}

/* The case's intervals in the window, in time order, into t->ivs. */
static void collect_case_intervals(tracer *t)
{
    int64_t from = t->w_start - t->p.max_presence_s;
    for (int64_t day = ct__day_of(from < 0 ? 0 : from); day <= ct__day_of(t->w_end - 1); day++) {
        const ct_segment *seg = day_segment(t, day);
        if (seg)
            trace_case_day(t, seg);
    }
    case_interval_flush(t);
}

/* Matches every candidate against the case's intervals (t->ivs). */
static void scan_case_intervals(tracer *t)
{
    if (t->risk)
        t->scorer = ct__scorer_new(&t->risk_params, t->ivs, (uint32_t)t->n_ivs, t->w_start);
    scan_all_cells(t);
    if (t->scorer)
        return; /* its points were scanned as each visit closed */
    for (size_t i = 0; i < t->n_ivs; i++)
        scan_interval_points(t, (uint32_t)i);
    flush_overlaps(t);
}

static void trace_case_events(tracer *t)
{
    collect_case_intervals(t);
    scan_case_intervals(t);
}

/* ---- results ------------------------------------------------------------------------- */

static int cmp_contact(const void *a, const void *b)
{
    const ct_contact *x = a, *y = b;
    if (x->exposure_s != y->exposure_s)
        return x->exposure_s > y->exposure_s ? -1 : 1;
    return strcmp(x->msisdn, y->msisdn);
}

static int is_contact(const tracer *t, int64_t exposure_s)
{
    return exposure_s > 0 && exposure_s >= t->p.min_exposure_s;
}

/* The subscribers of t's exposure table who are contacts. */
static uint64_t count_contacts(const tracer *t)
{
    uint64_t n = 0;
    for (size_t i = 0; i < t->exp.cap; i++) {
        const exposure *e = ct__u32map_at(&t->exp, i);
        if (e->sub != CT_U32MAP_EMPTY && is_contact(t, e->total))
            n++;
    }
    return n;
}

/* Subscriber sub's number into digits. A part of a trace on several
 * threads leaves a subscriber its handle has not loaded (added since it
 * opened) for trace_in_parts to read after: reading it reloads the
 * dictionary, which only one thread may do. */
static ct_code number_of(const tracer *t, uint32_t sub, char digits[16], ct_err *err)
{
    if (t->parts > 1 && sub >= ct__subdict_count(t->db->subs)) {
        digits[0] = '\0';
        return CT_OK;
    }
    return ct__subdict_number_cached(t->db->subs, t->db->numbers, sub, digits, err);
}

static ct_code collect_contacts(tracer *t, ct_err *err)
{
    ct_contacts *out = t->out;
    out->items = ct__calloc(t->exp.n + 1, sizeof *out->items);
    for (size_t i = 0; i < t->exp.cap; i++) {
        const exposure *e = ct__u32map_at(&t->exp, i);
        if (e->sub == CT_U32MAP_EMPTY || !is_contact(t, e->total))
            continue;
        ct_contact *c = &out->items[out->n++];
        c->subscriber = e->sub;
        c->exposure_s = e->total;
        c->first_contact = e->first;
        c->last_contact = e->last;
        c->min_radius_m = e->min_radius;
        ct_code rc = number_of(t, e->sub, c->msisdn, err);
        if (rc)
            return rc;
    }
    if (t->parts <= 1) /* a part's go to trace_in_parts, which sorts them all */
        qsort(out->items, out->n, sizeof *out->items, cmp_contact);
    return CT_OK;
}

static ct_code load_case(ct_db *db, const char *case_id, tracer *t, ct_err *err)
{
    ct__case_row c;
    ct_code rc = ct__case_get(db, case_id, &c, err);
    if (rc)
        return rc;
    t->case_sub = c.sub;
    t->w_start = c.onset - t->p.infectious_before_s;
    t->w_end = c.has_isolated ? c.isolated : c.onset + t->p.infectious_after_s;
    return CT_OK;
}

/* ---- scored results ----------------------------------------------------------------- */

typedef struct scored {
    ct_contact c;
    ct_evidence e;
} scored;

/* p_contact descending, then exposure descending, then number as text. */
static int cmp_scored(const void *a, const void *b)
{
    const ct_contact *x = &((const scored *)a)->c, *y = &((const scored *)b)->c;
    if (x->p_contact != y->p_contact)
        return x->p_contact > y->p_contact ? -1 : 1;
    if (x->exposure_s != y->exposure_s)
        return x->exposure_s > y->exposure_s ? -1 : 1;
    int by_number = strcmp(x->msisdn, y->msisdn); /* without numbers: by subscriber id */
    if (by_number)
        return by_number;
    return x->subscriber < y->subscriber ? -1 : x->subscriber > y->subscriber;
}

static unsigned public_kinds(uint32_t kinds)
{
    return (kinds & CT__KIND_CELL_CELL ? CT_EVIDENCE_CELL_CELL : 0) |
           (kinds & CT__KIND_CELL_POINT ? CT_EVIDENCE_CELL_POINT : 0) |
           (kinds & CT__KIND_POINT_POINT ? CT_EVIDENCE_POINT_POINT : 0);
}

/* A pair's evidence, scored: everything but the number. */
static void score_pair(const tracer *t, const ct__evidence *ev, ct_contact *c, ct_evidence *e)
{
    const ct_risk_model *m = t->risk->model;
    memset(c, 0, sizeof *c);
    c->subscriber = ev->sub;
    c->exposure_s = ev->exposure_s;
    c->first_contact = ev->first;
    c->last_contact = ev->last;
    c->min_radius_m = ev->min_radius;
    c->expected_near_s = ev->near_s;
    c->evidence = public_kinds(ev->kinds);
    double z = ct__risk_log_odds(m, ev);
    c->p_contact = ct__risk_round(ct__risk_probability(m, z));
    c->level = ct__risk_level(c->p_contact, t->risk->test_threshold, t->risk->quarantine_threshold);
    *e = (ct_evidence){.near_s = ev->near_s, .share_sum = ev->share_sum,
                       .share_max = ev->share_max, .comove = ev->comove,
                       .comove_n = ev->comove_n, .episodes = ev->episodes, .days = ev->days,
                       .places = ev->places, .night_s = ev->night_s, .log_odds = z};
}

static ct_code collect_scored(tracer *t, ct_err *err)
{
    size_t n_ev;
    ct__evidence *evs = ct__scorer_finish(t->scorer, &n_ev);
    scored *rows = ct__calloc(n_ev + 1, sizeof *rows);
    size_t n = 0;
    ct_code rc = CT_OK;
    for (size_t i = 0; i < n_ev && !rc; i++) {
        if (!is_contact(t, evs[i].exposure_s))
            continue;
        score_pair(t, &evs[i], &rows[n].c, &rows[n].e);
        if (rows[n].c.level < t->risk->min_level)
            continue;
        if (!t->risk->without_numbers)
            rc = number_of(t, evs[i].sub, rows[n].c.msisdn, err);
        n++;
    }
    ct__free(evs);
    if (!rc) {
        if (t->parts <= 1) /* as collect_contacts */
            qsort(rows, n, sizeof *rows, cmp_scored);
        ct_contacts *out = t->out;
        out->items = ct__calloc(n + 1, sizeof *out->items);
        out->evidence = ct__calloc(n + 1, sizeof *out->evidence);
        for (size_t i = 0; i < n; i++) {
            out->items[i] = rows[i].c;
            out->evidence[i] = rows[i].e;
        }
        out->n = n;
    }
    ct__free(rows);
    return rc;
}

/* ---- one contact's evidence, for --explain ------------------------------------------- */

void ct__place_of_cell(ct_db *db, uint32_t loc, ct_place_info *pi)
{
    memset(pi, 0, sizeof *pi);
    const ct_cell *cell = ct__catalog_cell(db->cat, loc);
    if (!cell)
        return;
    const char *op = ct__catalog_operator_name(db->cat, cell->op);
    snprintf(pi->operator_name, sizeof pi->operator_name, "%s", op ? op : "");
    snprintf(pi->cell_id, sizeof pi->cell_id, "%s", cell->cell_id ? cell->cell_id : "");
    snprintf(pi->region, sizeof pi->region, "%s", cell->region ? cell->region : "");
    pi->lat = cell->lat;
    pi->lon = cell->lon;
    pi->radius_m = cell->radius;
}

void ct__place_of_point(ct_db *db, double lat, double lon, double acc, uint32_t op,
                        ct_place_info *pi)
{
    memset(pi, 0, sizeof *pi);
    /* A contact's positions are read from the segment's tiles, which keep
     * no operator (op 0): the name stays empty rather than a guess. */
    const char *name = op ? ct__catalog_operator_name(db->cat, op) : NULL;
    pi->is_point = 1;
    snprintf(pi->operator_name, sizeof pi->operator_name, "%s",
             name && strcmp(name, "?") ? name : "");
    pi->lat = lat;
    pi->lon = lon;
    pi->radius_m = acc;
}

static void case_place(const tracer *t, const case_interval *ci, ct_place_info *pi)
{
    if (ci->loc != CT_LOC_NONE)
        ct__place_of_cell(t->db, ci->loc, pi);
    else
        ct__place_of_point(t->db, ci->lat, ci->lon, ci->radius, ci->op, pi);
}

static int same_detail_place(const tracer *t, const ct__overlap_detail *a,
                             const ct__overlap_detail *b)
{
    const case_interval *x = &t->ivs[a->iv], *y = &t->ivs[b->iv];
    if (x->loc != y->loc || a->loc != b->loc)
        return 0;
    if (x->loc == CT_LOC_NONE && (x->lat != y->lat || x->lon != y->lon || x->radius != y->radius))
        return 0;
    return a->loc != CT_LOC_NONE || (a->lat == b->lat && a->lon == b->lon && a->radius == b->radius);
}

/* The pair of places (case's, contact's) with the most overlap seconds
 * among the details of one visit. */
static void busiest_places(const tracer *t, uint32_t visit, ct_episode_info *ep)
{
    int64_t best = -1;
    for (size_t i = 0; i < t->n_details; i++) {
        const ct__overlap_detail *d = &t->details[i];
        if (t->ivs[d->iv].visit != visit)
            continue;
        int64_t sum = 0;
        for (size_t j = 0; j < t->n_details; j++)
            if (t->ivs[t->details[j].iv].visit == visit && same_detail_place(t, d, &t->details[j]))
                sum += t->details[j].end - t->details[j].start;
        if (sum > best) {
            best = sum;
            case_place(t, &t->ivs[d->iv], &ep->case_place);
            if (d->loc != CT_LOC_NONE)
                ct__place_of_cell(t->db, d->loc, &ep->contact_place);
            else
                ct__place_of_point(t->db, d->lat, d->lon, d->radius, d->op, &ep->contact_place);
        }
    }
}

/* Details in one order whatever the scan's: by visit; its cell
 * candidates by cell, then second, then case interval; then its points in
 * the order the tiles gave them. (busiest_places keeps the first of
 * equals, so the order is part of the answer.) */
static int cmp_detail(const void *a, const void *b)
{
    const ct__overlap_detail *x = a, *y = b;
    if (x->visit != y->visit)
        return x->visit < y->visit ? -1 : 1;
    int px = x->loc == CT_LOC_NONE, py = y->loc == CT_LOC_NONE;
    if (px != py)
        return px - py;
    if (!px) {
        if (x->loc != y->loc)
            return x->loc < y->loc ? -1 : 1;
        if (x->event_ts != y->event_ts)
            return x->event_ts < y->event_ts ? -1 : 1;
        if (x->iv != y->iv)
            return x->iv < y->iv ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static ct_code build_explanation(tracer *t, ct_explanation **out, ct_err *err)
{
    qsort(t->details, t->n_details, sizeof *t->details, cmp_detail);
    size_t n_ev;
    ct__evidence *evs = ct__scorer_finish(t->scorer, &n_ev);
    const ct__evidence *ev = NULL;
    for (size_t i = 0; i < n_ev; i++)
        if (evs[i].sub == t->explain_sub)
            ev = &evs[i];
    if (!ev) {
        ct__free(evs);
        return ct__fail(err, CT_ENOTFOUND, "that number never shared a place with case %s "
                                           "during its infectious window", t->out->case_id);
    }
    ct_explanation *x = ct__calloc(1, sizeof *x);
    snprintf(x->case_id, sizeof x->case_id, "%s", t->out->case_id);
    ct_evidence e;
    score_pair(t, ev, &x->contact, &e);
    x->is_contact = is_contact(t, ev->exposure_s);
    if (!x->is_contact) /* outside SPEC 4's net nobody is notified: no level */
        x->contact.level = CT_LEVEL_NONE;
    x->log_odds = e.log_odds;
    x->share_sum = ev->share_sum;
    x->share_max = ev->share_max;
    x->comove = ev->comove;
    x->days = ev->days;
    x->places = ev->places;
    const ct_risk_model *m = t->risk->model;
    snprintf(x->model_version, sizeof x->model_version, "%s", m->version);
    for (size_t i = 0; i < m->n_terms && i < sizeof x->terms / sizeof x->terms[0]; i++) {
        const ct__risk_term_def *def = &ct__risk_terms[m->term[i]];
        x->terms[x->n_terms++] = (ct_risk_term){def->name, def->meaning,
                                                def->value(ev), m->coef[i]};
    }
    uint32_t n_visits;
    const ct__visit *visits = ct__scorer_visits(t->scorer, &n_visits);
    size_t n_eps;
    ct__episode *eps = ct__scorer_episodes_of(t->scorer, t->explain_sub, &n_eps);
    x->episodes = ct__calloc(n_eps + 1, sizeof *x->episodes);
    int64_t base = ct__scorer_base(t->scorer);
    for (size_t i = 0; i < n_eps; i++) {
        const ct__visit *v = &visits[eps[i].visit];
        ct_episode_info *ep = &x->episodes[x->n_episodes++];
        ep->start = base + eps[i].first_off;
        ep->end = base + eps[i].last_off;
        ep->overlap_s = eps[i].seconds;
        ep->expected_near_s = eps[i].near_s;
        ep->p_near = eps[i].seconds ? eps[i].near_s / eps[i].seconds : 0.0;
        ep->share = v->near_total > 0 ? eps[i].near_s / v->near_total : 0.0;
        ep->others = v->subscribers ? v->subscribers - 1 : 0;
        ep->evidence = public_kinds(eps[i].kinds);
        busiest_places(t, eps[i].visit, ep);
    }
    ct__free(eps);
    uint32_t *ivs, *sharers;
    size_t n_moves;
    ct__scorer_moves_of(t->scorer, t->explain_sub, &ivs, &sharers, &n_moves);
    x->moves = ct__calloc(n_moves + 1, sizeof *x->moves);
    for (size_t i = 0; i < n_moves; i++) {
        ct_move_info *mv = &x->moves[x->n_moves++];
        mv->at = t->ivs[ivs[i]].start;
        mv->sharers = sharers[i];
        case_place(t, &t->ivs[ivs[i]], &mv->place);
    }
    ct__free(ivs);
    ct__free(sharers);
    ct__free(evs);
    ct_code rc = ct__subdict_number_cached(t->db->subs, t->db->numbers, t->explain_sub, x->contact.msisdn, err);
    if (rc) {
        ct_explanation_free(x);
        return rc;
    }
    *out = x;
    return CT_OK;
}

void ct_explanation_free(ct_explanation *e)
{
    if (!e)
        return;
    ct__free(e->episodes);
    ct__free(e->moves);
    ct__free(e);
}

/* ---- one trace, plain, scored or explained -------------------------------------------- */

typedef struct trace_job {
    const char *case_id;
    ct_params p;
    const ct_risk_opts *risk;   /* NULL: a plain SPEC 4 trace */
    uint32_t explain_sub;       /* UINT32_MAX: no explanation */
    ct_contacts *contacts;      /* the result of a plain or scored trace */
    ct_explanation *explanation; /* the result of an explanation */
    ct_floor *floor;            /* ct_trace_floor: time the kernel instead of collecting */
} trace_job;

/* An empty tracer: no table, no sum being made. */
static void tracer_clear(tracer *t)
{
    memset(t, 0, sizeof *t);
    ct__u32map_init(&t->exp, sizeof(exposure));
    t->summing.sub = UINT32_MAX;
}

static void tracer_free(tracer *t)
{
    ct__u32map_free(&t->exp);
    ct__free(t->near.locs);
    ct__free(t->near.radii);
    ct__free(t->near.near_p);
    ct__free(t->ivs);
    ct__free(t->details);
    ct__free(t->pairs);
    ct__scorer_free(t->scorer);
}

/* The floor's kernel: the kept pairs streamed from memory through the
 * trace's own overlap path (overlap_interval: the cut to the interval,
 * queued and prefetched, add_exposure) into an empty table, then the
 * contacts counted. Nothing else: no segment, no catalogue, no number, no
 * sorting. */
static void time_kernel(const tracer *t, ct_floor *f)
{
    tracer k;
    ct_contacts counters; /* sum_overlap counts the overlaps here */
    tracer_clear(&k);
    memset(&counters, 0, sizeof counters);
    k.p = t->p;
    k.ivs = t->ivs;
    k.n_ivs = t->n_ivs;
    k.out = &counters;
    k.explain_sub = UINT32_MAX;
    ct__u32map_grow(&k.exp); /* as the trace starts */
    uint64_t t0 = ct__now_ns();
    for (size_t i = 0; i < t->n_pairs; i++) {
        const floor_pair *q = &t->pairs[i];
        overlap_interval(&k, q->iv, q->sub, q->ts, q->end, q->radius, 0.0, 0,
                         (place_ref){CT_LOC_NONE, NULL});
    }
    flush_overlaps(&k);
    f->contacts = count_contacts(&k);
    f->kernel_ns = ct__now_ns() - t0;
    f->overlaps = counters.overlaps;
    f->pairs = t->n_pairs;
    ct__u32map_free(&k.exp);
}

/* The scorer's parameters for t's case (its window is known). */
static ct_code set_score_params(tracer *t, ct_err *err)
{
    /* Night hours are local: the zone's offset at the window's start (a
     * change of offset inside a window moves them by the change). */
    ct_conf conf;
    const char *zone = t->risk->timezone;
    if (!zone) {
        ct_code rc = ct__conf_load(t->db->dir, &conf, err);
        if (rc)
            return rc;
        zone = conf.timezone;
    }
    t->risk_params = (ct__score_params){t->risk->model->visit_gap_s,
                                        t->risk->model->comove_window_s, t->p.min_exposure_s,
                                        t->p.contact_distance_m, ct__tz_offset(zone, t->w_start)};
    return CT_OK;
}

/* A tracer for job's case, before its events are read: nothing to free
 * when this fails. */
static ct_code tracer_start(tracer *t, ct_db *db, const trace_job *job, ct_err *err)
{
    tracer_clear(t);
    t->db = db;
    t->err = err;
    t->p = job->p;
    t->risk = job->risk;
    t->explain_sub = job->explain_sub;
    t->floor = job->floor != NULL;
    ct_code rc = load_case(db, job->case_id, t, err);
    if (rc)
        return rc;
    if (t->risk && (rc = set_score_params(t, err)) != CT_OK)
        return rc;
    t->out = ct__calloc(1, sizeof *t->out);
    snprintf(t->out->case_id, sizeof t->out->case_id, "%s", job->case_id);
    ct__u32map_grow(&t->exp); /* a table from the start: the prefetch needs one */
    return CT_OK;
}

/* How a pass ended: a failure, or a writer that replaced data under us
 * (*vanished). */
static ct_code tracer_outcome(const tracer *t, int *vanished, ct_err *err)
{
    ct_code rc = t->failed;
    *vanished = rc == CT_ENOTFOUND || t->stale;
    if (!rc && t->stale)
        rc = ct__fail(err, CT_ECORRUPT, "the store names cells that the catalogue does not hold");
    return rc;
}

/* A scanned case's answer into job; frees the tracer. */
static ct_code tracer_finish(tracer *t, trace_job *job, int *vanished, ct_err *err)
{
    if (t->risk && !t->scorer) /* an empty window: no interval, nothing to score */
        t->scorer = ct__scorer_new(&t->risk_params, t->ivs, 0, t->w_start);
    ct_code rc = tracer_outcome(t, vanished, err);
    if (!rc && job->floor) {
        time_kernel(t, job->floor);
        job->floor->candidates = t->out->candidates;
        job->floor->trace_contacts = count_contacts(t);
    } else if (!rc && !t->risk)
        rc = collect_contacts(t, err);
    else if (!rc && job->explain_sub == UINT32_MAX)
        rc = collect_scored(t, err);
    else if (!rc)
        rc = build_explanation(t, &job->explanation, err);
    tracer_free(t);
    if (rc || job->explain_sub != UINT32_MAX) {
        ct_contacts_free(t->out);
        return rc;
    }
    job->contacts = t->out;
    return CT_OK;
}

/* ---- a part's crowd and answer (threads here, a cluster's ranks) ------------------ */

/* Scored, after the scan: the crowd of each of the case's visits over
 * this tracer's subscribers, closed and copied into *crowd (its length
 * *len), to be summed over every part. */
static void crowd_of_part(tracer *t, int64_t **crowd, size_t *len)
{
    ct__scorer_crowd_close(t->scorer);
    *len = ct__scorer_crowd_len(t->scorer);
    *crowd = ct__malloc((*len + 1) * sizeof **crowd);
    ct__scorer_crowd_get(t->scorer, *crowd);
}

/* A part's contacts; scored, against `crowd`, the sum over every part
 * (NULL: this part's own, as when it is the only one). */
static ct_code collect_part(tracer *t, const int64_t *crowd, ct_err *err)
{
    if (t->risk && crowd)
        ct__scorer_crowd_set(t->scorer, crowd);
    return t->risk ? collect_scored(t, err) : collect_contacts(t, err);
}

/* ---- one trace on several threads ------------------------------------------------- */

/* One thread's part of a trace (trace_in_parts): a tracer that takes the
 * subscribers whose id is `part` modulo `parts`, and, scored, the crowd of
 * each of the case's visits over those subscribers. */
typedef struct trace_part_job {
    tracer t;
    ct_err err;
    ct_code rc;       /* its collect's */
    int64_t *crowd;   /* scored: its own, then (pointing at part 0's) the sum over the parts */
    size_t crowd_len;
    pthread_t thread;
} trace_part_job;

/* The first step of a part: its candidates; scored, its crowd. */
static void *part_scan(void *arg)
{
    trace_part_job *pj = arg;
    tracer *t = &pj->t;
    scan_case_intervals(t); /* makes its scorer when scoring */
    if (t->scorer && !t->failed && !t->stale)
        crowd_of_part(t, &pj->crowd, &pj->crowd_len);
    return NULL;
}

/* The second: its contacts, scored against every part's crowd. */
static void *part_collect(void *arg)
{
    trace_part_job *pj = arg;
    pj->rc = collect_part(&pj->t, pj->crowd, &pj->err);
    return NULL;
}

/* step on every part: parts 1.. on threads of their own (on this one when
 * a thread cannot start), part 0 on this one. */
static void run_parts(trace_part_job *pj, uint32_t n, void *(*step)(void *))
{
    int *started = ct__calloc(n + 1, sizeof *started);
    for (uint32_t k = 1; k < n; k++)
        started[k] = pthread_create(&pj[k].thread, NULL, step, &pj[k]) == 0;
    step(&pj[0]);
    for (uint32_t k = 1; k < n; k++) {
        if (started[k])
            pthread_join(pj[k].thread, NULL);
        else
            step(&pj[k]);
    }
    ct__free(started);
}

/* Part k of `parts` of the trace whose case intervals t holds: its own
 * copy of them (the scorer numbers their visits in place), its own tables
 * and counters; the days it may read, looked up (days_of_scan). */
static void part_of(const tracer *t, const scan_days *days, uint32_t k, uint32_t parts,
                    trace_part_job *pj)
{
    tracer *p = &pj->t;
    tracer_clear(p);
    p->db = t->db;
    p->err = &pj->err;
    p->p = t->p;
    p->risk = t->risk;
    p->risk_params = t->risk_params;
    p->explain_sub = UINT32_MAX;
    p->case_sub = t->case_sub;
    p->w_start = t->w_start;
    p->w_end = t->w_end;
    p->ivs = ct__malloc((t->n_ivs + 1) * sizeof *p->ivs);
    if (t->n_ivs)
        memcpy(p->ivs, t->ivs, t->n_ivs * sizeof *p->ivs);
    p->n_ivs = p->ivs_cap = t->n_ivs;
    p->out = ct__calloc(1, sizeof *p->out);
    snprintf(p->out->case_id, sizeof p->out->case_id, "%s", t->out->case_id);
    ct__u32map_grow(&p->exp);
    p->part = k;
    p->parts = parts;
    p->days = days;
}

/* Every day the scan of t's intervals can read, looked up now by this
 * thread: the parts read this table, not the handle, whose cache changes
 * as it follows a compaction (a segment it replaces stays mapped until
 * the next call's ct__db_segments_release). A candidate's events start at
 * most max_presence_s before an interval, which starts in the window; an
 * open presence looks for its end before max_presence_s past a
 * candidate's start, which is before the window's end. A day that fails
 * to open, or names new cells, fails the parts that read it, and only
 * them: one thread opens only the days it reads. */
static void days_of_scan(tracer *t, scan_days *d)
{
    int64_t from = t->w_start - t->p.max_presence_s, to = t->w_end + t->p.max_presence_s - 1;
    d->first = ct__day_of(from < 0 ? 0 : from);
    d->n = ct__day_of(to) >= d->first ? (size_t)(ct__day_of(to) - d->first + 1) : 0;
    d->day = ct__calloc(d->n + 1, sizeof *d->day);
    for (size_t i = 0; i < d->n; i++) {
        day_lookup *l = &d->day[i];
        l->seg = ct__db_segment_cells(t->db, d->first + (int64_t)i, &l->rc, &l->err);
        l->stale = l->seg && names_new_cells(t, l->seg);
    }
}

/* Appends part p's answer to t's. */
static void join_part(tracer *t, const tracer *p)
{
    ct_contacts *to = t->out, *from = p->out;
    to->items = ct__reallocarray(to->items, to->n + from->n + 1, sizeof *to->items);
    if (from->n)
        memcpy(to->items + to->n, from->items, from->n * sizeof *to->items);
    if (t->risk) {
        to->evidence = ct__reallocarray(to->evidence, to->n + from->n + 1, sizeof *to->evidence);
        if (from->n)
            memcpy(to->evidence + to->n, from->evidence, from->n * sizeof *to->evidence);
    }
    to->n += from->n;
    to->candidates += from->candidates;
    to->overlaps += from->overlaps;
}

/* The numbers the parts left to this thread (number_of), then the order
 * of one trace. */
static ct_code finish_joined(tracer *t, ct_err *err)
{
    ct_contacts *c = t->out;
    int numbers = !t->risk || !t->risk->without_numbers;
    for (size_t i = 0; numbers && i < c->n; i++)
        if (!c->items[i].msisdn[0]) {
            ct_code rc = ct__subdict_number_cached(t->db->subs, t->db->numbers, c->items[i].subscriber,
                                                   c->items[i].msisdn, err);
            if (rc)
                return rc;
        }
    ct_contacts_sort(c, t->risk != NULL);
    return CT_OK;
}

/* The scan of t's case (its intervals collected) on `parts` threads, each
 * over its share of the subscribers, as a cluster's shards trace theirs
 * (celltrace_cluster.h): scored, the crowds of the case's visits are
 * summed over the parts before any contact is scored, so the answer is
 * one thread's, byte for byte. Frees t; the answer goes to job. */
static ct_code trace_in_parts(tracer *t, trace_job *job, uint32_t parts, int *vanished,
                              ct_err *err)
{
    trace_part_job *pj = ct__calloc(parts, sizeof *pj);
    scan_days days;
    days_of_scan(t, &days);
    for (uint32_t k = 0; k < parts; k++)
        part_of(t, &days, k, parts, &pj[k]);
    run_parts(pj, parts, part_scan);
    for (uint32_t k = 0; k < parts; k++) { /* the first part's failure, if any */
        t->stale |= pj[k].t.stale;
        if (pj[k].t.failed && !t->failed) {
            t->failed = pj[k].t.failed;
            *err = pj[k].err;
        }
    }
    ct_code rc = tracer_outcome(t, vanished, err);
    if (!rc && t->risk) { /* every visit's crowd, over all the subscribers */
        for (uint32_t k = 1; k < parts; k++)
            for (size_t i = 0; i < pj[0].crowd_len; i++)
                pj[0].crowd[i] += pj[k].crowd[i];
        for (uint32_t k = 1; k < parts; k++) {
            ct__free(pj[k].crowd);
            pj[k].crowd = pj[0].crowd;
        }
    }
    if (!rc)
        run_parts(pj, parts, part_collect);
    for (uint32_t k = 0; k < parts && !rc; k++) {
        rc = pj[k].rc;
        if (rc)
            *err = pj[k].err;
        else
            join_part(t, &pj[k].t);
    }
    if (!rc)
        rc = finish_joined(t, err);
    int64_t *summed = pj[0].crowd; /* after the sum, every part's points at it */
    for (uint32_t k = 0; k < parts; k++) {
        tracer_free(&pj[k].t);
        ct_contacts_free(pj[k].t.out);
        if (pj[k].crowd != summed)
            ct__free(pj[k].crowd);
    }
    ct__free(summed);
    ct__free(pj);
    ct__free(days.day);
    tracer_free(t);
    if (rc) {
        ct_contacts_free(t->out);
        return rc;
    }
    job->contacts = t->out;
    return CT_OK;
}

/* The threads one trace of db may use (ct_set_trace_threads): explanations
 * and the floor take one. */
static uint32_t threads_for_job(const ct_db *db, const trace_job *job)
{
    if (job->floor || job->explain_sub != UINT32_MAX || db->trace_threads < 2)
        return 1;
    return (uint32_t)db->trace_threads; /* at most 64 (ct_set_trace_threads) */
}

/* One attempt; CT_ENOTFOUND from a segment means a writer replaced it
 * after we read the manifest (see run_trace). */
static ct_code trace_once(ct_db *db, trace_job *job, int *vanished, ct_err *err)
{
    tracer t;
    ct_code rc = tracer_start(&t, db, job, err);
    if (rc)
        return rc;
    uint32_t parts = threads_for_job(db, job);
    if (t.w_end > t.w_start && parts > 1) {
        collect_case_intervals(&t);
        if (!t.failed && !t.stale)
            return trace_in_parts(&t, job, parts, vanished, err);
    } else if (t.w_end > t.w_start) {
        trace_case_events(&t);
    }
    return tracer_finish(&t, job, vanished, err);
}

static ct_code run_trace(ct_db *db, trace_job *job, ct_err *err)
{
    ct_code rc = ct_params_check(&job->p, err);
    /* Readers take no lock: a writer may replace a segment between our
     * reading the manifest and opening the file, or import cells after we
     * loaded the catalogue. Read both again and retry; segments are
     * immutable, so a retry sees a consistent set. */
    ct__db_segments_release(db); /* no segment pointer is held between calls */
    for (int attempt = 0; !rc; attempt++) {
        int vanished = 0;
        rc = trace_once(db, job, &vanished, err);
        if (!vanished || attempt == 3 || db->writable)
            break;
        rc = ct__db_reload(db, err);
    }
    if (rc)
        return rc;
    if (job->explanation)
        rc = ct__audit(db, "explain", job->case_id, 1, err);
    else if (job->floor) /* counts only, but the case's contacts were found */
        rc = ct__audit(db, "trace --floor", job->case_id, job->floor->trace_contacts, err);
    else
        rc = ct__audit(db, job->risk ? "trace --score" : "trace", job->case_id, job->contacts->n, err);
    if (rc) {
        ct_contacts_free(job->contacts);
        ct_explanation_free(job->explanation);
        job->contacts = NULL;
        job->explanation = NULL;
    }
    return rc;
}

/* ---- an area query (scan.h) -------------------------------------------------------- */

/* A tracer over [from, to) for subscriber sub's intervals (UINT32_MAX:
 * none), counting its work into *counters. */
static void tracer_for_window(tracer *t, ct_db *db, ct_contacts *counters, uint32_t sub,
                              int64_t from, int64_t to, int64_t max_presence_s, ct_err *err)
{
    tracer_clear(t);
    memset(counters, 0, sizeof *counters);
    t->db = db;
    t->err = err;
    ct_params_default(&t->p);
    t->p.max_presence_s = max_presence_s;
    t->case_sub = sub;
    t->w_start = from;
    t->w_end = to;
    t->out = counters;
}

ct_code ct__scan_disk(ct_db *db, ct__disk_scan *q, int *vanished, ct_err *err)
{
    tracer t;
    ct_contacts counters;
    /* nobody is left out; presence in the disk itself: no contact distance */
    tracer_for_window(&t, db, &counters, UINT32_MAX, q->from, q->to, q->max_presence_s, err);
    t.p.contact_distance_m = 0.0;
    t.area = q;
    if (q->to > q->from) {
        case_interval whole = {.start = q->from, .end = q->to, .lat = q->lat, .lon = q->lon,
                               .radius = q->radius, .loc = CT_LOC_NONE, .op = 0};
        t.pending = whole;
        t.has_pending = 1;
        case_interval_flush(&t);
        scan_all_cells(&t);
        scan_interval_points(&t, 0);
    }
    ct_code rc = tracer_outcome(&t, vanished, err);
    q->candidates = counters.candidates;
    q->overlaps = counters.overlaps;
    tracer_free(&t);
    return rc;
}

ct_code ct__presences_of(ct_db *db, uint32_t sub, int64_t from, int64_t to, int64_t max_presence_s,
                        ct__case_interval **out, size_t *n, int *vanished, ct_err *err)
{
    tracer t;
    ct_contacts counters;
    tracer_for_window(&t, db, &counters, sub, from, to, max_presence_s, err);
    if (to > from)
        collect_case_intervals(&t);
    ct_code rc = tracer_outcome(&t, vanished, err);
    *out = rc ? NULL : t.ivs;
    *n = rc ? 0 : t.n_ivs;
    if (!rc)
        t.ivs = NULL; /* handed over */
    tracer_free(&t);
    return rc;
}

static void job_init(trace_job *job, const char *case_id, const ct_params *p)
{
    memset(job, 0, sizeof *job);
    job->case_id = case_id;
    if (p)
        job->p = *p;
    else
        ct_params_default(&job->p);
    job->explain_sub = UINT32_MAX;
}

ct_code ct_trace_floor(ct_db *db, const char *case_id, const ct_params *p, ct_floor *out,
                       ct_err *err)
{
    trace_job job;
    job_init(&job, case_id, p);
    memset(out, 0, sizeof *out);
    job.floor = out;
    ct_code rc = run_trace(db, &job, err);
    ct_contacts_free(job.contacts);
    if (!rc && out->contacts != out->trace_contacts)
        rc = ct__fail(err, CT_ECORRUPT, "the floor's kernel found %llu contacts, the trace %llu",
                      (unsigned long long)out->contacts, (unsigned long long)out->trace_contacts);
    return rc;
}

ct_code ct_trace(ct_db *db, const char *case_id, const ct_params *p, ct_contacts **out,
                 ct_err *err)
{
    trace_job job;
    job_init(&job, case_id, p);
    ct_code rc = run_trace(db, &job, err);
    *out = job.contacts;
    return rc;
}

/* The caller's options, or the defaults, with the model filled in. */
static ct_risk_opts risk_or_default(const ct_risk_opts *risk)
{
    ct_risk_opts r;
    if (risk)
        r = *risk;
    else
        ct_risk_opts_default(&r);
    if (!r.model)
        r.model = ct_risk_model_builtin();
    return r;
}

ct_code ct_trace_scored(ct_db *db, const char *case_id, const ct_params *p,
                        const ct_risk_opts *risk, ct_contacts **out, ct_err *err)
{
    ct_risk_opts r = risk_or_default(risk);
    trace_job job;
    job_init(&job, case_id, p);
    job.risk = &r;
    ct_code rc = run_trace(db, &job, err);
    *out = job.contacts;
    return rc;
}

ct_code ct_explain(ct_db *db, const char *case_id, const char *msisdn, const ct_params *p,
                   const ct_risk_opts *risk, ct_explanation **out, ct_err *err)
{
    ct_risk_opts r = risk_or_default(risk);
    uint64_t num;
    char digits[16];
    *out = NULL;
    if (ct__parse_msisdn(msisdn, strlen(msisdn), &num, digits) != 0)
        return ct__fail(err, CT_EINVAL, "'%s' is not a phone number (SPEC 2)", msisdn);
    trace_job job;
    job_init(&job, case_id, p);
    job.risk = &r;
    ct_code rc = ct__subdict_find(db->subs, digits, &job.explain_sub, err);
    if (rc == CT_ENOTFOUND)
        return ct__fail(err, CT_ENOTFOUND, "that number has no stored events");
    if (!rc)
        rc = run_trace(db, &job, err);
    *out = job.explanation;
    return rc;
}

void ct_contacts_free(ct_contacts *c)
{
    if (!c)
        return;
    ct__free(c->items);
    ct__free(c->evidence);
    ct__free(c);
}

/* ---- a cluster's parts of a trace (celltrace_cluster.h) ----------------------------- */

/* What ct_case_presence sends: this header, then n case intervals. */
typedef struct presence_head {
    char magic[8]; /* "CTPRES1\0" */
    uint64_t n;
    int64_t w_start, w_end;
    uint64_t catalog; /* ct_catalog_fingerprint of the sender */
} presence_head;

static const char PRESENCE_MAGIC[8] = "CTPRES1";

ct_code ct_case_presence(ct_db *db, const char *case_id, const ct_params *p, void **bytes,
                         size_t *len, ct_err *err)
{
    *bytes = NULL;
    *len = 0;
    ct_code rc = ct_params_check(p, err);
    tracer t;
    ct_contacts counters;
    tracer_for_window(&t, db, &counters, UINT32_MAX, 0, 0, p->max_presence_s, err);
    t.p = *p;
    if (!rc)
        rc = load_case(db, case_id, &t, err);
    if (!rc && t.w_end > t.w_start)
        collect_case_intervals(&t);
    int vanished;
    if (!rc)
        rc = tracer_outcome(&t, &vanished, err);
    if (!rc) {
        presence_head h = {{0}, t.n_ivs, t.w_start, t.w_end, ct_catalog_fingerprint(db)};
        memcpy(h.magic, PRESENCE_MAGIC, sizeof h.magic);
        *len = sizeof h + t.n_ivs * sizeof *t.ivs;
        unsigned char *b = ct__malloc(*len);
        memcpy(b, &h, sizeof h);
        if (t.n_ivs)
            memcpy(b + sizeof h, t.ivs, t.n_ivs * sizeof *t.ivs);
        *bytes = b;
    }
    tracer_free(&t);
    return rc;
}

struct ct_trace_part {
    tracer t;
    ct_risk_opts risk;
    int64_t *crowd;
    size_t crowd_len;
};

void ct_trace_part_free(ct_trace_part *part)
{
    if (!part)
        return;
    tracer_free(&part->t);
    ct_contacts_free(part->t.out);
    ct__free(part->crowd);
    ct__free(part);
}

/* Reads presence bytes into t: the window and the case's intervals. */
static ct_code take_presence(tracer *t, const void *presence, size_t len, ct_err *err)
{
    presence_head h;
    if (len < sizeof h)
        return ct__fail(err, CT_ECORRUPT, "a case's presence from another shard is cut short");
    memcpy(&h, presence, sizeof h);
    if (memcmp(h.magic, PRESENCE_MAGIC, sizeof h.magic) != 0 ||
        h.n > (len - sizeof h) / sizeof *t->ivs || len != sizeof h + h.n * sizeof *t->ivs)
        return ct__fail(err, CT_ECORRUPT, "a case's presence from another shard is malformed");
    if (h.catalog != ct_catalog_fingerprint(t->db))
        return ct__fail(err, CT_EINVAL,
                        "the shards' cell catalogues differ: import the same catalogues into "
                        "every shard (celltrace-mpi cells import)");
    t->w_start = h.w_start;
    t->w_end = h.w_end;
    t->n_ivs = t->ivs_cap = h.n;
    t->ivs = ct__malloc((h.n + 1) * sizeof *t->ivs);
    if (h.n)
        memcpy(t->ivs, (const unsigned char *)presence + sizeof h, h.n * sizeof *t->ivs);
    for (size_t i = 0; i < h.n; i++) /* loc ids are checked by the fingerprint; times here */
        if (t->ivs[i].end <= t->ivs[i].start || (i && t->ivs[i].start < t->ivs[i - 1].end))
            return ct__fail(err, CT_ECORRUPT, "a case's presence from another shard is malformed");
    t->out->case_intervals = h.n;
    return CT_OK;
}

ct_code ct_trace_part_begin(ct_db *db, const char *case_id, const ct_params *p,
                            const ct_risk_opts *risk, const void *presence, size_t len,
                            ct_trace_part **out, ct_err *err)
{
    *out = NULL;
    ct_code rc = ct_params_check(p, err);
    if (rc)
        return rc;
    ct_trace_part *part = ct__calloc(1, sizeof *part);
    tracer *t = &part->t;
    tracer_clear(t);
    t->db = db;
    t->err = err;
    t->p = *p;
    t->explain_sub = UINT32_MAX;
    t->case_sub = UINT32_MAX;
    t->out = ct__calloc(1, sizeof *t->out);
    snprintf(t->out->case_id, sizeof t->out->case_id, "%s", case_id);
    if (risk) {
        part->risk = risk_or_default(risk);
        t->risk = &part->risk;
    }
    /* The shard that holds the case leaves the case's own events out (x != c). */
    ct__case_row c;
    rc = ct__case_get(db, case_id, &c, err);
    if (rc == CT_ENOTFOUND) {
        ct__err_clear(err);
        rc = CT_OK;
    } else if (!rc) {
        t->case_sub = c.sub;
    }
    if (!rc)
        rc = take_presence(t, presence, len, err);
    if (!rc && t->risk)
        rc = set_score_params(t, err);
    if (!rc) {
        ct__u32map_grow(&t->exp);
        if (t->n_ivs)
            scan_case_intervals(t); /* makes the scorer when scoring */
        else if (t->risk) /* nothing to scan: an empty scorer, as trace_once */
            t->scorer = ct__scorer_new(&t->risk_params, t->ivs, 0, t->w_start);
        int vanished;
        rc = tracer_outcome(t, &vanished, err);
    }
    if (!rc && t->risk)
        crowd_of_part(t, &part->crowd, &part->crowd_len);
    if (rc) {
        ct_trace_part_free(part);
        return rc;
    }
    *out = part;
    return CT_OK;
}

const int64_t *ct_trace_part_crowd(const ct_trace_part *part, size_t *len)
{
    *len = part->crowd_len;
    return part->crowd;
}

ct_code ct_trace_part_finish(ct_trace_part *part, const int64_t *crowd, ct_contacts **out,
                             ct_err *err)
{
    tracer *t = &part->t;
    *out = NULL;
    t->err = err;
    ct_code rc = collect_part(t, crowd, err);
    if (!rc)
        rc = ct__audit(t->db, t->risk ? "trace --score (shard)" : "trace (shard)", t->out->case_id,
                       t->out->n, err);
    if (!rc) {
        *out = t->out;
        t->out = NULL;
    }
    ct_trace_part_free(part);
    return rc;
}

void ct_contacts_sort(ct_contacts *c, int with_score)
{
    if (!with_score || !c->evidence) {
        qsort(c->items, c->n, sizeof *c->items, cmp_contact);
        return;
    }
    scored *rows = ct__malloc((c->n + 1) * sizeof *rows);
    for (size_t i = 0; i < c->n; i++)
        rows[i] = (scored){c->items[i], c->evidence[i]};
    qsort(rows, c->n, sizeof *rows, cmp_scored);
    for (size_t i = 0; i < c->n; i++) {
        c->items[i] = rows[i].c;
        c->evidence[i] = rows[i].e;
    }
    ct__free(rows);
}

ct_contacts *ct_contacts_alloc(const char *case_id, size_t n, int with_evidence)
{
    ct_contacts *c = ct__calloc(1, sizeof *c);
    snprintf(c->case_id, sizeof c->case_id, "%s", case_id);
    c->items = ct__calloc(n + 1, sizeof *c->items);
    if (with_evidence)
        c->evidence = ct__calloc(n + 1, sizeof *c->evidence);
    return c;
}
