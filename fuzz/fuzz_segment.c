/*
 * fuzz_segment.c — the day segment reader (src/lib/store/segment.c, format
 * version 3: varint streams, cell postings and tile block indexes; version
 * 2 files still open and decode) on damaged and forged files.
 *
 * Input: one control byte, then a payload.
 *   bit 0 = 0: the payload is an edit script applied to a valid segment
 *              (the fixed day of fz_fixed_day, written by ct__seg_write at
 *              start-up): 4-byte operations {op, offset lo, offset hi, v}
 *              that set, flip, overwrite words with boundary values,
 *              truncate or extend;
 *   bit 0 = 1: the payload is the whole file.
 *   bit 1: afterwards recompute every section's crc32 in the header table
 *   bit 2: afterwards recompute the header crc32
 * Without bits 1-2 every edit is damage, which the checksums must catch;
 * with them the file is a forgery that only the structural checks and
 * the bounds-checked decoders stand between and the reader.
 *
 * For every file: ct__seg_open with verify_all = 0 and 1. Properties:
 *  - verify_all = 1 accepts a file only if its header and section
 *    checksums really match (computed here independently from the
 *    288-byte header and its table of 9 sections), so damage is always
 *    refused with an error; the unedited file is accepted;
 *  - what verify_all = 1 accepts, verify_all = 0 accepts;
 *  - an accepted segment is safe to use the way trace and seal use it:
 *    every section lies in the file and every directory and block range
 *    in its section; walking every subscriber (ct__seg_sub_open/next, and
 *    ct__seg_sub_places as the trace reads a candidate), every posting
 *    list of every cell (ct__seg_cell_index, ct__seg_postings/next) and
 *    every tile from several start seconds (ct__seg_tile_lower/seek +
 *    ct__seg_place_next) ends, with 0 or -1 (damage), in a bounded number
 *    of steps, every cursor staying inside its block and section, and
 *    every entry it returns being valid (times in the day and from the
 *    start second on, gaps, ids below the subscriber count and ascending,
 *    points on the globe);
 *  - ct__seg_decode either fails with CT_ECORRUPT or returns every event,
 *    valid (times, subscriber <= CT_SUB_MAX, place != 0xFFFFFFFF, points
 *    on the globe with accuracy in (0, 100000]); it succeeds exactly when
 *    every subscriber walk ended cleanly with the header's counts;
 *  - when verify_all = 1 accepted the file (as sealing requires), the
 *    decoded events can be sorted, deduplicated and written back, and the
 *    new file opens with verify_all = 1 and decodes to the same events,
 *    as seal_day does;
 *  - the unedited file reads back exactly the fixed day, through every
 *    cursor and from every start second tried, and every posting list is
 *    exactly the subscribers of its cell and hour.
 *
 * The segment is memory-mapped, so ASan cannot see a read that leaves a
 * section but stays in the file. The walks therefore run on a copy of
 * the opened segment whose sections are separate heap blocks of exactly
 * their length: any read outside a section is a heap-buffer-overflow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "alloc.h"
#include "fuzz.h"
#include "seal.h"
#include "store.h"
#include "subscribers.h"

#define EXTRA_MAX 65536

/* Header layout (docs/FORMAT.md "Day segment, version 3"). */
enum { H_CRC = 12, H_TABLE = 64, H_ENTRY = 24 };
_Static_assert(H_TABLE + CT_SEG_SECTIONS * H_ENTRY + 8 == CT_SEG_HEADER, "header layout");

static uint8_t *base;
static size_t base_len;
static char *seg_path, *out_path;
static fz_day day;

