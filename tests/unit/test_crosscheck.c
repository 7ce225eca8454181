/*
 * test_crosscheck.c — randomized cross-check of ct_trace against a
 * brute-force reference of SPEC section 4 (tests/support/reference.c).
 *
 * What it checks: many small random cities (1-3 operators, cells with
 * overlapping and identical centres, 5-40 subscribers, cell and point
 * events with ties at the same second, duplicates in other formats and
 * other files, feeds split into files and ingested in shuffled batches,
 * files ingested twice, cell catalogues re-imported with new geometry after
 * ingest, random cases and parameters) are written as CSV, run through the
 * public API only (ct_init ... ct_trace), and every contact field
 * (msisdn, exposure, first, last, min_radius bitwise) is compared with the
 * reference computed from the generated values, never from the engine.
 *
 * Why: the engine is fast (grid, day segments, sweeps); the reference is
 * O(n^2) and reads like the SPEC. Any difference is a bug in one of them,
 * and test_reference_conformance first proves the reference reproduces the
 * hand-made conformance set (../shared/conformance/basic).
 *
 * Pairs whose distance lies within 1 mm of r_a + r_b + D may be decided
 * either way (SPEC 2 allows that error), so a trace with such a pair is
 * not compared (counted as "ambiguous").
 *
 * Environment: CT_CROSS_SEED (first round's seed; round i uses seed + i),
 * CT_CROSS_ROUNDS (default 250), CT_CROSS_KEEP=1 (keep every round's
 * directory), CT_CROSS_NO_SHRINK=1, CT_CROSS_SIMPLE=1 (for bisecting: one
 * operator, one ingest batch), CT_TEST_TMP (scratch directory),
 * CT_CONFORMANCE_DIR (default: ../shared/conformance/basic beside the
 * checkout). On a mismatch the test prints the seed to rerun it
 * (CT_CROSS_SEED=<seed> CT_CROSS_ROUNDS=1), keeps the round's directory
 * and writes a shrunk reproduction (files, steps.sh, report.txt) beside it.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "celltrace.h"
#include "proximity.h"
#include "reference.c"

#define AMBIGUITY_M 1e-3
#define DEFAULT_ROUNDS 250
#define DEFAULT_SEED UINT64_C(0xC0FFEE2020)

/* set by test_reference_conformance: the random rounds need a proven reference */
static int reference_ok;

/* ---- small utilities ---------------------------------------------------- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "crosscheck: out of memory\n");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "crosscheck: out of memory\n");
        abort();
    }
    return q;
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t rng_next(rng *r)
{
    return splitmix64(&r->s);
}

static uint64_t rng_below(rng *r, uint64_t n)
{
    return n ? rng_next(r) % n : 0;
}

/* inclusive */
static int64_t rng_range(rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo) + 1);
}

static int rng_pct(rng *r, int pct)
{
    return (int)rng_below(r, 100) < pct;
}

