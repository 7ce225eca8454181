/*
 * test_simulate.c — the city simulator: reproducible, honest about its
 * dirty rows, and right about the truth.
 *
 * - Same parameters give the same bytes in every file; another seed gives
 *   other bytes; compressed feeds decompress to the plain ones.
 * - Every row of every feed is checked here, independently of the
 *   library, by the rules of SPEC 2 and 3.2 (numbers, times, cells known
 *   to the operator's catalogue, coordinate ranges, required fields): the
 *   rows rejected, by kind, equal what the manifest says was injected,
 *   and the rows accepted hold exactly the announced duplicates.
 * - truth.csv equals a brute force over all pairs of people at every
 *   sampled minute of a small city (sim_sched positions, same-space rule).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include <cmocka.h>

#include "celltrace_sim.h"
#include "geo.h"
#include "sim_sched.h"
#include "sim_world.h"

/* ---- helpers: temp dirs and files ------------------------------------------ */

static char *tmp_dir(const char *tag)
{
    const char *base = getenv("CT_TEST_TMP");
    char tmpl[1024];
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(tmpl, sizeof tmpl, "%s/sim-%s-XXXXXX", base, tag);
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[2048];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf = realloc(buf, n + 1);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Sorted names in a directory (NULL-terminated array; free with free_names). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_dir(const char *path, size_t *n)
{
    DIR *d = opendir(path);
    size_t cap = 16;
    char **v = malloc(cap * sizeof *v);
    *n = 0;
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (*n + 1 >= cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(v, *n, sizeof *v, cmp_str);
    v[*n] = NULL;
    return v;
}

static void free_names(char **v)
{
    for (size_t i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

/* 1 when both trees hold the same names with the same bytes. */
static int same_tree(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) || stat(b, &sb))
        return 0;
    if (S_ISDIR(sa.st_mode) != S_ISDIR(sb.st_mode))
        return 0;
    if (!S_ISDIR(sa.st_mode)) {
        size_t la, lb;
        char *x = slurp(a, &la), *y = slurp(b, &lb);
        int same = x && y && la == lb && !memcmp(x, y, la);
        free(x);
        free(y);
        return same;
    }
    size_t na, nb;
    char **va = list_dir(a, &na), **vb = list_dir(b, &nb);
    int same = na == nb;
    for (size_t i = 0; same && i < na; i++) {
        char pa[2048], pb[2048];
        snprintf(pa, sizeof pa, "%s/%s", a, va[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, vb[i]);
        same = !strcmp(va[i], vb[i]) && same_tree(pa, pb);
    }
    free_names(va);
    free_names(vb);
    return same;
}

static void small_params(ct_sim_params *p, const char *dir)
{
    ct_sim_params_default(p);
    p->out_dir = dir;
    p->subscribers = 400;
    p->days = 3;
    p->cases = 4;
    p->dirty_rate = 0.02;
    p->duplicate_rate = 0.02;
    p->late_rate = 0.05;
    p->roaming_rate = 0.05;
    p->precise_share = 0.3;
}

static void simulate_ok(const ct_sim_params *p, ct_sim_result *res)
{
    ct_err err;
    memset(&err, 0, sizeof err);
    ct_code rc = ct_simulate(p, NULL, NULL, res, &err);
    if (rc)
        fail_msg("ct_simulate: %s", err.msg);
}

/* ---- determinism ------------------------------------------------------------ */

static void test_same_seed_same_bytes(void **state)
{
    (void)state;
    char *a = tmp_dir("a"), *b = tmp_dir("b"), *c = tmp_dir("c");
    ct_sim_params p;
    ct_sim_result ra, rb, rc;
    small_params(&p, a);
    simulate_ok(&p, &ra);
    p.out_dir = b;
    simulate_ok(&p, &rb);
    assert_true(same_tree(a, b));
    assert_int_equal(ra.events, rb.events);
    p.out_dir = c;
    p.seed = 2;
    simulate_ok(&p, &rc);
    assert_false(same_tree(a, c));
    char pa[2048], pc[2048];
    snprintf(pa, sizeof pa, "%s/truth.csv", a);
    snprintf(pc, sizeof pc, "%s/truth.csv", c);
    assert_false(same_tree(pa, pc));
    rm_rf(a);
    rm_rf(b);
    rm_rf(c);
    free(a);
    free(b);
    free(c);
}

static char *gunzip_file(const char *path, size_t *len)
{
    gzFile g = gzopen(path, "rb");
    assert_non_null(g);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int k;
    while ((k = gzread(g, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)k;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    gzclose(g);
    *len = n;
    return buf;
}

static char *unzstd_file(const char *path, size_t *len)
{
    size_t zl;
    char *z = slurp(path, &zl);
    assert_non_null(z);
    ZSTD_DStream *ds = ZSTD_createDStream();
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ZSTD_inBuffer in = {z, zl, 0};
    while (in.pos < in.size) {
        if (n == cap)
            buf = realloc(buf, cap *= 2);
        ZSTD_outBuffer out = {buf + n, cap - n, 0};
        size_t r = ZSTD_decompressStream(ds, &out, &in);
        assert_false(ZSTD_isError(r));
        n += out.pos;
    }
    ZSTD_freeDStream(ds);
    free(z);
    *len = n;
    return buf;
}

static void test_compressed_feeds(void **state)
{
    (void)state;
    char *plain = tmp_dir("plain"), *gz = tmp_dir("gz"), *zst = tmp_dir("zst");
    ct_sim_params p;
    ct_sim_result r;
    small_params(&p, plain);
    p.days = 1;
    simulate_ok(&p, &r);
    p.out_dir = gz;
    p.compress = CT_SIM_COMPRESS_GZ;
    simulate_ok(&p, &r);
    p.out_dir = zst;
    p.compress = CT_SIM_COMPRESS_ZST;
    simulate_ok(&p, &r);
    const char *name = "250-02/events/250-02_20200330_06.csv";
    char path[2048];
    size_t lp, lg, lz;
    snprintf(path, sizeof path, "%s/%s", plain, name);
    char *x = slurp(path, &lp);
    snprintf(path, sizeof path, "%s/%s.gz", gz, name);
    char *y = gunzip_file(path, &lg);
    snprintf(path, sizeof path, "%s/%s.zst", zst, name);
    char *z = unzstd_file(path, &lz);
    assert_non_null(x);
    assert_true(lp > 100);
    assert_true(lp == lg && !memcmp(x, y, lp));
    assert_true(lp == lz && !memcmp(x, z, lp));
    free(x);
    free(y);
    free(z);
    rm_rf(plain);
    rm_rf(gz);
    rm_rf(zst);
    free(plain);
    free(gz);
    free(zst);
}

/* ---- an independent strict reader of SPEC 2 / 3.2 --------------------------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* SPEC 2 time (no fractions are written by the simulator). */
static int parse_time(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 1;
    if (n == 0)
        return -1;
    if (strspn(s, "0123456789") == n) {
        if (n > 12)
            return -1;
        *out = strtoll(s, NULL, 10);
        return 0;
    }
    if (n < 19 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
        return -1;
    if (s[10] == ' ' && n != 19)
        return -1;
    if (s[10] == 'T') {
        if (n == 20 && s[19] == 'Z')
            ;
        else if (n == 25 && (s[19] == '+' || s[19] == '-') && !digits(s + 20, 2, &oh) &&
                 s[22] == ':' && !digits(s + 23, 2, &om))
            sign = s[19] == '+' ? 1 : -1;
        else
            return -1;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 59 || oh > 23 || om > 59)
        return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
           sign * (oh * 3600 + om * 60);
    return 0;
}

static int parse_msisdn(const char *s, uint64_t *out)
{
    char d[32];
    size_t n = 0;
    for (; *s; s++) {
        if (strchr("+ -.()", *s))
            continue;
        if (*s < '0' || *s > '9' || n >= 16)
            return -1;
        d[n++] = *s;
    }
    if (n < 7 || n > 15 || d[0] == '0')
        return -1;
    d[n] = '\0';
    *out = strtoull(d, NULL, 10);
    return 0;
}

static int parse_num(const char *s, double *out)
{
    char *end;
    if (!*s)
        return -1;
    *out = strtod(s, &end);
    return *end ? -1 : 0;
}

/* ---- checking a whole output directory ------------------------------------------ */

typedef struct idset { /* cell ids of one operator, or keys of events */
    uint64_t *v;
    size_t cap, n;
} idset;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* Inserts; returns 1 when already present. Keys are 64-bit hashes: a
 * false "present" would need a collision among a few thousand keys. */
static int idset_add(idset *s, uint64_t k)
{
    if ((s->n + 1) * 2 > s->cap) {
        idset t = {calloc(s->cap ? s->cap * 2 : 1024, 8), s->cap ? s->cap * 2 : 1024, 0};
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i])
                idset_add(&t, s->v[i]);
        free(s->v);
        *s = t;
    }
    size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull >> 20) & (s->cap - 1);
    while (s->v[i] && s->v[i] != k)
        i = (i + 1) & (s->cap - 1);
    if (s->v[i])
        return 1;
    s->v[i] = k;
    s->n++;
    return 0;
}

static int idset_has(const idset *s, uint64_t k)
{
    if (!s->cap)
        return 0;
    size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull >> 20) & (s->cap - 1);
    while (s->v[i] && s->v[i] != k)
        i = (i + 1) & (s->cap - 1);
    return s->v[i] == k;
}

#define MAXF 16

/* Splits a line (no quotes are written by the simulator) in place. */
static int split(char *line, char **f)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    int k = 0;
    f[k++] = line;
    for (char *p = line; *p; p++)
        if (*p == ',' && k < MAXF) {
            *p = '\0';
            f[k++] = p + 1;
        }
    return k;
}

static int column(char **head, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(head[i], name))
            return i;
    return -1;
}