static uint32_t crc_of(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void wr64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* ---- checksums, computed independently of the library ---------------------- */

/* Section s's entry in the header table: {u64 off, u64 len, u32 crc, u32 0}. */
static const uint8_t *section_entry(const uint8_t *buf, int s)
{
    return buf + H_TABLE + H_ENTRY * s;
}

static void fix_section_crcs(uint8_t *buf, size_t len)
{
    if (len < CT_SEG_HEADER)
        return;
    for (int s = 0; s < CT_SEG_SECTIONS; s++) {
        uint8_t *e = buf + H_TABLE + H_ENTRY * s;
        uint64_t off = rd64(e), n = rd64(e + 8);
        if (off <= len && n <= len - off)
            wr32(e + 16, crc_of(buf + off, (size_t)n));
    }
}

static void fix_header_crc(uint8_t *buf, size_t len)
{
    if (len < CT_SEG_HEADER)
        return;
    uint8_t h[CT_SEG_HEADER];
    memcpy(h, buf, sizeof h);
    wr32(h + H_CRC, 0);
    wr32(buf + H_CRC, crc_of(h, sizeof h));
}

/* Do the stored checksums match the bytes (header and every section)? */
static int checksums_match(const uint8_t *buf, size_t len)
{
    if (len < CT_SEG_HEADER)
        return 0;
    uint8_t h[CT_SEG_HEADER];
    memcpy(h, buf, sizeof h);
    wr32(h + H_CRC, 0);
    if (crc_of(h, sizeof h) != rd32(buf + H_CRC))
        return 0;
    for (int s = 0; s < CT_SEG_SECTIONS; s++) {
        const uint8_t *e = section_entry(buf, s);
        uint64_t off = rd64(e), n = rd64(e + 8);
        if (off > len || n > len - off || crc_of(buf + off, (size_t)n) != rd32(e + 16))
            return 0;
    }
    return 1;
}

static size_t apply_edits(uint8_t *buf, size_t len, size_t cap, const uint8_t *ops, size_t n)
{
    static const uint32_t words[8] = {0, 1, 2, 7, 8, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
    for (size_t i = 0; i + 4 <= n; i += 4) {
        unsigned op = ops[i] % 6, v = ops[i + 3];
        size_t at = (size_t)(ops[i + 1] | ops[i + 2] << 8);
        if (op == 2) {
            len = at % (len + 1);
            continue;
        }
        if (op == 4) {
            size_t add = v ? v : 256;
            if (len + add <= cap) {
                memset(buf + len, 0, add);
                len += add;
            }
            continue;
        }
        if (len == 0)
            continue;
        at %= len;
        if (op == 0)
            buf[at] = (uint8_t)v;
        else if (op == 1)
            buf[at] ^= (uint8_t)(v ? v : 0x80);
        else if (op == 3 && (at & ~(size_t)3) + 4 <= len)
            wr32(buf + (at & ~(size_t)3), v < 8 ? words[v] : (v < 16 ? (uint32_t)len + v - 12 : v));
        else if (op == 5 && (at & ~(size_t)7) + 8 <= len)
            wr64(buf + (at & ~(size_t)7), v & 1 ? UINT64_MAX - (v >> 1) : (uint64_t)len + (v >> 1) - 64);
    }
    return len;
}

/* ---- the opened segment, section by section on the heap ------------------------ */

typedef struct heap_seg {
    ct_segment s;   /* map left empty: never closed */
    void *sec[CT_SEG_SECTIONS];
} heap_seg;

static uintptr_t addr(const void *p)
{
    return (uintptr_t)p;
}

/* Does [p, p + len) lie in the mapped file? */
static int in_map(const ct_segment *s, const void *p, uint64_t len)
{
    uintptr_t b = addr(s->map.data), a = addr(p);
    return a >= b && a - b <= s->map.len && len <= s->map.len - (a - b);
}

static const void *dup_section(const ct_segment *s, heap_seg *h, int i, const void *p, uint64_t len)
{
    FZ_CHECK(in_map(s, p, len), "every section lies in the file");
    FZ_CHECK(addr(p) % 8 == 0, "sections are 8-aligned");
    h->sec[i] = malloc(len ? (size_t)len : 1);
    if (!h->sec[i])
        abort();
    if (len)
        memcpy(h->sec[i], p, (size_t)len);
    return h->sec[i];
}

static void heap_copy(const ct_segment *s, heap_seg *h)
{
    memset(h, 0, sizeof *h);
    h->s = *s;
    h->s.map.data = NULL;
    h->s.map.len = 0;
    h->s.subdir = dup_section(s, h, 0, s->subdir, ((uint64_t)s->n_subs + 1) * sizeof *s->subdir);
    h->s.subs = dup_section(s, h, 1, s->subs, s->subs_len);
    h->s.celldir = dup_section(s, h, 2, s->celldir, ((uint64_t)s->n_cells + 1) * sizeof *s->celldir);
    if (s->version == 2)
        h->s.cell_blocks =
            dup_section(s, h, 3, s->cell_blocks, ((uint64_t)s->n_cell_blocks + 1) * sizeof *s->cell_blocks);
    else
        h->s.cell_lists =
            dup_section(s, h, 3, s->cell_lists, ((uint64_t)s->n_cell_blocks + 1) * sizeof *s->cell_lists);
    h->s.cells = dup_section(s, h, 4, s->cells, s->cells_len);
    h->s.tiledir = dup_section(s, h, 5, s->tiledir, ((uint64_t)s->n_tiles + 1) * sizeof *s->tiledir);
    h->s.tile_blocks =
        dup_section(s, h, 6, s->tile_blocks, ((uint64_t)s->n_tile_blocks + 1) * sizeof *s->tile_blocks);
    h->s.tiles = dup_section(s, h, 7, s->tiles, s->tiles_len);
    h->s.level_radius = dup_section(s, h, 8, s->level_radius, CT_GRID_LEVELS * sizeof(double));
}

static void heap_free(heap_seg *h)
{
    for (int i = 0; i < CT_SEG_SECTIONS; i++)
        free(h->sec[i]);
}

/* ---- what the unedited file must read back as ----------------------------------- */

/* An event of the fixed day at its place, as S4/S7 file it. */
typedef struct xentry {
    uint64_t key; /* loc or tile key */
    uint32_t tod, sub, gap, idx;
} xentry;

static xentry xcells[FZ_DAY_MAX], xtiles[FZ_DAY_MAX];
static uint32_t n_xcells, n_xtiles;
static uint32_t xindex[FZ_DAY_MAX]; /* each event's subscriber's S0 index */

static int cmp_xentry(const void *a, const void *b)
{
    const xentry *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->tod != y->tod)
        return x->tod < y->tod ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx; /* subscriber order, as written */
}

static void expect_places(void)
{
    for (uint32_t i = 0, k = 0; i < day.n; i++) {
        if (i > 0 && day.ev[i].sub != day.ev[i - 1].sub)
            k++;
        xindex[i] = k;
    }
    for (uint32_t i = 0; i < day.n; i++) {
        const ct_event *e = &day.ev[i];
        uint32_t gap = i + 1 < day.n && day.ev[i + 1].sub == e->sub ? day.ev[i + 1].tod - e->tod : CT_GAP_OPEN;
        if (e->kind) {
            const ct_point *p = &day.pts[e->place];
            uint64_t key = ct__grid_key(ct__grid_level(p->acc), p->lat, p->lon);
            xtiles[n_xtiles++] = (xentry){key, e->tod, e->sub, gap, i};
        } else {
            xcells[n_xcells++] = (xentry){e->place, e->tod, e->sub, gap, i};
        }
    }
    qsort(xcells, n_xcells, sizeof *xcells, cmp_xentry);
    qsort(xtiles, n_xtiles, sizeof *xtiles, cmp_xentry);
}

/* Same coordinates (== so that -0.0, coded as the integer 0, matches). */
static int same_place(const ct_point *a, const ct_point *b)
{
    return a->lat == b->lat && a->lon == b->lon && a->acc == b->acc;
}

/* ... and the same operator (S1 carries it, S7 does not). */
static int same_point(const ct_point *a, const ct_point *b)
{
    return same_place(a, b) && a->op == b->op;
}

static int point_ok(const ct_point *p)
{
    return p->lat >= -90.0 && p->lat <= 90.0 && p->lon >= -180.0 && p->lon <= 180.0 && p->acc > 0.0 &&
           p->acc <= 100000.0;
}

/* ---- walks --------------------------------------------------------------------------- */

typedef struct tally {
    uint64_t events, points;
    int damaged;
} tally;

/* Subscriber i's stream, as trace (a case's events) and decode read it. */
static void walk_sub(const ct_segment *s, uint32_t i, int pristine, uint32_t *xi, tally *t)
{
    ct_sub_cursor c;
    FZ_CHECK(ct__seg_sub_open(s, s->subdir[i].sub, &c) == 1, "listed subscribers are found");
    const uint8_t *lo = s->subs + s->subdir[i].off, *hi = s->subs + s->subdir[i + 1].off;
    FZ_CHECK(c.p == lo && c.end == hi, "a subscriber's stream is its directory range");
    uint64_t steps = 0, bound = (uint64_t)(hi - lo);
    uint32_t prev_tod = 0;
    ct_event e;
    ct_point pt;
    int got;
    while ((got = ct__seg_sub_next(&c, &e, &pt)) == 1) {
        FZ_CHECK(++steps <= bound, "a subscriber walk ends (an event takes a byte at least)");
        FZ_CHECK(c.p > lo && c.p <= hi && c.end == hi, "the subscriber cursor stays in its stream");
        FZ_CHECK(e.tod < CT_DAY_S && e.tod >= prev_tod, "a subscriber's times lie in the day, in order");
        FZ_CHECK(e.kind <= 1, "events are cell or point events");
        prev_tod = e.tod;
        if (e.kind) {
            FZ_CHECK(point_ok(&pt), "points lie on the globe with a sane accuracy");
            t->points++;
        } else {
            FZ_CHECK(e.place != CT_GAP_OPEN, "cells are never the sentinel");
        }
        t->events++;
        if (pristine) {
            FZ_CHECK(*xi < day.n, "the unedited file holds the fixed day's events");
            const ct_event *x = &day.ev[(*xi)++];
            FZ_CHECK(x->sub == s->subdir[i].sub && x->tod == e.tod && x->kind == e.kind,
                     "the unedited file reads back the fixed day");
            FZ_CHECK(e.kind ? same_point(&pt, &day.pts[x->place]) : e.place == x->place,
                     "the unedited file reads back the fixed day's places");
        }
    }
    FZ_CHECK(got == 0 || got == -1, "a subscriber walk ends with 0 or -1");
    FZ_CHECK(c.p >= lo && c.p <= hi, "the subscriber cursor stays in its stream");
    if (got < 0)
        t->damaged = 1;
    FZ_CHECK(!pristine || got == 0, "the unedited file has no damaged stream");
}

/* A place cursor from ct__seg_tile_seek, read to its end (the tile's, or
 * the `until` it was given, as trace gives its window's end).
 * first/last: the place's blocks; x: the expected entries (sorted by
 * place, time, subscriber) when the file is the unedited one, else NULL. */
static void walk_place(ct_place_cursor *c, const ct_block_entry *first, const ct_block_entry *last,
                       const uint8_t *stream, uint32_t stream_len, uint32_t from, const xentry *x,
                       uint32_t nx, uint64_t key)
{
    uint32_t until = c->until, part = c->part, parts = c->parts; /* as the seek set them */
    FZ_CHECK(c->block >= first && c->block < last && c->last_block == last, "a seek starts in the place's blocks");
    FZ_CHECK(c->stream == stream && c->stream_len == stream_len, "a seek reads its own stream");
    uint64_t steps = 0;
    uint32_t xi = 0;
    const ct_block_entry *block = c->block;
    uint32_t prev_tod = 0;
    ct_place_entry e;
    int got;
    if (x) /* the first expected entry */
        while (xi < nx && (x[xi].key < key || (x[xi].key == key && x[xi].tod < from)))
            xi++;
    while ((got = ct__seg_place_next(c, &e)) == 1) {
        FZ_CHECK(++steps <= stream_len, "a place walk ends (an entry takes 3 bytes at least)");
        FZ_CHECK(c->block >= first && c->block < last, "the place cursor stays in the place's blocks");
        FZ_CHECK(c->p > stream + c->block->off && c->p <= c->end && c->end == stream + c->block[1].off &&
                     c->block[1].off <= stream_len,
                 "the place cursor stays in its block");
        FZ_CHECK(e.tod >= from && e.tod < CT_DAY_S, "entries lie in the day, from the start second on");
        FZ_CHECK(e.tod < until && e.sub % parts == part, "entries lie before the end, of the cursor's part");
        FZ_CHECK(e.gap == CT_GAP_OPEN || e.gap < CT_DAY_S, "gaps are open or within a day");
        if (c->block == block)
            FZ_CHECK(e.tod >= prev_tod, "times do not go back within a block");
        block = c->block;
        prev_tod = e.tod;
        FZ_CHECK(point_ok(&e.pt), "tile entries lie on the globe with a sane accuracy");
        if (x) {
            while (xi < nx && x[xi].key == key && x[xi].sub % parts != part)
                xi++; /* another part's */
            FZ_CHECK(xi < nx && x[xi].key == key, "the unedited file has no extra place entries");
            const xentry *w = &x[xi++];
            FZ_CHECK(e.tod == w->tod && e.sub == w->sub && e.gap == w->gap,
                     "the unedited file reads back the fixed day at its places");
            FZ_CHECK(same_place(&e.pt, &day.pts[day.ev[w->idx].place]),
                     "the unedited file reads back the fixed day's points");
        }
    }
    FZ_CHECK(got == 0 || got == -1, "a place walk ends with 0 or -1");
    if (x) {
        FZ_CHECK(got == 0, "the unedited file has no damaged block");
        while (xi < nx && x[xi].key == key && (x[xi].tod >= until || x[xi].sub % parts != part))
            xi++; /* past the end, or another part's */
        FZ_CHECK(xi == nx || x[xi].key != key, "the unedited file misses no place entry");
    }
}

/* Index of cell loc in S2 (n_cells if absent), found independently. */
static uint32_t cell_index(const ct_segment *s, uint32_t loc)
{
    uint32_t lo = 0, hi = s->n_cells;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->celldir[mid].loc < loc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_cells && s->celldir[lo].loc == loc ? lo : s->n_cells;
}

/* Cell loc's posting list of `hour`, as the trace reads it: ascending
 * indexes below the subscriber count, in a bounded walk that stays in S4;
 * on the unedited file exactly the fixed day's subscribers of that cell
 * and hour. */
static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The fixed day's subscribers (S0 indexes, ascending, once each) with an
 * event at loc in `hour`, into want; how many. */
static uint32_t expected_postings(uint32_t loc, uint32_t hour, uint32_t *want)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < n_xcells; k++)
        if (xcells[k].key == loc && xcells[k].tod / CT_SEG_POSTING_S == hour)
            want[n++] = xindex[xcells[k].idx];
    qsort(want, n, sizeof *want, cmp_u32);
    uint32_t u = 0;
    for (uint32_t k = 0; k < n; k++)
        if (u == 0 || want[k] != want[u - 1])
            want[u++] = want[k];
    return u;
}

