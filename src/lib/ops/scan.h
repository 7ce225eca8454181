/*
 * scan.h — the trace's candidate scan, asked about a disk and a time
 * window instead of a case (internal; used by area.c).
 *
 * The same code that finds a case's candidates (trace.c) finds every
 * presence P_j (SPEC 4.2) whose disk meets the query disk, with no
 * contact distance: dist(centres) <= radius + r_j. Each such presence,
 * cut to [from, to) and not empty, is handed to fn once, with the
 * phone's own radius r_j and the share of its disk that lies inside the
 * query disk (ct__inside_probability), and where it was. Cells come from the catalogue's
 * grid, points from the tile sections, events from max_presence_s before
 * `from`: nothing else of the store is read.
 */
#ifndef CT_SCAN_H
#define CT_SCAN_H

#include <stdint.h>

#include "celltrace.h"
#include "score.h"

/* Where a presence was: its cell (loc), or CT_LOC_NONE and a GPS fix. */
typedef struct ct__where {
    uint32_t loc;
    double lat, lon; /* the fix (points only) */
} ct__where;

typedef void (*ct__presence_fn)(void *ud, uint32_t sub, int64_t start, int64_t end,
                                double radius, double inside_p, const ct__where *where);

typedef struct ct__disk_scan {
    double lat, lon, radius;
    int64_t from, to;        /* [from, to) */
    int64_t max_presence_s;
    ct__presence_fn fn;
    void *ud;
    uint64_t candidates, overlaps; /* work done (out) */
} ct__disk_scan;

/* One pass. *vanished is set when a segment or cell disappeared under us
 * (a writer replaced it): reload the view (ct__db_reload) and ask again,
 * after forgetting what fn was given. */
ct_code ct__scan_disk(ct_db *db, ct__disk_scan *q, int *vanished, ct_err *err);

/* Subscriber sub's presences (SPEC 4.2) cut to [from, to), in time order,
 * consecutive ones at the same place joined, as a trace takes a case's
 * (trace.c). Returns new (*out, free with ct__free). *vanished as above. */
ct_code ct__presences_of(ct_db *db, uint32_t sub, int64_t from, int64_t to, int64_t max_presence_s,
                        ct__case_interval **out, size_t *n, int *vanished, ct_err *err);

/* Where a cell is (catalogue) or a point was, as the evidence shows it. */
void ct__place_of_cell(ct_db *db, uint32_t loc, ct_place_info *pi);
void ct__place_of_point(ct_db *db, double lat, double lon, double acc, uint32_t op,
                        ct_place_info *pi);

#endif
