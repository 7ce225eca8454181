/*
 * segment.c — writing and reading day segments (format in segment.h and
 * docs/FORMAT.md).
 *
 * Why this coding: a day of a big city is billions of events, so bytes
 * per event decide what a machine can hold. Each event is stored once, in
 * its subscriber's stream: times are deltas (a phone's next event is
 * seconds to minutes away), a phone usually stays in its cell from one
 * event to the next (a flag instead of the cell id), and numbers are
 * LEB128 varints. Random access survives where trace needs it: per
 * subscriber through S0; per cell and hour through the posting lists
 * (S2-S4), which name the subscribers to read; per tile and time through
 * the block index S6 (CT_SEG_BLOCK entries a block).
 *
 * Writing builds each section in memory, computes its crc32, and streams
 * it to a temporary file that fsio commits atomically; the header (with
 * the section table) is written last. Reading maps the file and refuses
 * anything whose header, sizes or directories are inconsistent; the
 * streams are decoded with bounds checks (a damaged byte gives -1 from a
 * cursor, never a read outside the map).
 */
#include "segment.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "alloc.h"
#include "radix.h"
#include "error.h"
#include "fsio.h"
#include "store.h"
#include "subscribers.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "segments are little-endian; this build assumes a little-endian host"
#endif

static const char MAGIC[8] = {'C', 'T', 'S', 'E', 'G', '0', '3', '\n'};
static const char MAGIC_V2[8] = {'C', 'T', 'S', 'E', 'G', '0', '2', '\n'};

enum { SEC_SUBDIR, SEC_SUBS, SEC_CELLDIR, SEC_CELLBLK, SEC_CELLS, SEC_TILEDIR, SEC_TILEBLK, SEC_TILES,
       SEC_LEVELS };

typedef struct section_info {
    uint64_t off, len;
    uint32_t crc, zero;
} section_info;

typedef struct seg_header {
    char magic[8];
    uint32_t version;
    uint32_t header_crc;
    int64_t day;
    uint32_t n_events, n_subs, n_points, n_cells, n_cell_events, n_tiles;
    uint32_t n_cell_blocks, n_tile_blocks;
    uint64_t file_size;
    section_info sections[CT_SEG_SECTIONS];
    uint32_t tod_from, tod_to; /* [first, last + 1) second of its events; 0, 0 before 2026-12 */
} seg_header;

_Static_assert(sizeof(seg_header) == CT_SEG_HEADER, "segment header is 288 bytes");
_Static_assert(sizeof(ct_tiledir_entry) == 16, "tile directory entry is 16 bytes");

/* Coordinates are coded as integers of these units when exact. */
static const double COORD_SCALE[3] = {1e7, 1e7, 100.0}; /* lat, lon (degrees), accuracy (m) */

static uint32_t crc_of(const void *p, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const uint8_t *b = p;
    while (len) {
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, b, chunk);
        b += chunk;
        len -= chunk;
    }
    return (uint32_t)c;
}

/* ---- varints and coordinates ------------------------------------------------ */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put_byte(buf *b, uint8_t v)
{
    CT_GROW(b->p, b->n + 1, b->cap);
    b->p[b->n++] = v;
}

