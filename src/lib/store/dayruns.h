/*
 * dayruns.h — a day stored as several runs, read as one (internal).
 *
 * A delivery for a day that is already stored becomes a new run of that
 * day (store.h) instead of a rewrite of it. These functions are the two
 * places that look at all of a day's runs together: decoding them (to
 * drop a delivery's known events, to merge them, to check them) and the
 * in-memory segment that every reader sees for a day of several runs.
 */
#ifndef CT_DAYRUNS_H
#define CT_DAYRUNS_H

#include "catalog.h"
#include "segment.h"
#include "store.h"

/* Every event of day d in SPEC 4.1 order, without duplicates: what one
 * seal of the day would write (*ev and *pts new, *np the points in *pts
 * when np is not NULL). verify_all checks every section's crc first. */
ct_code ct__day_merged(const ct_store *st, const ct_store_day *d, int verify_all,
                       const ct_catalog *cat, ct_event **ev, uint32_t *n, ct_point **pts,
                       uint32_t *np, ct_err *err);

/* The segment a single seal of all of day d's events would have written,
 * built in memory (ct__seg_in_memory): byte for byte the same view. */
ct_code ct__day_merge_in_memory(const ct_store *st, const ct_store_day *d, const ct_catalog *cat,
                                ct_segment *seg, ct_err *err);

#endif
