/*
 * segment.h — immutable day segments: one UTC day of location events,
 * organised by subscriber and by place, compactly coded (internal).
 *
 * A segment holds every stored event whose time falls in one UTC day,
 * deduplicated and in SPEC 4.1 order per subscriber. Each event also
 * carries its "gap": seconds to the same subscriber's next event in the
 * day, or CT_GAP_OPEN for the last one, whose end is found at trace time
 * from the next day's first event (so sealing a day never needs another
 * day). Presence is then [t, t + min(gap, max_presence_s)).
 *
 * Layout (little-endian; docs/FORMAT.md has the full byte tables):
 *   header, 288 bytes: magic "CTSEG03\n", version 3, header crc32, day,
 *     counts, file size, a table of 9 sections {offset, length, crc32},
 *     and the span of seconds its events cover
 *   S0 subscriber directory (n_subs + 1) x {u32 sub, u32 offset in S1,
 *                            u32 0}: sentinel {0xFFFFFFFF, |S1|, 0}
 *   S1 subscriber streams   each subscriber's events, varint-coded: the
 *                            one copy of every event
 *   S2 cell directory       (n_cells + 1) x {u32 loc, u32 first list}
 *   S3 posting lists        (24 n_cells + 1) x u32 offset in S4
 *   S4 postings             per cell and hour of the day, the S0 indexes
 *                            of the subscribers with an event there that
 *                            hour, ascending, as varint deltas
 *   S5 tile directory       (n_tiles + 1) x {u64 key, u32 first block, u32 0}
 *   S6 tile blocks          (n_tile_blocks + 1) x {u32 first tod, u32 offset in S7}
 *   S7 tile stream          point entries, with their coordinates
 *   S8 level radii          CT_GRID_LEVELS x f64 (largest accuracy per level)
 * A cell's events are found through its postings: the subscribers there
 * in the hours that matter, whose own streams (S1) then give the events
 * (issue 15, part 3: a cell section with every event again cost 5 of the
 * 10 bytes an event of version 2). Tile entries are ordered by (key, tod,
 * sub); the block index makes a tile's events from a given second one
 * binary search and a short decode away. Coordinates are stored exactly:
 * as integers of 1e-7 degree (accuracy: 1 cm) when the double is exactly
 * such a value, as the raw double otherwise.
 *
 * Version 2 segments (S2-S4 held every cell event by (loc, tod, sub) in
 * blocks) still open, and decode, as S0, S1 and S5-S8 are the same; their
 * cell section is only checked. Readers that look up cells (db.c) see a
 * version 2 day through a version 3 copy built in memory, and `celltrace
 * upgrade` rewrites them.
 *
 * Readers never trust the streams: every decode is bounds-checked and a
 * malformed entry ends the cursor with an error (-1), never a bad read.
 */
#ifndef CT_SEGMENT_H
#define CT_SEGMENT_H

#include <stdint.h>

#include "celltrace.h"
#include "fsio.h"
#include "geo.h"

#define CT_DAY_S 86400
#define CT_GAP_OPEN 0xFFFFFFFFu
#define CT_SEG_HEADER 288
#define CT_SEG_SECTIONS 9
#define CT_SEG_VERSION 3 /* what the writer writes; 2 is still read */
#define CT_SEG_BLOCK 64
/* A posting list covers an hour of the day: 24 lists a cell. */
#define CT_SEG_POSTING_S 3600u
#define CT_SEG_POSTING_LISTS 24u
/* The writer files cell events by loc id with one counter a cell (so a
 * day's seal costs 8 bytes a cell event, not a global sort); loc ids are
 * the catalogue's dense row ids, and one at or past this is refused
 * (CT_ELIMIT). */
#define CT_SEG_LOCS_MAX (1u << 26)

/* The UTC day number of an instant, rounding down before 1970 too. */
static inline int64_t ct__day_of(int64_t ts)
{
    return ts >= 0 ? ts / CT_DAY_S : -((-ts + CT_DAY_S - 1) / CT_DAY_S);
}

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
    uint32_t sub, off, zero;
} ct_subdir_entry;

typedef struct ct_celldir_entry {
    uint32_t loc, first_block;
} ct_celldir_entry;

typedef struct ct_block_entry {
    uint32_t first_tod, off;
} ct_block_entry;

typedef struct ct_tiledir_entry {
    uint64_t key;
    uint32_t first_block, zero;
} ct_tiledir_entry;