static void shuffle_ints(rng *r, int *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if (b->p && (size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        b->cap = (b->cap + (size_t)k + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char sub[2048];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static const char *tmp_root(void)
{
    const char *t = getenv("CT_TEST_TMP");
    return t && *t ? t : "/tmp";
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    return strtoull(v, NULL, 0);
}

/* ---- text forms of values (SPEC 2) ------------------------------------- */

/* micro-degrees as a decimal with 6 decimals, maybe without trailing zeros */
static void fmt_micro(int64_t v, int strip, char *buf, size_t cap)
{
    int64_t a = v < 0 ? -v : v;
    snprintf(buf, cap, "%s%" PRId64 ".%06" PRId64, v < 0 ? "-" : "", a / 1000000, a % 1000000);
    if (strip) {
        size_t n = strlen(buf);
        while (buf[n - 1] == '0')
            buf[--n] = '\0';
        if (buf[n - 1] == '.')
            buf[--n] = '\0';
    }
}

/* hundredths as a decimal */
static void fmt_cents(int64_t c, int strip, char *buf, size_t cap)
{
    snprintf(buf, cap, "%" PRId64 ".%02" PRId64, c / 100, c % 100);
    if (strip) {
        size_t n = strlen(buf);
        while (buf[n - 1] == '0')
            buf[--n] = '\0';
        if (buf[n - 1] == '.')
            buf[--n] = '\0';
    }
}

static void civil(int64_t t, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
    int64_t days = t / 86400, sec = t % 86400, yy;
    if (sec < 0) {
        sec += 86400;
        days--;
    }
    ref_civil_from_days(days, &yy, mo, d);
    *y = (int)yy;
    *h = (int)(sec / 3600);
    *mi = (int)(sec / 60 % 60);
    *s = (int)(sec % 60);
}

/* One of the time forms of SPEC 2 for t. allow_date: a bare date may be
 * written when t is a midnight. */
static void fmt_time(rng *r, int64_t t, int allow_date, char *buf, size_t cap)
{
    static const int offsets_min[] = {180, -300, 330, 0, 840, -720, 345, -570, 60, -60};
    int y, mo, d, h, mi, s;
    if (allow_date && t % 86400 == 0 && rng_pct(r, 60)) {
        civil(t, &y, &mo, &d, &h, &mi, &s);
        snprintf(buf, cap, "%04d-%02d-%02d", y, mo, d);
        return;
    }
    char frac[16] = "";
    if (rng_pct(r, 10)) {
        int digits = (int)rng_range(r, 1, 6);
        frac[0] = '.';
        for (int i = 0; i < digits; i++)
            frac[1 + i] = (char)('0' + rng_below(r, 10));
        frac[1 + digits] = '\0';
    }
    switch (rng_below(r, 4)) {
    case 0:
        civil(t, &y, &mo, &d, &h, &mi, &s);
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", y, mo, d, h, mi, s, frac);
        break;
    case 1: {
        int off = offsets_min[rng_below(r, sizeof offsets_min / sizeof offsets_min[0])];
        civil(t + off * 60, &y, &mo, &d, &h, &mi, &s);
        int a = off < 0 ? -off : off;
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", y, mo, d, h, mi, s, frac,
                 off < 0 ? '-' : '+', a / 60, a % 60);
        break;
    }
    case 2:
        civil(t, &y, &mo, &d, &h, &mi, &s);
        snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d%s", y, mo, d, h, mi, s, frac);
        break;
    default:
        snprintf(buf, cap, "%" PRId64 "%s", t, frac);
        break;
    }
}

/* One of the number forms of SPEC 2 for normalised digits. */
static void fmt_msisdn(rng *r, const char *digits, char *buf, size_t cap)
{
    size_t n = strlen(digits), o = 0;
    int style = (int)rng_below(r, 4);
    if (style == 0) {
        snprintf(buf, cap, "%s", digits);
        return;
    }
    if (style == 1) {
        snprintf(buf, cap, "+%s", digits);
        return;
    }
    static const char seps[] = {' ', '-', '.', ' ', '-'};
    if (rng_pct(r, 60))
        buf[o++] = '+';
    size_t i = 0;
    int group = 0, paren_group = rng_pct(r, 40) ? (int)rng_range(r, 1, 2) : -1;
    while (i < n) {
        size_t len = (size_t)rng_range(r, 1, 4);
        if (len > n - i)
            len = n - i;
        if (group > 0 && rng_pct(r, 85))
            buf[o++] = seps[rng_below(r, sizeof seps)];
        if (group == paren_group)
            buf[o++] = '(';
        memcpy(buf + o, digits + i, len);
        o += len;
        i += len;
        if (group == paren_group)
            buf[o++] = ')';
        group++;
    }
    buf[o] = '\0';
    (void)cap;
}

/* ---- the scenario: what a round generates -------------------------------- */

#define MAX_OPS 3
#define MAX_CASES 3
#define MAX_PARAMS 3
#define MAX_AREAS 4
#define TXT 96

typedef struct cat_row {
    ref_cell cell;
    char t_id[TXT], t_lat[TXT], t_lon[TXT], t_r[TXT], t_region[TXT];
    unsigned quote; /* bit per column */
} cat_row;

typedef struct cat_file {
    int op;
    cat_row *rows;
    size_t n;
    int crlf, bom, extra;
    int order[6];
    char name[64];
} cat_file;

typedef struct ev_row {
    ref_event ev;
    char t_msisdn[TXT], t_ts[TXT], t_cell[TXT], t_lat[TXT], t_lon[TXT], t_acc[TXT];
    unsigned quote;
    int alive;
} ev_row;

typedef struct feed_file {
    int op;
    size_t *rows;
    size_t n, cap;
    int crlf, bom, extra;
    int order[7];
    char name[64];
} feed_file;

enum { ACT_CELLS, ACT_BATCH };

typedef struct action {
    int kind;
    int op;
    int cat;      /* ACT_CELLS */
    int files[64]; /* ACT_BATCH */
    int nfiles;
} action;

typedef struct case_def {
    char id[TXT];
    ref_case rc;
    char t_msisdn[TXT], t_onset[TXT], t_isolated[TXT];
    int alive;
} case_def;

typedef struct scenario {
    uint64_t seed;
    int nops;
    char ops[MAX_OPS][REF_OP_MAX + 1];
    cat_file *cats;
    size_t ncats;
    ev_row *rows;
    size_t nrows, caprows;
    feed_file *files;
    size_t nfiles;
    action *acts;
    size_t nacts;
    case_def cases[MAX_CASES];
    int ncases;
    int cases_via_file;
    ref_params params[MAX_PARAMS];
    int nparams;
    ref_area_q areas[MAX_AREAS]; /* area queries (docs/AREA.md) */
    int nareas;
} scenario;

static void scenario_free(scenario *s)
{
    for (size_t i = 0; i < s->ncats; i++)
        free(s->cats[i].rows);
    free(s->cats);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i].rows);
    free(s->files);
    free(s->rows);
    free(s->acts);
    memset(s, 0, sizeof *s);
}

static void scenario_copy(scenario *dst, const scenario *src)
{
    *dst = *src;
    dst->cats = xmalloc(src->ncats * sizeof *dst->cats);
    for (size_t i = 0; i < src->ncats; i++) {
        dst->cats[i] = src->cats[i];
        dst->cats[i].rows = xmalloc(src->cats[i].n * sizeof(cat_row));
        memcpy(dst->cats[i].rows, src->cats[i].rows, src->cats[i].n * sizeof(cat_row));
    }
    dst->files = xmalloc(src->nfiles * sizeof *dst->files);
    for (size_t i = 0; i < src->nfiles; i++) {
        dst->files[i] = src->files[i];
        dst->files[i].rows = xmalloc(src->files[i].n * sizeof(size_t));
        memcpy(dst->files[i].rows, src->files[i].rows, src->files[i].n * sizeof(size_t));
        dst->files[i].cap = src->files[i].n;
    }
    dst->rows = xmalloc(src->nrows * sizeof *dst->rows);
    memcpy(dst->rows, src->rows, src->nrows * sizeof *dst->rows);
    dst->caprows = src->nrows;
    dst->acts = xmalloc(src->nacts * sizeof *dst->acts);
    memcpy(dst->acts, src->acts, src->nacts * sizeof *dst->acts);
}

/* generation-time view of a cell (micro-degrees, hundredths of metres) */
typedef struct gcell {
    int op;
    char id[REF_ID_MAX + 1];
    int64_t lat, lon, rc;
} gcell;

/* generation-time view of an event */
typedef struct gev {
    int64_t ts;
    int op;
    int is_cell;
    int cell; /* index into gcells */
    int64_t lat, lon, accc;
    int acc_absent;
} gev;

typedef struct gen {
    rng r;
    int64_t blat, blon, spread;
    gcell *cells;
    size_t ncells;
    int64_t t0, span;
    int64_t hot[16];
} gen;

static void gen_point(gen *g, int64_t *lat, int64_t *lon)
{
    int64_t la = g->blat + rng_range(&g->r, -g->spread, g->spread);
    int64_t lo = g->blon + rng_range(&g->r, -g->spread * 3 / 2, g->spread * 3 / 2);
    if (la > 90000000)
        la = 90000000;
    if (la < -90000000)
        la = -90000000;
    if (lo > 180000000)
        lo -= 360000000;
    if (lo < -180000000)
        lo += 360000000;
    *lat = la;
    *lon = lo;
}

static int64_t gen_radius_cents(rng *r)
{
    static const int64_t mags[] = {1, 10, 100, 1000};
    int64_t m = mags[rng_below(r, 4)];
    int64_t c = rng_range(r, m, 3 * m) * 100;
    if (rng_pct(r, 30))
        c += rng_pct(r, 50) ? rng_range(r, 1, 9) * 10 : rng_range(r, 1, 99);
    return c;
}

static void gen_cell_id(rng *r, char *out)
{
    static const char cs[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";
    size_t len = (size_t)rng_range(r, 1, rng_pct(r, 10) ? 64 : 8);
    for (size_t i = 0; i < len; i++)
        out[i] = cs[rng_below(r, sizeof cs - 1)];
    out[len] = '\0';
}

static void cat_row_from(gen *g, const gcell *c, const char *op, cat_row *row)
{
    memset(row, 0, sizeof *row);
    snprintf(row->cell.op, sizeof row->cell.op, "%s", op);
    snprintf(row->cell.id, sizeof row->cell.id, "%s", c->id);
    row->cell.lat = (double)c->lat / 1e6;
    row->cell.lon = (double)c->lon / 1e6;
    row->cell.radius_m = (double)c->rc / 100.0;
    snprintf(row->t_id, sizeof row->t_id, "%s", c->id);
    fmt_micro(c->lat, rng_pct(&g->r, 30), row->t_lat, sizeof row->t_lat);
    fmt_micro(c->lon, rng_pct(&g->r, 30), row->t_lon, sizeof row->t_lon);
    fmt_cents(c->rc, rng_pct(&g->r, 70), row->t_r, sizeof row->t_r);
    if (rng_pct(&g->r, 60))
        snprintf(row->t_region, sizeof row->t_region, "%s", rng_pct(&g->r, 50) ? "RU-MOW" : "RU-SPE");
    row->quote = rng_pct(&g->r, 15) ? (unsigned)rng_below(&g->r, 32) : 0;
}

static void file_style(rng *r, int *crlf, int *bom, int *extra, int *order, int ncols)
{
    *crlf = rng_pct(r, 20);
    *bom = rng_pct(r, 10);
    *extra = rng_pct(r, 20);
    for (int i = 0; i < ncols; i++)
        order[i] = i;
    if (rng_pct(r, 60))
        shuffle_ints(r, order, (size_t)ncols);
}

static void add_row(scenario *s, const ev_row *row)
{
    if (s->nrows == s->caprows) {
        s->caprows = s->caprows ? s->caprows * 2 : 256;
        s->rows = xrealloc(s->rows, s->caprows * sizeof *s->rows);
    }
    s->rows[s->nrows++] = *row;
}

static void make_row(gen *g, scenario *s, const gev *e, const char *digits, ev_row *row)
{
    rng *r = &g->r;
    memset(row, 0, sizeof *row);
    row->alive = 1;
    ref_event *ev = &row->ev;
    snprintf(ev->msisdn, sizeof ev->msisdn, "%s", digits);
    ev->ts = e->ts;
    ev->is_cell = e->is_cell;
    snprintf(ev->op, sizeof ev->op, "%s", s->ops[e->op]);
    fmt_msisdn(r, digits, row->t_msisdn, sizeof row->t_msisdn);
    fmt_time(r, e->ts, 0, row->t_ts, sizeof row->t_ts);
    if (e->is_cell) {
        snprintf(ev->cell, sizeof ev->cell, "%s", g->cells[e->cell].id);
        snprintf(row->t_cell, sizeof row->t_cell, "%s", ev->cell);
        if (rng_pct(r, 5)) { /* a cell event may carry coordinates: cell_id wins */
            int64_t la, lo;
            gen_point(g, &la, &lo);
            fmt_micro(la, 0, row->t_lat, sizeof row->t_lat);
            fmt_micro(lo, 0, row->t_lon, sizeof row->t_lon);
        }
    } else {
        ev->lat = (double)e->lat / 1e6;
        ev->lon = (double)e->lon / 1e6;
        ev->acc = e->acc_absent ? 50.0 : (double)e->accc / 100.0;
        fmt_micro(e->lat, rng_pct(r, 30), row->t_lat, sizeof row->t_lat);
        fmt_micro(e->lon, rng_pct(r, 30), row->t_lon, sizeof row->t_lon);
        if (!e->acc_absent)
            fmt_cents(e->accc, rng_pct(r, 70), row->t_acc, sizeof row->t_acc);
    }
    row->quote = rng_pct(r, 10) ? (unsigned)rng_below(r, 64) : 0;
}

static void gen_event_at(gen *g, scenario *s, int64_t ts, gev *e)
{
    rng *r = &g->r;
    memset(e, 0, sizeof *e);
    e->ts = ts;
    e->op = (int)rng_below(r, (uint64_t)s->nops);
    if (rng_pct(r, 65)) {
        /* a cell of that operator */
        size_t k, tries = 0;
        do {
            k = (size_t)rng_below(r, g->ncells);
        } while (g->cells[k].op != e->op && ++tries < 1000);
        if (g->cells[k].op == e->op) {
            e->is_cell = 1;
            e->cell = (int)k;
            return;
        }
    }
    int mode = (int)rng_below(r, 3);
    const gcell *c = &g->cells[rng_below(r, g->ncells)];
    if (mode == 0) { /* exactly at a cell's centre */
        e->lat = c->lat;
        e->lon = c->lon;
    } else if (mode == 1) { /* near a cell's centre */
        e->lat = c->lat + rng_range(r, -200, 200);
        e->lon = c->lon + rng_range(r, -200, 200);
        if (e->lat > 90000000)
            e->lat = 90000000;
        if (e->lat < -90000000)
            e->lat = -90000000;
        if (e->lon > 180000000)
            e->lon -= 360000000;
        if (e->lon < -180000000)
            e->lon += 360000000;
    } else {
        gen_point(g, &e->lat, &e->lon);
    }
    int a = (int)rng_below(r, 10);
    if (a < 3) {
        e->acc_absent = 1;
        e->accc = 5000;
    } else if (a < 4) {
        e->accc = 5000;
    } else {
        e->accc = gen_radius_cents(r);
        if (e->accc > 50000)
            e->accc = 50000;
    }
}

/* Area queries (docs/AREA.md), drawn after everything else so that the
 * rest of a seed's scenario stays what it was: centres on cells and
 * points or beside them, radii from a cafe's to a district's, some with a
 * point exactly on the edge; windows that start inside presences and
 * cross midnight. */
static void gen_areas(scenario *s, gen *g)
{
    rng *r = &g->r;
    s->nareas = MAX_AREAS;
    for (int k = 0; k < s->nareas; k++) {
        ref_area_q *a = &s->areas[k];
        const ev_row *row = s->nrows ? &s->rows[rng_below(r, s->nrows)] : NULL;
        if (row && !row->ev.is_cell && rng_pct(r, 50)) {
            a->lat = row->ev.lat;
            a->lon = row->ev.lon;
        } else {
            const gcell *c = &g->cells[rng_below(r, g->ncells)];
            a->lat = (double)c->lat / 1e6;
            a->lon = (double)c->lon / 1e6;
        }
        if (rng_pct(r, 60)) {
            a->lat += (double)rng_range(r, -g->spread / 2, g->spread / 2) / 1e6;
            a->lon += (double)rng_range(r, -g->spread / 2, g->spread / 2) / 1e6;
            a->lat = a->lat > 90.0 ? 90.0 : a->lat < -90.0 ? -90.0 : a->lat;
            a->lon = a->lon > 180.0 ? 180.0 : a->lon < -180.0 ? -180.0 : a->lon;
        }
        switch (rng_below(r, 4)) {
        case 0: a->radius = (double)rng_range(r, 1, 50); break;
        case 1: a->radius = (double)rng_range(r, 5000, 200000) / 100.0; break;
        case 2: a->radius = (double)rng_range(r, 1, 30000); break;
        default: /* a point on the edge, 5 mm inside or outside (1 mm is
                  * SPEC 2's tolerance: closer would be skipped as ambiguous) */
            a->radius = 100.0;
            if (row && !row->ev.is_cell) {
                double d = ref_distance_m(a->lat, a->lon, row->ev.lat, row->ev.lon);
                if (d - row->ev.acc > 0.5)
                    a->radius = d - row->ev.acc + (rng_pct(r, 50) ? 0.005 : -0.005);
            }
        }
        a->from = g->t0 + rng_range(r, -3600, g->span);
        if (row && rng_pct(r, 30))
            a->from = row->ev.ts + rng_range(r, 1, 1800); /* inside a presence */
        else if (rng_pct(r, 30))
            a->from -= ((a->from % 86400) + 86400) % 86400 + rng_range(r, 0, 7200); /* over 00:00 */
        a->to = a->from + rng_range(r, 1, 2 * 86400);
        static const int64_t stays[] = {0, 1, 900};
        a->min_stay = rng_pct(r, 70) ? stays[rng_below(r, 3)] : rng_range(r, 0, 5400);
        a->max_presence_s = s->params[rng_below(r, (uint64_t)s->nparams)].max_presence_s;
    }
}

static void gen_scenario(scenario *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    gen G, *g = &G;
    memset(g, 0, sizeof G);
    g->r.s = seed;
    rng *r = &g->r;

    /* where */
    g->blat = 55750000;
    g->blon = 37620000;
    switch (rng_below(r, 12)) {
    case 0: g->blon = 179998000; break; /* across the antimeridian */
    case 1: g->blat = -33860000; g->blon = 151200000; break;
    case 2: g->blat = 89995000; g->blon = 10000000; break; /* near the pole */
    case 3: g->blat = 0; g->blon = 0; break;
    case 4: g->blat = 40700000; g->blon = -74000000; break;
    default: break;
    }
    static const int64_t spreads[] = {300, 3000, 30000, 30000};
    g->spread = spreads[rng_below(r, 4)];

    /* operators */
    static const char *op_pool[] = {"250-01", "250-02", "250-11", "250-2", "250-99", "310-260"};
    int pool_idx[6] = {0, 1, 2, 3, 4, 5};
    shuffle_ints(r, pool_idx, 6);
    s->nops = (int)rng_range(r, 1, MAX_OPS);
    if (getenv("CT_CROSS_SIMPLE"))
        s->nops = 1;
    for (int i = 0; i < s->nops; i++)
        snprintf(s->ops[i], sizeof s->ops[i], "%s", op_pool[pool_idx[i]]);

    /* cells */
    g->cells = xmalloc(64 * sizeof *g->cells);
    for (int op = 0; op < s->nops; op++) {
        int nc = (int)rng_range(r, 1, 10);
        for (int k = 0; k < nc; k++) {
            gcell *c = &g->cells[g->ncells];
            c->op = op;
            int unique;
            do {
                if (g->ncells > 0 && rng_pct(r, 25)) /* an id another operator uses too */
                    memmove(c->id, g->cells[rng_below(r, g->ncells)].id, sizeof c->id);
                else
                    gen_cell_id(r, c->id);
                unique = 1;
                for (size_t j = 0; j < g->ncells; j++)
                    if (g->cells[j].op == op && strcmp(g->cells[j].id, c->id) == 0)
                        unique = 0;
            } while (!unique);
            if (g->ncells > 0 && rng_pct(r, 20)) { /* an identical centre */
                const gcell *o = &g->cells[rng_below(r, g->ncells)];
                c->lat = o->lat;
                c->lon = o->lon;
            } else {
                gen_point(g, &c->lat, &c->lon);
            }
            c->rc = gen_radius_cents(r);
            g->ncells++;
        }
    }
    s->cats = xmalloc(8 * sizeof *s->cats);
    for (int op = 0; op < s->nops; op++) {
        cat_file *cf = &s->cats[s->ncats];
        memset(cf, 0, sizeof *cf);
        cf->op = op;
        snprintf(cf->name, sizeof cf->name, "cells_%d_%zu.csv", op, s->ncats);
        cf->rows = xmalloc(g->ncells * sizeof *cf->rows);
        for (size_t k = 0; k < g->ncells; k++)
            if (g->cells[k].op == op)
                cat_row_from(g, &g->cells[k], s->ops[op], &cf->rows[cf->n++]);
        file_style(r, &cf->crlf, &cf->bom, &cf->extra, cf->order, 5);
        s->ncats++;
    }

    /* time */
    g->t0 = ref_epoch(2020, 1, 1, 0, 0, 0) + (int64_t)rng_below(r, 730) * 86400;
    g->span = rng_range(r, 1, 4) * 86400;
    for (int i = 0; i < 16; i++)
        g->hot[i] = g->t0 + rng_range(r, 0, g->span - 1);

    /* subscribers and their events */
    int nsubs = (int)rng_range(r, 5, 40);
    char(*nums)[16] = xmalloc((size_t)nsubs * sizeof *nums);
    gev **evs = xmalloc((size_t)nsubs * sizeof *evs);
    size_t *nevs = xmalloc((size_t)nsubs * sizeof *nevs);
    for (int k = 0; k < nsubs; k++) {
        int unique;
        do {
            if (k > 0 && rng_pct(r, 15)) { /* a prefix or extension of another number */
                const char *o = nums[rng_below(r, (uint64_t)k)];
                size_t len = strlen(o);
                memmove(nums[k], o, len + 1);
                if (len < 15 && rng_pct(r, 50)) {
                    nums[k][len] = (char)('0' + rng_below(r, 10));
                    nums[k][len + 1] = '\0';
                } else if (len > 7) {
                    nums[k][len - 1] = '\0';
                }
            } else if (rng_pct(r, 70)) {
                snprintf(nums[k], 16, "7999%07d", (int)rng_below(r, 10000000));
            } else {
                int len = (int)rng_range(r, 7, 15);
                nums[k][0] = (char)('1' + rng_below(r, 9));
                for (int i = 1; i < len; i++)
                    nums[k][i] = (char)('0' + rng_below(r, 10));
                nums[k][len] = '\0';
            }
            unique = 1;
            for (int j = 0; j < k; j++)
                if (strcmp(nums[j], nums[k]) == 0)
                    unique = 0;
        } while (!unique);

        size_t cap = 64;
        evs[k] = xmalloc(cap * sizeof **evs);
        nevs[k] = 0;
        if (k > 0 && rng_pct(r, 30)) {
            /* a clone (exact) or a follower (shifted, thinned) of someone */
            int src = (int)rng_below(r, (uint64_t)(k < 3 ? k : 3));
            if (rng_pct(r, 30))
                src = (int)rng_below(r, (uint64_t)k);
            int clone = rng_pct(r, 35);
            int64_t shift = clone ? 0 : rng_range(r, -900, 900);
            for (size_t i = 0; i < nevs[src]; i++) {
                if (!clone && rng_pct(r, 20))
                    continue;
                if (nevs[k] == cap) {
                    cap *= 2;
                    evs[k] = xrealloc(evs[k], cap * sizeof **evs);
                }
                gev e = evs[src][i];
                e.ts += shift;
                if (!clone && rng_pct(r, 10))
                    e.ts += rng_range(r, -60, 60);
                if (e.ts < g->t0 - 86400)
                    e.ts = g->t0;
                evs[k][nevs[k]++] = e;
            }
            if (nevs[k] > 0)
                continue;
        }
        int nsess = (int)rng_range(r, 1, 4);
        for (int ss = 0; ss < nsess; ss++) {
            int64_t t = rng_pct(r, 30) ? g->hot[rng_below(r, 16)]
                                       : g->t0 + rng_range(r, 0, g->span - 1);
            int n = (int)rng_range(r, 1, 10);
            for (int i = 0; i < n; i++) {
                if (i > 0) {
                    int gk = (int)rng_below(r, 100);
                    t += gk < 12 ? 0 : gk < 35 ? rng_range(r, 1, 120)
                                 : gk < 75 ? rng_range(r, 120, 1800)
                                           : rng_range(r, 1800, 8000);
                    if (rng_pct(r, 5))
                        t = g->hot[rng_below(r, 16)];
                }
                if (nevs[k] == cap) {
                    cap *= 2;
                    evs[k] = xrealloc(evs[k], cap * sizeof **evs);
                }
                gen_event_at(g, s, t, &evs[k][nevs[k]++]);
            }
        }
    }

    /* rows: every event once, some twice or three times in other forms */
    for (int k = 0; k < nsubs; k++) {
        for (size_t i = 0; i < nevs[k]; i++) {
            int copies = rng_pct(r, 8) ? (rng_pct(r, 20) ? 3 : 2) : 1;
            for (int c = 0; c < copies; c++) {
                ev_row row;
                make_row(g, s, &evs[k][i], nums[k], &row);
                add_row(s, &row);
            }
        }
    }

    /* feeds: per operator, split into files at random or by day */
    s->files = xmalloc(64 * sizeof *s->files);
    for (int op = 0; op < s->nops; op++) {
        int by_day = rng_pct(r, 40);
        int nf = (int)rng_range(r, 1, 4);
        size_t first = s->nfiles;
        int64_t ndays = g->span / 86400 + 3;
        size_t want = by_day ? (size_t)ndays : (size_t)nf;
        for (size_t f = 0; f < want && s->nfiles < 60; f++) {
            feed_file *ff = &s->files[s->nfiles++];
            memset(ff, 0, sizeof *ff);
            ff->op = op;
            ff->cap = 16;
            ff->rows = xmalloc(ff->cap * sizeof *ff->rows);
            snprintf(ff->name, sizeof ff->name, "events_%d_%zu.csv", op, s->nfiles - 1);
            file_style(r, &ff->crlf, &ff->bom, &ff->extra, ff->order, 6);
        }
        size_t nfo = s->nfiles - first;
        for (size_t i = 0; i < s->nrows; i++) {
            if (strcmp(s->rows[i].ev.op, s->ops[op]) != 0)
                continue;
            size_t f;
            if (by_day) {
                int64_t day = (s->rows[i].ev.ts - (g->t0 - 86400)) / 86400;
                if (day < 0)
                    day = 0;
                f = first + (size_t)day % nfo;
            } else {
                f = first + (size_t)rng_below(r, nfo);
            }
            feed_file *ff = &s->files[f];
            if (ff->n == ff->cap) {
                ff->cap *= 2;
                ff->rows = xrealloc(ff->rows, ff->cap * sizeof *ff->rows);
            }
            ff->rows[ff->n++] = i;
        }
        /* shuffle the rows inside each file */
        for (size_t f = first; f < s->nfiles; f++) {
            feed_file *ff = &s->files[f];
            for (size_t i = ff->n; i > 1; i--) {
                size_t j = (size_t)rng_below(r, i);
                size_t t = ff->rows[i - 1];
                ff->rows[i - 1] = ff->rows[j];
                ff->rows[j] = t;
            }
        }
    }

    /* actions: catalogues, then batches of shuffled files (late data),
     * some files twice, maybe a catalogue re-import with new geometry */
    s->acts = xmalloc(256 * sizeof *s->acts);
    int op_order[MAX_OPS] = {0, 1, 2};
    shuffle_ints(r, op_order, (size_t)s->nops);
    for (int i = 0; i < s->nops; i++) {
        action *a = &s->acts[s->nacts++];
        memset(a, 0, sizeof *a);
        a->kind = ACT_CELLS;
        a->op = op_order[i];
        a->cat = op_order[i];
    }
    int *forder = xmalloc((s->nfiles ? s->nfiles : 1) * sizeof *forder);
    int *used = xmalloc((s->nfiles ? s->nfiles : 1) * sizeof *used);
    for (size_t i = 0; i < s->nfiles; i++) {
        forder[i] = (int)i;
        used[i] = 0;
    }
    shuffle_ints(r, forder, s->nfiles);
    int reimports = rng_pct(r, 35) ? (int)rng_range(r, 1, 2) : 0;
    size_t nbatches = 0;
    for (size_t i = 0; i < s->nfiles; i++) {
        int f = forder[i];
        if (used[f])
            continue;
        action *a = &s->acts[s->nacts++];
        memset(a, 0, sizeof *a);
        a->kind = ACT_BATCH;
        a->op = s->files[f].op;
        a->files[a->nfiles++] = f;
        used[f] = 1;
        if (rng_pct(r, 40))
            for (size_t j = i + 1; j < s->nfiles && a->nfiles < 3; j++)
                if (!used[forder[j]] && s->files[forder[j]].op == a->op && rng_pct(r, 60)) {
                    a->files[a->nfiles++] = forder[j];
                    used[forder[j]] = 1;
                }
        if (rng_pct(r, 12)) { /* the same file twice: in this batch or in its own */
            int again = a->files[rng_below(r, (uint64_t)a->nfiles)];
            a->files[a->nfiles++] = again;
        }
        nbatches++;
        if (nbatches > 0 && rng_pct(r, 10)) {
            action *b = &s->acts[s->nacts++];
            *b = *a;
            b->nfiles = 1;
        }
        if (reimports > 0 && rng_pct(r, 40)) {
            /* re-import one operator's catalogue with changed geometry */
            int op = (int)rng_below(r, (uint64_t)s->nops);
            cat_file *cf = &s->cats[s->ncats];
            memset(cf, 0, sizeof *cf);
            cf->op = op;
            snprintf(cf->name, sizeof cf->name, "cells_%d_%zu.csv", op, s->ncats);
            cf->rows = xmalloc((g->ncells + 2) * sizeof *cf->rows);
            for (size_t k = 0; k < g->ncells; k++) {
                gcell *c = &g->cells[k];
                if (c->op != op || rng_pct(r, 30))
                    continue; /* upsert: cells not named keep their geometry */
                if (rng_pct(r, 70)) {
                    if (rng_pct(r, 50))
                        gen_point(g, &c->lat, &c->lon);
                    if (rng_pct(r, 60))
                        c->rc = gen_radius_cents(r);
                }
                cat_row_from(g, c, s->ops[op], &cf->rows[cf->n++]);
            }
            if (rng_pct(r, 50)) { /* a new cell no event uses */
                gcell nc;
                memset(&nc, 0, sizeof nc);
                snprintf(nc.id, sizeof nc.id, "NEW%zu", s->ncats);
                gen_point(g, &nc.lat, &nc.lon);
                nc.rc = gen_radius_cents(r);
                cat_row_from(g, &nc, s->ops[op], &cf->rows[cf->n++]);
            }
            file_style(r, &cf->crlf, &cf->bom, &cf->extra, cf->order, 5);
            s->ncats++;
            action *c2 = &s->acts[s->nacts++];
            memset(c2, 0, sizeof *c2);
            c2->kind = ACT_CELLS;
            c2->op = op;
            c2->cat = (int)s->ncats - 1;
            reimports--;
        }
    }
    free(forder);
    free(used);
    if (getenv("CT_CROSS_SIMPLE")) {
        /* for bisecting: the catalogues first, then one batch per operator */
        size_t n = 0;
        for (size_t a = 0; a < s->nacts; a++)
            if (s->acts[a].kind == ACT_CELLS)
                s->acts[n++] = s->acts[a];
        for (int op = 0; op < s->nops; op++) {
            action *a = &s->acts[n++];
            memset(a, 0, sizeof *a);
            a->kind = ACT_BATCH;
            a->op = op;
            for (size_t f = 0; f < s->nfiles; f++)
                if (s->files[f].op == op)
                    a->files[a->nfiles++] = (int)f;
        }
        s->nacts = n;
    }

    /* cases */
    s->ncases = (int)rng_range(r, 1, MAX_CASES);
    s->cases_via_file = rng_pct(r, 50);
    for (int c = 0; c < s->ncases; c++) {
        case_def *cd = &s->cases[c];
        memset(cd, 0, sizeof *cd);
        cd->alive = 1;
        snprintf(cd->id, sizeof cd->id, "K%d", c + 1);
        if (rng_pct(r, 90)) {
            int k = rng_pct(r, 60) ? (int)rng_below(r, (uint64_t)(nsubs < 3 ? nsubs : 3))
                                   : (int)rng_below(r, (uint64_t)nsubs);
            snprintf(cd->rc.msisdn, sizeof cd->rc.msisdn, "%s", nums[k]);
        } else {
            snprintf(cd->rc.msisdn, sizeof cd->rc.msisdn, "4915%07d",
                     (int)rng_below(r, 10000000));
        }
        fmt_msisdn(r, cd->rc.msisdn, cd->t_msisdn, sizeof cd->t_msisdn);
        int64_t onset = g->t0 + rng_range(r, -86400, g->span + 86400);
        if (rng_pct(r, 30))
            onset -= ((onset % 86400) + 86400) % 86400; /* a date */
        cd->rc.onset = onset;
        fmt_time(r, onset, 1, cd->t_onset, sizeof cd->t_onset);
        if (rng_pct(r, 60)) {
            int64_t iso = rng_pct(r, 12) ? onset - rng_range(r, 0, 2 * 86400)
                                         : onset + rng_range(r, 0, 5 * 86400);
            if (rng_pct(r, 30))
                iso -= ((iso % 86400) + 86400) % 86400;
            cd->rc.has_isolated = 1;
            cd->rc.isolated = iso;
            fmt_time(r, iso, 1, cd->t_isolated, sizeof cd->t_isolated);
        }
    }

    /* parameters: the defaults, then random ones */
    s->nparams = MAX_PARAMS;
    s->params[0] = (ref_params){3600, 2.0, 900, 172800, 864000};
    for (int i = 1; i < s->nparams; i++) {
        ref_params *p = &s->params[i];
        p->max_presence_s = rng_range(r, 60, 7200);
        int dk = (int)rng_below(r, 4);
        p->distance_m = dk == 0   ? (double)rng_range(r, 0, 5)
                        : dk == 1 ? (double)rng_range(r, 0, 999) / 2.0
                                  : (double)rng_range(r, 0, 500);
        p->min_exposure_s = rng_pct(r, 10) ? 0 : rng_range(r, 0, 3600);
        p->before_s = rng_pct(r, 10) ? 0 : rng_range(r, 0, 3 * 86400);
        p->after_s = rng_range(r, 0, 10 * 86400);
    }

    gen_areas(s, g);
    for (int k = 0; k < nsubs; k++)
        free(evs[k]);
    free(evs);
    free(nevs);
    free(nums);
    free(g->cells);
}

/* ---- writing the files ------------------------------------------------------ */

static void put_field(FILE *f, const char *s, int quote)
{
    if (quote && *s)
        fprintf(f, "\"%s\"", s);
    else
        fputs(s, f);
}

static int write_cat(const char *dir, const cat_file *cf)
{
    static const char *names[] = {"cell_id", "lat", "lon", "radius_m", "region"};
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, cf->name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    const char *eol = cf->crlf ? "\r\n" : "\n";
    if (cf->bom)
        fputs("\xEF\xBB\xBF", f);
    for (int i = 0; i < 5; i++)
        fprintf(f, "%s%s", i ? "," : "", names[cf->order[i]]);
    if (cf->extra)
        fputs(",comment", f);
    fputs(eol, f);
    for (size_t k = 0; k < cf->n; k++) {
        const cat_row *row = &cf->rows[k];
        const char *vals[] = {row->t_id, row->t_lat, row->t_lon, row->t_r, row->t_region};
        for (int i = 0; i < 5; i++) {
            if (i)
                fputc(',', f);
            put_field(f, vals[cf->order[i]], (int)((row->quote >> cf->order[i]) & 1));
        }
        if (cf->extra)
            fputs(",\"a, quoted \"\"note\"\"\"", f);
        fputs(eol, f);
    }
    return fclose(f);
}

static int write_feed(const char *dir, const scenario *s, const feed_file *ff)
{
    static const char *names[] = {"msisdn", "ts", "cell_id", "lat", "lon", "accuracy_m"};
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, ff->name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    const char *eol = ff->crlf ? "\r\n" : "\n";
    if (ff->bom)
        fputs("\xEF\xBB\xBF", f);
    for (int i = 0; i < 6; i++)
        fprintf(f, "%s%s", i ? "," : "", names[ff->order[i]]);
    if (ff->extra)
        fputs(",note", f);
    fputs(eol, f);
    for (size_t k = 0; k < ff->n; k++) {
        const ev_row *row = &s->rows[ff->rows[k]];
        if (!row->alive)
            continue;
        const char *vals[] = {row->t_msisdn, row->t_ts,  row->t_cell,
                              row->t_lat,    row->t_lon, row->t_acc};
        for (int i = 0; i < 6; i++) {
            if (i)
                fputc(',', f);
            put_field(f, vals[ff->order[i]], (int)((row->quote >> ff->order[i]) & 1));
        }
        if (ff->extra)
            fputs(k % 2 ? ",x" : ",", f);
        fputs(eol, f);
    }
    return fclose(f);
}

static int write_cases(const char *dir, const scenario *s)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/cases.csv", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs("case_id,msisdn,onset,isolated,region\n", f);
    for (int c = 0; c < s->ncases; c++) {
        const case_def *cd = &s->cases[c];
        if (!cd->alive)
            continue;
        fprintf(f, "%s,%s,%s,%s,%s\n", cd->id, cd->t_msisdn, cd->t_onset, cd->t_isolated,
                c % 2 ? "RU-MOW" : "");
    }
    return fclose(f);
}

static int write_all(const char *dir, const scenario *s)
{
    if (mkdir_p(dir) != 0)
        return -1;
    for (size_t i = 0; i < s->ncats; i++)
        if (write_cat(dir, &s->cats[i]) != 0)
            return -1;
    for (size_t i = 0; i < s->nfiles; i++)
        if (write_feed(dir, s, &s->files[i]) != 0)
            return -1;
    return write_cases(dir, s);
}

/* ---- running the engine ------------------------------------------------------ */

typedef struct trace_out {
    int rc; /* ct_code of ct_trace, or -1 when not run */
    char err[CT_ERR_MSG_MAX];
    char case_id[CT_ID_MAX + 1];
    ref_contact *items;
    size_t n;
} trace_out;

typedef struct area_out {
    int rc; /* ct_code of ct_area_query, or -1 when not run */
    char err[CT_ERR_MSG_MAX];
    ref_presence *items;
    size_t n;
} area_out;

typedef struct run_out {
    char setup_err[8192]; /* "" when every import/ingest went as expected */
    trace_out tr[MAX_CASES][MAX_PARAMS];
    area_out ar[MAX_AREAS];
    int hot_rc;           /* ct_hotspots_find over the whole span, SPEC 4's defaults */
    char hot_err[CT_ERR_MSG_MAX];
    double hot_total;     /* the sum of its rows' scores */
    size_t hot_rows;
} run_out;

static void run_out_free(run_out *o)
{
    for (int c = 0; c < MAX_CASES; c++)
        for (int p = 0; p < MAX_PARAMS; p++)
            free(o->tr[c][p].items);
    for (int k = 0; k < MAX_AREAS; k++)
        free(o->ar[k].items);
    memset(o, 0, sizeof *o);
}

static ct_params to_ct_params(const ref_params *p)
{
    ct_params q;
    q.max_presence_s = p->max_presence_s;
    q.contact_distance_m = p->distance_m;
    q.min_exposure_s = p->min_exposure_s;
    q.infectious_before_s = p->before_s;
    q.infectious_after_s = p->after_s;
    return q;
}

/* number of distinct events (SPEC 3.2) among the live rows */
static size_t unique_events(const scenario *s)
{
    ref_event *ev = xmalloc(s->nrows * sizeof *ev);
    size_t n = 0;
    for (size_t i = 0; i < s->nrows; i++)
        if (s->rows[i].alive)
            ev[n++] = s->rows[i].ev;
    qsort(ev, n, sizeof *ev, cmp_event_q);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || cmp_event(&ev[i - 1], &ev[i]) != 0)
            u++;
    free(ev);
    return u;
}