static void load_cells(const char *dir, const char *op, idset *cells)
{
    char path[2048], line[1024], *f[MAXF], *h[MAXF];
    snprintf(path, sizeof path, "%s/%s/cells.csv", dir, op);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof line, fp));
    char head[1024];
    strcpy(head, line);
    int nh = split(head, h), ci = column(h, nh, "cell_id"), ri = column(h, nh, "radius_m");
    assert_true(ci >= 0 && ri >= 0 && column(h, nh, "lat") >= 0 && column(h, nh, "region") >= 0);
    while (fgets(line, sizeof line, fp)) {
        int n = split(line, f);
        assert_true(ci < n && ri < n);
        double r = 0;
        assert_int_equal(parse_num(f[ri], &r), 0);
        assert_true(r > 0 && r <= 100000);
        assert_int_equal(idset_add(cells, fnv(f[ci])), 0);
    }
    fclose(fp);
}

typedef struct tally {
    uint64_t bad[CT_SIM_BAD_KINDS], good, dups, points;
} tally;

static const char *field(char **f, int n, int i)
{
    return i >= 0 && i < n ? f[i] : "";
}

/* Classifies one row: -1 good, else a ct_sim_bad kind; *key is the
 * SPEC 3.2 identity of a good row. */
static int classify(char **f, int n, const int *col, const idset *cells, uint64_t *key,
                    int *point)
{
    const char *num = field(f, n, col[0]), *ts = field(f, n, col[1]);
    const char *cell = field(f, n, col[2]), *lat = field(f, n, col[3]);
    const char *lon = field(f, n, col[4]), *acc = field(f, n, col[5]);
    uint64_t msisdn;
    int64_t t;
    double la = 0, lo = 0, ac = 50;
    if (!*num || !*ts)
        return CT_SIM_BAD_MISSING;
    if (parse_msisdn(num, &msisdn))
        return CT_SIM_BAD_MSISDN;
    if (parse_time(ts, &t))
        return CT_SIM_BAD_TIME;
    char k[256];
    *point = !*cell;
    if (*cell) {
        if (!idset_has(cells, fnv(cell)))
            return CT_SIM_BAD_CELL;
        snprintf(k, sizeof k, "%llu|%lld|c|%s", (unsigned long long)msisdn, (long long)t, cell);
    } else {
        if (!*lat || !*lon)
            return CT_SIM_BAD_MISSING;
        if (parse_num(lat, &la) || parse_num(lon, &lo) || (*acc && parse_num(acc, &ac)))
            return CT_SIM_BAD_COORD;
        if (la < -90 || la > 90 || lo < -180 || lo > 180 || !(ac > 0 && ac <= 100000))
            return CT_SIM_BAD_COORD;
        snprintf(k, sizeof k, "%llu|%lld|p|%.9f|%.9f|%.3f", (unsigned long long)msisdn,
                 (long long)t, la, lo, ac);
    }
    *key = fnv(k);
    return -1;
}