typedef struct ct_segment {
    ct_map map;
    uint32_t version; /* 3; 2 for a segment written before 2026-12-02 */
    int64_t day;
    uint32_t n_events, n_subs, n_points, n_cells, n_cell_events, n_tiles;
    uint32_t n_cell_blocks, n_tile_blocks;
    /* [tod_from, tod_to): the seconds of the day its events span; 0, 0
     * when not recorded (segments written before 2026-12-02) */
    uint32_t tod_from, tod_to;
    const ct_subdir_entry *subdir;
    const uint8_t *subs;       /* S1 */
    uint32_t subs_len;
    const ct_celldir_entry *celldir;
    const ct_block_entry *cell_blocks; /* S3 of version 2 */
    const uint32_t *cell_lists;        /* S3 of version 3 */
    const uint8_t *cells;      /* S4 */
    uint32_t cells_len;
    const ct_tiledir_entry *tiledir;
    const ct_block_entry *tile_blocks;
    const uint8_t *tiles;      /* S7 */
    uint32_t tiles_len;
    const double *level_radius;
} ct_segment;

/* Writes a segment for `day` from events sorted in SPEC 4.1 order per
 * subscriber and free of duplicates; `points` are the point events'
 * coordinates (indexed by ct_event.place). Atomic (fsio). On success
 * *size and *crc describe the file. */
ct_code ct__seg_write(const char *path, int64_t day, const ct_event *ev, uint32_t n,
                      const ct_point *points, uint64_t *size, uint32_t *crc, ct_err *err);

/* The same, freeing ev (always) as soon as it has been read: before the
 * cell postings are filed and encoded (a compaction's peak at a million
 * people, issue 15 part 5). */
ct_code ct__seg_write_consuming(const char *path, int64_t day, ct_event *ev, uint32_t n,
                                const ct_point *points, uint64_t *size, uint32_t *crc, ct_err *err);

/* The seconds of the day that events span, [*from, *to); 0, 0 for none:
 * what a segment's header records (tod_from, tod_to). */
void ct__events_span(const ct_event *ev, uint32_t n, uint32_t *from, uint32_t *to);

/* Builds the segment of those events in memory (an anonymous map, which
 * ct__seg_close releases): the view of a day stored as several runs.
 * Frees ev, as ct__seg_write_consuming does. */
ct_code ct__seg_in_memory(int64_t day, ct_event *ev, uint32_t n, const ct_point *points,
                          ct_segment *seg, ct_err *err);

/* Maps and checks a segment: header, sizes and directories always; with
 * verify_all also every section's checksum. */
ct_code ct__seg_open(const char *path, int verify_all, ct_segment *seg, ct_err *err);
void ct__seg_close(ct_segment *seg);

/* The span of seconds [*tod_from, *tod_to) of the day that a segment's
 * header records (*tod_to 0: not recorded, a file from before spans),
 * from the header alone: its magic, version, crc, size and day are
 * checked and nothing else is read. For questions the header answers
 * (the newest second stored, whether a run can hold a delivery's
 * seconds) without the directory checks of ct__seg_open, which read
 * 12 bytes per subscriber of the day. */
ct_code ct__seg_read_span(const char *path, uint32_t *tod_from, uint32_t *tod_to, ct_err *err);

/* ---- a subscriber's events ---------------------------------------------- */

typedef struct ct_sub_cursor {
    const uint8_t *p, *end;
    uint32_t tod, loc, op;
    int64_t prev[3]; /* last point's coded lat, lon, acc */
} ct_sub_cursor;

/* Positions *c at subscriber sub's first event; 0 if sub has none. */
int ct__seg_sub_open(const ct_segment *seg, uint32_t sub, ct_sub_cursor *c);

/* The next event: 1 (e->place is the loc id, or 0 for a point whose
 * coordinates go to *pt), 0 at the end, -1 if the stream is damaged. */
int ct__seg_sub_next(ct_sub_cursor *c, ct_event *e, ct_point *pt);

/* ---- events at a place ------------------------------------------------------ */

typedef struct ct_place_entry {
    uint32_t sub, tod, gap;
    ct_point pt;
} ct_place_entry;

typedef struct ct_place_cursor {
    const uint8_t *p, *end;      /* the current block */
    const ct_block_entry *block, *last_block; /* last_block: one past */
    const uint8_t *stream;
    uint32_t stream_len;
    uint32_t tod, from, until; /* entries at or after `until` end the walk */
    int64_t prev[3];
    uint32_t part, parts; /* entries of subscribers whose id % parts != part are skipped */
} ct_place_cursor;