#define SETUP_FAIL(...)                                                                   \
    do {                                                                                  \
        if (!out->setup_err[0])                                                           \
            snprintf(out->setup_err, sizeof out->setup_err, __VA_ARGS__);                 \
    } while (0)

/* Writes the scenario under dir and runs it through the public API. Only
 * the traces (case c, params p) with want[c][p] set are run. */
static void run_areas(const scenario *s, ct_db *db, run_out *out)
{
    for (int k = 0; k < s->nareas; k++) {
        const ref_area_q *a = &s->areas[k];
        area_out *ao = &out->ar[k];
        ct_area q = {.lat = a->lat, .lon = a->lon, .radius_m = a->radius, .from = a->from,
                     .to = a->to, .min_stay_s = a->min_stay, .reveal = 1};
        ct_params p;
        ct_params_default(&p);
        p.max_presence_s = a->max_presence_s;
        ct_presences *res = NULL;
        ct_err err;
        memset(&err, 0, sizeof err);
        ao->rc = (int)ct_area_query(db, &q, &p, &res, &err);
        if (ao->rc != CT_OK) {
            snprintf(ao->err, sizeof ao->err, "%s", err.msg);
            continue;
        }
        ao->n = res->n;
        ao->items = xmalloc((res->n + 1) * sizeof *ao->items);
        for (size_t i = 0; i < res->n; i++) {
            ref_presence *it = &ao->items[i];
            memset(it, 0, sizeof *it);
            snprintf(it->msisdn, sizeof it->msisdn, "%s", res->items[i].msisdn);
            it->present_s = res->items[i].present_s;
            it->first = res->items[i].first_seen;
            it->last = res->items[i].last_seen;
            it->min_radius_m = res->items[i].min_radius_m;
            it->expected_inside_s = res->items[i].expected_inside_s;
        }
        ct_presences_free(res);
    }
}