static void check_feed(const char *path, const idset *cells, idset *seen, tally *t)
{
    static const char *const NAMES[6] = {"msisdn", "ts", "cell_id", "lat", "lon", "accuracy_m"};
    char line[4096], head[4096], *f[MAXF], *h[MAXF];
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(head, sizeof head, fp));
    int nh = split(head, h), col[6];
    for (int i = 0; i < 6; i++) {
        col[i] = column(h, nh, NAMES[i]);
        assert_true(col[i] >= 0);
    }
    while (fgets(line, sizeof line, fp)) {
        int n = split(line, f), point = 0;
        uint64_t key = 0;
        int kind = classify(f, n, col, cells, &key, &point);
        if (kind >= 0) {
            t->bad[kind]++;
            continue;
        }
        t->good++;
        t->points += (uint64_t)point;
        t->dups += (uint64_t)idset_add(seen, key);
    }
    fclose(fp);
}

static void check_operator(const char *dir, const ct_sim_op_counts *c)
{
    idset cells = {0}, seen = {0};
    tally t;
    memset(&t, 0, sizeof t);
    load_cells(dir, c->id, &cells);
    assert_int_equal(cells.n, c->cells);
    char edir[2048];
    snprintf(edir, sizeof edir, "%s/%s/events", dir, c->id);
    size_t n;
    char **names = list_dir(edir, &n);
    assert_int_equal(n, c->files);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", edir, names[i]);
        check_feed(path, &cells, &seen, &t);
    }
    free_names(names);
    for (int k = 0; k < CT_SIM_BAD_KINDS; k++) {
        assert_int_equal(t.bad[k], c->bad[k]);
        assert_true(c->bad[k] > 0); /* every kind is exercised */
    }
    /* good rows = distinct events + announced duplicates, and the
     * duplicates found by SPEC 3.2 identity are exactly those */
    assert_int_equal(t.good, c->events + c->duplicates);
    assert_int_equal(t.dups, c->duplicates);
    assert_true(c->point_events > 0 && t.points >= c->point_events);
    free(cells.v);
    free(seen.v);
}

