/*
 * segment.h — immutable day segments: one UTC day of location events,
 * organised by subscriber and by place (internal).
 *
 * A segment holds every stored event whose time falls in one UTC day,
 * deduplicated and in SPEC 4.1 order per subscriber. Each event also
 * carries its "gap": seconds to the same subscriber's next event in the
 * day, or CT_GAP_OPEN for the last one, whose end is found at trace time
 * from the next day's first event (so sealing a day never needs another
 * day). Presence is then [t, t + min(gap, max_presence_s)).
 *
 * File layout (little-endian; docs/FORMAT.md has the full tables):
 *   header, 256 bytes: magic "CTSEG01\n", version, header crc32, day,
 *     counts, file size, and a table of 8 sections {offset, length, crc32}
 *   S0 subscriber directory  (n_subs + 1) x {u32 sub, u32 first event}
 *   S1 events by subscriber  n_events x {u32 tod | point << 31, u32 place}
 *   S2 points                n_points x {f64 lat, f64 lon, f64 acc, u32 op, u32 0}
 *   S3 cell directory        (n_cells + 1) x {u32 loc, u32 first entry}
 *   S4 cell entries          n_cell_events x {u32 sub, u32 tod, u32 gap}
 *   S5 tile directory        (n_tiles + 1) x {u64 key, u32 first, u32 0}
 *   S6 tile entries          n_points x {u32 sub, u32 tod, u32 gap, u32 point}
 *   S7 level radii           CT_GRID_LEVELS x f64 (largest accuracy per level)
 * Directories end with a sentinel whose `first` is the entry count.
 * Cell entries are sorted by (loc, tod, sub), tile entries by (key, tod,
 * sub): a place's events in a time range are one binary search away.
 */
#ifndef CT_SEGMENT_H
#define CT_SEGMENT_H

#include <stdint.h>

#include "celltrace.h"
#include "fsio.h"
#include "geo.h"

#define CT_DAY_S 86400
#define CT_GAP_OPEN 0xFFFFFFFFu
#define CT_SEG_HEADER 256
#define CT_SEG_SECTIONS 8
#define CT_EV_POINT 0x80000000u

/* An event while sealing (16 bytes). place = loc id for a cell event,
 * index into the points array for a point event. */
typedef struct ct_event {
    uint32_t sub;
    uint32_t tod;   /* seconds since 00:00 UTC of the day */
    uint32_t place;
    uint32_t kind;  /* 0 cell, 1 point */
} ct_event;

typedef struct ct_point {
    double lat, lon, acc;
    uint32_t op;
    uint32_t zero;
} ct_point;

typedef struct ct_subdir_entry {
    uint32_t sub, first;
} ct_subdir_entry;

typedef struct ct_cell_entry {
    uint32_t sub, tod, gap;
} ct_cell_entry;

typedef struct ct_celldir_entry {
    uint32_t loc, first;
} ct_celldir_entry;

typedef struct ct_tiledir_entry {
    uint64_t key;
    uint32_t first, zero;
} ct_tiledir_entry;

typedef struct ct_tile_entry {
    uint32_t sub, tod, gap, point;
} ct_tile_entry;

typedef struct ct_segment {
    ct_map map;
    int64_t day;
    uint32_t n_events, n_subs, n_points, n_cells, n_cell_events, n_tiles;
    const ct_subdir_entry *subdir;
    const uint32_t *events; /* pairs: tod|kind, place */
    const ct_point *points;
    const ct_celldir_entry *celldir;
    const ct_cell_entry *cell_entries;
    const ct_tiledir_entry *tiledir;
    const ct_tile_entry *tile_entries;
    const double *level_radius;
} ct_segment;

/* Writes a segment for `day` from events sorted in SPEC 4.1 order per
 * subscriber and free of duplicates; `points` are the point events'
 * coordinates (indexed by ct_event.place). Atomic (fsio). On success
 * *size and *crc describe the file. */
ct_code ct__seg_write(const char *path, int64_t day, const ct_event *ev, uint32_t n,
                      const ct_point *points, uint64_t *size, uint32_t *crc, ct_err *err);

/* Maps and checks a segment: header, sizes and directories always; with
 * verify_all also every section's checksum. */
ct_code ct__seg_open(const char *path, int verify_all, ct_segment *seg, ct_err *err);
void ct__seg_close(ct_segment *seg);

/* Range [*first, *end) of subscriber sub's events in S1; 0 if absent. */
int ct__seg_sub_range(const ct_segment *seg, uint32_t sub, uint32_t *first, uint32_t *end);

/* Range of cell loc's entries in S4; 0 if absent. */
int ct__seg_cell_range(const ct_segment *seg, uint32_t loc, uint32_t *first, uint32_t *end);

/* First tile directory index with key >= key. */
uint32_t ct__seg_tile_lower(const ct_segment *seg, uint64_t key);

/* Decodes all events back into sealing form (for merging late data).
 * Returns new arrays (*ev, *points). */
ct_code ct__seg_decode(const ct_segment *seg, ct_event **ev, uint32_t *n, ct_point **points,
                       uint32_t *n_points, ct_err *err);

#endif