/* Hotspots over the whole span (cases' windows may reach beyond it). */
static void hot_window(const scenario *s, int64_t *from, int64_t *to)
{
    *from = INT64_MAX;
    *to = INT64_MIN;
    for (size_t i = 0; i < s->nrows; i++) {
        if (s->rows[i].ev.ts < *from)
            *from = s->rows[i].ev.ts;
        if (s->rows[i].ev.ts + 86400 > *to)
            *to = s->rows[i].ev.ts + 86400;
    }
    if (*from > *to) {
        *from = 0;
        *to = 1;
    }
}

static void run_hotspots(const scenario *s, ct_db *db, run_out *out)
{
    ct_hotspot_query q;
    ct_hotspot_query_default(&q);
    q.limit = 0;
    hot_window(s, &q.from, &q.to);
    ct_hotspots *hs = NULL;
    ct_err err;
    memset(&err, 0, sizeof err);
    out->hot_rc = (int)ct_hotspots_find(db, &q, NULL, &hs, &err);
    if (out->hot_rc != CT_OK) {
        snprintf(out->hot_err, sizeof out->hot_err, "%s", err.msg);
        return;
    }
    out->hot_rows = hs->n;
    for (size_t i = 0; i < hs->n; i++)
        out->hot_total += hs->items[i].score;
    ct_hotspots_free(hs);
}

