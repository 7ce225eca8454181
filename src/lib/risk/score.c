/*
 * score.c — episodes, visits, places and shared moves of a trace, and the
 * evidence of each pair (docs/RISK.md section 3).
 *
 * Why episodes: two phones in the same flat are not 300 independent
 * chances of being near each other because the night has 300 events; the
 * positions of one stay are one draw. So overlaps are filed under the
 * case's visit they belong to, and the model combines visits, not
 * seconds. A visit is a run of the case's intervals at one place
 * (consecutive intervals whose centres are within r_k + r_first of the
 * visit's first interval, with holes of at most visit_gap_s; RISK.md 3.2).
 *
 * Why shares: the geometry alone says two phones in a 250 m cell had a
 * 1e-4 chance of being within 2 m; it cannot say whether the cell held
 * ten people or three thousand. A visit's near_total, the expected
 * seconds within D summed over every subscriber who shared it, is that
 * crowd; a subscriber's share of it is how much of the visit's evidence
 * points at them. The trace sees every subscriber who shared a visit,
 * contacts or not, so the total is exact.
 *
 * Layout: the open visits' episodes in one open-addressing table keyed
 * by (subscriber, visit), probed once per part (a subscriber's
 * consecutive overlaps with a visit, summed by the trace) and prefetched
 * in batches by the trace. The trace scans day by day and closes the
 * visits that have ended after each day, so the table holds about a
 * day's visits. A closed visit's episodes go to one list, in visit
 * order; at the end the list is radix-sorted stably by subscriber and
 * each subscriber's episodes are walked once, in visit order. Shared
 * moves are rare (an event within a minute of one of the case's moves)
 * and kept as a plain list.
 */
#include "score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "fixedsum.h"
#include "geo.h"
#include "segment.h"

struct ct__scorer {
    ct__score_params sp;
    ct__case_interval *ivs;
    uint32_t n_ivs;
    ct__visit *visits;
    uint32_t n_visits, n_places;
    int64_t base;
    /* the open visits' episodes: open addressing on (sub, visit), sub
     * UINT32_MAX empty; the visits before closed_upto are closed */
    ct__episode *open;
    uint32_t open_cap, open_n, closed_upto;
    unsigned open_shift; /* 32 - log2(open_cap) */
    uint32_t *open_used; /* the open table's used slots */
    ct_fixed_sum *open_near; /* by slot: the open episode's near seconds, in any order */
    /* the closed visits' episodes, in visit order; by subscriber after
     * ct__scorer_finish */
    ct__episode *eps;
    size_t n_eps, cap_eps;
    uint64_t *moves;    /* (sub << 32) | interval */
    size_t n_moves, cap_moves;
    /* after finish */
    uint64_t *move_list; /* deduplicated, by (sub, interval) */
    uint32_t *move_sharers;
    size_t n_move_list;
    uint32_t *iv_sharers; /* per case interval: subscribers who shared its move */
    int closed;           /* ct__scorer_crowd_close has run */
};

/* A visit's near seconds are summed exactly, so that the total does not
 * depend on the order of the sum (a cluster adds its shards' parts in
 * another order than one machine adds its subscribers). Each near_s (>= 0)
 * is cut into whole seconds and two 32-bit limbs of its fraction: every
 * step is exact in double arithmetic, and only bits below 2^-64 s are
 * dropped. Limbs are summed as integers (2^31 terms cannot overflow) and
 * carried at the end. */
#define TWO_32 4294967296.0

static void near_add(int64_t limbs[3], double x)
{
    double whole = floor(x), f = (x - whole) * TWO_32, hi = floor(f);
    limbs[0] += (int64_t)whole;
    limbs[1] += (int64_t)hi;
    limbs[2] += (int64_t)floor((f - hi) * TWO_32);
}

static double near_value(const int64_t in[3])
{
    int64_t l2 = in[2], l1 = in[1] + (l2 >> 32), l0;
    l2 &= 0xFFFFFFFF;
    l0 = in[0] + (l1 >> 32);
    l1 &= 0xFFFFFFFF;
    return (double)l0 + ((double)l1 + (double)l2 / TWO_32) / TWO_32;
}