/* Whether subscriber sub is in part `part` of `parts` (0 or 1: the only
 * part): how a trace on several threads splits the subscribers, by id, so
 * that each one's events are all in one part. */
static inline int ct__sub_in_part(uint32_t sub, uint32_t part, uint32_t parts)
{
    return parts <= 1 || sub % parts == part;
}

/* Index of the first tile whose key >= key (n_tiles if none). */
uint32_t ct__seg_tile_lower(const ct_segment *seg, uint64_t key);

/* Positions *c at tile `tile`'s (an index) first entry with tod >= from;
 * the walk ends at the first entry at or after `until` (CT_DAY_S: the
 * tile's end). It gives every subscriber's entries (parts 1), or only
 * those whose id is `part` modulo `parts` (a trace on several threads). */
void ct__seg_tile_seek(const ct_segment *seg, uint32_t tile, uint32_t from, uint32_t until,
                       uint32_t part, uint32_t parts, ct_place_cursor *c);

/* The next entry in (tod, sub) order: 1, 0 at the end, -1 if damaged.
 * Entries the cursor skips (before `from`, another part's) have their
 * coordinates stepped over, not converted or checked. */
int ct__seg_place_next(ct_place_cursor *c, ct_place_entry *e);

/* ---- who was at a cell (version 3) ---------------------------------------------- */

/* The index of cell loc in S2, or seg->n_cells if it has no events this
 * day. */
uint32_t ct__seg_cell_index(const ct_segment *seg, uint32_t loc);

typedef struct ct_postings {
    const uint8_t *p, *end;
    uint32_t next;   /* the last index returned, plus one; 0 before the first */
    uint32_t n_subs;
} ct_postings;

/* Positions *c at the posting list of cell `cell` (an S2 index) and
 * `hour` (0..23): the subscribers with an event at that cell whose second
 * falls in that hour, as S0 indexes. */
void ct__seg_postings(const ct_segment *seg, uint32_t cell, uint32_t hour, ct_postings *c);

/* The next S0 index, ascending: 1, 0 at the end, -1 if damaged (an index
 * not above the last, or past S0). */
int ct__seg_postings_next(ct_postings *c, uint32_t *sub_index);

/* Positions *c at the first event of S0's sub_index-th subscriber (no
 * search); 0 if there is no such index. */
int ct__seg_sub_at(const ct_segment *seg, uint32_t sub_index, ct_sub_cursor *c);

/* An event of a subscriber's day as the trace reads its candidates: its
 * second and loc id (0xFFFFFFFF for a point). */
typedef struct ct_sub_place {
    uint32_t tod, loc;
} ct_sub_place;

/* S0's sub_index-th subscriber's events at or after second `from`, in
 * time order, appended to the *n already in *out (grown as needed, *cap
 * its room), up to and including the first at or after `until`; *n
 * counts them all after. 0, or -1 if the stream is damaged. Points are
 * skipped over, not decoded: their coordinates come from the tiles. */
int ct__seg_sub_places(const ct_segment *seg, uint32_t sub_index, uint32_t from, uint32_t until,
                       ct_sub_place **out, size_t *cap, size_t *n);

/* A candidate's cell event, as the trace matches it. */
typedef struct ct_cell_entry {
    uint32_t sub, tod, gap;
} ct_cell_entry;

/* Decodes all events back into sealing form (for merging late data),
 * refusing anything a valid writer would not have written. Returns new
 * arrays (*ev, *points). */
ct_code ct__seg_decode(const ct_segment *seg, ct_event **ev, uint32_t *n, ct_point **points,
                       uint32_t *n_points, ct_err *err);

/* The same into the caller's arrays, which have room for seg->n_events
 * events and seg->n_points points; a point event's place is place_base
 * plus its point's index in pts (several runs decoded into one array). */
ct_code ct__seg_decode_into(const ct_segment *seg, ct_event *ev, ct_point *pts, uint32_t place_base,
                            ct_err *err);

/* The events of seg's s-th subscriber (S0 order) into ev (room for at
 * most `room`) and its points into pts (at most room_pts; a point event's
 * place is place_base plus its index in pts): 0 with the counts in *got
 * and *got_pts, or -1 if the stream is damaged or holds more. */
int ct__seg_decode_sub(const ct_segment *seg, uint32_t s, ct_event *ev, uint32_t room, ct_point *pts,
                       uint32_t room_pts, uint32_t place_base, uint32_t *got, uint32_t *got_pts);

#endif