static void run_engine(const scenario *s, const char *dir, int want[MAX_CASES][MAX_PARAMS],
                       run_out *out)
{
    memset(out, 0, sizeof *out);
    for (int c = 0; c < MAX_CASES; c++)
        for (int p = 0; p < MAX_PARAMS; p++)
            out->tr[c][p].rc = -1;
    if (write_all(dir, s) != 0) {
        SETUP_FAIL("cannot write the files under %s", dir);
        return;
    }
    char data[1024], path[1200], rej[1200];
    snprintf(data, sizeof data, "%s/data", dir);
    ct_err err;
    memset(&err, 0, sizeof err);
    ct_code rc = ct_init(data, &err);
    if (rc != CT_OK) {
        SETUP_FAIL("ct_init: %s: %s", ct_code_name(rc), err.msg);
        return;
    }
    ct_db *db = NULL;
    rc = ct_open(data, 1, &db, &err);
    if (rc != CT_OK) {
        SETUP_FAIL("ct_open: %s: %s", ct_code_name(rc), err.msg);
        return;
    }
    ct_set_actor(db, "crosscheck", "randomized cross-check test");
    uint64_t stored = 0;
    for (size_t a = 0; a < s->nacts; a++) {
        const action *act = &s->acts[a];
        ct_import_summary sum;
        memset(&sum, 0, sizeof sum);
        ct_import_opts opts;
        memset(&opts, 0, sizeof opts);
        snprintf(rej, sizeof rej, "%s/rejects-%zu.csv", dir, a);
        opts.rejects_path = rej;
        if (act->kind == ACT_CELLS) {
            snprintf(path, sizeof path, "%s/%s", dir, s->cats[act->cat].name);
            rc = ct_cells_import(db, s->ops[act->op], path, &opts, &sum, &err);
            if (rc != CT_OK)
                SETUP_FAIL("ct_cells_import %s: %s: %s", s->cats[act->cat].name,
                           ct_code_name(rc), err.msg);
            else if (sum.rejected != 0)
                SETUP_FAIL("ct_cells_import %s: %" PRIu64 " rows rejected (see %s)",
                           s->cats[act->cat].name, sum.rejected, sum.rejects_path);
            continue;
        }
        ct_ingest *in = NULL;
        rc = ct_ingest_begin(db, s->ops[act->op], &opts, &in, &err);
        if (rc != CT_OK) {
            SETUP_FAIL("ct_ingest_begin %s: %s: %s", s->ops[act->op], ct_code_name(rc), err.msg);
            continue;
        }
        int ok = 1;
        for (int i = 0; i < act->nfiles && ok; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, s->files[act->files[i]].name);
            rc = ct_ingest_file(in, path, &err);
            if (rc != CT_OK) {
                SETUP_FAIL("ct_ingest_file %s: %s: %s", path, ct_code_name(rc), err.msg);
                ok = 0;
            }
        }
        if (!ok) {
            ct_ingest_abort(in);
            continue;
        }
        rc = ct_ingest_commit(in, &sum, &err);
        if (rc != CT_OK)
            SETUP_FAIL("ct_ingest_commit: %s: %s", ct_code_name(rc), err.msg);
        else if (sum.rejected != 0)
            SETUP_FAIL("ingest batch %zu (%s): %" PRIu64 " rows rejected (see %s)", a,
                       s->ops[act->op], sum.rejected, sum.rejects_path);
        stored += sum.stored;
    }

    if (s->cases_via_file) {
        snprintf(path, sizeof path, "%s/cases.csv", dir);
        ct_import_summary sum;
        memset(&sum, 0, sizeof sum);
        ct_import_opts opts;
        memset(&opts, 0, sizeof opts);
        snprintf(rej, sizeof rej, "%s/rejects-cases.csv", dir);
        opts.rejects_path = rej;
        rc = ct_cases_import(db, path, &opts, &sum, &err);
        if (rc != CT_OK)
            SETUP_FAIL("ct_cases_import: %s: %s", ct_code_name(rc), err.msg);
        else if (sum.rejected != 0)
            SETUP_FAIL("ct_cases_import: %" PRIu64 " rows rejected (see %s)", sum.rejected,
                       sum.rejects_path);
    } else {
        for (int c = 0; c < s->ncases; c++) {
            const case_def *cd = &s->cases[c];
            if (!cd->alive)
                continue;
            rc = ct_case_add(db, cd->id, cd->t_msisdn, cd->t_onset,
                             cd->rc.has_isolated ? cd->t_isolated : NULL,
                             c % 2 ? "RU-MOW" : NULL, &err);
            if (rc != CT_OK)
                SETUP_FAIL("ct_case_add %s (msisdn '%s', onset '%s', isolated '%s'): %s: %s",
                           cd->id, cd->t_msisdn, cd->t_onset, cd->t_isolated, ct_code_name(rc),
                           err.msg);
        }
    }

    size_t uniq = unique_events(s);
    if (stored != uniq)
        SETUP_FAIL("ingest summaries: %" PRIu64 " events stored in all, expected %zu distinct",
                   stored, uniq);
    ct_stats st;
    memset(&st, 0, sizeof st);
    rc = ct_stats_get(db, &st, &err);
    if (rc != CT_OK)
        SETUP_FAIL("ct_stats_get: %s: %s", ct_code_name(rc), err.msg);
    else if (st.events != uniq)
        SETUP_FAIL("ct_stats_get: %" PRIu64 " events, expected %zu distinct", st.events, uniq);

    for (int c = 0; c < s->ncases; c++) {
        if (!s->cases[c].alive)
            continue;
        for (int p = 0; p < s->nparams; p++) {
            if (!want[c][p])
                continue;
            trace_out *t = &out->tr[c][p];
            ct_params q = to_ct_params(&s->params[p]);
            if (p == 0) {
                ct_params d;
                ct_params_default(&d);
                if (memcmp(&d, &q, sizeof d) != 0)
                    SETUP_FAIL("ct_params_default differs from SPEC 4's defaults");
            }
            ct_contacts *res = NULL;
            memset(&err, 0, sizeof err);
            t->rc = (int)ct_params_check(&q, &err);
            if (t->rc == CT_OK)
                t->rc = (int)ct_trace(db, s->cases[c].id, &q, &res, &err);
            if (t->rc != CT_OK) {
                snprintf(t->err, sizeof t->err, "%s", err.msg);
                ct_contacts_free(res);
                continue;
            }
            snprintf(t->case_id, sizeof t->case_id, "%s", res->case_id);
            t->n = res->n;
            t->items = xmalloc(res->n * sizeof *t->items);
            for (size_t i = 0; i < res->n; i++) {
                memset(&t->items[i], 0, sizeof t->items[i]);
                snprintf(t->items[i].msisdn, sizeof t->items[i].msisdn, "%s",
                         res->items[i].msisdn);
                t->items[i].exposure_s = res->items[i].exposure_s;
                t->items[i].first = res->items[i].first_contact;
                t->items[i].last = res->items[i].last_contact;
                t->items[i].min_radius_m = res->items[i].min_radius_m;
            }
            ct_contacts_free(res);
        }
    }
    run_areas(s, db, out);
    run_hotspots(s, db, out);
    ct_close(db);
}