/* The manifest's totals say the same as the result. */
static void check_manifest(const char *dir, const ct_sim_result *r)
{
    char path[2048], want[256];
    size_t len;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *m = slurp(path, &len);
    assert_non_null(m);
    snprintf(want, sizeof want, "\"bad_rows_total\": %llu,", (unsigned long long)r->bad_total);
    assert_non_null(strstr(m, want));
    for (unsigned op = 0; op < r->operators; op++) {
        const ct_sim_op_counts *c = &r->op[op];
        snprintf(want, sizeof want,
                 "\"bad_rows\": {\"bad_msisdn\": %llu, \"bad_time\": %llu, \"unknown_cell\": %llu, "
                 "\"coordinates_out_of_range\": %llu, \"missing_field\": %llu}",
                 (unsigned long long)c->bad[0], (unsigned long long)c->bad[1],
                 (unsigned long long)c->bad[2], (unsigned long long)c->bad[3],
                 (unsigned long long)c->bad[4]);
        assert_non_null(strstr(m, want));
    }
    free(m);
}

static void test_injected_rows_are_exact(void **state)
{
    (void)state;
    char *dir = tmp_dir("dirty");
    ct_sim_params p;
    ct_sim_result r;
    small_params(&p, dir);
    p.subscribers = 1500;
    p.duplicate_rate = 0.01;
    simulate_ok(&p, &r);
    assert_int_equal(r.operators, 3);
    check_manifest(dir, &r);
    for (unsigned op = 0; op < r.operators; op++)
        check_operator(dir, &r.op[op]);
    rm_rf(dir);
    free(dir);
}

static void test_no_dirt_when_disabled(void **state)
{
    (void)state;
    char *dir = tmp_dir("clean");
    ct_sim_params p;
    ct_sim_result r;
    small_params(&p, dir);
    p.days = 1;
    p.dirty_rate = 0;
    simulate_ok(&p, &r);
    assert_int_equal(r.bad_total, 0);
    assert_int_equal(r.rows, r.events + r.duplicates);
    rm_rf(dir);
    free(dir);
}