/* ---- visits and places ------------------------------------------------------- */

static int same_place(const ct__case_interval *a, const ct__case_interval *b)
{
    if (a->loc != b->loc)
        return 0;
    return a->loc != CT_LOC_NONE ||
           (a->lat == b->lat && a->lon == b->lon && a->radius == b->radius);
}

/* Centres within the sum of the two radii (RISK.md 3.2). */
static int near_anchor(const ct__case_interval *a, const ct__case_interval *anchor)
{
    double r = a->radius + anchor->radius;
    return ct__distance_m(a->lat, a->lon, anchor->lat, anchor->lon) <= r;
}

static void assign_visits(ct__scorer *s)
{
    size_t cap = 0;
    for (uint32_t k = 0; k < s->n_ivs; k++) {
        ct__case_interval *iv = &s->ivs[k];
        iv->transition = k > 0 && !same_place(iv, &s->ivs[k - 1]);
        int joins = 0;
        if (k > 0) {
            const ct__visit *cur = &s->visits[s->n_visits - 1];
            joins = iv->start - s->ivs[k - 1].end <= s->sp.visit_gap_s &&
                    near_anchor(iv, &s->ivs[cur->first_iv]);
        }
        if (!joins) {
            CT_GROW(s->visits, s->n_visits + 1, cap);
            s->visits[s->n_visits++] = (ct__visit){.start = iv->start, .first_iv = k,
                                                   .day = ct__day_of(iv->start)};
        }
        ct__visit *v = &s->visits[s->n_visits - 1];
        v->end = iv->end;
        v->n_iv++;
        iv->visit = s->n_visits - 1;
    }
    /* Places: a visit goes to the first earlier place whose first visit's
     * first interval is near its own (the same test), else to a new one. */
    uint32_t *place_anchor = ct__calloc(s->n_visits + 1, sizeof *place_anchor);
    for (uint32_t v = 0; v < s->n_visits; v++) {
        const ct__case_interval *a = &s->ivs[s->visits[v].first_iv];
        uint32_t p = 0;
        while (p < s->n_places && !near_anchor(a, &s->ivs[place_anchor[p]]))
            p++;
        if (p == s->n_places)
            place_anchor[s->n_places++] = s->visits[v].first_iv;
        s->visits[v].place = p;
    }
    ct__free(place_anchor);
}

ct__scorer *ct__scorer_new(const ct__score_params *sp, ct__case_interval *ivs, uint32_t n_ivs,
                           int64_t base)
{
    ct__scorer *s = ct__calloc(1, sizeof *s);
    s->sp = *sp;
    s->ivs = ivs;
    s->n_ivs = n_ivs;
    s->base = base;
    assign_visits(s);
    return s;
}

void ct__scorer_free(ct__scorer *s)
{
    if (!s)
        return;
    ct__free(s->open);
    ct__free(s->open_used);
    ct__free(s->open_near);
    ct__free(s->eps);
    ct__free(s->visits);
    ct__free(s->moves);
    ct__free(s->move_list);
    ct__free(s->move_sharers);
    ct__free(s->iv_sharers);
    ct__free(s);
}

/* ---- the open visits' table ------------------------------------------------------ */

/* Fibonacci hashing of the pair: the top bits of (sub ^ visit * 2^32/phi) * 2^32/phi. */
static uint32_t slot_of(const ct__scorer *s, uint32_t sub, uint32_t visit)
{
    return (uint32_t)((sub ^ visit * 2654435769u) * 2654435769u) >> s->open_shift;
}

/* The slot of (sub, visit): its episode's, or the empty one where it goes. */
static uint32_t probe(const ct__scorer *s, uint32_t sub, uint32_t visit)
{
    uint32_t mask = s->open_cap - 1, k = slot_of(s, sub, visit);
    while (s->open[k].sub != UINT32_MAX && (s->open[k].sub != sub || s->open[k].visit != visit))
        k = (k + 1) & mask;
    return k;
}