static void walk_postings(const ct_segment *s, uint32_t cell, uint32_t hour, int pristine)
{
    static uint32_t want[FZ_DAY_MAX];
    uint32_t n_want = pristine ? expected_postings(s->celldir[cell].loc, hour, want) : 0, k = 0;
    ct_postings p;
    ct__seg_postings(s, cell, hour, &p);
    uint32_t list = cell * CT_SEG_POSTING_LISTS + hour;
    FZ_CHECK(p.p == s->cells + s->cell_lists[list] && p.end == s->cells + s->cell_lists[list + 1] &&
                 p.end <= s->cells + s->cells_len,
             "a posting list is its range of S4");
    uint64_t steps = 0, bound = (uint64_t)(p.end - p.p);
    uint32_t idx, prev = 0;
    int got;
    while ((got = ct__seg_postings_next(&p, &idx)) == 1) {
        FZ_CHECK(++steps <= bound, "a posting walk ends (a posting takes a byte at least)");
        FZ_CHECK(idx < s->n_subs && (steps == 1 || idx > prev), "postings ascend below the subscriber count");
        prev = idx;
        if (pristine)
            FZ_CHECK(k < n_want && want[k++] == idx, "the unedited file lists a cell's subscribers hour by hour");
    }
    FZ_CHECK(got == 0 || got == -1, "a posting walk ends with 0 or -1");
    if (pristine)
        FZ_CHECK(got == 0 && k == n_want, "the unedited file misses no posting and has no damaged list");
}