/* ---- truth against brute force --------------------------------------------------- */

typedef struct truth_row {
    char case_id[32];
    uint64_t msisdn;
    unsigned minutes;
} truth_row;

static size_t read_truth(const char *dir, truth_row *rows, size_t cap)
{
    char path[2048], line[256];
    snprintf(path, sizeof path, "%s/truth.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "case_id,msisdn,minutes\n");
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        assert_true(n < cap);
        unsigned long long m;
        assert_int_equal(sscanf(line, "%31[^,],%llu,%u", rows[n].case_id, &m, &rows[n].minutes), 3);
        rows[n++].msisdn = m;
    }
    fclose(f);
    return n;
}

/* Person i's position at t from that day's segments. */
static void pos_at(const sim_world *w, uint32_t i, const sim_seg *s, size_t n, int64_t t,
                   sim_pos *out)
{
    for (size_t k = 0; k < n; k++)
        if (t >= s[k].t0 && t < s[k].t1) {
            ct__sim_seg_pos(w, i, &s[k], t, out); /* a car's space is its driver's */
            return;
        }
    fail_msg("no segment of person %u at %lld", i, (long long)t);
}

/* mins[c * n + x]: minutes near; by_space[type]: near minutes by space type. */
static void brute_force(const ct_sim_params *p, uint32_t *mins, uint64_t *by_space)
{
    sim_world *w = ct__sim_world_build(p);
    size_t n = w->n;
    sim_seg *segs = malloc(n * SIM_SEGS_MAX * sizeof *segs);
    size_t *cnt = malloc(n * sizeof *cnt);
    sim_pos *pos = malloc(n * sizeof *pos);
    memset(mins, 0, w->ncases * n * sizeof *mins);
    for (unsigned day = 0; day < p->days; day++) {
        for (size_t i = 0; i < n; i++)
            cnt[i] = ct__sim_sched_day(w, (uint32_t)i, day, segs + i * SIM_SEGS_MAX);
        int64_t day0 = p->start + (int64_t)day * 86400;
        for (int64_t t = day0; t < day0 + 86400; t += 60) {
            for (size_t i = 0; i < n; i++)
                pos_at(w, (uint32_t)i, segs + i * SIM_SEGS_MAX, cnt[i], t, &pos[i]);
            for (size_t c = 0; c < w->ncases; c++) {
                const sim_case *k = &w->cases[c];
                if (t < k->w0 || t >= k->w1)
                    continue;
                const sim_pos *a = &pos[k->person];
                for (size_t x = 0; x < n; x++)
                    if (x != k->person && pos[x].space == a->space &&
                        hypot(pos[x].lx - a->lx, pos[x].ly - a->ly) <= p->contact_distance_m) {
                        mins[c * n + x]++;
                        by_space[SIM_SPACE_TYPE(a->space)]++;
                    }
            }
        }
    }
    free(segs);
    free(cnt);
    free(pos);
    ct__sim_world_free(w);
}

static void check_truth(ct_sim_params *p, uint64_t *by_space)
{
    ct_sim_result r;
    simulate_ok(p, &r);
    size_t cap = 100000, n = p->subscribers;
    truth_row *rows = malloc(cap * sizeof *rows);
    size_t nrows = read_truth(p->out_dir, rows, cap);
    assert_int_equal(nrows, r.truth_pairs);
    assert_true(nrows > 0);
    uint32_t *mins = malloc(p->cases * n * sizeof *mins);
    brute_force(p, mins, by_space);
    sim_world *w = ct__sim_world_build(p);
    size_t expected = 0, k = 0;
    for (size_t c = 0; c < w->ncases; c++)
        for (size_t x = 0; x < n; x++)
            if ((int64_t)mins[c * n + x] * 60 >= p->min_exposure_s && mins[c * n + x] > 0)
                expected++;
    assert_int_equal(nrows, expected);
    for (k = 0; k < nrows; k++) {
        size_t c = 0, x = 0;
        while (c < w->ncases && strcmp(w->cases[c].id, rows[k].case_id))
            c++;
        while (x < n && w->people[x].msisdn != rows[k].msisdn)
            x++;
        assert_true(c < w->ncases && x < n);
        assert_int_equal(rows[k].minutes, mins[c * n + x]);
        if (k > 0 && !strcmp(rows[k - 1].case_id, rows[k].case_id))
            assert_true(rows[k - 1].minutes >= rows[k].minutes);
    }
    ct__sim_world_free(w);
    free(mins);
    free(rows);
}

