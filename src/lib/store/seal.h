/*
 * seal.h — ordering, deduplication and sealing of one day (internal).
 *
 * SPEC 4.1 orders a subscriber's events by time; at the same second, cell
 * events first by (operator, cell_id) bytewise, then point events by
 * (lat, lon, accuracy). Two events are the same event (SPEC 3.2) when
 * subscriber, time, operator and location are equal; for a cell event the
 * cell's loc id already names its operator.
 */
#ifndef CT_SEAL_H
#define CT_SEAL_H

#include "catalog.h"
#include "segment.h"

/* Sorts events into SPEC 4.1 order and removes duplicates in place;
 * returns the new count. */
uint32_t ct__seal_sort_unique(ct_event *ev, uint32_t n, const ct_point *points,
                              const ct_catalog *cat);

/* Removes from ev (SPEC 4.1 order, no duplicates) every event that
 * `known` holds (in the same order, no duplicates; a stored run), keeping
 * the order; returns the new count. Points are each array's own. */
uint32_t ct__seal_drop_known(ct_event *ev, uint32_t n, const ct_point *points, const ct_event *known,
                             uint32_t n_known, const ct_point *known_points, const ct_catalog *cat);

/* ev[0, part_end[parts - 1]) is `parts` consecutive parts, each in SPEC
 * 4.1 order without duplicates, part p ending at part_end[p] (a day's
 * runs decoded one after another). Merges them into one order, removes
 * the events two parts share, and returns the count; UINT32_MAX, with ev
 * untouched, if a part is not strictly in that order (a damaged run).
 * scratch holds as many events as ev (unused for one part). Cost: linear
 * in the events times the parts, no sort. */
uint32_t ct__seal_merge_unique(ct_event *ev, const uint32_t *part_end, uint32_t parts,
                               const ct_point *points, const ct_catalog *cat, ct_event *scratch);

#endif
