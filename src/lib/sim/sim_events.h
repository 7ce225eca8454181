/*
 * sim_events.h — what the networks record, and how operators deliver it
 * (internal).
 *
 * For each person-day the generator derives network events from the
 * person's true trajectory (sim_sched.h), picks each event's serving cell
 * or, for phones with precise positions, a GPS fix, and writes rows into
 * the operator's files of that day (four 6-hour blocks, plus a "late"
 * file delivered the next day), with a few duplicates and, when asked,
 * bad rows of every kind, all counted in the result.
 *
 * Ownership: ct__sim_gen_new returns new (borrows world, nets, params and
 * result, which must outlive it); ct__sim_gen_free frees (NULL ok).
 */
#ifndef CT_SIM_EVENTS_H
#define CT_SIM_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "sim_cells.h"
#include "sim_sched.h"

typedef struct sim_gen sim_gen;

sim_gen *ct__sim_gen_new(const sim_world *w, sim_net *const *nets, ct_sim_result *res);
void ct__sim_gen_free(sim_gen *g);

/* Starts day `day`: subsequent rows go to that day's files. */
void ct__sim_gen_day_begin(sim_gen *g, unsigned day);

/* Generates and writes person i's events of the current day from their
 * segments. Returns the number of good events. */
uint64_t ct__sim_gen_person(sim_gen *g, uint32_t i, const sim_seg *segs, size_t n);

/* Closes the day's files (the late file of the previous day too). */
ct_code ct__sim_gen_day_end(sim_gen *g, ct_err *err);

/* Closes whatever is still open (the last late files). */
ct_code ct__sim_gen_finish(sim_gen *g, ct_err *err);

#endif