static void put_varint(buf *b, uint64_t v)
{
    while (v >= 0x80) {
        put_byte(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put_byte(b, (uint8_t)v);
}

/* Reads a varint of at most 10 bytes below end; -1 when malformed. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int get_u32(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
    uint64_t x;
    if (get_varint(p, end, &x) || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A coordinate: (delta of its integer code << 1) when the double is
 * exactly code / scale, else 1 followed by the 8 bytes of the double. */
static void put_coord(buf *b, double v, int which, int64_t *prev)
{
    double scaled = v * COORD_SCALE[which];
    if (fabs(scaled) < 9e15) {
        int64_t k = llround(scaled);
        if ((double)k / COORD_SCALE[which] == v) {
            put_varint(b, zigzag(k - prev[which]) << 1);
            prev[which] = k;
            return;
        }
    }
    put_varint(b, 1);
    uint8_t raw[8];
    memcpy(raw, &v, 8);
    for (int i = 0; i < 8; i++)
        put_byte(b, raw[i]);
}

/* One coordinate into *v; with v NULL only stepped over: the delta chain
 * followed (prev), nothing converted. */
static int get_coord(const uint8_t **p, const uint8_t *end, int which, int64_t *prev, double *v)
{
    uint64_t x;
    if (get_varint(p, end, &x))
        return -1;
    if (x & 1) {
        if (x != 1 || end - *p < 8)
            return -1;
        if (v)
            memcpy(v, *p, 8);
        *p += 8;
        return 0;
    }
    /* wraps (two's complement) rather than overflowing on a damaged or
     * forged delta: a skipped entry's coordinates are never checked */
    prev[which] = (int64_t)((uint64_t)prev[which] + (uint64_t)unzigzag(x >> 1));
    if (v)
        *v = (double)prev[which] / COORD_SCALE[which];
    return 0;
}

static void put_point(buf *b, const ct_point *pt, int64_t *prev)
{
    put_coord(b, pt->lat, 0, prev);
    put_coord(b, pt->lon, 1, prev);
    put_coord(b, pt->acc, 2, prev);
}

static int point_valid(const ct_point *p)
{
    return p->lat >= -90.0 && p->lat <= 90.0 && p->lon >= -180.0 && p->lon <= 180.0 && p->acc > 0.0 &&
           p->acc <= 100000.0;
}

static int get_point(const uint8_t **p, const uint8_t *end, int64_t *prev, ct_point *pt)
{
    if (get_coord(p, end, 0, prev, &pt->lat) || get_coord(p, end, 1, prev, &pt->lon) ||
        get_coord(p, end, 2, prev, &pt->acc))
        return -1;
    return point_valid(pt) ? 0 : -1;
}

/* ---- building the sections -------------------------------------------------- */

typedef struct place_item {
    uint64_t key; /* loc id or tile key */
    uint32_t tod, sub, gap, point;
} place_item;

/* Tile items by (key, tod), with the stable radix sort of radix.h: by
 * tod, then by key. Items arrive in by-subscriber order, so equal (key,
 * tod) keep subscriber order, which is the order S7 promises (S4's cells
 * are ordered by build_cells). */
static uint32_t item_tod(const place_item *p)
{
    return p->tod;
}

static uint64_t item_key(const place_item *p)
{
    return p->key;
}

CT_RADIX_SORT_DEFINE(sort_by_tod, place_item, item_tod)
CT_RADIX_SORT_DEFINE(sort_by_key, place_item, item_key)

static void sort_places(place_item *a, uint32_t n)
{
    if (!CT_RADIX_NEEDS_SCRATCH(n)) {
        sort_by_tod(a, NULL, n, 32, NULL);
        sort_by_key(a, NULL, n, 64, NULL);
        return;
    }
    place_item *tmp = ct__calloc(n, sizeof *tmp);
    uint32_t *count = ct__calloc(CT_RADIX_BUCKETS, sizeof *count);
    sort_by_tod(a, tmp, n, 32, count);
    sort_by_key(a, tmp, n, 64, count);
    ct__free(count);
    ct__free(tmp);
}

typedef struct built {
    seg_header h;
    void *sec[CT_SEG_SECTIONS];
} built;

static void set_section(built *b, int s, void *data, uint64_t len)
{
    b->sec[s] = data;
    b->h.sections[s].len = len;
}

/* One subscriber's stream: head = tod delta << 2 | flag, where flag 0 is
 * "the same cell as its previous cell event", 1 "another cell" (its loc
 * follows), 2 "a point" (operator and coordinates follow). */
static void put_sub_event(buf *b, const ct_event *e, const ct_point *pts, uint32_t *prev_tod,
                          uint32_t *prev_loc, int64_t *prev)
{
    uint64_t delta = e->tod - *prev_tod;
    *prev_tod = e->tod;
    if (e->kind) {
        put_varint(b, delta << 2 | 2);
        put_varint(b, pts[e->place].op);
        put_point(b, &pts[e->place], prev);
    } else if (e->place == *prev_loc) {
        put_varint(b, delta << 2);
    } else {
        put_varint(b, delta << 2 | 1);
        put_varint(b, e->place);
        *prev_loc = e->place;
    }
}

/* Seconds from event i to its subscriber's next event of the day, or
 * CT_GAP_OPEN for the subscriber's last. */
static uint32_t event_gap(const ct_event *ev, uint32_t n, uint32_t i)
{
    return (i + 1 < n && ev[i + 1].sub == ev[i].sub) ? ev[i + 1].tod - ev[i].tod : CT_GAP_OPEN;
}

void ct__events_span(const ct_event *ev, uint32_t n, uint32_t *from, uint32_t *to)
{
    *from = n ? CT_DAY_S : 0;
    *to = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (ev[i].tod < *from)
            *from = ev[i].tod;
        if (ev[i].tod + 1 > *to)
            *to = ev[i].tod + 1;
    }
}

/* S0, S1 and the gaps; collects the tile items for S5-S7 and counts the
 * cell events (build_cells orders those itself). */
static void build_by_subscriber(built *b, const ct_event *ev, uint32_t n, const ct_point *pts,
                                place_item *ti)
{
    ct_subdir_entry *dir = ct__calloc((size_t)n + 1, sizeof *dir);
    buf s = {NULL, 0, 0};
    uint32_t n_subs = 0, n_points = 0, n_cell = 0, prev_tod = 0, prev_loc = CT_GAP_OPEN;
    int64_t prev[3] = {0, 0, 0};
    for (uint32_t i = 0; i < n; i++) {
        assert(ev[i].sub <= CT_SUB_MAX && ev[i].tod < CT_DAY_S);
        if (i == 0 || ev[i].sub != ev[i - 1].sub) {
            dir[n_subs++] = (ct_subdir_entry){ev[i].sub, (uint32_t)s.n, 0};
            prev_tod = 0;
            prev_loc = CT_GAP_OPEN;
            prev[0] = prev[1] = prev[2] = 0;
        }
        put_sub_event(&s, &ev[i], pts, &prev_tod, &prev_loc, prev);
        if (ev[i].kind) {
            const ct_point *p = &pts[ev[i].place];
            ti[n_points++] = (place_item){ct__grid_key(ct__grid_level(p->acc), p->lat, p->lon),
                                          ev[i].tod, ev[i].sub, event_gap(ev, n, i), ev[i].place};
        } else {
            assert(ev[i].place != CT_GAP_OPEN);
            n_cell++;
        }
    }
    dir[n_subs] = (ct_subdir_entry){CT_GAP_OPEN, (uint32_t)s.n, 0};
    ct__events_span(ev, n, &b->h.tod_from, &b->h.tod_to);
    b->h.n_events = n;
    b->h.n_subs = n_subs;
    b->h.n_points = n_points;
    b->h.n_cell_events = n_cell;
    set_section(b, SEC_SUBDIR, dir, ((uint64_t)n_subs + 1) * sizeof *dir);
    set_section(b, SEC_SUBS, s.p, s.n);
}

/* Cuts sorted items into blocks of at most CT_SEG_BLOCK entries that never
 * span two places; writes the directory entries through dir_fn. */
typedef struct blocked {
    buf stream;
    ct_block_entry *blocks;
    size_t n_blocks, cap;
} blocked;

static void start_block(blocked *bl, uint32_t tod)
{
    CT_GROW(bl->blocks, bl->n_blocks + 1, bl->cap);
    bl->blocks[bl->n_blocks++] = (ct_block_entry){tod, (uint32_t)bl->stream.n};
}

/* A cell event while the postings are built: its subscriber's place in
 * S0 and the hour of its second. */
typedef struct cell_item {
    uint32_t sub_index, hour;
} cell_item;

/* S2-S4, the cell postings: for each cell with events and each hour of
 * the day, the subscribers (as S0 indexes) with an event at that cell
 * starting in that hour. Events arrive by subscriber; one counting pass
 * files them by cell (stable, so each cell's items stay in subscriber
 * order), then each cell's items are filed by hour the same way, so every
 * list comes out ascending and duplicates sit next to each other. 8 bytes
 * a cell event, 4 a loc id (the counters) and a scratch the size of the
 * busiest cell: sealing a day of a million people stays bounded (issue
 * 15, part 5). */
static ct_code build_cells(built *b, const ct_event *ev, uint32_t n, ct_event *release, ct_err *err)
{
    uint32_t n_cell = b->h.n_cell_events, n_locs = 0, busiest = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (ev[i].kind)
            continue;
        if (ev[i].place >= CT_SEG_LOCS_MAX) { /* loc ids are the catalogue's dense row ids */
            uint32_t loc = ev[i].place; /* ev may be release, freed next */
            ct__free(release);
            return ct__fail(err, CT_ELIMIT, "day %lld: cell loc id %u is past the writer's limit of %u",
                            (long long)b->h.day, loc, CT_SEG_LOCS_MAX - 1);
        }
        if (ev[i].place >= n_locs)
            n_locs = ev[i].place + 1;
    }
    uint32_t *first = ct__calloc((size_t)n_locs + 1, sizeof *first); /* a cell's first item */
    for (uint32_t i = 0; i < n; i++)
        if (!ev[i].kind)
            first[ev[i].place + 1]++;
    for (uint32_t l = 0; l < n_locs; l++) {
        if (first[l + 1] > busiest)
            busiest = first[l + 1];
        first[l + 1] += first[l];
    }
    cell_item *items = ct__calloc((size_t)n_cell + 1, sizeof *items);
    for (uint32_t i = 0, sub_index = 0; i < n; i++) {
        if (i > 0 && ev[i].sub != ev[i - 1].sub)
            sub_index++;
        if (!ev[i].kind)
            items[first[ev[i].place]++] = (cell_item){sub_index, ev[i].tod / CT_SEG_POSTING_S};
    }
    /* first[l] is now cell l's end, which is cell l + 1's start */
    ct__free(release); /* the events are read for the last time: a day's encoding does not hold them */
    cell_item *by_hour = ct__calloc((size_t)busiest + 1, sizeof *by_hour);
    ct_celldir_entry *dir = ct__calloc((size_t)(n_cell < n_locs ? n_cell : n_locs) + 1, sizeof *dir);
    uint32_t *lists = NULL;
    size_t n_lists = 0, cap_lists = 0;
    buf stream = {NULL, 0, 0};
    uint32_t n_cells = 0;
    for (uint32_t l = 0, start = 0; l < n_locs; start = first[l++]) {
        uint32_t end = first[l];
        if (end == start)
            continue;
        uint32_t at[CT_SEG_POSTING_LISTS + 1] = {0};
        for (uint32_t i = start; i < end; i++)
            at[items[i].hour + 1]++;
        for (uint32_t h = 0; h < CT_SEG_POSTING_LISTS; h++)
            at[h + 1] += at[h];
        uint32_t hour_end[CT_SEG_POSTING_LISTS];
        ct__copy(hour_end, at, sizeof hour_end);
        for (uint32_t i = start; i < end; i++)
            by_hour[hour_end[items[i].hour]++] = items[i];
        dir[n_cells++] = (ct_celldir_entry){l, (uint32_t)n_lists};
        CT_GROW(lists, n_lists + CT_SEG_POSTING_LISTS, cap_lists);
        for (uint32_t h = 0; h < CT_SEG_POSTING_LISTS; h++) {
            lists[n_lists++] = (uint32_t)stream.n;
            uint32_t prev = 0;
            for (uint32_t i = at[h]; i < at[h + 1]; i++) {
                uint32_t sub_index = by_hour[i].sub_index;
                if (i > at[h] && sub_index == prev)
                    continue; /* the same subscriber again in this hour */
                put_varint(&stream, i > at[h] ? sub_index - prev : sub_index);
                prev = sub_index;
            }
        }
    }
    ct__free(by_hour);
    ct__free(items);
    ct__free(first);
    dir[n_cells] = (ct_celldir_entry){CT_GAP_OPEN, (uint32_t)n_lists};
    CT_GROW(lists, n_lists + 1, cap_lists);
    lists[n_lists] = (uint32_t)stream.n;
    b->h.n_cells = n_cells;
    b->h.n_cell_blocks = (uint32_t)n_lists;
    set_section(b, SEC_CELLDIR, dir, ((uint64_t)n_cells + 1) * sizeof *dir);
    set_section(b, SEC_CELLBLK, lists, ((uint64_t)n_lists + 1) * sizeof *lists);
    set_section(b, SEC_CELLS, stream.p, stream.n);
    return CT_OK;
}