/* Cell loc: found exactly when listed, and every hour's posting list. */
static void walk_cell(const ct_segment *s, uint32_t loc, int pristine)
{
    uint32_t i = s->version == 3 ? cell_index(s, loc) : s->n_cells; /* version 2: no postings */
    FZ_CHECK(ct__seg_cell_index(s, loc) == i, "cell lookups find exactly the listed cells");
    if (i == s->n_cells)
        return;
    for (uint32_t h = 0; h < CT_SEG_POSTING_LISTS; h++)
        walk_postings(s, i, h, pristine);
}

/* Subscriber i's places, as the trace reads a candidate's day, up to
 * `until`: in the day, in order, no more than its stream can hold; on the
 * unedited file the fixed day's seconds and cells. */
static void walk_places(const ct_segment *s, uint32_t i, uint32_t until, int pristine, uint32_t first_event)
{
    static ct_sub_place *places;
    static size_t cap;
    size_t n;
    n = 0;
    int got = ct__seg_sub_places(s, i, 0, until, &places, &cap, &n);
    FZ_CHECK(got == 0 || got == -1, "a subscriber's places end with 0 or -1");
    FZ_CHECK(n <= (size_t)(s->subdir[i + 1].off - s->subdir[i].off), "places take a byte each at least");
    for (size_t k = 0; k < n; k++) {
        FZ_CHECK(places[k].tod < CT_DAY_S && (k == 0 || places[k].tod >= places[k - 1].tod),
                 "places lie in the day, in order");
        FZ_CHECK(k + 1 == n || places[k].tod < until, "places stop at the first at or after until");
        if (pristine) {
            const ct_event *x = &day.ev[first_event + k];
            FZ_CHECK(x->tod == places[k].tod && places[k].loc == (x->kind ? CT_GAP_OPEN : x->place),
                     "the unedited file reads back a subscriber's places");
        }
    }
    if (pristine)
        FZ_CHECK(got == 0, "the unedited file has no damaged places");
}

