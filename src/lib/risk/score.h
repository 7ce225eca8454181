/*
 * score.h — the evidence of every (case, subscriber) pair, gathered in the
 * trace's own pass (internal; the definitions are docs/RISK.md section 3).
 *
 * The trace hands every overlap it counts to a scorer: which case
 * interval, which subscriber, how long, how precise (the probability of
 * being within D from proximity.h) and of what kind; a subscriber's
 * consecutive overlaps with one visit come summed (ct__episode_part).
 * The scorer files them under their episode, the (subscriber, case
 * visit) pair, and notes
 * co-movement hits. At the end it turns each subscriber's episodes into
 * one ct__evidence: SPEC 4's exposure, first and last contact and
 * smallest radius (identical to the plain trace's), the expected seconds
 * within D, and the terms the risk model (risk.h) reads.
 *
 * Memory follows the episodes (one 56-byte entry per pair and visit), not
 * the overlaps: a neighbour seen on twelve nights is twelve entries
 * however many events each night holds.
 */
#ifndef CT_SCORE_H
#define CT_SCORE_H

#include <stdint.h>

#include "celltrace.h"
#include "fixedsum.h"

/* A case interval: the case's presence at one place, cut to the
 * infectious window; consecutive events at the same place whose
 * presences touch are one interval. Filled by the trace; the scorer adds
 * visit, place and transition. */
typedef struct ct__case_interval {
    int64_t start, end;
    double lat, lon, radius;
    uint32_t loc;        /* the cell, or CT_LOC_NONE for a point */
    uint32_t op;         /* the point's operator (cells: from the catalogue) */
    uint32_t visit;      /* index of its visit (RISK.md 3.2) */
    uint32_t transition; /* 1: its place differs from the previous interval's */
} ct__case_interval;

/* Kinds of evidence, as bits. */
enum { CT__KIND_CELL_CELL = 1, CT__KIND_CELL_POINT = 2, CT__KIND_POINT_POINT = 4 };

/* One episode: a subscriber's overlaps within one visit of the case. */
typedef struct ct__episode {
    uint32_t sub, visit;
    uint32_t seconds;            /* overlap seconds (their sum is SPEC's X) */
    uint32_t first_off, last_off; /* earliest start, latest end, from the scorer's base */
    uint32_t kinds;
    uint32_t night_s;            /* overlap seconds in local night hours (00:00-06:00) */
    double near_s;               /* expected seconds within D */
    double min_radius;           /* smallest r_a + r_b */
} ct__episode;

/* A visit of the case: consecutive intervals at one place (RISK.md 3.2). */
typedef struct ct__visit {
    int64_t start, end;
    uint32_t first_iv, n_iv;  /* its intervals */
    uint32_t place;           /* visits at the same place share it */
    int64_t day;              /* UTC day of its start */
    double near_total;        /* sum of near_s over all subscribers (after finish) */
    int64_t near_limbs[3];    /* the same sum, exact in any order: whole seconds, then
                               * two 32-bit limbs of the fraction (score.c) */
    uint32_t subscribers;     /* how many had an episode in it */
} ct__visit;

/* One overlap of the explained subscriber, with where it happened (the
 * contact's cell, or its point when loc is CT_LOC_NONE). */
typedef struct ct__overlap_detail {
    uint32_t iv, loc, op, kind;
    uint32_t visit, seq; /* its case interval's visit; the order it was found in */
    int64_t start, end, event_ts;
    double lat, lon, radius;  /* the contact's point */
    double radius_sum, near_p;
} ct__overlap_detail;

/* Everything the model reads about one pair. */
typedef struct ct__evidence {
    uint32_t sub;
    int64_t exposure_s, first, last;
    double min_radius;
    double near_s;       /* expected seconds within D */
    int64_t night_s;     /* overlap seconds in local night hours */
    double share_sum;    /* sum over episodes of share * min(1, seconds / T) */
    double share_max;    /* the largest share of one episode */
    double comove;       /* sum over shared moves of 1 / (subscribers sharing it) */
    uint32_t comove_n;   /* shared moves */
    uint32_t episodes;   /* episodes */
    uint32_t days;       /* distinct UTC days with at least T seconds of overlap */
    uint32_t places;     /* distinct places of the case with at least T seconds */
    uint32_t kinds;      /* CT__KIND_* bits present */
} ct__evidence;

typedef struct ct__scorer ct__scorer;

/* Visit rule (RISK.md 3.2): an interval joins the current visit when it
 * starts at most visit_gap_s after the previous interval ended and its
 * centre is within r + r_anchor (the sum of the radii) of the visit's
 * first interval. */
typedef struct ct__score_params {
    int64_t visit_gap_s;
    int64_t comove_window_s;  /* a shared move: an event within this of the case's move */
    int64_t min_exposure_s;   /* T, for min(1, seconds / T) and the days and places */
    double distance_m;        /* D */
    int64_t utc_offset_s;     /* local time = UTC + this, for night hours */
} ct__score_params;