/* ---- the reference side and the comparison ------------------------------------ */

static void collect_events(const scenario *s, ref_event **ev, size_t *nev, ref_cell **cells,
                           size_t *ncells)
{
    *ev = xmalloc(s->nrows * sizeof **ev);
    *nev = 0;
    for (size_t i = 0; i < s->nrows; i++)
        if (s->rows[i].alive)
            (*ev)[(*nev)++] = s->rows[i].ev;
    /* catalogue rows in the order they are imported: the last one wins */
    size_t cap = 0;
    for (size_t i = 0; i < s->ncats; i++)
        cap += s->cats[i].n;
    *cells = xmalloc(cap * sizeof **cells);
    *ncells = 0;
    for (size_t a = 0; a < s->nacts; a++)
        if (s->acts[a].kind == ACT_CELLS) {
            const cat_file *cf = &s->cats[s->acts[a].cat];
            for (size_t k = 0; k < cf->n; k++)
                (*cells)[(*ncells)++] = cf->rows[k].cell;
        }
}

static int contact_eq(const ref_contact *a, const ref_contact *b)
{
    return strcmp(a->msisdn, b->msisdn) == 0 && a->exposure_s == b->exposure_s &&
           a->first == b->first && a->last == b->last &&
           memcmp(&a->min_radius_m, &b->min_radius_m, sizeof(double)) == 0;
}

static int lists_eq(const ref_contact *a, size_t na, const ref_contact *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (!contact_eq(&a[i], &b[i]))
            return 0;
    return 1;
}

static void print_list(sbuf *b, const char *title, const ref_contact *it, size_t n)
{
    sb_printf(b, "  %s (%zu):\n", title, n);
    for (size_t i = 0; i < n; i++) {
        char f[32], l[32];
        ref_format_time(it[i].first, f);
        ref_format_time(it[i].last, l);
        sb_printf(b, "    %-16s X=%-7" PRId64 " first=%s last=%s min_radius=%.17g\n",
                  it[i].msisdn, it[i].exposure_s, f, l, it[i].min_radius_m);
    }
}

static void describe_case(sbuf *b, const scenario *s, int c, int p)
{
    const case_def *cd = &s->cases[c];
    const ref_params *q = &s->params[p];
    char on[32], iso[32] = "-";
    ref_format_time(cd->rc.onset, on);
    if (cd->rc.has_isolated)
        ref_format_time(cd->rc.isolated, iso);
    sb_printf(b,
              "  case %s msisdn %s onset %s ('%s') isolated %s ('%s'), via %s\n"
              "  params: max_presence %" PRId64 " distance %.17g min_exposure %" PRId64
              " before %" PRId64 " after %" PRId64 "%s\n",
              cd->id, cd->rc.msisdn, on, cd->t_onset, iso, cd->t_isolated,
              s->cases_via_file ? "cases.csv" : "ct_case_add", q->max_presence_s, q->distance_m,
              q->min_exposure_s, q->before_s, q->after_s, p == 0 ? " (defaults)" : "");
}

typedef struct verdict {
    int setup_failed;
    int mismatch[MAX_CASES][MAX_PARAMS];
    int nmismatch;
    size_t compared, ambiguous, contacts;
    size_t areas, areas_ambiguous, presences;
    size_t hot_compared, hot_ambiguous, hot_nonzero;
} verdict;

static int presence_eq(const ref_presence *a, const ref_presence *b)
{
    double tol = 1e-6 * (double)a->present_s + 1e-6;
    return strcmp(a->msisdn, b->msisdn) == 0 && a->present_s == b->present_s &&
           a->first == b->first && a->last == b->last &&
           memcmp(&a->min_radius_m, &b->min_radius_m, sizeof(double)) == 0 &&
           fabs(a->expected_inside_s - b->expected_inside_s) <= tol;
}

static void print_presences(sbuf *b, const char *title, const ref_presence *it, size_t n)
{
    sb_printf(b, "  %s (%zu):\n", title, n);
    for (size_t i = 0; i < n; i++) {
        char f[32], l[32];
        ref_format_time(it[i].first, f);
        ref_format_time(it[i].last, l);
        sb_printf(b, "    %-16s present=%-7" PRId64 " first=%s last=%s min_radius=%.17g inside=%.9g\n",
                  it[i].msisdn, it[i].present_s, f, l, it[i].min_radius_m, it[i].expected_inside_s);
    }
}

/* The hotspots' total against ref_hotspots_total (the alive cases, as
 * registered: cases with the same number are one person). */
static void judge_hotspots(const scenario *s, const run_out *o, const ref_store *st, verdict *v,
                           sbuf *b)
{
    ref_case cases[MAX_CASES];
    size_t n = 0;
    for (int c = 0; c < s->ncases; c++)
        if (s->cases[c].alive)
            cases[n++] = s->cases[c].rc;
    int64_t from, to;
    hot_window(s, &from, &to);
    size_t ambiguous;
    double want = ref_hotspots_total(st, cases, n, &s->params[0], from, to,
                                     ct__near_probability, AMBIGUITY_M, &ambiguous);
    if (ambiguous) {
        v->hot_ambiguous++;
        return;
    }
    v->hot_compared++;
    v->hot_nonzero += want > 0;
    if (o->hot_rc != CT_OK || fabs(o->hot_total - want) > 1e-9 * want + 1e-9) {
        v->nmismatch++;
        sb_printf(b, "MISMATCH seed 0x%016" PRIx64 " hotspots: total %.17g in %zu rows, reference %.17g%s%s\n",
                  s->seed, o->hot_total, o->hot_rows, want,
                  o->hot_rc == CT_OK ? "" : "; ct_hotspots_find failed: ", o->hot_err);
    }
}

/* The area queries against ref_area. */
static void judge_areas(const scenario *s, const run_out *o, const ref_store *st, verdict *v,
                        sbuf *b)
{
    for (int k = 0; k < s->nareas; k++) {
        const ref_area_q *a = &s->areas[k];
        const area_out *ao = &o->ar[k];
        ref_area_result rr;
        ref_area(st, a, AMBIGUITY_M, &rr);
        if (rr.ambiguous > 0) {
            v->areas_ambiguous++;
            ref_area_result_free(&rr);
            continue;
        }
        v->areas++;
        v->presences += rr.n;
        int same = ao->rc == CT_OK && rr.n == ao->n;
        for (size_t i = 0; same && i < rr.n; i++)
            same = presence_eq(&rr.items[i], &ao->items[i]);
        if (!same) {
            v->nmismatch++;
            char f[32], t[32];
            ref_format_time(a->from, f);
            ref_format_time(a->to, t);
            sb_printf(b,
                      "MISMATCH seed 0x%016" PRIx64 " area %d: (%.17g, %.17g) r=%.17g %s..%s "
                      "min_stay %" PRId64 " max_presence %" PRId64 "%s%s\n",
                      s->seed, k, a->lat, a->lon, a->radius, f, t, a->min_stay, a->max_presence_s,
                      ao->rc == CT_OK ? "" : ": ct_area_query failed: ", ao->err);
            print_presences(b, "reference", rr.items, rr.n);
            print_presences(b, "engine", ao->items, ao->n);
        }
        ref_area_result_free(&rr);
    }
}

/* Compares a run with the reference; describes mismatches into b. */
static void judge(const scenario *s, const run_out *o, int want[MAX_CASES][MAX_PARAMS],
                  verdict *v, sbuf *b)
{
    memset(v, 0, sizeof *v);
    if (o->setup_err[0]) {
        v->setup_failed = 1;
        sb_printf(b, "  setup: %s\n", o->setup_err);
    }
    ref_event *ev;
    ref_cell *cells;
    size_t nev, ncells;
    collect_events(s, &ev, &nev, &cells, &ncells);
    ref_store st;
    if (ref_prepare(cells, ncells, ev, nev, &st) != 0) {
        fprintf(stderr, "crosscheck: the generator made an event of an unknown cell\n");
        abort();
    }
    for (int c = 0; c < s->ncases; c++) {
        if (!s->cases[c].alive)
            continue;
        for (int p = 0; p < s->nparams; p++) {
            if (!want[c][p])
                continue;
            ref_result rr;
            ref_trace(&st, &s->cases[c].rc, &s->params[p], AMBIGUITY_M, &rr);
            const trace_out *t = &o->tr[c][p];
            if (rr.ambiguous > 0) {
                v->ambiguous++;
                ref_result_free(&rr);
                continue;
            }
            v->compared++;
            v->contacts += rr.n;
            int bad = 0;
            if (t->rc != CT_OK) {
                bad = 1;
                sb_printf(b, "MISMATCH seed 0x%016" PRIx64 ": ct_trace failed: %s: %s\n",
                          s->seed, t->rc < 0 ? "not run" : ct_code_name((ct_code)t->rc),
                          t->err);
            } else if (strcmp(t->case_id, s->cases[c].id) != 0 ||
                       !lists_eq(rr.items, rr.n, t->items, t->n)) {
                bad = 1;
                sb_printf(b, "MISMATCH seed 0x%016" PRIx64 "%s:\n", s->seed,
                          strcmp(t->case_id, s->cases[c].id) ? " (case_id differs)" : "");
            }
            if (bad) {
                v->mismatch[c][p] = 1;
                v->nmismatch++;
                describe_case(b, s, c, p);
                print_list(b, "reference", rr.items, rr.n);
                print_list(b, "engine", t->items, t->n);
            }
            ref_result_free(&rr);
        }
    }
    judge_areas(s, o, &st, v, b);
    judge_hotspots(s, o, &st, v, b);
    ref_store_free(&st);
    free(ev);
    free(cells);
}