static void test_truth_dense_city(void **state)
{
    (void)state;
    char *dir = tmp_dir("truth1");
    ct_sim_params p;
    small_params(&p, dir);
    p.subscribers = 250;
    p.cases = 8;
    p.days = 4;
    p.start = 1585958400; /* Saturday 2020-04-04: weekends and weekdays */
    p.dirty_rate = 0;
    uint64_t by_space[8] = {0};
    check_truth(&p, by_space);
    assert_true(by_space[SIM_SP_HOME] > 0 && by_space[SIM_SP_VENUE] > 0);
    rm_rf(dir);
    free(dir);
}

static void test_truth_with_metro(void **state)
{
    (void)state;
    char *dir = tmp_dir("truth2");
    ct_sim_params p;
    small_params(&p, dir);
    p.subscribers = 3000;
    p.area_km2 = 40; /* commutes long enough for cars and the metro */
    p.cases = 300;   /* enough cases to share platforms and carriages */
    p.days = 1;
    p.contact_distance_m = 3;
    p.min_exposure_s = 60; /* every pair ever near is in truth.csv */
    uint64_t by_space[8] = {0};
    check_truth(&p, by_space);
    /* every kind of shared space was exercised */
    assert_true(by_space[SIM_SP_STREET] > 0 && by_space[SIM_SP_HOME] > 0);
    assert_true(by_space[SIM_SP_VENUE] > 0 && by_space[SIM_SP_PLATFORM] > 0);
    assert_true(by_space[SIM_SP_TRAIN] > 0);
    rm_rf(dir);
    free(dir);
}

/* ---- parameters ------------------------------------------------------------------ */

/* ---- venues and visits: the truth of an area query ---------------------------- */

typedef struct venue_row {
    char type[16];
    double lat, lon, radius;
} venue_row;