/* Returns new. Takes the case's intervals (borrowed, they must outlive
 * the scorer), assigns their visits, places and transitions, and keeps a
 * pointer. `base` is the earliest instant any overlap can have. */
ct__scorer *ct__scorer_new(const ct__score_params *sp, ct__case_interval *ivs, uint32_t n_ivs,
                           int64_t base);
void ct__scorer_free(ct__scorer *s);

/* Overlaps of one subscriber with one visit, summed before they reach
 * the scorer's table. A subscriber's overlaps of a day come one after
 * another from the trace, so it sums them here and the table is probed
 * once for all of them. Every field is summed exactly (integers, a
 * fixed-point sum, smallest, largest, or), so adding a part gives the
 * same bits as adding its overlaps one by one. A plain trace uses the
 * first four fields only. */
typedef struct ct__episode_part {
    int64_t first, last;  /* earliest start, latest end */
    double min_radius;    /* smallest r_a + r_b */
    uint32_t seconds;     /* overlap seconds */
    uint32_t night_s;     /* of them in local night hours */
    uint32_t kinds;       /* CT__KIND_* bits */
    ct_fixed_sum near;    /* expected seconds within D */
} ct__episode_part;

/* Starts part with the overlap [start, end) and its radius sum (SPEC
 * 4's fields only); ct__episode_part_grow adds one more. */
static inline void ct__episode_part_start(ct__episode_part *p, int64_t start, int64_t end,
                                          double radius_sum)
{
    *p = (ct__episode_part){.first = start, .last = end, .min_radius = radius_sum,
                            .seconds = (uint32_t)(end - start)};
}

static inline void ct__episode_part_grow(ct__episode_part *p, int64_t start, int64_t end,
                                         double radius_sum)
{
    p->seconds += (uint32_t)(end - start);
    if (start < p->first)
        p->first = start;
    if (end > p->last)
        p->last = end;
    if (radius_sum < p->min_radius)
        p->min_radius = radius_sum;
}

/* The scoring fields of the overlap [start, end) just added to part: its
 * probability of being within D and kind. */
void ct__scorer_part_note(const ct__scorer *s, ct__episode_part *p, int64_t start, int64_t end,
                          double near_p, uint32_t kind);

/* Adds part, overlaps of subscriber sub with case interval iv's visit. */
void ct__scorer_add_part(ct__scorer *s, uint32_t sub, uint32_t iv, const ct__episode_part *p);

/* Prefetches the slot a part of sub with interval iv's visit will update. */
void ct__scorer_prefetch(const ct__scorer *s, uint32_t sub, uint32_t iv);

/* An event of sub at ts, overlapping case interval iv: notes a shared
 * move when iv is a transition and ts is within the window of its start. */
static inline int ct__scorer_is_move(const ct__scorer *s, const ct__case_interval *iv,
                                     int64_t ts, int64_t window)
{
    (void)s;
    int64_t dt = ts - iv->start;
    return iv->transition && dt <= window && dt >= -window;
}
void ct__scorer_move(ct__scorer *s, uint32_t sub, uint32_t iv);

/* The trace is done with every visit before `upto`: every later overlap
 * belongs to a later visit. Their episodes leave the open table (which
 * holds the visits still open, of about a day of the scan) for the
 * closed ones, in visit order. */
void ct__scorer_close_visits(ct__scorer *s, uint32_t upto);

/* The crowd of a pass: the numbers that sum over every subscriber and no
 * single subscriber decides: per visit the near seconds (as exact
 * fixed-point limbs, so that a sum does not depend on its order) and the subscribers; per case
 * interval the subscribers who shared its move. A cluster sums them over
 * its shards (each holds some subscribers, all of each) before finish,
 * and gets exactly one machine's totals. ct__scorer_crowd_close ends the
 * scan (no add after it); ct__scorer_crowd_len says how many numbers,
 * ct__scorer_crowd_get copies them out, ct__scorer_crowd_set replaces
 * them with the cluster's sums. */
void ct__scorer_crowd_close(ct__scorer *s);
size_t ct__scorer_crowd_len(const ct__scorer *s);
void ct__scorer_crowd_get(const ct__scorer *s, int64_t *out);
void ct__scorer_crowd_set(ct__scorer *s, const int64_t *in);
/* Ends the pass: the evidence of every subscriber with at least one
 * overlap (returns new array, *n), in no particular order. */
ct__evidence *ct__scorer_finish(ct__scorer *s, size_t *n);

/* After finish: the visits (n_visits) and the episodes of one subscriber
 * (returns new array, in visit order), for --explain. */
const ct__visit *ct__scorer_visits(const ct__scorer *s, uint32_t *n_visits);
ct__episode *ct__scorer_episodes_of(const ct__scorer *s, uint32_t sub, size_t *n);
/* The shared moves of one subscriber: interval indexes (new array) and
 * how many subscribers shared each (parallel array). */
void ct__scorer_moves_of(const ct__scorer *s, uint32_t sub, uint32_t **ivs, uint32_t **sharers,
                         size_t *n);
int64_t ct__scorer_base(const ct__scorer *s);

#endif