static void walk_tile(const ct_segment *s, uint32_t tile, uint32_t from, uint32_t until, uint32_t part,
                      uint32_t parts, int pristine)
{
    ct_place_cursor c;
    ct__seg_tile_seek(s, tile, from, until, part, parts, &c);
    walk_place(&c, s->tile_blocks + s->tiledir[tile].first_block, s->tile_blocks + s->tiledir[tile + 1].first_block,
               s->tiles, s->tiles_len, from, pristine ? xtiles : NULL, n_xtiles, s->tiledir[tile].key);
}

static void check_tile_lower(const ct_segment *s, uint64_t key)
{
    uint32_t t = ct__seg_tile_lower(s, key);
    FZ_CHECK(t <= s->n_tiles, "tile lookups stay in the directory");
    FZ_CHECK(t == s->n_tiles || s->tiledir[t].key >= key, "tile lookup is a lower bound");
    FZ_CHECK(t == 0 || s->tiledir[t - 1].key < key, "tile lookup is the first such tile");
}

/* Directory and block ranges lie inside their sections (on the map). */
static void check_ranges(const ct_segment *s)
{
    FZ_CHECK(s->n_cell_events + (uint64_t)s->n_points == s->n_events, "counts add up");
    for (uint32_t i = 0; i < s->n_subs; i++)
        FZ_CHECK(s->subdir[i].off < s->subdir[i + 1].off && s->subdir[i + 1].off <= s->subs_len,
                 "subscriber ranges lie in S1");
    for (uint32_t i = 0; i < s->n_cells; i++)
        FZ_CHECK(s->celldir[i].first_block < s->celldir[i + 1].first_block &&
                     s->celldir[i + 1].first_block <= s->n_cell_blocks,
                 "cell ranges lie in S3");
    for (uint32_t b = 0; s->version == 2 && b < s->n_cell_blocks; b++)
        FZ_CHECK(s->cell_blocks[b].off < s->cell_blocks[b + 1].off && s->cell_blocks[b + 1].off <= s->cells_len &&
                     s->cell_blocks[b].first_tod < CT_DAY_S,
                 "cell blocks lie in S4");
    for (uint32_t b = 0; s->version == 3 && b < s->n_cell_blocks; b++)
        FZ_CHECK(s->cell_lists[b] <= s->cell_lists[b + 1] && s->cell_lists[b + 1] <= s->cells_len,
                 "posting lists lie in S4");
    FZ_CHECK(s->version != 3 || s->n_cell_blocks == s->n_cells * CT_SEG_POSTING_LISTS,
             "24 posting lists a cell");
    for (uint32_t i = 0; i < s->n_tiles; i++)
        FZ_CHECK(s->tiledir[i].first_block < s->tiledir[i + 1].first_block &&
                     s->tiledir[i + 1].first_block <= s->n_tile_blocks,
                 "tile ranges lie in S6");
    for (uint32_t b = 0; b < s->n_tile_blocks; b++)
        FZ_CHECK(s->tile_blocks[b].off < s->tile_blocks[b + 1].off && s->tile_blocks[b + 1].off <= s->tiles_len &&
                     s->tile_blocks[b].first_tod < CT_DAY_S,
                 "tile blocks lie in S7");
    for (int l = 0; l < CT_GRID_LEVELS; l++)
        FZ_CHECK(s->level_radius[l] >= 0.0 && s->level_radius[l] <= 100000.0, "level radii are sane");
}