static void build_tiles(built *b, place_item *ti, const ct_point *pts)
{
    uint32_t n = b->h.n_points, n_tiles = 0, in_block = 0, prev_tod = 0;
    int64_t prev[3] = {0, 0, 0};
    sort_places(ti, n);
    ct_tiledir_entry *dir = ct__calloc((size_t)n + 1, sizeof *dir);
    double *levels = ct__calloc(CT_GRID_LEVELS, sizeof *levels);
    blocked bl = {{NULL, 0, 0}, NULL, 0, 0};
    for (uint32_t i = 0; i < n; i++) {
        int new_place = i == 0 || ti[i].key != ti[i - 1].key;
        const ct_point *p = &pts[ti[i].point];
        if (new_place)
            dir[n_tiles++] = (ct_tiledir_entry){ti[i].key, (uint32_t)bl.n_blocks, 0};
        if (new_place || in_block == CT_SEG_BLOCK) {
            start_block(&bl, ti[i].tod);
            in_block = 0;
            prev_tod = ti[i].tod;
            prev[0] = prev[1] = prev[2] = 0;
        }
        put_varint(&bl.stream, ti[i].tod - prev_tod);
        put_varint(&bl.stream, ti[i].sub);
        put_varint(&bl.stream, ti[i].gap == CT_GAP_OPEN ? 0 : (uint64_t)ti[i].gap + 1);
        put_point(&bl.stream, p, prev);
        prev_tod = ti[i].tod;
        in_block++;
        unsigned level = (unsigned)(ti[i].key >> 44);
        if (p->acc > levels[level])
            levels[level] = p->acc;
    }
    dir[n_tiles] = (ct_tiledir_entry){UINT64_MAX, (uint32_t)bl.n_blocks, 0};
    start_block(&bl, 0);
    bl.n_blocks--;
    b->h.n_tiles = n_tiles;
    b->h.n_tile_blocks = (uint32_t)bl.n_blocks;
    set_section(b, SEC_TILEDIR, dir, ((uint64_t)n_tiles + 1) * sizeof *dir);
    set_section(b, SEC_TILEBLK, bl.blocks, ((uint64_t)bl.n_blocks + 1) * sizeof *bl.blocks);
    set_section(b, SEC_TILES, bl.stream.p, bl.stream.n);
    set_section(b, SEC_LEVELS, levels, CT_GRID_LEVELS * sizeof *levels);
}

