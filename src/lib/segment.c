/*
 * segment.c — writing and reading day segments (format in segment.h and
 * docs/FORMAT.md).
 *
 * Writing builds each section in memory from the sorted events, computes
 * its crc32, and streams it to a temporary file that fsio commits
 * atomically; the header (with the section table) is written last.
 * Reading maps the file and refuses anything whose header, sizes or
 * directories are inconsistent, so that later accesses can trust the
 * directory ranges; entry fields (tod, point index) are still checked
 * where they are used, because S4 and S6 are not scanned at open.
 */
#include "segment.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "alloc.h"
#include "error.h"
#include "store.h"
#include "subscribers.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "segments are little-endian; this build assumes a little-endian host"
#endif

static const char MAGIC[8] = {'C', 'T', 'S', 'E', 'G', '0', '1', '\n'};

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
    uint64_t file_size;
    uint64_t reserved;
    section_info sections[CT_SEG_SECTIONS];
} seg_header;

_Static_assert(sizeof(seg_header) == CT_SEG_HEADER, "segment header is 256 bytes");
_Static_assert(sizeof(ct_point) == 32, "point record is 32 bytes");
_Static_assert(sizeof(ct_tiledir_entry) == 16, "tile directory entry is 16 bytes");

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

/* ---- building the sections ------------------------------------------------ */

typedef struct place_item {
    uint64_t key; /* loc id or tile key */
    uint32_t tod, sub, gap, point;
} place_item;

/* Stable LSD radix sort of place items by (key, tod): items arrive in
 * by-subscriber order, so equal (key, tod) keep subscriber order, which
 * is the order S4 and S6 promise. 16 bits a pass; passes whose digit is
 * the same for every item are skipped. */
static void radix_by(place_item *a, place_item *tmp, uint32_t n, int field, unsigned bits,
                     uint32_t *count)
{
    for (unsigned shift = 0; shift < bits; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (uint32_t i = 0; i < n; i++)
            count[((field ? a[i].key : a[i].tod) >> shift) & 0xFFFF]++;
        if (count[((field ? a[0].key : a[0].tod) >> shift) & 0xFFFF] == n)
            continue;
        uint32_t sum = 0;
        for (unsigned d = 0; d < 65536; d++) {
            uint32_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++)
            tmp[count[((field ? a[i].key : a[i].tod) >> shift) & 0xFFFF]++] = a[i];
        memcpy(a, tmp, (size_t)n * sizeof *a);
    }
}

static void sort_places(place_item *a, uint32_t n)
{
    if (n < 2)
        return;
    place_item *tmp = ct__calloc(n, sizeof *tmp);
    uint32_t *count = ct__calloc(65536, sizeof *count);
    radix_by(a, tmp, n, 0, 32, count);
    radix_by(a, tmp, n, 1, 64, count);
    ct__free(count);
    ct__free(tmp);
}

typedef struct built {
    seg_header h;
    void *sec[CT_SEG_SECTIONS];
} built;

/* S0, S1, S2 and the gaps; collects place items for S3-S6. */
static void build_by_subscriber(built *b, const ct_event *ev, uint32_t n, const ct_point *pts,
                                place_item **cells, place_item **tiles, uint32_t *gaps)
{
    ct_subdir_entry *dir = ct__calloc((size_t)n + 1, sizeof *dir);
    uint32_t *events = ct__calloc((size_t)n * 2 + 1, sizeof *events);
    ct_point *points = ct__calloc((size_t)n + 1, sizeof *points);
    place_item *ci = ct__calloc((size_t)n + 1, sizeof *ci), *ti = ct__calloc((size_t)n + 1, sizeof *ti);
    uint32_t n_subs = 0, n_points = 0, n_cell = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i == 0 || ev[i].sub != ev[i - 1].sub) {
            dir[n_subs].sub = ev[i].sub;
            dir[n_subs++].first = i;
        }
        gaps[i] = (i + 1 < n && ev[i + 1].sub == ev[i].sub) ? ev[i + 1].tod - ev[i].tod : CT_GAP_OPEN;
        if (ev[i].kind) {
            const ct_point *p = &pts[ev[i].place];
            points[n_points] = *p;
            points[n_points].zero = 0;
            ti[n_points] = (place_item){ct__grid_key(ct__grid_level(p->acc), p->lat, p->lon),
                                        ev[i].tod, ev[i].sub, gaps[i], n_points};
            events[2 * i] = ev[i].tod | CT_EV_POINT;
            events[2 * i + 1] = n_points++;
        } else {
            ci[n_cell++] = (place_item){ev[i].place, ev[i].tod, ev[i].sub, gaps[i], 0};
            events[2 * i] = ev[i].tod;
            events[2 * i + 1] = ev[i].place;
        }
    }
    dir[n_subs].sub = CT_GAP_OPEN;
    dir[n_subs].first = n;
    b->h.n_events = n;
    b->h.n_subs = n_subs;
    b->h.n_points = n_points;
    b->h.n_cell_events = n_cell;
    b->sec[0] = dir;
    b->sec[1] = events;
    b->sec[2] = points;
    b->h.sections[0].len = ((uint64_t)n_subs + 1) * sizeof *dir;
    b->h.sections[1].len = (uint64_t)n * 8;
    b->h.sections[2].len = (uint64_t)n_points * sizeof *points;
    *cells = ci;
    *tiles = ti;
}