static const uint32_t FROMS[] = {0, 1, 899, 900, 3600, 3601, 43200, 86399, 86400, 0xFFFFFFFFu};

/* ---- using an accepted segment the way trace and seal do --------------------------- */

static void check_decoded(const ct_segment *s, const ct_event *ev, uint32_t n, const ct_point *pts, uint32_t np)
{
    FZ_CHECK(n == s->n_events && np == s->n_points, "decode returns every event");
    for (uint32_t i = 0; i < n; i++) {
        FZ_CHECK(ev[i].tod < CT_DAY_S, "decoded times lie in the day");
        FZ_CHECK(ev[i].sub <= CT_SUB_MAX, "decoded subscribers are not reserved ids");
        FZ_CHECK(ev[i].kind <= 1, "decoded kinds are cell or point");
        FZ_CHECK(ev[i].kind ? ev[i].place < np : ev[i].place < CT_SEG_LOCS_MAX, "decoded places are valid");
        FZ_CHECK(i == 0 || ev[i - 1].sub < ev[i].sub || (ev[i - 1].sub == ev[i].sub && ev[i - 1].tod <= ev[i].tod),
                 "decoded events come by subscriber, in time order");
    }
    for (uint32_t i = 0; i < np; i++)
        FZ_CHECK(point_ok(&pts[i]), "decoded points lie on the globe with a sane accuracy");
}

/* What seal_day does with a live segment before merging new events:
 * decode (done), sort and deduplicate, write, and the result must open
 * with verify_all = 1 and hold the same events. */