/* Places the sections (each 8-aligned after the header) and fills in
 * their checksums, the file size and the header's own checksum. */
static void lay_out(built *b)
{
    static const uint8_t nothing[1];
    uint64_t off = CT_SEG_HEADER;
    for (int s = 0; s < CT_SEG_SECTIONS; s++) {
        off += -off & 7;
        b->h.sections[s].off = off;
        b->h.sections[s].crc = crc_of(b->sec[s] ? b->sec[s] : nothing, b->h.sections[s].len);
        off += b->h.sections[s].len;
    }
    b->h.file_size = off;
    b->h.header_crc = 0;
    b->h.header_crc = crc_of(&b->h, sizeof b->h);
}

static ct_code write_built(const char *path, built *b, uint64_t *size, uint32_t *crc, ct_err *err)
{
    ct_wfile f;
    ct_code rc = ct__fs_create(&f, path, err);
    if (rc)
        return rc;
    static const uint8_t zeros[CT_SEG_HEADER];
    lay_out(b);
    rc = ct__fs_write(&f, &b->h, sizeof b->h, err);
    uint64_t off = CT_SEG_HEADER;
    for (int s = 0; s < CT_SEG_SECTIONS && !rc; s++) {
        if (b->h.sections[s].off > off)
            rc = ct__fs_write(&f, zeros, b->h.sections[s].off - off, err);
        if (!rc && b->h.sections[s].len)
            rc = ct__fs_write(&f, b->sec[s], b->h.sections[s].len, err);
        off = b->h.sections[s].off + b->h.sections[s].len;
    }
    if (rc) {
        ct__fs_discard(&f);
        return rc;
    }
    *size = off;
    *crc = b->h.header_crc;
    return ct__fs_commit(&f, err);
}

/* The sections of a day's segment, encoded; ct__free each b->sec. With
 * `release` (ev itself), ev is freed as soon as it has been read. */
static ct_code build(built *b, int64_t day, const ct_event *ev, uint32_t n, const ct_point *points,
                     ct_event *release, ct_err *err)
{
    memset(b, 0, sizeof *b);
    memcpy(b->h.magic, MAGIC, sizeof MAGIC);
    b->h.version = CT_SEG_VERSION;
    b->h.day = day;
    place_item *ti = ct__calloc((size_t)n + 1, sizeof *ti);
    build_by_subscriber(b, ev, n, points, ti);
    ct_code rc = build_cells(b, ev, n, release, err);
    if (!rc)
        build_tiles(b, ti, points);
    ct__free(ti);
    if (rc)
        return rc;
    for (int s = 0; s < CT_SEG_SECTIONS; s++)
        if (b->h.sections[s].len > UINT32_MAX - 1)
            return ct__fail(err, CT_ELIMIT, "day %lld: a section of its segment passes 4 GiB", (long long)day);
    return CT_OK;
}

static void free_built(built *b)
{
    for (int s = 0; s < CT_SEG_SECTIONS; s++)
        ct__free(b->sec[s]);
}

static ct_code write_segment(const char *path, int64_t day, const ct_event *ev, uint32_t n,
                             const ct_point *points, ct_event *release, uint64_t *size, uint32_t *crc,
                             ct_err *err)
{
    built b;
    ct_code rc = build(&b, day, ev, n, points, release, err);
    if (!rc)
        rc = write_built(path, &b, size, crc, err);
    free_built(&b);
    return rc;
}

ct_code ct__seg_write(const char *path, int64_t day, const ct_event *ev, uint32_t n,
                      const ct_point *points, uint64_t *size, uint32_t *crc, ct_err *err)
{
    return write_segment(path, day, ev, n, points, NULL, size, crc, err);
}

ct_code ct__seg_write_consuming(const char *path, int64_t day, ct_event *ev, uint32_t n,
                                const ct_point *points, uint64_t *size, uint32_t *crc, ct_err *err)
{
    return write_segment(path, day, ev, n, points, ev, size, crc, err);
}

static ct_code open_mapped(const char *name, int verify_all, ct_segment *seg, ct_err *err);

ct_code ct__seg_in_memory(int64_t day, ct_event *ev, uint32_t n, const ct_point *points,
                          ct_segment *seg, ct_err *err)
{
    memset(seg, 0, sizeof *seg);
    built b;
    ct_code rc = build(&b, day, ev, n, points, ev, err);
    if (rc) {
        free_built(&b);
        return rc;
    }
    lay_out(&b);
    /* an anonymous map, so that ct__seg_close unmaps it as it unmaps a file */
    void *mem = mmap(NULL, b.h.file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        free_built(&b);
        return ct__fail_errno(err, CT_ENOMEM, errno, "day %lld: no memory for its merged runs",
                              (long long)day);
    }
    memcpy(mem, &b.h, sizeof b.h); /* the padding stays zero, as in a file */
    for (int s = 0; s < CT_SEG_SECTIONS; s++)
        if (b.h.sections[s].len)
            memcpy((uint8_t *)mem + b.h.sections[s].off, b.sec[s], b.h.sections[s].len);
    free_built(&b);
    mprotect(mem, b.h.file_size, PROT_READ);
    seg->map.data = mem;
    seg->map.len = b.h.file_size;
    char name[64];
    snprintf(name, sizeof name, "the merged runs of day %lld", (long long)day);
    return open_mapped(name, 0, seg, err);
}