/* Files episode e, with its near seconds, at its slot in a table that
 * does not hold it yet, as the i-th used slot. */
static void open_insert(ct__scorer *s, const ct__episode *e, ct_fixed_sum near, uint32_t i)
{
    uint32_t k = probe(s, e->sub, e->visit);
    s->open[k] = *e;
    s->open_near[k] = near;
    s->open_used[i] = k;
}

static void open_grow(ct__scorer *s)
{
    ct__episode *old = s->open;
    ct_fixed_sum *old_near = s->open_near;
    uint32_t old_cap = s->open_cap;
    s->open_cap = old_cap ? old_cap * 2 : 1024;
    s->open_shift = old_cap ? s->open_shift - 1 : 32 - 10;
    s->open = ct__malloc((size_t)s->open_cap * sizeof *s->open);
    memset(s->open, 0xFF, (size_t)s->open_cap * sizeof *s->open); /* every sub UINT32_MAX */
    ct__free(s->open_used);
    s->open_used = ct__malloc((size_t)(s->open_cap / 2 + 1) * sizeof *s->open_used);
    s->open_near = ct__calloc(s->open_cap, sizeof *s->open_near);
    uint32_t n = 0;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i].sub != UINT32_MAX)
            open_insert(s, &old[i], old_near[i], n++);
    ct__free(old);
    ct__free(old_near);
}

void ct__scorer_prefetch(const ct__scorer *s, uint32_t sub, uint32_t iv)
{
    if (s->open)
        __builtin_prefetch(&s->open[slot_of(s, sub, s->ivs[iv].visit)], 1);
}

/* Seconds of [from, to) (local time) in night hours 00:00-06:00. */
static int64_t night_seconds(int64_t from, int64_t to)
{
    int64_t total = 0;
    for (int64_t day = ct__day_of(from); day * CT_DAY_S < to; day++) {
        int64_t a = day * CT_DAY_S, b = a + 6 * 3600;
        a = a > from ? a : from;
        b = b < to ? b : to;
        total += b > a ? b - a : 0;
    }
    return total;
}

void ct__scorer_part_note(const ct__scorer *s, ct__episode_part *p, int64_t start, int64_t end,
                          double near_p, uint32_t kind)
{
    ct__fixed_add(&p->near, (double)(uint32_t)(end - start) * near_p);
    p->night_s += (uint32_t)night_seconds(start + s->sp.utc_offset_s, end + s->sp.utc_offset_s);
    p->kinds |= kind;
}

void ct__scorer_add_part(ct__scorer *s, uint32_t sub, uint32_t iv, const ct__episode_part *p)
{
    uint32_t visit = s->ivs[iv].visit;
    if (visit < s->closed_upto) { /* a closed visit takes nothing more: a trace bug */
        fprintf(stderr, "celltrace: internal error: an overlap for visit %u, closed\n", visit);
        abort();
    }
    if ((s->open_n + 1) * 2 > s->open_cap)
        open_grow(s);
    uint32_t k = probe(s, sub, visit);
    ct__episode *e = &s->open[k];
    uint32_t a = (uint32_t)(p->first - s->base), b = (uint32_t)(p->last - s->base);
    if (e->sub == UINT32_MAX) {
        *e = (ct__episode){.sub = sub, .visit = visit, .first_off = a, .last_off = b,
                           .min_radius = p->min_radius};
        s->open_used[s->open_n++] = k;
    }
    e->seconds += p->seconds;
    ct__fixed_add_sum(&s->open_near[k], &p->near);
    e->night_s += p->night_s;
    e->kinds |= p->kinds;
    if (a < e->first_off)
        e->first_off = a;
    if (b > e->last_off)
        e->last_off = b;
    if (p->min_radius < e->min_radius)
        e->min_radius = p->min_radius;
}