/* ---- reproductions ------------------------------------------------------------- */

static void write_steps(const char *dir, const scenario *s, int c, int p)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/steps.sh", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "#!/bin/sh\n# seed 0x%016" PRIx64 ": the API calls of this round as commands\n"
               "set -x\nCT=${CT:-celltrace}\nD=${D:-./data-repro}\n$CT --data $D init\n",
            s->seed);
    for (size_t a = 0; a < s->nacts; a++) {
        const action *act = &s->acts[a];
        if (act->kind == ACT_CELLS) {
            fprintf(f, "$CT --data $D cells import --operator %s %s\n", s->ops[act->op],
                    s->cats[act->cat].name);
        } else {
            fprintf(f, "$CT --data $D ingest --operator %s", s->ops[act->op]);
            for (int i = 0; i < act->nfiles; i++)
                fprintf(f, " %s", s->files[act->files[i]].name);
            fputs("\n", f);
        }
    }
    fprintf(f, "$CT --data $D cases import cases.csv\n");
    if (c >= 0) {
        const ref_params *q = &s->params[p];
        fprintf(f,
                "$CT --data $D trace %s --format csv --max-presence %" PRId64
                " --distance %.17g --min-exposure %" PRId64 " --infectious-before %" PRId64
                " --infectious-after %" PRId64 "\n",
                s->cases[c].id, q->max_presence_s, q->distance_m, q->min_exposure_s,
                q->before_s, q->after_s);
    }
    fclose(f);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

/* Runs one trace (c, p) of s; returns 1 when it still mismatches. */
static int still_fails(const scenario *s, int c, int p, const char *dir, int *runs)
{
    int want[MAX_CASES][MAX_PARAMS];
    memset(want, 0, sizeof want);
    want[c][p] = 1;
    run_out o;
    run_engine(s, dir, want, &o);
    verdict v;
    sbuf b = {0};
    judge(s, &o, want, &v, &b);
    free(b.p);
    run_out_free(&o);
    rm_rf(dir);
    (*runs)++;
    return v.mismatch[c][p] || v.setup_failed;
}

/* Shrinks a failing trace to few rows: first the subscribers named in the
 * difference, then greedily one row at a time. Writes the result. */
static void shrink(const scenario *orig, int c, int p, const ref_contact *ra, size_t na,
                   const ref_contact *ea, size_t ne, const char *outdir)
{
    scenario s;
    scenario_copy(&s, orig);
    char scratch[1200];
    snprintf(scratch, sizeof scratch, "%s.shrink", outdir);
    int runs = 0;
    for (int k = 0; k < s.ncases; k++)
        s.cases[k].alive = k == c;

    /* keep the case's events and those of the subscribers that differ */
    unsigned char *keep = xmalloc(s.nrows);
    for (size_t i = 0; i < s.nrows; i++) {
        const char *m = s.rows[i].ev.msisdn;
        int k = strcmp(m, s.cases[c].rc.msisdn) == 0;
        for (size_t j = 0; j < na && !k; j++) {
            int same = 0;
            for (size_t q = 0; q < ne; q++)
                same |= contact_eq(&ra[j], &ea[q]);
            k = !same && strcmp(ra[j].msisdn, m) == 0;
        }
        for (size_t j = 0; j < ne && !k; j++) {
            int same = 0;
            for (size_t q = 0; q < na; q++)
                same |= contact_eq(&ea[j], &ra[q]);
            k = !same && strcmp(ea[j].msisdn, m) == 0;
        }
        keep[i] = (unsigned char)k;
    }
    for (size_t i = 0; i < s.nrows; i++)
        s.rows[i].alive = s.rows[i].alive && keep[i];
    if (!still_fails(&s, c, p, scratch, &runs))
        for (size_t i = 0; i < s.nrows; i++)
            s.rows[i].alive = orig->rows[i].alive;
    free(keep);

    /* one row at a time, twice over */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < s.nrows && runs < 600; i++) {
            if (!s.rows[i].alive)
                continue;
            s.rows[i].alive = 0;
            if (!still_fails(&s, c, p, scratch, &runs))
                s.rows[i].alive = 1;
        }

    /* write the small scenario with its verdict */
    int want[MAX_CASES][MAX_PARAMS];
    memset(want, 0, sizeof want);
    want[c][p] = 1;
    run_out o;
    rm_rf(outdir);
    run_engine(&s, outdir, want, &o);
    verdict v;
    sbuf b = {0};
    judge(&s, &o, want, &v, &b);
    size_t alive = 0;
    for (size_t i = 0; i < s.nrows; i++)
        alive += s.rows[i].alive != 0;
    sb_printf(&b, "(shrunk in %d runs to %zu event rows; %s)\n", runs, alive,
              v.nmismatch || v.setup_failed ? "still mismatching" : "NO LONGER MISMATCHING");
    write_text(outdir, "report.txt", b.p ? b.p : "");
    write_steps(outdir, &s, c, p);
    fprintf(stderr, "crosscheck: shrunk reproduction in %s (%zu event rows):\n%s", outdir, alive,
            b.p ? b.p : "");
    free(b.p);
    run_out_free(&o);
    scenario_free(&s);
}

/* ---- one round ------------------------------------------------------------------ */

typedef struct totals {
    size_t rounds, compared, ambiguous, contacts, failures, shrunk;
    size_t areas, areas_ambiguous, presences;
    size_t hot_compared, hot_ambiguous, hot_nonzero;
} totals;

static void run_round(uint64_t seed, totals *tot)
{
    scenario s;
    gen_scenario(&s, seed);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/crosscheck-%016" PRIx64, tmp_root(), seed);
    rm_rf(dir);
    int want[MAX_CASES][MAX_PARAMS];
    for (int c = 0; c < MAX_CASES; c++)
        for (int p = 0; p < MAX_PARAMS; p++)
            want[c][p] = 1;
    run_out o;
    run_engine(&s, dir, want, &o);
    verdict v;
    sbuf b = {0};
    judge(&s, &o, want, &v, &b);
    tot->rounds++;
    tot->compared += v.compared;
    tot->ambiguous += v.ambiguous;
    tot->contacts += v.contacts;
    tot->areas += v.areas;
    tot->areas_ambiguous += v.areas_ambiguous;
    tot->presences += v.presences;
    tot->hot_compared += v.hot_compared;
    tot->hot_ambiguous += v.hot_ambiguous;
    tot->hot_nonzero += v.hot_nonzero;
    if (v.nmismatch || v.setup_failed) {
        tot->failures++;
        if (tot->failures <= 10)
            fprintf(stderr,
                "crosscheck: round with seed 0x%016" PRIx64 " FAILED (rerun: CT_CROSS_SEED=0x%016" PRIx64
                " CT_CROSS_ROUNDS=1); files kept in %s\n%s",
                seed, seed, dir, b.p ? b.p : "");
        write_text(dir, "report.txt", b.p ? b.p : "");
        write_steps(dir, &s, -1, 0);
        /* shrinking costs hundreds of runs: only for the first few failures */
        if (!getenv("CT_CROSS_NO_SHRINK") && v.nmismatch && !v.setup_failed &&
            tot->shrunk < 3) {
            tot->shrunk++;
            for (int c = 0; c < s.ncases; c++)
                for (int p = 0; p < s.nparams; p++)
                    if (v.mismatch[c][p]) {
                        ref_event *ev;
                        ref_cell *cells;
                        size_t nev, ncells;
                        collect_events(&s, &ev, &nev, &cells, &ncells);
                        ref_store st;
                        ref_prepare(cells, ncells, ev, nev, &st);
                        ref_result rr;
                        ref_trace(&st, &s.cases[c].rc, &s.params[p], AMBIGUITY_M, &rr);
                        char mdir[1040];
                        snprintf(mdir, sizeof mdir, "%s-min", dir);
                        shrink(&s, c, p, rr.items, rr.n, o.tr[c][p].items, o.tr[c][p].n, mdir);
                        ref_result_free(&rr);
                        ref_store_free(&st);
                        free(ev);
                        free(cells);
                        goto shrunk; /* one reproduction per round is enough */
                    }
        }
    shrunk:
        if (tot->failures > 20) /* enough examples kept */
            rm_rf(dir);
    } else if (!getenv("CT_CROSS_KEEP")) {
        rm_rf(dir);
    }
    free(b.p);
    run_out_free(&o);
    scenario_free(&s);
}

static void test_crosscheck_random(void **state)
{
    (void)state;
    if (!reference_ok)
        fail_msg("the reference did not reproduce the conformance set: nothing to compare with");
    uint64_t seed = env_u64("CT_CROSS_SEED", DEFAULT_SEED);
    uint64_t rounds = env_u64("CT_CROSS_ROUNDS", DEFAULT_ROUNDS);
    if (mkdir_p(tmp_root()) != 0)
        fail_msg("cannot create %s", tmp_root());
    totals tot;
    memset(&tot, 0, sizeof tot);
    time_t t0 = time(NULL);
    for (uint64_t i = 0; i < rounds; i++)
        run_round(seed + i, &tot);
    fprintf(stderr,
            "crosscheck: %zu rounds from seed 0x%016" PRIx64 " in %lds: %zu traces compared "
            "(%zu contacts), %zu skipped as ambiguous (a pair within 1 mm of the threshold), "
            "%zu rounds failed\n"
            "crosscheck: %zu area queries compared (%zu presences), %zu skipped as ambiguous\n"
            "crosscheck: %zu hotspot totals compared (%zu above 0), %zu skipped as ambiguous\n",
            tot.rounds, seed, (long)(time(NULL) - t0), tot.compared, tot.contacts, tot.ambiguous,
            tot.failures, tot.areas, tot.presences, tot.areas_ambiguous, tot.hot_compared,
            tot.hot_nonzero, tot.hot_ambiguous);
    if (tot.rounds >= 20 && tot.hot_nonzero == 0)
        fail_msg("no round had cases that met: the hotspot check proves nothing");
    if (tot.areas < tot.rounds)
        fail_msg("only %zu area queries compared in %zu rounds: the check would prove nothing",
                 tot.areas, tot.rounds);
    if (tot.failures)
        fail_msg("%zu of %zu rounds differ from the reference (first seed 0x%016" PRIx64 ")",
                 tot.failures, tot.rounds, seed);
}