/* ---- opening ------------------------------------------------------------------ */

/* Fixed-size sections must match the counts; streams are what they are. */
static ct_code check_sections(const char *path, const seg_header *h, const ct_map *m,
                              int verify_all, ct_err *err)
{
    /* S3: version 2's cell blocks are {first tod, offset}, version 3's
     * posting lists an offset each, 24 to a cell */
    uint64_t cell_index_entry = h->version == 2 ? 8 : 4;
    if (h->version == 3 && h->n_cell_blocks != (uint64_t)h->n_cells * CT_SEG_POSTING_LISTS)
        return ct__fail(err, CT_ECORRUPT, "%s: its posting lists are not 24 a cell", path);
    const uint64_t expect[CT_SEG_SECTIONS] = {
        ((uint64_t)h->n_subs + 1) * 12, UINT64_MAX, ((uint64_t)h->n_cells + 1) * 8,
        ((uint64_t)h->n_cell_blocks + 1) * cell_index_entry, UINT64_MAX, ((uint64_t)h->n_tiles + 1) * 16,
        ((uint64_t)h->n_tile_blocks + 1) * 8, UINT64_MAX, CT_GRID_LEVELS * 8};
    uint64_t at = CT_SEG_HEADER;
    for (int s = 0; s < CT_SEG_SECTIONS; s++) {
        const section_info *si = &h->sections[s];
        if ((expect[s] != UINT64_MAX && si->len != expect[s]) || si->len >= UINT32_MAX ||
            si->off < at || si->off - at > 7 || si->off % 8 || si->off > m->len ||
            si->len > m->len - si->off)
            return ct__fail(err, CT_ECORRUPT, "%s: section %d has a bad size or place", path, s);
        for (uint64_t p = at; verify_all && p < si->off; p++)
            if (m->data[p])
                return ct__fail(err, CT_ECORRUPT, "%s: damaged padding before section %d", path, s);
        if (verify_all && crc_of(m->data + si->off, si->len) != si->crc)
            return ct__fail(err, CT_ECORRUPT, "%s: section %d fails its checksum", path, s);
        at = si->off + si->len;
    }
    if (at != m->len)
        return ct__fail(err, CT_ECORRUPT, "%s: bytes after the last section", path);
    if (h->n_cell_events + (uint64_t)h->n_points != h->n_events)
        return ct__fail(err, CT_ECORRUPT, "%s: event counts disagree", path);
    /* every event is at least one byte of S1: a count the file cannot hold
     * is refused before anyone sizes an array by it */
    if (h->n_events > h->sections[SEC_SUBS].len || h->n_subs > h->n_events)
        return ct__fail(err, CT_ECORRUPT, "%s: more events than its bytes can hold", path);
    return CT_OK;
}

static int blocks_ordered(const ct_block_entry *b, uint32_t n, uint32_t stream_len)
{
    for (uint32_t i = 0; i < n; i++)
        if (b[i].off >= b[i + 1].off || b[i].first_tod >= CT_DAY_S)
            return 0;
    return (n == 0 || b[0].off == 0) && b[n].off == stream_len;
}

static ct_code check_directories(const char *path, const ct_segment *s, ct_err *err)
{
    for (uint32_t i = 0; i < s->n_subs; i++)
        if (s->subdir[i].off >= s->subdir[i + 1].off || s->subdir[i].sub >= s->subdir[i + 1].sub)
            return ct__fail(err, CT_ECORRUPT, "%s: subscriber directory is not ordered", path);
    if ((s->n_subs ? s->subdir[0].off : 0) != 0 || s->subdir[s->n_subs].off != s->subs_len)
        return ct__fail(err, CT_ECORRUPT, "%s: subscriber directory is incomplete", path);
    for (uint32_t i = 0; i < s->n_cells; i++)
        if (s->celldir[i].first_block >= s->celldir[i + 1].first_block || s->celldir[i].loc >= s->celldir[i + 1].loc)
            return ct__fail(err, CT_ECORRUPT, "%s: cell directory is not ordered", path);
    if (s->version == 2) {
        if ((s->n_cells ? s->celldir[0].first_block : 0) != 0 || s->celldir[s->n_cells].first_block != s->n_cell_blocks ||
            !blocks_ordered(s->cell_blocks, s->n_cell_blocks, s->cells_len))
            return ct__fail(err, CT_ECORRUPT, "%s: cell blocks are inconsistent", path);
    } else {
        /* cell i owns lists [24 i, 24 i + 24); a list ends where the next starts */
        for (uint32_t i = 0; i <= s->n_cells; i++)
            if (s->celldir[i].first_block != i * CT_SEG_POSTING_LISTS)
                return ct__fail(err, CT_ECORRUPT, "%s: cell directory does not match its lists", path);
        for (uint32_t i = 0; i < s->n_cell_blocks; i++)
            if (s->cell_lists[i] > s->cell_lists[i + 1])
                return ct__fail(err, CT_ECORRUPT, "%s: posting lists are not in order", path);
        if (s->cell_lists[0] != 0 || s->cell_lists[s->n_cell_blocks] != s->cells_len)
            return ct__fail(err, CT_ECORRUPT, "%s: posting lists do not cover their section", path);
    }
    for (uint32_t i = 0; i < s->n_tiles; i++)
        if (s->tiledir[i].first_block >= s->tiledir[i + 1].first_block || s->tiledir[i].key >= s->tiledir[i + 1].key)
            return ct__fail(err, CT_ECORRUPT, "%s: tile directory is not ordered", path);
    if ((s->n_tiles ? s->tiledir[0].first_block : 0) != 0 || s->tiledir[s->n_tiles].first_block != s->n_tile_blocks ||
        !blocks_ordered(s->tile_blocks, s->n_tile_blocks, s->tiles_len))
        return ct__fail(err, CT_ECORRUPT, "%s: tile blocks are inconsistent", path);
    for (int l = 0; l < CT_GRID_LEVELS; l++)
        if (!(s->level_radius[l] >= 0.0 && s->level_radius[l] <= 100000.0))
            return ct__fail(err, CT_ECORRUPT, "%s: bad level radius", path);
    return CT_OK;
}