void ct__scorer_close_visits(ct__scorer *s, uint32_t upto)
{
    if (upto > s->n_visits)
        upto = s->n_visits;
    if (upto <= s->closed_upto)
        return;
    /* the closing episodes go to eps grouped by visit, in visit order (a
     * counting sort); within a visit every subscriber has one */
    uint32_t lo = s->closed_upto, span = upto - lo;
    size_t *at = ct__calloc((size_t)span + 1, sizeof *at), closing = 0;
    for (uint32_t i = 0; i < s->open_n; i++) {
        uint32_t v = s->open[s->open_used[i]].visit;
        if (v < upto) {
            at[v - lo + 1]++;
            closing++;
        }
    }
    for (uint32_t v = 0; v < span; v++)
        at[v + 1] += at[v];
    CT_GROW(s->eps, s->n_eps + closing, s->cap_eps);
    uint32_t kept = 0;
    ct__episode *keep = ct__malloc(((size_t)(s->open_n - closing) + 1) * sizeof *keep);
    ct_fixed_sum *keep_near = ct__malloc(((size_t)(s->open_n - closing) + 1) * sizeof *keep_near);
    for (uint32_t i = 0; i < s->open_n; i++) {
        uint32_t k = s->open_used[i];
        ct__episode *e = &s->open[k];
        if (e->visit >= upto) {
            keep[kept] = *e;
            keep_near[kept++] = s->open_near[k];
            continue;
        }
        ct__visit *v = &s->visits[e->visit];
        e->near_s = ct__fixed_value(&s->open_near[k]);
        near_add(v->near_limbs, e->near_s);
        v->subscribers++;
        s->eps[s->n_eps + at[e->visit - lo]++] = *e;
    }
    s->n_eps += closing;
    ct__free(at);
    /* the table again with only the visits still open: every used slot
     * emptied, then the kept episodes put back (linear probing has no
     * other way to delete) */
    for (uint32_t i = 0; i < s->open_n; i++) {
        s->open[s->open_used[i]].sub = UINT32_MAX;
        s->open_near[s->open_used[i]] = (ct_fixed_sum){0, 0};
    }
    for (uint32_t i = 0; i < kept; i++)
        open_insert(s, &keep[i], keep_near[i], i);
    s->open_n = kept;
    ct__free(keep);
    ct__free(keep_near);
    s->closed_upto = upto;
}

void ct__scorer_move(ct__scorer *s, uint32_t sub, uint32_t iv)
{
    CT_GROW(s->moves, s->n_moves + 1, s->cap_moves);
    s->moves[s->n_moves++] = ((uint64_t)sub << 32) | iv;
}

/* ---- the end of the pass -------------------------------------------------------- */

/* Stable LSD radix sort of episodes by subscriber, 11 bits a pass, as
 * many passes as the largest id needs. Returns the sorted array (eps or
 * tmp; the other is scratch). */
static ct__episode *radix_by_sub(ct__episode *eps, ct__episode *tmp, size_t n)
{
    enum { BITS = 11, BUCKETS = 1 << BITS };
    size_t count[BUCKETS + 1];
    uint32_t max = 0;
    for (size_t i = 0; i < n; i++)
        max = eps[i].sub > max ? eps[i].sub : max;
    for (unsigned shift = 0; shift == 0 || (shift < 32 && max >> shift); shift += BITS) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[((eps[i].sub >> shift) & (BUCKETS - 1)) + 1]++;
        for (unsigned d = 0; d < BUCKETS; d++)
            count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++)
            tmp[count[(eps[i].sub >> shift) & (BUCKETS - 1)]++] = eps[i];
        ct__episode *swap = eps;
        eps = tmp;
        tmp = swap;
    }
    return eps;
}

/* The closed visits' episodes (in visit order) sorted stably by
 * subscriber: each subscriber's episodes together, in visit order. */
static void sort_episodes(ct__scorer *s)
{
    ct__scorer_close_visits(s, s->n_visits);
    ct__free(s->open);
    ct__free(s->open_used);
    ct__free(s->open_near);
    s->open = NULL;
    s->open_used = NULL;
    s->open_near = NULL;
    ct__episode *tmp = ct__malloc((s->n_eps + 1) * sizeof *tmp);
    ct__episode *sorted = radix_by_sub(s->eps ? s->eps : tmp, tmp, s->n_eps);
    if (sorted == tmp) {
        ct__free(s->eps);
        s->eps = tmp;
    } else {
        ct__free(tmp);
    }
}