static void build_cells(built *b, place_item *ci)
{
    uint32_t n = b->h.n_cell_events, n_cells = 0;
    sort_places(ci, n);
    ct_celldir_entry *dir = ct__calloc((size_t)n + 1, sizeof *dir);
    ct_cell_entry *ent = ct__calloc((size_t)n + 1, sizeof *ent);
    for (uint32_t i = 0; i < n; i++) {
        if (i == 0 || ci[i].key != ci[i - 1].key) {
            dir[n_cells].loc = (uint32_t)ci[i].key;
            dir[n_cells++].first = i;
        }
        ent[i] = (ct_cell_entry){ci[i].sub, ci[i].tod, ci[i].gap};
    }
    dir[n_cells].loc = CT_GAP_OPEN;
    dir[n_cells].first = n;
    b->h.n_cells = n_cells;
    b->sec[3] = dir;
    b->sec[4] = ent;
    b->h.sections[3].len = ((uint64_t)n_cells + 1) * sizeof *dir;
    b->h.sections[4].len = (uint64_t)n * sizeof *ent;
}

static void build_tiles(built *b, place_item *ti)
{
    uint32_t n = b->h.n_points, n_tiles = 0;
    const ct_point *pts = b->sec[2];
    sort_places(ti, n);
    ct_tiledir_entry *dir = ct__calloc((size_t)n + 1, sizeof *dir);
    ct_tile_entry *ent = ct__calloc((size_t)n + 1, sizeof *ent);
    double *levels = ct__calloc(CT_GRID_LEVELS, sizeof *levels);
    for (uint32_t i = 0; i < n; i++) {
        if (i == 0 || ti[i].key != ti[i - 1].key) {
            dir[n_tiles].key = ti[i].key;
            dir[n_tiles++].first = i;
        }
        ent[i] = (ct_tile_entry){ti[i].sub, ti[i].tod, ti[i].gap, ti[i].point};
        unsigned level = (unsigned)(ti[i].key >> 44);
        if (pts[ti[i].point].acc > levels[level])
            levels[level] = pts[ti[i].point].acc;
    }
    dir[n_tiles].key = UINT64_MAX;
    dir[n_tiles].first = n;
    b->h.n_tiles = n_tiles;
    b->sec[5] = dir;
    b->sec[6] = ent;
    b->sec[7] = levels;
    b->h.sections[5].len = ((uint64_t)n_tiles + 1) * sizeof *dir;
    b->h.sections[6].len = (uint64_t)n * sizeof *ent;
    b->h.sections[7].len = CT_GRID_LEVELS * sizeof *levels;
}

static ct_code write_built(const char *path, built *b, uint64_t *size, uint32_t *crc, ct_err *err)
{
    ct_wfile f;
    ct_code rc = ct__fs_create(&f, path, err);
    if (rc)
        return rc;
    static const uint8_t zeros[CT_SEG_HEADER];
    rc = ct__fs_write(&f, zeros, sizeof zeros, err);
    uint64_t off = CT_SEG_HEADER;
    for (int s = 0; s < CT_SEG_SECTIONS && !rc; s++) {
        size_t pad = (size_t)(-off & 7); /* every section starts 8-aligned */
        if (pad)
            rc = ct__fs_write(&f, zeros, pad, err);
        off += pad;
        b->h.sections[s].off = off;
        b->h.sections[s].crc = crc_of(b->sec[s], b->h.sections[s].len);
        if (!rc)
            rc = ct__fs_write(&f, b->sec[s], b->h.sections[s].len, err);
        off += b->h.sections[s].len;
    }
    b->h.file_size = off;
    b->h.header_crc = 0;
    b->h.header_crc = crc_of(&b->h, sizeof b->h);
    if (!rc)
        rc = ct__fs_pwrite(&f, &b->h, sizeof b->h, 0, err);
    if (rc) {
        ct__fs_discard(&f);
        return rc;
    }
    *size = off;
    *crc = b->h.header_crc;
    return ct__fs_commit(&f, err);
}