static void point_sections(ct_segment *seg, const seg_header *h)
{
    const uint8_t *base = seg->map.data;
#define AT(s) ((const void *)(base + h->sections[s].off))
    seg->subdir = AT(SEC_SUBDIR);
    seg->subs = AT(SEC_SUBS);
    seg->subs_len = (uint32_t)h->sections[SEC_SUBS].len;
    seg->celldir = AT(SEC_CELLDIR);
    if (h->version == 2)
        seg->cell_blocks = AT(SEC_CELLBLK);
    else
        seg->cell_lists = AT(SEC_CELLBLK);
    seg->cells = AT(SEC_CELLS);
    seg->cells_len = (uint32_t)h->sections[SEC_CELLS].len;
    seg->tiledir = AT(SEC_TILEDIR);
    seg->tile_blocks = AT(SEC_TILEBLK);
    seg->tiles = AT(SEC_TILES);
    seg->tiles_len = (uint32_t)h->sections[SEC_TILES].len;
    seg->level_radius = AT(SEC_LEVELS);
#undef AT
}

/* A segment's header, the first bytes of a file of file_len bytes, into
 * *h: its magic, version, crc, size and day checked, nothing after it. */
static ct_code read_header(const char *path, const void *data, size_t file_len, seg_header *h,
                           ct_err *err)
{
    if (file_len < sizeof *h)
        return ct__fail(err, CT_ECORRUPT, "%s: too short for a segment", path);
    memcpy(h, data, sizeof *h);
    uint32_t stored_crc = h->header_crc;
    h->header_crc = 0;
    int v3 = !memcmp(h->magic, MAGIC, sizeof MAGIC) && h->version == 3;
    int v2 = !memcmp(h->magic, MAGIC_V2, sizeof MAGIC_V2) && h->version == 2;
    int ok = (v2 || v3) && crc_of(h, sizeof *h) == stored_crc && h->file_size == file_len &&
             h->day >= 0 && h->day <= CT_DAY_NUMBER_MAX && h->tod_to <= CT_DAY_S &&
             h->tod_from <= h->tod_to;
    h->header_crc = stored_crc;
    return ok ? CT_OK : ct__fail(err, CT_ECORRUPT, "%s: not a valid segment (header)", path);
}

ct_code ct__seg_read_span(const char *path, uint32_t *tod_from, uint32_t *tod_to, ct_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ct__fail_errno(err, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno,
                              "cannot open %s", path);
    seg_header raw, h;
    struct stat st;
    ssize_t got = 0;
    ct_code rc = CT_OK;
    if (fstat(fd, &st) != 0 || (got = ct__fs_read_full(fd, &raw, sizeof raw)) < 0)
        rc = ct__fail_errno(err, CT_EIO, errno, "cannot read %s", path);
    close(fd);
    if (!rc) /* a file shorter than a header is too short whatever its size says */
        rc = read_header(path, &raw, (size_t)got < sizeof raw ? (size_t)got : (size_t)st.st_size,
                         &h, err);
    if (!rc) {
        *tod_from = h.tod_from;
        *tod_to = h.tod_to;
    }
    return rc;
}

/* The checks of ct__seg_open on a segment already in seg->map. */
static ct_code open_mapped(const char *path, int verify_all, ct_segment *seg, ct_err *err)
{
    ct_code rc;
    seg_header h;
    if ((rc = read_header(path, seg->map.data, seg->map.len, &h, err)) != CT_OK)
        goto out;
    if ((rc = check_sections(path, &h, &seg->map, verify_all, err)) != CT_OK)
        goto out;
    seg->version = h.version;
    seg->day = h.day;
    seg->n_events = h.n_events;
    seg->n_subs = h.n_subs;
    seg->n_points = h.n_points;
    seg->n_cells = h.n_cells;
    seg->n_cell_events = h.n_cell_events;
    seg->n_tiles = h.n_tiles;
    seg->n_cell_blocks = h.n_cell_blocks;
    seg->n_tile_blocks = h.n_tile_blocks;
    seg->tod_from = h.tod_from;
    seg->tod_to = h.tod_to;
    point_sections(seg, &h);
    rc = check_directories(path, seg, err);
out:
    if (rc)
        ct__seg_close(seg);
    return rc;
}

ct_code ct__seg_open(const char *path, int verify_all, ct_segment *seg, ct_err *err)
{
    memset(seg, 0, sizeof *seg);
    ct_code rc = ct__fs_map(path, &seg->map, err);
    return rc ? rc : open_mapped(path, verify_all, seg, err);
}

void ct__seg_close(ct_segment *seg)
{
    if (seg)
        ct__fs_unmap(&seg->map);
}

/* ---- a subscriber's events ------------------------------------------------------ */

/* Narrows [*lo, *hi) around sub with one probe where the ids would be if
 * spread evenly. Ids are distinct and sorted, so entries i < j differ by
 * at least j - i: the probe bounds the answer to within the distance
 * between the id found and the one sought. Subscriber ids are dense (most
 * people are seen every day), so this leaves a handful of entries instead
 * of a binary search's ~17 cache misses. */
static void sub_probe(const ct_segment *seg, uint32_t sub, uint32_t *lo, uint32_t *hi)
{
    uint32_t first = seg->subdir[0].sub, last = seg->subdir[seg->n_subs - 1].sub;
    if (sub <= first || sub >= last)
        return;
    uint32_t g = (uint32_t)((uint64_t)(sub - first) * (seg->n_subs - 1) / (last - first));
    uint32_t at = seg->subdir[g].sub;
    if (at == sub) {
        *lo = g;
        *hi = g + 1;
    } else if (at < sub) {
        *lo = g + 1;
        uint64_t far = (uint64_t)g + 1 + (sub - at);
        *hi = far < *hi ? (uint32_t)far : *hi;
    } else {
        *hi = g;
        *lo = at - sub <= g ? g - (at - sub) : 0;
    }
}