/* The episode at sorted position i, and its subscriber. */
static const ct__episode *episode_at(const ct__scorer *s, size_t i)
{
    return &s->eps[i];
}

static uint32_t sub_at(const ct__scorer *s, size_t i)
{
    return s->eps[i].sub;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Deduplicates the shared moves and counts, per case interval, the
 * subscribers who shared it (this shard's, in a cluster). */
static void settle_moves(ct__scorer *s)
{
    s->iv_sharers = ct__calloc(s->n_ivs + 1, sizeof *s->iv_sharers);
    if (s->n_moves)
        qsort(s->moves, s->n_moves, sizeof *s->moves, cmp_u64);
    size_t n = 0;
    for (size_t i = 0; i < s->n_moves; i++)
        if (n == 0 || s->moves[i] != s->moves[n - 1])
            s->moves[n++] = s->moves[i];
    for (size_t i = 0; i < n; i++)
        s->iv_sharers[(uint32_t)s->moves[i]]++;
    s->move_list = s->moves;
    s->moves = NULL;
    s->n_move_list = n;
}

void ct__scorer_crowd_close(ct__scorer *s)
{
    if (s->closed)
        return;
    sort_episodes(s);
    settle_moves(s);
    s->closed = 1;
}

size_t ct__scorer_crowd_len(const ct__scorer *s)
{
    return 4 * (size_t)s->n_visits + s->n_ivs;
}

void ct__scorer_crowd_get(const ct__scorer *s, int64_t *out)
{
    for (uint32_t v = 0; v < s->n_visits; v++) {
        for (int k = 0; k < 3; k++)
            out[4 * (size_t)v + k] = s->visits[v].near_limbs[k];
        out[4 * (size_t)v + 3] = s->visits[v].subscribers;
    }
    for (uint32_t i = 0; i < s->n_ivs; i++)
        out[4 * (size_t)s->n_visits + i] = s->iv_sharers[i];
}

void ct__scorer_crowd_set(ct__scorer *s, const int64_t *in)
{
    for (uint32_t v = 0; v < s->n_visits; v++) {
        for (int k = 0; k < 3; k++)
            s->visits[v].near_limbs[k] = in[4 * (size_t)v + k];
        s->visits[v].subscribers = (uint32_t)in[4 * (size_t)v + 3];
    }
    for (uint32_t i = 0; i < s->n_ivs; i++)
        s->iv_sharers[i] = (uint32_t)in[4 * (size_t)s->n_visits + i];
}

/* The crowd's totals as the model reads them: near seconds as a double,
 * and each shared move's sharers. */
static void settle_crowd(ct__scorer *s)
{
    for (uint32_t v = 0; v < s->n_visits; v++)
        s->visits[v].near_total = near_value(s->visits[v].near_limbs);
    s->move_sharers = ct__malloc((s->n_move_list + 1) * sizeof *s->move_sharers);
    for (size_t i = 0; i < s->n_move_list; i++)
        s->move_sharers[i] = s->iv_sharers[(uint32_t)s->move_list[i]];
}

/* The evidence of one subscriber from its episodes, sorted positions
 * [from, to) (in visit order). */
static void evidence_of(const ct__scorer *s, size_t from, size_t to, double *place_sec,
                        uint32_t *touched, ct__evidence *ev)
{
    double T = (double)s->sp.min_exposure_s;
    memset(ev, 0, sizeof *ev);
    ev->sub = sub_at(s, from);
    uint32_t first = UINT32_MAX, last = 0, n_touched = 0;
    ev->min_radius = episode_at(s, from)->min_radius;
    int64_t day = 0;
    double day_sec = 0;
    for (size_t k = from; k < to; k++) {
        const ct__episode *e = episode_at(s, k);
        const ct__visit *v = &s->visits[e->visit];
        size_t i = k - from;
        ev->exposure_s += e->seconds;
        ev->near_s += e->near_s;
        ev->night_s += e->night_s;
        ev->kinds |= e->kinds;
        ev->episodes++;
        first = e->first_off < first ? e->first_off : first;
        last = e->last_off > last ? e->last_off : last;
        if (e->min_radius < ev->min_radius)
            ev->min_radius = e->min_radius;
        double share = v->near_total > 0 ? e->near_s / v->near_total : 0.0;
        double full = T > 0 && e->seconds < T ? e->seconds / T : 1.0;
        ev->share_sum += share * full;
        if (share > ev->share_max)
            ev->share_max = share;
        if (i == 0 || v->day != day) { /* visits come in time order */
            ev->days += i > 0 && day_sec >= T;
            day = v->day;
            day_sec = 0;
        }
        day_sec += e->seconds;
        if (place_sec[v->place] == 0)
            touched[n_touched++] = v->place;
        place_sec[v->place] += e->seconds;
    }
    ev->days += day_sec >= T;
    for (uint32_t i = 0; i < n_touched; i++) {
        ev->places += place_sec[touched[i]] >= T;
        place_sec[touched[i]] = 0;
    }
    ev->first = s->base + first;
    ev->last = s->base + last;
}

ct__evidence *ct__scorer_finish(ct__scorer *s, size_t *n_out)
{
    ct__scorer_crowd_close(s);
    settle_crowd(s);
    double *place_sec = ct__calloc(s->n_places + 1, sizeof *place_sec);
    uint32_t *touched = ct__calloc(s->n_places + 1, sizeof *touched);
    size_t n_subs = 0;
    for (size_t i = 0; i < s->n_eps; i++)
        n_subs += i == 0 || sub_at(s, i) != sub_at(s, i - 1);
    ct__evidence *out = ct__calloc(n_subs + 1, sizeof *out);
    size_t k = 0, m = 0;
    for (size_t i = 0; i < s->n_eps;) {
        size_t j = i + 1;
        while (j < s->n_eps && sub_at(s, j) == sub_at(s, i))
            j++;
        ct__evidence *ev = &out[k++];
        evidence_of(s, i, j, place_sec, touched, ev);
        while (m < s->n_move_list && (uint32_t)(s->move_list[m] >> 32) < ev->sub)
            m++;
        for (; m < s->n_move_list && (uint32_t)(s->move_list[m] >> 32) == ev->sub; m++) {
            ev->comove += 1.0 / s->move_sharers[m];
            ev->comove_n++;
        }
        i = j;
    }
    ct__free(place_sec);
    ct__free(touched);
    *n_out = k;
    return out;
}

const ct__visit *ct__scorer_visits(const ct__scorer *s, uint32_t *n_visits)
{
    *n_visits = s->n_visits;
    return s->visits;
}

ct__episode *ct__scorer_episodes_of(const ct__scorer *s, uint32_t sub, size_t *n)
{
    size_t lo = 0, hi = s->n_eps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sub_at(s, mid) < sub)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < s->n_eps && sub_at(s, end) == sub)
        end++;
    *n = end - lo;
    ct__episode *out = ct__malloc((*n + 1) * sizeof *out);
    for (size_t i = lo; i < end; i++)
        out[i - lo] = *episode_at(s, i);
    return out;
}

void ct__scorer_moves_of(const ct__scorer *s, uint32_t sub, uint32_t **ivs, uint32_t **sharers,
                         size_t *n)
{
    *n = 0;
    *ivs = ct__malloc((s->n_move_list + 1) * sizeof **ivs);
    *sharers = ct__malloc((s->n_move_list + 1) * sizeof **sharers);
    for (size_t i = 0; i < s->n_move_list; i++)
        if ((uint32_t)(s->move_list[i] >> 32) == sub) {
            (*ivs)[*n] = (uint32_t)s->move_list[i];
            (*sharers)[(*n)++] = s->move_sharers[i];
        }
}

int64_t ct__scorer_base(const ct__scorer *s)
{
    return s->base;
}