/* ---- the reference against the conformance set ---------------------------------- */

static ref_cell mk_cell(const char *op, const char *id, int64_t lat_u, int64_t lon_u, double r)
{
    ref_cell c;
    memset(&c, 0, sizeof c);
    snprintf(c.op, sizeof c.op, "%s", op);
    snprintf(c.id, sizeof c.id, "%s", id);
    c.lat = (double)lat_u / 1e6;
    c.lon = (double)lon_u / 1e6;
    c.radius_m = r;
    return c;
}

static ref_event mk_cev(const char *op, const char *msisdn, int64_t ts, const char *cell)
{
    ref_event e;
    memset(&e, 0, sizeof e);
    snprintf(e.op, sizeof e.op, "%s", op);
    snprintf(e.msisdn, sizeof e.msisdn, "%s", msisdn);
    e.ts = ts;
    e.is_cell = 1;
    snprintf(e.cell, sizeof e.cell, "%s", cell);
    return e;
}

static ref_event mk_pev(const char *op, const char *msisdn, int64_t ts, int64_t lat_u,
                        int64_t lon_u, double acc)
{
    ref_event e;
    memset(&e, 0, sizeof e);
    snprintf(e.op, sizeof e.op, "%s", op);
    snprintf(e.msisdn, sizeof e.msisdn, "%s", msisdn);
    e.ts = ts;
    e.lat = (double)lat_u / 1e6;
    e.lon = (double)lon_u / 1e6;
    e.acc = acc;
    return e;
}

static const char expected_k1[] =
    "case_id,msisdn,exposure_s,first_contact,last_contact,min_radius_m\n"
    "K1,79990000002,3900,2020-03-24T08:05:00Z,2020-03-24T09:20:00Z,600\n"
    "K1,79990000004,2400,2020-03-24T10:00:00Z,2020-03-24T10:40:00Z,305\n"
    "K1,79990000006,2400,2020-03-24T08:00:00Z,2020-03-26T00:00:00Z,500\n"
    "K1,79990000005,1500,2020-03-23T12:30:00Z,2020-03-23T12:55:00Z,800\n";

static const char expected_k1_params[] =
    "case_id,msisdn,exposure_s,first_contact,last_contact,min_radius_m\n"
    "K1,79990000006,2400,2020-03-24T08:00:00Z,2020-03-26T00:00:00Z,500\n"
    "K1,79990000002,2100,2020-03-24T08:05:00Z,2020-03-24T08:50:00Z,600\n"
    "K1,79990000004,1800,2020-03-24T10:00:00Z,2020-03-24T10:30:00Z,305\n"
    "K1,79990000003,899,2020-03-24T08:10:00Z,2020-03-24T08:24:59Z,800\n";

/* The conformance file as text with CRLF turned into LF, or NULL. */
static char *read_conformance(const char *name)
{
    char dir[1024];
    const char *env = getenv("CT_CONFORMANCE_DIR");
    if (env && *env) {
        snprintf(dir, sizeof dir, "%s", env);
    } else {
        const char *me = __FILE__, *at = strstr(me, "tests/unit/");
        int root = at ? (int)(at - me) : 0;
        snprintf(dir, sizeof dir, "%.*s%s../shared/conformance/basic", root, me,
                 root ? "" : "./");
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    sbuf b = {0};
    int ch;
    while ((ch = fgetc(f)) != EOF)
        if (ch != '\r')
            sb_printf(&b, "%c", ch);
    fclose(f);
    return b.p ? b.p : NULL;
}

static void test_reference_conformance(void **state)
{
    (void)state;
    /* cells_250-01.csv, cells_250-02.csv */
    const ref_cell cells[] = {
        mk_cell("250-01", "A1", 55750000, 37620000, 300),
        mk_cell("250-01", "A2", 55760000, 37620000, 300),
        mk_cell("250-01", "A3", 55752000, 37620000, 200),
        mk_cell("250-02", "B1", 55750100, 37620100, 500),
    };
    /* events_250-01.csv (the four bad rows left out), events_250-02.csv */
    const char *o1 = "250-01", *o2 = "250-02";
    const ref_event ev[] = {
        mk_cev(o1, "79990000001", ref_epoch(2020, 3, 24, 8, 0, 0), "A1"),
        mk_cev(o1, "79990000001", ref_epoch(2020, 3, 24, 8, 30, 0), "A2"),
        mk_cev(o1, "79990000001", ref_epoch(2020, 3, 24, 10, 0, 0), "A1"),
        mk_cev(o1, "79990000001", 1585044000, "A1"),
        mk_cev(o1, "79990000001", ref_epoch(2020, 3, 25, 23, 50, 0), "A1"),
        mk_cev(o1, "79990000001", ref_epoch(2020, 3, 23, 14, 55, 0) - 3 * 3600, "A1"),
        mk_cev(o1, "79990000002", ref_epoch(2020, 3, 24, 8, 5, 0), "A1"),
        mk_cev(o1, "79990000002", ref_epoch(2020, 3, 24, 8, 20, 0), "A2"),
        mk_pev(o1, "79990000004", ref_epoch(2020, 3, 24, 10, 0, 0), 55750000, 37620000, 5),
        mk_cev(o1, "79990000004", ref_epoch(2020, 3, 24, 10, 0, 0), "A2"),
        mk_cev(o1, "79990000004", ref_epoch(2020, 3, 24, 10, 40, 0), "A2"),
        mk_cev(o1, "79990000005", ref_epoch(2020, 3, 23, 11, 0, 0), "A1"),
        mk_cev(o1, "79990000006", ref_epoch(2020, 3, 25, 23, 40, 0), "A3"),
        mk_cev(o1, "79990000006", ref_epoch(2020, 3, 24, 8, 0, 0), "A3"),
        mk_cev(o1, "79990000006", ref_epoch(2020, 3, 25, 23, 40, 0), "A3"),
        mk_cev(o2, "79990000003", ref_epoch(2020, 3, 24, 8, 10, 0), "B1"),
        mk_pev(o2, "79990000003", ref_epoch(2020, 3, 24, 8, 24, 59), 55800000, 37700000, 10),
        mk_cev(o2, "79990000005", ref_epoch(2020, 3, 23, 12, 30, 0), "B1"),
    };
    ref_case k1;
    memset(&k1, 0, sizeof k1);
    snprintf(k1.msisdn, sizeof k1.msisdn, "79990000001");
    k1.onset = ref_epoch(2020, 3, 25, 12, 0, 0);
    k1.has_isolated = 1;
    k1.isolated = ref_epoch(2020, 3, 26, 0, 0, 0);

    ref_store st;
    assert_int_equal(ref_prepare(cells, sizeof cells / sizeof cells[0], ev,
                                 sizeof ev / sizeof ev[0], &st),
                     0);
    assert_int_equal(st.n, 16); /* two duplicates removed */

    const ref_params defaults = {3600, 2.0, 900, 172800, 864000};
    const ref_params custom = {1800, 500.0, 600, 172800, 864000};
    const struct {
        const ref_params *p;
        const char *embedded, *file;
    } runs[] = {{&defaults, expected_k1, "expected_K1.csv"},
                {&custom, expected_k1_params, "expected_K1_params.csv"}};
    for (size_t i = 0; i < 2; i++) {
        ref_result rr;
        assert_int_equal(ref_trace(&st, &k1, runs[i].p, AMBIGUITY_M, &rr), 0);
        assert_int_equal(rr.ambiguous, 0);
        char *csv = ref_result_csv("K1", &rr);
        assert_non_null(csv);
        assert_string_equal(csv, runs[i].embedded);
        char *file = read_conformance(runs[i].file);
        if (file)
            assert_string_equal(csv, file);
        else
            fprintf(stderr, "crosscheck: %s not found beside the checkout (set "
                            "CT_CONFORMANCE_DIR); compared with the embedded copy only\n",
                    runs[i].file);
        free(file);
        free(csv);
        ref_result_free(&rr);
    }
    ref_store_free(&st);
    reference_ok = 1;
}

/* Small checks of the reference's own building blocks. */
static void test_reference_basics(void **state)
{
    (void)state;
    /* the two same-second events of one phone: the first has an empty P */
    const ref_cell cells[] = {mk_cell("o", "C", 0, 0, 10)};
    const ref_event ev[] = {
        mk_cev("o", "1111111", 1000, "C"),
        mk_pev("o", "1111111", 1000, 0, 0, 1),
        mk_pev("o", "1111111", 1000, 0, 0, 1), /* duplicate */
        mk_pev("p", "1111111", 1000, 0, 0, 1), /* another operator: not a duplicate */
        mk_cev("o", "2222222", 1000, "C"),
    };
    ref_store st;
    assert_int_equal(ref_prepare(cells, 1, ev, 5, &st), 0);
    assert_int_equal(st.n, 4);
    assert_int_equal(st.items[0].ev.is_cell, 1);
    assert_int_equal(st.items[0].p_next, 1000);
    ref_case c;
    memset(&c, 0, sizeof c);
    snprintf(c.msisdn, sizeof c.msisdn, "2222222");
    c.onset = 1000;
    const ref_params p = {600, 0, 0, 100, 100};
    ref_result rr;
    assert_int_equal(ref_trace(&st, &c, &p, AMBIGUITY_M, &rr), 0);
    assert_int_equal(rr.n, 1);
    assert_int_equal(rr.items[0].exposure_s, 100); /* W = [900, 1100) */
    assert_true(rr.items[0].min_radius_m == 11.0); /* the point's 1 m, not the cell's 10 */
    ref_result_free(&rr);
    ref_store_free(&st);

    char buf[32];
    ref_format_radius(305, buf);
    assert_string_equal(buf, "305");
    ref_format_radius(422.7, buf);
    assert_string_equal(buf, "422.7");
    ref_format_time(1585044000, buf);
    assert_string_equal(buf, "2020-03-24T10:00:00Z");
    /* one degree of latitude */
    double d = ref_distance_m(0, 0, 1, 0);
    assert_true(fabs(d - REF_EARTH_RADIUS_M * M_PI / 180.0) < 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_basics),
        cmocka_unit_test(test_reference_conformance),
        cmocka_unit_test(test_crosscheck_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