static void reseal(const ct_segment *s, ct_event *ev, uint32_t n, const ct_point *pts)
{
    n = ct__seal_sort_unique(ev, n, pts, NULL);
    uint64_t size;
    uint32_t crc;
    ct_err err;
    ct_code rc = ct__seg_write(out_path, s->day, ev, n, pts, &size, &crc, &err);
    if (rc != CT_OK)
        fprintf(stderr, "fuzz: %s\n", err.msg);
    FZ_CHECK(rc == CT_OK, "decoded events can be written again");
    ct_segment again;
    rc = ct__seg_open(out_path, 1, &again, &err);
    if (rc != CT_OK)
        fprintf(stderr, "fuzz: %s\n", err.msg);
    FZ_CHECK(rc == CT_OK, "a re-sealed segment is valid");
    FZ_CHECK(again.n_events == n && again.day == s->day, "a re-sealed segment keeps its day and events");
    ct_event *ev2 = NULL;
    ct_point *pts2 = NULL;
    uint32_t n2 = 0, np2 = 0;
    rc = ct__seg_decode(&again, &ev2, &n2, &pts2, &np2, &err);
    FZ_CHECK(rc == CT_OK && n2 == n, "a re-sealed segment decodes");
    for (uint32_t i = 0; i < n; i++) {
        FZ_CHECK(ev2[i].sub == ev[i].sub && ev2[i].tod == ev[i].tod && ev2[i].kind == ev[i].kind,
                 "a re-sealed segment decodes to the events written");
        FZ_CHECK(ev[i].kind ? same_point(&pts2[ev2[i].place], &pts[ev[i].place]) : ev2[i].place == ev[i].place,
                 "a re-sealed segment keeps places and points");
    }
    ct__free(ev2);
    ct__free(pts2);
    ct__seg_close(&again);
}

static void exercise(const ct_segment *mapped, const uint8_t *probe, size_t probe_len, int sealable, int pristine)
{
    check_ranges(mapped);
    heap_seg h;
    heap_copy(mapped, &h);
    const ct_segment *s = &h.s;

    /* every subscriber, in directory order (as decode and fsck do) */
    tally t = {0, 0, 0};
    int reserved = 0;
    uint32_t xi = 0;
    for (uint32_t i = 0; i < s->n_subs; i++) {
        walk_sub(s, i, pristine, &xi, &t);
        reserved |= s->subdir[i].sub > CT_SUB_MAX;
    }
    if (pristine)
        FZ_CHECK(xi == day.n && s->n_events == day.n, "the unedited file holds every event of the fixed day");

    /* every cell and tile, from several start seconds and from each of
     * their blocks' first seconds (a block may start inside a second) */
    for (uint32_t i = 0; i < s->n_cells; i++)
        walk_cell(s, s->celldir[i].loc, pristine);
    for (uint32_t i = 0, first = 0; i < s->n_subs; i++) { /* first: i's first event in the fixed day */
        for (size_t k = 0; k < sizeof FROMS / sizeof FROMS[0]; k++)
            walk_places(s, i, FROMS[k], pristine, first);
        while (pristine && first < day.n && xindex[first] == i)
            first++;
    }
    for (uint32_t i = 0; i < s->n_tiles; i++) {
        FZ_CHECK(ct__seg_tile_lower(s, s->tiledir[i].key) == i, "tile lookup finds listed tiles");
        for (size_t k = 0; k < sizeof FROMS / sizeof FROMS[0]; k++) {
            walk_tile(s, i, FROMS[k], CT_DAY_S, 0, 1, pristine);
            /* a part of a trace on several threads, up to an hour later */
            walk_tile(s, i, FROMS[k], FROMS[k] + 3600 < FROMS[k] ? CT_DAY_S : FROMS[k] + 3600,
                      (uint32_t)k % 3, 3, pristine);
        }
        for (uint32_t b = s->tiledir[i].first_block; b < s->tiledir[i + 1].first_block && b < 8; b++)
            walk_tile(s, i, s->tile_blocks[b].first_tod, CT_DAY_S, 0, 1, pristine);
    }
    if (pristine) {
        uint32_t cells = 0, tiles = 0;
        for (uint32_t i = 0; i < n_xcells; i++)
            cells += i == 0 || xcells[i].key != xcells[i - 1].key;
        for (uint32_t i = 0; i < n_xtiles; i++)
            tiles += i == 0 || xtiles[i].key != xtiles[i - 1].key;
        FZ_CHECK(s->n_cells == cells && s->n_tiles == tiles, "the unedited file lists every place");
        double radius[CT_GRID_LEVELS] = {0};
        for (uint32_t i = 0; i < day.n; i++)
            if (day.ev[i].kind) {
                const ct_point *p = &day.pts[day.ev[i].place];
                unsigned l = ct__grid_level(p->acc);
                if (p->acc > radius[l])
                    radius[l] = p->acc;
            }
        for (int l = 0; l < CT_GRID_LEVELS; l++)
            FZ_CHECK(s->level_radius[l] == radius[l], "the unedited file has the fixed day's level radii");
    }

    /* lookups of values from the input, present or not */
    for (size_t i = 0; i + 8 <= probe_len && i < 64; i += 8) {
        uint32_t a = rd32(probe + i), from = rd32(probe + i + 4);
        ct_sub_cursor c;
        if (ct__seg_sub_open(s, a, &c))
            FZ_CHECK(c.p >= s->subs && c.p <= c.end && c.end <= s->subs + s->subs_len,
                     "a found subscriber's stream lies in S1");
        walk_cell(s, a, 0);
        if (s->version == 3 && s->n_cells)
            walk_postings(s, a % s->n_cells, from % CT_SEG_POSTING_LISTS, 0);
        if (s->n_subs)
            walk_places(s, a % s->n_subs, from, 0, 0);
        uint64_t key = rd64(probe + i);
        check_tile_lower(s, key);
        uint32_t tile = ct__seg_tile_lower(s, key);
        if (tile < s->n_tiles)
            walk_tile(s, tile, from % CT_DAY_S, CT_DAY_S, 0, 1, 0);
    }
    check_tile_lower(s, 0);
    check_tile_lower(s, UINT64_MAX);

    ct_event *ev = NULL;
    ct_point *pts = NULL;
    uint32_t n = 0, np = 0;
    ct_err err;
    ct_code rc = ct__seg_decode(s, &ev, &n, &pts, &np, &err);
    int walks_clean = !t.damaged && !reserved && t.events == s->n_events && t.points == s->n_points;
    if (rc != CT_OK) {
        FZ_CHECK(rc == CT_ECORRUPT && err.msg[0] && ev == NULL && pts == NULL, "decode fails cleanly");
        FZ_CHECK(!walks_clean, "decode fails only where a subscriber walk does");
        FZ_CHECK(!pristine, "the unedited file decodes");
    } else {
        FZ_CHECK(walks_clean, "decode succeeds only where every subscriber walk does");
        check_decoded(s, ev, n, pts, np);
        if (sealable) /* sealing opens with verify_all = 1 only */
            reseal(s, ev, n, pts);
    }
    ct__free(ev);
    ct__free(pts);
    heap_free(&h);
}

