/*
 * ref_score.h — a slow, obviously-correct model of the risk model's
 * evidence (docs/RISK.md sections 2 and 3), for tests only.
 *
 * It works on a ref_store (reference.h: events sorted, deduplicated, with
 * their disks and next-event times) and recomputes, for one case, every
 * pair's episodes, expected seconds within D, shares, recurrence and
 * shared moves by looking at every (case interval, event) pair, with the
 * probability of being within D integrated by a different quadrature
 * (tanh-sinh) from the engine's. The tests include ref_score.c directly.
 */
#ifndef CT_TEST_REF_SCORE_H
#define CT_TEST_REF_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "reference.h"

typedef struct ref_score_params {
    int64_t visit_gap_s, comove_window_s;
    int64_t utc_offset_s; /* local time = UTC + this, for night hours */
} ref_score_params;

/* The evidence of one subscriber against the case. */
typedef struct ref_evidence {
    char msisdn[REF_MSISDN_MAX + 1];
    int64_t exposure_s, first, last;
    double min_radius, near_s;
    int64_t night_s;
    double share_sum, share_max, comove;
    uint32_t comove_n, episodes, days, places;
    unsigned kinds; /* 1 cell-cell, 2 cell-point, 4 point-point */
} ref_evidence;

typedef struct ref_score_result {
    ref_evidence *items; /* every subscriber with an overlap, by msisdn */
    size_t n;
    /* decisions taken within 1e-6 m of their threshold (co-location,
     * visit, place): a different distance formula may decide them the
     * other way, so a case with any is not compared */
    size_t ambiguous;
} ref_score_result;

/* P(|X - Y| <= d_max) for uniform points in two disks (RISK.md 2). */
double ref_near_probability(double centre_dist, double ra, double rb, double d_max);

/* Returns 0 (or -1 out of memory). */
int ref_score(const ref_store *s, const ref_case *c, const ref_params *p,
              const ref_score_params *sp, ref_score_result *out);
void ref_score_result_free(ref_score_result *r);

#endif