ct_code ct__seg_write(const char *path, int64_t day, const ct_event *ev, uint32_t n,
                      const ct_point *points, uint64_t *size, uint32_t *crc, ct_err *err)
{
    built b;
    memset(&b, 0, sizeof b);
    memcpy(b.h.magic, MAGIC, sizeof MAGIC);
    b.h.version = 1;
    b.h.day = day;
    uint32_t *gaps = ct__calloc((size_t)n + 1, sizeof *gaps);
    place_item *ci = NULL, *ti = NULL;
    build_by_subscriber(&b, ev, n, points, &ci, &ti, gaps);
    build_cells(&b, ci);
    build_tiles(&b, ti);
    ct__free(ci);
    ct__free(ti);
    ct__free(gaps);
    ct_code rc = write_built(path, &b, size, crc, err);
    for (int s = 0; s < CT_SEG_SECTIONS; s++)
        ct__free(b.sec[s]);
    return rc;
}

/* ---- reading -------------------------------------------------------------- */

static ct_code check_sections(const char *path, const seg_header *h, const ct_map *m,
                              int verify_all, ct_err *err)
{
    const uint64_t expect[CT_SEG_SECTIONS] = {
        ((uint64_t)h->n_subs + 1) * 8, (uint64_t)h->n_events * 8, (uint64_t)h->n_points * 32,
        ((uint64_t)h->n_cells + 1) * 8, (uint64_t)h->n_cell_events * 12,
        ((uint64_t)h->n_tiles + 1) * 16, (uint64_t)h->n_points * 16, CT_GRID_LEVELS * 8};
    for (int s = 0; s < CT_SEG_SECTIONS; s++) {
        const section_info *si = &h->sections[s];
        if (si->len != expect[s] || si->off < CT_SEG_HEADER || si->off % 8 || si->off > m->len ||
            si->len > m->len - si->off)
            return ct__fail(err, CT_ECORRUPT, "%s: section %d has a bad size or place", path, s);
        if (verify_all && crc_of(m->data + si->off, si->len) != si->crc)
            return ct__fail(err, CT_ECORRUPT, "%s: section %d fails its checksum", path, s);
    }
    /* sections follow each other with at most 7 zero bytes between them
     * and end the file, so every byte is covered by a check */
    uint64_t at = CT_SEG_HEADER;
    for (int s = 0; s < CT_SEG_SECTIONS; s++) {
        const section_info *si = &h->sections[s];
        if (si->off < at || si->off - at > 7)
            return ct__fail(err, CT_ECORRUPT, "%s: section %d is misplaced", path, s);
        for (uint64_t p = at; verify_all && p < si->off; p++)
            if (m->data[p])
                return ct__fail(err, CT_ECORRUPT, "%s: damaged padding before section %d", path, s);
        at = si->off + si->len;
    }
    if (at != m->len)
        return ct__fail(err, CT_ECORRUPT, "%s: bytes after the last section", path);
    if (h->n_cell_events + (uint64_t)h->n_points != h->n_events)
        return ct__fail(err, CT_ECORRUPT, "%s: event counts disagree", path);
    return CT_OK;
}

static ct_code check_directories(const char *path, const ct_segment *s, ct_err *err)
{
    for (uint32_t i = 0; i < s->n_subs; i++)
        if (s->subdir[i].first >= s->subdir[i + 1].first || s->subdir[i].sub >= s->subdir[i + 1].sub)
            return ct__fail(err, CT_ECORRUPT, "%s: subscriber directory is not ordered", path);
    if ((s->n_subs ? s->subdir[0].first : 0) != 0 || s->subdir[s->n_subs].first != s->n_events)
        return ct__fail(err, CT_ECORRUPT, "%s: subscriber directory is incomplete", path);
    for (uint32_t i = 0; i < s->n_cells; i++)
        if (s->celldir[i].first >= s->celldir[i + 1].first || s->celldir[i].loc >= s->celldir[i + 1].loc)
            return ct__fail(err, CT_ECORRUPT, "%s: cell directory is not ordered", path);
    if (s->celldir[s->n_cells].first != s->n_cell_events)
        return ct__fail(err, CT_ECORRUPT, "%s: cell directory is incomplete", path);
    for (uint32_t i = 0; i < s->n_tiles; i++)
        if (s->tiledir[i].first >= s->tiledir[i + 1].first || s->tiledir[i].key >= s->tiledir[i + 1].key)
            return ct__fail(err, CT_ECORRUPT, "%s: tile directory is not ordered", path);
    if (s->tiledir[s->n_tiles].first != s->n_points)
        return ct__fail(err, CT_ECORRUPT, "%s: tile directory is incomplete", path);
    for (int l = 0; l < CT_GRID_LEVELS; l++)
        if (!(s->level_radius[l] >= 0.0 && s->level_radius[l] <= 100000.0))
            return ct__fail(err, CT_ECORRUPT, "%s: bad level radius", path);
    return CT_OK;
}