int ct__seg_sub_open(const ct_segment *seg, uint32_t sub, ct_sub_cursor *c)
{
    uint32_t lo = 0, hi = seg->n_subs;
    if (hi)
        sub_probe(seg, sub, &lo, &hi);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seg->subdir[mid].sub < sub)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= seg->n_subs || seg->subdir[lo].sub != sub)
        return 0;
    memset(c, 0, sizeof *c);
    c->p = seg->subs + seg->subdir[lo].off;
    c->end = seg->subs + seg->subdir[lo + 1].off;
    c->loc = CT_GAP_OPEN;
    return 1;
}

/* A varint of at most 32 bits: unrolled without a bounds check per byte
 * where 5 bytes are there, else the checked decoder. */
static inline int get_u32_fast(const uint8_t **pp, const uint8_t *end, uint32_t *v)
{
    const uint8_t *p = *pp;
    if (end - p < 5)
        return get_u32(pp, end, v);
    uint32_t x = 0;
    for (unsigned i = 0; i < 4; i++) {
        x |= (uint32_t)(p[i] & 0x7F) << (7 * i);
        if (!(p[i] & 0x80)) {
            *pp = p + i + 1;
            *v = x;
            return 0;
        }
    }
    if (p[4] > 0x0F)
        return get_u32(pp, end, v); /* longer, or too large: the checked decoder says */
    *v = x | (uint32_t)p[4] << 28;
    *pp = p + 5;
    return 0;
}

/* The head of a subscriber stream's next event (FORMAT.md, S1): advances
 * *tod, and *loc when it names another cell. 0 for a cell event (at
 * *loc), 1 for a point (its operator and coordinates follow, unread), -1
 * if damaged. The one reading of the stream's grammar, for the cursor and
 * for the trace's reads of candidates. */
static inline int stream_event(const uint8_t **p, const uint8_t *end, uint32_t *tod, uint32_t *loc)
{
    uint32_t head;
    if (get_u32_fast(p, end, &head) || (head >> 2) > CT_DAY_S || *tod + (head >> 2) >= CT_DAY_S)
        return -1;
    *tod += head >> 2;
    switch (head & 3) {
    case 0: /* the same cell as before */
        return *loc == CT_GAP_OPEN ? -1 : 0;
    case 1: /* a new cell: no writer writes a loc id at or past CT_SEG_LOCS_MAX */
        return get_u32_fast(p, end, loc) || *loc >= CT_SEG_LOCS_MAX ? -1 : 0;
    case 2:
        return 1;
    default:
        return -1;
    }
}

int ct__seg_sub_next(ct_sub_cursor *c, ct_event *e, ct_point *pt)
{
    if (c->p >= c->end)
        return 0;
    int kind = stream_event(&c->p, c->end, &c->tod, &c->loc);
    if (kind < 0)
        return -1;
    e->tod = c->tod;
    e->sub = 0;
    e->kind = (uint32_t)kind;
    if (kind == 0) {
        e->place = c->loc;
        return 1;
    }
    memset(pt, 0, sizeof *pt);
    if (get_u32(&c->p, c->end, &pt->op) || get_point(&c->p, c->end, c->prev, pt))
        return -1;
    e->place = 0;
    return 1;
}

/* ---- events at a place ------------------------------------------------------------- */

static void block_enter(ct_place_cursor *c)
{
    c->p = c->stream + c->block->off;
    c->end = c->stream + c->block[1].off;
    c->tod = c->block->first_tod;
    c->prev[0] = c->prev[1] = c->prev[2] = 0;
}

/* Starts at the block before the first one that begins at or after
 * `from`: entries of one second may straddle two blocks. */