static void setup(void)
{
    seg_path = fz_path("fuzz.seg");
    out_path = fz_path("resealed.seg");
    char *p = fz_path("base.seg");
    fz_fixed_day(&day);
    expect_places();
    uint64_t size;
    uint32_t crc;
    ct_err err;
    if (ct__seg_write(p, FZ_DAY, day.ev, day.n, day.pts, &size, &crc, &err) != CT_OK) {
        fprintf(stderr, "fuzz: %s\n", err.msg);
        abort();
    }
    FILE *f = fopen(p, "rb");
    base = malloc((size_t)size);
    if (!f || !base || fread(base, 1, (size_t)size, f) != size)
        abort();
    fclose(f);
    base_len = (size_t)size;
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base)
        setup();
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    const uint8_t *payload = data + 1;
    size_t n = size - 1, len, cap;
    uint8_t *buf;
    if (ctl & 1) {
        cap = n ? n : 1;
        buf = malloc(cap);
        if (!buf)
            abort();
        memcpy(buf, payload, n);
        len = n;
    } else {
        cap = base_len + EXTRA_MAX;
        buf = malloc(cap);
        if (!buf)
            abort();
        memcpy(buf, base, base_len);
        len = apply_edits(buf, base_len, cap, payload, n);
    }
    if (ctl & 2)
        fix_section_crcs(buf, len);
    if (ctl & 4)
        fix_header_crc(buf, len);
    fz_write(seg_path, buf, len);
    int pristine = len == base_len && memcmp(buf, base, len) == 0;

    ct_segment quick, full;
    ct_err err;
    ct_code rc0 = ct__seg_open(seg_path, 0, &quick, &err);
    FZ_CHECK(rc0 == CT_OK || (rc0 == CT_ECORRUPT && err.msg[0]), "the reader refuses with CT_ECORRUPT and a message");
    ct_code rc1 = ct__seg_open(seg_path, 1, &full, &err);
    FZ_CHECK(rc1 == CT_OK || (rc1 == CT_ECORRUPT && err.msg[0]), "the reader refuses with CT_ECORRUPT and a message");
    if (pristine)
        FZ_CHECK(rc1 == CT_OK, "the unedited segment is accepted");
    if (rc1 == CT_OK) {
        FZ_CHECK(checksums_match(buf, len), "verify_all accepts only files whose checksums match");
        FZ_CHECK(rc0 == CT_OK, "what verify_all accepts, the quick open accepts");
        FZ_CHECK(full.day >= 0 && full.day <= CT_DAY_NUMBER_MAX, "accepted days are in range");
    }
    if (rc0 == CT_OK) {
        exercise(&quick, payload, n, rc1 == CT_OK, pristine);
        ct__seg_close(&quick);
    }
    if (rc1 == CT_OK)
        ct__seg_close(&full);
    free(buf);
    return 0;
}
