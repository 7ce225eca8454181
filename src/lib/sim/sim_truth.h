/*
 * sim_truth.h — who really met the cases (internal).
 *
 * Truth is sampled once a minute (at epoch seconds divisible by 60): at
 * each such instant t inside case c's infectious window, a subscriber x
 * is near c when both are in the same space (sim_sched.h) and their
 * local positions are at most contact_distance_m apart. minutes(c, x)
 * counts those instants; x is a true contact when minutes x 60 >=
 * min_exposure_s. Car spaces are private, so never shared.
 *
 * Ownership: ct__sim_truth_new returns new (borrows the world); free with
 * ct__sim_truth_free (NULL ok).
 */
#ifndef CT_SIM_TRUTH_H
#define CT_SIM_TRUTH_H

#include <stddef.h>
#include <stdint.h>

#include "sim_sched.h"

typedef struct sim_truth sim_truth;

sim_truth *ct__sim_truth_new(const sim_world *w);
void ct__sim_truth_free(sim_truth *t);

/* Adds day `day`: segs holds every person's segments, person i's at
 * segs[off[i]] .. segs[off[i + 1] - 1]. */
void ct__sim_truth_day(sim_truth *t, unsigned day, const sim_seg *segs, const size_t *off);

/* Minutes accumulated so far for (case index, person). */
uint32_t ct__sim_truth_minutes(const sim_truth *t, uint32_t case_idx, uint32_t person);

/* Writes truth.csv (case_id,msisdn,minutes; by case_id, minutes desc,
 * msisdn). *pairs gets the number of rows. */
ct_code ct__sim_truth_write(const sim_truth *t, const char *path, uint64_t *pairs, ct_err *err);

#endif