static void seek_blocks(ct_place_cursor *c, const ct_block_entry *first, const ct_block_entry *last,
                        uint32_t from)
{
    const ct_block_entry *lo = first, *hi = last;
    while (lo < hi) {
        const ct_block_entry *mid = lo + (hi - lo) / 2;
        if (mid->first_tod < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    c->block = lo > first ? lo - 1 : first;
    c->last_block = last;
    c->from = from;
    block_enter(c);
}

uint32_t ct__seg_tile_lower(const ct_segment *seg, uint64_t key)
{
    uint32_t lo = 0, hi = seg->n_tiles;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seg->tiledir[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void ct__seg_tile_seek(const ct_segment *seg, uint32_t tile, uint32_t from, uint32_t until,
                       uint32_t part, uint32_t parts, ct_place_cursor *c)
{
    c->until = until;
    c->part = part;
    c->parts = parts;
    c->stream = seg->tiles;
    c->stream_len = seg->tiles_len;
    seek_blocks(c, seg->tile_blocks + seg->tiledir[tile].first_block,
                seg->tile_blocks + seg->tiledir[tile + 1].first_block, from);
}

/* One entry: 1 with *e filled, 0 when the cursor skips it (coordinates
 * stepped over), 2 when it is at or after the walk's end, -1 if damaged. */
static int place_decode(ct_place_cursor *c, ct_place_entry *e)
{
    uint32_t delta, gap;
    if (get_u32(&c->p, c->end, &delta) || delta >= CT_DAY_S || c->tod + delta >= CT_DAY_S ||
        get_u32(&c->p, c->end, &e->sub) || get_u32(&c->p, c->end, &gap))
        return -1;
    c->tod += delta;
    e->tod = c->tod;
    e->gap = gap ? gap - 1 : CT_GAP_OPEN;
    if (gap && gap - 1 >= CT_DAY_S)
        return -1;
    if (e->tod >= c->until)
        return 2;
    if (e->tod < c->from || !ct__sub_in_part(e->sub, c->part, c->parts)) {
        for (int which = 0; which < 3; which++)
            if (get_coord(&c->p, c->end, which, c->prev, NULL))
                return -1;
        return 0;
    }
    memset(&e->pt, 0, sizeof e->pt);
    return get_point(&c->p, c->end, c->prev, &e->pt) ? -1 : 1;
}

int ct__seg_place_next(ct_place_cursor *c, ct_place_entry *e)
{
    for (;;) {
        while (c->p >= c->end) {
            if (++c->block >= c->last_block)
                return 0;
            block_enter(c);
        }
        int got = place_decode(c, e);
        if (got == 2) { /* the end: every later call says so too */
            c->block = c->last_block - 1;
            c->p = c->end;
            return 0;
        }
        if (got)
            return got;
    }
}

/* ---- who was at a cell --------------------------------------------------------------- */

uint32_t ct__seg_cell_index(const ct_segment *seg, uint32_t loc)
{
    if (seg->version != CT_SEG_VERSION)
        return seg->n_cells; /* version 2 has no postings: db.c gives a view */
    uint32_t lo = 0, hi = seg->n_cells;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seg->celldir[mid].loc < loc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < seg->n_cells && seg->celldir[lo].loc == loc ? lo : seg->n_cells;
}

void ct__seg_postings(const ct_segment *seg, uint32_t cell, uint32_t hour, ct_postings *c)
{
    uint32_t list = cell * CT_SEG_POSTING_LISTS + hour;
    c->p = seg->cells + seg->cell_lists[list];
    c->end = seg->cells + seg->cell_lists[list + 1];
    c->next = 0;
    c->n_subs = seg->n_subs;
}

int ct__seg_postings_next(ct_postings *c, uint32_t *sub_index)
{
    if (c->p >= c->end)
        return 0;
    uint32_t delta;
    if (get_u32(&c->p, c->end, &delta))
        return -1;
    /* after the first, each index is above the one before: a delta of 0,
     * or an index past S0, is damage */
    uint64_t index = c->next ? (uint64_t)c->next - 1 + delta : delta;
    if ((c->next && delta == 0) || index >= c->n_subs)
        return -1;
    *sub_index = (uint32_t)index;
    c->next = *sub_index + 1;
    return 1;
}

int ct__seg_sub_at(const ct_segment *seg, uint32_t sub_index, ct_sub_cursor *c)
{
    if (sub_index >= seg->n_subs)
        return 0;
    memset(c, 0, sizeof *c);
    c->p = seg->subs + seg->subdir[sub_index].off;
    c->end = seg->subs + seg->subdir[sub_index + 1].off;
    c->loc = CT_GAP_OPEN;
    return 1;
}

/* Skips a point's operator and coordinates in a subscriber stream. */
static int skip_point(const uint8_t **p, const uint8_t *end)
{
    uint64_t x;
    if (get_varint(p, end, &x)) /* operator */
        return -1;
    for (int i = 0; i < 3; i++) {
        if (get_varint(p, end, &x))
            return -1;
        if (x & 1) { /* a raw double follows */
            if (x != 1 || end - *p < 8)
                return -1;
            *p += 8;
        }
    }
    return 0;
}

int ct__seg_sub_places(const ct_segment *seg, uint32_t sub_index, uint32_t from, uint32_t until,
                       ct_sub_place **out, size_t *cap, size_t *n)
{
    if (sub_index >= seg->n_subs)
        return 0;
    const uint8_t *p = seg->subs + seg->subdir[sub_index].off;
    const uint8_t *end = seg->subs + seg->subdir[sub_index + 1].off;
    uint32_t tod = 0, loc = CT_GAP_OPEN;
    CT_GROW(*out, *n + (size_t)(end - p), *cap); /* an event takes a byte at least */
    ct_sub_place *o = *out;
    size_t k = *n;
    while (p < end) {
        int kind = stream_event(&p, end, &tod, &loc);
        if (kind < 0 || (kind == 1 && skip_point(&p, end)))
            goto bad;
        if (tod < from)
            continue;
        o[k++] = (ct_sub_place){tod, kind ? CT_GAP_OPEN : loc};
        if (tod >= until)
            break;
    }
    *n = k;
    return 0;
bad:
    *n = k;
    return -1;
}

/* ---- decoding a whole day for sealing ------------------------------------------------ */

int ct__seg_decode_sub(const ct_segment *seg, uint32_t s, ct_event *ev, uint32_t room, ct_point *pts,
                       uint32_t room_pts, uint32_t place_base, uint32_t *got, uint32_t *got_pts)
{
    ct_sub_cursor c;
    ct_event e;
    ct_point pt;
    uint32_t n = 0, np = 0;
    int more;
    if (s >= seg->n_subs || seg->subdir[s].sub > CT_SUB_MAX || !ct__seg_sub_open(seg, seg->subdir[s].sub, &c))
        return -1;
    while ((more = ct__seg_sub_next(&c, &e, &pt)) == 1) {
        if (n >= room || (e.kind && np >= room_pts))
            return -1;
        e.sub = seg->subdir[s].sub;
        if (e.kind) {
            pts[np] = pt;
            e.place = place_base + np++;
        }
        ev[n++] = e;
    }
    *got = n;
    *got_pts = np;
    return more < 0 ? -1 : 0;
}

ct_code ct__seg_decode_into(const ct_segment *seg, ct_event *ev, ct_point *pts, uint32_t place_base,
                            ct_err *err)
{
    uint32_t n = 0, np = 0;
    for (uint32_t s = 0; s < seg->n_subs; s++) {
        uint32_t got, got_pts;
        if (ct__seg_decode_sub(seg, s, ev + n, seg->n_events - n, pts + np, seg->n_points - np,
                               place_base + np, &got, &got_pts))
            goto bad;
        n += got;
        np += got_pts;
    }
    if (n != seg->n_events || np != seg->n_points)
        goto bad;
    return CT_OK;
bad:
    return ct__fail(err, CT_ECORRUPT, "segment of day %lld: its subscriber section is damaged",
                    (long long)seg->day);
}

ct_code ct__seg_decode(const ct_segment *seg, ct_event **ev_out, uint32_t *n_out,
                       ct_point **pts_out, uint32_t *np_out, ct_err *err)
{
    ct_event *ev = ct__calloc((size_t)seg->n_events + 1, sizeof *ev);
    ct_point *pts = ct__calloc((size_t)seg->n_points + 1, sizeof *pts);
    ct_code rc = ct__seg_decode_into(seg, ev, pts, 0, err);
    if (rc) {
        ct__free(ev);
        ct__free(pts);
        return rc;
    }
    *ev_out = ev;
    *n_out = seg->n_events;
    *pts_out = pts;
    *np_out = seg->n_points;
    return CT_OK;
}