ct_code ct__seg_open(const char *path, int verify_all, ct_segment *seg, ct_err *err)
{
    memset(seg, 0, sizeof *seg);
    ct_code rc = ct__fs_map(path, &seg->map, err);
    if (rc)
        return rc;
    seg_header h;
    if (seg->map.len < sizeof h) {
        rc = ct__fail(err, CT_ECORRUPT, "%s: too short for a segment", path);
        goto out;
    }
    memcpy(&h, seg->map.data, sizeof h);
    uint32_t stored_crc = h.header_crc;
    h.header_crc = 0;
    if (memcmp(h.magic, MAGIC, sizeof MAGIC) || h.version != 1 || crc_of(&h, sizeof h) != stored_crc ||
        h.file_size != seg->map.len || h.day < 0 || h.day > CT_DAY_NUMBER_MAX) {
        rc = ct__fail(err, CT_ECORRUPT, "%s: not a valid segment (header)", path);
        goto out;
    }
    if ((rc = check_sections(path, &h, &seg->map, verify_all, err)) != CT_OK)
        goto out;
    const uint8_t *base = seg->map.data;
    seg->day = h.day;
    seg->n_events = h.n_events;
    seg->n_subs = h.n_subs;
    seg->n_points = h.n_points;
    seg->n_cells = h.n_cells;
    seg->n_cell_events = h.n_cell_events;
    seg->n_tiles = h.n_tiles;
    seg->subdir = (const void *)(base + h.sections[0].off);
    seg->events = (const void *)(base + h.sections[1].off);
    seg->points = (const void *)(base + h.sections[2].off);
    seg->celldir = (const void *)(base + h.sections[3].off);
    seg->cell_entries = (const void *)(base + h.sections[4].off);
    seg->tiledir = (const void *)(base + h.sections[5].off);
    seg->tile_entries = (const void *)(base + h.sections[6].off);
    seg->level_radius = (const void *)(base + h.sections[7].off);
    rc = check_directories(path, seg, err);
out:
    if (rc)
        ct__seg_close(seg);
    return rc;
}

void ct__seg_close(ct_segment *seg)
{
    if (seg)
        ct__fs_unmap(&seg->map);
}

int ct__seg_sub_range(const ct_segment *seg, uint32_t sub, uint32_t *first, uint32_t *end)
{
    uint32_t lo = 0, hi = seg->n_subs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seg->subdir[mid].sub < sub)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= seg->n_subs || seg->subdir[lo].sub != sub)
        return 0;
    *first = seg->subdir[lo].first;
    *end = seg->subdir[lo + 1].first;
    return 1;
}

int ct__seg_cell_range(const ct_segment *seg, uint32_t loc, uint32_t *first, uint32_t *end)
{
    uint32_t lo = 0, hi = seg->n_cells;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seg->celldir[mid].loc < loc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= seg->n_cells || seg->celldir[lo].loc != loc)
        return 0;
    *first = seg->celldir[lo].first;
    *end = seg->celldir[lo + 1].first;
    return 1;
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

static int point_valid(const ct_point *p)
{
    return p->lat >= -90.0 && p->lat <= 90.0 && p->lon >= -180.0 && p->lon <= 180.0 && p->acc > 0.0 &&
           p->acc <= 100000.0;
}

ct_code ct__seg_decode(const ct_segment *seg, ct_event **ev_out, uint32_t *n_out,
                       ct_point **pts_out, uint32_t *np_out, ct_err *err)
{
    ct_event *ev = ct__calloc((size_t)seg->n_events + 1, sizeof *ev);
    ct_point *pts = ct__calloc((size_t)seg->n_points + 1, sizeof *pts);
    memcpy(pts, seg->points, (size_t)seg->n_points * sizeof *pts);
    for (uint32_t s = 0; s < seg->n_subs; s++)
        for (uint32_t i = seg->subdir[s].first; i < seg->subdir[s + 1].first; i++) {
            uint32_t tk = seg->events[2 * i], place = seg->events[2 * i + 1];
            ev[i] = (ct_event){seg->subdir[s].sub, tk & ~CT_EV_POINT, place, tk >> 31};
            /* a forged file (checksums recomputed) must not reach sealing:
             * the sentinel id as a place, or a point off the globe */
            if ((tk & ~CT_EV_POINT) >= CT_DAY_S || (ev[i].kind && place >= seg->n_points) ||
                (!ev[i].kind && place == CT_GAP_OPEN) || ev[i].sub > CT_SUB_MAX ||
                (ev[i].kind && !point_valid(&seg->points[place]))) {
                ct__free(ev);
                ct__free(pts);
                return ct__fail(err, CT_ECORRUPT, "segment of day %lld: bad event %u",
                                (long long)seg->day, i);
            }
        }
    *ev_out = ev;
    *n_out = seg->n_events;
    *pts_out = pts;
    *np_out = seg->n_points;
    return CT_OK;
}