static venue_row *read_venues(const char *dir, size_t *n)
{
    char path[1200], line[512];
    snprintf(path, sizeof path, "%s/venues.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "venue_id,type,lat,lon,radius_m,district\n");
    venue_row *v = NULL;
    size_t k = 0;
    while (fgets(line, sizeof line, f)) {
        v = realloc(v, (k + 1) * sizeof *v);
        unsigned id, district;
        assert_int_equal(sscanf(line, "V%u,%15[^,],%lf,%lf,%lf,%u", &id, v[k].type, &v[k].lat,
                                &v[k].lon, &v[k].radius, &district), 6);
        assert_int_equal(id, k); /* V<index>, in order */
        k++;
    }
    fclose(f);
    *n = k;
    return v;
}

static size_t count_lines(const char *dir, const char *name)
{
    char path[1200], line[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = 0;
    while (fgets(line, sizeof line, f))
        n++;
    fclose(f);
    return n;
}

static int cmp_num16(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Every minute of every venue visit lies in the venue's disk; visits.csv
 * has one row per cafe visit; the busiest evening's list is exactly who
 * stayed 30 minutes in that cafe, recomputed from the segments. */
static void test_venue_truth(void **state)
{
    (void)state;
    char *dir = tmp_dir("venues");
    ct_sim_params p;
    small_params(&p, dir);
    ct_sim_result res;
    simulate_ok(&p, &res);
    size_t nv;
    venue_row *v = read_venues(dir, &nv);
    sim_world *w = ct__sim_world_build(&p);
    assert_int_equal(nv, w->nvenues);
    sim_seg segs[SIM_SEGS_MAX];
    size_t cafe_visits = 0, minutes = 0;
    ct_sim_venue_query q;
    ct_err err;
    assert_int_equal(ct_sim_busiest_evening(dir, 1800, &q, &err), CT_OK);
    unsigned best = (unsigned)atoi(q.venue_id + 1);
    assert_true(best < nv && strcmp(v[best].type, "cafe") == 0);
    assert_true(q.lat == v[best].lat && q.lon == v[best].lon && q.radius_m == v[best].radius);
    assert_int_equal(q.to - q.from, 6 * 3600);
    char(*stayed)[16] = calloc(w->n, sizeof *stayed);
    int64_t *secs = calloc(w->n, sizeof *secs);
    size_t n_stayed = 0;
    for (unsigned day = 0; day < p.days; day++)
        for (uint32_t i = 0; i < w->n; i++) {
            size_t n = ct__sim_sched_day(w, i, day, segs);
            for (size_t k = 0; k < n; k++) {
                const sim_seg *s = &segs[k];
                if (s->kind != SIM_SEG_VENUE)
                    continue;
                const venue_row *ve = &v[s->place];
                for (int64_t t = s->t0; t < s->t1; t += 60, minutes++) {
                    sim_pos pos;
                    double lat, lon;
                    ct__sim_seg_pos(w, i, s, t, &pos);
                    ct__sim_world_latlon(w, pos.world, &lat, &lon);
                    if (ct__distance_m(lat, lon, ve->lat, ve->lon) > ve->radius)
                        fail_msg("person %u at %lld is %.2f m from %s V%u (radius %.1f)", i,
                                 (long long)t, ct__distance_m(lat, lon, ve->lat, ve->lon),
                                 ve->type, s->place, ve->radius);
                }
                if (w->venues[s->place].type != SIM_V_CAFE)
                    continue;
                cafe_visits++;
                if (s->place == best) {
                    int64_t lo = s->t0 > q.from ? s->t0 : q.from, hi = s->t1 < q.to ? s->t1 : q.to;
                    secs[i] += hi > lo ? hi - lo : 0;
                }
            }
        }
    for (uint32_t i = 0; i < w->n; i++)
        if (secs[i] >= 1800)
            snprintf(stayed[n_stayed++], 16, "%llu", (unsigned long long)w->people[i].msisdn);
    qsort(stayed, n_stayed, sizeof *stayed, cmp_num16);
    qsort(q.present, q.n_present, sizeof q.present[0], cmp_num16);
    assert_true(minutes > 1000 && cafe_visits > 0);
    assert_int_equal(count_lines(dir, "visits.csv"), cafe_visits + 1);
    assert_true(n_stayed > 0);
    assert_int_equal(q.n_present, n_stayed);
    for (size_t k = 0; k < n_stayed; k++)
        assert_string_equal(q.present[k], stayed[k]);
    ct_sim_venue_query_free(&q);
    free(stayed);
    free(secs);
    free(v);
    ct__sim_world_free(w);
    rm_rf(dir);
    free(dir);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    ct_sim_params p;
    ct_err err;
    ct_sim_params_default(&p);
    assert_int_equal(ct_sim_params_check(&p, &err), CT_EINVAL); /* no out_dir */
    p.out_dir = "/nonexistent/x";
    assert_int_equal(ct_sim_params_check(&p, &err), CT_OK);
    p.days = 0;
    assert_int_equal(ct_sim_params_check(&p, &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, "days"));
    ct_sim_params_default(&p);
    p.out_dir = "x";
    p.operators = 9;
    assert_int_equal(ct_sim_params_check(&p, &err), CT_EINVAL);
    ct_sim_params_default(&p);
    p.out_dir = "x";
    p.start += 3600;
    assert_int_equal(ct_sim_params_check(&p, &err), CT_EINVAL);
    ct_sim_params_default(&p);
    p.out_dir = "x";
    p.cases = 20000;
    assert_int_equal(ct_sim_params_check(&p, &err), CT_EINVAL);

    char *dir = tmp_dir("full");
    char path[2048];
    snprintf(path, sizeof path, "%s/something", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    ct_sim_params_default(&p);
    p.out_dir = dir;
    p.subscribers = 10;
    assert_int_equal(ct_simulate(&p, NULL, NULL, NULL, &err), CT_EEXIST);
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_compressed_feeds),
        cmocka_unit_test(test_injected_rows_are_exact),
        cmocka_unit_test(test_no_dirt_when_disabled),
        cmocka_unit_test(test_truth_dense_city),
        cmocka_unit_test(test_truth_with_metro),
        cmocka_unit_test(test_venue_truth),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
